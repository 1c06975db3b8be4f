/*
 * fuzz_linereader.c - libFuzzer harness for the line reader.
 *
 * The first two bytes choose the line limit (1..1024) and a seed for how
 * the rest is split into reads. The events (lines with their CRLF flag,
 * too-long reports) must be identical whether the input arrives whole or
 * in random pieces, every line must fit the limit and contain no LF, and
 * every call must make progress. Differences abort.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct events {
	char *text; /* lines and markers, appended */
	size_t len, cap;
};

static void ev_add(struct events *e, const char *p, size_t n)
{
	if (e->len + n + 1 > e->cap) {
		size_t ncap = (e->len + n + 1) * 2;
		char *t = realloc(e->text, ncap);
		if (t == NULL)
			abort();
		e->text = t;
		e->cap = ncap;
	}
	memcpy(e->text + e->len, p, n);
	e->len += n;
}

/* Feed input in pieces whose sizes come from a small PRNG (0: whole). */
static void run(const uint8_t *in, size_t len, size_t max, uint32_t seed,
		struct events *ev)
{
	struct linereader lr;
	if (linereader_init(&lr, max) != 0)
		abort();
	size_t pos = 0;
	while (pos < len) {
		size_t piece = len - pos;
		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			piece = 1 + (seed >> 16) % 17;
			if (piece > len - pos)
				piece = len - pos;
		}
		const char *p = (const char *)in + pos;
		size_t n = piece;
		pos += piece;
		while (n > 0) {
			enum line_status st;
			struct line line;
			size_t used = linereader_feed(&lr, p, n, &st, &line);
			if (used == 0 || used > n)
				abort();
			p += used;
			n -= used;
			if (st == LINE_OK) {
				if (line.text.len + (line.crlf ? 2 : 1) > max ||
				    memchr(line.text.ptr, '\n', line.text.len))
					abort();
				ev_add(ev, "L", 1);
				ev_add(ev, line.text.ptr, line.text.len);
				ev_add(ev, line.crlf ? "\r\n" : "\n", line.crlf ? 2 : 1);
			} else if (st == LINE_TOO_LONG) {
				ev_add(ev, "T\n", 2);
			} else if (n != 0) {
				abort(); /* AGAIN only when everything was used */
			}
		}
	}
	ev_add(ev, linereader_has_partial(&lr) ? "P" : "-", 1);
	linereader_free(&lr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t max = 1 + (size_t)((data[0] << 2 | data[1] >> 6) & 1023);
	uint32_t seed = (uint32_t)data[1] | 1;
	struct events whole = {0}, split = {0};
	run(data + 2, size - 2, max, 0, &whole);
	run(data + 2, size - 2, max, seed, &split);
	if (whole.len != split.len || memcmp(whole.text, split.text, whole.len))
		abort();
	free(whole.text);
	free(split.text);
	return 0;
}
