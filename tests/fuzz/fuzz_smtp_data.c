/*
 * fuzz_smtp_data.c - libFuzzer harness for the DATA decoder
 * (smtpd/smtp_data.h). The first byte seeds how the rest is split into
 * feeds, and its top bit selects BDAT (raw) mode. Properties: the same output, error and end offset whole and
 * split; without an error the output has no bare CR, bare LF or NUL and
 * no line over 998 octets; the end is always right after "\r\n.\r\n" (or
 * ".\r\n" at the very start); the count stops one past max_size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../smtpd/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const char *p, size_t n)
{
	return buf_append(ctx, p, n) < 0 ? -1 : 0;
}

struct result {
	struct buf out;
	bool done;
	size_t end;
	enum smtp_data_error err;
};

static void run(const char *p, size_t n, unsigned seed, int64_t max, bool raw,
		struct result *r)
{
	struct smtp_data d;
	if (raw)
		smtp_data_init_raw(&d, max);
	else
		smtp_data_init(&d, max);
	if (buf_init(&r->out, 1 << 20) < 0)
		abort();
	size_t off = 0;
	r->done = false;
	while (off < n && !r->done) {
		size_t take = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 13 : n - off;
		if (take > n - off)
			take = n - off;
		size_t used = smtp_data_feed(&d, p + off, take, sink, &r->out, &r->done);
		if (used > take || (!r->done && used != take))
			abort();
		off += used;
	}
	if (raw) {
		if (r->done)
			abort(); /* BDAT data has no end marker */
		smtp_data_finish_raw(&d, sink, &r->out);
	}
	r->end = off;
	r->err = d.error;
	if (d.size > max + 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned seed = data[0] | 1u;
	bool raw = (data[0] & 0x80) != 0; /* BDAT mode */
	int64_t max = 64 + (data[0] & 0x7f) * 16;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	struct result a, b;
	run(p, n, 0, max, raw, &a);
	run(p, n, seed, max, raw, &b);
	if (a.done != b.done || a.end != b.end || a.err != b.err)
		abort();
	if (a.err == SMTP_DATA_OK &&
	    (a.out.len != b.out.len || memcmp(a.out.data, b.out.data, a.out.len) != 0))
		abort();
	if (a.done) {
		bool at_start = a.end == 3 && memcmp(p, ".\r\n", 3) == 0;
		if (!at_start && (a.end < 5 || memcmp(p + a.end - 5, "\r\n.\r\n", 5) != 0))
			abort();
	}
	if (a.err == SMTP_DATA_OK) {
		size_t line = 0;
		for (size_t i = 0; i < a.out.len; i++) {
			char c = a.out.data[i];
			if (c == '\0')
				abort();
			if (c == '\n' && (i == 0 || a.out.data[i - 1] != '\r'))
				abort();
			if (c == '\r' && i + 1 < a.out.len && a.out.data[i + 1] != '\n')
				abort();
			line = (c == '\n') ? 0 : line + 1;
			if (line > 999) /* 998 + the CR */
				abort();
		}
		if ((a.done || raw) && a.out.len > 0 &&
		    (a.out.len < 2 || memcmp(a.out.data + a.out.len - 2, "\r\n", 2) != 0))
			abort();
	}
	buf_free(&a.out);
	buf_free(&b.out);
	return 0;
}
