/*
 * test_buf.c - the capped buffer, slices and the line reader.
 *
 * Every line reader case runs on the whole input and again split into
 * chunks of 1, 2, 3 and 7 bytes, because a peer decides where TCP splits
 * its lines; the events seen must be the same for every split.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../common/buf.h"
#include "test.h"

static void test_buf_cap(void)
{
	struct buf b;
	CHECK(buf_init(&b, 10) == 0);
	CHECK_STR(b.data, "");
	CHECK(buf_append(&b, "hello", 5) == 0);
	CHECK(buf_append_str(&b, "world") == 0);
	CHECK_INT(b.len, 10);
	CHECK_STR(b.data, "helloworld");
	errno = 0;
	CHECK(buf_append(&b, "!", 1) == -1);
	CHECK_INT(errno, EMSGSIZE);
	CHECK_STR(b.data, "helloworld"); /* unchanged on failure */
	CHECK(buf_append(&b, "", 0) == 0);
	buf_consume(&b, 5);
	CHECK_STR(b.data, "world");
	CHECK_INT(b.len, 5);
	buf_consume(&b, 99);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	buf_free(&b);
	CHECK(b.data == NULL);
}

static void test_buf_grow(void)
{
	struct buf b;
	char big[5000];
	memset(big, 'x', sizeof(big));
	CHECK(buf_init(&b, 100000) == 0);
	for (int i = 0; i < 20; i++)
		CHECK(buf_append(&b, big, sizeof(big)) == 0);
	CHECK_INT(b.len, 100000);
	CHECK(b.cap <= b.max + 1);
	CHECK(b.data[b.len] == '\0');
	CHECK(buf_append(&b, "y", 1) == -1);
	buf_reset(&b);
	CHECK_INT(b.len, 0);
	CHECK(buf_append(&b, "y", 1) == 0);
	buf_free(&b);
}

static void test_buf_printf(void)
{
	struct buf b;
	CHECK(buf_init(&b, 20) == 0);
	CHECK(buf_printf(&b, "%d-%s", 42, "ab") == 0);
	CHECK_STR(b.data, "42-ab");
	/* grows past the first allocation */
	CHECK(buf_printf(&b, "%s", "0123456789") == 0);
	CHECK_STR(b.data, "42-ab0123456789");
	errno = 0;
	CHECK(buf_printf(&b, "%s", "0123456") == -1); /* 22 > 20 */
	CHECK_INT(errno, EMSGSIZE);
	CHECK_STR(b.data, "42-ab0123456789");
	CHECK(buf_printf(&b, "%s", "01234") == 0); /* exactly 20 */
	CHECK_INT(b.len, 20);
	buf_free(&b);

	/* a format longer than the initial allocation in one go */
	CHECK(buf_init(&b, 1000) == 0);
	CHECK(buf_printf(&b, "%0500d", 7) == 0);
	CHECK_INT(b.len, 500);
	CHECK(b.data[499] == '7' && b.data[500] == '\0');
	CHECK(buf_printf(&b, "%0501d", 7) == -1);
	CHECK_INT(b.len, 500);
	CHECK(b.data[500] == '\0');
	buf_free(&b);
}

static void test_slices(void)
{
	struct slice s = slice_from_str("QUIT");
	CHECK(slice_eq_nocase(s, "quit"));
	CHECK(slice_eq_nocase(s, "QUIT"));
	CHECK(!slice_eq_nocase(s, "qui"));
	CHECK(!slice_eq_nocase(s, "quits"));
	CHECK(slice_has_byte(s, 'U'));
	CHECK(!slice_has_byte(s, '\r'));
	struct slice empty = {NULL, 0};
	CHECK(!slice_has_byte(empty, 'x'));
	CHECK(slice_eq_nocase(empty, ""));

	char dst[5];
	CHECK(slice_copy(s, dst, sizeof(dst)) == 0);
	CHECK_STR(dst, "QUIT");
	struct slice longer = slice_from_str("QUITS");
	CHECK(slice_copy(longer, dst, sizeof(dst)) == -1);
	CHECK_STR(dst, "");
	struct slice part = {"abcdef", 3};
	CHECK(slice_copy(part, dst, sizeof(dst)) == 0);
	CHECK_STR(dst, "abc");
}

/* ---- line reader ---------------------------------------------------------- */

struct line_case {
	const char *label;
	const char *in;
	size_t in_len; /* 0: strlen(in) */
	size_t max;
	const char *want; /* events: [text]crlf / [text]lf / TOOLONG */
	bool partial;     /* linereader_has_partial() at the end */
};

#define X10 "xxxxxxxxxx"
static const struct line_case line_cases[] = {
	{"empty input", "", 0, 10, "", false},
	{"crlf line", "abc\r\n", 0, 10, "[abc]crlf ", false},
	{"bare lf line", "abc\n", 0, 10, "[abc]lf ", false},
	{"two lines", "a\r\nb\n", 0, 10, "[a]crlf [b]lf ", false},
	{"empty crlf line", "\r\n", 0, 10, "[]crlf ", false},
	{"empty lf line", "\n", 0, 10, "[]lf ", false},
	{"cr inside stays", "a\rb\r\n", 0, 10, "[a\\rb]crlf ", false},
	{"cr cr lf", "a\r\r\n", 0, 10, "[a\\r]crlf ", false},
	{"lone cr at end waits", "abc\r", 0, 10, "", true},
	{"no lf waits", "abc", 0, 10, "", true},
	{"line then partial", "ab\r\ncd", 0, 10, "[ab]crlf ", true},
	{"nul inside", "a\0b\r\n", 5, 10, "[a\\0b]crlf ", false},
	{"exactly max with crlf", "12345678\r\n", 0, 10, "[12345678]crlf ",
	 false},
	{"exactly max with lf", "123456789\n", 0, 10, "[123456789]lf ", false},
	{"max plus one crlf", "123456789\r\n", 0, 10, "TOOLONG ", false},
	{"max plus one lf", "1234567890\n", 0, 10, "TOOLONG ", false},
	{"too long then ok", X10 X10 "\r\nok\r\n", 0, 10, "TOOLONG [ok]crlf ",
	 false},
	{"tail of long line is no command", X10 "QUIT\r\nNOOP\r\n", 0, 10,
	 "TOOLONG [NOOP]crlf ", false},
	{"too long without lf waits", X10 X10, 0, 10, "", true},
	{"two long lines", X10 X10 "\n" X10 X10 "\r\n", 0, 10,
	 "TOOLONG TOOLONG ", false},
	{"ok long ok", "a\n" X10 X10 "\nb\n", 0, 10, "[a]lf TOOLONG [b]lf ",
	 false},
	{"smtp size line", X10 X10 X10 X10 X10 "\r\n", 0, 512,
	 "[" X10 X10 X10 X10 X10 "]crlf ", false},
	{"max one", "\n\n", 0, 1, "[]lf []lf ", false},
	{"max one crlf too long", "\r\n\n", 0, 1, "TOOLONG []lf ", false},
};

static void describe(char *out, size_t outlen, size_t *o, const char *s,
		     size_t n)
{
	for (size_t i = 0; i < n && *o + 5 < outlen; i++) {
		if (s[i] == '\r') {
			out[(*o)++] = '\\';
			out[(*o)++] = 'r';
		} else if (s[i] == '\0') {
			out[(*o)++] = '\\';
			out[(*o)++] = '0';
		} else {
			out[(*o)++] = s[i];
		}
	}
}

/* Feed in chunks of `chunk` bytes (0 = whole) and record the events. */
static void run_line_case(const struct line_case *c, size_t chunk, char *out,
			  size_t outlen, bool *partial_r)
{
	struct linereader lr;
	size_t len = c->in_len ? c->in_len : strlen(c->in);
	size_t o = 0;
	out[0] = '\0';
	CHECK(linereader_init(&lr, c->max) == 0);
	for (size_t pos = 0; pos < len;) {
		size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
		const char *p = c->in + pos;
		pos += n;
		while (n > 0) {
			enum line_status st;
			struct line line;
			size_t used = linereader_feed(&lr, p, n, &st, &line);
			CHECK(used > 0 && used <= n);
			if (used == 0 || used > n)
				break;
			p += used;
			n -= used;
			if (st == LINE_OK) {
				out[o++] = '[';
				describe(out, outlen, &o, line.text.ptr,
					 line.text.len);
				o += (size_t)snprintf(out + o, outlen - o, "]%s ",
						      line.crlf ? "crlf" : "lf");
			} else if (st == LINE_TOO_LONG) {
				o += (size_t)snprintf(out + o, outlen - o,
						      "TOOLONG ");
			} else {
				CHECK(n == 0); /* AGAIN only when all used */
			}
		}
	}
	out[o] = '\0';
	*partial_r = linereader_has_partial(&lr);
	linereader_free(&lr);
}

static void test_linereader_table(void)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7};
	char label[128];
	for (size_t i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			char got[1024];
			bool partial;
			snprintf(label, sizeof(label), "%s, chunk %zu", c->label,
				 chunks[k]);
			test_state.label = label;
			run_line_case(c, chunks[k], got, sizeof(got), &partial);
			CHECK_STR(got, c->want);
			CHECK_INT(partial, c->partial);
		}
	}
	test_state.label = NULL;
}

static void test_linereader_reset(void)
{
	struct linereader lr;
	enum line_status st;
	struct line line;
	CHECK(linereader_init(&lr, 20) == 0);
	CHECK_INT(linereader_feed(&lr, "STARTTLS\r\nRSET", 14, &st, &line), 10);
	CHECK_INT(st, LINE_OK);
	CHECK(!linereader_has_partial(&lr));
	CHECK_INT(linereader_feed(&lr, "RSET", 4, &st, &line), 4);
	CHECK_INT(st, LINE_AGAIN);
	CHECK(linereader_has_partial(&lr));
	/* STARTTLS: the pipelined "RSET" must not survive */
	linereader_reset(&lr);
	CHECK(!linereader_has_partial(&lr));
	CHECK_INT(linereader_feed(&lr, "EHLO x\r\n", 8, &st, &line), 8);
	CHECK_INT(st, LINE_OK);
	CHECK_INT(line.text.len, 6);
	CHECK(memcmp(line.text.ptr, "EHLO x", 6) == 0);

	/* reset in the middle of an overlong line */
	CHECK_INT(linereader_feed(&lr, X10 X10 X10, 30, &st, &line), 30);
	CHECK(linereader_has_partial(&lr));
	linereader_reset(&lr);
	CHECK_INT(linereader_feed(&lr, "x\n", 2, &st, &line), 2);
	CHECK_INT(st, LINE_OK);
	linereader_free(&lr);
}

/* A line stays valid after the caller's bytes are gone. */
static void test_linereader_owns_line(void)
{
	struct linereader lr;
	enum line_status st;
	struct line line;
	char data[16];
	CHECK(linereader_init(&lr, 64) == 0);
	memcpy(data, "HELO a\r\n", 8);
	CHECK_INT(linereader_feed(&lr, data, 8, &st, &line), 8);
	memset(data, 'Z', sizeof(data));
	CHECK_INT(st, LINE_OK);
	CHECK(line.text.len == 6 && memcmp(line.text.ptr, "HELO a", 6) == 0);
	/* feeding zero bytes returns AGAIN and consumes nothing */
	CHECK_INT(linereader_feed(&lr, data, 0, &st, &line), 0);
	CHECK_INT(st, LINE_AGAIN);
	CHECK(!linereader_has_partial(&lr));
	linereader_free(&lr);
}

TEST_SUITE(buf, {"cap", test_buf_cap}, {"grow", test_buf_grow},
	   {"printf", test_buf_printf}, {"slices", test_slices},
	   {"linereader_table", test_linereader_table},
	   {"linereader_reset", test_linereader_reset},
	   {"linereader_owns_line", test_linereader_owns_line});
