/*
 * addr.c - strict RFC 5321 mailbox and domain syntax, lowercased.
 *
 * SECURITY: these checks are what keep relay tricks out of the store and
 * the SMTP envelope. Only a Dot-string local part (atext runs separated by
 * single dots, RFC 5321 4.1.2) without '%' and '!' is accepted, and only a
 * domain of LDH labels; quoted strings, source routes (@a:b@c), address
 * literals ([1.2.3.4]), a trailing dot, empty labels and any byte outside
 * the grammar (controls, space, NUL, 0x7f) are refused. Octets >= 0x80 are
 * accepted in the local part only with ADDR_ALLOW_UTF8, and then only as
 * well-formed UTF-8. Domains must be ASCII (IDNs arrive as xn-- A-labels)
 * unless the caller passes ADDR_ALLOW_ULABEL: then a Unicode domain is
 * turned into its A-labels by libidn2 first and the result is held to the
 * same LDH rules, so what reaches the store is always ASCII.
 */
#include "addr.h"

#include <idn2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN_TEXT_MAX 253 /* RFC 1035 name as text, without a root dot */
#define LABEL_MAX 63

static void set_err(const char **error_r, const char *msg)
{
	if (error_r != NULL)
		*error_r = msg;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext minus '%' and '!' (relay tricks). */
static bool is_local_char(unsigned char c)
{
	return is_alnum(c) || (c != '\0' && strchr("#$&'*+-/=?^_`{|}~", c));
}

/* Length of a well-formed UTF-8 sequence at s (max n bytes), 0 if bad. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int addr_domain_normalise(const char *s, size_t len, char *dst,
			  const char **error_r)
{
	if (len == 0) {
		set_err(error_r, "empty domain");
		return -1;
	}
	if (s[0] == '[') {
		set_err(error_r, "address literals are not accepted");
		return -1;
	}
	if (len > DOMAIN_TEXT_MAX) {
		set_err(error_r, "domain longer than 253 octets");
		return -1;
	}
	size_t label_start = 0, labels = 0;
	bool label_all_digits = true;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			size_t ll = i - label_start;
			if (ll == 0) {
				set_err(error_r, i == len && len > 0
							 ? "trailing dot in domain"
							 : "empty label in domain");
				return -1;
			}
			if (ll > LABEL_MAX) {
				set_err(error_r, "domain label longer than 63 octets");
				return -1;
			}
			if (s[label_start] == '-' || s[i - 1] == '-') {
				set_err(error_r,
					"domain label starts or ends with '-'");
				return -1;
			}
			labels++;
			if (i == len && label_all_digits) {
				set_err(error_r, "top-level label is numeric");
				return -1;
			}
			label_start = i + 1;
			label_all_digits = true;
			if (i < len)
				dst[i] = '.';
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '-') {
			set_err(error_r, "invalid character in domain");
			return -1;
		}
		if (!(c >= '0' && c <= '9'))
			label_all_digits = false;
		dst[i] = lower((char)c);
	}
	if (labels < 2) {
		set_err(error_r, "domain needs at least two labels");
		return -1;
	}
	dst[len] = '\0';
	return 0;
}

bool addr_domain_valid(const char *s, size_t len)
{
	char tmp[ADDR_DOMAIN_MAX + 1];
	const char *e;
	return addr_domain_normalise(s, len, tmp, &e) == 0;
}

bool addr_has_non_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Longest Unicode domain taken as input: every A-label character may be
 * a 4-octet UTF-8 sequence at most, so nothing longer can fit in 253. */
#define ULABEL_INPUT_MAX (4 * DOMAIN_TEXT_MAX)

int addr_domain_to_alabel(const char *s, size_t len, char *dst,
			  const char **error_r)
{
	if (!addr_has_non_ascii(s, len))
		return addr_domain_normalise(s, len, dst, error_r);
	if (len > ULABEL_INPUT_MAX) {
		set_err(error_r, "domain longer than 253 octets");
		return -1;
	}
	char in[ULABEL_INPUT_MAX + 1];
	if (memchr(s, '\0', len) != NULL || s[0] == '[') {
		set_err(error_r, "invalid character in domain");
		return -1;
	}
	memcpy(in, s, len);
	in[len] = '\0';
	char *a = NULL;
	/* NFC first (a composed and a decomposed ü are one name), then UTS
	 * #46 non-transitional mapping (lower case, ß kept): the form
	 * outbound/idna.c looks up, so both sides agree on the A-label. */
	int rc = idn2_to_ascii_8z(in, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK || a == NULL) {
		free(a);
		set_err(error_r, "invalid internationalized domain name");
		return -1;
	}
	rc = addr_domain_normalise(a, strlen(a), dst, error_r);
	idn2_free(a);
	return rc;
}

static int local_normalise(const char *s, size_t len, int flags, char *dst,
			   const char **error_r)
{
	if (len == 0) {
		set_err(error_r, "empty local part");
		return -1;
	}
	if (s[0] == '"') {
		set_err(error_r, "quoted local parts are not accepted");
		return -1;
	}
	if (len > ADDR_LOCAL_MAX) {
		set_err(error_r, "local part longer than 64 octets");
		return -1;
	}
	if (s[0] == '.' || s[len - 1] == '.') {
		set_err(error_r, "local part starts or ends with a dot");
		return -1;
	}
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.') {
				set_err(error_r, "two dots in a row in local part");
				return -1;
			}
			dst[i++] = '.';
		} else if (c == '%' || c == '!') {
			set_err(error_r, "'%' and '!' are not accepted in local part");
			return -1;
		} else if (c >= 0x80) {
			size_t n = (flags & ADDR_ALLOW_UTF8)
					   ? utf8_len((const unsigned char *)s + i,
						      len - i)
					   : 0;
			if (n == 0) {
				set_err(error_r,
					(flags & ADDR_ALLOW_UTF8)
						? "invalid UTF-8 in local part"
						: "non-ASCII local part needs SMTPUTF8");
				return -1;
			}
			memcpy(dst + i, s + i, n);
			i += n;
		} else if (is_local_char(c)) {
			dst[i++] = lower((char)c);
		} else {
			set_err(error_r, "invalid character in local part");
			return -1;
		}
	}
	dst[len] = '\0';
	return 0;
}

int addr_parse(const char *s, size_t len, int flags, struct addr *out,
	       const char **error_r)
{
	if (len == 0) {
		set_err(error_r, "empty address");
		return -1;
	}
	if (s[0] == '@') {
		set_err(error_r, "source routes are not accepted");
		return -1;
	}
	const char *at = NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '@') {
			if (at != NULL) {
				set_err(error_r, s[0] == '"'
							 ? "quoted local parts are not accepted"
							 : "more than one '@'");
				return -1;
			}
			at = s + i;
		}
	}
	if (at == NULL) {
		set_err(error_r, "missing '@'");
		return -1;
	}
	size_t llen = (size_t)(at - s);
	if (local_normalise(s, llen, flags, out->local, error_r) < 0)
		return -1;
	int drc = (flags & ADDR_ALLOW_ULABEL)
			  ? addr_domain_to_alabel(at + 1, len - llen - 1,
						  out->domain, error_r)
			  : addr_domain_normalise(at + 1, len - llen - 1,
						  out->domain, error_r);
	if (drc < 0)
		return -1;
	size_t dlen = strlen(out->domain);
	memcpy(out->full, out->local, llen);
	out->full[llen] = '@';
	memcpy(out->full + llen + 1, out->domain, dlen + 1);
	return 0;
}
