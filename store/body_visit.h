/*
 * body_visit.h - a body read in place, chunk by chunk, for senders that
 * copy the bytes on anyway (POP3 RETR/TOP dot-stuffs them into its output
 * buffer). An addition beside store.h's reader, which copies each chunk
 * into a 64 KiB buffer of its own after three or four statements.
 *
 * Each call is one SQLite statement that hands the next stored chunk
 * (at most STORE_BLOB_CHUNK bytes) straight to a callback; the first call
 * also does the mailbox lookup in the same statement, so a body of one
 * chunk (almost all mail: up to 64 KiB) is sent with one statement and no
 * buffer of our own. Like the reader, a cursor holds no read transaction
 * between calls and no heap memory (a chunk larger than STORE_BLOB_CHUNK,
 * which only an old migration leaves behind, is read in pieces through a
 * buffer held only for that call).
 */
#ifndef MAILROOM_STORE_BODY_VISIT_H
#define MAILROOM_STORE_BODY_VISIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_body_cursor {
	int64_t account_id, entry_id;
	int64_t body_id; /* known after the first call */
	int64_t size;    /* octets of the body, known after the first call */
	int64_t off;     /* octets handed to the callback so far */
	int64_t next_seq;
	int64_t big_rowid; /* >0: an oversized chunk is being read in pieces */
	int64_t big_len, big_pos;
	bool started;
	bool done;
};

/* Receives bytes valid only during the call; 0 to go on, -1 to stop (the
 * visit then returns STORE_ERROR). */
typedef int (*store_bytes_fn)(void *arg, const char *p, size_t n);

void store_body_cursor_init(struct store_body_cursor *c, int64_t account_id,
			    int64_t entry_id);
/*
 * Hand the next chunk of the body to fn (called zero times for an empty
 * body, and more than once only for an oversized chunk). STORE_OK with
 * c->done set once the whole body was handed over; STORE_NOTFOUND when
 * the entry (first call) or a chunk is missing; other STORE_* errors as
 * usual (STORE_BUSY and friends are temporary).
 */
int store_body_visit(struct store *st, struct store_body_cursor *c,
		     store_bytes_fn fn, void *arg);

#endif
