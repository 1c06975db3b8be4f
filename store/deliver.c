/*
 * deliver.c - store a batch of messages in one transaction (group commit).
 *
 * Per message: one bodies row, then the spool fd read with pread in
 * STORE_BLOB_CHUNK pieces, each written into one body_chunks row (the
 * message never sits in memory whole), then a mailbox entry per local
 * account (its uidnext bumped and used_bytes charged by the same UPDATE)
 * and a queue row per remote address. One BEGIN IMMEDIATE ... COMMIT for
 * the whole batch: one fsync, and on any error a rollback leaves nothing
 * of any message. The quota is checked at RCPT time (store_expand), not
 * here: a message already accepted is never refused at commit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"

static const char SQL_BODY[] =
	"INSERT INTO bodies (size, created) VALUES (?, ?)";
static const char SQL_CHUNK_ZERO[] =
	"INSERT INTO body_chunks (body_id, seq, data) VALUES (?, ?, zeroblob(?))";

/* Read exactly len bytes at off; STORE_OK or an error with a message. */
static int read_at(struct store *st, int fd, unsigned char *buf, size_t len,
		   int64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t got = pread(fd, buf + done, len - done,
				    (off_t)(off + (int64_t)done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return store_failf(st, STORE_ERROR,
					   "reading message at %lld: %s",
					   (long long)(off + (int64_t)done),
					   got < 0 ? strerror(errno)
						   : "file shorter than size");
		done += (size_t)got;
	}
	return STORE_OK;
}

/*
 * Each chunk row is made with zeroblob(len), which SQLite writes without
 * building the value in memory, then filled through one blob handle that
 * the whole batch shares, moved from row to row with sqlite3_blob_reopen
 * (no statement compiled per chunk). Binding the bytes instead made SQLite
 * copy every chunk into a fresh record buffer: a malloc and free of the
 * body's size per message, which kept glibc growing and trimming the heap.
 */
struct chunk_writer {
	sqlite3_blob *blob;
};

static int write_chunk(struct store *st, struct chunk_writer *w,
		       int64_t body_id, int64_t seq, const unsigned char *buf,
		       size_t len)
{
	sqlite3_stmt *s = store_prepare(st, SQL_CHUNK_ZERO);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, body_id);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)len);
	int ret = store_step_done(st, s, "deliver chunk");
	if (ret != STORE_OK)
		return ret;
	int64_t rowid = sqlite3_last_insert_rowid(st->db);
	int rc = w->blob == NULL
			 ? sqlite3_blob_open(st->db, "main", "body_chunks",
					     "data", rowid, 1, &w->blob)
			 : sqlite3_blob_reopen(w->blob, rowid);
	if (rc == SQLITE_OK)
		rc = sqlite3_blob_write(w->blob, buf, (int)len, 0);
	return rc == SQLITE_OK ? STORE_OK
			       : store_fail(st, rc, "deliver chunk write");
}

/* Must run before COMMIT: an open blob handle is a statement in progress. */
static int chunk_writer_close(struct store *st, struct chunk_writer *w)
{
	int rc = sqlite3_blob_close(w->blob);
	w->blob = NULL;
	return rc == SQLITE_OK ? STORE_OK
			       : store_fail(st, rc, "deliver chunk close");
}

static int copy_body(struct store *st, struct chunk_writer *w,
		     const struct store_message *m, int64_t body_id,
		     unsigned char *buf)
{
	int64_t seq = 0;
	for (int64_t off = 0; off < m->size; off += STORE_BLOB_CHUNK, seq++) {
		size_t want = STORE_BLOB_CHUNK;
		if ((int64_t)want > m->size - off)
			want = (size_t)(m->size - off);
		int ret = read_at(st, m->fd, buf, want, off);
		if (ret == STORE_OK)
			ret = write_chunk(st, w, body_id, seq, buf, want);
		if (ret != STORE_OK)
			return ret;
	}
	return STORE_OK;
}

/* Bump uidnext and charge the quota in one statement; RETURNING gives the
 * uid this entry takes. */
static const char SQL_CHARGE[] =
	"UPDATE accounts SET uidnext = uidnext + 1, used_bytes = used_bytes + ?"
	" WHERE id = ? RETURNING uidnext - 1";
static const char SQL_ENTRY[] =
	"INSERT INTO mailbox (account_id, uid, body_id, size, received)"
	" VALUES (?, ?, ?, ?, ?)";

/* *added_r counts the entries made (an account gone since RCPT gets none). */
static int add_entry(struct store *st, int64_t account_id, int64_t body_id,
		     int64_t size, int64_t now, size_t *added_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_CHARGE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, size);
	sqlite3_bind_int64(s, 2, account_id);
	int rc = sqlite3_step(s);
	int64_t uid = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(s); /* finish the UPDATE */
	store_release(st, s);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "deliver charge");
	/* The account went away since RCPT: its mail would have gone with
	 * it, so skip it rather than fail everyone else's batch. */
	if (uid == 0)
		return STORE_OK;
	if ((s = store_prepare(st, SQL_ENTRY)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, body_id);
	sqlite3_bind_int64(s, 4, size);
	sqlite3_bind_int64(s, 5, now);
	int ret = store_step_done(st, s, "deliver entry");
	if (ret == STORE_OK)
		(*added_r)++;
	return ret;
}

static const char SQL_QUEUE[] =
	"INSERT INTO queue (body_id, sender, recipient, created, next_attempt)"
	" VALUES (?, ?, ?, ?, ?)";

static int add_queue(struct store *st, int64_t body_id, const char *sender,
		     const char *rcpt, int64_t now)
{
	sqlite3_stmt *s = store_prepare(st, SQL_QUEUE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, body_id);
	store_bind_text(s, 2, sender ? sender : "");
	store_bind_text(s, 3, rcpt);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, now);
	return store_step_done(st, s, "deliver queue");
}

static bool seen_before(const int64_t *ids, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (ids[j] == ids[i])
			return true;
	return false;
}

static int deliver_one(struct store *st, struct chunk_writer *w,
		       struct store_message *m, unsigned char *buf, int64_t now)
{
	m->body_id_r = 0;
	if (m->n_local == 0 && m->n_remote == 0)
		return STORE_OK; /* nobody left to receive it: nothing stored */
	if (m->size < 0 || m->size > INT32_MAX)
		return store_failf(st, STORE_INVALID, "message size %lld",
				   (long long)m->size);
	sqlite3_stmt *s = store_prepare(st, SQL_BODY);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, m->size);
	sqlite3_bind_int64(s, 2, now);
	int ret = store_step_done(st, s, "deliver body");
	if (ret != STORE_OK)
		return ret;
	int64_t body_id = sqlite3_last_insert_rowid(st->db);
	if ((ret = copy_body(st, w, m, body_id, buf)) != STORE_OK)
		return ret;
	size_t added = 0;
	for (size_t i = 0; ret == STORE_OK && i < m->n_local; i++)
		if (!seen_before(m->local_ids, i))
			ret = add_entry(st, m->local_ids[i], body_id, m->size,
					now, &added);
	for (size_t i = 0; ret == STORE_OK && i < m->n_remote; i++)
		ret = add_queue(st, body_id, m->sender, m->remote[i], now);
	/* Every local account went away and nothing is queued: keep no
	 * body that nothing points at. */
	if (ret == STORE_OK && added == 0 && m->n_remote == 0)
		return store_body_drop_if_unused(st, body_id);
	if (ret == STORE_OK)
		m->body_id_r = body_id;
	return ret;
}

int store_deliver(struct store *st, struct store_message *msgs, size_t n)
{
	if (st->chunk_buf == NULL &&
	    (st->chunk_buf = malloc(STORE_BLOB_CHUNK)) == NULL)
		return store_failf(st, STORE_ERROR, "out of memory");
	unsigned char *buf = st->chunk_buf;
	struct chunk_writer w = {NULL};
	int ret = store_tx_begin(st);
	int64_t now = store_now();
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = deliver_one(st, &w, &msgs[i], buf, now);
	int cret = chunk_writer_close(st, &w);
	if (ret == STORE_OK)
		ret = cret;
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		for (size_t i = 0; i < n; i++)
			msgs[i].body_id_r = 0;
		return ret;
	}
	ret = store_tx_commit(st);
	if (ret != STORE_OK)
		for (size_t i = 0; i < n; i++)
			msgs[i].body_id_r = 0;
	return ret;
}
