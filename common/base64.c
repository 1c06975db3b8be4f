/*
 * base64.c - strict RFC 4648 base64 decoding (base64.h).
 */
#include <string.h>

#include "base64.h"

int base16_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode(struct slice in, unsigned char *dst, size_t dstlen)
{
	const unsigned char *s = (const unsigned char *)in.ptr;
	if (in.len % 4 != 0)
		return -1;
	size_t out = 0;
	for (size_t i = 0; i < in.len; i += 4) {
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == in.len && k >= 2) {
				v[k] = 0;
				pad++;
			} else {
				if (pad > 0)
					return -1; /* data after '=' */
				v[k] = base64_value(s[i + k]);
				if (v[k] < 0)
					return -1;
			}
		}
		unsigned long w = ((unsigned long)v[0] << 18) |
				  ((unsigned long)v[1] << 12) |
				  ((unsigned long)v[2] << 6) | (unsigned long)v[3];
		unsigned char b[3] = {(unsigned char)(w >> 16),
				      (unsigned char)(w >> 8), (unsigned char)w};
		size_t take = 3 - (size_t)pad;
		if (out + take > dstlen)
			return -1;
		memcpy(dst + out, b, take);
		out += take;
	}
	return (long)out;
}
