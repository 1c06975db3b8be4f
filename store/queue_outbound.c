/*
 * queue_outbound.c - batch updates of the outbound queue for
 * mailroom-queued: many delivered rows deleted, or many rows deferred, in
 * ONE transaction, so a busy queue runner pays one fsync per batch instead
 * of one per recipient (the same group-commit idea as store_deliver),
 * optionally with the sending-limit records of the rows' senders
 * (sendlimit.h) in the same transaction;
 * and the once-only mark of a delay warning (schema v5, queue.warned).
 */
#include <string.h>

#include "sendlimit.h"
#include "store_int.h"

int store_queue_del_many(struct store *st, const int64_t *ids, size_t n)
{
	if (n == 0)
		return STORE_OK;
	int ret = store_tx_begin(st);
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = store_queue_del_row(st, ids[i], true); /* gone: queue del */
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

int store_queue_del_many_noted(struct store *st, const int64_t *ids, size_t n,
			       const struct store_sendlimit_note *notes,
			       size_t n_notes)
{
	if (n == 0 && n_notes == 0)
		return STORE_OK;
	int ret = store_tx_begin(st);
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = store_queue_del_row(st, ids[i], true); /* gone: queue del */
	for (size_t i = 0; ret == STORE_OK && i < n_notes; i++)
		ret = store_sendlimit_record_set(st, notes[i].sender,
						 notes[i].value);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

static const char SQL_DEFER[] =
	"UPDATE queue SET next_attempt = ?, last_error = ?,"
	" attempts = attempts + 1 WHERE id = ?";

int store_queue_defer_many(struct store *st,
			   const struct store_queue_deferral *d, size_t n)
{
	if (n == 0)
		return STORE_OK;
	int ret = store_tx_begin(st);
	for (size_t i = 0; ret == STORE_OK && i < n; i++) {
		sqlite3_stmt *s = store_prepare(st, SQL_DEFER);
		if (s == NULL) {
			ret = STORE_ERROR;
			break;
		}
		char e[sizeof ((struct store_queue_item *)0)->last_error];
		size_t len = d[i].error ? strnlen(d[i].error, sizeof e - 1) : 0;
		if (len > 0)
			memcpy(e, d[i].error, len);
		e[len] = '\0';
		sqlite3_bind_int64(s, 1, d[i].next_attempt);
		store_bind_text(s, 2, e);
		sqlite3_bind_int64(s, 3, d[i].id);
		ret = store_step_done(st, s, "queue defer");
	}
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

static const char SQL_WARN[] =
	"UPDATE queue SET warned = 1 WHERE id = ? AND warned = 0";

int store_queue_mark_warned(struct store *st, int64_t id)
{
	sqlite3_stmt *s = store_prepare(st, SQL_WARN);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	int ret = store_step_done(st, s, "queue warned");
	if (ret != STORE_OK)
		return ret;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}
