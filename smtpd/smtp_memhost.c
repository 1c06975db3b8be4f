/*
 * smtp_memhost.c - the in-memory host (see smtp_memhost.h). Test support
 * that lives in the library so the unit tests and the fuzzer share it.
 */
#include "smtp_memhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMHOST_OUT_MAX (4 * 1024 * 1024)
#define MEMHOST_SPOOL_MAX (64 * 1024 * 1024)

static void mh_write(void *ctx, const char *p, size_t n)
{
	struct smtp_memhost *h = ctx;
	if (buf_append(&h->out, p, n) < 0)
		buf_reset(&h->out); /* keep going; tests look at the tail */
}

static void mh_close(void *ctx)
{
	struct smtp_memhost *h = ctx;
	h->closed = true;
}

static void mh_starttls(void *ctx)
{
	struct smtp_memhost *h = ctx;
	h->starttls = true;
}

static int put_ids(struct store_expansion *out, const int64_t *ids, size_t n)
{
	out->local_ids = calloc(n, sizeof(int64_t));
	if (out->local_ids == NULL)
		return STORE_ERROR;
	memcpy(out->local_ids, ids, n * sizeof(int64_t));
	out->n_local = n;
	return STORE_OK;
}

static int mh_expand(void *ctx, const char *address, int64_t size,
		     struct store_expansion *out)
{
	(void)ctx;
	(void)size;
	memset(out, 0, sizeof(*out));
	const char *at = strrchr(address, '@');
	if (at == NULL || strcmp(at + 1, "example.test") != 0)
		return STORE_INVALID;
	size_t l = (size_t)(at - address);
	static const int64_t alice[] = {1}, bob[] = {2}, full[] = {3},
			     staff[] = {1, 2};
	if (l == 5 && memcmp(address, "alice", 5) == 0)
		return put_ids(out, alice, 1);
	if ((l == 3 && memcmp(address, "bob", 3) == 0) ||
	    (l == 10 && memcmp(address, "postmaster", 10) == 0))
		return put_ids(out, bob, 1);
	if (l == 4 && memcmp(address, "full", 4) == 0) {
		out->over_quota = true;
		return put_ids(out, full, 1);
	}
	if (l == 5 && memcmp(address, "staff", 5) == 0)
		return put_ids(out, staff, 2);
	if (l == 3 && memcmp(address, "fwd", 3) == 0) {
		out->remote = calloc(1, sizeof(char *));
		if (out->remote == NULL)
			return STORE_ERROR;
		out->remote[0] = strdup("friend@remote.test");
		if (out->remote[0] == NULL) {
			free(out->remote);
			out->remote = NULL;
			return STORE_ERROR;
		}
		out->n_remote = 1;
		return STORE_OK;
	}
	return STORE_NOTFOUND;
}

static void mh_auth(void *ctx, const char *user, const char *password)
{
	struct smtp_memhost *h = ctx;
	snprintf(h->auth_user, sizeof(h->auth_user), "%s", user);
	snprintf(h->auth_password, sizeof(h->auth_password), "%s", password);
	if (!h->sync) {
		h->auth_pending = true;
		return;
	}
	int64_t id = 0;
	if (strcmp(user, "alice@example.test") == 0 && strcmp(password, "alice-pw") == 0)
		id = 1;
	else if (strcmp(user, "bob@example.test") == 0 && strcmp(password, "bob-pw") == 0)
		id = 2;
	explicit_bzero(h->auth_password, sizeof(h->auth_password));
	smtp_session_auth_result(h->sess, id ? STORE_OK : STORE_AUTHFAIL, id, user);
}

static int mh_spool_open(void *ctx)
{
	struct smtp_memhost *h = ctx;
	buf_reset(&h->spool);
	h->spool_open = true;
	return 0;
}

static int mh_spool_write(void *ctx, const char *p, size_t n)
{
	struct smtp_memhost *h = ctx;
	return buf_append(&h->spool, p, n);
}

static void mh_spool_discard(void *ctx)
{
	struct smtp_memhost *h = ctx;
	buf_reset(&h->spool);
	h->spool_open = false;
}

static void mh_deliver(void *ctx, const struct smtp_envelope *env)
{
	struct smtp_memhost *h = ctx;
	buf_reset(&h->delivered);
	if (buf_append(&h->delivered, h->spool.data, h->spool.len) < 0)
		buf_reset(&h->delivered);
	buf_reset(&h->spool);
	h->spool_open = false;
	snprintf(h->last_sender, sizeof(h->last_sender), "%s", env->sender);
	h->last_n_local = env->n_local;
	h->last_n_remote = env->n_remote;
	for (size_t i = 0; i < env->n_remote; i++)
		if (strcmp(env->remote[i], "friend@remote.test") != 0)
			h->relayed++;
	h->n_delivered++;
	if (h->sync)
		smtp_session_deliver_result(h->sess, h->deliver_result);
	else
		h->deliver_pending = true;
}

static const struct smtp_host memhost_ops = {
	.write = mh_write,
	.close = mh_close,
	.starttls = mh_starttls,
	.expand = mh_expand,
	.auth = mh_auth,
	.spool_open = mh_spool_open,
	.spool_write = mh_spool_write,
	.spool_discard = mh_spool_discard,
	.deliver = mh_deliver,
};

int smtp_memhost_init(struct smtp_memhost *h, const struct smtp_session_config *cfg)
{
	static const struct smtp_session_config def = {
		.hostname = "mail.example.test",
		.size_limit = 10 * 1024 * 1024,
		.max_recipients = 100,
		.kind = SMTP_PORT_MX,
		.tls_available = true,
	};
	memset(h, 0, sizeof(*h));
	h->sync = true;
	h->deliver_result = STORE_OK;
	if (buf_init(&h->out, MEMHOST_OUT_MAX) < 0 ||
	    buf_init(&h->spool, MEMHOST_SPOOL_MAX) < 0 ||
	    buf_init(&h->delivered, MEMHOST_SPOOL_MAX) < 0)
		return -1;
	h->sess = smtp_session_new(cfg ? cfg : &def, &memhost_ops, h,
				   "test0001", "192.0.2.1");
	return 0;
}

void smtp_memhost_free(struct smtp_memhost *h)
{
	smtp_session_free(&h->sess);
	buf_free(&h->out);
	buf_free(&h->spool);
	buf_free(&h->delivered);
}

void smtp_memhost_feed(struct smtp_memhost *h, const char *p, size_t n)
{
	while (n > 0 && !h->closed) {
		size_t used = smtp_session_feed(h->sess, p, n);
		if (used == 0)
			break; /* paused */
		p += used;
		n -= used;
		if (h->starttls)
			break; /* the host drops the rest */
	}
}

void smtp_memhost_tls_up(struct smtp_memhost *h)
{
	if (!h->starttls)
		return;
	h->starttls = false;
	smtp_session_tls_started(h->sess, "TLSv1.3 TLS_AES_128_GCM_SHA256");
}
