/*
 * pop3_session.h - the POP3 session core (RFC 1939, 2449, 2595, 5034),
 * free of I/O so tests and fuzzers can drive a whole session from bytes.
 *
 * The core is fed the bytes a client sent and answers through a small I/O
 * interface (write, start TLS, delay, close) that the libevent driver
 * (server.c) or a test implements. Everything it needs from the mail store
 * goes through a backend interface (backend_store.c over libstore,
 * backend_mem.c in memory for tests and fuzzers).
 *
 * Flow control: pop3_session_feed() consumes whole lines until the session
 * is busy (streaming a RETR/TOP/LIST/UIDL answer, waiting out a failed-login
 * delay, switching to TLS, closing); bytes it did not consume stay with the
 * caller, which feeds them again once pop3_session_busy() is false. Long
 * answers are produced by pop3_session_pump() only while io->pending() is
 * under POP3_OUTPUT_HIGH, so a session never holds more than about that much
 * unsent output whatever the size of a message or a mailbox.
 *
 * SECURITY: every byte here comes from an unauthenticated network peer.
 * Lines are capped (POP3_COMMAND_LINE_MAX, AUTH_LINE_MAX for SASL
 * responses), passwords never reach a log, and one command table with one
 * gate (commands.c) decides what runs in which state.
 */
#ifndef MAILROOM_POP3_SESSION_H
#define MAILROOM_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/limits.h"
#include "../store/store.h"

/* Unsent output a streaming answer may leave queued before it waits. */
#define POP3_OUTPUT_HIGH (64 * 1024)
/* Mem backend (tests, fuzzers): most bytes one body visit hands over. */
#define POP3_BODY_CHUNK (32 * 1024)
/* Bad commands (unknown, out of state, bad syntax, too long) per session. */
#define POP3_BAD_COMMANDS_MAX 10
/* Failed logins per session before it is closed. */
#define POP3_AUTH_FAILS_MAX 3
/* RFC 1939 3: the autologout timer is at least 10 minutes; the timer
 * itself is [pop3] idle_timeout (cfg.pop3_idle_timeout_ms), and a shorter
 * one is warned about at startup. */
#define POP3_RFC_IDLE_MIN_MS (10 * 60 * 1000)
/* A maildrop lock older than this is stale even if its pid lives (a pid
 * reused by another process after a crash); sessions end long before. */
#define POP3_LOCK_MAX_AGE_SECONDS (6 * 3600)
/* Entries one snapshot may hold (memory: ~40 bytes each). */
#define POP3_MAILDROP_MAX 1000000

enum pop3_state {
	POP3_STATE_AUTHORIZATION = 0,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
	POP3_STATE_CLOSED,
};
const char *pop3_state_name(enum pop3_state st);

struct pop3_account {
	int64_t id;
	uint32_t uidvalidity;
	char address[ADDR_MAX + 1];
};

/* Bytes of a body, valid only during the call; 0 to go on, -1 to stop. */
typedef int (*pop3_bytes_fn)(void *arg, const char *p, size_t n);

/*
 * What the session needs from the mail store. Return values are STORE_*
 * codes (store.h). The reader handle from body_open belongs to the session
 * until it passes it to body_close.
 */
struct pop3_backend {
	void *ctx;
	int (*authenticate)(void *ctx, const char *user, const char *password,
			    struct pop3_account *acct_r);
	int (*lock)(void *ctx, int64_t account_id, int64_t token);
	void (*unlock)(void *ctx, int64_t account_id, int64_t token);
	/* *entries_r is malloc'ed; the session frees it. */
	int (*snapshot)(void *ctx, int64_t account_id,
			struct store_mailbox_entry **entries_r, size_t *n_r);
	int (*body_open)(void *ctx, int64_t account_id, int64_t entry_id,
			 void **reader_r);
	/* Hand the next piece of the body to fn (in place: the session
	 * dot-stuffs it straight into its output, no copy of its own).
	 * STORE_OK, with *done set once the whole body was handed over, or
	 * a STORE_* error. The first visit may be where a missing message
	 * is noticed: the session answers "+OK" only once bytes (or the end)
	 * came back. */
	int (*body_visit)(void *reader, pop3_bytes_fn fn, void *arg,
			  bool *done);
	void (*body_close)(void *reader);
	int (*remove)(void *ctx, int64_t account_id, const int64_t *entry_ids,
		      size_t n);
};

/* What the session needs from its connection. */
struct pop3_io {
	void *ctx;
	/* Queue n bytes for the client (the driver buffers; -1 if it could
	 * not, and the session then closes). */
	int (*write)(void *ctx, const void *p, size_t n);
	/* Bytes queued and not yet handed to the kernel. */
	size_t (*pending)(void *ctx);
	/* The "+OK" to STLS is queued: flush it, drop anything the client
	 * pipelined after STLS, then run the TLS handshake as server. */
	void (*start_tls)(void *ctx);
	/* Optional (NULL: the backend's authenticate runs inline). Start a
	 * password check elsewhere and call pop3_session_auth_done() with
	 * its result later; 0, or -1 when it could not be started. */
	int (*auth_start)(void *ctx, const char *user, const char *password);
	/* Call pop3_session_resume() after ms milliseconds. */
	void (*delay)(void *ctx, unsigned ms);
	/* Flush what is queued, then close the connection and free the
	 * session. Called once. */
	void (*close)(void *ctx);
};

struct pop3_penalty;

struct pop3_session_params {
	const struct pop3_io *io;           /* copied */
	const struct pop3_backend *backend; /* copied */
	struct pop3_penalty *penalty; /* per-IP failed logins; NULL: none */
	const char *peer_ip;          /* numeric, for logs and penalty */
	const char *id;               /* session id for logs */
	bool tls_active;              /* implicit TLS (POP3S) */
	bool tls_offer;               /* STLS may be offered */
	/* Plaintext logins allowed without TLS: the config says so, or the
	 * connection never left this host (see server.c). */
	bool plaintext_ok;
	int64_t lock_token; /* unique per session within the process */
};

struct pop3_session;

/* NULL on out of memory. Nothing is written until pop3_session_start(). */
struct pop3_session *pop3_session_new(const struct pop3_session_params *p);
/* Sends the greeting. */
void pop3_session_start(struct pop3_session *s);
/*
 * Feed client bytes; returns how many were consumed (the rest must be fed
 * again later, once the session is no longer busy). Never consumes past
 * the line that made the session busy. After STLS the rest of data is
 * consumed and discarded (RFC 2595 4: nothing pipelined survives).
 */
size_t pop3_session_feed(struct pop3_session *s, const char *data,
			 size_t len);
/* The session does not take input now (streaming, delayed, closing). */
bool pop3_session_busy(const struct pop3_session *s);
/* A long answer is in progress: pop3_session_pump() continues it. */
bool pop3_session_streaming(const struct pop3_session *s);
/* Output drained below the mark: continue a streaming answer. */
void pop3_session_pump(struct pop3_session *s);
/* The result of io->auth_start(): a STORE_* code and, on STORE_OK, the
 * account. Ignored if the session is no longer waiting for it. */
void pop3_session_auth_done(struct pop3_session *s, int rc,
			    const struct pop3_account *acct);
/* The delay asked for with io->delay() is over. */
void pop3_session_resume(struct pop3_session *s);
/* The connection is now TLS (after io->start_tls and the handshake). */
void pop3_session_tls_started(struct pop3_session *s);
/* The connection is going away without QUIT (drop, timeout, shutdown):
 * nothing is deleted, the maildrop lock is released. Optional text is sent
 * first as "-ERR text" when non-NULL. Safe to call more than once. */
void pop3_session_abort(struct pop3_session *s, const char *why);
enum pop3_state pop3_session_state(const struct pop3_session *s);
/* Frees and NULLs; releases the maildrop lock if still held. */
void pop3_session_free(struct pop3_session **sp);

#endif
