/*
 * smtp_peers.h - per client IP: concurrent sessions and recent AUTH
 * failures, for the per-IP session limit and the growing AUTH delay.
 *
 * A small chained hash owned by the event loop thread (no locking). An
 * entry lives while the IP has sessions or a failure younger than
 * SMTP_AUTH_FAILURE_MEMORY_S; stale entries are dropped when their bucket
 * is visited, so the table never holds much more than the live sessions.
 */
#ifndef MAILROOM_SMTP_PEERS_H
#define MAILROOM_SMTP_PEERS_H

#include <stddef.h>
#include <time.h>

struct smtp_peer {
	struct smtp_peer *next;
	int sessions;
	int auth_failures;
	time_t last_failure;
	char ip[64];
};

#define SMTP_PEERS_BUCKETS 4096

struct smtp_peers {
	struct smtp_peer *bucket[SMTP_PEERS_BUCKETS];
};

void smtp_peers_init(struct smtp_peers *p);
void smtp_peers_free(struct smtp_peers *p);
/* The entry for ip (created if needed, sessions not changed); NULL on OOM. */
struct smtp_peer *smtp_peers_get(struct smtp_peers *p, const char *ip,
				 time_t now);
/* One session of this peer ended. */
void smtp_peers_release(struct smtp_peers *p, struct smtp_peer *peer);
/* Record an AUTH failure; returns the delay (ms) before the 535. */
long smtp_peers_auth_failed(struct smtp_peer *peer, time_t now, long base_ms,
			    long max_ms);

#endif
