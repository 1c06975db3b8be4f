/*
 * spf_int.h - SPF internals shared by spf.c and spf_macro.c.
 */
#ifndef MAILROOM_SPF_INT_H
#define MAILROOM_SPF_INT_H

#include "trust_int.h"

#define SPF_MACRO_VALUE_MAX 512
#define SPF_LOOKUP_MAX 10 /* RFC 7208 4.6.4 */
#define SPF_VOID_MAX 2
#define SPF_MX_PTR_MAX 10

struct spf_macro_env {
	const char *local, *sender_domain, *domain, *helo, *receiver;
	const char *p; /* validated name of the client, or "unknown" */
	struct in6_addr ip;
	int family;
	int64_t now;
};

/* Expand a macro-string into out (cap bytes). exp: explanation rules
 * (c, r, t allowed, no truncation). 0 or -1 (syntax or too long). */
int spf_macro_expand(const struct spf_macro_env *e, struct slice s, bool exp,
		     char *out, size_t cap);

#endif
