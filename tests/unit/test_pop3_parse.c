/*
 * test_pop3_parse.c - pop3d's pure parsers: the command line split, the
 * argument split, message numbers and line counts, base64 (AUTH PLAIN),
 * dot-stuffing with the TOP cut, and the per-address login penalty.
 *
 * Command lines also go through the shared line reader fed whole and one
 * byte at a time, and the stuffer sees every body split at every offset
 * and byte by byte: a peer (or the store's chunking) decides the splits.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../pop3d/pop3_int.h"
#include "../../pop3d/pop3_parse.h"
#include "../../pop3d/pop3_penalty.h"
#include "../../pop3d/pop3_stuff.h"
#include "test.h"

struct line_case {
	const char *label;
	const char *line;
	const char *keyword; /* NULL: parse error */
	const char *rest;    /* or the error text */
	const char *cmd;     /* the table entry found, NULL: unknown */
};

static const struct line_case line_cases[] = {
	{"plain", "STAT", "STAT", "", "STAT"},
	{"lowercase", "stat", "STAT", "", "STAT"},
	{"mixed case", "ReTr 1", "RETR", "1", "RETR"},
	{"three letters", "TOP 1 2", "TOP", "1 2", "TOP"},
	{"rest with spaces", "PASS my secret pw", "PASS", "my secret pw", "PASS"},
	{"trailing space", "LIST ", "LIST", "", "LIST"},
	{"double space", "RETR  1", "RETR", " 1", "RETR"},
	{"unknown 4", "XTND", "XTND", "", NULL},
	{"apop not offered", "APOP bob 0123", "APOP", "bob 0123", NULL},
	{"empty", "", NULL, "empty command", NULL},
	{"leading space", " STAT", NULL, "empty command", NULL},
	{"five letters", "STATS", NULL, "unknown command", NULL},
	{"digit in keyword", "ST4T", NULL, "unknown command", NULL},
	{"control char", "STAT\x01", NULL, "control character in command", NULL},
	{"NUL inside", "US\0R", NULL, "control character in command", NULL},
	{"tab", "STAT\t1", NULL, "control character in command", NULL},
	{"high byte", "ST\xc3\xa4T", NULL, "unknown command", NULL},
};

static void check_line(const struct line_case *c, struct slice line)
{
	struct pop3_cmdline cl;
	const char *err = NULL;
	int rc = pop3_parse_line(line, &cl, &err);
	if (c->keyword == NULL) {
		CHECK_INT(rc, -1);
		CHECK_STR(err, c->rest);
		return;
	}
	CHECK_INT(rc, 0);
	if (rc != 0)
		return;
	CHECK_STR(cl.keyword, c->keyword);
	char rest[256];
	CHECK(slice_copy(cl.rest, rest, sizeof(rest)) == 0);
	CHECK_STR(rest, c->rest);
	const struct pop3_command *cmd = pop3_command_find(cl.keyword);
	if (c->cmd == NULL)
		CHECK(cmd == NULL);
	else
		CHECK(cmd != NULL && strcmp(cmd->name, c->cmd) == 0);
}

static size_t case_len(const struct line_case *c)
{
	/* "US\0R" has a NUL inside: use the literal's size for that one. */
	return strcmp(c->label, "NUL inside") == 0 ? 4 : strlen(c->line);
}

static void test_parse_line_whole(void)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		test_state.label = c->label;
		check_line(c, (struct slice){c->line, case_len(c)});
	}
}

/* The same lines with CRLF through the line reader, one byte at a time. */
static void test_parse_line_bytewise(void)
{
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		test_state.label = c->label;
		char input[300];
		size_t n = case_len(c);
		memcpy(input, c->line, n);
		memcpy(input + n, "\r\n", 2);
		struct linereader lr;
		CHECK(linereader_init(&lr, POP3_COMMAND_LINE_MAX) == 0);
		int lines = 0;
		for (size_t k = 0; k < n + 2; k++) {
			enum line_status st;
			struct line line;
			size_t used = linereader_feed(&lr, input + k, 1, &st, &line);
			CHECK_INT(used, 1);
			if (st == LINE_OK) {
				lines++;
				CHECK(line.crlf);
				check_line(c, line.text);
			}
		}
		CHECK_INT(lines, 1);
		linereader_free(&lr);
	}
}

static void test_parse_args(void)
{
	static const struct {
		const char *label, *rest;
		int n;
		const char *a0, *a1;
	} cases[] = {
		{"none", "", 0, NULL, NULL},
		{"spaces only", "   ", 0, NULL, NULL},
		{"one", "1", 1, "1", NULL},
		{"two", "1 10", 2, "1", "10"},
		{"runs of spaces", "  1   10  ", 2, "1", "10"},
		{"three", "1 2 3", -1, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		struct slice argv[2];
		int n = pop3_parse_args(slice_from_str(cases[i].rest), argv, 2);
		CHECK_INT(n, cases[i].n);
		char w[32];
		if (n >= 1) {
			CHECK(slice_copy(argv[0], w, sizeof(w)) == 0);
			CHECK_STR(w, cases[i].a0);
		}
		if (n >= 2) {
			CHECK(slice_copy(argv[1], w, sizeof(w)) == 0);
			CHECK_STR(w, cases[i].a1);
		}
	}
}

static void test_parse_numbers(void)
{
	static const struct {
		const char *label, *text;
		int msg_rc;
		uint32_t msg;
		int count_rc;
		uint32_t count;
	} cases[] = {
		{"one", "1", 0, 1, 0, 1},
		{"zero", "0", -1, 0, 0, 0},
		{"leading zero", "007", 0, 7, 0, 7},
		{"max message", "1000000", 0, 1000000, 0, 1000000},
		{"past max message", "1000001", -1, 0, 0, 1000001},
		{"int max", "2147483647", -1, 0, 0, 2147483647u},
		{"past int", "2147483648", -1, 0, -1, 0},
		{"2^32 wraps not", "4294967297", -1, 0, -1, 0},
		{"eleven digits", "00000000001", -1, 0, -1, 0},
		{"empty", "", -1, 0, -1, 0},
		{"plus", "+1", -1, 0, -1, 0},
		{"minus", "-1", -1, 0, -1, 0},
		{"space", "1 ", -1, 0, -1, 0},
		{"hex", "0x10", -1, 0, -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		uint32_t v = 0;
		int rc = pop3_parse_msgnum(slice_from_str(cases[i].text), &v);
		CHECK_INT(rc, cases[i].msg_rc);
		if (rc == 0)
			CHECK_INT(v, cases[i].msg);
		rc = pop3_parse_count(slice_from_str(cases[i].text), &v);
		CHECK_INT(rc, cases[i].count_rc);
		if (rc == 0)
			CHECK_INT(v, cases[i].count);
	}
}

static void test_base64(void)
{
	static const struct {
		const char *label, *in;
		int n;
		const char *out;
	} cases[] = {
		{"empty", "", 0, ""},
		{"one byte", "Zg==", 1, "f"},
		{"two bytes", "Zm8=", 2, "fo"},
		{"three bytes", "Zm9v", 3, "foo"},
		{"plain", "AGJvYgBwdw==", 7, "\0bob\0pw"},
		{"short pad", "Zg=", -1, NULL},
		{"pad first", "Z===", -1, NULL},
		{"data after pad", "Zg==Zm9v", -1, NULL},
		{"bad char", "Zm9v!A==", -1, NULL},
		{"whitespace", "Zm9 v", -1, NULL},
		{"no pad", "Zm8", -1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		unsigned char out[32];
		long n = base64_decode(slice_from_str(cases[i].in), out,
					   sizeof(out));
		CHECK_INT(n, cases[i].n);
		if (n > 0)
			CHECK(memcmp(out, cases[i].out, (size_t)n) == 0);
	}
	test_state.label = "too small";
	unsigned char two[2];
	CHECK_INT(base64_decode(slice_from_str("Zm9v"), two, 2), -1);
}

/* ---- dot-stuffing ------------------------------------------------------ */

static int emit_buf(void *ctx, const char *p, size_t n)
{
	return buf_append(ctx, p, n);
}

struct stuff_case {
	const char *label;
	bool top;
	uint32_t lines;
	const char *in, *want;
};

static const struct stuff_case stuff_cases[] = {
	{"empty", false, 0, "", ".\r\n"},
	{"plain", false, 0, "a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
	{"dots", false, 0, ".a\r\n..b\r\nc.\r\n.\r\n",
	 "..a\r\n...b\r\nc.\r\n..\r\n.\r\n"},
	{"no final crlf", false, 0, "a\r\nb", "a\r\nb\r\n.\r\n"},
	{"dot no final crlf", false, 0, ".", "..\r\n.\r\n"},
	{"bare lf", false, 0, "a\n.b\n", "a\n..b\n.\r\n"},
	{"lone cr stays", false, 0, "a\rb\r\n", "a\rb\r\n.\r\n"},
	{"top 0", true, 0, "H: v\r\nI: w\r\n\r\nb1\r\nb2\r\n",
	 "H: v\r\nI: w\r\n\r\n.\r\n"},
	{"top 1 stuffed", true, 1, "H: v\r\n\r\n.b1\r\nb2\r\n",
	 "H: v\r\n\r\n..b1\r\n.\r\n"},
	{"top all", true, 9, "H: v\r\n\r\nb1\r\nb2\r\n",
	 "H: v\r\n\r\nb1\r\nb2\r\n.\r\n"},
	{"top no body", true, 3, "H: v\r\nI: w\r\n", "H: v\r\nI: w\r\n.\r\n"},
	{"top blank body lines", true, 2, "H: v\r\n\r\n\r\n\r\nx\r\n",
	 "H: v\r\n\r\n\r\n\r\n.\r\n"},
	{"top bare lf header end", true, 1, "H: v\n\nb1\nb2\n",
	 "H: v\n\nb1\n.\r\n"},
	{"top header w/o end", true, 0, "H: v", "H: v\r\n.\r\n"},
};

static void run_stuff(const struct stuff_case *c, const size_t *cuts,
		      size_t ncuts)
{
	struct buf out;
	CHECK(buf_init(&out, 4096) == 0);
	struct pop3_stuffer st;
	pop3_stuffer_init(&st, c->top, c->lines);
	size_t len = strlen(c->in), prev = 0;
	for (size_t k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : len;
		CHECK(pop3_stuff(&st, c->in + prev, end - prev, emit_buf, &out) == 0);
		prev = end;
	}
	CHECK(pop3_stuff_finish(&st, emit_buf, &out) == 0);
	CHECK_STR(out.data, c->want);
	buf_free(&out);
}

static void test_stuff_every_split(void)
{
	for (size_t i = 0; i < sizeof(stuff_cases) / sizeof(stuff_cases[0]); i++) {
		const struct stuff_case *c = &stuff_cases[i];
		test_state.label = c->label;
		run_stuff(c, NULL, 0);
		size_t len = strlen(c->in);
		for (size_t cut = 0; cut <= len; cut++)
			run_stuff(c, &cut, 1);
		size_t cuts[64];
		for (size_t k = 0; k < len && k < 64; k++)
			cuts[k] = k + 1;
		run_stuff(c, cuts, len < 64 ? len : 64);
	}
}

/* The stuffing rule spelled out byte by byte, to check the block scanner
 * against: a dot opening a line is doubled; the end is CRLF "." CRLF. */
static void stuff_reference(const char *in, size_t len, struct buf *out)
{
	bool line_start = true;
	for (size_t i = 0; i < len; i++) {
		if (line_start && in[i] == '.')
			CHECK(buf_append(out, ".", 1) == 0);
		CHECK(buf_append(out, &in[i], 1) == 0);
		line_start = in[i] == '\n';
	}
	if (!line_start)
		CHECK(buf_append(out, "\r\n", 2) == 0);
	CHECK(buf_append(out, ".\r\n", 3) == 0);
}

/* Long bodies (the scanner tests 16 positions per step) with line ends
 * and dots everywhere, whole and cut at every offset mod 37. */
static void test_stuff_long_bodies(void)
{
	static const char alphabet[] = "ab.\r\n..\n";
	uint32_t x = 12345;
	char in[700];
	for (int round = 0; round < 300; round++) {
		size_t len = (size_t)(round * 7 % 700);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			/* mostly letters, so "\n." lands at every alignment */
			in[i] = (x >> 16) % 4 == 0 ? alphabet[(x >> 8) % 9] : 'a';
		}
		struct buf want, got;
		CHECK(buf_init(&want, 4096) == 0 && buf_init(&got, 4096) == 0);
		stuff_reference(in, len, &want);
		struct pop3_stuffer st;
		pop3_stuffer_init(&st, false, 0);
		size_t step = round % 2 ? 37 : len + 1;
		for (size_t off = 0; off < len; off += step) {
			size_t n = len - off < step ? len - off : step;
			CHECK(pop3_stuff(&st, in + off, n, emit_buf, &got) == 0);
		}
		CHECK(pop3_stuff_finish(&st, emit_buf, &got) == 0);
		CHECK_INT(got.len, want.len);
		CHECK(memcmp(got.data, want.data, want.len) == 0);
		buf_free(&want);
		buf_free(&got);
	}
}

/* ---- the login penalty ------------------------------------------------- */

static void test_penalty(void)
{
	static struct pop3_penalty p;
	pop3_penalty_init(&p);
	uint32_t fails;
	const unsigned want[] = {500, 1000, 2000, 4000, 8000, 15000, 15000};
	for (size_t i = 0; i < 7; i++) {
		CHECK_INT(pop3_penalty_fail(&p, "192.0.2.1", 1000, &fails), want[i]);
		CHECK_INT(fails, i + 1);
	}
	CHECK(!pop3_penalty_locked(&p, "192.0.2.1", 1000));
	for (int i = 0; i < 3; i++)
		(void)pop3_penalty_fail(&p, "192.0.2.1", 1000, &fails);
	CHECK(pop3_penalty_locked(&p, "192.0.2.1", 1000));
	CHECK(!pop3_penalty_locked(&p, "192.0.2.2", 1000));
	CHECK_INT(pop3_penalty_fail(&p, "192.0.2.2", 1000, &fails), 500);
	/* the window passes: forgotten */
	CHECK(!pop3_penalty_locked(&p, "192.0.2.1", 1000 + POP3_PENALTY_WINDOW + 1));
	CHECK_INT(pop3_penalty_fail(&p, "192.0.2.1", 3000, &fails), 500);
	pop3_penalty_clear(&p, "192.0.2.1");
	CHECK_INT(pop3_penalty_fail(&p, "192.0.2.1", 3000, &fails), 500);
	/* a flood of addresses recycles the oldest slot, never grows */
	char ip[32];
	for (int i = 0; i < POP3_PENALTY_SLOTS * 2; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 256, i % 256);
		(void)pop3_penalty_fail(&p, ip, 4000 + i, &fails);
		CHECK_INT(fails, 1);
	}
}

TEST_SUITE(pop3_parse, {"parse_line_whole", test_parse_line_whole},
	   {"parse_line_bytewise", test_parse_line_bytewise},
	   {"parse_args", test_parse_args}, {"parse_numbers", test_parse_numbers},
	   {"base64", test_base64}, {"stuff_every_split", test_stuff_every_split},
	   {"stuff_long_bodies", test_stuff_long_bodies},
	   {"penalty", test_penalty});
