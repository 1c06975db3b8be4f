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
};

/* 0 with *out filled, or -1 with a short reason in *error_r. */
int addr_parse(const char *s, size_t len, int flags, struct addr *out,
	       const char **error_r) __attribute__((warn_unused_result));
/* Validate and lowercase a domain into dst (size >= ADDR_DOMAIN_MAX + 1). */
int addr_domain_normalise(const char *s, size_t len, char *dst,
			  const char **error_r) __attribute__((warn_unused_result));
bool addr_domain_valid(const char *s, size_t len);

#endif
