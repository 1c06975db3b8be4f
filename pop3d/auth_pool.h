/*
 * auth_pool.h - password checks on worker threads, so a yescrypt hash
 * (tens of milliseconds and 16 MB by design) never stalls the event loop
 * that serves every other session.
 *
 * Each worker has its own store connection. Finished checks are handed
 * back to the event loop thread through an eventfd; the done callback
 * always runs on that thread. A job whose connection went away meanwhile
 * is cancelled: its result is dropped (and its password wiped) unseen.
 */
#ifndef MAILROOM_POP3_AUTH_POOL_H
#define MAILROOM_POP3_AUTH_POOL_H

#include <stddef.h>

#include "pop3_session.h"

struct event_base;
struct auth_pool;
struct auth_job;

typedef void (*auth_done_fn)(void *owner, int rc,
			     const struct pop3_account *acct);

/* NULL with the reason in err. threads >= 1. */
struct auth_pool *auth_pool_new(struct event_base *base, const char *db_path,
				int threads, auth_done_fn done, char *err,
				size_t errlen);
/* Queue a check for owner; NULL on out of memory. Copies (and later
 * wipes) user and password. */
struct auth_job *auth_pool_submit(struct auth_pool *p, void *owner,
				  const char *user, const char *password);
/* owner is going away: never call done for this job. Event loop thread. */
void auth_pool_cancel(struct auth_job *job);
/* Stops and joins the workers; queued jobs are dropped. Frees and NULLs. */
void auth_pool_free(struct auth_pool **pp);

#endif
