/*
 * backend_store.c - the session's backend over libstore.
 *
 * Why bodies are read the way they are: an open sqlite3_blob keeps a read
 * transaction open on its connection, and every statement on that
 * connection then sees that old snapshot. If a slow client's RETR kept a
 * blob open on the daemon's one connection, other sessions would log in to
 * stale mailboxes and could not open bodies delivered since. So a body up
 * to POP3_BODY_INLINE_MAX is read whole when RETR starts and the blob
 * closed in the same call; a bigger one streams through a private
 * connection opened for that RETR alone (its open cost is small next to
 * the transfer), so its snapshot harms nobody.
 */
#include "pop3_backend.h"

#include <stdlib.h>
#include <string.h>

#include "../store/store.h"

struct body {
	struct pop3_store_backend *b;
	struct store *own; /* private connection (large bodies) */
	struct store_body_reader *r;
	char *mem; /* small bodies, read whole */
	size_t len, off;
};

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

static int be_lock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_store_backend *b = ctx;
	return store_maildrop_lock(b->st, account_id, b->pid, token,
				   POP3_LOCK_MAX_AGE_SECONDS);
}

static void be_unlock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_store_backend *b = ctx;
	(void)store_maildrop_unlock(b->st, account_id, b->pid, token);
}

static int be_snapshot(void *ctx, int64_t account_id,
		       struct store_mailbox_entry **entries_r, size_t *n_r)
{
	struct pop3_store_backend *b = ctx;
	return store_mailbox_snapshot(b->st, account_id, entries_r, n_r);
}

static int read_whole(struct store_body_reader *r, struct body *body)
{
	int64_t size = store_body_size(r);
	body->mem = malloc(size > 0 ? (size_t)size : 1);
	if (body->mem == NULL)
		return STORE_ERROR;
	while (body->len < (size_t)size) {
		ssize_t n = store_body_read(r, body->mem + body->len,
					    (size_t)size - body->len);
		if (n < 0)
			return STORE_ERROR;
		if (n == 0)
			break;
		body->len += (size_t)n;
	}
	return STORE_OK;
}

static void body_free(struct body *body)
{
	if (body == NULL)
		return;
	store_body_close(&body->r);
	/* With its blob closed the connection holds no snapshot: keep it. */
	if (body->own != NULL && body->b->n_spare < POP3_SPARE_STORES)
		body->b->spare[body->b->n_spare++] = body->own;
	else
		store_close(&body->own);
	free(body->mem);
	free(body);
}

static int be_body_open(void *ctx, int64_t account_id, int64_t entry_id,
			void **reader_r)
{
	struct pop3_store_backend *b = ctx;
	struct store_body_reader *r = NULL;
	struct body *body = calloc(1, sizeof(*body));
	if (body == NULL)
		return STORE_ERROR;
	body->b = b;
	int rc = store_body_open(b->st, account_id, entry_id, &r);
	if (rc != STORE_OK) {
		free(body);
		return rc;
	}
	if (store_body_size(r) <= POP3_BODY_INLINE_MAX) {
		rc = read_whole(r, body);
		store_body_close(&r);
		if (rc != STORE_OK) {
			body_free(body);
			return rc;
		}
		*reader_r = body;
		return STORE_OK;
	}
	store_body_close(&r);
	char err[256];
	rc = STORE_OK;
	if (b->n_spare > 0)
		body->own = b->spare[--b->n_spare];
	else
		rc = store_open(b->db_path, &body->own, err, sizeof(err));
	if (rc == STORE_OK)
		rc = store_body_open(body->own, account_id, entry_id, &body->r);
	if (rc != STORE_OK) {
		body_free(body);
		return rc;
	}
	*reader_r = body;
	return STORE_OK;
}

static ssize_t be_body_read(void *reader, void *dst, size_t len)
{
	struct body *body = reader;
	if (body->r != NULL)
		return store_body_read(body->r, dst, len);
	size_t n = body->len - body->off;
	if (n > len)
		n = len;
	memcpy(dst, body->mem + body->off, n);
	body->off += n;
	return (ssize_t)n;
}

static void be_body_close(void *reader)
{
	body_free(reader);
}

static int be_remove(void *ctx, int64_t account_id, const int64_t *ids,
		     size_t n)
{
	struct pop3_store_backend *b = ctx;
	return store_mailbox_delete(b->st, account_id, ids, n);
}

void pop3_backend_store_close(struct pop3_store_backend *ctx)
{
	while (ctx->n_spare > 0)
		store_close(&ctx->spare[--ctx->n_spare]);
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
	be->body_read = be_body_read;
	be->body_close = be_body_close;
	be->remove = be_remove;
}
