/*
 * rules_int.h - librules' private declarations shared between its files
 * (not for callers outside rules/).
 */
#ifndef MAILROOM_RULES_INT_H
#define MAILROOM_RULES_INT_H

#include "rules.h"

/* Elements of an array (not a pointer). */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Drop every cached set when the store's rules generation moved (one
 * read). 0 or a STORE_* code. */
int rules_cache_refresh(struct rules_cache *cache, struct store *st);
/* The cached set and the account's address ("" for account 0), loading
 * them when missing, without re-reading the generation. Valid until the
 * next call on the cache. */
int rules_cache_lookup(struct rules_cache *cache, struct store *st,
		       int64_t account_id, const struct rules_set **set_r,
		       const char **address_r);

#endif
