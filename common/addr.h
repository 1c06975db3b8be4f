/*
 * addr.h - RFC 5321 mailbox and domain syntax, and the normal form the
 * store keeps (lowercase local@domain).
 *
 * This is the strict form used for accounts, aliases and recipients: a
 * dot-atom local part (RFC 5321 Dot-string) of at most 64 octets and a
 * domain of LDH labels (at most 63 octets each, 253 in all, at least two
 * labels). Everything the classic relay tricks need is refused here: '%',
 * '!', quoted local parts, source routes, address literals, a trailing
 * dot, empty labels. UTF-8 (SMTPUTF8) local parts are accepted when the
 * caller asks for it.
 */
#ifndef MAILROOM_ADDR_H
#define MAILROOM_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

struct addr {
	char local[ADDR_LOCAL_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	char full[ADDR_MAX + 1]; /* local@domain, lowercase */
};

enum addr_flags {
	ADDR_ALLOW_UTF8 = 1 << 0, /* octets >= 0x80 in the local part */
	/* A domain with octets >= 0x80 (U-labels, RFC 6531 3.2 under
	 * SMTPUTF8) is accepted and kept as its A-label form
	 * (addr_domain_to_alabel): out->domain and out->full are ASCII. */
	ADDR_ALLOW_ULABEL = 1 << 1,
};

/* 0 with *out filled, or -1 with a short reason in *error_r. */
int addr_parse(const char *s, size_t len, int flags, struct addr *out,
	       const char **error_r) __attribute__((warn_unused_result));
/* Validate and lowercase a domain into dst (size >= ADDR_DOMAIN_MAX + 1). */
int addr_domain_normalise(const char *s, size_t len, char *dst,
			  const char **error_r) __attribute__((warn_unused_result));
bool addr_domain_valid(const char *s, size_t len);

/*
 * A domain that may be written in Unicode (U-labels in UTF-8, mixed with
 * ASCII labels) into its A-label form in dst (size >= ADDR_DOMAIN_MAX + 1),
 * validated and lowercased as addr_domain_normalise does: bücher.example
 * -> xn--bcher-kva.example (IDNA2008 with UTS #46 non-transitional
 * mapping, NFC first, via libidn2). An ASCII domain is only normalised.
 * 0, or -1 with a short reason in *error_r.
 */
int addr_domain_to_alabel(const char *s, size_t len, char *dst,
			  const char **error_r) __attribute__((warn_unused_result));
/* True when s[0..len) has an octet >= 0x80. */
bool addr_has_non_ascii(const char *s, size_t len);

#endif
