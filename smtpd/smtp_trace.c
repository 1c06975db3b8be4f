/*
 * smtp_trace.c - the trace queue and its writer thread (smtp_trace.h).
 *
 * A packed row is at and spam_score (8 octets each, host order: the queue
 * never leaves the process) followed by the text fields in a fixed order,
 * each cut to its struct size - 1 and ended by a NUL. The writer unpacks
 * one row at a time into store_trace_add_each, so a batch of thousands of
 * rows costs one struct and one transaction.
 *
 * The trace transaction competes with the delivery writer for SQLite's
 * write lock once a second (or at half a queue). With SQLite's default busy
 * handler the group commit slept up to 25 ms after it; the delivery
 * writer's handle now retries within 100 us (store_busy_retry_fast, smtpd
 * room). This thread keeps the default handler: it can wait.
 */
#include "smtp_trace.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"
#include "../store/store.h"

/* The text fields in packed order: offset and size in struct store_trace. */
#define F(name) {offsetof(struct store_trace, name), \
		 sizeof(((struct store_trace *)0)->name)}
static const struct {
	size_t off, size;
} fields[] = {
	F(session), F(client_ip), F(helo),  F(sender), F(rcpts),
	F(message_id), F(outcome), F(reply), F(spf), F(dkim),
	F(dmarc), F(dnsbl), F(details),
};
#undef F
#define N_FIELDS (sizeof fields / sizeof fields[0])

int smtp_trace_pack(struct buf *b, const struct store_trace *row)
{
	const char *base = (const char *)row;
	size_t lens[N_FIELDS], total = 2 * sizeof(int64_t);
	for (size_t i = 0; i < N_FIELDS; i++) {
		lens[i] = strnlen(base + fields[i].off, fields[i].size - 1);
		total += lens[i] + 1;
	}
	if (b->len + total > b->max)
		return -1;
	size_t old = b->len;
	int rc = buf_append(b, &row->at, sizeof row->at) |
		 buf_append(b, &row->spam_score, sizeof row->spam_score);
	for (size_t i = 0; i < N_FIELDS && rc == 0; i++)
		rc = buf_append(b, base + fields[i].off, lens[i]) |
		     buf_append(b, "", 1);
	if (rc != 0) { /* out of memory: the row goes, the buffer stays */
		b->len = old;
		if (b->data != NULL)
			b->data[old] = '\0';
		return -1;
	}
	return 0;
}

int smtp_trace_unpack(const char *p, size_t len, size_t *pos,
		      struct store_trace *row)
{
	size_t i = *pos;
	memset(row, 0, sizeof *row);
	if (i >= len || len - i < 2 * sizeof(int64_t))
		return 0;
	memcpy(&row->at, p + i, sizeof row->at);
	memcpy(&row->spam_score, p + i + sizeof(int64_t), sizeof row->spam_score);
	i += 2 * sizeof(int64_t);
	char *base = (char *)row;
	for (size_t f = 0; f < N_FIELDS; f++) {
		const char *nul = memchr(p + i, '\0', len - i);
		if (nul == NULL)
			return 0;
		size_t n = (size_t)(nul - (p + i));
		if (n >= fields[f].size)
			n = fields[f].size - 1;
		memcpy(base + fields[f].off, p + i, n);
		i = (size_t)(nul - p) + 1;
	}
	*pos = i;
	return 1;
}

/* ---- the writer thread ---------------------------------------------------- */

struct unpack_ctx {
	const struct buf *b;
	size_t pos;
};

static int next_row(void *ctx, struct store_trace *row)
{
	struct unpack_ctx *u = ctx;
	return smtp_trace_unpack(u->b->data, u->b->len, &u->pos, row);
}

/* Write b in one transaction (any thread that owns q->st now). */
static void write_rows(struct smtp_trace *q, const struct buf *b)
{
	struct unpack_ctx u = {b, 0};
	size_t n = 0;
	int rc = store_trace_add_each(q->st, next_row, &u, &n);
	pthread_mutex_lock(&q->mu);
	if (rc == STORE_OK) {
		q->written += n;
	} else {
		/* count what was lost: the rows in the buffer */
		struct store_trace row;
		size_t pos = 0;
		while (smtp_trace_unpack(b->data, b->len, &pos, &row))
			q->lost++;
	}
	pthread_mutex_unlock(&q->mu);
	if (rc != STORE_OK)
		log_warn("event=trace-write-failed result=%s error=\"%s\" (rows lost)",
			 store_result_text(rc), store_errmsg(q->st));
}

static void *writer_main(void *arg)
{
	struct smtp_trace *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->busy && !q->prune_due && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->busy) {
			pthread_mutex_unlock(&q->mu);
			write_rows(q, &q->work);
			buf_reset(&q->work);
			pthread_mutex_lock(&q->mu);
			q->busy = false;
			continue;
		}
		if (q->prune_due) {
			int64_t before = q->prune_before;
			q->prune_due = false;
			pthread_mutex_unlock(&q->mu);
			int64_t n = store_trace_prune(q->st, before);
			if (n < 0)
				log_warn("event=trace-prune-failed result=%s",
					 store_result_text((int)n));
			else if (n > 0)
				log_info("event=trace-pruned rows=%lld", (long long)n);
			pthread_mutex_lock(&q->mu);
			continue;
		}
		break; /* stop, nothing handed over */
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* ---- the loop side ---------------------------------------------------------- */

void smtp_trace_kick(struct smtp_trace *q)
{
	if (!q->started || q->fill.len == 0)
		return;
	pthread_mutex_lock(&q->mu);
	if (!q->busy) {
		struct buf t = q->work;
		q->work = q->fill;
		q->fill = t;
		q->busy = true;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_trace *q = arg;
	smtp_trace_kick(q);
	if (q->dropped != q->dropped_logged) {
		log_warn("event=trace-dropped rows=%llu total=%llu (queue full)",
			 (unsigned long long)(q->dropped - q->dropped_logged),
			 (unsigned long long)q->dropped);
		q->dropped_logged = q->dropped;
	}
	/* the first tick prunes too: a restarted daemon catches up */
	unsigned per = SMTP_TRACE_PRUNE_SECONDS * 1000 / SMTP_TRACE_FLUSH_MS;
	if (q->ticks++ % per == 0) {
		pthread_mutex_lock(&q->mu);
		q->prune_due = true;
		q->prune_before = (int64_t)time(NULL) - SMTP_TRACE_KEEP_SECONDS;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
}

bool smtp_trace_add(struct smtp_trace *q, const struct store_trace *row)
{
	if (!q->started)
		return false;
	if (smtp_trace_pack(&q->fill, row) < 0) {
		smtp_trace_kick(q); /* maybe the writer is free by now */
		if (smtp_trace_pack(&q->fill, row) < 0) {
			q->dropped++;
			return false;
		}
	}
	q->queued++;
	if (q->fill.len >= q->fill.max / 2)
		smtp_trace_kick(q);
	return true;
}

int smtp_trace_start(struct smtp_trace *q, struct event_base *base,
		     const char *db_path, size_t queue_bytes, char *err,
		     size_t errlen)
{
	memset(q, 0, sizeof *q);
	if (queue_bytes == 0)
		queue_bytes = SMTP_TRACE_QUEUE_BYTES;
	if (store_open(db_path, &q->st, err, errlen) != STORE_OK)
		return -1;
	if (buf_init(&q->fill, queue_bytes) < 0 ||
	    buf_init(&q->work, queue_bytes) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->tick = event_new(base, -1, EV_PERSIST, tick_cb, q);
	struct timeval tv = {SMTP_TRACE_FLUSH_MS / 1000,
			     (SMTP_TRACE_FLUSH_MS % 1000) * 1000};
	if (q->tick == NULL || event_add(q->tick, &tv) < 0) {
		snprintf(err, errlen, "timer: out of memory");
		goto fail_sync;
	}
	int e = pthread_create(&q->thread, NULL, writer_main, q);
	if (e != 0) {
		snprintf(err, errlen, "thread: %s", strerror(e));
		goto fail_sync;
	}
	q->started = true;
	return 0;
fail_sync:
	if (q->tick != NULL)
		event_free(q->tick);
	q->tick = NULL;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
fail:
	buf_free(&q->fill);
	buf_free(&q->work);
	store_close(&q->st);
	return -1;
}

void smtp_trace_stop(struct smtp_trace *q)
{
	if (!q->started)
		return;
	event_free(q->tick);
	q->tick = NULL;
	smtp_trace_kick(q);
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	q->started = false;
	/* the thread was busy at the last kick: the rest is ours to write */
	if (q->fill.len > 0)
		write_rows(q, &q->fill);
	if (q->dropped != q->dropped_logged)
		log_warn("event=trace-dropped rows=%llu total=%llu (queue full)",
			 (unsigned long long)(q->dropped - q->dropped_logged),
			 (unsigned long long)q->dropped);
	log_info("event=trace-stopped queued=%llu written=%llu dropped=%llu lost=%llu",
		 (unsigned long long)q->queued, (unsigned long long)q->written,
		 (unsigned long long)q->dropped, (unsigned long long)q->lost);
	buf_free(&q->fill);
	buf_free(&q->work);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	store_close(&q->st);
}
