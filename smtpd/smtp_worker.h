/*
 * smtp_worker.h - the two threads that keep slow store work out of the
 * event loop: the writer (group commit of finished messages) and the AUTH
 * checker (password hashing is deliberately slow).
 *
 * Each worker owns its own store handle (a struct store is never shared
 * between threads). The loop thread submits jobs; the worker takes every
 * job waiting - the writer all of them at once, up to
 * SMTP_COMMIT_BATCH_MAX, and commits them with one store_deliver() call,
 * so one fsync covers the whole batch - then moves them to a done list and
 * wakes the loop with event_active() (libevent is set up with
 * evthread_use_pthreads()). Back on the loop thread on_done() runs for
 * each job; only then does a session send its 250. A job's owner pointer
 * is touched only by the loop thread.
 */
#ifndef MAILROOM_SMTP_WORKER_H
#define MAILROOM_SMTP_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/limits.h"
#include "../rules/deliver.h"
#include "../store/store.h"

struct event_base;
struct event;

enum smtp_job_kind { SMTP_JOB_DELIVER, SMTP_JOB_AUTH };

struct smtp_job {
	struct smtp_job *next;
	enum smtp_job_kind kind;
	void *owner;   /* loop thread only */
	int64_t t_end_us;    /* DELIVER: end of DATA seen (monotonic) */
	int64_t t_submit_us; /* DELIVER: handed to the writer */
	int result;    /* STORE_* */
	/* DELIVER: msg.fd is owned by the job from submit on (closed by
	 * smtp_job_free); sender/ids/remote point into the session's
	 * transaction, which stays alive until on_done. */
	struct store_message msg;
	/* DELIVER: set by the writer when the recipients' rules refused the
	 * message (the session answers 550 with it); "" otherwise. */
	char reject[RULES_SHORT_TEXT_MAX + 1];
	/* AUTH */
	int64_t account_id;
	char user[ADDR_MAX + 1];
	char password[PASSWORD_MAX + 1]; /* wiped by the worker after use */
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
	enum smtp_job_kind kind;
	struct store *st;
	struct rules_env *rules; /* writer only: rules at delivery */
	struct event *done_ev;
	smtp_worker_done_fn on_done;
	void *arg;
	/* statistics, loop thread: */
	uint64_t batches, jobs;
};

int smtp_worker_start(struct smtp_worker *w, enum smtp_job_kind kind,
		      struct event_base *base, const char *db_path,
		      smtp_worker_done_fn on_done, void *arg, const char *hostname,
		      char *err, size_t errlen) __attribute__((warn_unused_result));
void smtp_worker_submit(struct smtp_worker *w, struct smtp_job *job);
/* Finish every submitted job (their on_done runs), then join. */
void smtp_worker_stop(struct smtp_worker *w);
void smtp_job_free(struct smtp_job *job);

#endif
