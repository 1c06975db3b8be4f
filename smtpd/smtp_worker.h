/*
 * smtp_worker.h - the writer thread that keeps the commit of finished
 * messages out of the event loop (group commit). Password checks go to
 * store/auth_pool.c, shared with pop3d.
 *
 * The writer owns its own store handle (a struct store is never shared
 * between threads). The loop thread submits jobs; the writer takes every
 * job waiting, up to SMTP_COMMIT_BATCH_MAX, and commits them with one
 * store_deliver() call,
 * so one fsync covers the whole batch - then moves them to a done list and
 * wakes the loop through common/loop_wake (an eventfd, written when the
 * list was empty). Back on the loop thread on_done() runs for
 * each job; only then does a session send its 250. A job's owner pointer
 * is touched only by the loop thread.
 */
#ifndef MAILROOM_SMTP_WORKER_H
#define MAILROOM_SMTP_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/limits.h"
#include "../common/loop_wake.h"
#include "../rules/deliver.h"
#include "../store/store.h"

struct event_base;
struct event;

struct smtp_job {
	struct smtp_job *next;
	void *owner;   /* loop thread only */
	int64_t t_end_us;    /* end of DATA seen (monotonic) */
	int64_t t_submit_us; /* handed to the writer */
	int result;    /* STORE_* */
	/* msg.fd is owned by the job from submit on (closed by
	 * smtp_job_free); sender/ids/remote point into the session's
	 * transaction, which stays alive until on_done. */
	struct store_message msg;
	/* set by the writer when the recipients' rules refused the
	 * message (the session answers 550 with it); "" otherwise. */
	char reject[RULES_SHORT_TEXT_MAX + 1];
};

typedef void (*smtp_worker_done_fn)(void *arg, struct smtp_job *job);

struct smtp_worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct smtp_job *pending, **pending_tail;
	struct smtp_job *done, **done_tail;
	size_t in_flight; /* submitted and not yet through on_done */
	bool stop;
	bool started;
	struct store *st;
	struct rules_env *rules; /* rules at delivery */
	/* a hostname for the rules from the loop (SIGHUP), under mu */
	char hostname_next[HOSTNAME_MAX + 1];
	bool hostname_changed;
	struct loop_wake wake; /* the done list is not empty */
	smtp_worker_done_fn on_done;
	void *arg;
	/* statistics, loop thread: */
	uint64_t batches, jobs;
};

int smtp_worker_start(struct smtp_worker *w, struct event_base *base,
		      const char *db_path, smtp_worker_done_fn on_done, void *arg,
		      const char *hostname, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void smtp_worker_submit(struct smtp_worker *w, struct smtp_job *job);
/* Loop thread: the rules see hostname (our authserv-id, the name in
 * vacation Message-IDs) from the next batch on. */
void smtp_worker_set_hostname(struct smtp_worker *w, const char *hostname);
/* Finish every submitted job (their on_done runs), then join. */
void smtp_worker_stop(struct smtp_worker *w);
void smtp_job_free(struct smtp_job *job);

#endif
