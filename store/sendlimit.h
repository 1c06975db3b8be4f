/*
 * sendlimit.h - the store side of mailroom-queued's per-account sending
 * limit (issue 6 item 6, the compromised-password brake): count an
 * account's queue rows, hold and release them, and keep a small per-account
 * record of what already left the queue in the settings table (keys
 * "sendlimit:<address>"), so the hourly count survives a restart without a
 * schema change. The record's text format belongs to outbound/sendlimit.c;
 * the store only keeps it.
 *
 * Separate from store.h on purpose: store.h is a contract other rooms code
 * against, and only mailroom-queued (and its tests) use these.
 */
#ifndef MAILROOM_STORE_SENDLIMIT_H
#define MAILROOM_STORE_SENDLIMIT_H

#include "store.h"

#define STORE_SENDLIMIT_KEY_PREFIX "sendlimit:"
/* A record's text, NUL included (60 minute buckets of "m:n " plus a head). */
#define STORE_SENDLIMIT_RECORD_MAX 1536

/* Queue rows whose sender is sender and that were created at or after
 * since (in flight or waiting, held or not). */
int store_sendlimit_queued(struct store *st, const char *sender, int64_t since,
			   int64_t *n_r);

/* Every queue row of sender: next_attempt = until, last_error = why (the
 * admin's queue list shows it). *n_r rows changed. One statement. */
int store_sendlimit_hold(struct store *st, const char *sender, int64_t until,
			 const char *why, int64_t *n_r);

/* Rows of sender whose last_error starts with prefix (the hold's mark):
 * due at now again, error cleared, attempts unchanged. */
int store_sendlimit_release(struct store *st, const char *sender,
			    const char *prefix, int64_t now, int64_t *n_r);

/* The record of sender; STORE_NOTFOUND when it has none. */
int store_sendlimit_record_get(struct store *st, const char *sender, char *dst,
			       size_t dstlen);
/* Replace (value non-empty) or drop (value "" or NULL) sender's record. */
int store_sendlimit_record_set(struct store *st, const char *sender,
			       const char *value);
typedef int (*store_sendlimit_cb)(void *ctx, const char *sender,
				  const char *value);
/* Every record (a non-zero callback return stops and is returned). */
int store_sendlimit_record_list(struct store *st, store_sendlimit_cb cb,
				void *ctx);

struct store_sendlimit_note {
	const char *sender;
	const char *value; /* the record's new text */
};
/*
 * store_queue_del_many plus new records for some senders in the SAME
 * transaction: a row that leaves the queue moves into its account's
 * record atomically, so a crash can neither lose nor double a count.
 */
int store_queue_del_many_noted(struct store *st, const int64_t *ids, size_t n,
			       const struct store_sendlimit_note *notes,
			       size_t n_notes);

#endif
