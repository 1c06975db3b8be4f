/*
 * test_smtp_parse.c - SMTP command lines, MAIL/RCPT paths with ESMTP
 * parameters (including every relay form), decimals and SASL base64.
 */
#include <string.h>

#include "../../smtpd/smtp_parse.h"
#include "test.h"

static struct slice S(const char *s)
{
	return (struct slice){s, strlen(s)};
}

static void test_smtp_cmdline(void)
{
	static const struct {
		const char *label, *line;
		enum smtp_cmdline_result want;
		const char *verb, *args;
	} cases[] = {
		{"simple", "EHLO host", SMTP_CMDLINE_OK, "EHLO", "host"},
		{"no args", "QUIT", SMTP_CMDLINE_OK, "QUIT", ""},
		{"trailing space", "NOOP  ", SMTP_CMDLINE_OK, "NOOP", ""},
		{"lower case", "mail FROM:<a@b.c>", SMTP_CMDLINE_OK, "mail", "FROM:<a@b.c>"},
		{"args keep inner spaces", "HELP a b", SMTP_CMDLINE_OK, "HELP", "a b"},
		{"empty", "", SMTP_CMDLINE_EMPTY, NULL, NULL},
		{"spaces only", "   ", SMTP_CMDLINE_EMPTY, NULL, NULL},
		{"digit in verb", "EHL0 x", SMTP_CMDLINE_BAD_VERB, NULL, NULL},
		{"leading space", " EHLO x", SMTP_CMDLINE_BAD_VERB, NULL, NULL},
		{"colon verb", "MAIL:FROM", SMTP_CMDLINE_BAD_VERB, NULL, NULL},
		{"verb too long", "ABCDEFGHIJKLMNOPQ", SMTP_CMDLINE_BAD_VERB, NULL, NULL},
		{"bare CR inside", "NOOP\rRSET", SMTP_CMDLINE_CONTROL, NULL, NULL},
		{"escape", "NOOP \x1b[2J", SMTP_CMDLINE_CONTROL, NULL, NULL},
		{"DEL", "NOOP \x7f", SMTP_CMDLINE_CONTROL, NULL, NULL},
		{"tab ok", "NOOP\tx", SMTP_CMDLINE_BAD_VERB, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		struct smtp_cmdline cl;
		CHECK_INT(smtp_cmdline_parse(S(cases[i].line), &cl), cases[i].want);
		if (cases[i].want != SMTP_CMDLINE_OK)
			continue;
		CHECK(cl.verb.len == strlen(cases[i].verb) &&
		      memcmp(cl.verb.ptr, cases[i].verb, cl.verb.len) == 0);
		CHECK(cl.args.len == strlen(cases[i].args) &&
		      memcmp(cl.args.ptr, cases[i].args, cl.args.len) == 0);
	}
	/* NUL inside a line (the line reader passes it through) */
	test_state.label = "NUL";
	struct smtp_cmdline cl;
	CHECK_INT(smtp_cmdline_parse((struct slice){"NOOP\0x", 6}, &cl),
		  SMTP_CMDLINE_CONTROL);
}

static void test_smtp_path(void)
{
	static const struct {
		const char *label, *args, *prefix;
		int flags;
		enum smtp_path_result want;
		const char *addr;
		size_t n_params;
	} cases[] = {
		{"plain", "FROM:<A.B@Example.TEST>", "FROM:", 0, SMTP_PATH_OK, "a.b@example.test", 0},
		{"space after colon", "FROM: <a@b.example>", "FROM:", 0, SMTP_PATH_OK, "a@b.example", 0},
		{"lower prefix", "to:<x@y.example>", "TO:", 0, SMTP_PATH_OK, "x@y.example", 0},
		{"null", "FROM:<>", "FROM:", 0, SMTP_PATH_NULL, "", 0},
		{"null with params", "FROM:<> SIZE=10 BODY=8BITMIME", "FROM:", 0, SMTP_PATH_NULL, "", 2},
		{"params", "FROM:<a@b.example> SIZE=1000 SMTPUTF8", "FROM:", 0, SMTP_PATH_OK, "a@b.example", 2},
		{"postmaster", "TO:<Postmaster>", "TO:", 0, SMTP_PATH_POSTMASTER, "", 0},
		{"no brackets", "FROM:a@b.example", "FROM:", 0, SMTP_PATH_SYNTAX, NULL, 0},
		{"wrong prefix", "TO:<a@b.example>", "FROM:", 0, SMTP_PATH_SYNTAX, NULL, 0},
		{"missing close", "FROM:<a@b.example", "FROM:", 0, SMTP_PATH_SYNTAX, NULL, 0},
		{"text after", "FROM:<a@b.example>x", "FROM:", 0, SMTP_PATH_SYNTAX, NULL, 0},
		{"nested bracket", "FROM:<<a@b.example>>", "FROM:", 0, SMTP_PATH_SYNTAX, NULL, 0},
		{"percent hack", "TO:<u%remote.example@example.test>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"bang path", "TO:<remote.example!u@example.test>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"quoted", "TO:<\"u@remote.example\"@example.test>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"quoted with >", "TO:<\"u>x\"@example.test>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"source route", "TO:<@example.test:u@remote.example>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"source route list", "TO:<@a.example,@b.example:u@c.example>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"ip literal", "TO:<u@[192.0.2.1]>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"ipv6 literal", "TO:<u@[IPv6:::1]>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"double at", "TO:<u@remote.example@example.test>", "TO:", 0, SMTP_PATH_RELAY, NULL, 0},
		{"trailing dot", "TO:<u@example.test.>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
		{"no domain", "TO:<u@>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
		{"no at", "TO:<user>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
		{"space inside", "TO:<a b@example.test>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
		{"utf8 refused", "TO:<j\xc3\xb6rg@example.test>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
		{"utf8 allowed", "TO:<j\xc3\xb6rg@example.test>", "TO:", ADDR_ALLOW_UTF8, SMTP_PATH_OK, "j\xc3\xb6rg@example.test", 0},
		{"bad param key", "FROM:<a@b.example> -X=1", "FROM:", 0, SMTP_PATH_PARAMS, NULL, 0},
		{"empty value", "FROM:<a@b.example> SIZE=", "FROM:", 0, SMTP_PATH_PARAMS, NULL, 0},
		{"equals in value", "FROM:<a@b.example> X=a=b", "FROM:", 0, SMTP_PATH_PARAMS, NULL, 0},
		{"too many params", "FROM:<a@b.example> A B C D E F G H I", "FROM:", 0, SMTP_PATH_PARAMS, NULL, 0},
		{"long local part", "TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test>", "TO:", 0, SMTP_PATH_BAD_ADDR, NULL, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		struct smtp_path p;
		enum smtp_path_result r = smtp_path_parse(S(cases[i].args), cases[i].prefix,
							  cases[i].flags, &p);
		CHECK_INT(r, cases[i].want);
		if (r == SMTP_PATH_OK)
			CHECK_STR(p.addr.full, cases[i].addr);
		if (r == SMTP_PATH_OK || r == SMTP_PATH_NULL)
			CHECK_INT(p.n_params, cases[i].n_params);
	}
	test_state.label = "param slices";
	struct smtp_path p;
	CHECK_INT(smtp_path_parse(S("FROM:<a@b.example> SIZE=123 SMTPUTF8"), "FROM:", 0, &p),
		  SMTP_PATH_OK);
	CHECK(slice_eq_nocase(p.params[0].key, "size") && p.params[0].has_value);
	CHECK(p.params[0].value.len == 3 && memcmp(p.params[0].value.ptr, "123", 3) == 0);
	CHECK(slice_eq_nocase(p.params[1].key, "SMTPUTF8") && !p.params[1].has_value);
}

static void test_smtp_decimal(void)
{
	int64_t v = -1;
	test_state.label = "decimal";
	CHECK(smtp_parse_decimal(S("0"), &v) == 0 && v == 0);
	CHECK(smtp_parse_decimal(S("26214400"), &v) == 0 && v == 26214400);
	CHECK(smtp_parse_decimal(S("999999999999999999"), &v) == 0);
	CHECK(smtp_parse_decimal(S("9999999999999999999"), &v) == -1); /* 19 digits */
	CHECK(smtp_parse_decimal(S("-1"), &v) == -1);
	CHECK(smtp_parse_decimal(S("+1"), &v) == -1);
	CHECK(smtp_parse_decimal(S("1x"), &v) == -1);
	CHECK(smtp_parse_decimal(S(""), &v) == -1);
}

static void test_smtp_base64(void)
{
	static const struct {
		const char *label, *in;
		long want_len;
		const char *want;
	} cases[] = {
		{"plain", "AGFsaWNlAHB3", 9, "\0alice\0pw"},
		{"one pad", "YWI=", 2, "ab"},
		{"two pad", "YQ==", 1, "a"},
		{"empty", "", 0, ""},
		{"bad length", "YWJ", -1, NULL},
		{"bad char", "YW!j", -1, NULL},
		{"pad in middle", "YQ==YQ==", -1, NULL},
		{"pad first", "=YWJ", -1, NULL},
		{"data after pad", "YQ=j", -1, NULL},
		{"space", "YW Jj", -1, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_state.label = cases[i].label;
		unsigned char out[64];
		long n = base64_decode(S(cases[i].in), out, sizeof(out));
		CHECK_INT(n, cases[i].want_len);
		if (n > 0)
			CHECK(memcmp(out, cases[i].want, (size_t)n) == 0);
	}
	test_state.label = "does not fit";
	unsigned char small[2];
	CHECK(base64_decode(S("YWJj"), small, sizeof(small)) == -1);
}

TEST_SUITE(smtp_parse, {"cmdline", test_smtp_cmdline}, {"path", test_smtp_path},
	   {"decimal", test_smtp_decimal}, {"base64", test_smtp_base64});
