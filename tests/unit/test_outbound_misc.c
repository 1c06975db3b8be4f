/*
 * test_outbound_misc.c - the retry schedule, the DATA dot-stuffer and the
 * 8-bit scan of outbound delivery.
 */
#include <stdio.h>
#include <string.h>

#include "../../outbound/outbound.h"
#include "test.h"

static void test_backoff_schedule(void)
{
	static const struct {
		int attempts;
		int64_t want;
	} t[] = {
		{0, 60}, {1, 60}, {2, 300}, {3, 900}, {4, 1800}, {5, 3600},
		{6, 7200}, {7, 14400}, {8, 14400}, {100, 14400},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		CHECK_INT(ob_backoff_delay(t[i].attempts), t[i].want);
	/* Jitter stays within +-10% and differs between seeds. */
	int64_t lo = INT64_MAX, hi = 0;
	for (uint32_t seed = 0; seed < 1000; seed++) {
		int64_t d = ob_backoff_next(1000000, 7, seed) - 1000000;
		CHECK(d >= 14400 - 1440 && d <= 14400 + 1440);
		if (d < lo)
			lo = d;
		if (d > hi)
			hi = d;
	}
	CHECK(hi - lo > 1000); /* spread, not one instant */
	CHECK(ob_backoff_expired(0, OB_LIFETIME_DEFAULT, OB_LIFETIME_DEFAULT));
	CHECK(!ob_backoff_expired(0, OB_LIFETIME_DEFAULT - 1, OB_LIFETIME_DEFAULT));
}

static void stuff_all(const char *in, size_t chunk, struct buf *out)
{
	struct ob_stuffer s;
	ob_stuffer_init(&s);
	size_t len = strlen(in);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		CHECK(ob_stuff(&s, in + off, n, out) == 0);
	}
	CHECK(ob_stuff_end(&s, out) == 0);
}

static void test_stuffer(void)
{
	static const struct {
		const char *label, *in, *want;
	} t[] = {
		{"plain", "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"leading dot", ".x\r\n", "..x\r\n.\r\n"},
		{"dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"dots mid-line", "a.b.\r\n", "a.b.\r\n.\r\n"},
		{"no final CRLF", "a\r\n.b", "a\r\n..b\r\n.\r\n"},
		{"empty", "", ".\r\n"},
		{"many dots", "..\r\n...\r\n", "...\r\n....\r\n.\r\n"},
	};
	static const size_t chunks[] = {1000, 1, 2, 3};
	char label[96];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		for (size_t k = 0; k < 4; k++) {
			snprintf(label, sizeof label, "%s /%zu", t[i].label, chunks[k]);
			test_state.label = label;
			struct buf out;
			CHECK(buf_init(&out, 1000) == 0);
			stuff_all(t[i].in, chunks[k], &out);
			CHECK_STR(out.data, t[i].want);
			buf_free(&out);
		}
}

static void test_scan(void)
{
	static const struct {
		const char *label, *in;
		bool body_8bit, header_8bit;
	} t[] = {
		{"ascii", "Subject: x\r\n\r\nhello\r\n", false, false},
		{"8bit body", "Subject: x\r\n\r\nh\xc3\xa9llo\r\n", true, false},
		{"8bit header", "Subject: \xc3\xa9t\xc3\xa9\r\n\r\nhello\r\n", true, true},
		{"no body", "Subject: x\r\n", false, false},
		{"blank line first", "\r\n\xff", true, false},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
			test_state.label = t[i].label;
			struct ob_scan sc;
			ob_scan_init(&sc);
			size_t len = strlen(t[i].in);
			for (size_t off = 0; off < len; off += chunk)
				ob_scan_feed(&sc, t[i].in + off,
					     len - off < chunk ? len - off : chunk);
			CHECK_INT(sc.body_8bit, t[i].body_8bit);
			CHECK_INT(sc.header_8bit, t[i].header_8bit);
		}
}

TEST_SUITE(outbound_misc, {"backoff schedule", test_backoff_schedule},
	   {"dot-stuffing", test_stuffer}, {"8-bit scan", test_scan});
