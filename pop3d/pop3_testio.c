/*
 * pop3_testio.c - the recording I/O for tests and fuzzers (pop3_testio.h).
 */
#include "pop3_testio.h"

#include <stdio.h>
#include <string.h>

static int t_write(void *ctx, const void *p, size_t n)
{
	struct pop3_testio *t = ctx;
	if (t->fail_writes)
		return -1;
	/* Past the cap, drop silently: fuzzers stream big answers. */
	if (buf_append(&t->out, p, n) < 0)
		return 0;
	return 0;
}

static size_t t_pending(void *ctx)
{
	const struct pop3_testio *t = ctx;
	return t->pending;
}

static void t_start_tls(void *ctx)
{
	struct pop3_testio *t = ctx;
	t->start_tls_calls++;
	t->tls_wanted = true;
}

static void t_delay(void *ctx, unsigned ms)
{
	struct pop3_testio *t = ctx;
	t->delay_calls++;
	t->last_delay_ms = ms;
	t->delay_wanted = true;
}

static int t_auth_start(void *ctx, const char *user, const char *password)
{
	struct pop3_testio *t = ctx;
	t->auth_wanted = true;
	snprintf(t->auth_user, sizeof(t->auth_user), "%s", user);
	snprintf(t->auth_password, sizeof(t->auth_password), "%s", password);
	return 0;
}

void pop3_testio_enable_async_auth(struct pop3_testio *t,
				   const struct pop3_backend *be)
{
	t->async_auth = be;
	t->io.auth_start = t_auth_start;
}

static void t_close(void *ctx)
{
	struct pop3_testio *t = ctx;
	t->close_calls++;
}

int pop3_testio_init(struct pop3_testio *t, size_t out_max)
{
	memset(t, 0, sizeof(*t));
	t->io.ctx = t;
	t->io.write = t_write;
	t->io.pending = t_pending;
	t->io.start_tls = t_start_tls;
	t->io.delay = t_delay;
	t->io.close = t_close;
	return buf_init(&t->out, out_max);
}

void pop3_testio_free(struct pop3_testio *t)
{
	buf_free(&t->out);
}

/* Complete whatever the session waits for; false if it cannot move. */
static bool unblock(struct pop3_testio *t, struct pop3_session *s)
{
	if (t->close_calls > 0)
		return false;
	if (t->auth_wanted) {
		struct pop3_account acct;
		memset(&acct, 0, sizeof(acct));
		t->auth_wanted = false;
		int rc = t->async_auth->authenticate(t->async_auth->ctx,
						     t->auth_user,
						     t->auth_password, &acct);
		memset(t->auth_password, 0, sizeof(t->auth_password));
		pop3_session_auth_done(s, rc, &acct);
		return true;
	}
	if (t->delay_wanted) {
		t->delay_wanted = false;
		pop3_session_resume(s);
		return true;
	}
	if (t->tls_wanted) {
		t->tls_wanted = false;
		pop3_session_tls_started(s);
		return true;
	}
	if (pop3_session_busy(s) && t->pending < POP3_OUTPUT_HIGH) {
		pop3_session_pump(s);
		return true;
	}
	return false;
}

size_t pop3_testio_run(struct pop3_testio *t, struct pop3_session *s,
		       const char *data, size_t len, size_t piece)
{
	size_t off = 0;  /* data[0..off) was offered */
	size_t used = 0; /* data[0..used) was taken */
	if (piece == 0)
		piece = len;
	while (t->close_calls == 0) {
		if (used == off) {
			if (off == len)
				break;
			off += len - off < piece ? len - off : piece;
		}
		if (pop3_session_busy(s)) {
			if (!unblock(t, s))
				break;
			continue;
		}
		used += pop3_session_feed(s, data + used, off - used);
	}
	while (t->close_calls == 0 && pop3_session_busy(s) && unblock(t, s))
		;
	return len - used;
}
