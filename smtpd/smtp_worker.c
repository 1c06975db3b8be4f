/*
 * smtp_worker.c - the writer thread (see smtp_worker.h).
 *
 * Durability: store_deliver() returns only after the transaction is
 * committed with synchronous=FULL, and a job reaches the done list only
 * after that, so no 250 can precede the fsync. When a batch fails as a
 * whole with a permanent error, each message is retried alone so one bad
 * message (e.g. a quota race) does not fail its neighbours; temporary
 * errors (BUSY, FULL) fail the batch and every client gets 451 and retries.
 */
#include "smtp_worker.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/loop_wake.h"
#include "smtp_limits.h"

void smtp_job_free(struct smtp_job *job)
{
	if (job == NULL)
		return;
	if (job->msg.fd >= 0)
		close(job->msg.fd);
	free(job);
}

/*
 * Rules first (rules_deliver_prepare: one header parse per message, each
 * local account's rules), then one store_deliver for everything the batch
 * turned into. A message every local recipient's rules refused is not
 * stored; its job carries the text for the 550. If the rules cannot run
 * (a store error), the message is delivered as it came: rules never lose
 * mail.
 */
static void deliver_batch(struct smtp_worker *w, struct smtp_job **jobs,
			  size_t n, struct store_message *msgs)
{
	(void)msgs;
	struct rules_outcome *outs = calloc(n, sizeof(*outs));
	size_t *first = calloc(n, sizeof(*first));
	if (outs == NULL || first == NULL) {
		log_error("event=out-of-memory");
		abort();
	}
	int rr = rules_env_begin(w->rules, time(NULL));
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_message *m = &jobs[i]->msg;
		jobs[i]->reject[0] = '\0';
		int pr = rr == STORE_OK ? rules_deliver_prepare(w->rules, m, &outs[i]) : rr;
		if (pr != STORE_OK) {
			log_warn("event=rules-failed result=%s (%s); delivering as is",
				 store_result_text(pr), store_errmsg(w->st));
			rules_outcome_free(&outs[i]);
			outs[i].msgs[0] = *m;
			outs[i].n = 1;
		} else if (outs[i].reject_text && outs[i].n_rejected == m->n_local &&
			   m->n_remote == 0) {
			snprintf(jobs[i]->reject, sizeof(jobs[i]->reject), "%s",
				 outs[i].reject_text);
			outs[i].n = 0;
		}
		first[i] = total;
		total += outs[i].n;
	}
	struct store_message *all = calloc(total ? total : 1, sizeof(*all));
	if (all == NULL) {
		log_error("event=out-of-memory");
		abort();
	}
	for (size_t i = 0; i < n; i++)
		memcpy(all + first[i], outs[i].msgs, outs[i].n * sizeof(*all));
	int r = total ? store_deliver(w->st, all, total) : STORE_OK;
	if (r != STORE_OK && n > 1 && !store_result_is_temporary(r)) {
		log_warn("event=batch-failed n=%zu result=%s (%s); retrying one by one",
			 n, store_result_text(r), store_errmsg(w->st));
		for (size_t i = 0; i < n; i++)
			jobs[i]->result = outs[i].n ? store_deliver(w->st, all + first[i],
								 outs[i].n)
						    : STORE_OK;
	} else {
		if (r != STORE_OK)
			log_error("event=commit-failed n=%zu result=%s (%s)", n,
				  store_result_text(r), store_errmsg(w->st));
		for (size_t i = 0; i < n; i++)
			jobs[i]->result = r;
	}
	for (size_t i = 0; i < n; i++)
		rules_outcome_free(&outs[i]);
	free(all);
	free(first);
	free(outs);
}

static void *worker_main(void *arg)
{
	struct smtp_worker *w = arg;
	struct smtp_job **jobs = calloc(SMTP_COMMIT_BATCH_MAX, sizeof(*jobs));
	struct store_message *msgs = calloc(SMTP_COMMIT_BATCH_MAX, sizeof(*msgs));
	if (jobs == NULL || msgs == NULL) {
		log_error("event=out-of-memory");
		abort();
	}
	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (w->pending == NULL && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->pending == NULL && w->stop) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		if (w->hostname_changed) {
			rules_env_set_hostname(w->rules, w->hostname_next);
			w->hostname_changed = false;
		}
		size_t n = 0;
		while (w->pending != NULL && n < SMTP_COMMIT_BATCH_MAX) {
			jobs[n++] = w->pending;
			w->pending = w->pending->next;
		}
		if (w->pending == NULL)
			w->pending_tail = &w->pending;
		pthread_mutex_unlock(&w->mu);

		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		deliver_batch(w, jobs, n, msgs);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		log_debug("event=commit messages=%zu ms=%.2f", n,
			  (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
				  (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

		pthread_mutex_lock(&w->mu);
		bool was_empty = w->done == NULL;
		for (size_t i = 0; i < n; i++) {
			jobs[i]->next = NULL;
			*w->done_tail = jobs[i];
			w->done_tail = &jobs[i]->next;
		}
		pthread_mutex_unlock(&w->mu);
		if (was_empty)
			loop_wake_signal(&w->wake);
	}
	free(jobs);
	free(msgs);
	return NULL;
}

/* Loop thread: hand finished jobs to their sessions. */
static void done_cb(void *arg)
{
	struct smtp_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	struct smtp_job *list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->mu);
	if (list != NULL)
		w->batches++;
	while (list != NULL) {
		struct smtp_job *next = list->next;
		w->in_flight--;
		w->jobs++;
		w->on_done(w->arg, list);
		list = next;
	}
}

int smtp_worker_start(struct smtp_worker *w, struct event_base *base,
		      const char *db_path, smtp_worker_done_fn on_done, void *arg,
		      const char *hostname, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->on_done = on_done;
	w->arg = arg;
	w->pending_tail = &w->pending;
	w->done_tail = &w->done;
	if (store_open(db_path, &w->st, err, errlen) != STORE_OK)
		return -1;
	if ((w->rules = rules_env_new(w->st, hostname)) == NULL) {
		snprintf(err, errlen, "out of memory");
		store_close(&w->st);
		return -1;
	}
	if (loop_wake_open(&w->wake, base, done_cb, w, err, errlen) < 0) {
		rules_env_free(&w->rules);
		store_close(&w->st);
		return -1;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
		snprintf(err, errlen, "cannot start a thread");
		loop_wake_close(&w->wake);
		rules_env_free(&w->rules);
		store_close(&w->st);
		return -1;
	}
	w->started = true;
	return 0;
}

void smtp_worker_submit(struct smtp_worker *w, struct smtp_job *job)
{
	job->next = NULL;
	w->in_flight++;
	pthread_mutex_lock(&w->mu);
	*w->pending_tail = job;
	w->pending_tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void smtp_worker_set_hostname(struct smtp_worker *w, const char *hostname)
{
	pthread_mutex_lock(&w->mu);
	snprintf(w->hostname_next, sizeof(w->hostname_next), "%s", hostname);
	w->hostname_changed = true;
	pthread_mutex_unlock(&w->mu);
}

void smtp_worker_stop(struct smtp_worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	done_cb(w); /* jobs finished during the join */
	loop_wake_close(&w->wake);
	rules_env_free(&w->rules);
	store_close(&w->st);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->started = false;
}
