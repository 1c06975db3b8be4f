/*
 * expand.c - resolve one RCPT address to local accounts and external
 * addresses.
 *
 * An address may be an account and an alias at once (the account gets the
 * mail and so do the alias's targets). The domain's catch-all ("@domain")
 * applies only when the address is neither. Aliases are followed
 * ALIAS_DEPTH_MAX deep; a visited list makes loops harmless and merges
 * duplicates. Disabled accounts receive nothing, so an address that leads
 * only to disabled accounts is STORE_NOTFOUND (550 at RCPT). The number of
 * addresses one recipient may touch is capped (ALIAS_EXPANSION_MAX) so a
 * malicious alias fan-out cannot eat the server.
 */
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

struct strlist {
	char **v;
	size_t n, cap;
};

struct expand_ctx {
	struct store *st;
	int64_t incoming;
	bool with_disabled; /* store_expand_owners: whose mail, not who gets it */
	struct store_expansion *out;
	size_t local_cap, remote_cap;
	struct strlist visited;
};

static bool strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static int strlist_add(struct strlist *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return STORE_ERROR;
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strdup(s)) == NULL)
		return STORE_ERROR;
	l->n++;
	return STORE_OK;
}

static void strlist_free(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int too_many(struct expand_ctx *c)
{
	return store_failf(c->st, STORE_TOOMANY,
			   "recipient expands past %d addresses",
			   ALIAS_EXPANSION_MAX);
}

static int add_remote(struct expand_ctx *c, const char *addr)
{
	struct store_expansion *e = c->out;
	for (size_t i = 0; i < e->n_remote; i++)
		if (strcmp(e->remote[i], addr) == 0)
			return STORE_OK;
	if (e->n_local + e->n_remote >= ALIAS_EXPANSION_MAX)
		return too_many(c);
	if (e->n_remote == c->remote_cap) {
		size_t cap = c->remote_cap ? c->remote_cap * 2 : 4;
		char **v = realloc(e->remote, cap * sizeof *v);
		if (v == NULL)
			return STORE_ERROR;
		e->remote = v;
		c->remote_cap = cap;
	}
	if ((e->remote[e->n_remote] = strdup(addr)) == NULL)
		return STORE_ERROR;
	e->n_remote++;
	return STORE_OK;
}

static int add_local(struct expand_ctx *c, int64_t id)
{
	struct store_expansion *e = c->out;
	for (size_t i = 0; i < e->n_local; i++)
		if (e->local_ids[i] == id)
			return STORE_OK;
	if (e->n_local + e->n_remote >= ALIAS_EXPANSION_MAX)
		return too_many(c);
	if (e->n_local == c->local_cap) {
		size_t cap = c->local_cap ? c->local_cap * 2 : 4;
		int64_t *v = realloc(e->local_ids, cap * sizeof *v);
		if (v == NULL)
			return STORE_ERROR;
		e->local_ids = v;
		c->local_cap = cap;
	}
	e->local_ids[e->n_local++] = id;
	return STORE_OK;
}

static const char SQL_ACCOUNT[] =
	"SELECT id, enabled, quota_bytes, used_bytes FROM accounts"
	" WHERE address = ?";

/* 1 when an account (enabled or not) has this address, 0 if none. */
static int resolve_account(struct expand_ctx *c, const char *addr)
{
	sqlite3_stmt *s = store_prepare(c->st, SQL_ACCOUNT);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, addr);
	int rc = sqlite3_step(s);
	int64_t id = 0, quota = 0, used = 0;
	bool enabled = false;
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		enabled = sqlite3_column_int(s, 1) != 0;
		quota = sqlite3_column_int64(s, 2);
		used = sqlite3_column_int64(s, 3);
	}
	store_release(c->st, s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_fail(c->st, rc, "expand account");
	if (!enabled && !c->with_disabled)
		return 1;
	if (quota > 0 && used + c->incoming > quota)
		c->out->over_quota = true;
	int ret = add_local(c, id);
	return ret == STORE_OK ? 1 : ret;
}

static const char SQL_TARGETS[] =
	"SELECT target FROM aliases WHERE address = ? ORDER BY target";

/* Read every target first, so the statement is free again before the
 * recursion needs it. */
static int alias_targets(struct expand_ctx *c, const char *addr,
			 struct strlist *out)
{
	sqlite3_stmt *s = store_prepare(c->st, SQL_TARGETS);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, addr);
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		if (out->n >= ALIAS_EXPANSION_MAX) {
			ret = too_many(c);
			break;
		}
		if (t != NULL && (ret = strlist_add(out, t)) != STORE_OK)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(c->st, rc, "expand alias");
	store_release(c->st, s);
	return ret;
}

static int resolve(struct expand_ctx *c, const char *addr, int depth)
{
	if (strlist_has(&c->visited, addr))
		return STORE_OK; /* a loop, or a second path to one place */
	if (c->visited.n >= 2 * ALIAS_EXPANSION_MAX)
		return too_many(c);
	if (strlist_add(&c->visited, addr) != STORE_OK)
		return STORE_ERROR;
	const char *domain = store_addr_domain(addr);
	if (domain == NULL)
		return STORE_OK;
	int64_t did = store_domain_id(c->st, domain);
	if (did < 0)
		return (int)did;
	if (did == 0)
		return add_remote(c, addr);

	int is_account = resolve_account(c, addr);
	if (is_account < 0)
		return is_account;
	struct strlist targets = {0};
	int ret = alias_targets(c, addr, &targets);
	if (ret == STORE_OK && is_account == 0 && targets.n == 0 &&
	    addr[0] != '@') {
		char catchall[ADDR_MAX + 2];
		catchall[0] = '@';
		size_t n = strnlen(domain, ADDR_MAX);
		memcpy(catchall + 1, domain, n);
		catchall[n + 1] = '\0';
		ret = alias_targets(c, catchall, &targets);
	}
	/* Past the depth limit the chain is cut: what was found so far is
	 * delivered, the rest is treated as unknown. */
	for (size_t i = 0; ret == STORE_OK && depth < ALIAS_DEPTH_MAX &&
			   i < targets.n;
	     i++)
		ret = resolve(c, targets.v[i], depth + 1);
	strlist_free(&targets);
	return ret;
}

static int expand(struct store *st, const char *address, int64_t incoming_size,
		  bool with_disabled, struct store_expansion *out)
{
	memset(out, 0, sizeof *out);
	const char *domain = store_addr_domain(address);
	if (domain == NULL || address[0] == '@' ||
	    strnlen(address, ADDR_MAX + 1) > ADDR_MAX)
		return store_failf(st, STORE_INVALID, "invalid address");
	int64_t did = store_domain_id(st, domain);
	if (did < 0)
		return (int)did;
	if (did == 0)
		return store_failf(st, STORE_INVALID, "domain is not local");
	struct expand_ctx c = {
		.st = st,
		.incoming = incoming_size > 0 ? incoming_size : 0,
		.with_disabled = with_disabled,
		.out = out,
	};
	int ret = resolve(&c, address, 0);
	strlist_free(&c.visited);
	if (ret == STORE_OK && out->n_local == 0 && out->n_remote == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such recipient");
	if (ret != STORE_OK)
		store_expansion_free(out);
	return ret;
}

int store_expand(struct store *st, const char *address, int64_t incoming_size,
		 struct store_expansion *out)
{
	return expand(st, address, incoming_size, false, out);
}

int store_expand_owners(struct store *st, const char *address,
			struct store_expansion *out)
{
	return expand(st, address, 0, true, out);
}

void store_expansion_free(struct store_expansion *e)
{
	free(e->local_ids);
	for (size_t i = 0; i < e->n_remote; i++)
		free(e->remote[i]);
	free(e->remote);
	memset(e, 0, sizeof *e);
}
