/*
 * test_trust_spamd.c - the spamd client (trust/spamd.c): the reply parser
 * as a table, each case whole and fed as every prefix (a prefix answers
 * "need more" or the final answer, never something else); rule names;
 * addresses; spamd's score joining ours (trust_spam_add_spamd) and the
 * X-Spam-* text with and without it; the trust.spamd settings; and the
 * client on a real libevent loop against a loopback server in this test
 * (right answer, request bytes, refused port, garbage, stall -> timeout,
 * free before the answer, a message over the cap cut at a line end).
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../trust/trust.h"
#include "test.h"
#include "test_store_util.h"

/* ---- the reply parser ------------------------------------------------------ */

struct reply_case {
	const char *label, *in;
	int rc;               /* 1, 0, -1 */
	int code;
	bool spam;
	int score, required;  /* tenths */
	long long cl;
	const char *message;
};

static const struct reply_case replies[] = {
	{"gtube", "SPAMD/1.1 0 EX_OK\r\nContent-length: 27\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE",
	 1, 0, true, 10000, 50, 27, "EX_OK"},
	{"clean", "SPAMD/1.5 0 EX_OK\r\nSpam: False ; -0.0 / 5.0\r\n\r\n", 1, 0, false, 0, 50, -1,
	 "EX_OK"},
	{"bare-lf-yes", "SPAMD/1.1 0 EX_OK\nSpam: Yes;15.25/5\n\n", 1, 0, true, 153, 50, -1, "EX_OK"},
	{"round-away", "SPAMD/1.1 0 EX_OK\r\nspam: no ; -1.95 / 4.04\r\n\r\n", 1, 0, false, -20, 40,
	 -1, "EX_OK"},
	{"unknown-header", "SPAMD/1.1 0 EX_OK\r\nX-Foo: bar baz\r\nSpam: True ; 6 / 5\r\n\r\n", 1,
	 0, true, 60, 50, -1, "EX_OK"},
	{"error-code", "SPAMD/1.0 76 Bad header line: (x)\r\n\r\n", 1, 76, false, 0, 0, -1,
	 "Bad header line: (x)"},
	{"no-message", "SPAMD/1.1 0\r\n\r\n", 1, 0, false, 0, 0, -1, ""},
	{"max-score", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000000.0 / 5.0\r\n\r\n", 1, 0, true,
	 10000000, 50, -1, "EX_OK"},
	{"quote-in-message", "SPAMD/1.1 0 A\"B\\C\r\nSpam: True ; 1 / 5\r\n\r\n", 1, 0, true, 10,
	 50, -1, "A?B?C"},
	{"incomplete", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n", 0, 0, false, 0, 0, -1, NULL},
	{"http", "HTTP/1.0 200 OK\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"lowercase-magic", "spamd/1.1 0 EX_OK\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"bad-version", "SPAMD/x 0 EX_OK\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"bad-code", "SPAMD/1.1 abc\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"long-code", "SPAMD/1.1 1234 X\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"no-colon", "SPAMD/1.1 0 EX_OK\r\nNoColon\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"folded", "SPAMD/1.1 0 EX_OK\r\n folded: x\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"exp-score", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1e5 / 5\r\n\r\n", -1, 0, false, 0, 0, -1,
	 NULL},
	{"no-slash", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 15\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"maybe", "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", -1, 0, false, 0, 0, -1, NULL},
	{"two-spam", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\nSpam: False ; 0 / 5\r\n\r\n", -1,
	 0, false, 0, 0, -1, NULL},
	{"negative-length", "SPAMD/1.1 0 EX_OK\r\nContent-length: -5\r\n\r\n", -1, 0, false, 0, 0,
	 -1, NULL},
	{"two-lengths", "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\ncontent-LENGTH: 5\r\n\r\n", -1,
	 0, false, 0, 0, -1, NULL},
	{"huge-score", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000001 / 5\r\n\r\n", -1, 0, false, 0, 0,
	 -1, NULL},
	{"dot-only", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 5. / 5\r\n\r\n", -1, 0, false, 0, 0, -1,
	 NULL},
	/* found by fuzz_trust_spamd: rounds to 1000000.1, past the limit */
	{"rounds-past-max", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 15 / -01000000.05\r\n\r\n", -1,
	 0, false, 0, 0, -1, NULL},
	{"max-after-rounding", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 999999.95 / 5\r\n\r\n", 1, 0,
	 true, 10000000, 50, -1, "EX_OK"},
};

static void test_reply_table(void)
{
	for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
		const struct reply_case *c = &replies[i];
		test_state.label = c->label;
		struct trust_spamd_reply r;
		const char *err = NULL;
		size_t n = strlen(c->in);
		int rc = trust_spamd_reply_parse(c->in, n, &r, &err);
		CHECK_INT(rc, c->rc);
		if (rc < 0)
			CHECK(err != NULL);
		if (rc == 1) {
			CHECK_INT(r.code, c->code);
			CHECK_INT(r.spam, c->spam);
			CHECK_INT(r.score_tenths, c->score);
			CHECK_INT(r.required_tenths, c->required);
			CHECK_INT(r.content_length, c->cl);
			CHECK_STR(r.message, c->message);
			const char *end = strstr(c->in, "\r\n\r\n");
			size_t want = end ? (size_t)(end - c->in) + 4
					  : (size_t)(strstr(c->in, "\n\n") - c->in) + 2;
			CHECK_INT(r.head_len, want);
		}
		/* every prefix: need more, or already the final answer */
		for (size_t k = 0; k < n; k++) {
			struct trust_spamd_reply p;
			int prc = trust_spamd_reply_parse(c->in, k, &p, &err);
			if (prc != 0 && prc != rc) {
				CHECK(prc == 0 || prc == rc);
				break;
			}
			if (prc == 1)
				CHECK_INT(p.head_len, r.head_len);
		}
	}
	test_state.label = "head-cap";
	char big[TRUST_SPAMD_HEAD_MAX + 64];
	memset(big, 'x', sizeof big);
	memcpy(big, "SPAMD/1.1 0 EX_OK\r\nX-Long: ", 27);
	struct trust_spamd_reply r;
	const char *err = NULL;
	CHECK_INT(trust_spamd_reply_parse(big, TRUST_SPAMD_HEAD_MAX - 1, &r, &err), 0);
	CHECK_INT(trust_spamd_reply_parse(big, sizeof big, &r, &err), -1);
	CHECK(err != NULL && strstr(err, "4 KiB") != NULL);
}

static void test_symbols(void)
{
	static const struct {
		const char *label, *in;
		size_t cap;
		const char *want;
		size_t kept;
	} cases[] = {
		{"plain", "GTUBE,NO_RECEIVED,NO_RELAYS", 64, "GTUBE,NO_RECEIVED,NO_RELAYS", 3},
		{"spaces-lines", " A, B\r\nC\n", 64, "A,B,C", 3},
		{"hostile", "a<script>b\"c\r\nX-Evil: 1", 64, "a,script,b,c,X,Evil,1", 7},
		{"cut-at-name", "AAAA,BBBB,CCCC", 10, "AAAA,BBBB", 2},
		{"too-long-first", "ABCDEFGHIJ", 5, "", 0},
		{"empty", "", 8, "", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		char out[64];
		size_t kept = trust_spamd_symbols(cases[i].in, strlen(cases[i].in), out,
						  cases[i].cap);
		CHECK_STR(out, cases[i].want);
		CHECK_INT(kept, cases[i].kept);
	}
}

static void test_addr(void)
{
	static const struct {
		const char *in, *want; /* want NULL: refused */
	} cases[] = {
		{"127.0.0.1:783", "127.0.0.1:783"},
		{"127.0.0.1", "127.0.0.1:783"},
		{"localhost:11783", "127.0.0.1:11783"},
		{"LocalHost", "127.0.0.1:783"},
		{"[::1]:783", "[::1]:783"},
		{"::1", "[::1]:783"},
		{"[127.0.0.1]:12", "127.0.0.1:12"},
		{"192.0.2.7:65535", "192.0.2.7:65535"},
		{"spamd.example.test:783", NULL},
		{"127.0.0.1:0", NULL},
		{"127.0.0.1:65536", NULL},
		{"127.0.0.1:78x", NULL},
		{"127.0.0.1:", NULL},
		{"[::1]x", NULL},
		{"[::1", NULL},
		{"", NULL},
		{"127.0.0.1:1234567", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].in;
		struct trust_spamd_addr a;
		const char *err = NULL;
		int rc = trust_spamd_addr_parse(cases[i].in, &a, &err);
		if (cases[i].want == NULL) {
			CHECK_INT(rc, -1);
			CHECK(err != NULL);
			continue;
		}
		CHECK_INT(rc, 0);
		char text[64];
		trust_spamd_addr_text(&a, text, sizeof text);
		CHECK_STR(text, cases[i].want);
	}
}

/* ---- spamd's score with ours --------------------------------------------------- */

static void test_spam_join(void)
{
	struct trust_spf_outcome spf;
	memset(&spf, 0, sizeof spf);
	spf.result = TRUST_SPF_PASS;
	struct trust_results r = {&spf, NULL, NULL};
	struct trust_spam s;
	struct trust_spamd_outcome o;
	struct buf b;
	CHECK(buf_init(&b, 4096) == 0);

	test_state.label = "without-spamd-unchanged";
	trust_spam_score(&r, false, 50, &s);
	CHECK(trust_spam_headers(&s, &b) == 0);
	CHECK_STR(b.data, "X-Spam-Score: -0.1\r\nX-Spam-Status: No, score=-0.1 required=5.0 "
			  "tests=SPF_PASS\r\n");

	test_state.label = "spamd-spam";
	buf_reset(&b);
	memset(&o, 0, sizeof o);
	o.answered = true;
	o.spam = true;
	o.score_tenths = 9990;
	o.required_tenths = 50;
	o.elapsed_us = 123456;
	snprintf(o.symbols, sizeof o.symbols, "GTUBE,MISSING_DATE,MSGID_SHORT,TVD_SPACE_RATIO");
	trust_spam_score(&r, false, 50, &s);
	trust_spam_add_spamd(&s, &o);
	CHECK(s.is_spam);
	CHECK_INT(s.score_tenths, 9990);
	CHECK_INT(s.spamd, 1);
	CHECK_INT(s.spamd_ms, 123);
	CHECK_STR(s.spamd_summary, "999.0/5.0");
	CHECK_STR(s.tests, "SPF_PASS,SPAMD");
	CHECK(trust_spam_headers(&s, &b) == 0);
	/* spamd's rule names folded at 78 columns */
	CHECK_STR(b.data, "X-Spam-Flag: YES\r\nX-Spam-Score: 999.0\r\n"
			  "X-Spam-Status: Yes, score=999.0 required=5.0 tests=SPF_PASS,SPAMD,GTUBE,\r\n"
			  "\tMISSING_DATE,MSGID_SHORT,TVD_SPACE_RATIO\r\n");

	test_state.label = "spamd-clean-ours-spam";
	memset(&spf, 0, sizeof spf);
	spf.result = TRUST_SPF_FAIL; /* 3.5 */
	o.spam = false;
	o.score_tenths = 12;
	o.symbols[0] = '\0';
	trust_spam_score(&r, false, 30, &s);
	trust_spam_add_spamd(&s, &o);
	CHECK(s.is_spam); /* our 3.5 reaches our 3.0 */
	CHECK_INT(s.score_tenths, 12);

	test_state.label = "spamd-says-spam-below-our-threshold";
	spf.result = TRUST_SPF_PASS;
	o.spam = true; /* spamd's required 4.0, ours 8.0 */
	o.score_tenths = 45;
	o.required_tenths = 40;
	trust_spam_score(&r, false, 80, &s);
	trust_spam_add_spamd(&s, &o);
	CHECK(!s.is_spam);
	CHECK(s.spamd_spam);
	CHECK_STR(s.spamd_summary, "4.5/4.0");

	test_state.label = "cut";
	o.cut = true;
	trust_spam_score(&r, false, 80, &s);
	trust_spam_add_spamd(&s, &o);
	CHECK_STR(s.spamd_summary, "4.5/4.0 (first 512 KiB)");

	test_state.label = "unavailable";
	buf_reset(&b);
	memset(&o, 0, sizeof o);
	snprintf(o.reason, sizeof o.reason, "127.0.0.1:1 connect failed: Connection refused");
	trust_spam_score(&r, false, 50, &s);
	trust_spam_add_spamd(&s, &o);
	CHECK(!s.is_spam);
	CHECK_INT(s.spamd, -1);
	CHECK_INT(s.score_tenths, -1);
	CHECK_STR(s.spamd_summary, "unavailable");
	CHECK_STR(s.spamd_reason, "127.0.0.1:1 connect failed: Connection refused");
	CHECK(trust_spam_headers(&s, &b) == 0);
	CHECK_STR(b.data, "X-Spam-Score: -0.1\r\nX-Spam-Status: No, score=-0.1 required=5.0 "
			  "tests=SPF_PASS,SPAMD_UNAVAILABLE\r\n");
	buf_free(&b);
}

static void test_spamd_settings(void)
{
	struct tstore t;
	tstore_open(&t);
	struct trust_settings s;
	const char *bad = NULL;
	test_state.label = "defaults";
	CHECK_INT(trust_settings_load(t.st, &s, &bad), 0);
	CHECK_STR(s.spamd, "");
	CHECK_INT(s.spamd_timeout, 10);
	test_state.label = "set";
	tstore_settings(t.st, (const char *const[]){"trust.spamd", "localhost:11783",
		"trust.spamd_timeout", "3", NULL});
	CHECK_INT(trust_settings_load(t.st, &s, &bad), 0);
	CHECK_STR(s.spamd, "127.0.0.1:11783");
	CHECK_INT(s.spamd_timeout, 3);
	test_state.label = "bad-name-off";
	tstore_settings(t.st, (const char *const[]){"trust.spamd", "spamd.example.test:783",
		"trust.spamd_timeout", "0", NULL});
	bad = NULL;
	CHECK_INT(trust_settings_load(t.st, &s, &bad), -1);
	CHECK(bad != NULL);
	CHECK_STR(s.spamd, "");
	CHECK_INT(s.spamd_timeout, 10);
	tstore_done(&t);
}

/* ---- the client against a loopback server ------------------------------------ */

enum srv_mode { SRV_ANSWER, SRV_STALL, SRV_GARBAGE };

struct srv {
	struct event_base *base;
	int lfd, cfd;
	unsigned port;
	enum srv_mode mode;
	const char *reply;
	char req[700 * 1024];
	size_t len;
	struct event *lev, *cev;
};

static void srv_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct srv *s = arg;
	ssize_t r = read(fd, s->req + s->len, sizeof s->req - 1 - s->len);
	if (r > 0) {
		s->len += (size_t)r;
		s->req[s->len] = '\0';
	}
	const char *end = strstr(s->req, "\r\n\r\n");
	const char *cl = strstr(s->req, "Content-length: ");
	bool all = end && cl &&
		   s->len >= (size_t)(end + 4 - s->req) + strtoul(cl + 16, NULL, 10);
	if ((all || r <= 0) && s->mode != SRV_STALL) {
		const char *out = s->mode == SRV_GARBAGE ? "<html>hello</html>\r\n\r\n" : s->reply;
		if (write(fd, out, strlen(out)) < 0)
			(void)0;
		event_del(s->cev);
		close(fd);
		s->cfd = -1;
	} else if (r <= 0) {
		event_del(s->cev);
	}
}

static void srv_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct srv *s = arg;
	s->cfd = accept(fd, NULL, NULL);
	if (s->cfd < 0)
		return;
	evutil_make_socket_nonblocking(s->cfd);
	s->cev = event_new(s->base, s->cfd, EV_READ | EV_PERSIST, srv_read, s);
	event_add(s->cev, NULL);
}

static struct srv *srv_start(struct event_base *base, enum srv_mode mode,
			     const char *reply)
{
	struct srv *s = calloc(1, sizeof *s);
	s->base = base;
	s->mode = mode;
	s->reply = reply;
	s->cfd = -1;
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 4) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		CHECK(!"loopback listener");
	s->port = ntohs(a.sin_port);
	evutil_make_socket_nonblocking(s->lfd);
	s->lev = event_new(base, s->lfd, EV_READ | EV_PERSIST, srv_accept, s);
	event_add(s->lev, NULL);
	return s;
}

static void srv_stop(struct srv *s)
{
	if (s->cev) {
		event_free(s->cev);
		if (s->cfd >= 0)
			close(s->cfd);
	}
	event_free(s->lev);
	close(s->lfd);
	free(s);
}

struct seen {
	int calls;
	struct trust_spamd_outcome o;
	struct event_base *base;
};

static void on_outcome(void *arg, const struct trust_spamd_outcome *o)
{
	struct seen *w = arg;
	w->calls++;
	w->o = *o;
	event_base_loopbreak(w->base);
}

/* Ask the server at port about msg; loop until the answer (or 5 s). */
static void ask(struct event_base *base, unsigned port, int timeout_ms,
		const char *prefix, const char *msg, size_t len, struct seen *w)
{
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
	memset(w, 0, sizeof *w);
	w->base = base;
	struct trust_spamd *s = trust_spamd_new(base, addr, timeout_ms);
	CHECK(s != NULL);
	if (prefix)
		trust_spamd_prefix(s, prefix, strlen(prefix));
	for (size_t i = 0; i < len; i += 1000) /* in pieces */
		trust_spamd_feed(s, msg + i, len - i < 1000 ? len - i : 1000);
	trust_spamd_finish(s, on_outcome, w);
	CHECK_INT(w->calls, 0); /* never before finish returns */
	struct timeval guard = {5, 0};
	event_base_loopexit(base, &guard);
	event_base_dispatch(base);
	trust_spamd_free(&s);
}

static unsigned closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		CHECK(!"bind");
	close(fd); /* bound, never listened: refused */
	return ntohs(a.sin_port);
}

static void test_client(void)
{
	struct event_base *base = event_base_new();
	struct seen w;
	static const char msg[] = "Subject: hi\r\nFrom: a@b.test\r\n\r\nHello\r\n";

	test_state.label = "answer";
	struct srv *s = srv_start(base, SRV_ANSWER,
				  "SPAMD/1.1 0 EX_OK\r\nContent-length: 11\r\n"
				  "Spam: True ; 15.3 / 5.0\r\n\r\nRULE_A,RULE_B_IGNORED");
	ask(base, s->port, 2000, "Received: x\r\n", msg, strlen(msg), &w);
	CHECK_INT(w.calls, 1);
	CHECK(w.o.answered && w.o.spam && !w.o.cut);
	CHECK_INT(w.o.score_tenths, 153);
	CHECK_INT(w.o.required_tenths, 50);
	CHECK_STR(w.o.symbols, "RULE_A,RULE"); /* Content-length: 11 */
	char want[256];
	snprintf(want, sizeof want, "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n"
		 "Received: x\r\n%s", strlen("Received: x\r\n") + strlen(msg), msg);
	CHECK_STR(s->req, want);
	srv_stop(s);

	test_state.label = "refused";
	ask(base, closed_port(), 2000, NULL, msg, strlen(msg), &w);
	CHECK_INT(w.calls, 1);
	CHECK(!w.o.answered);
	CHECK(strstr(w.o.reason, "connect failed: Connection refused") != NULL);

	test_state.label = "garbage";
	s = srv_start(base, SRV_GARBAGE, NULL);
	ask(base, s->port, 2000, NULL, msg, strlen(msg), &w);
	CHECK_INT(w.calls, 1);
	CHECK(!w.o.answered);
	CHECK(strstr(w.o.reason, "sent a bad reply: not a SPAMD reply") != NULL);
	srv_stop(s);

	test_state.label = "stall";
	s = srv_start(base, SRV_STALL, NULL);
	ask(base, s->port, 300, NULL, msg, strlen(msg), &w);
	CHECK_INT(w.calls, 1);
	CHECK(!w.o.answered);
	CHECK(strstr(w.o.reason, "no answer: within 0.300 s") != NULL);
	CHECK(w.o.elapsed_us >= 250000 && w.o.elapsed_us < 2000000);
	srv_stop(s);

	test_state.label = "bad-address";
	memset(&w, 0, sizeof w);
	w.base = base;
	struct trust_spamd *q = trust_spamd_new(base, "spamd.example.test", 1000);
	trust_spamd_finish(q, on_outcome, &w);
	CHECK_INT(w.calls, 0);
	event_base_dispatch(base);
	CHECK_INT(w.calls, 1);
	CHECK(strstr(w.o.reason, "is not an address") != NULL);
	trust_spamd_free(&q);

	test_state.label = "free-before-answer";
	s = srv_start(base, SRV_STALL, NULL);
	char addr[32];
	snprintf(addr, sizeof addr, "127.0.0.1:%u", s->port);
	memset(&w, 0, sizeof w);
	w.base = base;
	q = trust_spamd_new(base, addr, 500);
	trust_spamd_feed(q, msg, strlen(msg));
	trust_spamd_finish(q, on_outcome, &w);
	struct timeval tv = {0, 100000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	trust_spamd_free(&q);
	tv.tv_usec = 700000; /* past the timeout: nothing may run */
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	CHECK_INT(w.calls, 0);
	srv_stop(s);

	test_state.label = "cut-at-line-end";
	size_t big = TRUST_SPAMD_SEND_MAX + 5000;
	char *m = malloc(big);
	for (size_t i = 0; i < big; i++)
		m[i] = i % 100 == 98 ? '\r' : i % 100 == 99 ? '\n' : 'x';
	s = srv_start(base, SRV_ANSWER, "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.5 / 5.0\r\n\r\n");
	ask(base, s->port, 3000, "Received: y\r\n", m, big, &w);
	CHECK(w.o.answered && w.o.cut);
	CHECK_INT(w.o.score_tenths, 5);
	const char *body = strstr(s->req, "\r\n\r\n") + 4;
	size_t sent = s->len - (size_t)(body - s->req);
	CHECK(sent <= TRUST_SPAMD_SEND_MAX && sent > TRUST_SPAMD_SEND_MAX - 100);
	CHECK(body[sent - 1] == '\n' && body[sent - 2] == '\r');
	CHECK_INT(strtoul(strstr(s->req, "Content-length: ") + 16, NULL, 10), sent);
	srv_stop(s);
	free(m);
	event_base_free(base);
}

TEST_SUITE(trust_spamd, {"reply_table", test_reply_table}, {"symbols", test_symbols},
	   {"addr", test_addr}, {"spam_join", test_spam_join}, {"settings", test_spamd_settings},
	   {"client", test_client});
