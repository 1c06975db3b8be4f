/*
 * test_smtp_data.c - the DATA decoder: dot-unstuffing, the one true end of
 * data (CRLF.CRLF), and every smuggling ending refused. Each case runs on
 * the whole input, byte by byte, and in 3- and 7-byte chunks: the output,
 * the error and where the message ended must not depend on the split.
 */
#include <string.h>

#include "../../common/buf.h"
#include "../../smtpd/smtp_data.h"
#include "test.h"

static int sink(void *ctx, const char *p, size_t n)
{
	return buf_append(ctx, p, n);
}

struct data_case {
	const char *label;
	const char *in;
	size_t in_len;   /* 0: strlen */
	int64_t max;     /* 0: 1 MB */
	bool want_done;
	size_t want_end; /* offset just after the end (when done) */
	enum smtp_data_error want_err;
	const char *want_out; /* when no error */
};

#define IN(s) s, sizeof(s) - 1

static void run_case(const struct data_case *c, size_t chunk)
{
	struct smtp_data d;
	struct buf out;
	CHECK(buf_init(&out, 1 << 20) == 0);
	smtp_data_init(&d, c->max ? c->max : (1 << 20));
	size_t n = c->in_len ? c->in_len : strlen(c->in);
	size_t off = 0;
	bool done = false;
	while (off < n && !done) {
		size_t take = chunk && chunk < n - off ? chunk : n - off;
		size_t used = smtp_data_feed(&d, c->in + off, take, sink, &out, &done);
		CHECK(used <= take);
		if (!done)
			CHECK_INT(used, take);
		off += used;
	}
	CHECK_INT(done, c->want_done);
	if (c->want_done)
		CHECK_INT(off, c->want_end);
	CHECK_INT(d.error, c->want_err);
	if (c->want_err == SMTP_DATA_OK && c->want_out != NULL) {
		CHECK_INT(out.len, strlen(c->want_out));
		CHECK(out.len == strlen(c->want_out) &&
		      memcmp(out.data, c->want_out, out.len) == 0);
		CHECK_INT(d.size, (int64_t)out.len);
	}
	buf_free(&out);
}

static const struct data_case data_cases[] = {
	{"empty message", IN(".\r\n"), 0, true, 3, SMTP_DATA_OK, ""},
	{"one line", IN("Hi\r\n.\r\n"), 0, true, 7, SMTP_DATA_OK, "Hi\r\n"},
	{"stuffed dot", IN("..x\r\n.\r\n"), 0, true, 8, SMTP_DATA_OK, ".x\r\n"},
	{"two stuffed dots", IN("...\r\n.\r\n"), 0, true, 8, SMTP_DATA_OK, "..\r\n"},
	{"lone dot unstuffed", IN(".x\r\n.\r\n"), 0, true, 7, SMTP_DATA_OK, "x\r\n"},
	{"dot mid line", IN("a.b\r\n.\r\n"), 0, true, 8, SMTP_DATA_OK, "a.b\r\n"},
	{"next command stays", IN("a\r\n.\r\nQUIT\r\n"), 0, true, 6, SMTP_DATA_OK, "a\r\n"},
	{"no end yet", IN("a\r\nb\r\n"), 0, false, 0, SMTP_DATA_OK, "a\r\nb\r\n"},
	{"dot CR held", IN("a\r\n.\r"), 0, false, 0, SMTP_DATA_OK, "a\r\n"},
	{"blank lines", IN("\r\n\r\n.\r\n"), 0, true, 7, SMTP_DATA_OK, "\r\n\r\n"},
	/* smuggling endings: never an end, always an error */
	{"LF.LF", IN("a\n.\nMAIL\r\n"), 0, false, 0, SMTP_DATA_BARE_LF, NULL},
	{"LF.LF then end", IN("a\n.\nb\r\n.\r\n"), 0, true, 10, SMTP_DATA_BARE_LF, NULL},
	{"CRLF.LF", IN("a\r\n.\nb\r\n.\r\n"), 0, true, 11, SMTP_DATA_BARE_LF, NULL},
	{"LF.CRLF", IN("a\n.\r\nb\r\n.\r\n"), 0, true, 11, SMTP_DATA_BARE_LF, NULL},
	{"CR.CR", IN("a\r.\rb\r\n.\r\n"), 0, true, 10, SMTP_DATA_BARE_CR, NULL},
	{"CRLF.CR", IN("a\r\n.\rb\r\n.\r\n"), 0, true, 11, SMTP_DATA_BARE_CR, NULL},
	{"CR.CRLF", IN("a\r.\r\nb\r\n.\r\n"), 0, true, 11, SMTP_DATA_BARE_CR, NULL},
	{"bare LF first", IN("\n.\r\n"), 0, false, 0, SMTP_DATA_BARE_LF, NULL},
	{"double CR", IN("a\r\r\n.\r\n"), 0, true, 7, SMTP_DATA_BARE_CR, NULL},
	{"NUL", "a\0b\r\n.\r\n", 8, 0, true, 8, SMTP_DATA_NUL, NULL},
	{"NUL before dot", "a\r\n\0.\r\n.\r\n", 10, 0, true, 10, SMTP_DATA_NUL, NULL},
	/* sizes */
	{"exactly max", IN("abc\r\n.\r\n"), 5, true, 8, SMTP_DATA_OK, "abc\r\n"},
	{"over max", IN("abcd\r\n.\r\n"), 5, true, 9, SMTP_DATA_TOO_BIG, NULL},
};

static void test_smtp_data_table(void)
{
	static const size_t chunks[] = {0, 1, 3, 7};
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
		test_state.label = data_cases[i].label;
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++)
			run_case(&data_cases[i], chunks[k]);
	}
}

static void test_smtp_data_line_length(void)
{
	static char in[2200];
	/* 998 octets: fine */
	memset(in, 'x', 998);
	memcpy(in + 998, "\r\n.\r\n", 5);
	struct data_case ok = {"998", in, 1003, 0, true, 1003, SMTP_DATA_OK, NULL};
	test_state.label = ok.label;
	run_case(&ok, 0);
	run_case(&ok, 1);
	/* 999: refused, the end is still found */
	memset(in, 'x', 999);
	memcpy(in + 999, "\r\n.\r\n", 5);
	struct data_case bad = {"999", in, 1004, 0, true, 1004, SMTP_DATA_LINE_TOO_LONG, NULL};
	test_state.label = bad.label;
	run_case(&bad, 0);
	run_case(&bad, 1);
	/* a stuffed dot does not count: "." + 998 octets */
	in[0] = '.';
	memset(in + 1, 'y', 998);
	memcpy(in + 999, "\r\n.\r\n", 5);
	struct data_case st = {"stuffed 998", in, 1004, 0, true, 1004, SMTP_DATA_OK, NULL};
	test_state.label = st.label;
	run_case(&st, 0);
}

static int failing_sink(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	(void)p;
	(void)n;
	return -1;
}

static void test_smtp_data_sink_failure(void)
{
	test_state.label = "sink fails";
	struct smtp_data d;
	bool done;
	smtp_data_init(&d, 100);
	const char *in = "abc\r\n.\r\n";
	CHECK_INT(smtp_data_feed(&d, in, strlen(in), failing_sink, NULL, &done), 8);
	CHECK(done);
	CHECK_INT(d.error, SMTP_DATA_SINK);
}

/* BDAT: octets as they are, the same line rules, no end marker. */
static void test_smtp_data_raw(void)
{
	static const struct {
		const char *label, *in, *want;
		enum smtp_data_error err;
	} cases[] = {
		{"dots kept", "..a\r\n.\r\n", "..a\r\n.\r\n", SMTP_DATA_OK},
		{"missing final CRLF added", "abc", "abc\r\n", SMTP_DATA_OK},
		{"empty", "", "", SMTP_DATA_OK},
		{"bare LF", "a\nb\r\n", NULL, SMTP_DATA_BARE_LF},
		{"bare CR at the end", "a\r", NULL, SMTP_DATA_BARE_CR},
		{"bare CR inside", "a\rb\r\n", NULL, SMTP_DATA_BARE_CR},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		for (size_t chunk = 0; chunk < 3; chunk++) {
			struct smtp_data d;
			struct buf out;
			CHECK(buf_init(&out, 4096) == 0);
			smtp_data_init_raw(&d, 1000);
			size_t n = strlen(cases[i].in);
			for (size_t off = 0; off < n;) {
				size_t take = chunk && chunk < n - off ? chunk : n - off;
				bool done = false;
				CHECK_INT(smtp_data_feed(&d, cases[i].in + off, take, sink, &out, &done), take);
				CHECK(!done);
				off += take;
			}
			smtp_data_finish_raw(&d, sink, &out);
			CHECK_INT(d.error, cases[i].err);
			if (cases[i].want != NULL) {
				CHECK_INT(out.len, strlen(cases[i].want));
				CHECK(memcmp(out.data, cases[i].want, out.len) == 0);
			}
			buf_free(&out);
		}
	}
}

TEST_SUITE(smtp_data, {"table", test_smtp_data_table},
	   {"line length", test_smtp_data_line_length},
	   {"sink failure", test_smtp_data_sink_failure},
	   {"raw (BDAT)", test_smtp_data_raw});
