/*
 * session.c - session table, CSRF tokens, login rate limit (session.h).
 *
 * The tables are small fixed arrays scanned linearly: at SESSIONS_MAX and
 * RATE_KEYS_MAX entries a scan is a few microseconds, and nothing a client
 * sends can make them grow. Ids are compared in constant time. With a
 * store attached the session array is a cache of web_sessions: every
 * create/destroy goes to both, a cache miss reads the store once, and a
 * hit is confirmed by one lookup of the row (still_stored below), since
 * mailroomctl, another process, deletes rows this cache cannot see go.
 * So it saves no store read; it stays for what only it holds: the flash
 * message shown after a redirect, last_seen to the second (the store's
 * is written at most once a minute, to spare the database a write per
 * page), and the live-session count of the metrics.
 */
#include "session.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../common/base64.h"
#include "../common/log.h"
#include "../store/store.h"
#include "../store/websession.h"

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

/* A lowercase hex digit's value (what session_random_hex writes), or -1:
 * base16_value without the upper case. */
static int hex_nibble(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : base16_value((unsigned char)c);
}

/* The stored secret, 64 lowercase hex digits, into t->secret. -1 if bad. */
static int secret_decode(struct session_table *t, const char *hex)
{
	if (strlen(hex) != 2 * sizeof t->secret)
		return -1;
	for (size_t i = 0; i < sizeof t->secret; i++) {
		int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		t->secret[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* Delete expired rows, at most every SESSION_PRUNE_SECONDS. */
static void prune(struct session_table *t, int64_t now)
{
	if (t->store == NULL || now - t->pruned_at < SESSION_PRUNE_SECONDS)
		return;
	t->pruned_at = now;
	int64_t n = store_websession_prune(t->store, now - t->idle_seconds,
					   now - SESSION_MAX_SECONDS);
	if (n < 0)
		log_warn("webadmin: event=session-prune-failed error=\"%s\"",
			 store_errmsg(t->store));
	else if (n > 0)
		log_debug("webadmin: event=sessions-pruned count=%lld", (long long)n);
}

int session_table_attach(struct session_table *t, struct store *st,
			 int64_t now, char *err, size_t errlen)
{
	char hex[2 * sizeof t->secret + 8];
	int rc = store_setting_get(st, SESSION_SECRET_KEY, hex, sizeof hex);
	if (rc == STORE_OK && secret_decode(t, hex) == 0) {
		/* the secret of the last run: its CSRF tokens stay valid */
	} else if (rc == STORE_OK || rc == STORE_NOTFOUND || rc == STORE_INVALID) {
		char fresh[2 * sizeof t->secret + 1];
		hex_encode(t->secret, sizeof t->secret, fresh);
		rc = store_setting_set(st, SESSION_SECRET_KEY, fresh);
		explicit_bzero(fresh, sizeof fresh);
		if (rc != STORE_OK) {
			snprintf(err, errlen, "cannot keep the session secret: %s",
				 store_errmsg(st));
			return -1;
		}
	} else {
		snprintf(err, errlen, "cannot read the session secret: %s",
			 store_errmsg(st));
		return -1;
	}
	explicit_bzero(hex, sizeof hex);
	t->store = st;
	t->pruned_at = 0;
	prune(t, now);
	return 0;
}

static bool live(const struct session_table *t, const struct session *s,
		 int64_t now)
{
	return s->id[0] != '\0' && now - s->last_seen <= t->idle_seconds &&
	       now - s->created <= SESSION_MAX_SECONDS;
}

/*
 * The sessions /metrics reports: with a store, its live rows (sessions made
 * before a restart or pushed out of this cache count too) plus those this
 * cache holds live whose stored last_seen lags behind (it is written at
 * most every touch_every seconds); without a store, or if it cannot be
 * read, this cache alone.
 */
int session_count_live(const struct session_table *t, int64_t now)
{
	int64_t seen_since = now - t->idle_seconds;
	int64_t stored = -1;
	if (t->store != NULL) {
		stored = store_websession_count(t->store, seen_since,
						now - SESSION_MAX_SECONDS);
		if (stored < 0)
			log_warn("webadmin: event=session-count-failed error=\"%s\"",
				 store_errmsg(t->store));
	}
	int64_t n = stored < 0 ? 0 : stored;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		const struct session *s = &t->s[i];
		if (live(t, s, now) && (stored < 0 || s->stored_seen < seen_since))
			n++;
	}
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* A slot for a new or reloaded session: a free or dead one, else the
 * least recently used (with a store it stays there and can come back). */
static struct session *free_slot(struct session_table *t, int64_t now)
{
	struct session *slot = NULL;
	for (size_t i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &t->s[i];
		if (!live(t, s, now))
			return s;
		if (slot == NULL || s->last_seen < slot->last_seen)
			slot = s;
	}
	return slot;
}

/* How stale the stored last_seen may get: a tenth of the idle limit,
 * at most SESSION_TOUCH_SECONDS. */
static int64_t touch_every(const struct session_table *t)
{
	int64_t n = t->idle_seconds / 10;
	return n > SESSION_TOUCH_SECONDS ? SESSION_TOUCH_SECONDS : n;
}

int session_create(struct session_table *t, const char *address, int64_t now,
		   char id_r[SESSION_ID_HEX + 1])
{
	if (session_random_hex(id_r) != 0)
		return -1;
	if (t->store != NULL) {
		prune(t, now);
		if (store_websession_add(t->store, id_r, address, now) != STORE_OK) {
			log_error("webadmin: event=session-store-failed error=\"%s\"",
				  store_errmsg(t->store));
			return -1;
		}
	}
	struct session *slot = free_slot(t, now);
	memset(slot, 0, sizeof *slot);
	memcpy(slot->id, id_r, SESSION_ID_HEX + 1);
	snprintf(slot->address, sizeof slot->address, "%s", address);
	slot->created = now;
	slot->last_seen = now;
	slot->stored_seen = now;
	return 0;
}

static bool id_eq(const char *a, const char *b)
{
	return strlen(b) == SESSION_ID_HEX &&
	       CRYPTO_memcmp(a, b, SESSION_ID_HEX) == 0;
}

/* The session from the store when the cache misses: into a slot if still
 * live, deleted there if expired. */
static struct session *reload(struct session_table *t, const char *id,
			      int64_t now)
{
	struct store_websession w;
	if (t->store == NULL || store_websession_get(t->store, id, &w) != STORE_OK)
		return NULL;
	struct session tmp;
	memset(&tmp, 0, sizeof tmp);
	memcpy(tmp.id, id, SESSION_ID_HEX + 1);
	snprintf(tmp.address, sizeof tmp.address, "%s", w.address);
	tmp.created = w.created;
	tmp.last_seen = w.last_seen;
	tmp.stored_seen = w.last_seen;
	if (!live(t, &tmp, now)) {
		(void)store_websession_del(t->store, id);
		return NULL;
	}
	struct session *slot = free_slot(t, now);
	*slot = tmp;
	return slot;
}

/*
 * Whether the cached session s still has its row. Another process ends
 * sessions behind this cache's back: `mailroomctl user passwd|set
 * --disable|del` delete the account's rows, and the cookie must be refused
 * on the very next request, not after a restart. So every hit costs one
 * lookup by primary key (a SHA-256 and an indexed SELECT: a few
 * microseconds next to the account read every request does anyway). A
 * change counter would be cheaper only if something bumped it; SQLite's
 * data_version moves on every commit of smtpd too, so it would save little.
 * A row that is gone (or, never in practice, names another account) drops
 * the slot. A store error refuses this request but keeps the slot: failing
 * closed, the next request asks again.
 */
static bool still_stored(struct session_table *t, struct session *s)
{
	struct store_websession w;
	int rc = store_websession_get(t->store, s->id, &w);
	if (rc == STORE_OK && strcmp(w.address, s->address) == 0)
		return true;
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		char esc[LOG_ESCAPED_MAX];
		log_info("webadmin: event=session-revoked address=\"%s\"",
			 log_escape(esc, sizeof esc, s->address, strlen(s->address)));
		memset(s, 0, sizeof *s);
	} else {
		log_warn("webadmin: event=session-check-failed error=\"%s\"",
			 store_errmsg(t->store));
	}
	return false;
}

struct session *session_find(struct session_table *t, const char *id,
			     int64_t now)
{
	if (strlen(id) != SESSION_ID_HEX)
		return NULL;
	prune(t, now); /* a comparison, except every SESSION_PRUNE_SECONDS */
	struct session *found = NULL;
	for (size_t i = 0; i < SESSIONS_MAX && found == NULL; i++) {
		struct session *s = &t->s[i];
		if (s->id[0] != '\0' && id_eq(s->id, id))
			found = s;
	}
	bool from_store = false; /* reload just read the row */
	if (found == NULL) {
		found = reload(t, id, now);
		from_store = true;
	}
	if (found == NULL)
		return NULL;
	if (!live(t, found, now)) {
		if (t->store != NULL)
			(void)store_websession_del(t->store, found->id);
		memset(found, 0, sizeof *found);
		return NULL;
	}
	if (t->store != NULL && !from_store && !still_stored(t, found))
		return NULL;
	found->last_seen = now;
	if (t->store != NULL && now - found->stored_seen >= touch_every(t)) {
		if (store_websession_touch(t->store, found->id, now) == STORE_OK)
			found->stored_seen = now;
		else
			log_warn("webadmin: event=session-touch-failed error=\"%s\"",
				 store_errmsg(t->store));
	}
	return found;
}

void session_destroy(struct session_table *t, const char *id)
{
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (t->s[i].id[0] != '\0' && id_eq(t->s[i].id, id))
			memset(&t->s[i], 0, sizeof t->s[i]);
	if (t->store != NULL && store_websession_del(t->store, id) != STORE_OK)
		log_error("webadmin: event=session-delete-failed error=\"%s\"",
			  store_errmsg(t->store));
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
	if (t->store != NULL &&
	    store_websession_del_address(t->store, address, keep_id) != STORE_OK)
		log_error("webadmin: event=session-delete-failed error=\"%s\"",
			  store_errmsg(t->store));
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
