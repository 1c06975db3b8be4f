/*
 * dkim_worker.c - one thread that runs DKIM header checks (dkim.c's
 * dkim_job_run: header hash, RSA / Ed25519) off the caller's event loop,
 * while the loop goes on receiving the message's body.
 *
 * Why: the verification is the largest part of what the inbound checks
 * cost a signed message, and smtpd's loop is one thread serving every
 * session. The shape is smtpd's writer thread's: the loop queues a
 * verifier, the thread runs its job and moves it to a done list; the loop
 * hands it back to dkim.c (dkim_job_done). At the end of the body the
 * loop takes a job back instead of waiting for the hand-back
 * (dkim_worker_take_back): one not started yet it runs itself, one
 * running it waits for. A job's fields are touched by one thread at a
 * time: the loop until it is queued, the worker until it is done.
 *
 * The loop is woken through common/loop_wake (an eventfd), only when the
 * done list goes from empty to not empty: one wake-up per batch.
 */
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/loop_wake.h"
#include "dkim_int.h"

struct trust_dkim_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t ran; /* a job moved from running to done */
	struct trust_dkim *pending, **pending_tail; /* under mu */
	struct trust_dkim *running;                 /* under mu */
	struct trust_dkim *done, **done_tail;       /* under mu */
	bool stop;                                  /* under mu */
	struct dkim_verify_cache *vc; /* the thread's; NULL: none (no memory) */
	struct loop_wake wake; /* the done list is not empty */
	uint64_t jobs; /* loop thread */
};

static void *worker_main(void *arg)
{
	struct trust_dkim_worker *w = arg;
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->pending == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		struct trust_dkim *d = w->pending;
		if (d == NULL) { /* stop, and nothing left */
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		w->pending = *dkim_job_next(d);
		if (w->pending == NULL)
			w->pending_tail = &w->pending;
		w->running = d;
		pthread_mutex_unlock(&w->mu);

		dkim_job_run(d, w->vc);

		pthread_mutex_lock(&w->mu);
		w->running = NULL;
		bool was_empty = w->done == NULL;
		*dkim_job_next(d) = NULL;
		*w->done_tail = d;
		w->done_tail = dkim_job_next(d);
		pthread_cond_broadcast(&w->ran);
		pthread_mutex_unlock(&w->mu);
		if (was_empty)
			loop_wake_signal(&w->wake);
	}
}

/* Loop thread: give finished verifiers back to dkim.c. */
static void done_cb(void *arg)
{
	struct trust_dkim_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	struct trust_dkim *list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	while (list != NULL) {
		struct trust_dkim *next = *dkim_job_next(list);
		w->jobs++;
		dkim_job_done(list); /* may free list */
		list = next;
	}
}

struct trust_dkim_worker *trust_dkim_worker_start(struct event_base *base,
						  char *err, size_t errlen)
{
	struct trust_dkim_worker *w = calloc(1, sizeof *w);
	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->pending_tail = &w->pending;
	w->done_tail = &w->done;
	if (loop_wake_open(&w->wake, base, done_cb, w, err, errlen) < 0) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->ran, NULL);
	w->vc = dkim_verify_cache_new(); /* NULL: contexts made per check */
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		dkim_verify_cache_free(&w->vc);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->ran);
		loop_wake_close(&w->wake);
		free(w);
		return NULL;
	}
	return w;
}

void dkim_worker_submit(struct trust_dkim_worker *w, struct trust_dkim *d)
{
	*dkim_job_next(d) = NULL;
	pthread_mutex_lock(&w->mu);
	*w->pending_tail = d;
	w->pending_tail = dkim_job_next(d);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Unlink d from the queue at *head (tail pointer *tail); false: not in it. */
static bool unlink_job(struct trust_dkim **head, struct trust_dkim ***tail,
		       struct trust_dkim *d)
{
	for (struct trust_dkim **pp = head; *pp != NULL; pp = dkim_job_next(*pp)) {
		if (*pp != d)
			continue;
		*pp = *dkim_job_next(d);
		if (*pp == NULL)
			*tail = pp;
		*dkim_job_next(d) = NULL;
		return true;
	}
	return false;
}

bool dkim_worker_take_back(struct trust_dkim_worker *w, struct trust_dkim *d)
{
	pthread_mutex_lock(&w->mu);
	if (unlink_job(&w->pending, &w->pending_tail, d)) {
		pthread_mutex_unlock(&w->mu);
		return false;
	}
	while (w->running == d)
		pthread_cond_wait(&w->ran, &w->mu);
	bool ran = unlink_job(&w->done, &w->done_tail, d);
	pthread_mutex_unlock(&w->mu);
	if (ran)
		w->jobs++;
	return ran;
}

uint64_t trust_dkim_worker_jobs(const struct trust_dkim_worker *w)
{
	return w ? w->jobs : 0;
}

void trust_dkim_worker_stop(struct trust_dkim_worker **wp)
{
	struct trust_dkim_worker *w = *wp;
	*wp = NULL;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL); /* it empties its queue first */
	done_cb(w);
	loop_wake_close(&w->wake);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ran);
	dkim_verify_cache_free(&w->vc);
	free(w);
}
