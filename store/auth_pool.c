/*
 * auth_pool.c - worker threads for password checks (see auth_pool.h).
 *
 * One mutex guards the two lists (waiting, done); the workers sleep on a
 * condition variable. Only the event loop thread reads or writes
 * job->owner, so cancelling needs no lock.
 */
#include "auth_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/loop_wake.h"

#define AUTH_THREADS_MAX 8

struct auth_job {
	struct auth_job *next;
	void *owner; /* NULL: cancelled */
	char user[ADDR_MAX + 1];
	char password[PASSWORD_MAX + 1];
	int rc;
	struct store_account acct;
};

struct auth_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct auth_job *waiting, **waiting_tail;
	struct auth_job *done;
	bool stop;
	struct loop_wake wake; /* the done list is not empty */
	auth_done_fn done_fn;
	int n_threads;
	pthread_t threads[AUTH_THREADS_MAX];
	struct store *stores[AUTH_THREADS_MAX];
	struct worker_arg {
		struct auth_pool *pool;
		struct store *st;
	} args[AUTH_THREADS_MAX];
};

static void job_free(struct auth_job *j)
{
	explicit_bzero(j, sizeof(*j));
	free(j);
}

static void check(struct store *st, struct auth_job *j)
{
	j->rc = store_account_authenticate(st, j->user, j->password, &j->acct);
	explicit_bzero(j->password, sizeof(j->password));
}

static void *worker(void *arg)
{
	struct worker_arg *w = arg;
	struct auth_pool *p = w->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->waiting == NULL)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct auth_job *j = p->waiting;
		p->waiting = j->next;
		if (p->waiting == NULL)
			p->waiting_tail = &p->waiting;
		pthread_mutex_unlock(&p->mu);
		check(w->st, j);
		pthread_mutex_lock(&p->mu);
		j->next = p->done;
		if (p->done == NULL)
			loop_wake_signal(&p->wake);
		p->done = j;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Event loop side: hand finished checks to their owners. */
static void on_done(void *arg)
{
	struct auth_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	struct auth_job *list = p->done;
	p->done = NULL;
	pthread_mutex_unlock(&p->mu);
	/* The list is newest first; answer oldest first. */
	struct auth_job *rev = NULL;
	while (list != NULL) {
		struct auth_job *next = list->next;
		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL) {
		struct auth_job *next = rev->next;
		if (rev->owner != NULL)
			p->done_fn(rev->owner, rev->rc, &rev->acct);
		job_free(rev);
		rev = next;
	}
}

struct auth_pool *auth_pool_new(struct event_base *base, const char *db_path,
				int threads, auth_done_fn done, char *err,
				size_t errlen)
{
	if (threads < 1)
		threads = 1;
	if (threads > AUTH_THREADS_MAX)
		threads = AUTH_THREADS_MAX;
	struct auth_pool *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->wake.fd = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->waiting_tail = &p->waiting;
	p->done_fn = done;
	if (loop_wake_open(&p->wake, base, on_done, p, err, errlen) < 0) {
		auth_pool_free(&p);
		return NULL;
	}
	for (int i = 0; i < threads; i++) {
		if (store_open(db_path, &p->stores[i], err, errlen) != STORE_OK) {
			auth_pool_free(&p);
			return NULL;
		}
		p->args[i].pool = p;
		p->args[i].st = p->stores[i];
		if (pthread_create(&p->threads[i], NULL, worker, &p->args[i]) != 0) {
			snprintf(err, errlen, "cannot start a thread");
			auth_pool_free(&p);
			return NULL;
		}
		p->n_threads++;
	}
	return p;
}

int auth_pool_default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 1 ? 1 : cpus > 4 ? 4 : (int)cpus;
}

struct auth_job *auth_pool_submit(struct auth_pool *p, void *owner,
				  const char *user, const char *password)
{
	struct auth_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return NULL;
	j->owner = owner;
	snprintf(j->user, sizeof(j->user), "%s", user);
	snprintf(j->password, sizeof(j->password), "%s", password);
	pthread_mutex_lock(&p->mu);
	*p->waiting_tail = j;
	p->waiting_tail = &j->next;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return j;
}

void auth_pool_cancel(struct auth_job *job)
{
	if (job != NULL)
		job->owner = NULL;
}

void auth_pool_free(struct auth_pool **pp)
{
	struct auth_pool *p = *pp;
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	for (int i = 0; i < AUTH_THREADS_MAX; i++)
		store_close(&p->stores[i]);
	struct auth_job *lists[2] = {p->waiting, p->done};
	for (int k = 0; k < 2; k++) {
		while (lists[k] != NULL) {
			struct auth_job *next = lists[k]->next;
			job_free(lists[k]);
			lists[k] = next;
		}
	}
	loop_wake_close(&p->wake);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	*pp = NULL;
}
