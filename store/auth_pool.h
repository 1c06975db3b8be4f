/*
 * auth_pool.h - password checks on worker threads, for both protocol
 * daemons (smtpd's AUTH, pop3d's USER/PASS and AUTH), so a yescrypt hash
 * (tens of milliseconds and 16 MB by design) never stalls the event loop
 * that serves every other session, and several logins at nine in the
 * morning are checked side by side.
 *
 * Each worker has its own store connection. Finished checks are handed
 * back to the event loop thread through common/loop_wake; the done
 * callback always runs on that thread. A job whose connection went away
 * meanwhile is cancelled: its result is dropped (and its password wiped)
 * unseen.
 */
#ifndef MAILROOM_STORE_AUTH_POOL_H
#define MAILROOM_STORE_AUTH_POOL_H

#include <stddef.h>

#include "store.h"

struct event_base;
struct auth_pool;
struct auth_job;

/* rc: STORE_OK (acct is the account), STORE_AUTHFAIL, or another STORE_*
 * code for a store failure. */
typedef void (*auth_done_fn)(void *owner, int rc,
			     const struct store_account *acct);

/* NULL with the reason in err. threads >= 1. */
struct auth_pool *auth_pool_new(struct event_base *base, const char *db_path,
				int threads, auth_done_fn done, char *err,
				size_t errlen);
/* A pool size for this machine: one thread per CPU, 1 to 4. */
int auth_pool_default_threads(void);
/* Queue a check for owner; NULL on out of memory. Copies (and later
 * wipes) user and password. */
struct auth_job *auth_pool_submit(struct auth_pool *p, void *owner,
				  const char *user, const char *password);
/* owner is going away: never call done for this job. Event loop thread. */
void auth_pool_cancel(struct auth_job *job);
/* Stops and joins the workers; queued jobs are dropped. Frees and NULLs. */
void auth_pool_free(struct auth_pool **pp);

#endif
