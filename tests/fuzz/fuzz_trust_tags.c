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
 * signatures with NUL-terminated strings.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
