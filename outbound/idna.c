/*
 * idna.c - internationalized domain names for outbound delivery (RFC 5890,
 * IDNA2008 with UTS #46 mapping, via libidn2): a recipient domain written
 * in Unicode (büro.example) is looked up in DNS, and named in RCPT TO, as
 * its A-label (xn--bro-hoa.example). RFC 6531 3.2 allows that conversion,
 * so such a recipient needs no SMTPUTF8 when its local part is ASCII.
 */
#include <idn2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound_int.h"

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

int ob_idna_domain(const char *domain, char *out, size_t outlen)
{
	if (ascii(domain)) {
		if ((size_t)snprintf(out, outlen, "%s", domain) >= outlen)
			return -1;
		return 0;
	}
	char *a = NULL;
	/* NFC first (a composed and a decomposed ü are the same name), then
	 * UTS #46 non-transitional mapping (lower case, ß kept). */
	int rc = idn2_to_ascii_8z(domain, &a,
				  IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK || a == NULL) {
		free(a);
		return -1;
	}
	size_t n = strlen(a);
	int ret = n > 0 && n < outlen && n <= 253 ? 0 : -1;
	if (ret == 0)
		memcpy(out, a, n + 1);
	idn2_free(a);
	return ret;
}

int ob_idna_addr(const char *addr, char *out, size_t outlen)
{
	const char *at = strrchr(addr, '@');
	if (at == NULL)
		return (size_t)snprintf(out, outlen, "%s", addr) < outlen ? 0 : -1;
	char dom[HOSTNAME_MAX + 1];
	if (ob_idna_domain(at + 1, dom, sizeof dom) < 0)
		return -1;
	int n = snprintf(out, outlen, "%.*s@%s", (int)(at - addr), addr, dom);
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}
