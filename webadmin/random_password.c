/*
 * random_password.c - the passwords the panel makes up when an admin
 * leaves the field empty (account form, password reset, CSV import, the
 * API): random letters and digits from an alphabet without look-alikes
 * (no 0/O, 1/l/I), so they can be read off the screen and typed.
 */
#include <openssl/rand.h>

#include "web.h"

int web_random_password(char *dst, size_t dstlen, size_t len)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz"
				       "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	unsigned char raw[WEB_RANDOM_PASSWORD_MAX];
	if (len > sizeof raw || dstlen < len + 1 || RAND_bytes(raw, (int)len) != 1)
		return -1;
	for (size_t i = 0; i < len; i++)
		dst[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
	dst[len] = '\0';
	return 0;
}
