/*
 * queue.c - the outbound queue: one row per remote recipient of a stored
 * body, read by the queue runner (store_queue_due), retried with a new
 * next_attempt (store_queue_defer) and removed when delivered or given up
 * (store_queue_del, which also drops the body once nothing uses it).
 */
#include <string.h>

#include "store_int.h"

#define QUEUE_COLUMNS                                                         \
	"SELECT q.id, q.body_id, b.size, q.sender, q.recipient, q.attempts,"  \
	"  q.created, q.next_attempt, q.last_error"                           \
	" FROM queue q JOIN bodies b ON b.id = q.body_id"

static void row_to_item(sqlite3_stmt *s, struct store_queue_item *q)
{
	memset(q, 0, sizeof *q);
	q->id = sqlite3_column_int64(s, 0);
	q->body_id = sqlite3_column_int64(s, 1);
	q->size = sqlite3_column_int64(s, 2);
	store_column_copy(s, 3, q->sender, sizeof q->sender);
	store_column_copy(s, 4, q->recipient, sizeof q->recipient);
	q->attempts = sqlite3_column_int(s, 5);
	q->created = sqlite3_column_int64(s, 6);
	q->next_attempt = sqlite3_column_int64(s, 7);
	store_column_copy(s, 8, q->last_error, sizeof q->last_error);
}

static int each_row(struct store *st, sqlite3_stmt *s, store_queue_cb cb,
		    void *ctx)
{
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_queue_item q;
		row_to_item(s, &q);
		if ((ret = cb(ctx, &q)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "queue list");
	store_release(st, s);
	return ret;
}

static const char SQL_LIST[] = QUEUE_COLUMNS " ORDER BY q.id";

int store_queue_list(struct store *st, store_queue_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LIST);
	if (s == NULL)
		return STORE_ERROR;
	return each_row(st, s, cb, ctx);
}

static const char SQL_DUE[] = QUEUE_COLUMNS
	" WHERE q.next_attempt <= ? ORDER BY q.next_attempt, q.id LIMIT ?";

int store_queue_due(struct store *st, int64_t now, size_t limit,
		    store_queue_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DUE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return each_row(st, s, cb, ctx);
}

static const char SQL_GET[] = QUEUE_COLUMNS " WHERE q.id = ?";

int store_queue_get(struct store *st, int64_t id, struct store_queue_item *out)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		row_to_item(s, out);
	else if (rc == SQLITE_DONE)
		ret = store_failf(st, STORE_NOTFOUND, "no queue row %lld",
				  (long long)id);
	else
		ret = store_fail(st, rc, "queue get");
	store_release(st, s);
	return ret;
}

/* Run a one-row UPDATE: NOTFOUND when it touched nothing. */
static int update_one(struct store *st, sqlite3_stmt *s, const char *what)
{
	int ret = store_step_done(st, s, what);
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such queue row");
	return ret;
}

static const char SQL_RETRY[] =
	"UPDATE queue SET next_attempt = ? WHERE id = ?";

int store_queue_retry_now(struct store *st, int64_t id)
{
	sqlite3_stmt *s = store_prepare(st, SQL_RETRY);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, store_now());
	sqlite3_bind_int64(s, 2, id);
	return update_one(st, s, "queue retry");
}

static const char SQL_RETRY_ALL[] =
	"UPDATE queue SET next_attempt = ?1 WHERE next_attempt > ?1";

int store_queue_retry_all_now(struct store *st, int64_t *n_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_RETRY_ALL);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, store_now());
	int ret = store_step_done(st, s, "queue retry all");
	if (ret == STORE_OK && n_r)
		*n_r = sqlite3_changes(st->db);
	return ret;
}

static const char SQL_DEFER[] =
	"UPDATE queue SET next_attempt = ?, last_error = ?,"
	" attempts = attempts + 1 WHERE id = ?";

int store_queue_defer(struct store *st, int64_t id, int64_t next_attempt,
		      const char *error)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DEFER);
	if (s == NULL)
		return STORE_ERROR;
	char e[sizeof ((struct store_queue_item *)0)->last_error];
	size_t n = error ? strnlen(error, sizeof e - 1) : 0;
	if (n > 0)
		memcpy(e, error, n);
	e[n] = '\0';
	sqlite3_bind_int64(s, 1, next_attempt);
	store_bind_text(s, 2, e);
	sqlite3_bind_int64(s, 3, id);
	return update_one(st, s, "queue defer");
}

static const char SQL_DEL[] = "DELETE FROM queue WHERE id = ? RETURNING body_id";

int store_queue_del_row(struct store *st, int64_t id, bool missing_ok)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int64_t body_id = 0;
	if (rc == SQLITE_ROW) {
		body_id = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);
	}
	store_release(st, s);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "queue del");
	if (body_id == 0)
		return missing_ok ? STORE_OK
				  : store_failf(st, STORE_NOTFOUND,
						"no queue row %lld", (long long)id);
	return store_body_drop_if_unused(st, body_id);
}

int store_queue_del(struct store *st, int64_t id)
{
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	ret = store_queue_del_row(st, id, false);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

static const char SQL_LENGTH[] = "SELECT count(*) FROM queue";

int64_t store_queue_length(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LENGTH);
	if (s == NULL)
		return STORE_ERROR;
	int rc = sqlite3_step(s);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0)
				     : store_fail(st, rc, "queue length");
	store_release(st, s);
	return n;
}
