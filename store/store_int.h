/*
 * store_int.h - libstore's private header: the struct behind the opaque
 * handle, the prepared-statement cache, error mapping and transaction
 * helpers every file in store/ shares. Nothing outside store/ includes it
 * except the store's own unit tests (which need the raw handle to inject
 * faults: a short busy timeout, a page limit standing in for a full disk).
 */
#ifndef MAILROOM_STORE_INT_H
#define MAILROOM_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

#define STORE_ERRMSG_MAX 512
/* Bodies move between the spool fd and SQLite in pieces this big, so a
 * message of any size needs only this much memory (plus SQLite's cache). */
#define STORE_BLOB_CHUNK (64 * 1024)

/*
 * One cached prepared statement. Statements are keyed by the address of
 * their static SQL string; in_use marks one handed out and not yet
 * released, so a callback that re-enters the store (e.g. counting accounts
 * while domains are listed) gets a fresh statement instead of resetting
 * the one its caller is stepping.
 */
struct store_stmt {
	const char *sql;
	sqlite3_stmt *stmt;
	bool in_use;
};

struct store {
	sqlite3 *db;
	struct store_stmt *stmts;
	size_t n_stmts, cap_stmts;
	bool in_tx; /* an explicit BEGIN IMMEDIATE is open */
	/* STORE_BLOB_CHUNK bytes for moving bodies in, made on first use and
	 * kept: a malloc/free of 64 KiB per delivery made glibc grow and trim
	 * the heap each time (brk + munmap were ~15% of a batch's CPU). */
	unsigned char *chunk_buf;
	char errmsg[STORE_ERRMSG_MAX];
};

/* Statement cache (store.c). store_prepare returns NULL with errmsg set;
 * every statement it hands out goes back through store_release. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql);
void store_release(struct store *st, sqlite3_stmt *stmt);

/* Record the SQLite error rc for the operation `what` and return the
 * matching STORE_E* code (BUSY, FULL, EXISTS for unique violations,
 * INVALID for other constraints, else ERROR). */
int store_fail(struct store *st, int rc, const char *what);
/* Record a message of our own and return code. */
int store_failf(struct store *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Step a statement that returns no rows; STORE_OK or a mapped error.
 * Releases the statement either way. */
int store_step_done(struct store *st, sqlite3_stmt *stmt, const char *what);

/* Run static SQL (pragmas, DDL): one or more statements, no parameters. */
int store_exec_static(struct store *st, const char *sql);

/* Write transactions are always BEGIN IMMEDIATE: a deferred transaction
 * that upgrades to a writer can fail with SQLITE_BUSY without the busy
 * handler ever running. */
int store_tx_begin(struct store *st);
int store_tx_commit(struct store *st);
void store_tx_rollback(struct store *st);

/* Bind helpers: text bound as a transient copy. */
int store_bind_text(sqlite3_stmt *s, int idx, const char *text);
/* Copy a column's text into dst (cut to dstlen - 1, always terminated). */
void store_column_copy(sqlite3_stmt *s, int col, char *dst, size_t dstlen);

int64_t store_now(void);

/* Domain part of an address ("a@b" -> "b", "@b" -> "b"), NULL if none. */
const char *store_addr_domain(const char *address);
/* Id of a domain by name: >0, 0 when missing, <0 on error. */
int64_t store_domain_id(struct store *st, const char *name);
/* Id (>0) of the local domain an address belongs to; when the domain is
 * not local, STORE_INVALID with "no local domain X"; <0 on error. */
int64_t store_address_domain_id(struct store *st, const char *address);

/* Delete body_id when no mailbox entry or queue row points at it. Call
 * inside a transaction. */
int store_body_drop_if_unused(struct store *st, int64_t body_id);
/* Inside a transaction: delete queue row id and its body if nothing else
 * uses it. A row already gone is STORE_NOTFOUND, or STORE_OK when
 * missing_ok (queued's batches: mailroomctl queue del may have won). */
int store_queue_del_row(struct store *st, int64_t id, bool missing_ok);
/* Delete every body nothing points at (after bulk deletes). */
int store_bodies_sweep(struct store *st);

/* A valid yescrypt hash nobody's password matches (password.c). */
extern const char store_password_dummy_hash[];

/* Migrations (migrate.c): bring the open database to version target. */
int store_migrate(struct store *st, int target);

/* For tests: open and migrate only up to version (0..STORE_SCHEMA_VERSION),
 * to build databases as an older Mailroom left them. */
int store_open_version(const char *path, int version, struct store **st_r,
		       char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* For tests: the raw connection, to inject faults. */
sqlite3 *store_db(struct store *st);
void store_set_busy_timeout(struct store *st, int ms);

#endif
