/*
 * store.c - open and close the database, the prepared-statement cache,
 * transactions and the mapping from SQLite errors to STORE_E* codes.
 *
 * Every connection gets the same pragmas: WAL (readers never wait for the
 * writer), synchronous=FULL (a commit is on disk when it returns, which is
 * what lets smtpd say 250), foreign keys on and a busy timeout so two
 * processes writing at once queue up instead of failing. The file is made
 * 0600 before SQLite sees it; SQLite gives -wal and -shm the same mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

bool store_result_is_temporary(int result)
{
	return result == STORE_BUSY || result == STORE_FULL ||
	       result == STORE_ERROR || result == STORE_LOCKED;
}

const char *store_result_text(int result)
{
	switch (result) {
	case STORE_OK: return "ok";
	case STORE_ERROR: return "store error";
	case STORE_NOTFOUND: return "not found";
	case STORE_EXISTS: return "already exists";
	case STORE_BUSY: return "store busy";
	case STORE_FULL: return "disk or database full";
	case STORE_NOTEMPTY: return "not empty";
	case STORE_INVALID: return "invalid argument";
	case STORE_AUTHFAIL: return "authentication failed";
	case STORE_OVERQUOTA: return "over quota";
	case STORE_LOCKED: return "mailbox locked";
	case STORE_TOOMANY: return "too many recipients";
	}
	return "unknown store result";
}

int store_failf(struct store *st, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

/* SQLite reports a full disk as SQLITE_FULL, but some write paths (the WAL
 * append, fsync) surface ENOSPC as an I/O error, and a file size limit
 * (EFBIG) or a disk quota (EDQUOT) is the same condition: "retry later". */
static int map_rc(struct store *st, int rc, int sys_errno)
{
	int primary = rc & 0xff;
	switch (primary) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_BUSY;
	case SQLITE_FULL:
		return STORE_FULL;
	case SQLITE_IOERR: {
		/* SQLite records errno only for some failures; a failed
		 * write() leaves it in errno, which later successful calls
		 * do not clear. */
		int e = st->db ? sqlite3_system_errno(st->db) : 0;
		if (e == 0)
			e = sys_errno;
		return (e == ENOSPC || e == EDQUOT || e == EFBIG) ? STORE_FULL
								    : STORE_ERROR;
	}
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			return STORE_EXISTS;
		return STORE_INVALID;
	default:
		return STORE_ERROR;
	}
}

int store_fail(struct store *st, int rc, const char *what)
{
	int sys = errno; /* before anything here can change it */
	snprintf(st->errmsg, sizeof st->errmsg, "%s: %s", what,
		 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
	return map_rc(st, rc, sys);
}

const char *store_errmsg(const struct store *st)
{
	return st ? st->errmsg : "no store";
}

sqlite3_stmt *store_prepare(struct store *st, const char *sql)
{
	struct store_stmt *slot = NULL;
	for (size_t i = 0; i < st->n_stmts; i++) {
		if (st->stmts[i].sql == sql) {
			slot = &st->stmts[i];
			break;
		}
	}
	if (slot != NULL && !slot->in_use) {
		slot->in_use = true;
		return slot->stmt;
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		store_fail(st, rc, "prepare");
		return NULL;
	}
	if (slot != NULL)
		return s; /* re-entered: a private copy, finalized on release */
	if (st->n_stmts == st->cap_stmts) {
		size_t cap = st->cap_stmts ? st->cap_stmts * 2 : 32;
		struct store_stmt *n = realloc(st->stmts, cap * sizeof *n);
		if (n == NULL)
			return s; /* uncached still works */
		st->stmts = n;
		st->cap_stmts = cap;
	}
	st->stmts[st->n_stmts++] = (struct store_stmt){sql, s, true};
	return s;
}

void store_release(struct store *st, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	for (size_t i = 0; i < st->n_stmts; i++) {
		if (st->stmts[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			st->stmts[i].in_use = false;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

int store_step_done(struct store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	int ret = STORE_OK;
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_fail(st, rc, what);
	store_release(st, stmt);
	return ret;
}

int store_exec_static(struct store *st, const char *sql)
{
	const char *p = sql;
	while (p != NULL && *p != '\0') {
		sqlite3_stmt *s = NULL;
		const char *tail = NULL;
		int rc = sqlite3_prepare_v2(st->db, p, -1, &s, &tail);
		if (rc != SQLITE_OK)
			return store_fail(st, rc, "schema");
		if (s == NULL) /* only whitespace or comments left */
			break;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW)
			;
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return store_fail(st, rc, "schema");
		p = tail;
	}
	return STORE_OK;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";

int store_tx_begin(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_BEGIN);
	if (s == NULL)
		return STORE_ERROR;
	int ret = store_step_done(st, s, "begin");
	if (ret == STORE_OK)
		st->in_tx = true;
	return ret;
}

int store_tx_commit(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_COMMIT);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	int ret = store_step_done(st, s, "commit");
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	st->in_tx = false;
	return STORE_OK;
}

void store_tx_rollback(struct store *st)
{
	/* Keep the first error's message: that is the one worth reporting. */
	if (sqlite3_get_autocommit(st->db) == 0) {
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(st->db, SQL_ROLLBACK, -1, &s, NULL) ==
		    SQLITE_OK) {
			sqlite3_step(s);
			sqlite3_finalize(s);
		}
	}
	st->in_tx = false;
}

int store_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	return sqlite3_bind_text(s, idx, text ? text : "", -1,
				 SQLITE_TRANSIENT);
}

void store_column_copy(sqlite3_stmt *s, int col, char *dst, size_t dstlen)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = t ? (size_t)sqlite3_column_bytes(s, col) : 0;
	if (dstlen == 0)
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	if (n > 0)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}

const char *store_addr_domain(const char *address)
{
	const char *at = address ? strrchr(address, '@') : NULL;
	if (at == NULL || at[1] == '\0')
		return NULL;
	return at + 1;
}

sqlite3 *store_db(struct store *st)
{
	return st->db;
}

void store_set_busy_timeout(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

/*
 * Run a pragma that may answer with a row (journal_mode does). Retried on
 * BUSY up to the busy timeout: switching a new file to WAL needs an
 * exclusive lock, and SQLite returns BUSY at once, without its busy
 * handler, when processes opening a fresh database at the same moment
 * would otherwise deadlock on it.
 */
static int pragma(struct store *st, const char *sql, const char *want)
{
	const int step_ms = 20;
	for (int waited = 0;; waited += step_ms) {
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(s);
		int ret = STORE_OK;
		if (rc == SQLITE_ROW && want != NULL) {
			const char *got = (const char *)sqlite3_column_text(s, 0);
			if (got == NULL || strcasecmp(got, want) != 0)
				ret = store_failf(st, STORE_BUSY, "%s: got %s", sql,
						  got ? got : "nothing");
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			ret = store_fail(st, rc, sql);
		}
		sqlite3_finalize(s);
		if (ret != STORE_BUSY || waited >= STORE_BUSY_TIMEOUT_MS)
			return ret;
		sqlite3_sleep(step_ms);
	}
}

/* Create the file 0600 ourselves so the database is never world-readable,
 * whatever the caller's umask. */
static int create_private(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return STORE_OK;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_ERROR;
	}
	close(fd);
	return STORE_OK;
}

int store_open_version(const char *path, int version, struct store **st_r,
		       char *err, size_t errlen)
{
	*st_r = NULL;
	if (version < 0 || version > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "no schema version %d", version);
		return STORE_INVALID;
	}
	if (create_private(path, err, errlen) != STORE_OK)
		return STORE_ERROR;
	struct store *st = calloc(1, sizeof *st);
	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	int rc = sqlite3_open_v2(path, &st->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	int ret;
	if (rc != SQLITE_OK) {
		ret = store_fail(st, rc, path);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	/* 8 KiB pages for a new file (ignored for an existing one): mail
	 * bodies are most of the bytes, and against 4 KiB pages a batch of
	 * 10 KB messages took half the pwrite calls, ~15% less CPU and a
	 * smaller file. Must come before WAL mode is set. */
	if ((ret = pragma(st, "PRAGMA page_size=8192", NULL)) != STORE_OK ||
	    (ret = pragma(st, "PRAGMA journal_mode=WAL", "wal")) != STORE_OK ||
	    (ret = pragma(st, "PRAGMA synchronous=FULL", NULL)) != STORE_OK ||
	    (ret = pragma(st, "PRAGMA foreign_keys=ON", NULL)) != STORE_OK ||
	    /* after a batch of big messages, give the WAL's disk back */
	    (ret = pragma(st, "PRAGMA journal_size_limit=67108864", NULL)) !=
		    STORE_OK ||
	    (ret = store_migrate(st, version)) != STORE_OK)
		goto fail;
	*st_r = st;
	return STORE_OK;
fail:
	snprintf(err, errlen, "%s", st->errmsg);
	store_close(&st);
	return ret;
}

int store_open(const char *path, struct store **st_r, char *err, size_t errlen)
{
	return store_open_version(path, STORE_SCHEMA_VERSION, st_r, err,
				  errlen);
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_stmts; i++)
		sqlite3_finalize(st->stmts[i].stmt);
	free(st->stmts);
	free(st->chunk_buf);
	if (st->db != NULL)
		sqlite3_close(st->db);
	free(st);
	*stp = NULL;
}

static const char SQL_USER_VERSION[] = "PRAGMA user_version";

int store_schema_version(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_USER_VERSION);
	if (s == NULL)
		return STORE_ERROR;
	int rc = sqlite3_step(s);
	int v = rc == SQLITE_ROW ? sqlite3_column_int(s, 0)
				 : store_fail(st, rc, "user_version");
	store_release(st, s);
	return v;
}

static const char SQL_INTEGRITY[] = "PRAGMA integrity_check";

int store_integrity_check(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_INTEGRITY);
	if (s == NULL)
		return STORE_ERROR;
	int rc = sqlite3_step(s);
	int ret;
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);
		ret = (t != NULL && strcmp(t, "ok") == 0)
			      ? STORE_OK
			      : store_failf(st, STORE_ERROR,
					    "integrity_check: %s",
					    t ? t : "no answer");
	} else {
		ret = store_fail(st, rc, "integrity_check");
	}
	store_release(st, s);
	return ret;
}

/* ---- WAL checkpoints off the committing thread ---------------------------- */

static int wal_watch_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	(void)db;
	(void)name;
	struct store_wal_watch *w = arg;
	w->fn(w->arg, pages);
	return SQLITE_OK;
}

int store_wal_watch(struct store *st, struct store_wal_watch *w)
{
	/* Replaces the wal_autocheckpoint hook: SQLite has only one. */
	sqlite3_wal_hook(st->db, wal_watch_hook, w);
	return STORE_OK;
}

int store_wal_checkpoint(struct store *st, int *wal_pages_r, int *done_pages_r)
{
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->db, "main",
					   SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (wal_pages_r != NULL)
		*wal_pages_r = log;
	if (done_pages_r != NULL)
		*done_pages_r = done;
	return rc == SQLITE_OK ? STORE_OK : store_fail(st, rc, "wal checkpoint");
}

/* See store_busy_retry_fast(): count is how many times it was called for
 * this lock wait. */
static int busy_retry_fast(void *arg, int count)
{
	(void)arg;
	const int fast = 50; /* 50 x 100 us */
	long waited_us = count < fast ? count * 100L
				      : fast * 100L + (count - fast) * 1000L;
	if (waited_us >= STORE_BUSY_TIMEOUT_MS * 1000L)
		return 0;
	struct timespec ts = {0, (count < fast ? 100L : 1000L) * 1000L};
	nanosleep(&ts, NULL);
	return 1;
}

void store_busy_retry_fast(struct store *st)
{
	sqlite3_busy_handler(st->db, busy_retry_fast, NULL);
}
