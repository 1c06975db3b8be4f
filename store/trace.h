/*
 * trace.h - the message trace (table message_trace, schema v8): one row per
 * message offered to the MX port that reached a trust verdict, with the
 * SMTP reply it got and what the SPF/DKIM/DMARC/DNSBL checks found. smtpd
 * writes rows in batches (one transaction for many rows, off the accept
 * path); the web admin's "Message trace" page reads them newest first.
 *
 * Conventions are libstore's (store.h): STORE_OK or a negative STORE_E*
 * code, never an abort, rows handed to callbacks valid only during the
 * call. Every text field is a bounded array: a writer cuts what it copies
 * in (trace_copy-style, always NUL-terminated); the store binds at most
 * sizeof field bytes even if a caller forgot the terminator, and cuts what
 * it reads back to the same sizes.
 */
#ifndef MAILROOM_STORE_TRACE_H
#define MAILROOM_STORE_TRACE_H

#include "store.h"

/* Field sizes, NUL included. rcpts is "a@x,b@y,..." cut with ",..." when
 * the envelope had more than fits. */
#define STORE_TRACE_SESSION_MAX 32
#define STORE_TRACE_IP_MAX 64
#define STORE_TRACE_HELO_MAX (HOSTNAME_MAX + 1)
#define STORE_TRACE_ADDR_MAX (ADDR_MAX + 1)
#define STORE_TRACE_RCPTS_MAX 1024
#define STORE_TRACE_MSGID_MAX 256
#define STORE_TRACE_OUTCOME_MAX 16
#define STORE_TRACE_REPLY_MAX 256
/* spf, dkim, dmarc: a result name first ("pass", "fail", "none",
 * "temperror", ...), then optional words ("pass d=x.test", "fail
 * p=reject"); "" when the check did not run. dnsbl: "" (not listed or not
 * asked) or the listing zone and answer. */
#define STORE_TRACE_RESULT_MAX 128
#define STORE_TRACE_DETAILS_MAX 512

/* Outcomes, as stored in the outcome column. */
#define STORE_TRACE_ACCEPTED "accepted"       /* 250, delivered as is */
#define STORE_TRACE_TAGGED "tagged"           /* 250, spam headers/subject tag */
#define STORE_TRACE_QUARANTINED "quarantined" /* 250, DMARC p=quarantine */
#define STORE_TRACE_REFUSED "refused"         /* 5xx: DNSBL, DMARC reject, spam */
#define STORE_TRACE_GREYLISTED "greylisted"   /* 451 4.7.1 at RCPT */
/* message_id is the Message-ID header's value as sent ("" when none or
 * not read); details holds "queue_id=SESSION.N" and other key=value
 * notes (greylisted recipients, spam tests). */
#define STORE_TRACE_TEMPFAIL "tempfail"       /* other 4xx after the checks */

struct store_trace {
	int64_t id; /* set by the store; ignored by store_trace_add_batch */
	int64_t at; /* unix seconds */
	char session[STORE_TRACE_SESSION_MAX];
	char client_ip[STORE_TRACE_IP_MAX];
	char helo[STORE_TRACE_HELO_MAX];
	char sender[STORE_TRACE_ADDR_MAX];
	char rcpts[STORE_TRACE_RCPTS_MAX];
	char message_id[STORE_TRACE_MSGID_MAX];
	char outcome[STORE_TRACE_OUTCOME_MAX];
	char reply[STORE_TRACE_REPLY_MAX];
	char spf[STORE_TRACE_RESULT_MAX];
	char dkim[STORE_TRACE_RESULT_MAX];
	char dmarc[STORE_TRACE_RESULT_MAX];
	char dnsbl[STORE_TRACE_RESULT_MAX];
	int64_t spam_score; /* tenths of a point: 55 is 5.5 (X-Spam-Score) */
	char details[STORE_TRACE_DETAILS_MAX];
};

/* Most rows one store_trace_list call hands out (a page of the panel). */
#define STORE_TRACE_LIST_MAX 1000

/*
 * Insert n rows in one BEGIN IMMEDIATE transaction: all of them or none
 * (an error rolls back). An empty outcome is stored as "accepted". n == 0
 * is STORE_OK without touching the database.
 */
int store_trace_add_batch(struct store *st, const struct store_trace *rows,
			  size_t n) __attribute__((warn_unused_result));

/*
 * The same for rows made one at a time: next fills *row (zeroed by the
 * store before each call) and returns 1, or 0 when there are no more. One
 * transaction for all of them; a writer that keeps its queue packed needs
 * only one struct at a time. How many were stored in *n_r (0 on error).
 */
typedef int (*store_trace_next_fn)(void *ctx, struct store_trace *row);
int store_trace_add_each(struct store *st, store_trace_next_fn next, void *ctx,
			 size_t *n_r) __attribute__((warn_unused_result));

typedef int (*store_trace_cb)(void *ctx, const struct store_trace *row);
/*
 * Rows newest first (by id), only those with id < before_id when
 * before_id > 0 (the next page starts before the last id shown), at most
 * limit (1..STORE_TRACE_LIST_MAX; other values are clamped). address: NULL
 * or "" for every row; "user@domain" for rows whose sender or one of whose
 * recipients is that address; "@domain" for any address at that domain.
 * Matching ignores ASCII case. A callback returning non-zero stops the walk
 * and that value is returned.
 */
int store_trace_list(struct store *st, const char *address, int64_t before_id,
		     int limit, store_trace_cb cb, void *ctx);
/* One row by id: STORE_OK and *out, or STORE_NOTFOUND. */
int store_trace_get(struct store *st, int64_t id, struct store_trace *out);
/* Rows store_trace_last_spamd looks back through (the newest ones). */
#define STORE_TRACE_SPAMD_LOOK 1000
/* Among the newest STORE_TRACE_SPAMD_LOOK rows, the newest whose message
 * was sent to the spam daemon (details has " spamd="): its time into
 * *at_r and what the daemon said ("15.3/5.0", or "unavailable") into
 * said. STORE_OK, STORE_NOTFOUND, or an error. */
int store_trace_last_spamd(struct store *st, int64_t *at_r, char *said,
			   size_t cap);
/* Delete rows with at < older_than: how many went (>= 0), or an error. */
int64_t store_trace_prune(struct store *st, int64_t older_than);

#endif
