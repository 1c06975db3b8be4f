/*
 * backend_mem.c - an in-memory maildrop behind struct pop3_backend, for
 * unit tests and fuzzers: no files, no SQL, deterministic, and every call
 * can be made to fail (the *_rc fields) so error paths get exercised.
 */
#include "pop3_backend.h"

#include <stdlib.h>
#include <string.h>

struct mem_reader {
	struct pop3_mem *m;
	const struct pop3_mem_msg *msg;
	size_t off;
	int calls;
};

void pop3_mem_init(struct pop3_mem *m, const char *user, const char *password)
{
	memset(m, 0, sizeof(*m));
	m->user = user;
	m->password = password;
	m->uidvalidity = 0x5eed;
}

void pop3_mem_add(struct pop3_mem *m, const char *data, size_t len)
{
	if (m->n == POP3_MEM_MSGS)
		return;
	m->msgs[m->n].data = data;
	m->msgs[m->n].len = len;
	m->msgs[m->n].uid = (uint32_t)m->n + 1;
	m->n++;
}

static int mem_authenticate(void *ctx, const char *user, const char *password,
			    struct pop3_account *acct_r)
{
	struct pop3_mem *m = ctx;
	if (m->auth_rc != 0)
		return m->auth_rc;
	if (strcmp(user, m->user) != 0 || strcmp(password, m->password) != 0)
		return STORE_AUTHFAIL;
	memset(acct_r, 0, sizeof(*acct_r));
	acct_r->id = 1;
	acct_r->uidvalidity = m->uidvalidity;
	strncpy(acct_r->address, user, sizeof(acct_r->address) - 1);
	return STORE_OK;
}

static int mem_lock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_mem *m = ctx;
	(void)account_id;
	if (m->lock_rc != 0)
		return m->lock_rc;
	if (m->locked && m->lock_token != token)
		return STORE_LOCKED;
	m->locked = true;
	m->lock_token = token;
	return STORE_OK;
}

static void mem_unlock(void *ctx, int64_t account_id, int64_t token)
{
	struct pop3_mem *m = ctx;
	(void)account_id;
	if (m->locked && m->lock_token == token)
		m->locked = false;
}

static int mem_snapshot(void *ctx, int64_t account_id,
			struct store_mailbox_entry **entries_r, size_t *n_r)
{
	struct pop3_mem *m = ctx;
	(void)account_id;
	if (m->snapshot_rc != 0)
		return m->snapshot_rc;
	struct store_mailbox_entry *v = calloc(m->n + 1, sizeof(*v));
	if (v == NULL)
		return STORE_ERROR;
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (m->msgs[i].gone)
			continue;
		v[k].id = (int64_t)i + 100;
		v[k].uid = m->msgs[i].uid;
		v[k].size = (int64_t)m->msgs[i].len;
		k++;
	}
	*entries_r = v;
	*n_r = k;
	return STORE_OK;
}

static int mem_body_open(void *ctx, int64_t account_id, int64_t entry_id,
			 void **reader_r)
{
	struct pop3_mem *m = ctx;
	(void)account_id;
	if (m->open_rc != 0)
		return m->open_rc;
	int64_t i = entry_id - 100;
	if (i < 0 || (size_t)i >= m->n || m->msgs[i].gone)
		return STORE_NOTFOUND;
	struct mem_reader *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return STORE_ERROR;
	r->m = m;
	r->msg = &m->msgs[i];
	*reader_r = r;
	return STORE_OK;
}

static int mem_body_visit(void *reader, pop3_bytes_fn fn, void *arg,
			  bool *done)
{
	struct mem_reader *r = reader;
	r->calls++;
	*done = false;
	if (r->calls == 1 && r->m->first_visit_rc != 0) {
		int rc = r->m->first_visit_rc;
		r->m->first_visit_rc = 0; /* once */
		return rc;
	}
	if (r->m->read_fail_after > 0 && r->calls > r->m->read_fail_after)
		return STORE_ERROR;
	size_t len = POP3_BODY_CHUNK;
	if (r->m->read_max > 0 && len > r->m->read_max)
		len = r->m->read_max;
	size_t n = r->msg->len - r->off;
	if (n > len)
		n = len;
	if (n > 0 && fn(arg, r->msg->data + r->off, n) < 0)
		return STORE_ERROR;
	r->off += n;
	*done = r->off == r->msg->len;
	return STORE_OK;
}

static void mem_body_close(void *reader)
{
	free(reader);
}

static int mem_remove(void *ctx, int64_t account_id, const int64_t *ids,
		      size_t n)
{
	struct pop3_mem *m = ctx;
	(void)account_id;
	if (m->remove_rc != 0)
		return m->remove_rc;
	for (size_t k = 0; k < n; k++) {
		int64_t i = ids[k] - 100;
		if (i >= 0 && (size_t)i < m->n)
			m->msgs[i].gone = true;
	}
	m->removes++;
	return STORE_OK;
}

void pop3_backend_mem(struct pop3_backend *be, struct pop3_mem *m)
{
	memset(be, 0, sizeof(*be));
	be->ctx = m;
	be->authenticate = mem_authenticate;
	be->lock = mem_lock;
	be->unlock = mem_unlock;
	be->snapshot = mem_snapshot;
	be->body_open = mem_body_open;
	be->body_visit = mem_body_visit;
	be->body_close = mem_body_close;
	be->remove = mem_remove;
}
