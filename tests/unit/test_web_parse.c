/*
 * test_web_parse.c - the webadmin's decoders: forms and query strings,
 * percent-decoding, the Cookie header, route patterns, HTML escaping.
 * Every table case runs on its exact bytes (not NUL-terminated copies) so
 * a read past the length shows up under ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "../../webadmin/html.h"
#include "../../webadmin/parse.h"
#include "test.h"

/* A heap copy without a NUL, so ASan catches reads past len. */
static char *exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	memcpy(p, s, len);
	return p;
}

static void test_url_decode(void)
{
	static const struct {
		const char *in;
		int plus;
		const char *want; /* NULL: refused */
	} cases[] = {
		{"", 1, ""},
		{"abc", 1, "abc"},
		{"a+b", 1, "a b"},
		{"a+b", 0, "a+b"},
		{"a%40b", 1, "a@b"},
		{"%41%62", 1, "Ab"},
		{"%e2%82%ac", 1, "\xe2\x82\xac"},
		{"%", 1, NULL},
		{"%4", 1, NULL},
		{"%zz", 1, NULL},
		{"%00", 1, NULL},
		{"a%2", 1, NULL},
		{"%%41", 1, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		char dst[64];
		size_t len = strlen(cases[i].in);
		char *in = exact(cases[i].in, len);
		long n = url_decode(in, len, cases[i].plus, dst, sizeof dst);
		if (cases[i].want == NULL) {
			CHECK_INT(n, -1);
		} else {
			CHECK_INT(n, (long)strlen(cases[i].want));
			if (n >= 0)
				CHECK_STR(dst, cases[i].want);
		}
		free(in);
	}
	test_state.label = "does not fit";
	char small[4];
	CHECK_INT(url_decode("abcd", 4, true, small, sizeof small), -1);
	CHECK_INT(url_decode("abc", 3, true, small, sizeof small), 3);
}

static void test_form_parse(void)
{
	static const struct {
		const char *in;
		int ok;
		const char *pairs; /* "name=value|name=value" after decoding */
	} cases[] = {
		{"", 1, ""},
		{"a=1", 1, "a=1"},
		{"a=1&b=2", 1, "a=1|b=2"},
		{"address=bob%40example.test&password=p+w%26%3D", 1,
		 "address=bob@example.test|password=p w&="},
		{"&&a=1&&", 1, "a=1"},
		{"flag", 1, "flag="},
		{"a=", 1, "a="},
		{"=v", 1, "=v"},
		{"a=1=2", 1, "a=1=2"},
		{"a=%zz", 0, NULL},
		{"a%00b=1", 0, NULL},
		{"a=%", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		size_t len = strlen(cases[i].in);
		char *in = exact(cases[i].in, len);
		struct form f;
		int rc = form_parse(in, len, &f);
		CHECK_INT(rc, cases[i].ok ? 0 : -1);
		if (rc == 0) {
			char got[256] = "";
			size_t o = 0;
			for (size_t k = 0; k < f.n; k++)
				o += (size_t)snprintf(got + o, sizeof got - o, "%s%s=%s",
						      k ? "|" : "", f.fields[k].name,
						      f.fields[k].value);
			CHECK_STR(got, cases[i].pairs);
		} else {
			CHECK_INT(f.n, 0);
		}
		form_free(&f);
		free(in);
	}
}

static void test_form_limits_and_get(void)
{
	test_state.label = "form_get first wins";
	struct form f;
	CHECK_INT(form_parse("x=1&y=2&x=3", 11, &f), 0);
	CHECK_STR(form_get(&f, "x"), "1");
	CHECK_STR(form_get(&f, "y"), "2");
	CHECK(form_get(&f, "z") == NULL);
	form_free(&f);

	test_state.label = "too many fields";
	char buf[FORM_FIELDS_MAX * 4 + 8];
	size_t o = 0;
	for (int i = 0; i < FORM_FIELDS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "a=%d&", i % 10);
	CHECK_INT(form_parse(buf, o, &f), 0);
	CHECK_INT(f.n, FORM_FIELDS_MAX);
	form_free(&f);
	memcpy(buf + o, "b=1", 3);
	CHECK_INT(form_parse(buf, o + 3, &f), -1);
	form_free(&f);

	test_state.label = "every prefix of a form";
	static const char full[] = "address=a%40b.c&password=x+y%21&csrf=00ff";
	for (size_t n = 0; n <= sizeof full - 1; n++) {
		char *in = exact(full, n);
		if (form_parse(in, n, &f) == 0)
			for (size_t k = 0; k < f.n; k++)
				CHECK(strlen(f.fields[k].value) <= n);
		form_free(&f);
		free(in);
	}
}

static void test_cookie_get(void)
{
	static const struct {
		const char *header;
		const char *name;
		const char *want; /* NULL: not found / refused */
	} cases[] = {
		{"mr_sid=abc", "mr_sid", "abc"},
		{"a=1; mr_sid=abc; b=2", "mr_sid", "abc"},
		{"a=1;mr_sid=abc", "mr_sid", "abc"},
		{"  mr_sid = abc  ", "mr_sid", "abc"},
		{"mr_sid=\"abc\"", "mr_sid", "abc"},
		{"xmr_sid=abc", "mr_sid", NULL},
		{"mr_sidx=abc", "mr_sid", NULL},
		{"mr_sid", "mr_sid", NULL},
		{"", "mr_sid", NULL},
		{";;;", "mr_sid", NULL},
		{"mr_sid=", "mr_sid", ""},
		{"mr_sid=a b", "mr_sid", NULL},
		{"mr_sid=a,b", "mr_sid", NULL},
		{"mr_sid=a\\b", "mr_sid", NULL},
		{"mr_pre=1; mr_sid=2", "mr_pre", "1"},
		{"mr_sid=first; mr_sid=second", "mr_sid", "first"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].header;
		size_t len = strlen(cases[i].header);
		char *in = exact(cases[i].header, len);
		char dst[16];
		int rc = cookie_get(in, len, cases[i].name, dst, sizeof dst);
		if (cases[i].want == NULL) {
			CHECK_INT(rc, -1);
		} else {
			CHECK_INT(rc, 0);
			if (rc == 0)
				CHECK_STR(dst, cases[i].want);
		}
		free(in);
	}
	test_state.label = "value too long for dst";
	char tiny[4];
	CHECK_INT(cookie_get("mr_sid=abcd", 11, "mr_sid", tiny, sizeof tiny), -1);
	CHECK_INT(cookie_get("mr_sid=abc", 10, "mr_sid", tiny, sizeof tiny), 0);
}

static void test_route_match(void)
{
	static const struct {
		const char *pattern;
		const char *path;
		int match;
		const char *cap0;
	} cases[] = {
		{"/", "/", 1, NULL},
		{"/domains", "/domains", 1, NULL},
		{"/domains", "/domains/", 1, NULL},
		{"/domains", "/domainsx", 0, NULL},
		{"/domains", "/domain", 0, NULL},
		{"/domains", "/", 0, NULL},
		{"/", "/domains", 0, NULL},
		{"/api/v1/accounts/{}", "/api/v1/accounts/bob@example.test", 1,
		 "bob@example.test"},
		{"/api/v1/accounts/{}", "/api/v1/accounts/", 0, NULL},
		{"/api/v1/accounts/{}", "/api/v1/accounts", 0, NULL},
		{"/api/v1/accounts/{}", "/api/v1/accounts/a/b", 0, NULL},
		{"/api/v1/queue/{}/retry", "/api/v1/queue/42/retry", 1, "42"},
		{"/api/v1/queue/{}/retry", "/api/v1/queue//retry", 0, NULL},
		{"/api/v1/queue/{}", "/api/v1/queue/42/retry", 0, NULL},
		{"/a", "a", 0, NULL},
		{"/a", "", 0, NULL},
		{"/a", "//a", 0, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].path;
		struct route_cap caps[ROUTE_CAPTURES_MAX];
		size_t nc = 99;
		size_t len = strlen(cases[i].path);
		char *in = exact(cases[i].path, len);
		bool m = route_match(cases[i].pattern, in, len, caps, &nc);
		CHECK_INT(m, cases[i].match);
		if (m && cases[i].cap0) {
			CHECK_INT(nc, 1);
			CHECK_INT(caps[0].len, strlen(cases[i].cap0));
			CHECK(memcmp(caps[0].ptr, cases[i].cap0, caps[0].len) == 0);
		} else if (m) {
			CHECK_INT(nc, 0);
		}
		free(in);
	}
}

static void test_html_escape(void)
{
	struct html h;
	test_state.label = "template helper";
	CHECK_INT(html_init(&h), 0);
	html_fmt(&h, "<p title=\"%s\">%s %R %d %D %u 100%%</p>", "\"x\"",
		 "<b>&'", "<i>", -5, (int64_t)1 << 40, "a b/c@d?e=f&g");
	CHECK_STR(h.b.data, "<p title=\"&quot;x&quot;\">&lt;b&gt;&amp;&#39; <i> -5 "
			    "1099511627776 a%20b%2Fc@d%3Fe%3Df%26g 100%</p>");
	CHECK(!h.failed);
	html_free(&h);

	test_state.label = "html_escape into a buffer";
	char dst[32];
	CHECK_INT(html_escape("<a>", dst, sizeof dst), 0);
	CHECK_STR(dst, "&lt;a&gt;");
	char small[5];
	CHECK_INT(html_escape("<", small, sizeof small), 0);
	CHECK_INT(html_escape("<<", small, sizeof small), -1);

	test_state.label = "cap marks failure";
	CHECK_INT(html_init(&h), 0);
	char *big = malloc(HTML_BODY_MAX / 2 + 1);
	memset(big, 'x', HTML_BODY_MAX / 2);
	big[HTML_BODY_MAX / 2] = '\0';
	html_raw(&h, big);
	html_raw(&h, big);
	CHECK(!h.failed || h.b.len <= HTML_BODY_MAX);
	html_raw(&h, big);
	CHECK(h.failed);
	CHECK(h.b.len <= HTML_BODY_MAX);
	free(big);
	html_free(&h);

	test_state.label = "sizes";
	char s[32];
	html_size(s, sizeof s, 0);
	CHECK_STR(s, "0 bytes");
	html_size(s, sizeof s, 1536);
	CHECK_STR(s, "1.5 KB");
	html_size(s, sizeof s, 50LL * 1024 * 1024);
	CHECK_STR(s, "50.0 MB");
}

static void test_csv_split(void)
{
	static const struct {
		const char *in;
		int n;
		const char *joined; /* fields joined with '|' */
	} cases[] = {
		{"", 1, ""},
		{"a", 1, "a"},
		{"a,b,c", 3, "a|b|c"},
		{" a , b ,c ", 3, "a|b|c"},
		{"a,,c", 3, "a||c"},
		{"a,", 2, "a|"},
		{"\"Ortiz, Ben\",x", 2, "Ortiz, Ben|x"},
		{"\"say \"\"hi\"\"\"", 1, "say \"hi\""},
		{" \"q\" ,z", 2, "q|z"},
		{"\"open", -1, NULL},
		{"\"a\"b,c", -1, NULL},
		{"1,2,3,4,5", -1, NULL}, /* more than max (4) */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		char line[64], *f[4], got[64] = "";
		snprintf(line, sizeof line, "%s", cases[i].in);
		int n = csv_split(line, f, 4);
		CHECK_INT(n, cases[i].n);
		if (n > 0 && cases[i].joined) {
			size_t o = 0;
			for (int k = 0; k < n; k++)
				o += (size_t)snprintf(got + o, sizeof got - o, "%s%s",
						      k ? "|" : "", f[k]);
			CHECK_STR(got, cases[i].joined);
		}
	}
}

/* list_next: the items of a typed list, whatever mix of separators. */
static void test_list_next(void)
{
	static const struct {
		const char *in;
		const char *joined; /* items joined with '|' */
	} cases[] = {
		{"", ""},
		{" ,;\t ", ""},
		{"a@x.test", "a@x.test"},
		{"a@x.test, b@y.test;c@z.test\td@w.test", "a@x.test|b@y.test|c@z.test|d@w.test"},
		{",, a ;; b ,", "a|b"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		char got[128] = "";
		size_t o = 0, n;
		const char *p = cases[i].in, *item;
		while (list_next(&p, &item, &n))
			o += (size_t)snprintf(got + o, sizeof got - o, "%s%.*s",
					      o ? "|" : "", (int)n, item);
		CHECK_STR(got, cases[i].joined);
		CHECK(*p == '\0'); /* the whole input was read */
	}
}

TEST_SUITE(web_parse, {"csv_split", test_csv_split}, {"list_next", test_list_next}, {"url_decode", test_url_decode},
	   {"form_parse", test_form_parse},
	   {"form_limits_and_get", test_form_limits_and_get},
	   {"cookie_get", test_cookie_get}, {"route_match", test_route_match},
	   {"html_escape", test_html_escape});
