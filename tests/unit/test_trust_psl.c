/*
 * test_trust_psl.c - the Public Suffix List reader (trust/psl.c): the
 * list's rule kinds (plain, wildcard, exception, the implicit "*"), rules
 * in Unicode and comments skipped, case and trailing dots, the caps, and
 * with the system's list (Debian publicsuffix) when it is installed: the
 * cases where the built-in short list groups too widely (github.io).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../trust/trust.h"
#include "test.h"

static const char small_list[] =
	"// comment line\n"
	"// ===BEGIN ICANN DOMAINS===\n"
	"com\n"
	"uk\n"
	"co.uk\n"
	"jp\n"
	"*.kawasaki.jp\n"
	"!city.kawasaki.jp\n"
	"ck\n"
	"*.ck\n"
	"!www.ck\n"
	"\xe5\x85\xac\xe5\x8f\xb8.cn\n" /* Unicode: skipped */
	"Example-Upper.NET   trailing words ignored\r\n"
	"\n"
	"// ===BEGIN PRIVATE DOMAINS===\n"
	"github.io\n";

static void test_rules(void)
{
	char err[128] = "";
	struct trust_psl *p = trust_psl_parse(small_list, sizeof small_list - 1,
					      err, sizeof err);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK_INT(trust_psl_rules(p), 10); /* "ck" and "*.ck" share one entry */
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"example.com", "example.com"},
		{"a.b.example.com", "example.com"},
		{"Mail.Example.COM.", "example.com"},
		{"com", "com"},                         /* a suffix itself */
		{"example.co.uk", "example.co.uk"},
		{"shop.example.co.uk", "example.co.uk"},
		{"x.uk", "x.uk"},
		{"b.kawasaki.jp", "b.kawasaki.jp"},     /* wildcard: the suffix itself */
		{"a.b.kawasaki.jp", "a.b.kawasaki.jp"},
		{"z.a.b.kawasaki.jp", "a.b.kawasaki.jp"},
		{"city.kawasaki.jp", "city.kawasaki.jp"}, /* exception */
		{"www.city.kawasaki.jp", "city.kawasaki.jp"},
		{"www.ck", "www.ck"},
		{"www.www.ck", "www.ck"},
		{"foo.ck", "foo.ck"},
		{"bar.foo.ck", "bar.foo.ck"},
		{"victim.github.io", "victim.github.io"}, /* private section */
		{"www.victim.github.io", "victim.github.io"},
		{"a.example-upper.net", "a.example-upper.net"},
		{"example.unknowntld", "example.unknowntld"}, /* implicit "*" */
		{"a.b.example.unknowntld", "example.unknowntld"},
		{"localhost", "localhost"},
		{"", ""},
		{"a..example.com", "a..example.com"},   /* not a name: kept whole */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		char out[TRUST_DOMAIN_MAX + 1];
		trust_psl_org_domain(p, cases[i].in, out, sizeof out);
		CHECK_STR(out, cases[i].want);
	}
	test_state.label = "short out";
	char small[8];
	trust_psl_org_domain(p, "x.example.com", small, sizeof small);
	CHECK_STR(small, "example");
	test_state.label = NULL;
	trust_psl_free(&p);
	CHECK(p == NULL);
}

static void test_refused(void)
{
	char err[128] = "";
	CHECK(trust_psl_parse("// only a comment\n\n", 19, err, sizeof err) == NULL);
	CHECK(strstr(err, "no rules") != NULL);
	CHECK(trust_psl_load("/nonexistent/psl.dat", err, sizeof err) == NULL);
	CHECK(strstr(err, "/nonexistent/psl.dat") != NULL);
	/* over the rule cap: refused whole, not half read */
	size_t n = 70000 * 2;
	char *many = malloc(n);
	CHECK(many != NULL);
	if (many == NULL)
		return;
	for (size_t i = 0; i < n; i += 2) {
		many[i] = 'a';
		many[i + 1] = '\n';
	}
	CHECK(trust_psl_parse(many, n, err, sizeof err) == NULL);
	CHECK(strstr(err, "too many") != NULL);
	free(many);
}

static void test_system_list(void)
{
	if (access(TRUST_PSL_PATH, R_OK) != 0) {
		fprintf(stderr, "skip: no %s\n", TRUST_PSL_PATH);
		return;
	}
	char err[128] = "";
	struct trust_psl *p = trust_psl_load(TRUST_PSL_PATH, err, sizeof err);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(trust_psl_rules(p) > 5000);
	static const struct {
		const char *in, *psl, *builtin;
	} cases[] = {
		{"mail.example.co.uk", "example.co.uk", "example.co.uk"},
		{"news.example.com", "example.com", "example.com"},
		{"www.city.kawasaki.jp", "city.kawasaki.jp", "kawasaki.jp"},
		{"victim.github.io", "victim.github.io", "github.io"},
		{"a.example.com.de", "example.com.de", "com.de"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		char out[TRUST_DOMAIN_MAX + 1];
		trust_psl_org_domain(p, cases[i].in, out, sizeof out);
		CHECK_STR(out, cases[i].psl);
		trust_org_domain(cases[i].in, out, sizeof out);
		CHECK_STR(out, cases[i].builtin);
	}
	test_state.label = NULL;
	trust_psl_free(&p);
}

TEST_SUITE(trust_psl, {"rules", test_rules}, {"refused", test_refused},
	   {"system list", test_system_list});
