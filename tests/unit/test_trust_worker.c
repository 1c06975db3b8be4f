/*
 * test_trust_worker.c - the DKIM worker thread (trust/dkim_worker.c):
 * verifiers handed to it give the same outcome as verifiers that run on
 * the loop, each callback runs once on the loop thread, a body over the
 * hold limit falls back to hashing on the loop, and stopping the worker
 * with verifiers queued or freed loses nothing and leaks nothing (ASan
 * build); and the context's cache of decoded keys answers only for the
 * exact key text and algorithm it was given. Keys come from a loopback
 * port nobody answers (key lookup
 * fails), so what is checked is the body hash and the path through the
 * thread; real signatures through the worker are test_trust_dkim.py's
 * (smtpd always uses the worker). The RSA verification cache
 * (dkim_verify.c) is checked with real keys: a reused context still
 * refuses a bad signature and the wrong key's, and keeps working for keys
 * it evicted and for keys whose caller's reference is gone.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "DKIM-Signature ... bh=<hash of body>" + From + body; tamper: the body
 * sent differs from the one hashed. */
static char *signed_message(const char *body, size_t body_len, bool tamper)
{
	unsigned char md[32];
	unsigned int md_len = 0;
	EVP_Digest(body, body_len, md, &md_len, EVP_sha256(), NULL);
	unsigned char bh[64];
	EVP_EncodeBlock(bh, md, (int)md_len);
	size_t cap = body_len + 512;
	char *m = malloc(cap);
	if (m == NULL)
		return NULL;
	int n = snprintf(m, cap,
			 "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=x.test; "
			 "s=sel; h=from; bh=%s; b=AAAA\r\n"
			 "From: a@x.test\r\n\r\n", (const char *)bh);
	memcpy(m + n, body, body_len);
	m[n + body_len] = '\0';
	if (tamper)
		m[n] = (char)(m[n] == 'X' ? 'Y' : 'X');
	return m;
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

/* One verifier, with or without the worker; returns its outcome. */
static void verify_one(struct event_base *base, struct trust_ctx *ctx,
		       struct trust_dkim_worker *w, const char *msg, struct seen *s)
{
	memset(s, 0, sizeof *s);
	struct trust_dkim *d = trust_dkim_new(ctx);
	CHECK(d != NULL);
	if (d == NULL)
		return;
	trust_dkim_use_worker(d, w);
	size_t len = strlen(msg);
	trust_dkim_feed(d, msg, len / 2); /* in two pieces */
	trust_dkim_feed(d, msg + len / 2, len - len / 2);
	trust_dkim_finish(d, on_outcome, s);
	run_until(base, &s->calls, 1);
	trust_dkim_free(&d);
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
	if (ctx == NULL || w == NULL)
		return;
	trust_set_dns_timeout(ctx, 100, 1);
	static const char body[] = "Hello\r\nthe figures\r\n";
	/* small bodies (held for the worker) and one over the hold limit
	 * (hashed on the loop, then the rest on the worker) */
	size_t big_len = (TRUST_DKIM_HOLD_MAX / 70 + 70) * 70; /* whole lines */
	char *big = malloc(big_len + 1);
	CHECK(big != NULL);
	if (big == NULL)
		return;
	for (size_t i = 0; i < big_len; i++)
		big[i] = (i % 70 == 68) ? '\r' : (i % 70 == 69) ? '\n' : (char)('a' + i % 26);
	struct {
		const char *name, *body;
		size_t len;
		bool tamper;
		enum trust_auth_result want;
		const char *reason;
	} cases[] = {
		{"body intact: key lookup decides", body, sizeof body - 1, false,
		 TRUST_AUTH_TEMPERROR, "key lookup failed"},
		{"body changed", body, sizeof body - 1, true, TRUST_AUTH_FAIL,
		 "body hash did not verify"},
		{"big body intact", big, big_len, false, TRUST_AUTH_TEMPERROR,
		 "key lookup failed"},
		{"big body changed", big, big_len, true, TRUST_AUTH_FAIL,
		 "body hash did not verify"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].name;
		char *msg = signed_message(cases[i].body, cases[i].len, cases[i].tamper);
		CHECK(msg != NULL);
		if (msg == NULL)
			continue;
		struct seen on_loop, on_worker;
		uint64_t jobs0 = trust_dkim_worker_jobs(w);
		verify_one(base, ctx, NULL, msg, &on_loop);
		CHECK(trust_dkim_worker_jobs(w) == jobs0);
		verify_one(base, ctx, w, msg, &on_worker);
		CHECK(trust_dkim_worker_jobs(w) == jobs0 + 1);
		CHECK_INT(on_loop.calls, 1);
		CHECK_INT(on_worker.calls, 1);
		CHECK(pthread_equal(on_worker.thread, pthread_self()));
		CHECK_INT(on_worker.out.n_sigs, 1);
		CHECK_INT(on_loop.out.sigs[0].result, cases[i].want);
		CHECK_INT(on_worker.out.sigs[0].result, cases[i].want);
		CHECK_STR(on_worker.out.sigs[0].reason, cases[i].reason);
		CHECK_STR(on_worker.out.from_domain, "x.test");
		CHECK_STR(on_loop.out.sigs[0].reason, on_worker.out.sigs[0].reason);
		CHECK(on_loop.out.sigs[0].unsigned_bytes == on_worker.out.sigs[0].unsigned_bytes);
		CHECK_INT(on_loop.out.from_count, on_worker.out.from_count);
		free(msg);
	}
	free(big);

	/* many at once: every callback once, on the loop thread; half of
	 * them freed after finish (their callbacks never run) */
	test_state.label = "forty at once";
	static struct seen many[N_MSGS];
	struct trust_dkim *ds[N_MSGS];
	memset(many, 0, sizeof many);
	char *msg = signed_message(body, sizeof body - 1, false);
	CHECK(msg != NULL);
	for (size_t i = 0; msg && i < N_MSGS; i++) {
		ds[i] = trust_dkim_new(ctx);
		trust_dkim_use_worker(ds[i], w);
		trust_dkim_feed(ds[i], msg, strlen(msg));
		trust_dkim_finish(ds[i], on_outcome, &many[i]);
		if (i % 2)
			trust_dkim_free(&ds[i]);
	}
	static int live_calls;
	for (int k = 0; k < 4000; k++) {
		live_calls = total_calls(many, N_MSGS);
		if (live_calls >= N_MSGS / 2)
			break;
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	for (size_t i = 0; i < N_MSGS; i++) {
		CHECK_INT(many[i].calls, i % 2 ? 0 : 1);
		if (i % 2 == 0) {
			CHECK_INT(many[i].out.sigs[0].result, TRUST_AUTH_TEMPERROR);
			CHECK(pthread_equal(many[i].thread, pthread_self()));
			trust_dkim_free(&ds[i]);
		}
	}

	/* stopping with verifiers still waiting for keys: they are answered
	 * when the context goes, and nothing leaks */
	test_state.label = "stop while waiting";
	struct seen late;
	memset(&late, 0, sizeof late);
	struct trust_dkim *d = trust_dkim_new(ctx);
	trust_dkim_use_worker(d, w);
	trust_dkim_feed(d, msg, strlen(msg));
	trust_dkim_finish(d, on_outcome, &late);
	trust_dkim_free(&d);
	free(msg);
	trust_dkim_worker_stop(&w);
	CHECK(w == NULL);
	trust_free(&ctx);
	CHECK_INT(late.calls, 0);
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
