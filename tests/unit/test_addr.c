/*
 * test_addr.c - mailbox and domain syntax: what must pass (and its
 * lowercase form) and every relay trick that must not.
 */
#include <string.h>

#include "../../common/addr.h"
#include "test.h"

#define L63 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define L64 L63 "a"
#define D61 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define D253 L63 "." L63 "." L63 "." D61 /* 63 * 3 + 61 + 3 dots */
#define D254 L63 "." L63 "." L63 "." D61 "b"

struct addr_case {
	const char *label;
	const char *in;
	size_t len; /* 0: strlen */
	int flags;
	const char *want; /* normal form, or NULL when refused */
	const char *why;  /* expected reason when refused (NULL: any) */
};

static const struct addr_case mailbox_cases[] = {
	/* accepted */
	{"simple", "bob@example.test", 0, 0, "bob@example.test", NULL},
	{"lowercased", "Bob.Smith@Example.TEST", 0, 0,
	 "bob.smith@example.test", NULL},
	{"plus tag", "bob+tag@example.test", 0, 0, "bob+tag@example.test", NULL},
	{"atext specials", "a#$&'*+-/=?^_`{|}~@example.test", 0, 0,
	 "a#$&'*+-/=?^_`{|}~@example.test", NULL},
	{"digits and hyphen", "1@a-1.b2.test", 0, 0, "1@a-1.b2.test", NULL},
	{"local 64", L64 "@example.test", 0, 0, L64 "@example.test", NULL},
	{"label 63", "a@" L63 ".test", 0, 0, "a@" L63 ".test", NULL},
	{"domain 253", "a@" D253, 0, 0, "a@" D253, NULL},
	{"punycode domain", "a@xn--bcher-kva.test", 0, 0,
	 "a@xn--bcher-kva.test", NULL},
	{"utf8 local allowed", "j\xc3\xb6rg@example.test", 0, ADDR_ALLOW_UTF8,
	 "j\xc3\xb6rg@example.test", NULL},
	{"utf8 4-byte", "\xf0\x9f\x93\xa7@example.test", 0, ADDR_ALLOW_UTF8,
	 "\xf0\x9f\x93\xa7@example.test", NULL},
	{"utf8 not lowercased", "\xc3\x96@EXAMPLE.test", 0, ADDR_ALLOW_UTF8,
	 "\xc3\x96@example.test", NULL},

	/* relay tricks */
	{"percent hack", "bob%elsewhere.test@example.test", 0, 0, NULL,
	 "'%' and '!' are not accepted in local part"},
	{"bang path", "elsewhere.test!bob@example.test", 0, 0, NULL,
	 "'%' and '!' are not accepted in local part"},
	{"quoted local", "\"bob\"@example.test", 0, 0, NULL,
	 "quoted local parts are not accepted"},
	{"quoted local with at", "\"bob@elsewhere.test\"@example.test", 0, 0,
	 NULL, "quoted local parts are not accepted"},
	{"source route", "@a.test:bob@example.test", 0, 0, NULL,
	 "source routes are not accepted"},
	{"source route two hops", "@a.test,@b.test:bob@c.test", 0, 0, NULL,
	 "source routes are not accepted"},
	{"colon in local", "a.test:bob@example.test", 0, 0, NULL,
	 "invalid character in local part"},
	{"address literal", "bob@[127.0.0.1]", 0, 0, NULL,
	 "address literals are not accepted"},
	{"v6 literal", "bob@[IPv6:::1]", 0, 0, NULL,
	 "address literals are not accepted"},
	{"numeric domain", "bob@1.2.3.4", 0, 0, NULL, "top-level label is numeric"},
	{"trailing dot", "bob@example.test.", 0, 0, NULL,
	 "trailing dot in domain"},
	{"double at", "bob@@example.test", 0, 0, NULL, "more than one '@'"},
	{"two ats", "bob@elsewhere.test@example.test", 0, 0, NULL,
	 "more than one '@'"},
	{"empty label", "bob@example..test", 0, 0, NULL, "empty label in domain"},
	{"leading dot domain", "bob@.example.test", 0, 0, NULL,
	 "empty label in domain"},
	{"label 64", "a@" L64 ".test", 0, 0, NULL,
	 "domain label longer than 63 octets"},
	{"local 65", L64 "a@example.test", 0, 0, NULL,
	 "local part longer than 64 octets"},
	{"domain 254", "a@" D254, 0, 0, NULL, "domain longer than 253 octets"},
	{"single label", "bob@localhost", 0, 0, NULL,
	 "domain needs at least two labels"},
	{"hyphen start", "bob@-a.test", 0, 0, NULL,
	 "domain label starts or ends with '-'"},
	{"hyphen end", "bob@a-.test", 0, 0, NULL,
	 "domain label starts or ends with '-'"},
	{"underscore domain", "bob@a_b.test", 0, 0, NULL,
	 "invalid character in domain"},
	{"cr in local", "bo\rb@example.test", 0, 0, NULL,
	 "invalid character in local part"},
	{"lf in domain", "bob@exa\nmple.test", 0, 0, NULL,
	 "invalid character in domain"},
	{"nul in local", "bo\0b@example.test", 17, 0, NULL,
	 "invalid character in local part"},
	{"nul in domain", "bob@example.test\0.evil", 23, 0, NULL,
	 "invalid character in domain"},
	{"tab", "bob\t@example.test", 0, 0, NULL, "invalid character in local part"},
	{"space", "bob smith@example.test", 0, 0, NULL,
	 "invalid character in local part"},
	{"del", "bob\x7f@example.test", 0, 0, NULL,
	 "invalid character in local part"},
	{"angle brackets", "<bob@example.test>", 0, 0, NULL,
	 "invalid character in local part"},
	{"comma list", "a@example.test,b@example.test", 0, 0, NULL,
	 "more than one '@'"},
	{"comma in domain", "a@example.test,x", 0, 0, NULL,
	 "invalid character in domain"},
	{"backslash", "bo\\b@example.test", 0, 0, NULL,
	 "invalid character in local part"},
	{"leading dot local", ".bob@example.test", 0, 0, NULL,
	 "local part starts or ends with a dot"},
	{"trailing dot local", "bob.@example.test", 0, 0, NULL,
	 "local part starts or ends with a dot"},
	{"double dot local", "bo..b@example.test", 0, 0, NULL,
	 "two dots in a row in local part"},
	{"empty", "", 0, 0, NULL, "empty address"},
	{"no at", "bob", 0, 0, NULL, "missing '@'"},
	{"empty local", "@example.test", 0, 0, NULL,
	 "source routes are not accepted"},
	{"empty domain", "bob@", 0, 0, NULL, "empty domain"},
	{"utf8 without flag", "j\xc3\xb6rg@example.test", 0, 0, NULL,
	 "non-ASCII local part needs SMTPUTF8"},
	{"utf8 domain", "a@b\xc3\xbc.test", 0, ADDR_ALLOW_UTF8, NULL,
	 "invalid character in domain"},
	{"bad utf8 lone continuation", "\x80@example.test", 0, ADDR_ALLOW_UTF8,
	 NULL, "invalid UTF-8 in local part"},
	{"bad utf8 overlong", "\xc0\xaf@example.test", 0, ADDR_ALLOW_UTF8, NULL,
	 "invalid UTF-8 in local part"},
	{"bad utf8 surrogate", "\xed\xa0\x80@example.test", 0, ADDR_ALLOW_UTF8,
	 NULL, "invalid UTF-8 in local part"},
	{"bad utf8 truncated", "\xe2\x82@example.test", 0, ADDR_ALLOW_UTF8, NULL,
	 "invalid UTF-8 in local part"},
	{"bad utf8 above max", "\xf4\x90\x80\x80@example.test", 0,
	 ADDR_ALLOW_UTF8, NULL, "invalid UTF-8 in local part"},
};

static void test_parse_table(void)
{
	for (size_t i = 0; i < sizeof(mailbox_cases) / sizeof(mailbox_cases[0]); i++) {
		const struct addr_case *c = &mailbox_cases[i];
		struct addr a;
		const char *why = NULL;
		size_t len = c->len ? c->len : strlen(c->in);
		test_state.label = c->label;
		memset(&a, 'Q', sizeof(a));
		int rc = addr_parse(c->in, len, c->flags, &a, &why);
		if (c->want != NULL) {
			CHECK_INT(rc, 0);
			if (rc == 0) {
				CHECK_STR(a.full, c->want);
				const char *at = strrchr(c->want, '@');
				CHECK(strlen(a.local) == (size_t)(at - c->want));
				CHECK(memcmp(a.local, a.full, strlen(a.local)) == 0);
				CHECK_STR(a.domain, at + 1);
			}
		} else {
			CHECK_INT(rc, -1);
			if (c->why != NULL)
				CHECK_STR(why, c->why);
		}
	}
	test_state.label = NULL;
}

static void test_domain(void)
{
	static const struct {
		const char *in;
		const char *want;
	} cases[] = {
		{"Example.TEST", "example.test"},
		{"a.b.c.d.test", "a.b.c.d.test"},
		{"x1.y2", "x1.y2"},
		{"123.test", "123.test"},
		{"test.123", NULL},
		{"example.test.", NULL},
		{"[10.0.0.1]", NULL},
		{"example", NULL},
		{"", NULL},
		{"ex ample.test", NULL},
		{"a..b", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char dst[ADDR_DOMAIN_MAX + 1];
		const char *why = NULL;
		test_state.label = cases[i].in;
		size_t len = strlen(cases[i].in);
		int rc = addr_domain_normalise(cases[i].in, len, dst, &why);
		CHECK_INT(addr_domain_valid(cases[i].in, len),
			  cases[i].want != NULL);
		CHECK_OUTPUT(rc, dst, cases[i].want, why);
	}
	test_state.label = NULL;
	/* a length inside a longer buffer is honoured */
	char dst[ADDR_DOMAIN_MAX + 1];
	const char *why;
	CHECK(addr_domain_normalise("example.test>junk", 12, dst, &why) == 0);
	CHECK_STR(dst, "example.test");
	/* error_r may be NULL */
	CHECK(addr_domain_normalise("x", 1, dst, NULL) == -1);
	struct addr a;
	CHECK(addr_parse("x", 1, 0, &a, NULL) == -1);
}

TEST_SUITE(addr, {"parse_table", test_parse_table}, {"domain", test_domain});
