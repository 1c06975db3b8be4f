/*
 * test_trust_canon.c - DKIM body canonicalization fed whole (long runs go
 * through the 16-byte SSE2 scan in dkim_canon.c) must equal the same input
 * fed one byte at a time (the scalar path only) and in random pieces, for
 * random text made of the bytes that matter (letters, SP, HTAB, CR, LF),
 * simple and relaxed; plus long lines with each special byte at every
 * position of a 16-byte block.
 */
#include <stdlib.h>
#include <string.h>

#include "../../trust/dkim_int.h"
#include "test.h"

struct out {
	char data[8192];
	size_t n;
	bool overflow;
};

static void emit(void *ctx, const char *p, size_t n)
{
	struct out *o = ctx;
	if (o->n + n > sizeof o->data) {
		o->overflow = true;
		return;
	}
	memcpy(o->data + o->n, p, n);
	o->n += n;
}

/* step 0: whole; 1: byte by byte; else pieces of 1..step bytes */
static void run(bool relaxed, const char *in, size_t len, unsigned step,
		unsigned *seed, struct out *o)
{
	struct dkim_canon c;
	memset(o, 0, sizeof *o);
	dkim_canon_init(&c, relaxed, emit, o);
	for (size_t i = 0; i < len;) {
		size_t k = step == 0 ? len - i : step == 1 ? 1 : 1 + (size_t)rand_r(seed) % step;
		if (k > len - i)
			k = len - i;
		dkim_canon_feed(&c, in + i, k);
		i += k;
	}
	dkim_canon_end(&c);
}

static bool same(const struct out *a, const struct out *b)
{
	return !a->overflow && !b->overflow && a->n == b->n &&
	       memcmp(a->data, b->data, a->n) == 0;
}

static void test_random_text(void)
{
	static const char alphabet[] = "abcXYZ019.,;     \t\t\r\n\r\n";
	unsigned seed = 12345;
	char in[600];
	int failures = 0;
	for (int round = 0; round < 3000 && failures < 5; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof in;
		for (size_t i = 0; i < len; i++)
			in[i] = alphabet[(size_t)rand_r(&seed) % (sizeof alphabet - 1)];
		for (int relaxed = 0; relaxed < 2; relaxed++) {
			struct out whole, bytes, pieces;
			run(relaxed, in, len, 0, &seed, &whole);
			run(relaxed, in, len, 1, &seed, &bytes);
			run(relaxed, in, len, 40, &seed, &pieces);
			if (!same(&whole, &bytes) || !same(&whole, &pieces)) {
				failures++;
				test_state.label = relaxed ? "relaxed" : "simple";
				CHECK(same(&whole, &bytes));
				CHECK(same(&whole, &pieces));
			}
		}
	}
	test_state.label = NULL;
	CHECK_INT(failures, 0);
}

/* A 40-byte line of letters with one special pattern placed at each
 * offset: the scan must stop exactly there, whole or bytewise. */
static void test_patterns_at_every_offset(void)
{
	static const char *const pats[] = {"  ", " \t", "\t", " \r\n", "\r", " ", "\r\n"};
	for (size_t k = 0; k < sizeof pats / sizeof pats[0]; k++) {
		for (size_t off = 1; off < 36; off++) {
			char in[128];
			memset(in, 'q', 40);
			size_t pl = strlen(pats[k]);
			memcpy(in + off, pats[k], pl);
			memcpy(in + 40, "tail end\r\n", 10);
			size_t len = 50;
			unsigned seed = (unsigned)(k * 100 + off);
			for (int relaxed = 0; relaxed < 2; relaxed++) {
				struct out whole, bytes;
				run(relaxed, in, len, 0, &seed, &whole);
				run(relaxed, in, len, 1, &seed, &bytes);
				test_state.label = pats[k];
				CHECK(same(&whole, &bytes));
			}
		}
	}
	test_state.label = NULL;
	/* and one concrete answer for a long relaxed line */
	struct out o;
	unsigned seed = 1;
	const char *line = "The quick brown fox  jumps over\tthe lazy dog, again and again \r\n";
	run(true, line, strlen(line), 0, &seed, &o);
	o.data[o.n] = '\0';
	CHECK_STR(o.data, "The quick brown fox jumps over the lazy dog, again and again\r\n");
}

TEST_SUITE(trust_canon, {"random text whole vs split", test_random_text},
	   {"patterns at every offset", test_patterns_at_every_offset});
