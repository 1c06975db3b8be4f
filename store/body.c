/*
 * body.c - message bodies: the streaming reader and removal of bodies
 * nothing points at any more.
 *
 * A body is read through sqlite3_blob in caller-sized pieces, so sending a
 * 25 MB message takes a socket buffer's worth of memory, not 25 MB. Each
 * read opens and closes its own blob handle: a reader left open while a
 * client drains a big RETR holds no read transaction, so the same struct
 * store can meanwhile take fresh snapshots and write (a long-lived handle
 * would pin an old snapshot and make the next BEGIN IMMEDIATE fail with
 * SQLITE_BUSY_SNAPSHOT). Bodies are written once and never change; one
 * that is deleted under a reader (its account removed) reads as an error.
 * A reader must not outlive its struct store.
 */
#include <limits.h>
#include <stdlib.h>

#include "store_int.h"

struct store_body_reader {
	struct store *st;
	int64_t body_id;
	int64_t size;
	int64_t off;
};

static int open_blob(struct store *st, int64_t body_id,
		     struct store_body_reader **r_r)
{
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(st->db, "main", "bodies", "data", body_id, 0,
				   &blob);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_ERROR) /* no such row */
			return store_failf(st, STORE_NOTFOUND, "no body %lld",
					   (long long)body_id);
		return store_fail(st, rc, "body open");
	}
	int64_t size = sqlite3_blob_bytes(blob);
	sqlite3_blob_close(blob);
	struct store_body_reader *r = calloc(1, sizeof *r);
	if (r == NULL)
		return store_failf(st, STORE_ERROR, "out of memory");
	r->st = st;
	r->body_id = body_id;
	r->size = size;
	*r_r = r;
	return STORE_OK;
}

static const char SQL_ENTRY_BODY[] =
	"SELECT body_id FROM mailbox WHERE id = ? AND account_id = ?";

int store_body_open(struct store *st, int64_t account_id, int64_t entry_id,
		    struct store_body_reader **r_r)
{
	*r_r = NULL;
	sqlite3_stmt *s = store_prepare(st, SQL_ENTRY_BODY);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, entry_id);
	sqlite3_bind_int64(s, 2, account_id);
	int rc = sqlite3_step(s);
	int64_t body_id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	store_release(st, s);
	if (rc == SQLITE_DONE)
		return store_failf(st, STORE_NOTFOUND, "no such message");
	if (rc != SQLITE_ROW)
		return store_fail(st, rc, "body lookup");
	return open_blob(st, body_id, r_r);
}

int store_body_open_by_id(struct store *st, int64_t body_id,
			  struct store_body_reader **r_r)
{
	*r_r = NULL;
	return open_blob(st, body_id, r_r);
}

ssize_t store_body_read(struct store_body_reader *r, void *dst, size_t len)
{
	int64_t left = r->size - r->off;
	if (left <= 0)
		return 0;
	if (len > (size_t)left)
		len = (size_t)left;
	if (len > INT_MAX)
		len = INT_MAX;
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(r->st->db, "main", "bodies", "data",
				   r->body_id, 0, &blob);
	if (rc != SQLITE_OK) {
		store_fail(r->st, rc, "body read");
		return -1;
	}
	rc = sqlite3_blob_read(blob, dst, (int)len, (int)r->off);
	sqlite3_blob_close(blob);
	if (rc != SQLITE_OK) {
		store_fail(r->st, rc, "body read");
		return -1;
	}
	r->off += (int64_t)len;
	return (ssize_t)len;
}

int64_t store_body_size(const struct store_body_reader *r)
{
	return r->size;
}

void store_body_close(struct store_body_reader **rp)
{
	struct store_body_reader *r = *rp;
	if (r == NULL)
		return;
	free(r);
	*rp = NULL;
}

static const char SQL_DROP[] =
	"DELETE FROM bodies WHERE id = ?1"
	" AND NOT EXISTS (SELECT 1 FROM mailbox WHERE body_id = ?1)"
	" AND NOT EXISTS (SELECT 1 FROM queue WHERE body_id = ?1)";

int store_body_drop_if_unused(struct store *st, int64_t body_id)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DROP);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, body_id);
	return store_step_done(st, s, "body drop");
}

static const char SQL_SWEEP[] =
	"DELETE FROM bodies WHERE"
	" NOT EXISTS (SELECT 1 FROM mailbox m WHERE m.body_id = bodies.id)"
	" AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.body_id = bodies.id)";

int store_bodies_sweep(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_SWEEP);
	if (s == NULL)
		return STORE_ERROR;
	return store_step_done(st, s, "body sweep");
}
