/*
 * trace.c - the message trace table (schema v8, trace.h has the contract).
 * Written in batches by smtpd (one transaction per batch, so a busy MX
 * pays one commit a second, not one per message), read newest first by the
 * web admin, pruned by age. The address filter is a scan: the table holds
 * at most a month of one office's mail, and a page stops at its limit.
 */
#include <ctype.h>
#include <string.h>

#include "store_int.h"
#include "trace.h"

static const char SQL_ADD[] =
	"INSERT INTO message_trace (at, session, client_ip, helo, sender, rcpts,"
	" message_id, outcome, reply, spf, dkim, dmarc, dnsbl, spam_score,"
	" details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	" ?13, ?14, ?15)";

#define COLS                                                                 \
	"SELECT id, at, session, client_ip, helo, sender, rcpts, message_id,"  \
	" outcome, reply, spf, dkim, dmarc, dnsbl, spam_score, details"        \
	" FROM message_trace"

static const char SQL_LIST_ALL[] =
	COLS " WHERE id < ?1 ORDER BY id DESC LIMIT ?2";
/* ?3 is the lowercased filter: "@domain" matches the end of the sender or
 * any recipient's "@domain," in the comma list; "a@b" matches the sender or
 * one whole ",a@b," entry. */
static const char SQL_LIST_ADDR[] =
	COLS " WHERE id < ?1 AND (CASE WHEN substr(?3, 1, 1) = '@' THEN"
	"  substr(lower(sender), -length(?3)) = ?3"
	"  OR instr(lower(rcpts) || ',', ?3 || ',') > 0"
	" ELSE lower(sender) = ?3"
	"  OR instr(',' || lower(rcpts) || ',', ',' || ?3 || ',') > 0 END)"
	" ORDER BY id DESC LIMIT ?2";
static const char SQL_GET[] = COLS " WHERE id = ?1";
static const char SQL_PRUNE[] = "DELETE FROM message_trace WHERE at < ?1";

/* Bind a bounded field: at most cap bytes even without a terminator. The
 * row outlives the step, so SQLite need not copy it. */
static void bind_field(sqlite3_stmt *s, int idx, const char *field, size_t cap)
{
	sqlite3_bind_text(s, idx, field, (int)strnlen(field, cap), SQLITE_STATIC);
}

#define BIND(s, idx, row, f) bind_field(s, idx, (row)->f, sizeof (row)->f)

static int add_one(struct store *st, const struct store_trace *r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, r->at);
	BIND(s, 2, r, session);
	BIND(s, 3, r, client_ip);
	BIND(s, 4, r, helo);
	BIND(s, 5, r, sender);
	BIND(s, 6, r, rcpts);
	BIND(s, 7, r, message_id);
	if (r->outcome[0] == '\0')
		sqlite3_bind_text(s, 8, STORE_TRACE_ACCEPTED, -1, SQLITE_STATIC);
	else
		BIND(s, 8, r, outcome);
	BIND(s, 9, r, reply);
	BIND(s, 10, r, spf);
	BIND(s, 11, r, dkim);
	BIND(s, 12, r, dmarc);
	BIND(s, 13, r, dnsbl);
	sqlite3_bind_int64(s, 14, r->spam_score);
	BIND(s, 15, r, details);
	return store_step_done(st, s, "trace add");
}

int store_trace_add_batch(struct store *st, const struct store_trace *rows,
			  size_t n)
{
	if (n == 0)
		return STORE_OK;
	if (rows == NULL)
		return store_failf(st, STORE_INVALID, "trace add: no rows");
	int rc = store_tx_begin(st);
	if (rc != STORE_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = add_one(st, &rows[i]);
		if (rc != STORE_OK) {
			store_tx_rollback(st);
			return rc;
		}
	}
	return store_tx_commit(st);
}

int store_trace_add_each(struct store *st, store_trace_next_fn next, void *ctx,
			 size_t *n_r)
{
	*n_r = 0;
	int rc = store_tx_begin(st);
	if (rc != STORE_OK)
		return rc;
	struct store_trace row;
	size_t n = 0;
	for (;;) {
		memset(&row, 0, sizeof row);
		if (next(ctx, &row) != 1)
			break;
		rc = add_one(st, &row);
		if (rc != STORE_OK) {
			store_tx_rollback(st);
			return rc;
		}
		n++;
	}
	rc = store_tx_commit(st);
	if (rc == STORE_OK)
		*n_r = n;
	return rc;
}

static void read_row(sqlite3_stmt *s, struct store_trace *r)
{
	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	r->at = sqlite3_column_int64(s, 1);
	store_column_copy(s, 2, r->session, sizeof r->session);
	store_column_copy(s, 3, r->client_ip, sizeof r->client_ip);
	store_column_copy(s, 4, r->helo, sizeof r->helo);
	store_column_copy(s, 5, r->sender, sizeof r->sender);
	store_column_copy(s, 6, r->rcpts, sizeof r->rcpts);
	store_column_copy(s, 7, r->message_id, sizeof r->message_id);
	store_column_copy(s, 8, r->outcome, sizeof r->outcome);
	store_column_copy(s, 9, r->reply, sizeof r->reply);
	store_column_copy(s, 10, r->spf, sizeof r->spf);
	store_column_copy(s, 11, r->dkim, sizeof r->dkim);
	store_column_copy(s, 12, r->dmarc, sizeof r->dmarc);
	store_column_copy(s, 13, r->dnsbl, sizeof r->dnsbl);
	r->spam_score = sqlite3_column_int64(s, 14);
	store_column_copy(s, 15, r->details, sizeof r->details);
}

int store_trace_list(struct store *st, const char *address, int64_t before_id,
		     int limit, store_trace_cb cb, void *ctx)
{
	char filter[STORE_TRACE_ADDR_MAX];
	size_t flen = address ? strlen(address) : 0;
	if (flen >= sizeof filter)
		return store_failf(st, STORE_INVALID, "trace list: filter too long");
	for (size_t i = 0; i < flen; i++)
		filter[i] = (char)tolower((unsigned char)address[i]);
	filter[flen] = '\0';

	sqlite3_stmt *s = store_prepare(st, flen ? SQL_LIST_ADDR : SQL_LIST_ALL);
	if (s == NULL)
		return STORE_ERROR;
	if (limit < 1)
		limit = 1;
	if (limit > STORE_TRACE_LIST_MAX)
		limit = STORE_TRACE_LIST_MAX;
	sqlite3_bind_int64(s, 1, before_id > 0 ? before_id : INT64_MAX);
	sqlite3_bind_int(s, 2, limit);
	if (flen)
		sqlite3_bind_text(s, 3, filter, (int)flen, SQLITE_STATIC);

	int rc, ret = STORE_OK;
	struct store_trace row;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_row(s, &row);
		if ((ret = cb(ctx, &row)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "trace list");
	store_release(st, s);
	return ret;
}

int store_trace_get(struct store *st, int64_t id, struct store_trace *out)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s), ret = STORE_OK;
	if (rc == SQLITE_ROW)
		read_row(s, out);
	else if (rc == SQLITE_DONE)
		ret = store_failf(st, STORE_NOTFOUND, "trace row %lld not found",
				  (long long)id);
	else
		ret = store_fail(st, rc, "trace get");
	store_release(st, s);
	return ret;
}

static const char SQL_LAST_SPAMD[] =
	"SELECT at, details FROM message_trace"
	" WHERE id > (SELECT coalesce(max(id), 0) FROM message_trace) - ?1"
	"   AND instr(details, ' spamd=') > 0"
	" ORDER BY id DESC LIMIT 1";

int store_trace_last_spamd(struct store *st, int64_t *at_r, char *said,
			   size_t cap)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LAST_SPAMD);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, STORE_TRACE_SPAMD_LOOK);
	int rc = sqlite3_step(s), ret = STORE_OK;
	if (rc == SQLITE_ROW) {
		*at_r = sqlite3_column_int64(s, 0);
		const char *d = (const char *)sqlite3_column_text(s, 1);
		const char *v = d ? strstr(d, " spamd=") : NULL;
		size_t n = 0;
		if (v != NULL) {
			v += strlen(" spamd=");
			n = strcspn(v, " ");
		}
		if (cap > 0) {
			if (n >= cap)
				n = cap - 1;
			memcpy(said, v ? v : "", n);
			said[n] = '\0';
		}
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, STORE_NOTFOUND, "no message asked the spam daemon");
	} else {
		ret = store_fail(st, rc, "trace last spamd");
	}
	store_release(st, s);
	return ret;
}

int64_t store_trace_prune(struct store *st, int64_t older_than)
{
	sqlite3_stmt *s = store_prepare(st, SQL_PRUNE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, older_than);
	int rc = store_step_done(st, s, "trace prune");
	if (rc != STORE_OK)
		return rc;
	return sqlite3_changes(st->db);
}
