/*
 * load.c - rule rows from the store into a parsed set, and the per-process
 * cache smtpd keeps so a delivery does not re-read and re-parse JSON.
 *
 * The cache is a small array of (account_id, set) entries for the
 * accounts seen since the last rules change; a change anywhere (store
 * generation counter) drops them all, which is simple and right: rules
 * change rarely, mail arrives often. When the array is full the oldest
 * entry goes (round robin). A spec that no longer parses (a newer
 * Mailroom wrote it, or a hand edit) is skipped with a warning: a broken
 * rule must never stop mail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../store/store.h"
#include "rules.h"
#include "rules_int.h"

struct load_ctx {
	struct rules_set *set;
	int error; /* STORE_* for out of memory etc. */
};

static int add_row(void *vctx, const struct store_rule *row)
{
	struct load_ctx *ctx = vctx;
	char err[256];
	struct rules_rule *r = rules_rule_new();
	if (r == NULL)
		return ctx->error = STORE_ERROR;
	r->id = row->id;
	r->account_id = row->account_id;
	r->position = row->position;
	r->enabled = row->enabled;
	snprintf(r->name, sizeof r->name, "%s", row->name);
	if (rules_spec_parse(row->spec, r, err, sizeof err) != 0) {
		log_warn("rules: event=bad-spec rule=%lld account=%lld "
			 "error=\"%s\" (skipped)",
			 (long long)row->id, (long long)row->account_id, err);
		rules_rule_free(&r);
		return 0;
	}
	if (rules_set_append(ctx->set, &r) != 0) {
		rules_rule_free(&r);
		return 0; /* past the cap: later rules are ignored */
	}
	return 0;
}

static int load(struct store *st, int64_t account_id, bool own,
		struct rules_set **set_r)
{
	struct load_ctx ctx = {rules_set_new(), 0};
	*set_r = NULL;
	if (ctx.set == NULL)
		return STORE_ERROR;
	int rc = own ? store_rule_list(st, account_id, add_row, &ctx)
		     : store_rule_list_delivery(st, account_id, add_row, &ctx);
	if (rc == STORE_OK && ctx.error)
		rc = ctx.error;
	if (rc != STORE_OK) {
		rules_set_free(&ctx.set);
		return rc;
	}
	*set_r = ctx.set;
	return STORE_OK;
}

int rules_load(struct store *st, int64_t account_id, struct rules_set **set_r)
{
	return load(st, account_id, false, set_r);
}

int rules_load_own(struct store *st, int64_t account_id,
		   struct rules_set **set_r)
{
	return load(st, account_id, true, set_r);
}

/* ---- cache ------------------------------------------------------------- */

struct cache_entry {
	int64_t account_id;
	struct rules_set *set; /* NULL: free slot */
	char address[ADDR_MAX + 1];
};

struct rules_cache {
	struct cache_entry *entries;
	size_t max, next;
	int64_t generation;
	bool have_generation;
};

struct rules_cache *rules_cache_new(size_t max_accounts)
{
	struct rules_cache *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->max = max_accounts ? max_accounts : 1;
	c->entries = calloc(c->max, sizeof *c->entries);
	if (c->entries == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void cache_clear(struct rules_cache *c)
{
	for (size_t i = 0; i < c->max; i++)
		rules_set_free(&c->entries[i].set);
	c->next = 0;
}

void rules_cache_free(struct rules_cache **cachep)
{
	struct rules_cache *c = *cachep;
	if (c == NULL)
		return;
	cache_clear(c);
	free(c->entries);
	free(c);
	*cachep = NULL;
}

int rules_cache_refresh(struct rules_cache *c, struct store *st)
{
	int64_t gen = 0;
	int rc = store_rule_generation(st, &gen);
	if (rc != STORE_OK)
		return rc;
	if (!c->have_generation || gen != c->generation) {
		cache_clear(c);
		c->generation = gen;
		c->have_generation = true;
	}
	return STORE_OK;
}

int rules_cache_lookup(struct rules_cache *c, struct store *st,
		       int64_t account_id, const struct rules_set **set_r,
		       const char **address_r)
{
	*set_r = NULL;
	for (size_t i = 0; i < c->max; i++)
		if (c->entries[i].set && c->entries[i].account_id == account_id) {
			*set_r = c->entries[i].set;
			if (address_r)
				*address_r = c->entries[i].address;
			return STORE_OK;
		}
	struct rules_set *set = NULL;
	int rc = rules_load(st, account_id, &set);
	if (rc != STORE_OK)
		return rc;
	struct cache_entry *e = &c->entries[c->next];
	e->address[0] = '\0';
	if (account_id > 0) {
		struct store_account a;
		rc = store_account_get_by_id(st, account_id, &a);
		if (rc != STORE_OK) {
			rules_set_free(&set);
			return rc;
		}
		snprintf(e->address, sizeof e->address, "%s", a.address);
	}
	c->next = (c->next + 1) % c->max;
	rules_set_free(&e->set);
	e->account_id = account_id;
	e->set = set;
	*set_r = set;
	if (address_r)
		*address_r = e->address;
	return STORE_OK;
}

int rules_cache_get(struct rules_cache *c, struct store *st,
		    int64_t account_id, const struct rules_set **set_r)
{
	*set_r = NULL;
	int rc = rules_cache_refresh(c, st);
	if (rc != STORE_OK)
		return rc;
	return rules_cache_lookup(c, st, account_id, set_r, NULL);
}
