/*
 * account.c - accounts: add, delete, read, list, change, authenticate.
 *
 * Roles are stored as their names ('user', 'domain-admin', 'admin') so the
 * database reads plainly in the sqlite3 shell. UIDVALIDITY is picked once
 * at creation from the clock and the OS random source and never changes;
 * with the per-account uidnext (which only grows) it makes POP3 UIDLs
 * stable forever, across backups and restores, and different for an
 * account deleted and created again under the same address.
 */
#include <string.h>
#include <sys/random.h>

#include "store_int.h"

static const char *const role_names[] = {"user", "domain-admin", "admin"};

const char *store_role_name(enum store_role role)
{
	if ((unsigned)role > STORE_ROLE_ADMIN)
		return "user";
	return role_names[role];
}

int store_role_parse(const char *s, enum store_role *role_r)
{
	for (int i = 0; i <= STORE_ROLE_ADMIN; i++) {
		if (s != NULL && strcmp(s, role_names[i]) == 0) {
			*role_r = (enum store_role)i;
			return STORE_OK;
		}
	}
	return STORE_INVALID;
}

static uint32_t new_uidvalidity(void)
{
	uint32_t r = 0;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = 0;
	/* Clock in the high bits keeps values roughly increasing, the random
	 * low bits keep two accounts made in one second apart. */
	uint32_t v = ((uint32_t)store_now() << 8) ^ (r & 0x00ffffffu);
	v &= 0x7fffffffu;
	return v != 0 ? v : 1;
}

static bool address_ok(const char *address)
{
	if (address == NULL || strnlen(address, ADDR_MAX + 1) > ADDR_MAX)
		return false;
	const char *at = strchr(address, '@');
	return at != NULL && at != address && store_addr_domain(address) != NULL &&
	       strchr(at + 1, '@') == NULL;
}

static const char SQL_ADD[] =
	"INSERT INTO accounts (address, domain_id, password_hash, display_name,"
	"  quota_bytes, role, uidvalidity, created)"
	" VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

int store_account_add(struct store *st, const char *address,
		      const char *password_hash, enum store_role role,
		      const char *display_name, int64_t quota_bytes)
{
	if (!address_ok(address))
		return store_failf(st, STORE_INVALID, "invalid address");
	if (!store_password_hash_valid(password_hash))
		return store_failf(st, STORE_INVALID, "invalid password hash");
	if ((unsigned)role > STORE_ROLE_ADMIN || quota_bytes < 0)
		return store_failf(st, STORE_INVALID, "invalid role or quota");
	if (display_name == NULL)
		display_name = "";
	if (strnlen(display_name, DISPLAY_NAME_MAX + 1) > DISPLAY_NAME_MAX)
		return store_failf(st, STORE_INVALID, "display name too long");
	int64_t did = store_address_domain_id(st, address);
	if (did < 0)
		return (int)did;
	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	sqlite3_bind_int64(s, 2, did);
	store_bind_text(s, 3, password_hash);
	store_bind_text(s, 4, display_name);
	sqlite3_bind_int64(s, 5, quota_bytes);
	store_bind_text(s, 6, store_role_name(role));
	sqlite3_bind_int64(s, 7, new_uidvalidity());
	sqlite3_bind_int64(s, 8, store_now());
	return store_step_done(st, s, "account add");
}

static const char SQL_DEL[] = "DELETE FROM accounts WHERE address = ?";

int store_account_del(struct store *st, const char *address)
{
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	store_bind_text(s, 1, address);
	ret = store_step_done(st, s, "account del");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such account");
	/* Its mailbox entries went with it (cascade); now their bodies. */
	if (ret == STORE_OK)
		ret = store_bodies_sweep(st);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

#define ACCOUNT_COLUMNS                                                       \
	"SELECT a.id, a.address, d.name, a.display_name, a.quota_bytes,"     \
	"  a.used_bytes, a.enabled, a.role, a.uidvalidity, a.created,"        \
	"  (SELECT count(*) FROM mailbox m WHERE m.account_id = a.id)"        \
	" FROM accounts a JOIN domains d ON d.id = a.domain_id"

static void row_to_account(sqlite3_stmt *s, struct store_account *a)
{
	char role[16];
	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(s, 0);
	store_column_copy(s, 1, a->address, sizeof a->address);
	store_column_copy(s, 2, a->domain, sizeof a->domain);
	store_column_copy(s, 3, a->display_name, sizeof a->display_name);
	a->quota_bytes = sqlite3_column_int64(s, 4);
	a->used_bytes = sqlite3_column_int64(s, 5);
	a->enabled = sqlite3_column_int(s, 6) != 0;
	store_column_copy(s, 7, role, sizeof role);
	if (store_role_parse(role, &a->role) != STORE_OK)
		a->role = STORE_ROLE_USER;
	a->uidvalidity = (uint32_t)sqlite3_column_int64(s, 8);
	a->created = sqlite3_column_int64(s, 9);
	a->messages = sqlite3_column_int64(s, 10);
}

/* One row into out, or NOTFOUND; releases s. */
static int get_one(struct store *st, sqlite3_stmt *s, struct store_account *out)
{
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		row_to_account(s, out);
	else if (rc == SQLITE_DONE)
		ret = store_failf(st, STORE_NOTFOUND, "no such account");
	else
		ret = store_fail(st, rc, "account get");
	store_release(st, s);
	return ret;
}

static const char SQL_GET[] = ACCOUNT_COLUMNS " WHERE a.address = ?";
static const char SQL_GET_ID[] = ACCOUNT_COLUMNS " WHERE a.id = ?";

int store_account_get(struct store *st, const char *address,
		      struct store_account *out)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	return get_one(st, s, out);
}

int store_account_get_by_id(struct store *st, int64_t id,
			    struct store_account *out)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET_ID);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	return get_one(st, s, out);
}

static const char SQL_LIST_ALL[] = ACCOUNT_COLUMNS " ORDER BY a.address";
static const char SQL_LIST_DOMAIN[] =
	ACCOUNT_COLUMNS " WHERE d.name = ? ORDER BY a.address";

int store_account_list(struct store *st, const char *domain,
		       store_account_cb cb, void *ctx)
{
	sqlite3_stmt *s =
		store_prepare(st, domain ? SQL_LIST_DOMAIN : SQL_LIST_ALL);
	if (s == NULL)
		return STORE_ERROR;
	if (domain != NULL)
		store_bind_text(s, 1, domain);
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_account a;
		row_to_account(s, &a);
		if ((ret = cb(ctx, &a)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "account list");
	store_release(st, s);
	return ret;
}

static const char SQL_SET_PASSWORD[] =
	"UPDATE accounts SET password_hash = ? WHERE address = ?";

int store_account_set_password(struct store *st, const char *address,
			       const char *password_hash)
{
	if (!store_password_hash_valid(password_hash))
		return store_failf(st, STORE_INVALID, "invalid password hash");
	sqlite3_stmt *s = store_prepare(st, SQL_SET_PASSWORD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, password_hash);
	store_bind_text(s, 2, address);
	int ret = store_step_done(st, s, "account passwd");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such account");
	return ret;
}

/* One statement for every combination: a NULL parameter keeps the
 * column, so no SQL is ever assembled from pieces. */
static const char SQL_UPDATE[] =
	"UPDATE accounts SET"
	"  display_name = coalesce(?1, display_name),"
	"  quota_bytes = coalesce(?2, quota_bytes),"
	"  enabled = coalesce(?3, enabled),"
	"  role = coalesce(?4, role)"
	" WHERE address = ?5";

int store_account_update(struct store *st, const char *address,
			 const struct store_account_change *change)
{
	if (change->role > STORE_ROLE_ADMIN || change->enabled > 1 ||
	    (change->display_name != NULL &&
	     strnlen(change->display_name, DISPLAY_NAME_MAX + 1) >
		     DISPLAY_NAME_MAX))
		return store_failf(st, STORE_INVALID, "invalid change");
	sqlite3_stmt *s = store_prepare(st, SQL_UPDATE);
	if (s == NULL)
		return STORE_ERROR;
	if (change->display_name != NULL)
		store_bind_text(s, 1, change->display_name);
	if (change->quota_bytes >= 0)
		sqlite3_bind_int64(s, 2, change->quota_bytes);
	if (change->enabled >= 0)
		sqlite3_bind_int(s, 3, change->enabled);
	if (change->role >= 0)
		store_bind_text(s, 4,
				store_role_name((enum store_role)change->role));
	store_bind_text(s, 5, address);
	int ret = store_step_done(st, s, "account update");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such account");
	return ret;
}

static const char SQL_AUTH[] =
	"SELECT password_hash, enabled FROM accounts WHERE address = ?";

int store_account_authenticate(struct store *st, const char *address,
			       const char *password, struct store_account *out)
{
	char hash[PASSWORD_HASH_MAX + 1] = "";
	bool found = false, enabled = false;
	sqlite3_stmt *s = store_prepare(st, SQL_AUTH);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		found = true;
		store_column_copy(s, 0, hash, sizeof hash);
		enabled = sqlite3_column_int(s, 1) != 0;
	}
	store_release(st, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(st, rc, "authenticate");
	/* Always one hash computation, whatever the account's state. */
	bool ok = store_password_verify(
		password ? password : "",
		found ? hash : store_password_dummy_hash);
	if (!found || !enabled || !ok)
		return store_failf(st, STORE_AUTHFAIL, "authentication failed");
	return store_account_get(st, address, out);
}

static const char SQL_COUNT[] =
	"SELECT count(*) FROM accounts WHERE"
	" (CASE role WHEN 'admin' THEN 2 WHEN 'domain-admin' THEN 1 ELSE 0 END)"
	" >= ?";

int store_account_count(struct store *st, enum store_role min_role,
			int64_t *n_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_COUNT);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int(s, 1, (int)min_role);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(s, 0);
	else
		ret = store_fail(st, rc, "account count");
	store_release(st, s);
	return ret;
}
