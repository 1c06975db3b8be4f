/*
 * smtp_session.h - the SMTP protocol core of one session, without I/O.
 *
 * The core is fed bytes and answers through host callbacks: it writes
 * replies, asks for STARTTLS, expands recipients, opens and writes the
 * spool, and hands finished messages and AUTH credentials to the host,
 * which answers later (smtp_session_deliver_result, smtp_session_auth_result)
 * - from another thread's completion or synchronously from inside the
 * callback. While such an answer is outstanding the session is paused and
 * smtp_session_feed() consumes nothing. The same core runs under libevent
 * (smtp_server.c), in unit tests and in the whole-session fuzzer.
 *
 * SECURITY: network input. Every command goes through one table and one
 * gate (state, TLS, AUTH) before a handler runs; memory per session is a
 * line reader capped at AUTH_LINE_MAX and a transaction capped at
 * max_recipients; message bytes go straight to the spool callback.
 */
#ifndef MAILROOM_SMTP_SESSION_H
#define MAILROOM_SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../store/store.h"

enum smtp_port_kind {
	SMTP_PORT_MX = 0,     /* 25: no AUTH, local recipients only */
	SMTP_PORT_SUBMISSION, /* 587: STARTTLS, then AUTH, then MAIL */
	SMTP_PORT_SMTPS,      /* 465: TLS from the first byte, then AUTH */
};
const char *smtp_port_kind_name(enum smtp_port_kind k);

struct smtp_session_config {
	const char *hostname;  /* ours, in 220/250/Received */
	int64_t size_limit;    /* message_size_limit */
	int max_recipients;
	enum smtp_port_kind kind;
	bool tls_available;    /* a TLS context exists: offer STARTTLS */
};

/* What the host hands the writer for one finished message. */
struct smtp_envelope {
	const char *msgid;    /* session id '.' counter, for logs */
	const char *sender;   /* "" for <> */
	const int64_t *local_ids;
	size_t n_local;
	const char *const *remote;
	size_t n_remote;
	size_t n_rcpts;       /* RCPTs accepted (for the log) */
	int64_t size;         /* octets written to the spool */
};

struct smtp_host {
	void (*write)(void *ctx, const char *p, size_t n);
	/* Close once everything written so far is sent. */
	void (*close)(void *ctx);
	/* 220 is queued: drop all buffered input, start the TLS handshake,
	 * then call smtp_session_tls_started(). */
	void (*starttls)(void *ctx);
	/* store_expand() semantics. */
	int (*expand)(void *ctx, const char *address, int64_t size,
		      struct store_expansion *out);
	/* Check credentials; answer with smtp_session_auth_result(). The
	 * password buffer is wiped by the core after this returns. */
	void (*auth)(void *ctx, const char *user, const char *password);
	/* Spool for one message: open (0/-1), append (0/-1), drop. */
	int (*spool_open)(void *ctx);
	int (*spool_write)(void *ctx, const char *p, size_t n);
	void (*spool_discard)(void *ctx);
	/* Store the spooled message; answer with smtp_session_deliver_result().
	 * env and what it points at stay valid until then. */
	void (*deliver)(void *ctx, const struct smtp_envelope *env);
	/* Optional: the reject text when the rules of rcpt's accounts refuse
	 * this envelope at RCPT already (rules_evaluate_rcpt), else NULL. */
	const char *(*rules_rcpt)(void *ctx, const char *sender,
				  const char *rcpt,
				  const struct store_expansion *e);
	/* Optional inbound trust hooks (smtp_trust.h), all may be NULL.
	 * mail_from: MAIL accepted (SPF starts). rcpt_check: a local
	 * recipient, before its 250: NULL or a full reply (greylisting).
	 * message_begin: DATA/BDAT started, trace headers written; from then
	 * message bytes go to message_write instead of spool_write.
	 * txn_reset: the transaction is gone (cancel what was started). */
	void (*mail_from)(void *ctx, const char *helo, const char *sender,
			  bool authenticated);
	const char *(*rcpt_check)(void *ctx, const char *sender,
				  const char *rcpt, bool authenticated);
	int (*message_begin)(void *ctx, bool authenticated);
	int (*message_write)(void *ctx, const char *p, size_t n);
	void (*txn_reset)(void *ctx);
};

struct smtp_session;

/* Never NULL (aborts on out of memory). id and ip are copied. */
struct smtp_session *smtp_session_new(const struct smtp_session_config *cfg,
				      const struct smtp_host *host, void *ctx,
				      const char *id, const char *ip);
void smtp_session_free(struct smtp_session **sp);

/* Implicit TLS is up (465) or the STARTTLS handshake finished. desc is
 * tls_describe()'s "TLSv1.3 TLS_AES_..." text. */
void smtp_session_tls_started(struct smtp_session *s, const char *desc);
/* Send the 220 greeting; input before it is an early talker (554). */
void smtp_session_greet(struct smtp_session *s);
/* Feed received bytes; returns how many were consumed (see above). */
size_t smtp_session_feed(struct smtp_session *s, const char *p, size_t n);
bool smtp_session_paused(const struct smtp_session *s);
bool smtp_session_closing(const struct smtp_session *s);
bool smtp_session_in_data(const struct smtp_session *s);
/* True between MAIL and the end of the transaction (for shutdown). */
bool smtp_session_in_transaction(const struct smtp_session *s);

/* STORE_OK with the account, else STORE_AUTHFAIL or a temporary error. */
void smtp_session_auth_result(struct smtp_session *s, int result,
			      int64_t account_id, const char *user);
/* The recipients' rules refused the message: 550 with their text. */
void smtp_session_deliver_rejected(struct smtp_session *s, const char *text);
void smtp_session_deliver_result(struct smtp_session *s, int result);
/* The trust verdict refused the message: reply is the whole line
 * ("550 5.7.1 ..."); nothing was stored. */
void smtp_session_deliver_refused(struct smtp_session *s, const char *reply);
/* key=value text appended to the delivery log line (trust results). */
void smtp_session_set_trust_log(struct smtp_session *s, const char *text);
/* Idle too long: 421 4.4.2 and close. */
void smtp_session_timeout(struct smtp_session *s);
/* The daemon is stopping: 421 now if idle, else after the transaction. */
void smtp_session_shutdown(struct smtp_session *s);
/* Send 421 with this text and close (per-IP limit, errors). */
void smtp_session_reject(struct smtp_session *s, const char *reply);

/* Count of AUTH failures in this session (the host grows its delay). */
const char *smtp_session_id(const struct smtp_session *s);
const char *smtp_session_user(const struct smtp_session *s);

#endif
