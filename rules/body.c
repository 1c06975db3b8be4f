/*
 * body.c - the text a "body" condition looks at: the start of the body,
 * at most RULES_BODY_SCAN_MAX octets, decoded from quoted-printable or
 * base64 when the message is a single part that says so. Multipart
 * bodies are left raw (their parts' headers and encodings are not
 * followed: the scanned prefix is matched as it is). Decoding only ever
 * shrinks the text, so the output fits the same bound as the input.
 */
#include <string.h>
#include <strings.h>

#include "../common/base64.h"
#include "rules_int.h"

/* RFC 2045 6.7: "=XX" is an octet, "=" at a line end a soft break; a
 * malformed "=" is kept as it is. */
static size_t qp_decode(const char *s, size_t len, char *dst)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '=') {
			dst[o++] = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
			i += 2;
			continue;
		}
		if (i + 1 >= len || (i + 2 >= len && s[i + 1] == '\r'))
			break; /* cut at the scan bound in the middle */
		int hi = i + 2 < len ? base16_value((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < len ? base16_value((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			dst[o++] = '=';
			continue;
		}
		dst[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return o;
}

/* Characters outside the alphabet (line breaks) are skipped; '=' ends
 * the data. */
static size_t b64_decode(const char *s, size_t len, char *dst)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len && s[i] != '='; i++) {
		int v = base64_value((unsigned char)s[i]);
		if (v < 0)
			continue;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return o;
}

/* A header value's first token (up to ';' or space) equals word. */
static bool token_is(const struct rules_header *h, const char *word)
{
	if (h == NULL)
		return false;
	const char *v = h->raw;
	size_t n = h->raw_len;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	size_t wl = strlen(word);
	if (n < wl || strncasecmp(v, word, wl) != 0)
		return false;
	return n == wl || v[wl] == ';' || v[wl] == ' ' || v[wl] == '\t';
}

size_t rules_body_decode(const struct rules_message *msg, const char *raw,
			 size_t len, char *dst)
{
	if (len > RULES_BODY_SCAN_MAX)
		len = RULES_BODY_SCAN_MAX;
	const struct rules_header *ct = rules_message_header(msg, "content-type");
	bool multipart = ct && ct->raw_len >= 10 &&
			 strncasecmp(ct->raw, "multipart/", 10) == 0;
	if (!multipart) {
		const struct rules_header *cte =
			rules_message_header(msg, "content-transfer-encoding");
		if (token_is(cte, "quoted-printable"))
			return qp_decode(raw, len, dst);
		if (token_is(cte, "base64"))
			return b64_decode(raw, len, dst);
	}
	memcpy(dst, raw, len);
	return len;
}
