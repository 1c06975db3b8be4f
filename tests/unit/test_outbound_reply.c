/*
 * test_outbound_reply.c - the outbound client's SMTP reply parser.
 *
 * Each case runs on the whole input and again fed in chunks of 1, 2, 3
 * and 7 bytes (a remote server decides where TCP splits its replies); the
 * replies seen must be the same for every split.
 */
#include <stdio.h>
#include <string.h>

#include "../../outbound/outbound.h"
#include "test.h"

struct want {
	int code;
	const char *enhanced;
	const char *text;
	int lines;
};

struct reply_case {
	const char *label;
	const char *in;
	struct want want[4]; /* replies in order, code 0 ends */
	const char *error;   /* substring of the error at the end, or NULL */
};

static const struct reply_case cases[] = {
	{"one line", "250 ok\r\n", {{250, "", "ok", 1}}, NULL},
	{"bare code", "250\r\n", {{250, "", "", 1}}, NULL},
	{"bare LF", "220 hi\n", {{220, "", "hi", 1}}, NULL},
	{"enhanced", "550 5.1.1 no such user\r\n",
	 {{550, "5.1.1", "5.1.1 no such user", 1}}, NULL},
	{"enhanced class mismatch ignored", "550 4.1.1 odd\r\n",
	 {{550, "", "4.1.1 odd", 1}}, NULL},
	{"not enhanced", "250 2.0 short\r\n", {{250, "", "2.0 short", 1}}, NULL},
	{"multi-line EHLO",
	 "250-mx.remote.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n",
	 {{250, "", "mx.remote.test\nPIPELINING\nSIZE 1000\nSTARTTLS", 4}}, NULL},
	{"empty last line", "250-a\r\n250 \r\n", {{250, "", "a\n", 2}}, NULL},
	{"pipelined replies", "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n",
	 {{250, "2.1.0", "2.1.0 Ok", 1},
	  {250, "2.1.5", "2.1.5 Ok", 1},
	  {550, "5.1.1", "5.1.1 no", 1}},
	 NULL},
	{"421", "421 4.3.2 bye\r\n", {{421, "4.3.2", "4.3.2 bye", 1}}, NULL},
	{"code mismatch", "250-a\r\n251 b\r\n", {{0}}, "different codes"},
	{"bad code", "600 no\r\n", {{0}}, "2xx-5xx"},
	{"letters", "abc\r\n", {{0}}, "2xx-5xx"},
	{"short", "25\r\n", {{0}}, "shorter"},
	{"bad separator", "250x\r\n", {{0}}, "space or hyphen"},
	{"partial reply stays pending", "250-a\r\n250-b\r\n", {{0}}, NULL},
};

static void run_case(const struct reply_case *c, size_t chunk)
{
	struct ob_reply_parser p;
	CHECK(ob_reply_parser_init(&p) == 0);
	size_t len = strlen(c->in), off = 0, got = 0;
	bool failed = false;
	while (off < len && !failed) {
		size_t n = len - off < chunk ? len - off : chunk;
		size_t pos = 0;
		while (pos < n) {
			size_t used;
			struct ob_reply r;
			enum ob_reply_status st =
				ob_reply_feed(&p, c->in + off + pos, n - pos, &used, &r);
			pos += used;
			if (st == OB_REPLY_ERROR) {
				failed = true;
				break;
			}
			if (st == OB_REPLY_DONE) {
				const struct want *w = &c->want[got < 4 ? got : 3];
				CHECK(got < 4 && w->code != 0);
				CHECK_INT(r.code, w->code);
				CHECK_STR(r.enhanced, w->enhanced);
				CHECK_STR(r.text, w->text);
				CHECK_INT(r.lines, w->lines);
				got++;
			}
			if (used == 0 && st == OB_REPLY_AGAIN)
				break;
		}
		off += n;
	}
	size_t want_n = 0;
	while (want_n < 4 && c->want[want_n].code)
		want_n++;
	CHECK_INT(got, want_n);
	if (c->error) {
		CHECK(failed);
		CHECK(p.error && strstr(p.error, c->error));
	} else {
		CHECK(!failed);
	}
	ob_reply_parser_free(&p);
}

static void test_reply_cases(void)
{
	static const size_t chunks[] = {100000, 1, 2, 3, 7};
	char label[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
			snprintf(label, sizeof label, "%s /%zu", cases[i].label,
				 chunks[k]);
			test_state.label = label;
			run_case(&cases[i], chunks[k]);
		}
}

static void test_reply_bounds(void)
{
	struct ob_reply_parser p;
	struct ob_reply r;
	size_t used;
	CHECK(ob_reply_parser_init(&p) == 0);
	/* A line longer than OB_REPLY_LINE_MAX: an error, never growth. */
	char line[OB_REPLY_LINE_MAX + 100];
	memset(line, 'x', sizeof line);
	memcpy(line, "250 ", 4);
	line[sizeof line - 2] = '\r';
	line[sizeof line - 1] = '\n';
	CHECK(ob_reply_feed(&p, line, sizeof line, &used, &r) == OB_REPLY_ERROR);
	CHECK(strstr(p.error, "too long") != NULL);
	ob_reply_parser_reset(&p);
	/* Too many lines. */
	enum ob_reply_status st = OB_REPLY_AGAIN;
	for (int i = 0; i <= OB_REPLY_LINES_MAX && st == OB_REPLY_AGAIN; i++)
		st = ob_reply_feed(&p, "250-x\r\n", 7, &used, &r);
	CHECK(st == OB_REPLY_ERROR);
	ob_reply_parser_reset(&p);
	/* Text past OB_REPLY_TEXT_MAX is cut and flagged, the reply still parses. */
	static char many[60 * 90];
	size_t n = 0;
	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "250%c%075d\r\n",
				      i == 59 ? ' ' : '-', i);
	CHECK(ob_reply_feed(&p, many, n, &used, &r) == OB_REPLY_DONE);
	CHECK(r.truncated);
	CHECK_INT(r.text_len, OB_REPLY_TEXT_MAX - 1);
	CHECK_INT(strlen(r.text), OB_REPLY_TEXT_MAX - 1);
	CHECK(!ob_reply_parser_pending(&p));
	ob_reply_feed(&p, "250-a\r\n2", 8, &used, &r);
	CHECK(ob_reply_parser_pending(&p));
	ob_reply_parser_reset(&p); /* what STARTTLS does */
	CHECK(!ob_reply_parser_pending(&p));
	ob_reply_parser_free(&p);
}

TEST_SUITE(outbound_reply, {"cases whole and split", test_reply_cases},
	   {"bounds", test_reply_bounds});
