/*
 * smtp_session_int.h - private parts of the protocol core shared by
 * smtp_session.c (states, input, replies, transaction) and smtp_cmd.c (the
 * command table and its handlers). Nothing outside the core includes it.
 */
#ifndef MAILROOM_SMTP_SESSION_INT_H
#define MAILROOM_SMTP_SESSION_INT_H

#include "../common/buf.h"
#include "smtp_data.h"
#include "smtp_limits.h"
#include "smtp_session.h"

/* Session states; the command table allows commands per state (bitmask). */
enum smtp_state {
	SMTP_S_GREETING = 0, /* connected, 220 not sent yet */
	SMTP_S_HELO,         /* waiting for EHLO/HELO */
	SMTP_S_READY,        /* may start a transaction */
	SMTP_S_MAIL,         /* MAIL accepted, no recipient yet */
	SMTP_S_RCPT,         /* at least one recipient accepted */
	SMTP_S_DATA,         /* reading the message */
	SMTP_S_DELIVER,      /* message handed to the store, waiting */
	SMTP_S_AUTH,         /* reading an AUTH continuation line */
	SMTP_S_AUTH_WAIT,    /* credentials handed to the host, waiting */
	SMTP_S_TLS,          /* STARTTLS accepted, handshake pending */
	SMTP_S_CLOSED,       /* reply 221/421 sent; input is ignored */
	SMTP_S_BDAT,         /* BDAT chunks received, more to come */
};
#define SMTP_STATE_BIT(st) (1u << (st))
#define SMTP_LINE_STATES                                                     \
	(SMTP_STATE_BIT(SMTP_S_HELO) | SMTP_STATE_BIT(SMTP_S_READY) |        \
	 SMTP_STATE_BIT(SMTP_S_MAIL) | SMTP_STATE_BIT(SMTP_S_RCPT) |         \
	 SMTP_STATE_BIT(SMTP_S_BDAT))

/* Addresses one transaction may expand to, all recipients together. */
#define SMTP_EXPANDED_MAX 10000

/* The SMTP transaction (MAIL .. end of DATA) with its own reset. */
struct smtp_txn {
	bool active;
	char sender[ADDR_MAX + 1]; /* "" for <> */
	int64_t declared_size;     /* SIZE=, 0 when not given */
	bool smtputf8;
	bool body_8bit;
	int64_t *local_ids;
	size_t n_local, cap_local;
	char **remote;
	size_t n_remote, cap_remote;
	size_t n_rcpts;
	/* The first accepted RCPT address: the Received field's "for" clause
	 * names it when it is the only one (never several: that would show
	 * the Bcc recipients to everyone). */
	char first_rcpt[ADDR_MAX + 1];
	struct smtp_data data;
	bool spooled; /* spool_open succeeded, not yet handed off */
	char msgid[48];
	struct smtp_envelope env;
	bool trust_feed;     /* message bytes go to host->message_write */
	char trust_log[512]; /* for the delivery log line */
};

enum smtp_auth_step { SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN_USER, SMTP_AUTH_LOGIN_PASS };

struct smtp_session {
	struct smtp_session_config cfg;
	const struct smtp_host *host;
	void *ctx;
	char id[24];
	char ip[64];
	enum smtp_state state;
	bool tls;
	char tls_desc[128];
	bool esmtp;
	char helo[SMTP_HELO_MAX + 1];
	bool authed;
	int64_t account_id;
	char user[ADDR_MAX + 1];
	enum smtp_auth_step auth_step;
	char auth_user[ADDR_MAX + 1]; /* LOGIN: the user between two steps */
	int errors;
	int junk;
	int auth_failures;
	unsigned msg_seq;
	bool shutdown_pending;
	/* BDAT (RFC 3030): octets of the current chunk still to read. They are
	 * read whatever the answer to the BDAT command was - discarded when it
	 * was refused - so chunk data is never taken for commands. */
	int64_t chunk_remaining;
	int64_t chunk_size;
	bool chunk_discard;
	bool chunk_last;
	struct linereader lr;
	struct smtp_txn txn;
};

/* smtp_session.c */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A 4xx/5xx reply that counts toward SMTP_ERRORS_MAX (then 421 + close). */
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smtp_set_state(struct smtp_session *s, enum smtp_state st);
void smtp_close(struct smtp_session *s, const char *reply);
void smtp_txn_reset(struct smtp_session *s);
/* Add one expansion's recipients; -1 when the caps would be passed. */
int smtp_txn_add(struct smtp_session *s, const struct store_expansion *e,
		 const char *remote_addr);
const char *smtp_state_name(enum smtp_state st);
/* Start DATA (raw: BDAT): trace headers to the spool; 0 or -1 (reply
 * already sent). */
int smtp_data_start(struct smtp_session *s, bool raw);
/* The current BDAT chunk has been read: answer it (or deliver on LAST). */
void smtp_chunk_finished(struct smtp_session *s);

/* smtp_cmd.c */
/* more: bytes the client sent after this line are already here (RFC 2920:
 * a command that ends a pipeline group must not have any). */
void smtp_cmd_dispatch(struct smtp_session *s, struct slice line, bool more);
void smtp_auth_continue(struct smtp_session *s, struct slice line);

#endif
