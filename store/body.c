/*
 * body.c - message bodies: the streaming reader and removal of bodies
 * nothing points at any more.
 *
 * A body's bytes live in body_chunks rows of STORE_BLOB_CHUNK bytes. The
 * reader loads one chunk at a time into its own buffer (one index lookup
 * and one blob read per chunk) and serves reads from it, so sending a
 * 25 MB message takes one chunk of memory, costs time linear in its size,
 * and holds no read transaction between calls: a reader left open while a
 * client drains a big RETR pins no snapshot, and the same struct store can
 * meanwhile take fresh snapshots and write. Bodies are written once and
 * never change; one deleted under a reader (its account removed) reads
 * as an error at the next chunk. A chunk bigger than the buffer (none are
 * written; a migration could leave one) is read piecewise in place.
 * A reader must not outlive its struct store.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "body_visit.h"
#include "store_int.h"

struct store_body_reader {
	struct store *st;
	int64_t body_id;
	int64_t size;
	int64_t off;      /* bytes handed out so far */
	int64_t next_seq; /* chunk to load next */
	unsigned char *buf;
	size_t buf_len, buf_pos;
	int64_t big_rowid; /* >0: reading an oversized chunk in place */
	int64_t big_len, big_pos;
};

static const char SQL_BODY_SIZE[] = "SELECT size FROM bodies WHERE id = ?";

static int open_reader(struct store *st, int64_t body_id,
		       struct store_body_reader **r_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_BODY_SIZE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, body_id);
	int rc = sqlite3_step(s);
	int64_t size = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	store_release(st, s);
	if (rc == SQLITE_DONE)
		return store_failf(st, STORE_NOTFOUND, "no body %lld",
				   (long long)body_id);
	if (rc != SQLITE_ROW)
		return store_fail(st, rc, "body open");
	struct store_body_reader *r = calloc(1, sizeof *r);
	if (r == NULL || (r->buf = malloc(STORE_BLOB_CHUNK)) == NULL) {
		free(r);
		return store_failf(st, STORE_ERROR, "out of memory");
	}
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
	return open_reader(st, body_id, r_r);
}

int store_body_open_by_id(struct store *st, int64_t body_id,
			  struct store_body_reader **r_r)
{
	*r_r = NULL;
	return open_reader(st, body_id, r_r);
}

static const char SQL_CHUNK[] =
	"SELECT id, length(data) FROM body_chunks WHERE body_id = ? AND seq = ?";

/* Copy len bytes at off of chunk row rowid into dst. */
static int blob_copy(struct store *st, int64_t rowid, void *dst, int len,
		     int off)
{
	sqlite3_blob *blob = NULL;
	int rc = sqlite3_blob_open(st->db, "main", "body_chunks", "data", rowid,
				   0, &blob);
	if (rc == SQLITE_OK)
		rc = sqlite3_blob_read(blob, dst, len, off);
	sqlite3_blob_close(blob);
	return rc == SQLITE_OK ? STORE_OK : store_fail(st, rc, "body read");
}

static int load_chunk(struct store_body_reader *r)
{
	struct store *st = r->st;
	sqlite3_stmt *s = store_prepare(st, SQL_CHUNK);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, r->body_id);
	sqlite3_bind_int64(s, 2, r->next_seq);
	int rc = sqlite3_step(s);
	int64_t rowid = 0, len = 0;
	if (rc == SQLITE_ROW) {
		rowid = sqlite3_column_int64(s, 0);
		len = sqlite3_column_int64(s, 1);
	}
	store_release(st, s);
	if (rc == SQLITE_DONE || (rc == SQLITE_ROW && len <= 0))
		return store_failf(st, STORE_NOTFOUND, "body %lld chunk %lld missing",
				   (long long)r->body_id, (long long)r->next_seq);
	if (rc != SQLITE_ROW)
		return store_fail(st, rc, "body chunk");
	r->next_seq++;
	if (len > STORE_BLOB_CHUNK) {
		r->big_rowid = rowid;
		r->big_len = len;
		r->big_pos = 0;
		return STORE_OK;
	}
	int ret = blob_copy(st, rowid, r->buf, (int)len, 0);
	if (ret != STORE_OK)
		return ret;
	r->buf_len = (size_t)len;
	r->buf_pos = 0;
	return STORE_OK;
}

ssize_t store_body_read(struct store_body_reader *r, void *dst, size_t len)
{
	if (r->off >= r->size || len == 0)
		return 0;
	if (r->big_rowid == 0 && r->buf_pos == r->buf_len &&
	    load_chunk(r) != STORE_OK)
		return -1;
	size_t n;
	if (r->big_rowid != 0) {
		int64_t left = r->big_len - r->big_pos;
		n = len > (size_t)left ? (size_t)left : len;
		if (n > INT_MAX)
			n = INT_MAX;
		if (blob_copy(r->st, r->big_rowid, dst, (int)n,
			      (int)r->big_pos) != STORE_OK)
			return -1;
		r->big_pos += (int64_t)n;
		if (r->big_pos == r->big_len)
			r->big_rowid = 0;
	} else {
		n = r->buf_len - r->buf_pos;
		if (n > len)
			n = len;
		memcpy(dst, r->buf + r->buf_pos, n);
		r->buf_pos += n;
	}
	r->off += (int64_t)n;
	return (ssize_t)n;
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
	free(r->buf);
	free(r);
	*rp = NULL;
}

/* ---- in-place visits (body_visit.h) ------------------------------------ */

/*
 * The chunk's bytes come back as a column only when they fit in
 * STORE_BLOB_CHUNK (?3): SQLite evaluates length() from the record header
 * without loading the blob, so an oversized chunk costs nothing here and
 * is read in pieces through the blob API instead.
 */
static const char SQL_VISIT_FIRST[] =
	"SELECT m.body_id, b.size, c.id, length(c.data),"
	" CASE WHEN length(c.data) <= ?3 THEN c.data END"
	" FROM mailbox m JOIN bodies b ON b.id = m.body_id"
	" LEFT JOIN body_chunks c ON c.body_id = m.body_id AND c.seq = 0"
	" WHERE m.id = ?1 AND m.account_id = ?2";
static const char SQL_VISIT_NEXT[] =
	"SELECT ?1, -1, id, length(data),"
	" CASE WHEN length(data) <= ?3 THEN data END"
	" FROM body_chunks WHERE body_id = ?1 AND seq = ?2";

void store_body_cursor_init(struct store_body_cursor *c, int64_t account_id,
			    int64_t entry_id)
{
	memset(c, 0, sizeof(*c));
	c->account_id = account_id;
	c->entry_id = entry_id;
}

/* One STORE_BLOB_CHUNK piece of an oversized chunk, through the store's
 * kept chunk buffer (the only copy this path makes). */
static int visit_big_piece(struct store *st, struct store_body_cursor *c,
			   store_bytes_fn fn, void *arg)
{
	if (st->chunk_buf == NULL &&
	    (st->chunk_buf = malloc(STORE_BLOB_CHUNK)) == NULL)
		return store_failf(st, STORE_ERROR, "out of memory");
	int64_t left = c->big_len - c->big_pos;
	int n = left > STORE_BLOB_CHUNK ? STORE_BLOB_CHUNK : (int)left;
	int ret = blob_copy(st, c->big_rowid, st->chunk_buf, n, (int)c->big_pos);
	if (ret != STORE_OK)
		return ret;
	if (fn(arg, (const char *)st->chunk_buf, (size_t)n) < 0)
		return store_failf(st, STORE_ERROR, "body visit stopped");
	c->big_pos += n;
	c->off += n;
	if (c->big_pos == c->big_len)
		c->big_rowid = 0;
	return STORE_OK;
}

int store_body_visit(struct store *st, struct store_body_cursor *c,
		     store_bytes_fn fn, void *arg)
{
	if (c->done)
		return STORE_OK;
	int ret = STORE_OK;
	if (c->big_rowid != 0) {
		ret = visit_big_piece(st, c, fn, arg);
	} else {
		bool first = !c->started;
		sqlite3_stmt *s =
			store_prepare(st, first ? SQL_VISIT_FIRST : SQL_VISIT_NEXT);
		if (s == NULL)
			return STORE_ERROR;
		sqlite3_bind_int64(s, 1, first ? c->entry_id : c->body_id);
		sqlite3_bind_int64(s, 2, first ? c->account_id : c->next_seq);
		sqlite3_bind_int(s, 3, STORE_BLOB_CHUNK);
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && first) {
			c->body_id = sqlite3_column_int64(s, 0);
			c->size = sqlite3_column_int64(s, 1);
			c->started = true;
		}
		bool have = rc == SQLITE_ROW &&
			    sqlite3_column_type(s, 2) != SQLITE_NULL;
		int64_t len = have ? sqlite3_column_int64(s, 3) : 0;
		if (rc == SQLITE_ROW && c->size == 0) {
			/* empty body: no chunk rows at all */
		} else if (rc == SQLITE_DONE && first) {
			ret = store_failf(st, STORE_NOTFOUND, "no such message");
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			ret = store_fail(st, rc, "body chunk");
		} else if (!have || len <= 0) {
			ret = store_failf(st, STORE_NOTFOUND,
					  "body %lld chunk %lld missing",
					  (long long)c->body_id,
					  (long long)c->next_seq);
		} else if (sqlite3_column_type(s, 4) == SQLITE_NULL) {
			c->big_rowid = sqlite3_column_int64(s, 2);
			c->big_len = len;
			c->big_pos = 0;
			c->next_seq++;
		} else {
			const void *p = sqlite3_column_blob(s, 4);
			int n = sqlite3_column_bytes(s, 4);
			if (p == NULL || n != len)
				ret = store_fail(st, sqlite3_errcode(st->db),
						 "body chunk read");
			else if (fn(arg, p, (size_t)n) < 0)
				ret = store_failf(st, STORE_ERROR,
						  "body visit stopped");
			else {
				c->off += n;
				c->next_seq++;
			}
		}
		store_release(st, s);
		/* The first piece of an oversized chunk goes out in this
		 * call too, so every successful call hands something over. */
		if (ret == STORE_OK && c->big_rowid != 0 && c->big_pos == 0)
			ret = visit_big_piece(st, c, fn, arg);
	}
	if (ret == STORE_OK && c->off >= c->size)
		c->done = true;
	return ret;
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
