/*
 * test_trust_parse.c - the trust parsers as tables: SPF record syntax and
 * macro-string syntax, the DKIM/DMARC tag list, DMARC records and
 * organizational domains. Parsers are pure; every case is also run on a
 * copy cut to exactly its length (no NUL to lean on).
 */
#include <stdlib.h>
#include <string.h>

#include "../../trust/trust.h"
#include "test.h"

/* A malloc'd copy without a terminating NUL, so ASan sees overreads. */
static char *exact(const char *s, size_t *len_r)
{
	size_t n = strlen(s);
	char *p = malloc(n ? n : 1);
	memcpy(p, s, n);
	*len_r = n;
	return p;
}

static void test_spf_records(void)
{
	static const struct {
		const char *label, *rec;
		int want; /* 1 record, 0 not SPF, -1 permerror */
		size_t terms;
	} cases[] = {
		{"empty-v", "v=spf1", 1, 0},
		{"basic", "v=spf1 ip4:192.0.2.0/24 mx a:mail.example.com -all", 1, 4},
		{"two-spaces", "v=spf1 a  -all", 1, 2},
		{"trailing-space", "v=spf1 -all ", 1, 1},
		{"not-spf", "v=spf10 -all", 0, 0},
		{"other-txt", "google-site-verification=abc", 0, 0},
		{"case", "V=SpF1 ~ALL", 1, 1},
		{"unknown-mech", "v=spf1 moo", -1, 0},
		{"all-arg", "v=spf1 -all:x", -1, 0},
		{"all-dot", "v=spf1 -all.", -1, 0},
		{"include-bare", "v=spf1 include", -1, 0},
		{"include-empty", "v=spf1 include:", -1, 0},
		{"include-cidr", "v=spf1 include:a.example.com/24", -1, 0},
		{"a-dual", "v=spf1 a/24//64", 1, 1},
		{"a-dual-bad", "v=spf1 a/24/64", -1, 0},
		{"a-cidr33", "v=spf1 a/33", -1, 0},
		{"a-cidr-lead0", "v=spf1 a/024", -1, 0},
		{"a-slash-in-domain", "v=spf1 a:foo:bar/baz.example.com", 1, 1},
		{"a-numeric-top", "v=spf1 a:1.2.3.4", -1, 0},
		{"a-dash-top", "v=spf1 a:foo.xn--zckzah", 1, 1},
		{"a-only-top", "v=spf1 a:museum", -1, 0},
		{"ip4-short", "v=spf1 ip4:1.2.3", -1, 0},
		{"ip4-port", "v=spf1 ip4:1.2.3.4:25", -1, 0},
		{"ip4-double-slash", "v=spf1 ip4:1.2.3.4//32", -1, 0},
		{"ip6", "v=spf1 ip6:2001:db8::/32 -all", 1, 2},
		{"ip6-129", "v=spf1 ip6:::1/129", -1, 0},
		{"ip6-bad", "v=spf1 ip6::CAFE::BABE", -1, 0},
		{"ptr-cidr", "v=spf1 ptr/0", -1, 0},
		{"exists-macro", "v=spf1 exists:%{i}.%{l2r-}.user.%{d2}", 1, 1},
		{"bad-macro", "v=spf1 exists:%(ir).x.example.com", -1, 0},
		{"exp-macro-r", "v=spf1 -all exp=%{r}.example.com", -1, 0},
		{"redirect", "v=spf1 redirect=_spf.example.com", 1, 1},
		{"redirect-twice", "v=spf1 redirect=a.example.com redirect=b.example.com", -1, 0},
		{"exp-twice", "v=spf1 exp=a.example.com exp=b.example.com", -1, 0},
		{"redirect-empty", "v=spf1 redirect=", -1, 0},
		{"unknown-mod", "v=spf1 moo.cow-far_out=man:dog/cat -all", 1, 2},
		{"unknown-mod-badmacro", "v=spf1 foo=%abc", -1, 0},
		{"mod-digit-first", "v=spf1 1up=foo", -1, 0},
		{"mod-empty-name", "v=spf1 =all", -1, 0},
		{"cr-inside", "v=spf1 a:x.example.com\rptr", -1, 0},
		{"non-ascii", "v=spf1 \x80" "a", -1, 0},
		{"tab-separator", "v=spf1\t-all", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		size_t n;
		char *p = exact(cases[i].rec, &n);
		struct trust_spf_record *r = malloc(sizeof *r);
		const char *err = NULL;
		int rc = trust_spf_record_parse(p, n, r, &err);
		CHECK_INT(rc, cases[i].want);
		if (rc == 1)
			CHECK_INT(r->n_terms, cases[i].terms);
		if (rc < 0)
			CHECK(err != NULL);
		free(r);
		free(p);
	}
	/* the parsed fields of one record */
	test_state.label = "fields";
	const char *rec = "v=spf1 ~a:mail.example.com/28//56 ip4:192.0.2.1 redirect=x.example.com";
	struct trust_spf_record *r = malloc(sizeof *r);
	const char *err;
	CHECK_INT(trust_spf_record_parse(rec, strlen(rec), r, &err), 1);
	CHECK_INT(r->terms[0].kind, SPF_T_A);
	CHECK_INT(r->terms[0].qualifier, '~');
	CHECK_INT(r->terms[0].cidr4, 28);
	CHECK_INT(r->terms[0].cidr6, 56);
	CHECK_INT(r->terms[0].domain.len, strlen("mail.example.com"));
	CHECK_INT(r->terms[1].kind, SPF_T_IP4);
	CHECK_INT(r->terms[1].cidr4, 32);
	CHECK_INT(r->terms[1].ip[3], 1);
	CHECK_INT(r->redirect, 2);
	free(r);
	/* more terms than the cap is an error, not a cut */
	test_state.label = "too-many-terms";
	char big[2048] = "v=spf1";
	for (int k = 0; k < TRUST_SPF_TERMS_MAX + 1; k++)
		strncat(big, " ?all", sizeof big - strlen(big) - 1);
	r = malloc(sizeof *r);
	CHECK_INT(trust_spf_record_parse(big, strlen(big), r, &err), -1);
	free(r);
}

static void test_macro_syntax(void)
{
	static const struct {
		const char *s;
		bool exp, want;
	} cases[] = {
		{"%{s}", false, true},       {"%{L2r-}", false, true},
		{"%{ir}.%{v}.arpa", false, true}, {"%%%_%-", false, true},
		{"%{c}", false, false},      {"%{c}", true, true},
		{"%{t}x", true, true},       {"%{x}", true, false},
		{"%{d0", false, false},      {"%", false, false},
		{"%a", false, false},        {"a b", false, false},
		{"a b", true, true},         {"%{d2.-+,/_=}", false, true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].s;
		CHECK(trust_spf_macro_valid(slice_from_str(cases[i].s), cases[i].exp) ==
		      cases[i].want);
	}
}

static void test_tags(void)
{
	static const struct {
		const char *label, *s;
		int want;
		size_t n;
	} cases[] = {
		{"dkim", "v=1; a=rsa-sha256; d=example.com; s=sel;\r\n\th=from:to; bh=abc=; b=x y\r\n z", 0, 7},
		{"trailing-semicolon", "v=DMARC1; p=none;", 0, 2},
		{"empty", "", 0, 0},
		{"only-semicolons", " ; ;", 0, 0},
		{"no-equals", "v=1; oops", -1, 0},
		{"dup", "a=1; a=2", -1, 0},
		{"bad-name", "1a=2", -1, 0},
		{"underscore-name", "a_b=2", 0, 1},
		{"ctl-in-value", "a=x\001y", -1, 0},
		{"empty-value", "p=", 0, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		size_t n;
		char *p = exact(cases[i].s, &n);
		struct trust_tags t;
		const char *err = NULL;
		int rc = trust_tags_parse(p, n, &t, &err);
		CHECK_INT(rc, cases[i].want);
		if (rc == 0)
			CHECK_INT(t.n, cases[i].n);
		free(p);
	}
	/* which error, in which order (the single-pass parser keeps the order
	 * of checking each trimmed entry whole: '=', name, value) */
	static const struct {
		const char *s, *err;
	} errs[] = {
		{"a b=1", "bad tag name"},       /* white space inside the name */
		{" =1", "bad tag name"},         /* no name */
		{"=x\001", "bad tag name"},      /* the name before the value */
		{"1a=\001", "bad tag name"},
		{"a=\001; oops", "bad character in tag value"},
		{"oops; a b=1", "tag without '='"}, /* entries in order */
		{"a b", "tag without '='"},      /* no '=' before a bad name */
		{"a=1; b=2; a=3", "duplicate tag"},
		{"a=1; b=\177", "bad character in tag value"},
	};
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		test_state.label = errs[i].s;
		struct trust_tags te;
		const char *e = NULL;
		CHECK_INT(trust_tags_parse(errs[i].s, strlen(errs[i].s), &te, &e), -1);
		CHECK_STR(e ? e : "(none)", errs[i].err);
	}
	test_state.label = "values-trimmed";
	const char *s = "v=1;  d = example.com ;b=ab\r\n cd";
	struct trust_tags t;
	const char *err;
	CHECK_INT(trust_tags_parse(s, strlen(s), &t, &err), 0);
	const struct slice *d = trust_tags_get(&t, "d"), *b = trust_tags_get(&t, "b");
	CHECK(d && d->len == 11 && memcmp(d->ptr, "example.com", 11) == 0);
	CHECK(b && b->len == 7); /* "ab\r\n cd": inner FWS stays, callers strip */
	CHECK(trust_tags_get(&t, "x") == NULL);
	test_state.label = "empty-values";
	const char *ev = "a=;b= \t;c=";
	CHECK_INT(trust_tags_parse(ev, strlen(ev), &t, &err), 0);
	CHECK_INT(t.n, 3);
	for (size_t k = 0; k < t.n && k < 3; k++)
		CHECK_INT(t.t[k].value.len, 0);
	/* too many tags */
	test_state.label = "too-many";
	char big[1024] = "";
	for (int k = 0; k < TRUST_TAGS_MAX + 1; k++) {
		char one[16];
		snprintf(one, sizeof one, "t%d=1;", k);
		strncat(big, one, sizeof big - strlen(big) - 1);
	}
	CHECK_INT(trust_tags_parse(big, strlen(big), &t, &err), -1);
}

static void test_dmarc_records(void)
{
	static const struct {
		const char *label, *s;
		int want;
		enum trust_dmarc_policy p, sp;
		int pct;
		bool adkim_s, aspf_s;
	} cases[] = {
		{"reject", "v=DMARC1; p=reject", 1, TRUST_DMARC_P_REJECT, TRUST_DMARC_P_REJECT, 100, false, false},
		{"sp-pct", "v=DMARC1; p=quarantine; sp=none; pct=20", 1, TRUST_DMARC_P_QUARANTINE, TRUST_DMARC_P_NONE, 20, false, false},
		{"strict", "v=DMARC1;p=none;adkim=s;aspf=s", 1, TRUST_DMARC_P_NONE, TRUST_DMARC_P_NONE, 100, true, true},
		{"bad-pct-ignored", "v=DMARC1; p=reject; pct=500", 1, TRUST_DMARC_P_REJECT, TRUST_DMARC_P_REJECT, 100, false, false},
		{"no-p-with-rua", "v=DMARC1; rua=mailto:x@example.com", 1, TRUST_DMARC_P_NONE, TRUST_DMARC_P_NONE, 100, false, false},
		{"no-p", "v=DMARC1; adkim=s", -1, 0, 0, 0, false, false},
		{"bad-p", "v=DMARC1; p=maybe", -1, 0, 0, 0, false, false},
		{"v-not-first", "p=reject; v=DMARC1", 0, 0, 0, 0, false, false},
		{"spf-record", "v=spf1 -all", 0, 0, 0, 0, false, false},
		{"lowercase-v", "v=dmarc1; p=reject", 0, 0, 0, 0, false, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		size_t n;
		char *p = exact(cases[i].s, &n);
		struct trust_dmarc_record r;
		const char *err = NULL;
		int rc = trust_dmarc_record_parse(p, n, &r, &err);
		CHECK_INT(rc, cases[i].want);
		if (rc == 1) {
			CHECK_INT(r.p, cases[i].p);
			CHECK_INT(r.sp, cases[i].sp);
			CHECK_INT(r.pct, cases[i].pct);
			CHECK(r.adkim_strict == cases[i].adkim_s);
			CHECK(r.aspf_strict == cases[i].aspf_s);
		}
		free(p);
	}
	static const struct {
		const char *in, *want;
	} org[] = {
		{"example.com", "example.com"},       {"mail.example.com", "example.com"},
		{"a.b.c.example.com", "example.com"}, {"Example.COM.", "example.com"},
		{"shop.example.co.uk", "example.co.uk"}, {"example.co.uk", "example.co.uk"},
		{"com", "com"},
	};
	for (size_t i = 0; i < sizeof org / sizeof org[0]; i++) {
		test_state.label = org[i].in;
		char out[TRUST_DOMAIN_MAX + 1];
		trust_org_domain(org[i].in, out, sizeof out);
		CHECK_STR(out, org[i].want);
	}
}

TEST_SUITE(trust_spf_record, {"records", test_spf_records},
	   {"macro_syntax", test_macro_syntax});
TEST_SUITE(trust_tags, {"tag_lists", test_tags});
TEST_SUITE(trust_dmarc, {"records_and_org_domains", test_dmarc_records});
