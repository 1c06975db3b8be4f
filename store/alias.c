/*
 * alias.c - alias rows: one address to many targets, each target a row.
 *
 * "@domain" as the address is the domain's catch-all. The alias's own
 * domain must be local; targets may be anything with an '@' (local
 * accounts, other aliases, external addresses), checked only at expansion
 * (expand.c), so an alias may be made before the account it points at.
 */
#include <string.h>

#include "store_int.h"

static bool alias_address_ok(const char *a)
{
	if (a == NULL || strnlen(a, ADDR_MAX + 1) > ADDR_MAX)
		return false;
	const char *at = strchr(a, '@');
	return at != NULL && strchr(at + 1, '@') == NULL &&
	       store_addr_domain(a) != NULL;
}

static const char SQL_ADD[] =
	"INSERT INTO aliases (address, target, domain_id) VALUES (?, ?, ?)";

int store_alias_add(struct store *st, const char *address, const char *target)
{
	if (!alias_address_ok(address))
		return store_failf(st, STORE_INVALID, "invalid alias address");
	/* A target is a mailbox: never a catch-all, never itself. */
	if (!alias_address_ok(target) || target[0] == '@' ||
	    strcmp(address, target) == 0)
		return store_failf(st, STORE_INVALID, "invalid alias target");
	int64_t did = store_address_domain_id(st, address);
	if (did < 0)
		return (int)did;
	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	store_bind_text(s, 2, target);
	sqlite3_bind_int64(s, 3, did);
	return store_step_done(st, s, "alias add");
}

static const char SQL_DEL_ONE[] =
	"DELETE FROM aliases WHERE address = ? AND target = ?";
static const char SQL_DEL_ALL[] = "DELETE FROM aliases WHERE address = ?";

int store_alias_del(struct store *st, const char *address, const char *target)
{
	sqlite3_stmt *s = store_prepare(st, target ? SQL_DEL_ONE : SQL_DEL_ALL);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	if (target != NULL)
		store_bind_text(s, 2, target);
	int ret = store_step_done(st, s, "alias del");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such alias");
	return ret;
}

static const char SQL_LIST_ALL[] =
	"SELECT id, address, target FROM aliases ORDER BY address, target";
static const char SQL_LIST_DOMAIN[] =
	"SELECT a.id, a.address, a.target FROM aliases a"
	" JOIN domains d ON d.id = a.domain_id WHERE d.name = ?"
	" ORDER BY a.address, a.target";

int store_alias_list(struct store *st, const char *domain, store_alias_cb cb,
		     void *ctx)
{
	sqlite3_stmt *s =
		store_prepare(st, domain ? SQL_LIST_DOMAIN : SQL_LIST_ALL);
	if (s == NULL)
		return STORE_ERROR;
	if (domain != NULL)
		store_bind_text(s, 1, domain);
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_alias a;
		memset(&a, 0, sizeof a);
		a.id = sqlite3_column_int64(s, 0);
		store_column_copy(s, 1, a.address, sizeof a.address);
		store_column_copy(s, 2, a.target, sizeof a.target);
		if ((ret = cb(ctx, &a)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "alias list");
	store_release(st, s);
	return ret;
}
