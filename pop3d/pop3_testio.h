/*
 * pop3_testio.h - a struct pop3_io that records instead of doing I/O, and
 * a driver loop over it, for unit tests and fuzzers: output collects in a
 * capped buffer, a delay resumes at once, STLS "succeeds" at once, and
 * input can be fed whole or in pieces of any size (byte by byte).
 */
#ifndef MAILROOM_POP3_TESTIO_H
#define MAILROOM_POP3_TESTIO_H

#include <stdbool.h>
#include <stddef.h>

#include "../common/buf.h"
#include "pop3_session.h"

struct pop3_testio {
	struct pop3_io io; /* io.ctx points back here */
	struct buf out;    /* everything the session wrote */
	size_t pending;    /* what io->pending() reports */
	bool fail_writes;
	int start_tls_calls, delay_calls, close_calls;
	unsigned last_delay_ms;
	bool tls_wanted; /* start_tls called, not yet completed */
	/* Non-NULL: offer io->auth_start and answer it from this backend
	 * on the next turn (the driver's auth pool, without threads). */
	const struct pop3_backend *async_auth;
	bool auth_wanted;
	char auth_user[ADDR_MAX + 1];
	char auth_password[PASSWORD_MAX + 1];
	bool delay_wanted;
};

/* 0 or -1. out_max caps the recorded output. */
/* Call after setting t->async_auth (before pop3_session_new). */
void pop3_testio_enable_async_auth(struct pop3_testio *t,
				   const struct pop3_backend *be);
int pop3_testio_init(struct pop3_testio *t, size_t out_max)
	__attribute__((warn_unused_result));
void pop3_testio_free(struct pop3_testio *t);
/*
 * Feed data[0..len) to s in pieces of at most piece bytes (0: whole),
 * completing delays, STLS and streaming answers as a real driver would,
 * until everything is consumed or the session closes. Returns the bytes
 * the session never took (after close).
 */
size_t pop3_testio_run(struct pop3_testio *t, struct pop3_session *s,
		       const char *data, size_t len, size_t piece);

#endif
