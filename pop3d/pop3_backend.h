/*
 * pop3_backend.h - the two implementations of struct pop3_backend: the
 * real one over libstore (backend_store.c) and an in-memory maildrop for
 * unit tests and fuzzers (backend_mem.c), which also injects failures.
 */
#ifndef MAILROOM_POP3_BACKEND_H
#define MAILROOM_POP3_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pop3_session.h"

/* Maildrop unlocks that failed (store busy) and are retried later. */
#define POP3_PENDING_UNLOCKS 64

struct pop3_store_backend {
	struct store *st; /* the daemon's connection (not owned) */
	pid_t pid;        /* lock owner */
	/* A lock row left behind by a failed unlock names this live pid,
	 * so nobody could take it over until it ages out: retry instead. */
	struct {
		int64_t account_id, token;
	} pending[POP3_PENDING_UNLOCKS];
	size_t n_pending;
};
/* Fill be to call into ctx (which must outlive every session). */
void pop3_backend_store(struct pop3_backend *be, struct pop3_store_backend *ctx);
/* Retry failed unlocks now (also done before every lock); at shutdown. */
void pop3_backend_store_retry_unlocks(struct pop3_store_backend *ctx);

#define POP3_MEM_MSGS 64
struct pop3_mem_msg {
	const char *data; /* not owned */
	size_t len;
	uint32_t uid;
	bool gone;
};
struct pop3_mem {
	const char *user, *password;
	uint32_t uidvalidity;
	struct pop3_mem_msg msgs[POP3_MEM_MSGS];
	size_t n;
	bool locked;
	int64_t lock_token;
	int auth_rc, lock_rc, snapshot_rc, remove_rc, open_rc; /* inject */
	int read_fail_after; /* >0: body_visit fails after that many calls */
	int first_visit_rc;  /* !0: the next first body_visit fails (once) */
	size_t read_max;     /* >0: body_visit hands at most this much */
	int removes;         /* remove() calls that succeeded */
};
/* user/password: the one account (id 1); strings are not copied. */
void pop3_mem_init(struct pop3_mem *m, const char *user, const char *password);
/* Add a message (data not copied); its uid is n + 1. */
void pop3_mem_add(struct pop3_mem *m, const char *data, size_t len);
void pop3_backend_mem(struct pop3_backend *be, struct pop3_mem *m);

#endif
