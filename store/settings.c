/*
 * settings.c - server settings (key/value, set from the web admin) and the
 * audit log of admin actions (who did what, newest first). Callers pass
 * no secrets in audit details: the log is shown in the web admin.
 */
#include <string.h>

#include "store_int.h"

static const char SQL_GET[] = "SELECT value FROM settings WHERE key = ?";

int store_setting_get(struct store *st, const char *key, char *dst,
		      size_t dstlen)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, key);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(s, 0) >= dstlen)
			ret = store_failf(st, STORE_INVALID,
					  "setting too long for buffer");
		else
			store_column_copy(s, 0, dst, dstlen);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, STORE_NOTFOUND, "setting not set");
	} else {
		ret = store_fail(st, rc, "setting get");
	}
	store_release(st, s);
	return ret;
}

static const char SQL_SET[] =
	"INSERT INTO settings (key, value) VALUES (?1, ?2)"
	" ON CONFLICT (key) DO UPDATE SET value = ?2";

int store_setting_set(struct store *st, const char *key, const char *value)
{
	if (key == NULL || key[0] == '\0' || value == NULL)
		return store_failf(st, STORE_INVALID, "empty setting");
	sqlite3_stmt *s = store_prepare(st, SQL_SET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, key);
	store_bind_text(s, 2, value);
	return store_step_done(st, s, "setting set");
}

static const char SQL_AUDIT_ADD[] =
	"INSERT INTO audit_log (ts, actor, action, detail) VALUES (?, ?, ?, ?)";

int store_audit_add(struct store *st, const char *actor, const char *action,
		    const char *detail)
{
	if (action == NULL || action[0] == '\0')
		return store_failf(st, STORE_INVALID, "empty audit action");
	sqlite3_stmt *s = store_prepare(st, SQL_AUDIT_ADD);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, store_now());
	store_bind_text(s, 2, actor);
	store_bind_text(s, 3, action);
	store_bind_text(s, 4, detail);
	return store_step_done(st, s, "audit add");
}

static const char SQL_AUDIT_LIST[] =
	"SELECT id, ts, actor, action, detail FROM audit_log"
	" ORDER BY id DESC LIMIT ?";

int store_audit_list(struct store *st, size_t limit, store_audit_cb cb,
		     void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_AUDIT_LIST);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_audit_entry e;
		memset(&e, 0, sizeof e);
		e.id = sqlite3_column_int64(s, 0);
		e.ts = sqlite3_column_int64(s, 1);
		store_column_copy(s, 2, e.actor, sizeof e.actor);
		store_column_copy(s, 3, e.action, sizeof e.action);
		store_column_copy(s, 4, e.detail, sizeof e.detail);
		if ((ret = cb(ctx, &e)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "audit list");
	store_release(st, s);
	return ret;
}
