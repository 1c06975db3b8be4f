/*
 * websession.h - the web panel's logged-in sessions kept in the store
 * (table web_sessions, schema v7), so a restart of mailroom-webadmin does
 * not log everyone out.
 *
 * Only the SHA-256 of a session id is stored (id_hash, 64 hex digits): the
 * id has 256 random bits, so a copy of the database (a backup) cannot be
 * turned back into a working cookie. Callers pass the id itself; hashing
 * happens here, in one place. Expiry is the caller's policy: the store
 * only keeps created/last_seen and deletes what prune is told to.
 */
#ifndef MAILROOM_STORE_WEBSESSION_H
#define MAILROOM_STORE_WEBSESSION_H

#include <stdint.h>

#include "store.h"

struct store_websession {
	char address[ADDR_MAX + 1];
	int64_t created;
	int64_t last_seen;
};

/* Remember a new session id for address. STORE_OK, STORE_EXISTS (an id
 * drawn twice: never in practice) or an error. */
int store_websession_add(struct store *st, const char *id, const char *address,
			 int64_t created) __attribute__((warn_unused_result));
/* The session with this id into *out, or STORE_NOTFOUND. */
int store_websession_get(struct store *st, const char *id,
			 struct store_websession *out)
	__attribute__((warn_unused_result));
/* Record activity (last_seen) for id. STORE_OK also when id is gone. */
int store_websession_touch(struct store *st, const char *id, int64_t last_seen);
/* Forget one session (logout). STORE_OK also when it was not there. */
int store_websession_del(struct store *st, const char *id);
/* Forget every session of address except keep_id (NULL: all of them):
 * password changed, account disabled or deleted. */
int store_websession_del_address(struct store *st, const char *address,
				 const char *keep_id);
/* How many sessions were seen at or after seen_since and made at or after
 * created_since (the live ones, by the stored last_seen): >= 0, or a
 * STORE_E* code. */
int64_t store_websession_count(struct store *st, int64_t seen_since,
			       int64_t created_since);
/* Delete sessions idle since before idle_before or made before
 * created_before. The number deleted (>= 0), or a STORE_E* code. */
int64_t store_websession_prune(struct store *st, int64_t idle_before,
			       int64_t created_before);

#endif
