/*
 * test_rules_header.c - what rules see of a message's header: RFC 5322
 * unfolding, RFC 2047 decoding (UTF-8, ISO-8859-1, windows-1252, KOI8-R,
 * B and Q, split multi-byte words, malformed words left as they are),
 * address lists, wildcard matching, and the parser's caps. The header
 * parser works on a whole block (smtpd hands it the spooled header), so
 * instead of byte-at-a-time feeding every case is also parsed from every
 * prefix of its input, which must never crash or read past the prefix
 * (ASan watches a heap copy of exactly that length).
 */
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"
#include "test.h"

static struct rules_message *msg_new(void)
{
	struct rules_message *m = calloc(1, sizeof *m);
	CHECK(m != NULL);
	return m;
}

/* Parse text from a heap copy of exactly its length. */
static void parse_exact(struct rules_message *m, const char *text, size_t n)
{
	char *copy = malloc(n ? n : 1);
	memcpy(copy, text, n);
	rules_message_parse(m, copy, n);
	/* values live in the arena; names point into copy: check them now */
	free(copy);
}

static const struct {
	const char *label, *raw, *want;
} decode_cases[] = {
	{"plain", "hello world", "hello world"},
	{"utf8 B", "=?UTF-8?B?SMOpbGxv?=", "H\xc3\xa9llo"},
	{"utf8 Q", "=?utf-8?q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait"},
	{"latin1 Q", "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard"},
	{"latin1 B", "=?iso-8859-1?b?R3L832U=?=", "Gr\xc3\xbc\xc3\x9f" "e"},
	{"cp1252 euro", "=?windows-1252?Q?Price_=80_10?=", "Price \xe2\x82\xac 10"},
	{"koi8-r", "=?KOI8-R?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"},
	{"adjacent words joined", "=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},
	{"split utf8 across words", "=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=",
	 "\xc3\xa9\xc3\xa9"},
	{"split char between B words", "=?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=",
	 "\xe2\x82\xac"},
	{"text between words kept", "=?UTF-8?Q?a?= and =?UTF-8?Q?b?=", "a and b"},
	{"language tag", "=?UTF-8*en?Q?hi?=", "hi"},
	{"two charsets", "=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=",
	 "\xc3\xa9\xc3\xa9"},
	{"unknown charset left", "=?x-nonsense?Q?abc?=", "=?x-nonsense?Q?abc?="},
	{"bad encoding letter", "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
	{"bad base64 left", "=?UTF-8?B?@@@?=", "=?UTF-8?B?@@@?="},
	{"bad q hex left", "=?UTF-8?Q?=ZZ?=", "=?UTF-8?Q?=ZZ?="},
	{"truncated q escape", "=?UTF-8?Q?ab=C?=", "=?UTF-8?Q?ab=C?="},
	{"invalid utf8 left", "=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?="},
	{"unterminated", "=?UTF-8?Q?abc", "=?UTF-8?Q?abc"},
	{"space inside word", "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="},
	{"empty charset", "=??Q?a?=", "=??Q?a?="},
	{"lone =?", "a =? b", "a =? b"},
	{"word then plain", "=?UTF-8?Q?x?=y", "xy"},
};

static void test_decode_2047(void)
{
	char out[512];
	for (size_t i = 0; i < sizeof decode_cases / sizeof decode_cases[0]; i++) {
		test_state.label = decode_cases[i].label;
		const char *raw = decode_cases[i].raw;
		size_t n = rules_decode_2047(raw, strlen(raw), out, sizeof out);
		CHECK_STR(out, decode_cases[i].want);
		CHECK_INT(n, strlen(decode_cases[i].want));
	}
	/* a destination too small: cut, NUL-terminated, reported */
	test_state.label = "small dst";
	char small[4];
	CHECK(rules_decode_2047("abcdefgh", 8, small, sizeof small) == (size_t)-1);
	CHECK_STR(small, "abc");
}

static void test_unfold_and_fields(void)
{
	struct rules_message *m = msg_new();
	const char block[] =
		"Subject: a long\r\n"
		"  folded\r\n"
		"\tsubject   \r\n"
		"From:Bob <bob@example.com>\n" /* bare LF and no space */
		"X-Empty:\r\n"
		"Subject : obsolete space\r\n"
		"no colon here\r\n"
		"X-Enc: =?UTF-8?Q?caf=C3=A9?=\r\n"
		"\r\n"
		"Body: not a header\r\n";
	rules_message_parse(m, block, sizeof block - 1);
	test_state.label = "unfold";
	CHECK_INT(m->n_headers, 5);
	const struct rules_header *h = rules_message_header(m, "SUBJECT");
	CHECK(h != NULL);
	if (h)
		CHECK_STR(h->value, "a long  folded\tsubject");
	h = rules_message_header(m, "from");
	CHECK(h && strcmp(h->value, "Bob <bob@example.com>") == 0);
	h = rules_message_header(m, "x-empty");
	CHECK(h && h->value_len == 0);
	CHECK(rules_message_header(m, "body") == NULL);
	h = rules_message_header(m, "x-enc");
	CHECK(h && strcmp(h->value, "caf\xc3\xa9") == 0 &&
	      strcmp(h->raw, "=?UTF-8?Q?caf=C3=A9?=") == 0);
	CHECK(!m->truncated);
	/* header block length, CRLF and LF */
	CHECK_INT(rules_header_block_len(block, sizeof block - 1),
		  strstr(block, "Body:") - block);
	CHECK_INT(rules_header_block_len("A: b\n\nbody", 10), 6);
	CHECK_INT(rules_header_block_len("\r\nbody", 6), 2);
	CHECK_INT(rules_header_block_len("A: b", 4), 4);
	free(m);
}

static void test_prefixes_never_crash(void)
{
	struct rules_message *m = msg_new();
	const char block[] = "Subject: =?UTF-8?B?SMOpbGxv?= =?ISO-8859-1?Q?=E9?=\r\n"
			     " more\r\nTo: \"A, B\" <a@x.test>, (c) c@x.test\r\n"
			     "X: =?UTF-8?Q?broken\r\n\r\nbody";
	for (size_t n = 0; n <= sizeof block - 1; n++) {
		parse_exact(m, block, n);
		CHECK(m->n_headers <= 3);
		for (size_t i = 0; i < m->n_headers; i++)
			CHECK(strlen(m->headers[i].value) ==
			      m->headers[i].value_len);
	}
	free(m);
}

static void test_caps(void)
{
	struct rules_message *m = msg_new();
	/* more fields than RULES_HEADERS_MAX */
	size_t n = (RULES_HEADERS_MAX + 10) * 8;
	char *block = malloc(n + 1);
	for (size_t i = 0; i < RULES_HEADERS_MAX + 10; i++)
		memcpy(block + i * 8, "X-A: b\r\n", 8);
	rules_message_parse(m, block, n);
	test_state.label = "too many fields";
	CHECK_INT(m->n_headers, RULES_HEADERS_MAX);
	CHECK(m->truncated);
	free(block);
	/* a header block past RULES_HEADER_BLOCK_MAX: cut there */
	n = RULES_HEADER_BLOCK_MAX + 1000;
	block = malloc(n);
	memcpy(block, "Subject: ", 9);
	memset(block + 9, 'a', n - 9);
	rules_message_parse(m, block, n);
	test_state.label = "long block";
	CHECK(m->truncated);
	CHECK_INT(m->n_headers, 1);
	CHECK_INT(m->headers[0].value_len, RULES_HEADER_BLOCK_MAX - 9);
	free(block);
	free(m);
}

static const struct {
	const char *label, *value;
	size_t n;
	const char *want[4];
} addr_cases[] = {
	{"bare", "bob@example.com", 1, {"bob@example.com"}},
	{"angle", "Bob <bob@example.com>", 1, {"bob@example.com"}},
	{"quoted comma", "\"Doe, John\" <j@x.test>, k@y.test", 2, {"j@x.test", "k@y.test"}},
	{"comment", "bob@x.test (Bob, the builder)", 1, {"bob@x.test"}},
	{"group", "team: a@x.test, b@x.test;, c@x.test", 3, {"a@x.test", "b@x.test", "c@x.test"}},
	{"empty group", "undisclosed-recipients:;", 0, {NULL}},
	{"no at", "nobody", 0, {NULL}},
	{"angle in quotes", "\"<x@evil.test>\" <real@x.test>", 1, {"real@x.test"}},
	{"nested comment", "(a (b) <x@evil.test>) bob@x.test", 1, {"bob@x.test"}},
	{"escaped quote", "\"a\\\" <x@evil.test>\" <real@x.test>", 1, {"real@x.test"}},
	{"escaped paren", "bob@x.test (a \\) <x@evil.test>)", 1, {"bob@x.test"}},
};

static void test_address_list(void)
{
	struct slice s[8];
	for (size_t i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
		test_state.label = addr_cases[i].label;
		const char *v = addr_cases[i].value;
		size_t n = rules_address_list(v, strlen(v), s, 8);
		CHECK_INT(n, addr_cases[i].n);
		for (size_t j = 0; j < n && j < addr_cases[i].n; j++)
			CHECK(s[j].len == strlen(addr_cases[i].want[j]) &&
			      memcmp(s[j].ptr, addr_cases[i].want[j], s[j].len) == 0);
	}
}

static const struct {
	const char *pattern, *text;
	bool want;
} wild_cases[] = {
	{"*", "", true},
	{"*", "anything", true},
	{"abc", "ABC", true},
	{"a?c", "abc", true},
	{"a?c", "ac", false},
	{"a?c", "a\xc3\xa9" "c", true}, /* ? is one UTF-8 character */
	{"*@example.com", "Bob@Example.COM", true},
	{"*@example.com", "bob@example.com.evil", false},
	{"*viagra*", "buy VIAGRA now", true},
	{"a*b*c", "aXXbYYc", true},
	{"a*b*c", "aXXbYY", false},
	{"\\*", "*", true},
	{"\\*", "x", false},
	{"\\?x", "?x", true},
	{"", "", true},
	{"", "x", false},
	{"**a", "bba", true},
};

static void test_wildcard(void)
{
	for (size_t i = 0; i < sizeof wild_cases / sizeof wild_cases[0]; i++) {
		test_state.label = wild_cases[i].pattern;
		CHECK(rules_wildcard_match(wild_cases[i].pattern, wild_cases[i].text,
					   strlen(wild_cases[i].text)) ==
		      wild_cases[i].want);
	}
}

TEST_SUITE(rules_header, {"decode_2047", test_decode_2047},
	   {"unfold_and_fields", test_unfold_and_fields},
	   {"prefixes_never_crash", test_prefixes_never_crash},
	   {"caps", test_caps}, {"address_list", test_address_list},
	   {"wildcard", test_wildcard});
