/*
 * test_log.c - log_escape (what keeps client text from forging log lines),
 * level parsing, and the stderr line format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/log.h"
#include "test.h"

struct esc_case {
	const char *label;
	const char *in;
	size_t in_len; /* 0: strlen */
	size_t dstlen; /* 0: LOG_ESCAPED_MAX */
	const char *want;
};

static const struct esc_case esc_cases[] = {
	{"plain", "bob@example.test", 0, 0, "bob@example.test"},
	{"empty", "", 0, 0, ""},
	{"quote", "a\"b", 0, 0, "a\\x22b"},
	{"backslash", "a\\b", 0, 0, "a\\x5cb"},
	{"crlf forging a line", "x\r\nsmtpd: event=auth-ok", 0, 0,
	 "x\\x0d\\x0asmtpd: event=auth-ok"},
	{"nul", "a\0b", 3, 0, "a\\x00b"},
	{"del and high bytes", "\x7f\xc3\xa9", 0, 0, "\\x7f\\xc3\\xa9"},
	{"tab", "a\tb", 0, 0, "a\\x09b"},
	{"small dst cuts", "abcdefgh", 0, 6, "ab..."},
	{"small dst never splits an escape", "a\001bcdef", 0, 8, "a..."},
	{"dst of one", "abc", 0, 1, ""},
};

static void test_escape_table(void)
{
	for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
		const struct esc_case *c = &esc_cases[i];
		char dst[LOG_ESCAPED_MAX];
		test_state.label = c->label;
		size_t len = c->in_len ? c->in_len : strlen(c->in);
		size_t dl = c->dstlen ? c->dstlen : sizeof(dst);
		CHECK(log_escape(dst, dl, c->in, len) == dst);
		CHECK_STR(dst, c->want);
		CHECK(strlen(dst) < dl);
	}
	test_state.label = NULL;
}

static void test_escape_cut(void)
{
	char src[LOG_FIELD_MAX + 50], dst[LOG_ESCAPED_MAX];
	memset(src, 'a', sizeof(src));
	/* exactly the limit: not cut */
	log_escape(dst, sizeof(dst), src, LOG_FIELD_MAX);
	CHECK_INT(strlen(dst), LOG_FIELD_MAX);
	CHECK(strstr(dst, "...") == NULL);
	/* one more: cut with "..." */
	log_escape(dst, sizeof(dst), src, LOG_FIELD_MAX + 1);
	CHECK_INT(strlen(dst), LOG_FIELD_MAX + 3);
	CHECK(strcmp(dst + LOG_FIELD_MAX, "...") == 0);
	/* the worst case fits LOG_ESCAPED_MAX */
	memset(src, 1, sizeof(src));
	log_escape(dst, sizeof(dst), src, sizeof(src));
	CHECK_INT(strlen(dst), LOG_FIELD_MAX * 4 + 3);
	CHECK(strcmp(dst + LOG_FIELD_MAX * 4, "...") == 0);
}

static void test_level_parse(void)
{
	static const struct {
		const char *in;
		int rc;
		enum log_level want;
	} cases[] = {
		{"error", 0, LOG_LEVEL_ERROR}, {"warn", 0, LOG_LEVEL_WARN},
		{"info", 0, LOG_LEVEL_INFO},   {"debug", 0, LOG_LEVEL_DEBUG},
		{"INFO", -1, 0},               {"warning", -1, 0},
		{"", -1, 0},                   {"info ", -1, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum log_level l = LOG_LEVEL_DEBUG;
		test_state.label = cases[i].in;
		CHECK_INT(log_level_parse(cases[i].in, &l), cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_INT(l, cases[i].want);
	}
	test_state.label = NULL;
}

/* Capture what log_msg writes to stderr. */
static void capture(char *out, size_t outlen, void (*fn)(void))
{
	char path[] = "/tmp/mailroom-log-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

static void emit(void)
{
	log_open("smtpd", false, LOG_LEVEL_INFO);
	log_info("session=%s event=%s", "4f2a", "connect");
	log_debug("hidden=%d", 1);
	log_warn("evil=%s", "a\nfake line");
	log_error("done");
}

static void test_stderr_lines(void)
{
	char out[4096];
	capture(out, sizeof(out), emit);
	log_open("mailroom", false, LOG_LEVEL_INFO);

	int lines = 0;
	for (char *p = out; *p; p++)
		lines += *p == '\n';
	CHECK_INT(lines, 3); /* debug hidden; the embedded LF is no new line */
	CHECK(strstr(out, "smtpd[") != NULL);
	CHECK(strstr(out, "]: info: session=4f2a event=connect\n") != NULL);
	CHECK(strstr(out, "hidden") == NULL);
	CHECK(strstr(out, "warn: evil=a fake line\n") != NULL);
	CHECK(strstr(out, "error: done\n") != NULL);
	/* 2026-11-28T15:34:00.123Z */
	CHECK(strlen(out) > 24 && out[4] == '-' && out[10] == 'T' &&
	      out[23] == 'Z');
}

static void emit_long(void)
{
	static char big[LOG_LINE_MAX * 3];
	memset(big, 'x', sizeof(big) - 1);
	log_open("pop3d", false, LOG_LEVEL_INFO);
	log_info("big=%s", big);
	log_info("after");
}

/* A message longer than a log line is cut, and stays one line. */
static void test_long_line_cut(void)
{
	char out[LOG_LINE_MAX * 4];
	capture(out, sizeof(out), emit_long);
	log_open("mailroom", false, LOG_LEVEL_INFO);
	char *nl = strchr(out, '\n');
	CHECK(nl != NULL);
	if (nl == NULL)
		return;
	CHECK((size_t)(nl - out) < LOG_LINE_MAX + 128);
	CHECK((size_t)(nl - out) > LOG_LINE_MAX - 10);
	CHECK(strstr(nl + 1, "info: after\n") != NULL);
	CHECK(strchr(strchr(nl + 1, '\n') + 1, '\n') == NULL);
}

static void test_enabled(void)
{
	log_open("t", false, LOG_LEVEL_WARN);
	CHECK(log_enabled(LOG_LEVEL_ERROR));
	CHECK(log_enabled(LOG_LEVEL_WARN));
	CHECK(!log_enabled(LOG_LEVEL_INFO));
	log_open("t", false, LOG_LEVEL_DEBUG);
	CHECK(log_enabled(LOG_LEVEL_DEBUG));
	log_open("mailroom", false, LOG_LEVEL_INFO);
}

TEST_SUITE(log, {"escape_table", test_escape_table},
	   {"escape_cut", test_escape_cut}, {"level_parse", test_level_parse},
	   {"stderr_lines", test_stderr_lines},
	   {"long_line_cut", test_long_line_cut}, {"enabled", test_enabled});
