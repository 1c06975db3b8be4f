/*
 * writer.c - the queue runner's store writer thread: deletes of delivered
 * (and bounced) rows, with their senders' sending-limit records, are
 * committed here, off the event loop. A commit is an fdatasync (~5 ms on
 * this kind of disk) plus SQLite's secure_delete zeroing every freed body
 * page; on the loop it stalled every connection meanwhile.
 *
 * Group commit: the loop hands over batches (ob_writer_submit copies
 * them); the thread takes everything waiting, commits it in ONE
 * transaction on its own store handle, and tells the loop through an
 * eventfd which batches are done (in order). The runner keeps the rows of
 * a finished job "in flight" until the batches submitted before it ended
 * are committed, so a poll never sees a delivered row as due; a SIGKILL
 * before the commit re-sends those rows (at least once, as before).
 */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../store/sendlimit.h"
#include "outbound_int.h"

struct wbatch {
	struct wbatch *next;
	uint64_t ticket;
	int64_t *ids;
	size_t n_ids;
	struct store_sendlimit_note *notes;
	size_t n_notes;
	char *text; /* the notes' strings, one allocation */
	bool ok;
};

struct ob_writer {
	struct store *st; /* used by the thread only */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct wbatch *todo, **todo_tail; /* guarded by mu */
	struct wbatch *done, **done_tail; /* guarded by mu */
	bool stop;                        /* guarded by mu */
	uint64_t next_ticket;             /* loop thread only */
	int efd;
	struct event *ev;
	ob_writer_done_fn done_fn;
	void *done_arg;
};

static void batch_free(struct wbatch *b)
{
	free(b->ids);
	free(b->notes);
	free(b->text);
	free(b);
}

/* One transaction for every batch taken; all succeed or none. */
static bool commit_all(struct ob_writer *w, struct wbatch *list)
{
	size_t n = 0, nn = 0;
	for (struct wbatch *b = list; b; b = b->next) {
		n += b->n_ids;
		nn += b->n_notes;
	}
	int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
	struct store_sendlimit_note *notes = malloc((nn ? nn : 1) * sizeof *notes);
	int rc = STORE_ERROR;
	if (ids && notes) {
		size_t i = 0, k = 0;
		for (struct wbatch *b = list; b; b = b->next) {
			memcpy(ids + i, b->ids, b->n_ids * sizeof *ids);
			i += b->n_ids;
			/* In order: a later record of the same sender wins. */
			memcpy(notes + k, b->notes, b->n_notes * sizeof *notes);
			k += b->n_notes;
		}
		rc = store_queue_del_many_noted(w->st, ids, n, notes, nn);
		if (rc != STORE_OK)
			log_error("event=store-error op=delete rows=%zu reason=\"%s\"",
				  n, store_errmsg(w->st));
	}
	free(ids);
	free(notes);
	return rc == STORE_OK;
}

static void *run(void *arg)
{
	struct ob_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->todo == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->todo == NULL) /* stop, and nothing left */
			break;
		struct wbatch *list = w->todo;
		w->todo = NULL;
		w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->mu);
		bool ok = commit_all(w, list);
		pthread_mutex_lock(&w->mu);
		while (list) {
			struct wbatch *b = list;
			list = b->next;
			b->next = NULL;
			b->ok = ok;
			*w->done_tail = b;
			w->done_tail = &b->next;
		}
		uint64_t one = 1;
		if (write(w->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_error("event=writer-wakeup-failed reason=\"%s\"",
				  strerror(errno));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Loop thread: report every committed batch, in order. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct ob_writer *w = arg;
	(void)what;
	uint64_t v;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_error("event=writer-read-failed reason=\"%s\"", strerror(errno));
	pthread_mutex_lock(&w->mu);
	struct wbatch *list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	while (list) {
		struct wbatch *b = list;
		list = b->next;
		w->done_fn(w->done_arg, b->ticket, b->ok);
		batch_free(b);
	}
}

struct ob_writer *ob_writer_new(const char *db_path, struct event_base *base,
				ob_writer_done_fn fn, void *arg, char *err,
				size_t errlen)
{
	struct ob_writer *w = calloc(1, sizeof *w);
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->efd = -1;
	w->todo_tail = &w->todo;
	w->done_tail = &w->done;
	w->done_fn = fn;
	w->done_arg = arg;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	char serr[256];
	if (store_open(db_path, &w->st, serr, sizeof serr) != STORE_OK) {
		snprintf(err, errlen, "writer store: %s", serr);
		ob_writer_free(&w);
		return NULL;
	}
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->ev = w->efd >= 0 ? event_new(base, w->efd, EV_READ | EV_PERSIST,
					 on_done, w)
			    : NULL;
	if (w->ev == NULL || event_add(w->ev, NULL) < 0) {
		snprintf(err, errlen, "writer: eventfd/event setup failed");
		ob_writer_free(&w);
		return NULL;
	}
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		snprintf(err, errlen, "writer: cannot start its thread");
		ob_writer_free(&w);
		return NULL;
	}
	w->started = true;
	return w;
}

uint64_t ob_writer_submit(struct ob_writer *w, const int64_t *ids, size_t n,
			  const struct store_sendlimit_note *notes,
			  size_t n_notes)
{
	struct wbatch *b = calloc(1, sizeof *b);
	size_t text_len = 0;
	for (size_t i = 0; i < n_notes; i++)
		text_len += strlen(notes[i].sender) + strlen(notes[i].value) + 2;
	if (b)
		b->ids = malloc((n ? n : 1) * sizeof *b->ids);
	if (b && b->ids)
		b->notes = malloc((n_notes ? n_notes : 1) * sizeof *b->notes);
	if (b && b->notes)
		b->text = malloc(text_len ? text_len : 1);
	if (b == NULL || b->ids == NULL || b->notes == NULL || b->text == NULL) {
		if (b)
			batch_free(b);
		return 0;
	}
	memcpy(b->ids, ids, n * sizeof *ids);
	b->n_ids = n;
	char *t = b->text;
	for (size_t i = 0; i < n_notes; i++) {
		size_t sl = strlen(notes[i].sender) + 1, vl = strlen(notes[i].value) + 1;
		memcpy(t, notes[i].sender, sl);
		b->notes[i].sender = t;
		t += sl;
		memcpy(t, notes[i].value, vl);
		b->notes[i].value = t;
		t += vl;
	}
	b->n_notes = n_notes;
	b->ticket = ++w->next_ticket;
	pthread_mutex_lock(&w->mu);
	*w->todo_tail = b;
	w->todo_tail = &b->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return b->ticket;
}

uint64_t ob_writer_last_ticket(const struct ob_writer *w)
{
	return w->next_ticket;
}

void ob_writer_free(struct ob_writer **wp)
{
	struct ob_writer *w = *wp;
	if (w == NULL)
		return;
	if (w->started) {
		/* Everything handed over is committed before we go. */
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	while (w->done) {
		struct wbatch *b = w->done;
		w->done = b->next;
		batch_free(b);
	}
	while (w->todo) { /* only when the thread never started */
		struct wbatch *b = w->todo;
		w->todo = b->next;
		batch_free(b);
	}
	if (w->ev)
		event_free(w->ev);
	if (w->efd >= 0)
		close(w->efd);
	store_close(&w->st);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	*wp = NULL;
}
