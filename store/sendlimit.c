/*
 * sendlimit.c - SQL for mailroom-queued's per-account sending limit (see
 * sendlimit.h): count and hold/release an account's queue rows, and its
 * record in the settings table under "sendlimit:<address>". Every function
 * is one statement, so inside an open transaction it simply joins it
 * (store_queue_del_many_noted relies on that).
 */
#include <stdio.h>
#include <string.h>

#include "sendlimit.h"
#include "store_int.h"

#define KEY_MAX (sizeof STORE_SENDLIMIT_KEY_PREFIX + ADDR_MAX + 1)

static int make_key(struct store *st, const char *sender, char *key, size_t n)
{
	if (sender == NULL || sender[0] == '\0' ||
	    (size_t)snprintf(key, n, "%s%s", STORE_SENDLIMIT_KEY_PREFIX,
			     sender) >= n)
		return store_failf(st, STORE_INVALID, "bad sender for a record");
	return STORE_OK;
}

static const char SQL_COUNT[] =
	"SELECT count(*) FROM queue WHERE sender = ? AND created >= ?";

int store_sendlimit_queued(struct store *st, const char *sender, int64_t since,
			   int64_t *n_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_COUNT);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, sender);
	sqlite3_bind_int64(s, 2, since);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(s, 0);
	else
		ret = store_fail(st, rc, "sendlimit count");
	store_release(st, s);
	return ret;
}

static int changed(struct store *st, sqlite3_stmt *s, const char *what,
		   int64_t *n_r)
{
	int ret = store_step_done(st, s, what);
	if (ret == STORE_OK && n_r != NULL)
		*n_r = sqlite3_changes(st->db);
	return ret;
}

static const char SQL_HOLD[] =
	"UPDATE queue SET next_attempt = ?, last_error = ? WHERE sender = ?";

int store_sendlimit_hold(struct store *st, const char *sender, int64_t until,
			 const char *why, int64_t *n_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_HOLD);
	if (s == NULL)
		return STORE_ERROR;
	char e[sizeof ((struct store_queue_item *)0)->last_error];
	snprintf(e, sizeof e, "%s", why ? why : "");
	sqlite3_bind_int64(s, 1, until);
	store_bind_text(s, 2, e);
	store_bind_text(s, 3, sender);
	return changed(st, s, "sendlimit hold", n_r);
}

/* substr() rather than LIKE: the prefix is compared as bytes, and '%' or
 * '_' in it mean nothing special. */
static const char SQL_RELEASE[] =
	"UPDATE queue SET next_attempt = ?, last_error = ''"
	" WHERE sender = ? AND substr(last_error, 1, length(?)) = ?";

int store_sendlimit_release(struct store *st, const char *sender,
			    const char *prefix, int64_t now, int64_t *n_r)
{
	if (prefix == NULL || prefix[0] == '\0')
		return store_failf(st, STORE_INVALID, "empty release prefix");
	sqlite3_stmt *s = store_prepare(st, SQL_RELEASE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, now);
	store_bind_text(s, 2, sender);
	store_bind_text(s, 3, prefix);
	store_bind_text(s, 4, prefix);
	return changed(st, s, "sendlimit release", n_r);
}

static const char SQL_GET[] = "SELECT value FROM settings WHERE key = ?";

int store_sendlimit_record_get(struct store *st, const char *sender, char *dst,
			       size_t dstlen)
{
	char key[KEY_MAX];
	int ret = make_key(st, sender, key, sizeof key);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, key);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if ((size_t)sqlite3_column_bytes(s, 0) >= dstlen)
			ret = store_failf(st, STORE_INVALID, "record too long");
		else
			store_column_copy(s, 0, dst, dstlen);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, STORE_NOTFOUND, "no record");
	} else {
		ret = store_fail(st, rc, "sendlimit record get");
	}
	store_release(st, s);
	return ret;
}

static const char SQL_SET[] =
	"INSERT INTO settings (key, value) VALUES (?1, ?2)"
	" ON CONFLICT(key) DO UPDATE SET value = excluded.value";
static const char SQL_DROP[] = "DELETE FROM settings WHERE key = ?";

int store_sendlimit_record_set(struct store *st, const char *sender,
			       const char *value)
{
	char key[KEY_MAX];
	int ret = make_key(st, sender, key, sizeof key);
	if (ret != STORE_OK)
		return ret;
	bool drop = value == NULL || value[0] == '\0';
	sqlite3_stmt *s = store_prepare(st, drop ? SQL_DROP : SQL_SET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, key);
	if (!drop)
		store_bind_text(s, 2, value);
	return store_step_done(st, s, "sendlimit record set");
}

/* The prefix ends in ':', and ';' is the next byte: a range scan of the
 * primary key instead of a LIKE over every setting. */
static const char SQL_LIST[] =
	"SELECT substr(key, length('" STORE_SENDLIMIT_KEY_PREFIX "') + 1), value"
	" FROM settings WHERE key >= '" STORE_SENDLIMIT_KEY_PREFIX "'"
	" AND key < 'sendlimit;' ORDER BY key";

int store_sendlimit_record_list(struct store *st, store_sendlimit_cb cb,
				void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LIST);
	if (s == NULL)
		return STORE_ERROR;
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char sender[ADDR_MAX + 1], value[STORE_SENDLIMIT_RECORD_MAX];
		store_column_copy(s, 0, sender, sizeof sender);
		store_column_copy(s, 1, value, sizeof value);
		if ((ret = cb(ctx, sender, value)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "sendlimit record list");
	store_release(st, s);
	return ret;
}
