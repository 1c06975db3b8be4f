/*
 * smtp_ckpt.c - the WAL checkpoint thread (see smtp_ckpt.h).
 */
#include "smtp_ckpt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* After a commit, on the committing thread. */
static void on_commit(void *arg, int wal_pages)
{
	struct smtp_ckpt_watch *w = arg;
	struct smtp_ckpt *c = w->ckpt;
	if (wal_pages >= SMTP_CKPT_HARD_PAGES) {
		/* The thread is behind: do what SQLite would have done. */
		int log = 0, done = 0;
		int r = store_wal_checkpoint(w->st, &log, &done);
		log_debug("event=checkpoint where=inline result=%s pages=%d done=%d",
			  store_result_text(r), log, done);
		return;
	}
	if (wal_pages < SMTP_CKPT_PAGES)
		return;
	pthread_mutex_lock(&c->mu);
	if (!c->wanted) {
		c->wanted = true;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
}

static void *ckpt_main(void *arg)
{
	struct smtp_ckpt *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wanted && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wanted = false;
		pthread_mutex_unlock(&c->mu);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int log = 0, done = 0;
		int r = store_wal_checkpoint(c->st, &log, &done);
		if (r != STORE_OK && r != STORE_BUSY)
			log_warn("event=checkpoint-failed result=%s (%s)",
				 store_result_text(r), store_errmsg(c->st));
		log_debug("event=checkpoint pages=%d done=%d ms=%.2f", log, done,
			  ms_since(&t0));
		pthread_mutex_lock(&c->mu);
		c->runs++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int smtp_ckpt_start(struct smtp_ckpt *c, const char *db_path, char *err,
		    size_t errlen)
{
	memset(c, 0, sizeof(*c));
	if (store_open(db_path, &c->st, err, errlen) != STORE_OK)
		return -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		store_close(&c->st);
		return -1;
	}
	c->started = true;
	return 0;
}

void smtp_ckpt_watch(struct smtp_ckpt *c, struct smtp_ckpt_watch *w,
		     struct store *st)
{
	if (!c->started || st == NULL)
		return; /* SQLite's own auto-checkpoint stays on */
	w->ckpt = c;
	w->st = st;
	w->watch.fn = on_commit;
	w->watch.arg = w;
	(void)store_wal_watch(st, &w->watch);
}

void smtp_ckpt_stop(struct smtp_ckpt *c)
{
	if (!c->started)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	store_close(&c->st);
	c->started = false;
}
