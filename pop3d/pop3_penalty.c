/*
 * pop3_penalty.c - per-address failed-login delays (see pop3_penalty.h).
 *
 * A linear scan of 1024 slots per failed login is a few microseconds,
 * far below the password hash that precedes it, so no hash table.
 */
#include "pop3_penalty.h"

#include <string.h>

void pop3_penalty_init(struct pop3_penalty *p)
{
	memset(p, 0, sizeof(*p));
}

static struct pop3_penalty_slot *find(struct pop3_penalty *p, const char *ip,
				      int64_t now)
{
	for (size_t i = 0; i < POP3_PENALTY_SLOTS; i++) {
		struct pop3_penalty_slot *s = &p->slots[i];
		if (s->fails == 0 || strcmp(s->ip, ip) != 0)
			continue;
		if (now - s->last > POP3_PENALTY_WINDOW) {
			s->fails = 0; /* expired: forget */
			return NULL;
		}
		return s;
	}
	return NULL;
}

unsigned pop3_penalty_fail(struct pop3_penalty *p, const char *ip,
			   int64_t now, uint32_t *fails_r)
{
	struct pop3_penalty_slot *s = find(p, ip, now);
	if (s == NULL) {
		size_t victim = 0;
		for (size_t i = 0; i < POP3_PENALTY_SLOTS; i++) {
			if (p->slots[i].fails == 0) {
				victim = i;
				break;
			}
			if (p->slots[i].last < p->slots[victim].last)
				victim = i;
		}
		s = &p->slots[victim];
		memset(s, 0, sizeof(*s));
		size_t n = strnlen(ip, sizeof(s->ip) - 1);
		memcpy(s->ip, ip, n);
		s->ip[n] = '\0';
	}
	if (s->fails < UINT32_MAX)
		s->fails++;
	s->last = now;
	*fails_r = s->fails;
	unsigned ms = POP3_PENALTY_BASE_MS;
	for (uint32_t i = 1; i < s->fails && ms < POP3_PENALTY_MAX_MS; i++)
		ms *= 2;
	return ms < POP3_PENALTY_MAX_MS ? ms : POP3_PENALTY_MAX_MS;
}

bool pop3_penalty_locked(struct pop3_penalty *p, const char *ip, int64_t now)
{
	const struct pop3_penalty_slot *s = find(p, ip, now);
	return s != NULL && s->fails >= POP3_PENALTY_LOCKOUT;
}

void pop3_penalty_clear(struct pop3_penalty *p, const char *ip)
{
	for (size_t i = 0; i < POP3_PENALTY_SLOTS; i++)
		if (p->slots[i].fails != 0 && strcmp(p->slots[i].ip, ip) == 0)
			p->slots[i].fails = 0;
}
