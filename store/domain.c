/*
 * domain.c - the local domains: add, delete (with or without their
 * accounts), test and list.
 *
 * Names arrive normalised (lowercase, syntax checked by addr.h); here we
 * only refuse what would break the store's own assumptions: empty, too
 * long, or containing '@'.
 */
#include <string.h>

#include "store_int.h"

static bool domain_name_ok(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return false;
	size_t n = strnlen(name, ADDR_DOMAIN_MAX + 1);
	return n <= ADDR_DOMAIN_MAX && strchr(name, '@') == NULL;
}

static const char SQL_ID[] = "SELECT id FROM domains WHERE name = ?";

int64_t store_domain_id(struct store *st, const char *name)
{
	sqlite3_stmt *s = store_prepare(st, SQL_ID);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, name);
	int rc = sqlite3_step(s);
	int64_t id = 0;
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		id = store_fail(st, rc, "domain lookup");
	store_release(st, s);
	return id;
}

int64_t store_address_domain_id(struct store *st, const char *address)
{
	const char *domain = store_addr_domain(address);
	int64_t did = store_domain_id(st, domain);
	if (did == 0)
		return store_failf(st, STORE_INVALID, "no local domain %s",
				   domain);
	return did;
}

static const char SQL_ADD[] =
	"INSERT INTO domains (name, created) VALUES (?, ?)";

int store_domain_add(struct store *st, const char *name)
{
	if (!domain_name_ok(name))
		return store_failf(st, STORE_INVALID, "invalid domain name");
	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, store_now());
	return store_step_done(st, s, "domain add");
}

int store_domain_exists(struct store *st, const char *name)
{
	if (!domain_name_ok(name))
		return 0;
	int64_t id = store_domain_id(st, name);
	return id < 0 ? (int)id : id > 0;
}

static const char SQL_USED[] =
	"SELECT (SELECT count(*) FROM accounts WHERE domain_id = ?1)"
	"     + (SELECT count(*) FROM aliases WHERE domain_id = ?1)";
static const char SQL_DEL_ACCOUNTS[] = "DELETE FROM accounts WHERE domain_id = ?";
static const char SQL_DEL[] = "DELETE FROM domains WHERE id = ?";

static int domain_del_tx(struct store *st, int64_t id, bool force)
{
	sqlite3_stmt *s = store_prepare(st, SQL_USED);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int64_t used = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	store_release(st, s);
	if (used < 0)
		return store_fail(st, rc, "domain del");
	if (used > 0 && !force)
		return store_failf(st, STORE_NOTEMPTY,
				   "domain has %lld accounts or aliases",
				   (long long)used);
	/* Mailbox entries, locks and rules go with the accounts (cascade),
	 * aliases with the domain; bodies are swept after. */
	int ret;
	if ((s = store_prepare(st, SQL_DEL_ACCOUNTS)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	if ((ret = store_step_done(st, s, "domain del accounts")) != STORE_OK)
		return ret;
	if ((s = store_prepare(st, SQL_DEL)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	if ((ret = store_step_done(st, s, "domain del")) != STORE_OK)
		return ret;
	return used > 0 ? store_bodies_sweep(st) : STORE_OK;
}

int store_domain_del(struct store *st, const char *name, bool force)
{
	if (!domain_name_ok(name))
		return store_failf(st, STORE_INVALID, "invalid domain name");
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	int64_t id = store_domain_id(st, name);
	if (id <= 0)
		ret = id < 0 ? (int)id
			     : store_failf(st, STORE_NOTFOUND, "no domain %s",
					   name);
	else
		ret = domain_del_tx(st, id, force);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

static const char SQL_LIST[] =
	"SELECT d.id, d.name, d.created,"
	"  (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id)"
	" FROM domains d ORDER BY d.name";

int store_domain_list(struct store *st, store_domain_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LIST);
	if (s == NULL)
		return STORE_ERROR;
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_domain d;
		memset(&d, 0, sizeof d);
		d.id = sqlite3_column_int64(s, 0);
		store_column_copy(s, 1, d.name, sizeof d.name);
		d.created = sqlite3_column_int64(s, 2);
		d.accounts = sqlite3_column_int64(s, 3);
		if ((ret = cb(ctx, &d)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "domain list");
	store_release(st, s);
	return ret;
}
