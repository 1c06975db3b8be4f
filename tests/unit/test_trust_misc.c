/*
 * test_trust_misc.c - DKIM body and header canonicalization (whole and
 * one byte at a time must agree), Authentication-Results text and the
 * forged-header test, the spam score, DNSBL names, greylist keys, and the
 * greylist store through a real SQLite store with injected time.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/dkim_int.h"
#include "../../trust/trust_int.h"
#include "../../trust/trust.h"
#include "test.h"
#include "test_store_util.h"

struct sink {
	char out[4096];
	size_t n;
};

static void emit(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;
	if (s->n + n < sizeof s->out) {
		memcpy(s->out + s->n, p, n);
		s->n += n;
	}
	s->out[s->n] = '\0';
}

static void canon(bool relaxed, const char *in, bool bytewise, struct sink *s)
{
	struct dkim_canon c;
	memset(s, 0, sizeof *s);
	dkim_canon_init(&c, relaxed, emit, s);
	size_t n = strlen(in);
	if (bytewise)
		for (size_t i = 0; i < n; i++)
			dkim_canon_feed(&c, in + i, 1);
	else
		dkim_canon_feed(&c, in, n);
	dkim_canon_end(&c);
}

static void test_body_canon(void)
{
	/* RFC 6376 3.4.5's example, and the edge cases around it */
	static const struct {
		const char *label, *in, *simple, *relaxed;
	} cases[] = {
		{"rfc-example", " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n", " C\r\nD E\r\n"},
		{"empty", "", "\r\n", ""},
		{"only-empty-lines", "\r\n\r\n", "\r\n", ""},
		{"no-final-crlf", "abc", "abc\r\n", "abc\r\n"},
		{"inner-empty-kept", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"ws-only-line", "a\r\n  \r\nb\r\n", "a\r\n  \r\nb\r\n", "a\r\n\r\nb\r\n"},
		{"trailing-ws-lines", "a\r\n \r\n\t\r\n", "a\r\n \r\n\t\r\n", "a\r\n"},
		{"lone-cr", "a\rb\r\n", "a\rb\r\n", "a\rb\r\n"},
		/* single spaces inside a run of text, and the cases around them */
		{"words", "one two three\r\n", "one two three\r\n", "one two three\r\n"},
		{"double-space", "a  b c\r\n", "a  b c\r\n", "a b c\r\n"},
		{"space-tab", "a \tb\r\n", "a \tb\r\n", "a b\r\n"},
		{"space-at-end", "a b \r\nc\r\n", "a b \r\nc\r\n", "a b\r\nc\r\n"},
		{"space-before-cr", "a b\rc d\r\n", "a b\rc d\r\n", "a b\rc d\r\n"},
		{"space-then-cr-lf", "x y \r\n\r\nz\r\n", "x y \r\n\r\nz\r\n", "x y\r\n\r\nz\r\n"},
		{"leading-spaces", "  a b\r\n", "  a b\r\n", " a b\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct sink s;
			canon(false, cases[i].in, bytewise, &s);
			CHECK_STR(s.out, cases[i].simple);
			canon(true, cases[i].in, bytewise, &s);
			CHECK_STR(s.out, cases[i].relaxed);
		}
	}
	/* a million empty lines cost a counter, not memory */
	test_state.label = "many-empty-lines";
	struct dkim_canon c;
	struct sink s;
	memset(&s, 0, sizeof s);
	dkim_canon_init(&c, true, emit, &s);
	for (int k = 0; k < 1000000; k++)
		dkim_canon_feed(&c, "\r\n", 2);
	dkim_canon_feed(&c, "x", 1);
	dkim_canon_end(&c);
	CHECK_INT(c.emitted, 2000000 + 3);
}

static void test_header_canon(void)
{
	static const struct {
		const char *in, *relaxed;
	} cases[] = {
		{"A: X\r\n", "a:X\r\n"},
		{"B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"},
		{"Subject:  two  spaces \r\n", "subject:two spaces\r\n"},
		{"X:\r\n", "x:\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		struct buf b;
		CHECK(buf_init(&b, 1024) == 0);
		CHECK(dkim_canon_header(cases[i].in, strlen(cases[i].in), true, true, &b) == 0);
		CHECK_STR(b.data, cases[i].relaxed);
		buf_reset(&b);
		CHECK(dkim_canon_header(cases[i].in, strlen(cases[i].in), false, true, &b) == 0);
		CHECK_STR(b.data, cases[i].in); /* simple: unchanged */
		buf_free(&b);
	}
}

static void test_auth_results(void)
{
	struct trust_spf_outcome spf;
	memset(&spf, 0, sizeof spf);
	spf.result = TRUST_SPF_FAIL;
	snprintf(spf.identity, sizeof spf.identity, "alice@example.test");
	snprintf(spf.domain, sizeof spf.domain, "example.test");
	struct trust_dkim_outcome dk;
	memset(&dk, 0, sizeof dk);
	dk.n_sigs = 1;
	dk.sigs[0].result = TRUST_AUTH_PASS;
	/* a hostile d= must not inject a method of its own */
	snprintf(dk.sigs[0].domain, sizeof dk.sigs[0].domain, "evil.test; dmarc=pass");
	snprintf(dk.sigs[0].selector, sizeof dk.sigs[0].selector, "s1");
	snprintf(dk.sigs[0].b_prefix, sizeof dk.sigs[0].b_prefix, "AbCdEfGh");
	struct trust_dmarc_outcome dm;
	memset(&dm, 0, sizeof dm);
	dm.result = TRUST_AUTH_FAIL;
	dm.policy = dm.disposition = TRUST_DMARC_P_REJECT;
	snprintf(dm.domain, sizeof dm.domain, "example.test");
	struct trust_results r = {&spf, &dk, &dm};
	struct buf b;
	CHECK(buf_init(&b, 4096) == 0);
	CHECK(trust_auth_results_header("mail.example.test", &r, &b) == 0);
	CHECK_STR(b.data, "Authentication-Results: mail.example.test;\r\n"
			  "\tspf=fail smtp.mailfrom=alice@example.test;\r\n"
			  "\tdkim=pass header.d=evil.testdmarc=pass header.s=s1 header.b=\"AbCdEfGh\";\r\n"
			  "\tdmarc=fail (p=reject dis=reject) header.from=example.test\r\n");
	buf_free(&b);

	static const struct {
		const char *field;
		bool ours;
	} fields[] = {
		{"Authentication-Results: mail.example.test; spf=pass", true},
		{"authentication-results:MAIL.EXAMPLE.TEST;dkim=pass", true},
		{"Authentication-Results: (comment) mail.example.test 1; none", true},
		{"Authentication-Results:\r\n mail.example.test;\r\n\tdmarc=pass", true},
		{"Authentication-Results: mx.google.com; spf=pass", false},
		{"Authentication-Results: mail.example.test.evil; spf=pass", false},
		{"Authentication-Results-X: mail.example.test", false},
		{"Subject: Authentication-Results: mail.example.test", false},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		test_state.label = fields[i].field;
		CHECK(trust_auth_results_is_ours(fields[i].field, strlen(fields[i].field),
						 "mail.example.test") == fields[i].ours);
	}
}

static void test_spam_score(void)
{
	struct trust_spf_outcome spf;
	memset(&spf, 0, sizeof spf);
	struct trust_dkim_outcome dk;
	memset(&dk, 0, sizeof dk);
	struct trust_dmarc_outcome dm;
	memset(&dm, 0, sizeof dm);
	struct trust_results r = {&spf, &dk, &dm};
	struct trust_spam s;
	struct buf b;
	CHECK(buf_init(&b, 4096) == 0);

	test_state.label = "clean";
	spf.result = TRUST_SPF_PASS;
	dk.n_sigs = 1;
	dk.sigs[0].result = TRUST_AUTH_PASS;
	dm.result = TRUST_AUTH_PASS;
	trust_spam_score(&r, false, 50, &s);
	CHECK(!s.is_spam);
	CHECK(trust_spam_headers(&s, &b) == 0);
	CHECK_STR(b.data, "X-Spam-Score: -0.2\r\nX-Spam-Status: No, score=-0.2 "
			  "required=5.0 tests=SPF_PASS,DKIM_VALID\r\n");

	test_state.label = "forged";
	buf_reset(&b);
	spf.result = TRUST_SPF_FAIL;
	dk.sigs[0].result = TRUST_AUTH_FAIL;
	dm.result = TRUST_AUTH_FAIL;
	trust_spam_score(&r, true, 50, &s);
	CHECK(s.is_spam);
	CHECK_INT(s.score_tenths, 35 + 20 + 20 + 50);
	CHECK(trust_spam_headers(&s, &b) == 0);
	CHECK(strncmp(b.data, "X-Spam-Flag: YES\r\nX-Spam-Score: 12.5\r\n", 38) == 0);
	buf_free(&b);
}

static void test_names(void)
{
	char out[300];
	test_state.label = "dnsbl-v4";
	CHECK(trust_dnsbl_name("192.0.2.99", "zen.example", out, sizeof out) == 0);
	CHECK_STR(out, "99.2.0.192.zen.example");
	test_state.label = "dnsbl-v6";
	CHECK(trust_dnsbl_name("2001:db8::1", "bl.test", out, sizeof out) == 0);
	CHECK_STR(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test");
	test_state.label = "dnsbl-mapped";
	CHECK(trust_dnsbl_name("::ffff:192.0.2.1", "bl.test", out, sizeof out) == 0);
	CHECK_STR(out, "1.2.0.192.bl.test");
	test_state.label = "dnsbl-bad";
	CHECK(trust_dnsbl_name("nonsense", "bl.test", out, sizeof out) < 0);
	CHECK(trust_dnsbl_name("192.0.2.1", "bl.test", out, 8) < 0);

	test_state.label = "greylist-net";
	CHECK(trust_greylist_net("192.0.2.77", out, sizeof out) == 0);
	CHECK_STR(out, "192.0.2.0/24");
	CHECK(trust_greylist_net("2001:db8:1:2:3:4:5:6", out, sizeof out) == 0);
	CHECK_STR(out, "2001:db8:1:2::/64");
	test_state.label = "domain-list";
	CHECK(trust_domain_in_list("a.test, Example.TEST b.test", "example.test"));
	CHECK(!trust_domain_in_list("a.test,b.test", "example.test"));
	CHECK(!trust_domain_in_list("xexample.test", "example.test"));
	CHECK(trust_domain_in_list("*", "anything.test"));
	CHECK(!trust_domain_in_list("", "example.test"));
}

static void test_greylist_store(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t now = 1800000000, retry = -1;
	const char *net = "192.0.2.0/24";
	test_state.label = "first-sight-defers";
	CHECK_INT(store_greylist_check(t.st, net, "a@x.test", "bob@example.test", now, 2, &retry), 0);
	CHECK_INT(retry, 2);
	test_state.label = "too-early";
	CHECK_INT(store_greylist_check(t.st, net, "a@x.test", "bob@example.test", now + 1, 2, &retry), 0);
	CHECK_INT(retry, 1);
	test_state.label = "after-delay-passes";
	CHECK_INT(store_greylist_check(t.st, net, "a@x.test", "bob@example.test", now + 2, 2, &retry), 1);
	test_state.label = "stays-passed";
	CHECK_INT(store_greylist_check(t.st, net, "a@x.test", "bob@example.test", now + 100, 2, &retry), 1);
	test_state.label = "known-network-passes-new-triple";
	CHECK_INT(store_greylist_check(t.st, net, "c@y.test", "carol@example.test", now + 101, 2, &retry), 1);
	test_state.label = "other-network-defers";
	CHECK_INT(store_greylist_check(t.st, "198.51.100.0/24", "a@x.test", "bob@example.test", now + 101, 2, &retry), 0);
	test_state.label = "not-retried-starts-over";
	int64_t later = now + 101 + STORE_GREYLIST_RETRY_SECONDS + 10;
	CHECK_INT(store_greylist_check(t.st, "198.51.100.0/24", "a@x.test", "bob@example.test", later, 2, &retry), 0);
	CHECK_INT(retry, 2);
	test_state.label = "prune";
	int64_t far = now + STORE_GREYLIST_KEEP_SECONDS + STORE_GREYLIST_RETRY_SECONDS + 1000;
	CHECK(store_greylist_prune(t.st, far) >= 3);
	CHECK_INT(store_greylist_check(t.st, net, "a@x.test", "bob@example.test", far, 2, &retry), 0);
	test_state.label = "empty";
	CHECK(store_greylist_check(t.st, "", "a", "b", now, 2, &retry) < 0);
	tstore_done(&t);
}

struct outbuf {
	char d[70000];
	size_t n;
};

static int out_sink(void *ctx, const char *p, size_t n)
{
	struct outbuf *o = ctx;
	if (o->n + n >= sizeof o->d)
		return -1;
	memcpy(o->d + o->n, p, n);
	o->n += n;
	o->d[o->n] = '\0';
	return 0;
}

static void filter(const char *in, size_t len, size_t piece, struct outbuf *o,
		   size_t *dropped)
{
	struct trust_arfilter f;
	o->n = 0;
	o->d[0] = '\0';
	CHECK(trust_arfilter_init(&f, "mail.example.test", out_sink, o) == 0);
	for (size_t i = 0; i < len; i += piece)
		CHECK(trust_arfilter_feed(&f, in + i, len - i < piece ? len - i : piece) == 0);
	CHECK(trust_arfilter_end(&f) == 0);
	*dropped = f.dropped;
	trust_arfilter_free(&f);
}

static void test_arfilter(void)
{
	static const struct {
		const char *label, *in, *want;
		size_t dropped;
	} cases[] = {
		{"ours-dropped",
		 "Authentication-Results: mail.example.test; spf=pass\r\nSubject: x\r\n\r\nbody\r\n",
		 "Subject: x\r\n\r\nbody\r\n", 1},
		{"folded-ours-dropped",
		 "From: a\r\nAuthentication-Results:\r\n\tmail.example.test;\r\n dkim=pass\r\nTo: b\r\n\r\n",
		 "From: a\r\nTo: b\r\n\r\n", 1},
		{"theirs-kept",
		 "Authentication-Results: mx.other.test; spf=pass\r\n\r\nx",
		 "Authentication-Results: mx.other.test; spf=pass\r\n\r\nx", 0},
		{"last-header-field",
		 "Authentication-Results: mail.example.test; none\r\n",
		 "", 1},
		{"body-untouched",
		 "A: 1\r\n\r\nAuthentication-Results: mail.example.test; none\r\n",
		 "A: 1\r\n\r\nAuthentication-Results: mail.example.test; none\r\n", 0},
		{"no-final-newline", "A: 1", "A: 1", 0},
		{"x-spam-dropped",
		 "X-Spam-Flag: YES\r\nFrom: a\r\nx-spam-status: Yes, score=99.0\r\n"
		 "\ttests=FORGED\r\nX-Spam: yes\r\nX-Spam-Level :***\r\nTo: b\r\n\r\n"
		 "X-Spam-Flag: YES\r\n",
		 "From: a\r\nTo: b\r\n\r\nX-Spam-Flag: YES\r\n", 4},
		{"x-spam-lookalikes-kept",
		 "X-Spamd-Bar: +++\r\nX-Spammer: no\r\nX-Spam-Flag-Note\r\nSubject: X-Spam-Flag: YES\r\n\r\n",
		 "X-Spamd-Bar: +++\r\nX-Spammer: no\r\nX-Spam-Flag-Note\r\nSubject: X-Spam-Flag: YES\r\n\r\n", 0},
		{"x-spam-last-header-field", "A: 1\r\nX-Spam-Score: 9.9\r\n", "A: 1\r\n", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		size_t len = strlen(cases[i].in);
		for (size_t piece = 1; piece <= len + 1; piece += (piece < 4 ? 1 : 7)) {
			static struct outbuf o;
			size_t dropped = 0;
			filter(cases[i].in, len, piece, &o, &dropped);
			CHECK_STR(o.d, cases[i].want);
			CHECK_INT(dropped, cases[i].dropped);
		}
	}
	/* an over-long ordinary line passes whole; an over-long forged field goes */
	test_state.label = "over-long";
	size_t big = TRUST_ARFILTER_FIELD_MAX + 100;
	char *in = malloc(2 * big + 200);
	size_t n = 0;
	n += (size_t)snprintf(in + n, 100, "X-Long: ");
	memset(in + n, 'a', big);
	n += big;
	n += (size_t)snprintf(in + n, 100, "\r\nAuthentication-Results: mail.example.test; ");
	memset(in + n, 'b', big);
	n += big;
	n += (size_t)snprintf(in + n, 100, "\r\n more\r\nTo: x\r\n\r\n");
	static struct outbuf o;
	size_t dropped = 0;
	filter(in, n, 4096, &o, &dropped);
	CHECK_INT(dropped, 1);
	CHECK_INT(o.n, strlen("X-Long: ") + big + 2 + strlen("To: x\r\n\r\n"));
	CHECK(strstr(o.d, "Authentication") == NULL);
	/* an over-long X-Spam field goes whole, with its continuation lines */
	test_state.label = "over-long x-spam";
	n = (size_t)snprintf(in, 100, "X-Spam-Status: ");
	memset(in + n, 'c', big);
	n += big;
	n += (size_t)snprintf(in + n, 100, "\r\n tests=A\r\nTo: x\r\n\r\n");
	filter(in, n, 4096, &o, &dropped);
	CHECK_INT(dropped, 1);
	CHECK_STR(o.d, "To: x\r\n\r\n");
	free(in);
}

static void test_settings(void)
{
	struct tstore t;
	tstore_open(&t);
	struct trust_settings s;
	const char *bad = NULL;
	test_state.label = "defaults";
	CHECK_INT(trust_settings_load(t.st, &s, &bad), 0);
	CHECK(s.spf && s.dkim && s.dmarc && s.reject_forged_own_domain);
	CHECK_INT(s.greylist_delay, 300);
	CHECK_INT(s.spam_threshold_tenths, 50);
	test_state.label = "set";
	tstore_settings(t.st, (const char *const[]){"trust.dkim", "off",
		"trust.dnsbl_zones", "zen.example, bl.example",
		"trust.greylist_domains", "example.test", "trust.greylist_delay", "2",
		"trust.spam_threshold", "6.5", "trust.spam_subject_tag", "[SPAM]", NULL});
	CHECK_INT(trust_settings_load(t.st, &s, &bad), 0);
	CHECK(!s.dkim && s.spf);
	CHECK_STR(s.dnsbl_zones, "zen.example, bl.example");
	CHECK(trust_domain_in_list(s.greylist_domains, "example.test"));
	CHECK_INT(s.greylist_delay, 2);
	CHECK_INT(s.spam_threshold_tenths, 65);
	CHECK_STR(s.spam_subject_tag, "[SPAM]");
	test_state.label = "bad-value-keeps-default";
	tstore_settings(t.st, (const char *const[]){"trust.greylist_delay", "soon",
		"trust.spf", "maybe", NULL});
	CHECK_INT(trust_settings_load(t.st, &s, &bad), -1);
	CHECK(bad != NULL);
	CHECK_INT(s.greylist_delay, 300);
	CHECK(s.spf);
	tstore_done(&t);
}

static int spf_calls, dnsbl_calls, dmarc_calls;
static enum trust_spf_result spf_seen;

static void spf_cb(void *arg, const struct trust_spf_outcome *o)
{
	(void)arg;
	spf_calls++;
	spf_seen = o->result;
}

static void dnsbl_cb(void *arg, const struct trust_dnsbl_outcome *o)
{
	(void)arg;
	(void)o;
	dnsbl_calls++;
}

static int dkim_calls;

static void dkim_cb(void *arg, const struct trust_dkim_outcome *o)
{
	(void)arg;
	(void)o;
	dkim_calls++;
}

static void dmarc_cb(void *arg, const struct trust_dmarc_outcome *o)
{
	(void)arg;
	(void)o;
	dmarc_calls++;
}

/* Pending questions when the context goes: live checks are answered with
 * temperror once, cancelled ones never, and nothing leaks (ASan build). The
 * server is a loopback port nobody answers on, and the loop never runs. */
static void test_cancel_and_destroy(void)
{
	struct event_base *base = event_base_new();
	char err[128];
	struct trust_ctx *ctx = trust_new(base, "127.0.0.1:9", err, sizeof err);
	CHECK(ctx != NULL);
	if (ctx == NULL)
		return;
	spf_calls = dnsbl_calls = dmarc_calls = dkim_calls = 0;
	struct trust_spf *live = trust_spf_check(ctx, "192.0.2.1", "h.test", "a@x.test", spf_cb, NULL);
	struct trust_spf *gone = trust_spf_check(ctx, "192.0.2.1", "h.test", "b@y.test", spf_cb, NULL);
	CHECK(live != NULL && gone != NULL);
	trust_spf_cancel(&gone);
	CHECK(gone == NULL);
	struct trust_dnsbl *bl = trust_dnsbl_check(ctx, "192.0.2.1", "a.test b.test", dnsbl_cb, NULL);
	trust_dnsbl_cancel(&bl);
	struct trust_dmarc_input in = {.from_domain = "x.test", .from_count = 1};
	struct trust_dmarc *dm = trust_dmarc_evaluate(ctx, &in, dmarc_cb, NULL);
	CHECK(dm != NULL);
	trust_dmarc_cancel(&dm);
	/* a message whose signature needs a key: freed while the key is asked */
	struct trust_dkim *d = trust_dkim_new(ctx);
	static const char msg[] =
		"DKIM-Signature: v=1; a=rsa-sha256; d=x.test; s=s; h=from; "
		"bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=; b=AAAA\r\n"
		"From: a@x.test\r\n\r\n";
	trust_dkim_feed(d, msg, sizeof msg - 1);
	trust_dkim_finish(d, dkim_cb, NULL);
	trust_dkim_free(&d);
	/* the two-hour-later case: no answers, the daemon stops */
	trust_free(&ctx);
	CHECK(ctx == NULL);
	CHECK_INT(spf_calls, 1);
	CHECK_INT(spf_seen, TRUST_SPF_TEMPERROR);
	CHECK_INT(dnsbl_calls, 0);
	CHECK_INT(dmarc_calls, 0);
	CHECK_INT(dkim_calls, 0); /* freed while its key was asked for */
	event_base_free(base);
}

static struct trust_dkim_outcome from_seen;

static void from_cb(void *arg, const struct trust_dkim_outcome *o)
{
	(void)arg;
	from_seen = *o;
}

/* The From domain DMARC aligns on: quoted strings and comments (nested,
 * with \-escapes) neither hide nor fake the address. Unsigned messages,
 * so the answer comes at once and no DNS is asked. */
static void test_from_domain(void)
{
	static const struct {
		const char *from, *domain;
		int count;
	} cases[] = {
		{"boss@ours.test (<x@evil.test>)", "ours.test", 1},
		{"\"a@ours.test\" <x@evil.test>", "evil.test", 1},
		{"(a (b) <x@evil.test>) Boss <boss@Ours.Test>", "ours.test", 1},
		{"\"a\\\" <x@evil.test>\" <y@ours.test>", "ours.test", 1},
		{"bob@ours.test (a \\) <x@evil.test>)", "ours.test", 1},
		{"a@ours.test, \"b,c\" <b@other.test>", "ours.test", 2},
	};
	struct event_base *base = event_base_new();
	char err[128];
	struct trust_ctx *ctx = trust_new(base, "127.0.0.1:9", err, sizeof err);
	CHECK(ctx != NULL);
	if (ctx == NULL) {
		event_base_free(base);
		return;
	}
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].from;
		char msg[256];
		int n = snprintf(msg, sizeof msg, "From: %s\r\nSubject: t\r\n\r\nbody\r\n",
				 cases[i].from);
		memset(&from_seen, 0, sizeof from_seen);
		struct trust_dkim *d = trust_dkim_new(ctx);
		trust_dkim_feed(d, msg, (size_t)n);
		trust_dkim_finish(d, from_cb, NULL);
		trust_dkim_free(&d);
		CHECK_STR(from_seen.from_domain, cases[i].domain);
		CHECK_INT(from_seen.from_count, cases[i].count);
	}
	trust_free(&ctx);
	event_base_free(base);
}

/* TTLs read from raw replies for the answer cache. */
static void test_reply_ttl(void)
{
	static const unsigned char pos[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
		/* a.test TXT "x", TTL 300, then TTL 120 */
		0xc0, 12, 0, 16, 0, 1, 0, 0, 0x01, 0x2c, 0, 2, 1, 'x',
		0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 120, 0, 2, 1, 'y',
	};
	static const unsigned char neg[] = {
		0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0,
		1, 'a', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
		/* authority: test SOA, TTL 60 (rdata left short: 0 octets) */
		0xc0, 14, 0, 6, 0, 1, 0, 0, 0, 60, 0, 0,
	};
	test_state.label = "positive-min";
	CHECK_INT(tdns_reply_ttl(pos, sizeof pos, false), 120);
	test_state.label = "negative-soa";
	CHECK_INT(tdns_reply_ttl(neg, sizeof neg, true), 60);
	test_state.label = "truncated";
	CHECK_INT(tdns_reply_ttl(pos, sizeof pos - 3, false), 0);
	CHECK_INT(tdns_reply_ttl(pos, 11, false), 0);
	test_state.label = "no-answers";
	CHECK_INT(tdns_reply_ttl(neg, sizeof neg, false), 0);
	test_state.label = "pointer-loop-safe";
	unsigned char bad[sizeof pos];
	memcpy(bad, pos, sizeof pos);
	bad[12] = 0xc0; /* question name is a pointer: skipped as 2 octets */
	bad[13] = 12;
	(void)tdns_reply_ttl(bad, sizeof bad, false); /* no crash, no loop */
}

TEST_SUITE(trust_dkim_canon, {"body", test_body_canon}, {"headers", test_header_canon});
TEST_SUITE(trust_misc, {"auth_results", test_auth_results}, {"spam_score", test_spam_score},
	   {"names", test_names}, {"ar_filter", test_arfilter}, {"settings", test_settings},
	   {"cancel_and_destroy", test_cancel_and_destroy}, {"reply_ttl", test_reply_ttl},
	   {"from_domain", test_from_domain});
TEST_SUITE(trust_greylist, {"store", test_greylist_store});
