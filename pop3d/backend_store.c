/*
 * backend_store.c - the session's backend over libstore.
 *
 * Bodies are visited in place (store/body_visit.h): each step is one
 * statement whose chunk the session dot-stuffs straight into its output,
 * and the first step also looks the message up, so a RETR of a body up to
 * 64 KiB is one SQLite statement and no buffer of ours. No read
 * transaction is held between steps, so a slow client's RETR pins no
 * snapshot on the daemon's one connection (other sessions keep seeing new
 * mail, and QUIT can delete meanwhile). The cursor is a few integers.
 */
#include "pop3_backend.h"

#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "../store/body_visit.h"
#include "../store/store.h"

static int be_authenticate(void *ctx, const char *user, const char *password,
			   struct pop3_account *acct_r)
{
	struct pop3_store_backend *b = ctx;
	struct store_account a;
	int rc = store_account_authenticate(b->st, user, password, &a);
	if (rc != STORE_OK)
		return rc;
	memset(acct_r, 0, sizeof(*acct_r));
	acct_r->id = a.id;
	acct_r->uidvalidity = a.uidvalidity;
	memcpy(acct_r->address, a.address, sizeof(acct_r->address));
	return STORE_OK;
}

/* Retry unlocks that failed earlier; keep the ones that fail again. */
void pop3_backend_store_retry_unlocks(struct pop3_store_backend *b)
{
	size_t keep = 0;
	for (size_t i = 0; i < b->n_pending; i++) {
		int rc = store_maildrop_unlock(b->st, b->pending[i].account_id,
					       b->pid, b->pending[i].token);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			b->pending[keep++] = b->pending[i];
	}
	b->n_pending = keep;
}

static int be_lock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_store_backend *b = ctx;
	pop3_backend_store_retry_unlocks(b);
	return store_maildrop_lock(b->st, account_id, b->pid, token,
				   POP3_LOCK_MAX_AGE_SECONDS);
}

static void be_unlock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_store_backend *b = ctx;
	int rc = store_maildrop_unlock(b->st, account_id, b->pid, token);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		return;
	log_warn("event=unlock-failed account=%lld rc=%d (retried at the next "
		 "login)", (long long)account_id, rc);
	if (b->n_pending < POP3_PENDING_UNLOCKS) {
		b->pending[b->n_pending].account_id = account_id;
		b->pending[b->n_pending].token = token;
		b->n_pending++;
	}
}

static int be_snapshot(void *ctx, int64_t account_id,
		       struct store_mailbox_entry **entries_r, size_t *n_r)
{
	struct pop3_store_backend *b = ctx;
	return store_mailbox_snapshot(b->st, account_id, entries_r, n_r);
}

struct be_body {
	struct store *st;
	struct store_body_cursor cur;
};

/* No SQL yet: the first visit looks the message up in the same statement
 * that returns its first chunk. */
static int be_body_open(void *ctx, int64_t account_id, int64_t entry_id,
			void **reader_r)
{
	struct pop3_store_backend *b = ctx;
	struct be_body *r = malloc(sizeof(*r));
	if (r == NULL)
		return STORE_ERROR;
	r->st = b->st;
	store_body_cursor_init(&r->cur, account_id, entry_id);
	*reader_r = r;
	return STORE_OK;
}

static int be_body_visit(void *reader, pop3_bytes_fn fn, void *arg,
			 bool *done)
{
	struct be_body *r = reader;
	int rc = store_body_visit(r->st, &r->cur, fn, arg);
	*done = r->cur.done;
	return rc;
}

static void be_body_close(void *reader)
{
	free(reader);
}

static int be_remove(void *ctx, int64_t account_id, const int64_t *ids,
		     size_t n)
{
	struct pop3_store_backend *b = ctx;
	return store_mailbox_delete(b->st, account_id, ids, n);
}

void pop3_backend_store(struct pop3_backend *be, struct pop3_store_backend *ctx)
{
	memset(be, 0, sizeof(*be));
	be->ctx = ctx;
	be->authenticate = be_authenticate;
	be->lock = be_lock;
	be->unlock = be_unlock;
	be->snapshot = be_snapshot;
	be->body_open = be_body_open;
	be->body_visit = be_body_visit;
	be->body_close = be_body_close;
	be->remove = be_remove;
}
