/*
 * dnscache.c - a small cache of parsed DNS answers per trust context, so a
 * busy MX does not ask the same SPF record, MX host and DKIM key again for
 * every message from the same sender (each c-ares question costs ~10 us of
 * CPU and a round trip). Answers are kept for their TTL, at most
 * TDNS_CACHE_TTL_MAX seconds; TTL 0 is never cached; NXDOMAIN and NODATA
 * for the TTL of the zone's SOA, at most TDNS_CACHE_NEG_MAX; temporary
 * failures never. At most TDNS_CACHE_MAX answers, the least recently used
 * goes first; an answer with more than TDNS_CACHE_TEXT_MAX bytes of text
 * is not cached. The clock is CLOCK_MONOTONIC.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trust_int.h"

#define TDNS_CACHE_MAX 512
#define TDNS_CACHE_TTL_MAX 300
#define TDNS_CACHE_NEG_MAX 60
#define TDNS_CACHE_TEXT_MAX 8192

struct entry {
	int type;
	char name[TRUST_DOMAIN_MAX + 1]; /* lowercase */
	int64_t expires;
	uint64_t used;
	struct tdns_answer *a; /* deep copy; NULL: free slot */
};

struct tdns_cache {
	struct entry e[TDNS_CACHE_MAX];
	uint64_t clock;
	uint64_t hits, misses;
};

static int64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

struct tdns_cache *tdns_cache_new(void)
{
	return calloc(1, sizeof(struct tdns_cache));
}

void tdns_answer_release(struct tdns_answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->text[i]);
		a->text[i] = NULL;
	}
}

static void entry_clear(struct entry *e)
{
	if (e->a) {
		tdns_answer_release(e->a);
		free(e->a);
	}
	e->a = NULL;
}

void tdns_cache_free(struct tdns_cache **cp)
{
	struct tdns_cache *c = *cp;
	if (c == NULL)
		return;
	for (size_t i = 0; i < TDNS_CACHE_MAX; i++)
		entry_clear(&c->e[i]);
	free(c);
	*cp = NULL;
}

static void lower(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	for (; name[n] && n + 1 < cap; n++)
		out[n] = (char)tolower((unsigned char)name[n]);
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
}

/* A deep copy of a (text strings included), or NULL. */
static struct tdns_answer *copy(const struct tdns_answer *a)
{
	struct tdns_answer *c = malloc(sizeof *c);
	if (c == NULL)
		return NULL;
	*c = *a;
	for (size_t i = 0; i < a->n; i++)
		c->text[i] = NULL;
	for (size_t i = 0; i < a->n; i++) {
		if (a->text[i] == NULL)
			continue;
		c->text[i] = malloc(a->text_len[i] + 1);
		if (c->text[i] == NULL) {
			tdns_answer_release(c);
			free(c);
			return NULL;
		}
		memcpy(c->text[i], a->text[i], a->text_len[i] + 1);
	}
	return c;
}

bool tdns_cache_get(struct tdns_cache *c, int type, const char *name,
		    struct tdns_answer *out)
{
	if (c == NULL)
		return false;
	char key[TRUST_DOMAIN_MAX + 1];
	lower(name, key, sizeof key);
	int64_t now = mono();
	for (size_t i = 0; i < TDNS_CACHE_MAX; i++) {
		struct entry *e = &c->e[i];
		if (e->a == NULL || e->type != type || strcmp(e->name, key) != 0)
			continue;
		if (now >= e->expires) {
			entry_clear(e);
			break;
		}
		struct tdns_answer *a = copy(e->a);
		if (a == NULL)
			break;
		*out = *a;
		free(a); /* the strings now belong to out */
		e->used = ++c->clock;
		c->hits++;
		return true;
	}
	c->misses++;
	return false;
}

void tdns_cache_put(struct tdns_cache *c, int type, const char *name,
		    const struct tdns_answer *a, uint32_t ttl)
{
	if (c == NULL || a->status == TDNS_TEMP || ttl == 0)
		return;
	uint32_t cap = a->status == TDNS_OK ? TDNS_CACHE_TTL_MAX : TDNS_CACHE_NEG_MAX;
	if (ttl > cap)
		ttl = cap;
	size_t text = 0;
	for (size_t i = 0; i < a->n; i++)
		text += a->text_len[i];
	if (text > TDNS_CACHE_TEXT_MAX)
		return;
	char key[TRUST_DOMAIN_MAX + 1];
	lower(name, key, sizeof key);
	size_t slot = 0;
	for (size_t i = 0; i < TDNS_CACHE_MAX; i++) {
		struct entry *e = &c->e[i];
		if (e->a && e->type == type && strcmp(e->name, key) == 0) {
			slot = i;
			break;
		}
		if (e->a == NULL) {
			slot = i;
			break;
		}
		if (e->used < c->e[slot].used)
			slot = i;
	}
	struct tdns_answer *cp = copy(a);
	if (cp == NULL)
		return;
	struct entry *e = &c->e[slot];
	entry_clear(e);
	e->type = type;
	memcpy(e->name, key, sizeof key);
	e->expires = mono() + ttl;
	e->used = ++c->clock;
	e->a = cp;
}

void tdns_cache_stats(const struct tdns_cache *c, uint64_t *hits_r,
		      uint64_t *misses_r)
{
	*hits_r = c ? c->hits : 0;
	*misses_r = c ? c->misses : 0;
}

/* ---- TTLs from the raw reply ------------------------------------------------ */

/* Skip a (possibly compressed) name at off; the offset after it or -1. */
static long skip_name(const unsigned char *b, long len, long off)
{
	while (off < len) {
		unsigned char l = b[off];
		if (l == 0)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : -1;
		if (l & 0xc0)
			return -1;
		off += 1 + l;
	}
	return -1;
}

uint32_t tdns_reply_ttl(const unsigned char *b, int blen, bool negative)
{
	long len = blen, off = 12;
	if (b == NULL || len < 12)
		return 0;
	unsigned qd = (unsigned)(b[4] << 8 | b[5]), an = (unsigned)(b[6] << 8 | b[7]),
		 ns = (unsigned)(b[8] << 8 | b[9]);
	for (unsigned i = 0; i < qd; i++) {
		off = skip_name(b, len, off);
		if (off < 0 || off + 4 > len)
			return 0;
		off += 4;
	}
	uint32_t min = UINT32_MAX;
	/* positive: the answers' TTLs; negative: the SOA in authority */
	unsigned skip = negative ? an : 0, count = negative ? ns : an;
	for (unsigned i = 0; i < skip + count; i++) {
		off = skip_name(b, len, off);
		if (off < 0 || off + 10 > len)
			return 0;
		uint32_t ttl = (uint32_t)b[off + 4] << 24 | (uint32_t)b[off + 5] << 16 |
			       (uint32_t)b[off + 6] << 8 | b[off + 7];
		unsigned rdlen = (unsigned)(b[off + 8] << 8 | b[off + 9]);
		if (i >= skip && ttl < min)
			min = ttl;
		off += 10 + rdlen;
		if (off > len)
			return 0;
	}
	return min == UINT32_MAX ? 0 : min;
}
