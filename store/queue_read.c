/*
 * queue_read.c - a deferred (read) transaction around a run of reads, for
 * mailroom-queued's job building; see queue_read.h for why.
 */
#include "queue_read.h"
#include "store_int.h"

static const char SQL_BEGIN[] = "BEGIN DEFERRED";
static const char SQL_END[] = "COMMIT";

int store_read_begin(struct store *st)
{
	if (st->in_tx || !sqlite3_get_autocommit(st->db))
		return store_failf(st, STORE_INVALID, "a transaction is open");
	sqlite3_stmt *s = store_prepare(st, SQL_BEGIN);
	if (s == NULL)
		return STORE_ERROR;
	return store_step_done(st, s, "read begin");
}

void store_read_end(struct store *st)
{
	if (st->in_tx || sqlite3_get_autocommit(st->db))
		return;
	sqlite3_stmt *s = store_prepare(st, SQL_END);
	if (s != NULL)
		(void)store_step_done(st, s, "read end");
}
