/*
 * fuzz_outbound_reply.c - libFuzzer harness for the outbound client's SMTP
 * reply parser (outbound/reply.c), whose input is whatever a remote server
 * sends.
 *
 * The input is parsed whole and again in pieces whose sizes come from the
 * first byte; both runs must see the same replies (code, text, line count)
 * and the same error. Every reply must have a 2xx-5xx code, text within
 * OB_REPLY_TEXT_MAX and a NUL at text_len; every call must make progress.
 * Any difference aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../outbound/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint32_t hash;
	int n;
	bool error;
};

static uint32_t mixin(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 16777619u;
	return h;
}

static void run(const char *in, size_t len, size_t step, struct seen *s)
{
	struct ob_reply_parser p;
	if (ob_reply_parser_init(&p) != 0)
		abort();
	memset(s, 0, sizeof *s);
	s->hash = 2166136261u;
	size_t off = 0;
	while (off < len && !s->error) {
		size_t n = len - off < step ? len - off : step;
		size_t pos = 0;
		while (pos < n) {
			size_t used = 0;
			struct ob_reply r;
			enum ob_reply_status st =
				ob_reply_feed(&p, in + off + pos, n - pos, &used, &r);
			if (used > n - pos)
				abort();
			pos += used;
			if (st == OB_REPLY_ERROR) {
				s->error = true;
				break;
			}
			if (st == OB_REPLY_DONE) {
				if (r.code < 200 || r.code > 599 ||
				    r.text_len >= OB_REPLY_TEXT_MAX ||
				    r.text[r.text_len] != '\0' || r.lines < 1 ||
				    r.lines > OB_REPLY_LINES_MAX)
					abort();
				s->hash = mixin(s->hash, &r.code, sizeof r.code);
				s->hash = mixin(s->hash, r.text, r.text_len);
				s->hash = mixin(s->hash, r.enhanced, strlen(r.enhanced));
				s->n++;
			} else if (used == 0) {
				abort(); /* AGAIN must consume something */
			}
		}
		off += n;
	}
	ob_reply_parser_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)(data[0] % 13) + 1;
	const char *in = (const char *)data + 1;
	struct seen whole, split;
	run(in, size - 1, size, &whole);
	run(in, size - 1, step, &split);
	if (whole.error != split.error || whole.n != split.n ||
	    whole.hash != split.hash)
		abort();
	return 0;
}
