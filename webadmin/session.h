/*
 * session.h - logged-in browser sessions, CSRF tokens and the login rate
 * limit.
 *
 * Sessions and the CSRF secret outlive a restart of mailroom-webadmin:
 * once session_table_attach() gave the table a store, every session is
 * also a row of web_sessions (store/websession.h: only the id's SHA-256 is
 * stored) and the secret is the setting "webadmin.session_secret". The
 * fixed array below is then a cache in front of the store: a miss (after a
 * restart, or an evicted slot) reads the row into a slot, and a hit still
 * looks the row up once (by primary key) to confirm it exists, because
 * mailroomctl (user passwd, set --disable, del) deletes rows from another
 * process and the old cookie must be refused on the very next request.
 * last_seen reaches the store at most every SESSION_TOUCH_SECONDS (less
 * when the idle limit is short), so a session restored after a restart
 * may end up to that much early, never late. Without a store (unit tests)
 * the table works alone in memory.
 *
 * A session id is 256 bits from RAND_bytes, sent as the mr_sid cookie
 * (Secure; HttpOnly; SameSite=Strict). A session ends after
 * SESSION_IDLE_SECONDS without a request or SESSION_MAX_SECONDS in all.
 * The table has a fixed size; when full the least recently used session
 * goes. The session only names the account: its role and enabled flag are
 * read from the store on every request, so a change takes effect at once.
 *
 * CSRF tokens are HMAC-SHA256(secret, purpose ":" id) with a secret drawn
 * at startup: one per session ("csrf") and, before login, one per mr_pre
 * cookie ("pre") for the login and setup forms. Nothing extra is stored.
 *
 * The rate limit keeps failure counts per key ("ip:1.2.3.4",
 * "acct:bob@x"): from the RATE_FREE_FAILURES-th failure on, each further
 * attempt must wait 1, 2, 4 ... seconds (at most RATE_MAX_DELAY), and a
 * request inside the wait is refused without checking the password.
 */
#ifndef MAILROOM_WEB_SESSION_H
#define MAILROOM_WEB_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"

#define SESSION_ID_HEX 64 /* 32 random bytes */
#define SESSIONS_MAX 1024
#define SESSION_IDLE_SECONDS (30 * 60)
#define SESSION_MAX_SECONDS (12 * 3600)
#define SESSION_TOUCH_SECONDS 60
#define SESSION_PRUNE_SECONDS 600
#define SESSION_SECRET_KEY "webadmin.session_secret"
#define CSRF_HEX 64

#define RATE_KEYS_MAX 4096
#define RATE_FREE_FAILURES 3
#define RATE_MAX_DELAY 900
#define RATE_FORGET_SECONDS 3600

struct session {
	char id[SESSION_ID_HEX + 1]; /* "" = free slot */
	char address[ADDR_MAX + 1];
	int64_t created;
	int64_t last_seen;
	int64_t stored_seen; /* last_seen as the store has it */
	char flash[200]; /* one message for the next page ("Account added") */
	bool flash_is_error;
};

struct store;

struct session_table {
	struct session s[SESSIONS_MAX];
	unsigned char secret[32];
	int idle_seconds; /* SESSION_IDLE_SECONDS; tests may lower it */
	struct store *store; /* NULL: memory only (not owned) */
	int64_t pruned_at;   /* last prune of expired rows */
};

/* Draw the secret. 0, or -1 when the RNG fails. */
int session_table_init(struct session_table *t)
	__attribute__((warn_unused_result));
/* Keep sessions in st from now on: take the stored secret (or store the
 * one drawn at init when there is none yet, or a bad one) and delete
 * expired rows. 0, or -1 with err set when the store cannot be read or
 * written (then the caller should not serve: tokens would not survive). */
int session_table_attach(struct session_table *t, struct store *st,
			 int64_t now, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* A new session for address; copies its id into id_r. 0 or -1 (RNG, or
 * the store refused the row). */
int session_create(struct session_table *t, const char *address, int64_t now,
		   char id_r[SESSION_ID_HEX + 1]) __attribute__((warn_unused_result));
/* The live session with this id (touching it), or NULL. With a store it
 * is NULL too when the row is gone (another process ended the session) or
 * cannot be read; looks in the store when the cache does not have it;
 * deletes it there once expired. */
struct session *session_find(struct session_table *t, const char *id,
			     int64_t now);
void session_destroy(struct session_table *t, const char *id);
/* Sessions live now (neither idle past the limit nor older than
 * SESSION_MAX_SECONDS): the metrics' count. With a store, every stored
 * session counts, not only this process's cache (a restart empties it). */
int session_count_live(const struct session_table *t, int64_t now);
/* End every session of an account (deleted, disabled, new password). */
void session_destroy_address(struct session_table *t, const char *address,
			     const char *keep_id);
/* HMAC token for purpose:id into dst (CSRF_HEX + 1). */
void session_token(const struct session_table *t, const char *purpose,
		   const char *id, char dst[CSRF_HEX + 1]);
/* Constant-time check of a submitted token (NULL is false). */
bool session_token_ok(const struct session_table *t, const char *purpose,
		      const char *id, const char *submitted);
/* 64 hex chars of fresh randomness. 0 or -1. */
int session_random_hex(char dst[SESSION_ID_HEX + 1])
	__attribute__((warn_unused_result));

struct rate_entry {
	char key[ADDR_MAX + 8]; /* "" = free */
	int failures;
	int64_t until; /* no attempt before this */
	int64_t last;  /* last failure */
};

struct ratelimit {
	struct rate_entry e[RATE_KEYS_MAX];
};

/* Seconds the key must still wait before another attempt (0: go). */
int64_t ratelimit_wait(const struct ratelimit *rl, const char *key,
		       int64_t now);
void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now);
void ratelimit_clear(struct ratelimit *rl, const char *key);

#endif
