/*
 * dkim.c - DKIM signature verification (RFC 6376) with rsa-sha256 and
 * ed25519-sha256 (RFC 8463); rsa-sha1 and RSA keys under 1024 bits are
 * refused (RFC 8301).
 *
 * The message streams through once: the header section is kept (at most
 * TRUST_DKIM_HEADERS_MAX), then every signature's body hash is computed
 * as the body streams by (one simple and one relaxed canonicalizer feed
 * all signatures), so memory does not depend on the message size.
 *
 * The signature check does not wait for the body: the header hash covers
 * the header section only, so once that section is in, the keys are asked
 * for (in parallel) and, as soon as they are in, each signature's header
 * hash and RSA / Ed25519 verification run while the body is still
 * arriving. At the end of the body only its hash is compared with bh= and
 * each signature gets its result. Why: with the check left to the end,
 * a signed message waited ~0.5 ms between its last byte and its 250 (the
 * worker's queue behind other sessions' messages, then the hop back to
 * the loop), and over 20 busy sessions that wait, not the CPU, was what
 * the checks cost the inbound rate (trust/README.md, session 6).
 *
 * With a worker (trust_dkim_use_worker) the header check is a job on that
 * thread; the loop hashes the body meanwhile (~10 us for 10 KB). At the end
 * of the body, a job the worker has not started is taken back and run on
 * the loop, and one it is running is waited for (one job: a few
 * signatures' verification at most), so the verdict never waits for the
 * worker's queue or the hop back. During a job the worker reads the header
 * section and the signatures' tags and keys and writes only each
 * signature's hdr field; the loop touches only the body hash state;
 * trust_dkim_free only marks the verifier, and the job's return frees it.
 * Without a worker the header check runs on the loop when the keys are in.
 *
 * l= (body length): only that many canonical body bytes are signed, so
 * anything after them could have been appended by anyone. A signature that
 * verifies but leaves bytes unsigned gets result "policy" (RFC 8601 2.7.1:
 * signed, but not acceptable) with the count in the reason; DMARC never
 * counts it as a pass.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_int.h"

#include "../common/base64.h"
#include "../common/rfc5322_scan.h"

#define FIELDS_MAX 1000 /* header fields looked at for h= */
#define B64_MAX 1024    /* decoded b= / bh= / p= (8192-bit RSA fits) */

enum { ALG_RSA_SHA256 = 1, ALG_ED25519_SHA256 };

struct sig {
	struct trust_dkim *owner;
	size_t index;
	bool ok;      /* syntax fine: hash and verify */
	bool done;    /* result decided */
	int alg;
	bool hdr_relaxed, body_relaxed;
	long long l;  /* -1: whole body */
	unsigned long long hashed, total;
	EVP_MD_CTX *bh_ctx;
	unsigned char bh[64];
	size_t bh_len;
	unsigned char b[B64_MAX];
	size_t b_len;
	char i_domain[TRUST_DOMAIN_MAX + 1];
	size_t field; /* index of its DKIM-Signature field */
	char *h;      /* copy of h= */
	/* the header check's result, written by whoever runs it: */
	enum { HDR_UNCHECKED, HDR_VERIFIED, HDR_BAD, HDR_NOMEM } hdr;
	/* From the key lookup, used by the job: the key (a reference), or
	 * why there is none (applied after the body hash is checked, so a
	 * tampered body reads "fail" whatever the key). */
	EVP_PKEY *key;
	enum trust_auth_result key_result;
	const char *key_reason; /* a string constant */
};

struct trust_dkim {
	struct trust_ctx *ctx;
	struct buf headers;
	bool in_body, line_empty, prev_cr;
	size_t n_fields;
	bool need_simple, need_relaxed;
	struct trust_dkim_outcome out;
	trust_dkim_cb cb;
	void *arg;
	int pending;    /* key lookups out */
	bool querying;  /* asking for the keys: on_key must not go on */
	bool ended;     /* trust_dkim_finish: the body is complete */
	bool freed, delivered;
	/* the worker, and whether a header check job is out on it */
	struct trust_dkim_worker *worker;
	bool in_job;
	struct trust_dkim *job_next; /* the worker's queue (under its mutex) */
	/* Not zeroed by trust_dkim_new (35 KiB a message): the field table is
	 * read below n_fields, a signature is zeroed when headers_done takes
	 * it, the canonicalizers are set up there. */
	size_t fstart[FIELDS_MAX], flen[FIELDS_MAX];
	struct sig sigs[TRUST_DKIM_SIGS_MAX];
	struct dkim_canon simple, relaxed;
};

const char *trust_auth_result_name(enum trust_auth_result r)
{
	switch (r) {
	case TRUST_AUTH_NONE: return "none";
	case TRUST_AUTH_PASS: return "pass";
	case TRUST_AUTH_FAIL: return "fail";
	case TRUST_AUTH_POLICY: return "policy";
	case TRUST_AUTH_NEUTRAL: return "neutral";
	case TRUST_AUTH_TEMPERROR: return "temperror";
	case TRUST_AUTH_PERMERROR: return "permerror";
	}
	return "none";
}

static void set_result(struct trust_dkim *d, size_t i, enum trust_auth_result r,
		       const char *why)
{
	d->out.sigs[i].result = r;
	str_copy_cut(d->out.sigs[i].reason, sizeof d->out.sigs[i].reason, why);
	d->sigs[i].done = true;
}

/* A DKIM base64 tag value (b=, bh=, p=): folding white space may stand
 * anywhere in it (RFC 6376 3.5), the rest is common/base64.c's strict
 * RFC 4648 decoding (one decoder for the whole tree). */
static int b64_decode(struct slice s, unsigned char *out, size_t cap, size_t *len_r)
{
	char clean[B64_MAX * 4 / 3 + 8];
	size_t n = 0;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (n >= sizeof clean)
			return -1;
		clean[n++] = c;
	}
	struct slice in = {clean, n};
	long k = base64_decode(in, out, cap);
	if (k < 0)
		return -1;
	*len_r = (size_t)k;
	return 0;
}

static void copy_slice(struct slice s, char *dst, size_t cap)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;
	memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}

static bool slice_is(struct slice s, const char *w)
{
	return s.len == strlen(w) && strncasecmp(s.ptr, w, s.len) == 0;
}

/* Is name (a domain) d itself or a subdomain of d? */
static bool under(const char *name, const char *d)
{
	size_t n = strlen(name), k = strlen(d);
	if (n < k || strcasecmp(name + n - k, d) != 0)
		return false;
	return n == k || name[n - k - 1] == '.';
}

/* ---- the DKIM-Signature field ---------------------------------------------- */

static void parse_sig(struct trust_dkim *d, size_t i, const char *val, size_t len)
{
	struct sig *s = &d->sigs[i];
	struct trust_dkim_sig *o = &d->out.sigs[i];
	struct trust_tags t;
	const char *err = "bad tag list";
	s->owner = d;
	s->index = i;
	s->l = -1;
	o->body_length = -1;
	if (trust_tags_parse(val, len, &t, &err) < 0) {
		set_result(d, i, TRUST_AUTH_PERMERROR, err);
		return;
	}
	const struct slice *v = trust_tags_get(&t, "v"), *a = trust_tags_get(&t, "a"),
			   *b = trust_tags_get(&t, "b"), *bh = trust_tags_get(&t, "bh"),
			   *dd = trust_tags_get(&t, "d"), *h = trust_tags_get(&t, "h"),
			   *ss = trust_tags_get(&t, "s"), *c = trust_tags_get(&t, "c"),
			   *ii = trust_tags_get(&t, "i"), *l = trust_tags_get(&t, "l"),
			   *x = trust_tags_get(&t, "x"), *ts = trust_tags_get(&t, "t"),
			   *q = trust_tags_get(&t, "q");
	if (dd)
		copy_slice(*dd, o->domain, sizeof o->domain);
	if (ss)
		copy_slice(*ss, o->selector, sizeof o->selector);
	if (a)
		copy_slice(*a, o->algorithm, sizeof o->algorithm);
	if (b) {
		size_t k = 0;
		for (size_t j = 0; j < b->len && k + 1 < sizeof o->b_prefix - 3; j++)
			if (!isspace((unsigned char)b->ptr[j]))
				o->b_prefix[k++] = b->ptr[j];
		o->b_prefix[k] = '\0';
	}
	if (!v || !a || !b || !bh || !dd || !h || !ss) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "a required tag is missing");
		return;
	}
	if (!slice_is(*v, "1")) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "unknown version");
		return;
	}
	if (slice_is(*a, "rsa-sha256"))
		s->alg = ALG_RSA_SHA256;
	else if (slice_is(*a, "ed25519-sha256"))
		s->alg = ALG_ED25519_SHA256;
	else {
		set_result(d, i, TRUST_AUTH_PERMERROR,
			   slice_is(*a, "rsa-sha1") ? "rsa-sha1 is not accepted (RFC 8301)"
						    : "unknown algorithm");
		return;
	}
	if (q && !slice_is(*q, "dns/txt")) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "unknown query method");
		return;
	}
	if (c) {
		const char *slash = memchr(c->ptr, '/', c->len);
		struct slice hc = {c->ptr, slash ? (size_t)(slash - c->ptr) : c->len};
		struct slice bc = {slash ? slash + 1 : "simple",
				   slash ? c->len - hc.len - 1 : 6};
		bool hok = slice_is(hc, "simple") || slice_is(hc, "relaxed");
		bool bok = slice_is(bc, "simple") || slice_is(bc, "relaxed");
		if (!hok || !bok) {
			set_result(d, i, TRUST_AUTH_PERMERROR, "unknown canonicalization");
			return;
		}
		s->hdr_relaxed = slice_is(hc, "relaxed");
		s->body_relaxed = slice_is(bc, "relaxed");
	}
	if (!tdns_name_ok(o->domain) || dd->len > TRUST_DOMAIN_MAX ||
	    ss->len >= sizeof o->selector || ss->len == 0) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "bad d= or s=");
		return;
	}
	/* h= must sign From (5.4) */
	bool from = false;
	for (size_t k = 0; k < h->len;) {
		size_t e = k;
		while (e < h->len && h->ptr[e] != ':')
			e++;
		struct slice name = {h->ptr + k, e - k};
		while (name.len && isspace((unsigned char)name.ptr[0]))
			name.ptr++, name.len--;
		while (name.len && isspace((unsigned char)name.ptr[name.len - 1]))
			name.len--;
		if (slice_is(name, "from"))
			from = true;
		k = e + 1;
	}
	if (!from) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "From is not signed");
		return;
	}
	if (ii) {
		const char *at = memchr(ii->ptr, '@', ii->len);
		struct slice idom = {at ? at + 1 : "", at ? ii->len - (size_t)(at + 1 - ii->ptr) : 0};
		copy_slice(idom, s->i_domain, sizeof s->i_domain);
		if (!at || !under(s->i_domain, o->domain)) {
			set_result(d, i, TRUST_AUTH_PERMERROR, "i= is not within d=");
			return;
		}
	}
	if (l) {
		long long n = 0;
		if (l->len == 0 || l->len > 18) {
			set_result(d, i, TRUST_AUTH_PERMERROR, "bad l=");
			return;
		}
		for (size_t k = 0; k < l->len; k++) {
			if (!isdigit((unsigned char)l->ptr[k])) {
				set_result(d, i, TRUST_AUTH_PERMERROR, "bad l=");
				return;
			}
			n = n * 10 + (l->ptr[k] - '0');
		}
		s->l = n;
		o->body_length = n;
	}
	long long tv = ts ? strtoll(ts->ptr, NULL, 10) : 0;
	if (x) {
		long long xv = strtoll(x->ptr, NULL, 10);
		if (ts && xv < tv) {
			set_result(d, i, TRUST_AUTH_PERMERROR, "x= is before t=");
			return;
		}
		if (xv < trust_now(d->ctx)) {
			set_result(d, i, TRUST_AUTH_PERMERROR, "signature expired");
			return;
		}
	}
	if (b64_decode(*bh, s->bh, sizeof s->bh, &s->bh_len) < 0 ||
	    b64_decode(*b, s->b, sizeof s->b, &s->b_len) < 0 || s->bh_len != 32) {
		set_result(d, i, TRUST_AUTH_PERMERROR, "bad b= or bh=");
		return;
	}
	s->h = malloc(h->len + 1);
	s->bh_ctx = EVP_MD_CTX_new();
	if (s->h == NULL || s->bh_ctx == NULL ||
	    EVP_DigestInit_ex(s->bh_ctx, trust_ctx_sha256(d->ctx), NULL) != 1) {
		set_result(d, i, TRUST_AUTH_TEMPERROR, "out of memory");
		return;
	}
	memcpy(s->h, h->ptr, h->len);
	s->h[h->len] = '\0';
	s->ok = true;
	if (s->body_relaxed)
		d->need_relaxed = true;
	else
		d->need_simple = true;
}

static bool raw_named(const char *p, size_t len, const char *name, size_t nlen);

static bool field_named(const struct trust_dkim *d, size_t f, const char *name,
			size_t nlen)
{
	return raw_named(d->headers.data + d->fstart[f], d->flen[f], name, nlen);
}

/*
 * The domain of the first mailbox in a From value (lowercased) and how
 * many mailboxes the value lists. RFC 5322 syntax is followed far enough
 * that quoted strings and comments cannot hide or fake an address:
 * "From: boss@ours.test (<x@evil.test>)" is ours.test, and
 * "From: \"a@ours.test\" <x@evil.test>" is evil.test.
 */
static int from_domain(const char *v, size_t len, char *out, size_t cap)
{
	/* the first mailbox's text outside quotes and comments: its
	 * angle-addr if it has one, else everything */
	char *spec = malloc(len + 1), *angle = malloc(len + 1);
	size_t n = 0, angle_n = 0;
	struct rfc5322_scan scan = {false, 0};
	bool in_angle = false, have_angle = false;
	int mailboxes = 1;
	out[0] = '\0';
	if (spec == NULL || angle == NULL) {
		free(spec);
		free(angle);
		return 1;
	}
	for (size_t i = 0; i < len; i++) {
		if (rfc5322_hidden(&scan, v, len, &i))
			continue;
		char c = v[i];
		if (c == '<' && !in_angle) {
			in_angle = true;
			if (mailboxes == 1 && !have_angle)
				angle_n = 0;
		} else if (c == '>' && in_angle) {
			in_angle = false;
			if (mailboxes == 1)
				have_angle = true;
		} else if (c == ',' && !in_angle) {
			mailboxes++;
		} else if (mailboxes == 1) {
			if (in_angle && !have_angle)
				angle[angle_n++] = c;
			else if (!in_angle)
				spec[n++] = c;
		}
	}
	const char *a = have_angle ? angle : spec;
	size_t al = have_angle ? angle_n : n;
	const char *at = NULL;
	for (size_t i = 0; i < al; i++)
		if (a[i] == '@')
			at = a + i;
	size_t k = 0;
	for (const char *q = at ? at + 1 : a + al; q < a + al; q++) {
		unsigned char c = (unsigned char)*q;
		if (isspace(c) || c == ';' || c == ':')
			continue;
		if (k + 1 >= cap) {
			k = 0; /* longer than a domain: no usable domain */
			break;
		}
		out[k++] = (char)tolower(c);
	}
	out[k] = '\0';
	if (k > 0 && out[k - 1] == '.')
		out[k - 1] = '\0';
	free(spec);
	free(angle);
	return mailboxes;
}

static void body_emit_simple(void *ctx, const char *p, size_t n);
static void body_emit_relaxed(void *ctx, const char *p, size_t n);
static void ask_keys(struct trust_dkim *d);

/* Is the field at p (len octets) named name (case-insensitive)? */
static bool raw_named(const char *p, size_t len, const char *name, size_t nlen)
{
	const char *colon = memchr(p, ':', len);
	if (colon == NULL)
		return false;
	size_t k = (size_t)(colon - p);
	while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
		k--;
	return k == nlen && strncasecmp(p, name, nlen) == 0;
}

/* A Message-ID value for the trace: unfolded, leading and trailing
 * white space gone, control and non-ASCII octets shown as '?', cut. */
static void copy_msgid(const char *v, size_t len, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < len && k + 1 < cap; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '\r' || c == '\n')
			continue;
		if (k == 0 && (c == ' ' || c == '\t'))
			continue;
		out[k++] = c == '\t' ? ' ' : c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

/* The header section is complete: split it into fields, find the
 * signatures and the From fields. Fields past FIELDS_MAX are not kept for
 * h= (their signatures are ignored), but every From field counts, so a
 * forged From cannot hide behind a thousand junk fields. */
static void headers_done(struct trust_dkim *d)
{
	const char *h = d->headers.data;
	size_t len = d->headers.len;
	for (size_t i = 0; i < len;) {
		size_t st = i;
		/* a field runs until a line that does not start with WSP */
		for (;;) {
			const char *nl = memchr(h + i, '\n', len - i);
			i = nl ? (size_t)(nl - h) + 1 : len;
			if (i >= len || (h[i] != ' ' && h[i] != '\t'))
				break;
		}
		const char *p = h + st;
		size_t flen = i - st;
		bool kept = d->n_fields < FIELDS_MAX;
		if (kept) {
			d->fstart[d->n_fields] = st;
			d->flen[d->n_fields] = flen;
			d->n_fields++;
		}
		const char *colon = memchr(p, ':', flen);
		if (colon == NULL)
			continue;
		size_t vlen = flen - (size_t)(colon + 1 - p);
		if (raw_named(p, flen, "from", 4)) {
			/* a From listing several mailboxes counts as several
			 * (RFC 7489 6.6.1: which one would the reader trust?) */
			char dom[TRUST_DOMAIN_MAX + 1];
			int boxes = from_domain(colon + 1, vlen, dom, sizeof dom);
			if (d->out.from_count == 0)
				memcpy(d->out.from_domain, dom, sizeof dom);
			d->out.from_count += boxes;
		} else if (raw_named(p, flen, "message-id", 10)) {
			if (d->out.message_id[0] == '\0')
				copy_msgid(colon + 1, vlen, d->out.message_id,
					   sizeof d->out.message_id);
		} else if (raw_named(p, flen, "dkim-signature", 14)) {
			if (!kept || d->out.n_sigs >= TRUST_DKIM_SIGS_MAX) {
				d->out.n_ignored++;
				continue;
			}
			size_t k = d->out.n_sigs++;
			memset(&d->sigs[k], 0, sizeof d->sigs[k]);
			d->sigs[k].field = d->n_fields - 1;
			parse_sig(d, k, colon + 1, vlen);
		}
	}
	dkim_canon_init(&d->simple, false, body_emit_simple, d);
	dkim_canon_init(&d->relaxed, true, body_emit_relaxed, d);
	ask_keys(d);
}

static void body_emit(struct trust_dkim *d, bool relaxed, const char *p, size_t n)
{
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		struct sig *s = &d->sigs[i];
		if (!s->ok || s->body_relaxed != relaxed)
			continue;
		size_t k = n;
		if (s->l >= 0 && s->hashed + k > (unsigned long long)s->l)
			k = (size_t)((unsigned long long)s->l - s->hashed);
		if (k > 0)
			EVP_DigestUpdate(s->bh_ctx, p, k);
		s->hashed += k;
		s->total += n;
	}
}

static void body_emit_simple(void *ctx, const char *p, size_t n)
{
	body_emit(ctx, false, p, n);
}

static void body_emit_relaxed(void *ctx, const char *p, size_t n)
{
	body_emit(ctx, true, p, n);
}

struct trust_dkim *trust_dkim_new(struct trust_ctx *ctx)
{
	struct trust_dkim *d = malloc(sizeof *d);
	if (d == NULL)
		return NULL;
	memset(d, 0, offsetof(struct trust_dkim, fstart));
	d->ctx = ctx;
	d->line_empty = true;
	if (buf_init_sized(&d->headers, TRUST_DKIM_HEADERS_MAX,
			   TRUST_HEADERS_FIRST) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

static void body_feed(struct trust_dkim *d, const char *p, size_t n)
{
	if (d->need_simple)
		dkim_canon_feed(&d->simple, p, n);
	if (d->need_relaxed)
		dkim_canon_feed(&d->relaxed, p, n);
}

void trust_dkim_feed(struct trust_dkim *d, const char *p, size_t n)
{
	if (d == NULL)
		return;
	size_t i = 0;
	/* the header section a line at a time: it ends at a line holding
	 * nothing but CRs before its LF */
	while (!d->in_body && i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - p) : n; /* the LF, or the end */
		for (size_t k = i; k < end && d->line_empty; k++)
			if (p[k] != '\r')
				d->line_empty = false;
		if (nl != NULL && d->line_empty) {
			/* the empty line ends the header section */
			if (!d->out.headers_too_big &&
			    buf_append(&d->headers, p + i, end - i) < 0)
				d->out.headers_too_big = true;
			d->in_body = true;
			if (d->headers.len > 0 &&
			    d->headers.data[d->headers.len - 1] == '\r')
				d->headers.data[--d->headers.len] = '\0';
			if (!d->out.headers_too_big)
				headers_done(d);
			i = end + 1;
			break;
		}
		size_t stop = nl ? end + 1 : n;
		if (!d->out.headers_too_big &&
		    buf_append(&d->headers, p + i, stop - i) < 0)
			d->out.headers_too_big = true;
		if (nl != NULL)
			d->line_empty = true;
		i = stop;
	}
	if (d->in_body && i < n)
		body_feed(d, p + i, n - i);
}

/* ---- the end: header hash, keys, signatures --------------------------------- */

/* The signature field with the value of its b= tag removed (3.7). */
static int strip_b(const char *f, size_t len, struct buf *out)
{
	const char *colon = memchr(f, ':', len);
	if (colon == NULL)
		return -1;
	size_t i = (size_t)(colon - f) + 1;
	if (buf_append(out, f, i) < 0)
		return -1;
	while (i < len) {
		size_t st = i;
		while (i < len && f[i] != ';')
			i++;
		/* segment [st, i): is its tag name "b"? */
		size_t k = st;
		while (k < i && isspace((unsigned char)f[k]))
			k++;
		bool is_b = false;
		if (k < i && f[k] == 'b') {
			size_t e = k + 1;
			while (e < i && isspace((unsigned char)f[e]))
				e++;
			is_b = e < i && f[e] == '=';
			if (is_b) {
				if (buf_append(out, f + st, e + 1 - st) < 0)
					return -1;
				/* keep the field's final CRLF, if the value ends it */
				size_t end = i;
				while (end > e + 1 && (f[end - 1] == '\r' || f[end - 1] == '\n'))
					end--;
				if (buf_append(out, f + end, i - end) < 0)
					return -1;
			}
		}
		if (!is_b && buf_append(out, f + st, i - st) < 0)
			return -1;
		if (i < len) {
			if (buf_append(out, ";", 1) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

static int header_hash(struct trust_dkim *d, struct sig *s, unsigned char *md,
		       unsigned int *md_len)
{
	bool used[FIELDS_MAX];
	memset(used, 0, sizeof used);
	struct buf tmp;
	if (buf_init_sized(&tmp, TRUST_DKIM_HEADERS_MAX + 1024, TRUST_FIELD_FIRST) < 0)
		return -1;
	int rc = -1;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	if (m == NULL || EVP_DigestInit_ex(m, trust_ctx_sha256(d->ctx), NULL) != 1)
		goto out;
	for (char *p = s->h; *p;) {
		char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *name = p;
		p = e ? e + 1 : p + n;
		while (n > 0 && isspace((unsigned char)*name))
			name++, n--;
		while (n > 0 && isspace((unsigned char)name[n - 1]))
			n--;
		/* the last unused instance, bottom up (5.4.2) */
		for (size_t f = d->n_fields; f-- > 0;) {
			if (used[f] || !field_named(d, f, name, n))
				continue;
			used[f] = true;
			buf_reset(&tmp);
			if (dkim_canon_header(d->headers.data + d->fstart[f], d->flen[f],
					      s->hdr_relaxed, true, &tmp) < 0)
				goto out;
			EVP_DigestUpdate(m, tmp.data, tmp.len);
			break;
		}
	}
	struct buf sb;
	if (buf_init_sized(&sb, TRUST_DKIM_HEADERS_MAX, TRUST_FIELD_FIRST) < 0)
		goto out;
	buf_reset(&tmp);
	if (strip_b(d->headers.data + d->fstart[s->field], d->flen[s->field], &sb) < 0 ||
	    dkim_canon_header(sb.data, sb.len, s->hdr_relaxed, false, &tmp) < 0) {
		buf_free(&sb);
		goto out;
	}
	buf_free(&sb);
	EVP_DigestUpdate(m, tmp.data, tmp.len);
	rc = EVP_DigestFinal_ex(m, md, md_len) == 1 ? 0 : -1;
out:
	EVP_MD_CTX_free(m);
	buf_free(&tmp);
	return rc;
}

static EVP_PKEY *key_from(int alg, const unsigned char *p, size_t n)
{
	if (alg == ALG_ED25519_SHA256)
		return n == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, n)
			       : NULL;
	const unsigned char *q = p;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &q, (long)n);
	if (k == NULL) {
		q = p;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, (long)n);
	}
	if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static bool verify(struct sig *s, EVP_PKEY *k, const EVP_MD *md_alg,
		   const unsigned char *md, size_t md_len,
		   struct dkim_verify_cache *vc)
{
	if (s->alg == ALG_ED25519_SHA256) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		bool ok = m && EVP_DigestVerifyInit(m, NULL, NULL, NULL, k) == 1 &&
			  EVP_DigestVerify(m, s->b, s->b_len, md, md_len) == 1;
		EVP_MD_CTX_free(m);
		return ok;
	}
	return dkim_verify_rsa(vc, k, md_alg, s->b, s->b_len, md, md_len);
}

/* Why s has no usable key; the job reports it once the body hash is known
 * to match. */
static void key_problem(struct sig *s, enum trust_auth_result r, const char *why)
{
	s->key_result = r;
	s->key_reason = why;
}

/* A key record arrived for s (loop thread): check the record and keep the
 * key for the job. */
static void accept_key(struct trust_dkim *d, struct sig *s, const struct tdns_answer *a)
{
	size_t i = s->index;
	if (a->status == TDNS_TEMP) {
		key_problem(s, TRUST_AUTH_TEMPERROR, "key lookup failed");
		return;
	}
	if (a->status != TDNS_OK || a->n == 0) {
		key_problem(s, TRUST_AUTH_PERMERROR, "no key for signature");
		return;
	}
	struct trust_tags t;
	const char *err = "bad key record";
	if (trust_tags_parse(a->text[0], a->text_len[0], &t, &err) < 0) {
		key_problem(s, TRUST_AUTH_PERMERROR, err);
		return;
	}
	const struct slice *v = trust_tags_get(&t, "v"), *k = trust_tags_get(&t, "k"),
			   *p = trust_tags_get(&t, "p"), *h = trust_tags_get(&t, "h"),
			   *fl = trust_tags_get(&t, "t");
	if ((v && !slice_is(*v, "DKIM1")) || p == NULL) {
		key_problem(s, TRUST_AUTH_PERMERROR, "bad key record");
		return;
	}
	bool want_ed = s->alg == ALG_ED25519_SHA256;
	if ((k && !slice_is(*k, want_ed ? "ed25519" : "rsa")) || (!k && want_ed)) {
		key_problem(s, TRUST_AUTH_PERMERROR, "key type does not match a=");
		return;
	}
	if (h) {
		bool sha256 = false;
		for (size_t j = 0; j + 6 <= h->len; j++)
			if (strncasecmp(h->ptr + j, "sha256", 6) == 0)
				sha256 = true;
		if (!sha256) {
			key_problem(s, TRUST_AUTH_PERMERROR, "key does not allow sha256");
			return;
		}
	}
	if (p->len == 0) {
		key_problem(s, TRUST_AUTH_PERMERROR, "key revoked");
		return;
	}
	if (fl && memchr(fl->ptr, 's', fl->len) && s->i_domain[0] &&
	    strcasecmp(s->i_domain, d->out.sigs[i].domain) != 0) {
		key_problem(s, TRUST_AUTH_PERMERROR, "key t=s: i= must equal d=");
		return;
	}
	unsigned char raw[B64_MAX];
	size_t raw_len;
	EVP_PKEY *key = trust_key_cache_get(d->ctx, s->alg, p->ptr, p->len);
	if (key == NULL) {
		if (b64_decode(*p, raw, sizeof raw, &raw_len) < 0 ||
		    (key = key_from(s->alg, raw, raw_len)) == NULL) {
			key_problem(s, TRUST_AUTH_PERMERROR, "unusable public key");
			return;
		}
		trust_key_cache_put(d->ctx, s->alg, p->ptr, p->len, key);
	}
	if (!want_ed && EVP_PKEY_get_bits(key) < 1024) {
		EVP_PKEY_free(key);
		key_problem(s, TRUST_AUTH_PERMERROR, "RSA key under 1024 bits");
		return;
	}
	s->key = key;
}

/* The header check (worker or loop thread): for each signature with a
 * key, the header hash and the RSA / Ed25519 verification. Reads only
 * what headers_done and the key lookups left, writes only each s->hdr. */
void dkim_job_run(struct trust_dkim *d, struct dkim_verify_cache *vc)
{
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		struct sig *s = &d->sigs[i];
		if (!s->ok || s->done || s->key == NULL || s->hdr != HDR_UNCHECKED)
			continue;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int md_len = 0;
		if (header_hash(d, s, md, &md_len) < 0)
			s->hdr = HDR_NOMEM;
		else if (verify(s, s->key, trust_ctx_sha256(d->ctx), md, md_len, vc))
			s->hdr = HDR_VERIFIED;
		else
			s->hdr = HDR_BAD;
	}
}

/* The end (loop thread, header check done): end the bodies, then each
 * signature's result, body hash first (a tampered body reads "fail"
 * whatever the key), then the key, then the header check. */
static void results(struct trust_dkim *d)
{
	if (d->need_simple)
		dkim_canon_end(&d->simple);
	if (d->need_relaxed)
		dkim_canon_end(&d->relaxed);
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		struct sig *s = &d->sigs[i];
		if (!s->ok || s->done)
			continue;
		struct trust_dkim_sig *o = &d->out.sigs[i];
		if (s->l >= 0 && s->total < (unsigned long long)s->l) {
			set_result(d, i, TRUST_AUTH_FAIL, "body shorter than l=");
			continue;
		}
		o->unsigned_bytes = (long long)(s->total - s->hashed);
		unsigned char bh[EVP_MAX_MD_SIZE];
		unsigned int bl = 0;
		if (EVP_DigestFinal_ex(s->bh_ctx, bh, &bl) != 1 || bl != s->bh_len ||
		    memcmp(bh, s->bh, bl) != 0) {
			set_result(d, i, TRUST_AUTH_FAIL, "body hash did not verify");
			continue;
		}
		if (s->key == NULL) {
			set_result(d, i, s->key_result, s->key_reason);
			continue;
		}
		if (s->hdr == HDR_NOMEM) {
			set_result(d, i, TRUST_AUTH_TEMPERROR, "out of memory");
			continue;
		}
		if (s->hdr == HDR_UNCHECKED) { /* a key but no header check: a bug */
			set_result(d, i, TRUST_AUTH_TEMPERROR, "signature not checked");
			continue;
		}
		if (s->hdr == HDR_BAD) {
			set_result(d, i, TRUST_AUTH_FAIL, "signature did not verify");
			continue;
		}
		if (o->unsigned_bytes > 0) {
			char why[TRUST_REASON_MAX];
			snprintf(why, sizeof why, "l= leaves %lld body bytes unsigned",
				 o->unsigned_bytes);
			set_result(d, i, TRUST_AUTH_POLICY, why);
			continue;
		}
		set_result(d, i, TRUST_AUTH_PASS, "");
	}
}

static void dkim_release(struct trust_dkim *d)
{
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		EVP_MD_CTX_free(d->sigs[i].bh_ctx);
		EVP_PKEY_free(d->sigs[i].key);
		free(d->sigs[i].h);
	}
	buf_free(&d->headers);
	free(d);
}

/* Nothing out (keys, job): free a freed verifier; once the body has
 * ended, give the results. */
static void maybe_deliver(struct trust_dkim *d)
{
	if (d->pending > 0 || d->in_job || d->delivered)
		return;
	if (d->freed) {
		d->delivered = true;
		dkim_release(d);
		return;
	}
	if (!d->ended)
		return;
	results(d);
	d->delivered = true;
	d->cb(d->arg, &d->out);
}

static bool header_check_left(const struct trust_dkim *d)
{
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		const struct sig *s = &d->sigs[i];
		if (s->ok && !s->done && s->key != NULL && s->hdr == HDR_UNCHECKED)
			return true;
	}
	return false;
}

/* Every key is in (loop thread): the header check, on the worker when
 * there is one, then the results if the body has ended. */
static void keys_done(struct trust_dkim *d)
{
	if (d->pending > 0 || d->in_job || d->delivered)
		return;
	if (!d->freed && header_check_left(d)) {
		if (d->worker != NULL) {
			d->in_job = true;
			dkim_worker_submit(d->worker, d);
			return;
		}
		dkim_job_run(d, trust_ctx_verify_cache(d->ctx));
	}
	maybe_deliver(d);
}

void dkim_job_done(struct trust_dkim *d)
{
	d->in_job = false;
	maybe_deliver(d);
}

struct trust_dkim **dkim_job_next(struct trust_dkim *d)
{
	return &d->job_next;
}

static void on_key(void *arg, const struct tdns_answer *a)
{
	struct sig *s = arg;
	struct trust_dkim *d = s->owner;
	d->pending--;
	if (!d->freed)
		accept_key(d, s, a);
	if (!d->querying)
		keys_done(d);
}

/* The header section is in (loop thread): ask for every checkable
 * signature's key; cached answers come back before tdns_query returns. */
static void ask_keys(struct trust_dkim *d)
{
	d->querying = true;
	for (size_t i = 0; i < d->out.n_sigs; i++) {
		struct sig *s = &d->sigs[i];
		if (!s->ok || s->done)
			continue;
		struct trust_dkim_sig *o = &d->out.sigs[i];
		char name[TRUST_DOMAIN_MAX + 80];
		snprintf(name, sizeof name, "%s._domainkey.%s", o->selector, o->domain);
		d->pending++;
		tdns_query(d->ctx, name, TDNS_TXT, on_key, s);
	}
	d->querying = false;
	keys_done(d);
}

void trust_dkim_use_worker(struct trust_dkim *d, struct trust_dkim_worker *w)
{
	if (d != NULL && !d->in_body && d->headers.len == 0)
		d->worker = w;
}

void trust_dkim_finish(struct trust_dkim *d, trust_dkim_cb cb, void *arg)
{
	d->cb = cb;
	d->arg = arg;
	if (!d->in_body) {
		/* no empty line: all header, no body */
		d->in_body = true;
		if (!d->out.headers_too_big)
			headers_done(d);
	}
	d->ended = true;
	if (d->in_job) {
		/* not queued behind other sessions' jobs, nor a hop away */
		if (!dkim_worker_take_back(d->worker, d))
			dkim_job_run(d, trust_ctx_verify_cache(d->ctx));
		d->in_job = false;
	}
	keys_done(d);
}

void trust_dkim_free(struct trust_dkim **dp)
{
	struct trust_dkim *d = *dp;
	*dp = NULL;
	if (d == NULL)
		return;
	d->freed = true;
	if (d->pending > 0 || d->in_job)
		return; /* the last key answer, or the job's return, frees it */
	dkim_release(d);
}
