/*
 * test_trust_worker.c - the DKIM worker thread (trust/dkim_worker.c) and
 * the verifier's early header check (trust/dkim.c): verifiers handed to
 * the worker give the same outcome as verifiers that run on the loop;
 * with the key in the DNS cache the outcome is given inside
 * trust_dkim_finish (the end of the body never waits for the worker's
 * queue or its hand-back), whether the worker had not started the job,
 * had finished it, or had handed it back already; each callback runs once,
 * on the loop thread; verifiers freed with a job out, and stopping the
 * worker, lose nothing and leak nothing (ASan build); and the context's
 * cache of decoded keys answers only for the exact key text and algorithm
 * it was given. Messages are signed by Mailroom's own signer
 * (outbound/dkim.c, checked against python3-dkim in the integration
 * tests), and the key record is put in the context's DNS cache; a key
 * nobody serves comes from a loopback port nobody answers. The RSA
 * verification cache (dkim_verify.c) is checked with real keys: a reused
 * context still refuses a bad signature and the wrong key's, and keeps
 * working for keys it evicted and for keys whose caller's reference is
 * gone.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../outbound/outbound.h"
#include "../../trust/trust.h"
#include "../../trust/dkim_int.h"
#include "../../trust/trust_int.h"
#include "test.h"
#include <openssl/rsa.h>

#define N_MSGS 40

struct seen {
	int calls;
	pthread_t thread;
	struct trust_dkim_outcome out;
};

static void on_outcome(void *arg, const struct trust_dkim_outcome *o)
{
	struct seen *s = arg;
	s->calls++;
	s->thread = pthread_self();
	s->out = *o;
}

enum tamper { INTACT, BODY_CHANGED, HEADER_CHANGED };

/* From + Subject + body, signed for domain (selector "sel") by key with
 * Mailroom's signer; then changed as tamper says. */
static char *signed_message(EVP_PKEY *key, const char *domain, const char *body,
			    size_t body_len, enum tamper tamper)
{
	char head[200];
	snprintf(head, sizeof head, "From: a@%s\r\nSubject: figures\r\n\r\n", domain);
	struct ob_dkim *d = ob_dkim_new();
	struct buf m;
	if (d == NULL || buf_init(&m, 16 * 1024 * 1024) < 0) {
		ob_dkim_free(&d);
		return NULL;
	}
	ob_dkim_feed(d, head, strlen(head));
	ob_dkim_feed(d, body, body_len);
	int rc = ob_dkim_sign(d, key, domain, "sel", 1700000000, &m);
	ob_dkim_free(&d);
	size_t body_at = m.len + strlen(head);
	if (rc < 0 || buf_append(&m, head, strlen(head)) < 0 ||
	    buf_append(&m, body, body_len) < 0) {
		buf_free(&m);
		return NULL;
	}
	if (tamper == BODY_CHANGED)
		m.data[body_at] = (char)(m.data[body_at] == 'X' ? 'Y' : 'X');
	if (tamper == HEADER_CHANGED)
		memcpy(strstr(m.data, "Subject: figures"), "Subject: Figures", 16);
	return m.data; /* NUL-terminated by buf */
}

/* key's record ("v=DKIM1; k=rsa; p=...") for sel._domainkey.domain in
 * ctx's DNS cache, as a lookup would have left it. */
static void publish_key(struct trust_ctx *ctx, EVP_PKEY *key, const char *domain)
{
	unsigned char der[1024], *q = der;
	int n = i2d_PUBKEY(key, &q);
	CHECK(n > 0 && n < 700);
	char rec[1100] = "v=DKIM1; k=rsa; p=";
	EVP_EncodeBlock((unsigned char *)rec + strlen(rec), der, n);
	char name[100];
	snprintf(name, sizeof name, "sel._domainkey.%s", domain);
	struct tdns_answer a;
	memset(&a, 0, sizeof a);
	a.status = TDNS_OK;
	a.n = a.n_total = 1;
	a.text[0] = rec;
	a.text_len[0] = strlen(rec);
	CHECK(trust_ctx_dns_cache(ctx) != NULL);
	tdns_cache_put(trust_ctx_dns_cache(ctx), TDNS_TXT, name, &a, 300);
}

static void run_until(struct event_base *base, const int *counter, int want)
{
	for (int i = 0; i < 2000 && *counter < want; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), nanosleep(&(struct timespec){0, 1000000}, NULL);
}

static int total_calls(const struct seen *s, size_t n)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += s[i].calls;
	return c;
}

/* One verifier, with or without the worker, fed in two pieces. Returns the
 * calls made before trust_dkim_finish returned; then runs the loop until
 * the outcome is in. */
static int verify_one(struct event_base *base, struct trust_ctx *ctx,
		      struct trust_dkim_worker *w, const char *msg, struct seen *s)
{
	memset(s, 0, sizeof *s);
	struct trust_dkim *d = trust_dkim_new(ctx);
	CHECK(d != NULL);
	if (d == NULL)
		return -1;
	trust_dkim_use_worker(d, w);
	size_t len = strlen(msg);
	trust_dkim_feed(d, msg, len / 2);
	trust_dkim_feed(d, msg + len / 2, len - len / 2);
	trust_dkim_finish(d, on_outcome, s);
	int at_finish = s->calls;
	run_until(base, &s->calls, 1);
	trust_dkim_free(&d);
	return at_finish;
}

static void test_same_outcome(void)
{
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	char err[128];
	struct trust_ctx *ctx = trust_new(base, "127.0.0.1:9", err, sizeof err);
	CHECK(ctx != NULL);
	struct trust_dkim_worker *w = trust_dkim_worker_start(base, err, sizeof err);
	CHECK(w != NULL);
	EVP_PKEY *key = EVP_RSA_gen(2048);
	CHECK(key != NULL);
	if (ctx == NULL || w == NULL || key == NULL)
		return;
	trust_set_dns_timeout(ctx, 100, 1);
	publish_key(ctx, key, "x.test"); /* y.test's key: nobody answers */
	static const char body[] = "Hello\r\nthe figures\r\n";
	size_t big_len = 1500 * 70; /* 105,000 octets of whole lines */
	char *big = malloc(big_len + 1);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	for (size_t i = 0; i < big_len; i++)
		big[i] = (i % 70 == 68) ? '\r' : (i % 70 == 69) ? '\n' : (char)('a' + i % 26);
	struct {
		const char *name, *domain, *body;
		size_t len;
		enum tamper tamper;
		enum trust_auth_result want;
		const char *reason;
		bool key_cached;
	} cases[] = {
		{"intact", "x.test", body, sizeof body - 1, INTACT, TRUST_AUTH_PASS, "", true},
		{"body changed", "x.test", body, sizeof body - 1, BODY_CHANGED,
		 TRUST_AUTH_FAIL, "body hash did not verify", true},
		{"header changed", "x.test", body, sizeof body - 1, HEADER_CHANGED,
		 TRUST_AUTH_FAIL, "signature did not verify", true},
		{"big body intact", "x.test", big, big_len, INTACT, TRUST_AUTH_PASS, "", true},
		{"big body changed", "x.test", big, big_len, BODY_CHANGED, TRUST_AUTH_FAIL,
		 "body hash did not verify", true},
		{"no key: the lookup decides", "y.test", body, sizeof body - 1, INTACT,
		 TRUST_AUTH_TEMPERROR, "key lookup failed", false},
		{"no key, body changed", "y.test", body, sizeof body - 1, BODY_CHANGED,
		 TRUST_AUTH_FAIL, "body hash did not verify", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].name;
		char *msg = signed_message(key, cases[i].domain, cases[i].body, cases[i].len,
					   cases[i].tamper);
		CHECK(msg != NULL);
		if (msg == NULL)
			continue;
		struct seen on_loop, on_worker;
		verify_one(base, ctx, NULL, msg, &on_loop);
		int at_finish = verify_one(base, ctx, w, msg, &on_worker);
		/* with the key at hand, the worker's verifier answers at the end
		 * of the body; a lookup still out answers later, on the loop */
		CHECK_INT(at_finish, cases[i].key_cached ? 1 : 0);
		CHECK_INT(on_loop.calls, 1);
		CHECK_INT(on_worker.calls, 1);
		CHECK(pthread_equal(on_worker.thread, pthread_self()));
		CHECK_INT(on_worker.out.n_sigs, 1);
		CHECK_INT(on_loop.out.sigs[0].result, cases[i].want);
		CHECK_INT(on_worker.out.sigs[0].result, cases[i].want);
		CHECK_STR(on_worker.out.sigs[0].reason, cases[i].reason);
		CHECK_STR(on_loop.out.sigs[0].reason, cases[i].reason);
		CHECK_STR(on_worker.out.from_domain, cases[i].domain);
		CHECK(on_loop.out.sigs[0].unsigned_bytes == on_worker.out.sigs[0].unsigned_bytes);
		CHECK_INT(on_loop.out.from_count, on_worker.out.from_count);
		free(msg);
	}
	free(big);

	/* the header section first; the worker's job handed back through the
	 * loop before the body comes: the end still answers at once */
	test_state.label = "job back before the body ends";
	char *msg = signed_message(key, "x.test", body, sizeof body - 1, INTACT);
	CHECK(msg != NULL);
	if (msg == NULL)
		return;
	size_t head_len = (size_t)(strstr(msg, "\r\n\r\n") + 4 - msg);
	uint64_t jobs0 = trust_dkim_worker_jobs(w);
	struct seen early;
	memset(&early, 0, sizeof early);
	struct trust_dkim *d = trust_dkim_new(ctx);
	trust_dkim_use_worker(d, w);
	trust_dkim_feed(d, msg, head_len);
	for (int k = 0; k < 2000 && trust_dkim_worker_jobs(w) == jobs0; k++) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	CHECK(trust_dkim_worker_jobs(w) == jobs0 + 1); /* the worker ran it */
	CHECK_INT(early.calls, 0);                      /* the body has not ended */
	trust_dkim_feed(d, msg + head_len, strlen(msg) - head_len);
	trust_dkim_finish(d, on_outcome, &early);
	CHECK_INT(early.calls, 1);
	CHECK_INT(early.out.sigs[0].result, TRUST_AUTH_PASS);
	trust_dkim_free(&d);

	/* many at once, each ended right after it is fed: every one answers
	 * inside its finish (its job taken back unstarted, waited for, or
	 * already done); a fourth freed before their end, with jobs out (no
	 * callback, nothing leaks) */
	test_state.label = "forty at once";
	static struct seen many[N_MSGS];
	struct trust_dkim *ds[N_MSGS];
	memset(many, 0, sizeof many);
	for (size_t i = 0; i < N_MSGS; i++) {
		ds[i] = trust_dkim_new(ctx);
		trust_dkim_use_worker(ds[i], w);
		trust_dkim_feed(ds[i], msg, strlen(msg));
	}
	for (size_t i = 0; i < N_MSGS; i++) {
		if (i % 4 == 3) {
			trust_dkim_free(&ds[i]);
			continue;
		}
		trust_dkim_finish(ds[i], on_outcome, &many[i]);
		CHECK_INT(many[i].calls, 1);
	}
	for (int k = 0; k < 200; k++) { /* let the freed ones' jobs come back */
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	for (size_t i = 0; i < N_MSGS; i++) {
		CHECK_INT(many[i].calls, i % 4 == 3 ? 0 : 1);
		if (i % 4 != 3) {
			CHECK_INT(many[i].out.sigs[0].result, TRUST_AUTH_PASS);
			CHECK(pthread_equal(many[i].thread, pthread_self()));
			trust_dkim_free(&ds[i]);
		}
	}
	CHECK_INT(total_calls(many, N_MSGS), N_MSGS - N_MSGS / 4);

	/* stopping with a verifier still waiting for its key, and one freed
	 * with its job queued: answered or freed when the worker and the
	 * context go, and nothing leaks */
	test_state.label = "stop while waiting";
	struct seen late;
	memset(&late, 0, sizeof late);
	char *unkeyed = signed_message(key, "y.test", body, sizeof body - 1, INTACT);
	CHECK(unkeyed != NULL);
	d = trust_dkim_new(ctx);
	trust_dkim_use_worker(d, w);
	trust_dkim_feed(d, unkeyed, strlen(unkeyed));
	trust_dkim_finish(d, on_outcome, &late);
	trust_dkim_free(&d);
	d = trust_dkim_new(ctx);
	trust_dkim_use_worker(d, w);
	trust_dkim_feed(d, msg, head_len); /* its job goes out */
	trust_dkim_free(&d);
	free(unkeyed);
	free(msg);
	trust_dkim_worker_stop(&w);
	CHECK(w == NULL);
	trust_free(&ctx);
	CHECK_INT(late.calls, 0);
	EVP_PKEY_free(key);
	event_base_free(base);
}

static EVP_PKEY *ed_key(unsigned char fill)
{
	unsigned char raw[32];
	memset(raw, fill, sizeof raw);
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, sizeof raw);
}

/* Same length, one octet apart: each text gets its own key back, never the
 * other's; another algorithm or a longer text gets nothing. */
static void test_key_cache(void)
{
	struct event_base *base = event_base_new();
	char err[128];
	struct trust_ctx *ctx = trust_new(base, "127.0.0.1:9", err, sizeof err);
	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	static const char a[] = "MCowBQYDK2VwAyEAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=";
	static const char b[] = "MCowBQYDK2VwAyEAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab=";
	EVP_PKEY *ka = ed_key(1), *kb = ed_key(2);
	CHECK(ka != NULL && kb != NULL);
	CHECK(trust_key_cache_get(ctx, 2, a, sizeof a - 1) == NULL);
	trust_key_cache_put(ctx, 2, a, sizeof a - 1, ka);
	trust_key_cache_put(ctx, 2, b, sizeof b - 1, kb);
	EVP_PKEY *got = trust_key_cache_get(ctx, 2, a, sizeof a - 1);
	CHECK(got == ka);
	EVP_PKEY_free(got);
	got = trust_key_cache_get(ctx, 2, b, sizeof b - 1);
	CHECK(got == kb);
	EVP_PKEY_free(got);
	CHECK(trust_key_cache_get(ctx, 1, a, sizeof a - 1) == NULL); /* other alg */
	CHECK(trust_key_cache_get(ctx, 2, a, sizeof a - 2) == NULL); /* prefix */
	/* forty more keys: the cache stays bounded, the newest are there */
	for (unsigned char i = 0; i < 40; i++) {
		char t[sizeof a];
		memcpy(t, a, sizeof a);
		t[20] = (char)('A' + i % 26);
		t[21] = (char)('A' + i / 26);
		EVP_PKEY *k = ed_key((unsigned char)(10 + i));
		trust_key_cache_put(ctx, 2, t, sizeof t - 1, k);
		EVP_PKEY_free(k);
		got = trust_key_cache_get(ctx, 2, t, sizeof t - 1);
		CHECK(got != NULL);
		EVP_PKEY_free(got);
	}
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	trust_free(&ctx);
	event_base_free(base);
}

#define VC_KEYS 10 /* more than the cache holds (8) */

static EVP_PKEY *rsa_key(void)
{
	EVP_PKEY_CTX *g = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	EVP_PKEY *k = NULL;
	if (g && EVP_PKEY_keygen_init(g) == 1 &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(g, 1024) == 1)
		(void)EVP_PKEY_keygen(g, &k);
	EVP_PKEY_CTX_free(g);
	return k;
}

static size_t rsa_sign(EVP_PKEY *k, const unsigned char *md, unsigned char *sig,
		       size_t cap)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	size_t len = cap;
	if (c == NULL || EVP_PKEY_sign_init(c) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(c, sig, &len, md, 32) != 1)
		len = 0;
	EVP_PKEY_CTX_free(c);
	return len;
}

static void test_verify_cache(void)
{
	struct dkim_verify_cache *vc = dkim_verify_cache_new();
	CHECK(vc != NULL);
	const EVP_MD *md_alg = EVP_sha256();
	EVP_PKEY *keys[VC_KEYS];
	unsigned char sig[VC_KEYS][256], md[32];
	size_t len[VC_KEYS];
	memset(md, 0x5a, sizeof md);
	for (int i = 0; i < VC_KEYS; i++) {
		keys[i] = rsa_key();
		CHECK(keys[i] != NULL);
		if (keys[i] == NULL)
			return;
		len[i] = rsa_sign(keys[i], md, sig[i], sizeof sig[i]);
		CHECK(len[i] == 128);
	}
	unsigned char bad[256];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < VC_KEYS; i++) {
			CHECK(dkim_verify_rsa(vc, keys[i], md_alg, sig[i], len[i], md, 32));
			memcpy(bad, sig[i], len[i]);
			bad[len[i] / 2] ^= 0x01;
			CHECK(!dkim_verify_rsa(vc, keys[i], md_alg, bad, len[i], md, 32));
			/* the same context right after a failure */
			CHECK(dkim_verify_rsa(vc, keys[i], md_alg, sig[i], len[i], md, 32));
			int other = (i + 1) % VC_KEYS;
			CHECK(!dkim_verify_rsa(vc, keys[i], md_alg, sig[other], len[other],
					       md, 32));
			unsigned char md2[32];
			memset(md2, 0xa5, sizeof md2);
			CHECK(!dkim_verify_rsa(vc, keys[i], md_alg, sig[i], len[i], md2, 32));
		}
	}
	/* without a cache: the same answers */
	CHECK(dkim_verify_rsa(NULL, keys[0], md_alg, sig[0], len[0], md, 32));
	CHECK(!dkim_verify_rsa(NULL, keys[0], md_alg, sig[1], len[1], md, 32));
	/* the caller drops its references: cached contexts keep theirs */
	EVP_PKEY *last = keys[VC_KEYS - 1];
	for (int i = 0; i < VC_KEYS - 1; i++)
		EVP_PKEY_free(keys[i]);
	CHECK(dkim_verify_rsa(vc, last, md_alg, sig[VC_KEYS - 1], len[VC_KEYS - 1],
			      md, 32));
	EVP_PKEY_free(last);
	dkim_verify_cache_free(&vc);
	CHECK(vc == NULL);
	dkim_verify_cache_free(&vc); /* twice: harmless */
}

TEST_SUITE(trust_dkim_worker, {"same_outcome", test_same_outcome}, {"key_cache", test_key_cache},
	   {"verify_cache", test_verify_cache});
