/*
 * test_addr_idn.c - Unicode (U-label) domains under SMTPUTF8: the A-label
 * form addr_domain_to_alabel and addr_parse(ADDR_ALLOW_ULABEL) give, what
 * they refuse, and smtp_path_parse's non_ascii mark that makes smtpd
 * answer 553 5.6.7 without SMTPUTF8 (RFC 6531 3.7.4.1).
 */
#include <string.h>

#include "../../common/addr.h"
#include "../../smtpd/smtp_parse.h"
#include "test.h"

#define U10 "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
#define U60 U10 U10 U10 U10 U10 U10 /* its A-label is over 63 octets */

static void test_domain_alabel(void)
{
	static const struct {
		const char *label;
		const char *in;
		size_t len; /* 0: strlen */
		const char *want; /* NULL: refused */
	} cases[] = {
		{"u-label", "b\xc3\xbc" "cher.example", 0, "xn--bcher-kva.example"},
		{"upper case mapped", "B\xc3\x9c" "CHER.EXAMPLE", 0, "xn--bcher-kva.example"},
		{"decomposed (NFC)", "bu\xcc\x88" "cher.example", 0, "xn--bcher-kva.example"},
		{"sharp s kept (non-transitional)", "stra\xc3\x9f" "e.example", 0,
		 "xn--strae-oqa.example"},
		{"every label", "\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", 0,
		 "xn--r8jz45g.xn--zckzah"},
		{"ascii normalised", "Example.TEST", 0, "example.test"},
		{"a-label as is", "xn--bcher-kva.example", 0, "xn--bcher-kva.example"},
		{"length honoured", "b\xc3\xbc" "cher.example>x", 15, "xn--bcher-kva.example"},
		{"one label", "b\xc3\xbc" "cher", 0, NULL},
		{"space", "b\xc3\xbc cher.example", 0, NULL},
		{"bad utf-8", "b\xff" "cher.example", 0, NULL},
		{"truncated utf-8", "b\xc3", 0, NULL},
		{"nul inside", "b\xc3\xbc\0cher.example", 16, NULL},
		{"trailing dot", "b\xc3\xbc" "cher.example.", 0, NULL},
		{"literal", "[b\xc3\xbc" "cher]", 0, NULL},
		{"underscore", "b\xc3\xbc_cher.example", 0, NULL},
		{"a-label over 63", U60 "x.example", 0, NULL},
		{"empty", "", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
		char dst[ADDR_DOMAIN_MAX + 1] = "untouched";
		const char *why = NULL;
		int rc = addr_domain_to_alabel(cases[i].in, len, dst, &why);
		CHECK_OUTPUT(rc, dst, cases[i].want, why);
	}
	test_state.label = NULL;
	char dst[ADDR_DOMAIN_MAX + 1];
	CHECK(addr_domain_to_alabel("b\xc3\xbc", 3, dst, NULL) == -1);
	/* far longer than any domain: refused before libidn2 sees it */
	char big[2000];
	for (size_t i = 0; i + 1 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xbc", 2);
	CHECK(addr_domain_to_alabel(big, sizeof big - 2, dst, NULL) == -1);
}

static void test_parse_ulabel(void)
{
	static const struct {
		const char *label;
		const char *in;
		int flags;
		const char *want; /* full, or NULL: refused */
	} cases[] = {
		{"u-label domain", "user@b\xc3\xbc" "cher.example",
		 ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL, "user@xn--bcher-kva.example"},
		{"utf-8 both sides", "J\xc3\xb6rg@B\xc3\xbc" "cher.example",
		 ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL, "j\xc3\xb6rg@xn--bcher-kva.example"},
		{"ulabel flag alone", "user@b\xc3\xbc" "cher.example", ADDR_ALLOW_ULABEL,
		 "user@xn--bcher-kva.example"},
		{"utf-8 local needs its flag", "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
		 ADDR_ALLOW_ULABEL, NULL},
		{"without the flag", "user@b\xc3\xbc" "cher.example", ADDR_ALLOW_UTF8, NULL},
		{"no flags", "user@b\xc3\xbc" "cher.example", 0, NULL},
		{"relay trick still refused", "a%b@b\xc3\xbc" "cher.example",
		 ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL, NULL},
		{"ascii unchanged", "Alice@Example.TEST",
		 ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL, "alice@example.test"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		struct addr a;
		memset(&a, 0x5a, sizeof a);
		const char *why = NULL;
		int rc = addr_parse(cases[i].in, strlen(cases[i].in), cases[i].flags,
				    &a, &why);
		if (cases[i].want) {
			CHECK_INT(rc, 0);
			CHECK_STR(a.full, cases[i].want);
			const char *at = strchr(cases[i].want, '@');
			CHECK_STR(a.domain, at + 1);
		} else {
			CHECK_INT(rc, -1);
			CHECK(why != NULL);
		}
	}
	test_state.label = NULL;
	CHECK(addr_has_non_ascii("ab\xc3\xbc", 3));
	CHECK(!addr_has_non_ascii("ab\xc3\xbc", 2));
	CHECK(!addr_has_non_ascii("", 0));
}

#define S(lit) ((struct slice){(lit), sizeof(lit) - 1})

static void test_path_non_ascii(void)
{
	const int f = ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL;
	struct smtp_path p;
	test_state.label = "u-label rcpt";
	CHECK_INT(smtp_path_parse(S("TO:<user@b\xc3\xbc" "cher.example>"), "TO:", f, &p),
		  SMTP_PATH_OK);
	CHECK_STR(p.addr.full, "user@xn--bcher-kva.example");
	CHECK(p.non_ascii);
	test_state.label = "ascii rcpt";
	CHECK_INT(smtp_path_parse(S("TO:<user@xn--bcher-kva.example>"), "TO:", f, &p),
		  SMTP_PATH_OK);
	CHECK(!p.non_ascii);
	test_state.label = "utf-8 local";
	CHECK_INT(smtp_path_parse(S("FROM:<j\xc3\xb6rg@example.test> SMTPUTF8"), "FROM:", f,
				  &p),
		  SMTP_PATH_OK);
	CHECK(p.non_ascii);
	test_state.label = "refused still marked";
	CHECK_INT(smtp_path_parse(S("TO:<user@b\xc3\xbc" "cher.example>"), "TO:",
				  ADDR_ALLOW_UTF8, &p),
		  SMTP_PATH_BAD_ADDR);
	CHECK(p.non_ascii);
	test_state.label = "null path";
	CHECK_INT(smtp_path_parse(S("FROM:<>"), "FROM:", f, &p), SMTP_PATH_NULL);
	CHECK(!p.non_ascii);
	test_state.label = NULL;
}

TEST_SUITE(addr_idn, {"domain_alabel", test_domain_alabel},
	   {"parse_ulabel", test_parse_ulabel}, {"path_non_ascii", test_path_non_ascii});
