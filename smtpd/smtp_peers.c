/*
 * smtp_peers.c - the per-IP table (see smtp_peers.h).
 */
#include "smtp_peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_limits.h"

void smtp_peers_init(struct smtp_peers *p)
{
	memset(p, 0, sizeof(*p));
}

void smtp_peers_free(struct smtp_peers *p)
{
	for (size_t i = 0; i < SMTP_PEERS_BUCKETS; i++) {
		struct smtp_peer *e = p->bucket[i];
		while (e != NULL) {
			struct smtp_peer *n = e->next;
			free(e);
			e = n;
		}
		p->bucket[i] = NULL;
	}
}

static size_t hash_ip(const char *ip)
{
	size_t h = 5381;
	for (; *ip; ip++)
		h = h * 33 + (unsigned char)*ip;
	return h % SMTP_PEERS_BUCKETS;
}

static int stale(const struct smtp_peer *e, time_t now)
{
	return e->sessions == 0 &&
	       (e->auth_failures == 0 ||
		now - e->last_failure > SMTP_AUTH_FAILURE_MEMORY_S);
}

struct smtp_peer *smtp_peers_get(struct smtp_peers *p, const char *ip,
				 time_t now)
{
	struct smtp_peer **pp = &p->bucket[hash_ip(ip)];
	while (*pp != NULL) {
		struct smtp_peer *e = *pp;
		if (strcmp(e->ip, ip) == 0)
			return e;
		if (stale(e, now)) {
			*pp = e->next;
			free(e);
			continue;
		}
		pp = &e->next;
	}
	struct smtp_peer *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	snprintf(e->ip, sizeof(e->ip), "%s", ip);
	*pp = e;
	return e;
}

void smtp_peers_release(struct smtp_peers *p, struct smtp_peer *peer)
{
	(void)p;
	if (peer->sessions > 0)
		peer->sessions--;
	/* freed lazily by smtp_peers_get() once stale */
}

long smtp_peers_auth_failed(struct smtp_peer *peer, time_t now, long base_ms,
			    long max_ms)
{
	if (now - peer->last_failure > SMTP_AUTH_FAILURE_MEMORY_S)
		peer->auth_failures = 0;
	peer->auth_failures++;
	peer->last_failure = now;
	long d = base_ms * peer->auth_failures;
	return d > max_ms ? max_ms : d;
}
