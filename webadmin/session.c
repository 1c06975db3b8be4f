/*
 * session.c - session table, CSRF tokens, login rate limit (session.h).
 *
 * The tables are small fixed arrays scanned linearly: at SESSIONS_MAX and
 * RATE_KEYS_MAX entries a scan is a few microseconds, and nothing a client
 * sends can make them grow. Ids are compared in constant time.
 */
#include "session.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "parse.h"

int session_random_hex(char dst[SESSION_ID_HEX + 1])
{
	unsigned char raw[SESSION_ID_HEX / 2];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return -1;
	hex_encode(raw, sizeof raw, dst);
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

int session_table_init(struct session_table *t)
{
	memset(t, 0, sizeof *t);
	t->idle_seconds = SESSION_IDLE_SECONDS;
	return RAND_bytes(t->secret, sizeof t->secret) == 1 ? 0 : -1;
}

static bool live(const struct session_table *t, const struct session *s,
		 int64_t now)
{
	return s->id[0] != '\0' && now - s->last_seen <= t->idle_seconds &&
	       now - s->created <= SESSION_MAX_SECONDS;
}

int session_create(struct session_table *t, const char *address, int64_t now,
		   char id_r[SESSION_ID_HEX + 1])
{
	struct session *slot = NULL;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &t->s[i];
		if (!live(t, s, now)) {
			slot = s;
			break;
		}
		if (slot == NULL || s->last_seen < slot->last_seen)
			slot = s;
	}
	if (session_random_hex(id_r) != 0)
		return -1;
	memset(slot, 0, sizeof *slot);
	memcpy(slot->id, id_r, SESSION_ID_HEX + 1);
	snprintf(slot->address, sizeof slot->address, "%s", address);
	slot->created = now;
	slot->last_seen = now;
	return 0;
}

static bool id_eq(const char *a, const char *b)
{
	return strlen(b) == SESSION_ID_HEX &&
	       CRYPTO_memcmp(a, b, SESSION_ID_HEX) == 0;
}

struct session *session_find(struct session_table *t, const char *id,
			     int64_t now)
{
	if (strlen(id) != SESSION_ID_HEX)
		return NULL;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &t->s[i];
		if (s->id[0] == '\0' || !id_eq(s->id, id))
			continue;
		if (!live(t, s, now)) {
			memset(s, 0, sizeof *s);
			return NULL;
		}
		s->last_seen = now;
		return s;
	}
	return NULL;
}

void session_destroy(struct session_table *t, const char *id)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (t->s[i].id[0] != '\0' && id_eq(t->s[i].id, id))
			memset(&t->s[i], 0, sizeof t->s[i]);
}

void session_destroy_address(struct session_table *t, const char *address,
			     const char *keep_id)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &t->s[i];
		if (s->id[0] == '\0' || strcmp(s->address, address) != 0)
			continue;
		if (keep_id && strcmp(s->id, keep_id) == 0)
			continue;
		memset(s, 0, sizeof *s);
	}
}

void session_token(const struct session_table *t, const char *purpose,
		   const char *id, char dst[CSRF_HEX + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char msg[96];
	int n = snprintf(msg, sizeof msg, "%s:%s", purpose, id);
	if (n < 0 || (size_t)n >= sizeof msg ||
	    HMAC(EVP_sha256(), t->secret, sizeof t->secret,
		 (const unsigned char *)msg, (size_t)n, mac, &maclen) == NULL ||
	    maclen != CSRF_HEX / 2) {
		/* cannot happen with SHA-256; make the token unguessable anyway */
		memset(dst, 'x', CSRF_HEX);
		dst[CSRF_HEX] = '\0';
		return;
	}
	hex_encode(mac, maclen, dst);
}

bool session_token_ok(const struct session_table *t, const char *purpose,
		      const char *id, const char *submitted)
{
	char want[CSRF_HEX + 1];
	if (submitted == NULL || id == NULL || id[0] == '\0' ||
	    strlen(submitted) != CSRF_HEX)
		return false;
	session_token(t, purpose, id, want);
	return CRYPTO_memcmp(want, submitted, CSRF_HEX) == 0;
}

/* ---- rate limit ---------------------------------------------------------- */

static const struct rate_entry *rate_find(const struct ratelimit *rl,
					  const char *key)
{
	for (size_t i = 0; i < RATE_KEYS_MAX; i++)
		if (rl->e[i].key[0] != '\0' && strcmp(rl->e[i].key, key) == 0)
			return &rl->e[i];
	return NULL;
}

int64_t ratelimit_wait(const struct ratelimit *rl, const char *key,
		       int64_t now)
{
	const struct rate_entry *e = rate_find(rl, key);
	if (e == NULL || e->until <= now)
		return 0;
	return e->until - now;
}

void ratelimit_fail(struct ratelimit *rl, const char *key, int64_t now)
{
	struct rate_entry *e = (struct rate_entry *)rate_find(rl, key);
	if (e != NULL && now - e->last > RATE_FORGET_SECONDS)
		e->failures = 0;
	if (e == NULL) {
		/* a free slot, else the one idle longest */
		for (size_t i = 0; i < RATE_KEYS_MAX; i++) {
			struct rate_entry *c = &rl->e[i];
			if (c->key[0] == '\0') {
				e = c;
				break;
			}
			if (e == NULL || c->last < e->last)
				e = c;
		}
		memset(e, 0, sizeof *e);
		snprintf(e->key, sizeof e->key, "%s", key);
	}
	e->failures++;
	e->last = now;
	if (e->failures >= RATE_FREE_FAILURES) {
		int shift = e->failures - RATE_FREE_FAILURES;
		int64_t delay = shift >= 10 ? RATE_MAX_DELAY : (int64_t)1 << shift;
		if (delay > RATE_MAX_DELAY)
			delay = RATE_MAX_DELAY;
		e->until = now + delay;
	}
}

void ratelimit_clear(struct ratelimit *rl, const char *key)
{
	struct rate_entry *e = (struct rate_entry *)rate_find(rl, key);
	if (e != NULL)
		memset(e, 0, sizeof *e);
}
