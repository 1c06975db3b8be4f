/*
 * smtp_trace.h - the message trace's way from the event loop to the store
 * (store/trace.h) without slowing acceptance: the loop packs each row into
 * an in-memory queue (a capped byte buffer; a row takes the bytes of its
 * text, ~300, not the ~3 KB of struct store_trace) and a thread of its own
 * with its own store handle writes the queue in one transaction, once a
 * second or sooner when the queue is half full. A full queue drops the row
 * and counts it (logged once a second while it happens); mail is never held
 * for the trace. Rows older than SMTP_TRACE_KEEP_SECONDS are pruned hourly
 * by the same thread.
 *
 * Two buffers: the loop fills one while the thread writes the other; they
 * swap only while the thread is idle, under the mutex, so neither side ever
 * touches the other's buffer. Loop-thread API except where noted.
 */
#ifndef MAILROOM_SMTP_TRACE_H
#define MAILROOM_SMTP_TRACE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../store/trace.h"

#define SMTP_TRACE_QUEUE_BYTES (1024 * 1024) /* per buffer, two buffers */
#define SMTP_TRACE_FLUSH_MS 1000
#define SMTP_TRACE_PRUNE_SECONDS 3600
#define SMTP_TRACE_KEEP_SECONDS (30LL * 86400)

struct event_base;
struct event;
struct store;

struct smtp_trace {
	bool started;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct buf fill;      /* loop thread */
	struct buf work;      /* writer thread while busy */
	bool busy;            /* work handed to the thread (mu) */
	bool stop;            /* (mu) */
	bool prune_due;       /* (mu) */
	int64_t prune_before; /* (mu) */
	struct store *st;     /* the writer thread's, until joined */
	struct event *tick;
	unsigned ticks;
	/* counters: rows queued and dropped (loop); written and lost to
	 * store errors (mu) */
	uint64_t queued, dropped, dropped_logged;
	uint64_t written, lost;
};

/*
 * Open a store handle on db_path and start the writer thread; queue_bytes
 * is the cap of each buffer (0: SMTP_TRACE_QUEUE_BYTES; tests use small
 * ones). 0, or -1 with err set (the trace is then off: smtp_trace_add
 * drops quietly).
 */
int smtp_trace_start(struct smtp_trace *q, struct event_base *base,
		     const char *db_path, size_t queue_bytes, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
/* Queue one row (copied, fields cut to their sizes). false when dropped:
 * queue full, or the trace is off. */
bool smtp_trace_add(struct smtp_trace *q, const struct store_trace *row);
/* Hand what is queued to the writer now if it is idle (the timer does this
 * every SMTP_TRACE_FLUSH_MS). */
void smtp_trace_kick(struct smtp_trace *q);
/* Write everything queued, stop and join the thread, close the handle. */
void smtp_trace_stop(struct smtp_trace *q);

/* Pack / unpack one row (exposed for the unit tests). pack: 0 or -1 when
 * b's cap would be passed (b unchanged). unpack: reads the row at *pos of
 * p[0..len) into *row and advances *pos; 1, or 0 at the end / on a
 * malformed rest. */
int smtp_trace_pack(struct buf *b, const struct store_trace *row)
	__attribute__((warn_unused_result));
int smtp_trace_unpack(const char *p, size_t len, size_t *pos,
		      struct store_trace *row);

#endif
