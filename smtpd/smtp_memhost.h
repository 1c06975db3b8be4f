/*
 * smtp_memhost.h - an in-memory host for the SMTP protocol core, so unit
 * tests and the whole-session fuzzer drive real sessions without sockets,
 * threads or a database.
 *
 * Its directory is fixed: domain example.test with alice (account 1), bob
 * (2), full (3, at its quota), the alias staff -> alice, bob, and fwd ->
 * friend@remote.test. AUTH accepts alice@example.test / alice-pw and bob /
 * bob-pw. Replies, the spooled message and the last delivered message are
 * kept in capped buffers. With sync set the host answers AUTH and delivery
 * from inside the callback (the re-entrant path); without, the test answers
 * with smtp_session_*_result() itself.
 */
#ifndef MAILROOM_SMTP_MEMHOST_H
#define MAILROOM_SMTP_MEMHOST_H

#include <stdbool.h>

#include "../common/buf.h"
#include "smtp_session.h"

struct smtp_memhost {
	struct smtp_session *sess;
	struct buf out;       /* every reply, in order */
	struct buf spool;     /* the message being received */
	struct buf delivered; /* the last message handed to deliver */
	bool spool_open;
	bool closed;
	bool starttls;        /* STARTTLS requested, handshake not simulated yet */
	bool sync;
	int deliver_result;   /* what sync delivery answers (STORE_OK) */
	bool deliver_pending;
	bool auth_pending;
	int n_delivered;
	char last_sender[ADDR_MAX + 1];
	size_t last_n_local, last_n_remote;
	int relayed; /* remote recipients not from the fwd alias, in all */
	char auth_user[ADDR_MAX + 1];
	char auth_password[PASSWORD_MAX + 1];
};

/* A session on a memory host; cfg NULL: MX port, example hostname,
 * 10 MB limit, 100 recipients, TLS available. 0 or -1. */
int smtp_memhost_init(struct smtp_memhost *h, const struct smtp_session_config *cfg)
	__attribute__((warn_unused_result));
void smtp_memhost_free(struct smtp_memhost *h);
/* Feed all of p (in one call) and keep feeding while the core consumes. */
void smtp_memhost_feed(struct smtp_memhost *h, const char *p, size_t n);
/* Finish a pending STARTTLS as if the handshake succeeded. */
void smtp_memhost_tls_up(struct smtp_memhost *h);

#endif
