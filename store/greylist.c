/*
 * greylist.c - greylisting triples (schema v6): first sight defers, a
 * retry after the delay passes, networks that retried before pass at once,
 * old rows expire (store.h has the rules). One BEGIN IMMEDIATE per check so
 * two sessions offering the same new triple at once record it once.
 */
#include "store_int.h"

static const char SQL_GET[] =
	"SELECT first_seen, passed FROM greylist"
	" WHERE net = ?1 AND sender = ?2 AND rcpt = ?3";
static const char SQL_KNOWN_NET[] =
	"SELECT 1 FROM greylist WHERE net = ?1 AND passed = 1"
	" AND last_seen >= ?2 LIMIT 1";
static const char SQL_PUT[] =
	"INSERT INTO greylist (net, sender, rcpt, first_seen, last_seen, passed)"
	" VALUES (?1, ?2, ?3, ?4, ?4, ?5)"
	" ON CONFLICT (net, sender, rcpt) DO UPDATE SET"
	"  first_seen = CASE WHEN ?6 THEN ?4 ELSE first_seen END,"
	"  last_seen = ?4, passed = ?5";

static int put(struct store *st, const char *net, const char *sender,
	       const char *rcpt, int64_t now, int passed, int restart)
{
	sqlite3_stmt *s = store_prepare(st, SQL_PUT);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, net);
	store_bind_text(s, 2, sender);
	store_bind_text(s, 3, rcpt);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int(s, 5, passed);
	sqlite3_bind_int(s, 6, restart);
	return store_step_done(st, s, "greylist put");
}

/* 1 and the row, 0 when there is none, or an error. */
static int get(struct store *st, const char *net, const char *sender,
	       const char *rcpt, int64_t *first_r, int *passed_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, net);
	store_bind_text(s, 2, sender);
	store_bind_text(s, 3, rcpt);
	int rc = sqlite3_step(s), ret = 0;
	if (rc == SQLITE_ROW) {
		*first_r = sqlite3_column_int64(s, 0);
		*passed_r = sqlite3_column_int(s, 1);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = store_fail(st, rc, "greylist get");
	}
	store_release(st, s);
	return ret;
}

static int known_net(struct store *st, const char *net, int64_t now)
{
	sqlite3_stmt *s = store_prepare(st, SQL_KNOWN_NET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, net);
	sqlite3_bind_int64(s, 2, now - STORE_GREYLIST_KEEP_SECONDS);
	int rc = sqlite3_step(s), ret = 0;
	if (rc == SQLITE_ROW)
		ret = 1;
	else if (rc != SQLITE_DONE)
		ret = store_fail(st, rc, "greylist known net");
	store_release(st, s);
	return ret;
}

static int decide(struct store *st, const char *net, const char *sender,
		  const char *rcpt, int64_t now, int64_t delay,
		  int64_t *retry_after_r)
{
	int64_t first = 0;
	int passed = 0;
	int have = get(st, net, sender, rcpt, &first, &passed);
	if (have < 0)
		return have;
	/* a deferred triple not retried in time is new again */
	bool stale = have && !passed && now - first >= STORE_GREYLIST_RETRY_SECONDS;
	if (have && !stale && (passed || now - first >= delay)) {
		int rc = put(st, net, sender, rcpt, now, 1, 0);
		return rc < 0 ? rc : 1;
	}
	if (have && !stale) {
		*retry_after_r = first + delay - now;
		return 0; /* still waiting: first_seen stays */
	}
	int known = known_net(st, net, now);
	if (known < 0)
		return known;
	int rc = put(st, net, sender, rcpt, now, known, 1);
	if (rc < 0)
		return rc;
	*retry_after_r = known ? 0 : delay;
	return known;
}

int store_greylist_check(struct store *st, const char *net, const char *sender,
			 const char *rcpt, int64_t now, int64_t delay,
			 int64_t *retry_after_r)
{
	if (net == NULL || sender == NULL || rcpt == NULL || net[0] == '\0')
		return store_failf(st, STORE_INVALID, "greylist: empty triple");
	*retry_after_r = 0;
	int rc = store_tx_begin(st);
	if (rc != STORE_OK)
		return rc;
	int ret = decide(st, net, sender, rcpt, now, delay, retry_after_r);
	if (ret < 0) {
		store_tx_rollback(st);
		return ret;
	}
	rc = store_tx_commit(st);
	return rc != STORE_OK ? rc : ret;
}

static const char SQL_PRUNE[] =
	"DELETE FROM greylist WHERE (passed = 0 AND first_seen < ?1)"
	" OR last_seen < ?2";

int64_t store_greylist_prune(struct store *st, int64_t now)
{
	sqlite3_stmt *s = store_prepare(st, SQL_PRUNE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, now - STORE_GREYLIST_RETRY_SECONDS);
	sqlite3_bind_int64(s, 2, now - STORE_GREYLIST_KEEP_SECONDS);
	int rc = store_step_done(st, s, "greylist prune");
	if (rc != STORE_OK)
		return rc;
	return sqlite3_changes(st->db);
}
