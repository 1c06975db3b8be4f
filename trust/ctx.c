/*
 * ctx.c - the trust context: a c-ares channel driven by the caller's
 * libevent loop (common/dns_loop.c, the one outbound/dns.c uses too), so a
 * slow name server never blocks an SMTP session, plus the DKIM key cache.
 * tdns_query() adds what SPF needs on top of the channel: the answer parsed
 * per type and the NXDOMAIN / NODATA / temporary split.
 */
#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h> /* struct hostent from ares_parse_ptr_reply */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/dns_loop.h"
#include "dkim_int.h"

#define KEY_CACHE_MAX 32
#define KEY_CACHE_TTL 3600 /* seconds: a rotated key is seen within the hour */
#define DNS_TIMEOUT_MS 3000 /* per try, until trust_set_dns_timeout */
#define DNS_TRIES 2
#define DNS_LOG_EVENT "trust-dns-error"

struct cached_key {
	/* alg and the exact p= text the key was decoded from: compared in
	 * full (a hash alone would let a hostile record that collides with a
	 * signer's text be answered with the signer's key, or the reverse) */
	int alg;
	char *p;
	size_t len;
	uint64_t hash; /* FNV-1a of the text: most misses end here */
	EVP_PKEY *key;
	int64_t added;
	uint64_t used;
};

struct trust_ctx {
	struct event_base *base;
	struct dns_loop *dns;
	char servers[512]; /* kept for trust_set_dns_timeout's new channel */
	int64_t now;  /* 0: time(NULL) */
	bool closing; /* in ares_destroy: new questions fail at once */
	struct cached_key keys[KEY_CACHE_MAX];
	uint64_t key_clock;
	struct tdns_cache *cache; /* NULL: caching off (out of memory) */
	struct trust_psl *psl;    /* NULL: dmarc.c's built-in list */
	/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the
	 * implementation up again at every digest and signature (~1 us each).
	 * Set before any thread uses it, never changed: the DKIM worker reads
	 * it too. */
	EVP_MD *sha256;
	/* prepared RSA checks for verifications run on the loop (no worker) */
	struct dkim_verify_cache *verify_cache;
};

struct trust_ctx *trust_new(struct event_base *base, const char *servers,
			    char *err, size_t errlen)
{
	struct trust_ctx *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = base;
	if (servers && snprintf(c->servers, sizeof c->servers, "%s", servers) >=
			       (int)sizeof c->servers) {
		snprintf(err, errlen, "dns_servers too long");
		free(c);
		return NULL;
	}
	c->dns = dns_loop_new(base, c->servers, DNS_TIMEOUT_MS, DNS_TRIES,
			      DNS_LOG_EVENT, err, errlen);
	if (c->dns == NULL) {
		free(c);
		return NULL;
	}
	c->cache = tdns_cache_new();
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); /* NULL: EVP_sha256() */
	return c;
}

struct dkim_verify_cache *trust_ctx_verify_cache(struct trust_ctx *ctx)
{
	if (ctx->verify_cache == NULL)
		ctx->verify_cache = dkim_verify_cache_new(); /* NULL: per check */
	return ctx->verify_cache;
}

struct tdns_cache *trust_ctx_dns_cache(struct trust_ctx *ctx)
{
	return ctx->cache;
}

const EVP_MD *trust_ctx_sha256(const struct trust_ctx *ctx)
{
	return ctx->sha256 ? ctx->sha256 : EVP_sha256();
}

void trust_set_psl(struct trust_ctx *ctx, struct trust_psl *psl)
{
	trust_psl_free(&ctx->psl);
	ctx->psl = psl;
}

const struct trust_psl *trust_ctx_psl(const struct trust_ctx *ctx)
{
	return ctx->psl;
}

void trust_free(struct trust_ctx **cp)
{
	struct trust_ctx *c = *cp;
	if (c == NULL)
		return;
	/* callbacks run inside ares_destroy (ARES_EDESTRUCTION) and may ask
	 * their next question: it must not reach the dying channel */
	c->closing = true;
	dns_loop_free(&c->dns);
	for (size_t i = 0; i < KEY_CACHE_MAX; i++) {
		EVP_PKEY_free(c->keys[i].key);
		free(c->keys[i].p);
	}
	tdns_cache_free(&c->cache);
	trust_psl_free(&c->psl);
	EVP_MD_free(c->sha256);
	dkim_verify_cache_free(&c->verify_cache);
	free(c);
	*cp = NULL;
}

static uint64_t text_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

static bool key_is(const struct cached_key *k, int alg, const char *p, size_t len,
		   uint64_t hash)
{
	return k->key != NULL && k->alg == alg && k->hash == hash && k->len == len &&
	       memcmp(k->p, p, len) == 0;
}

EVP_PKEY *trust_key_cache_get(struct trust_ctx *c, int alg, const char *p,
			      size_t len)
{
	uint64_t hash = text_hash(p, len);
	int64_t now = trust_now(c);
	for (size_t i = 0; i < KEY_CACHE_MAX; i++) {
		struct cached_key *k = &c->keys[i];
		if (!key_is(k, alg, p, len, hash))
			continue;
		if (now - k->added > KEY_CACHE_TTL || now < k->added)
			return NULL; /* stale: decoded again and replaced */
		k->used = ++c->key_clock;
		return EVP_PKEY_up_ref(k->key) == 1 ? k->key : NULL;
	}
	return NULL;
}

void trust_key_cache_put(struct trust_ctx *c, int alg, const char *p,
			 size_t len, EVP_PKEY *key)
{
	uint64_t hash = text_hash(p, len);
	size_t slot = 0;
	for (size_t i = 0; i < KEY_CACHE_MAX; i++) {
		if (key_is(&c->keys[i], alg, p, len, hash)) {
			slot = i; /* replace the stale copy */
			break;
		}
		if (c->keys[i].used < c->keys[slot].used || c->keys[i].key == NULL)
			slot = i;
		if (c->keys[slot].key == NULL)
			break;
	}
	char *copy = malloc(len ? len : 1);
	if (copy == NULL)
		return;
	if (EVP_PKEY_up_ref(key) != 1) {
		free(copy);
		return;
	}
	memcpy(copy, p, len);
	EVP_PKEY_free(c->keys[slot].key);
	free(c->keys[slot].p);
	c->keys[slot].alg = alg;
	c->keys[slot].p = copy;
	c->keys[slot].len = len;
	c->keys[slot].hash = hash;
	c->keys[slot].key = key;
	c->keys[slot].added = trust_now(c);
	c->keys[slot].used = ++c->key_clock;
}

void trust_set_dns_timeout(struct trust_ctx *c, int timeout_ms, int tries)
{
	/* Only before the first question: a new channel, same servers. */
	char err[128];
	struct dns_loop *fresh = dns_loop_new(c->base, c->servers, timeout_ms,
					      tries, DNS_LOG_EVENT, err,
					      sizeof err);
	if (fresh == NULL)
		return;
	c->closing = true;
	dns_loop_free(&c->dns);
	c->dns = fresh;
	c->closing = false;
}

void trust_set_now(struct trust_ctx *c, int64_t now) { c->now = now; }

int64_t trust_now(const struct trust_ctx *c)
{
	return c->now ? c->now : (int64_t)time(NULL);
}

bool tdns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0 && !(i == len - 1 && i > 0))
				return false;
			label = 0;
		} else if (++label > 63) {
			return false;
		}
	}
	return true;
}

int tdns_parse_ip(const char *s, struct in6_addr *out, int *family_r)
{
	struct in_addr a4;
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		out->s6_addr[10] = 0xff;
		out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &a4, 4);
		*family_r = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family_r = AF_INET6;
		/* a v4-mapped client is checked as the v4 address it is */
		if (IN6_IS_ADDR_V4MAPPED(out))
			*family_r = AF_INET;
		return 0;
	}
	return -1;
}

/* ---- one question --------------------------------------------------------- */

struct query {
	tdns_cb cb;
	void *arg;
	enum tdns_type type;
	struct trust_ctx *ctx;
	char name[TRUST_DOMAIN_MAX + 1];
};


static void add_text(struct tdns_answer *a, const char *s, size_t len)
{
	a->n_total++;
	if (a->n >= TDNS_ANSWERS_MAX)
		return;
	char *t = malloc(len + 1);
	if (t == NULL)
		return;
	memcpy(t, s, len);
	t[len] = '\0';
	a->text[a->n] = t;
	a->text_len[a->n] = len;
	a->n++;
}

static void parse_txt(struct tdns_answer *a, const unsigned char *buf, int len)
{
	struct ares_txt_ext *txt = NULL;
	if (ares_parse_txt_reply_ext(buf, len, &txt) != ARES_SUCCESS)
		return;
	/* Strings of one record arrive as a run that starts with
	 * record_start; they are joined without spaces (RFC 7208 3.3). */
	char *acc = malloc(TDNS_TXT_MAX + 1);
	size_t n = 0;
	bool open = false, too_long = false;
	for (struct ares_txt_ext *t = txt; acc && t; t = t->next) {
		if (t->record_start) {
			if (open && !too_long)
				add_text(a, acc, n);
			else if (open)
				a->n_total++;
			n = 0;
			open = true;
			too_long = false;
		}
		if (n + t->length > TDNS_TXT_MAX)
			too_long = true;
		else {
			memcpy(acc + n, t->txt, t->length);
			n += t->length;
		}
	}
	if (open && !too_long)
		add_text(a, acc, n);
	free(acc);
	ares_free_data(txt);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *buf,
		      int len)
{
	struct query *q = arg;
	struct tdns_answer *a = calloc(1, sizeof *a);
	(void)timeouts;
	if (a == NULL) {
		struct tdns_answer tmp;
		memset(&tmp, 0, sizeof tmp);
		tmp.status = TDNS_TEMP;
		q->cb(q->arg, &tmp);
		free(q);
		return;
	}
	if (status == ARES_ENOTFOUND)
		a->status = TDNS_NXDOMAIN;
	else if (status == ARES_ENODATA)
		a->status = TDNS_NODATA;
	else if (status != ARES_SUCCESS)
		a->status = TDNS_TEMP;
	else {
		switch (q->type) {
		case TDNS_A: {
			struct ares_addrttl ttl[TDNS_ANSWERS_MAX];
			int n = TDNS_ANSWERS_MAX;
			if (ares_parse_a_reply(buf, len, NULL, ttl, &n) == ARES_SUCCESS)
				for (int i = 0; i < n; i++) {
					a->addr[a->n].s6_addr[10] = 0xff;
					a->addr[a->n].s6_addr[11] = 0xff;
					memcpy(&a->addr[a->n].s6_addr[12],
					       &ttl[i].ipaddr, 4);
					a->family[a->n++] = AF_INET;
				}
			break;
		}
		case TDNS_AAAA: {
			struct ares_addr6ttl ttl[TDNS_ANSWERS_MAX];
			int n = TDNS_ANSWERS_MAX;
			if (ares_parse_aaaa_reply(buf, len, NULL, ttl, &n) ==
			    ARES_SUCCESS)
				for (int i = 0; i < n; i++) {
					memcpy(&a->addr[a->n], &ttl[i].ip6addr, 16);
					a->family[a->n++] = AF_INET6;
				}
			break;
		}
		case TDNS_TXT:
			parse_txt(a, buf, len);
			break;
		case TDNS_MX: {
			struct ares_mx_reply *mx = NULL;
			if (ares_parse_mx_reply(buf, len, &mx) == ARES_SUCCESS) {
				for (struct ares_mx_reply *m = mx; m; m = m->next)
					add_text(a, m->host, strlen(m->host));
				ares_free_data(mx);
			}
			break;
		}
		case TDNS_PTR: {
			struct hostent *he = NULL;
			if (ares_parse_ptr_reply(buf, len, "x", 1, AF_INET, &he) ==
			    ARES_SUCCESS) {
				for (char **al = he->h_aliases; al && *al; al++)
					add_text(a, *al, strlen(*al));
				if (a->n_total == 0 && he->h_name)
					add_text(a, he->h_name, strlen(he->h_name));
				ares_free_hostent(he);
			}
			break;
		}
		}
		if (q->type == TDNS_A || q->type == TDNS_AAAA)
			a->n_total = a->n;
		if (a->n_total == 0)
			a->status = TDNS_NODATA;
	}
	if (a->status != TDNS_TEMP && !q->ctx->closing)
		tdns_cache_put(q->ctx->cache, (int)q->type, q->name, a,
			       tdns_reply_ttl(buf, len, a->status != TDNS_OK));
	q->cb(q->arg, a);
	tdns_answer_release(a);
	free(a);
	free(q);
}

void tdns_query(struct trust_ctx *c, const char *name, enum tdns_type type,
		tdns_cb cb, void *arg)
{
	if (!tdns_name_ok(name) || c->closing) {
		struct tdns_answer a;
		memset(&a, 0, sizeof a);
		a.status = c->closing ? TDNS_TEMP : TDNS_NXDOMAIN;
		cb(arg, &a);
		return;
	}
	struct tdns_answer *hit = malloc(sizeof *hit);
	if (hit && tdns_cache_get(c->cache, (int)type, name, hit)) {
		/* answered from the cache, before this returns: every caller
		 * copes with that (names DNS cannot carry do the same) */
		cb(arg, hit);
		tdns_answer_release(hit);
		free(hit);
		return;
	}
	free(hit);
	struct query *q = malloc(sizeof *q);
	if (q == NULL) {
		struct tdns_answer a;
		memset(&a, 0, sizeof a);
		a.status = TDNS_TEMP;
		cb(arg, &a);
		return;
	}
	q->cb = cb;
	q->arg = arg;
	q->type = type;
	q->ctx = c;
	str_copy_cut(q->name, sizeof q->name, name);
	ares_query(dns_loop_channel(c->dns), name, ns_c_in, (int)type, on_answer,
		   q);
	dns_loop_sent(c->dns);
}
