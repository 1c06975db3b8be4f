/*
 * fuzz_trust_tags.c - libFuzzer harness for the tag=value list parser
 * (trust/tags.c) that reads DKIM-Signature fields, DKIM key records and
 * DMARC records, and for the DKIM verifier's handling of a whole hostile
 * message (trust/dkim.c): header splitting, signature tags, b= stripping,
 * both canonicalizations, fed whole and split at an input-chosen point.
 *
 * Invariants beyond "no crash": tag names and values lie inside the input,
 * names are unique and non-empty, values have no leading or trailing
 * whitespace; the verifier's outcome has at most TRUST_DKIM_SIGS_MAX
 * signatures with NUL-terminated strings; both body canonicalizations
 * emit the same bytes whether fed whole or split at the chosen point, and
 * relaxed output never ends in whitespace before CRLF. The A-R / X-Spam
 * filter (trust/arfilter.c) on the same bytes: never more out than in,
 * and the same output and drop count whole or split at the chosen point.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/dkim_int.h"
#include "../../trust/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;

static void done(void *arg, const struct trust_dkim_outcome *o)
{
	*(int *)arg = 1;
	if (o->n_sigs > TRUST_DKIM_SIGS_MAX)
		abort();
	for (size_t i = 0; i < o->n_sigs; i++)
		if (strnlen(o->sigs[i].domain, sizeof o->sigs[i].domain) ==
			    sizeof o->sigs[i].domain ||
		    strnlen(o->sigs[i].reason, sizeof o->sigs[i].reason) ==
			    sizeof o->sigs[i].reason)
			abort();
}

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

struct digest {
	uint64_t h, n;
	char last[3]; /* the last bytes seen, for the relaxed check */
	bool bad;
};

static void emit(void *ctx, const char *p, size_t n)
{
	struct digest *d = ctx;
	for (size_t i = 0; i < n; i++) {
		d->h = (d->h ^ (unsigned char)p[i]) * 1099511628211ULL;
		d->last[0] = d->last[1];
		d->last[1] = d->last[2];
		d->last[2] = p[i];
		/* relaxed: no SP or HTAB right before a line's CRLF */
		if (d->last[2] == '\n' && d->last[1] == '\r' &&
		    (d->last[0] == ' ' || d->last[0] == '\t'))
			d->bad = true;
	}
	d->n += n;
}

static void canon_both(const char *in, size_t size, size_t cut, bool relaxed)
{
	struct digest a = {14695981039346656037ULL, 0, "", false}, b = a;
	struct dkim_canon c1, c2;
	dkim_canon_init(&c1, relaxed, emit, &a);
	dkim_canon_feed(&c1, in, size);
	dkim_canon_end(&c1);
	dkim_canon_init(&c2, relaxed, emit, &b);
	dkim_canon_feed(&c2, in, cut);
	for (size_t i = cut; i < size; i += 3)
		dkim_canon_feed(&c2, in + i, size - i < 3 ? size - i : 3);
	dkim_canon_end(&c2);
	if (a.h != b.h || a.n != b.n || (relaxed && a.bad))
		abort();
}

struct filtered {
	char *d;
	size_t n, cap;
};

static int filtered_add(void *ctx, const char *p, size_t n)
{
	struct filtered *f = ctx;
	if (n > f->cap - f->n)
		abort(); /* the filter only ever drops */
	memcpy(f->d + f->n, p, n);
	f->n += n;
	return 0;
}

static void arfilter_run(const char *in, size_t size, size_t cut,
			 struct filtered *out, size_t *dropped)
{
	struct trust_arfilter f;
	out->n = 0;
	if (trust_arfilter_init(&f, "mail.example.test", filtered_add, out) < 0)
		abort();
	if (trust_arfilter_feed(&f, in, cut) < 0 ||
	    trust_arfilter_feed(&f, in + cut, size - cut) < 0 ||
	    trust_arfilter_end(&f) < 0)
		abort();
	*dropped = f.dropped;
	trust_arfilter_free(&f);
}

static void arfilter_both(const char *in, size_t size, size_t cut)
{
	struct filtered whole = {malloc(size ? size : 1), 0, size};
	struct filtered split = {malloc(size ? size : 1), 0, size};
	size_t dw = 0, ds = 0;
	arfilter_run(in, size, size, &whole, &dw);
	arfilter_run(in, size, cut, &split, &ds);
	if (dw != ds || whole.n != split.n || memcmp(whole.d, split.d, whole.n) != 0)
		abort();
	free(whole.d);
	free(split.d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	struct trust_tags t;
	const char *err = NULL;
	if (trust_tags_parse(in, size, &t, &err) == 0) {
		if (t.n > TRUST_TAGS_MAX)
			abort();
		for (size_t i = 0; i < t.n; i++) {
			const struct trust_tag *g = &t.t[i];
			if (g->name.len == 0 || g->name.ptr < in ||
			    g->name.ptr + g->name.len > in + size ||
			    (g->value.len && (g->value.ptr < in ||
					      g->value.ptr + g->value.len > in + size)))
				abort();
			if (g->value.len && (ws(g->value.ptr[0]) ||
					     ws(g->value.ptr[g->value.len - 1])))
				abort();
			for (size_t j = 0; j < i; j++)
				if (t.t[j].name.len == g->name.len &&
				    memcmp(t.t[j].name.ptr, g->name.ptr, g->name.len) == 0)
					abort();
		}
	} else if (err == NULL) {
		abort();
	}

	size_t split = size ? data[0] % (size + 1) : 0;
	canon_both(in, size, split, false);
	canon_both(in, size, split, true);
	arfilter_both(in, size, split);

	/* the verifier on the same bytes as a message */
	if (base == NULL)
		base = event_base_new();
	char e[128];
	struct trust_ctx *ctx = trust_new(base, "127.0.0.1:9", e, sizeof e);
	if (ctx == NULL)
		abort();
	struct trust_dkim *d = trust_dkim_new(ctx);
	size_t cut = size ? data[0] % (size + 1) : 0;
	trust_dkim_feed(d, in, cut);
	trust_dkim_feed(d, in + cut, size - cut);
	int called = 0;
	trust_dkim_finish(d, done, &called);
	trust_dkim_free(&d);   /* pending key lookups: freed by their answer */
	trust_free(&ctx);      /* answers every pending lookup (cancelled) */
	free(in);
	return 0;
}
