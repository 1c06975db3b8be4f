/*
 * test_smtp_session.c - whole SMTP dialogues through the I/O-free core on
 * the in-memory host (smtpd/smtp_memhost.h). Each case is fed whole and
 * one byte at a time; the reply codes must be the same. Cases cover the
 * gate (state, TLS, AUTH), relay policy, smuggling, STARTTLS injection and
 * the paused states while the store works.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/log.h"
#include "../../smtpd/smtp_memhost.h"
#include "test.h"

/* "220 250 354 ..." of the final line of each reply in out. */
static void reply_codes(const struct buf *out, char *dst, size_t dstlen)
{
	size_t o = 0;
	dst[0] = '\0';
	const char *p = out->data, *end = out->data + out->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			break;
		if (nl - p >= 4 && p[3] == ' ' && o + 5 < dstlen) {
			if (o > 0)
				dst[o++] = ' ';
			memcpy(dst + o, p, 3);
			o += 3;
			dst[o] = '\0';
		}
		p = nl + 1;
	}
}

struct dialogue {
	const char *label;
	enum smtp_port_kind kind;
	const char *before_tls; /* fed first */
	const char *after_tls;  /* fed after the simulated handshake, if any */
	const char *want;       /* reply codes */
	bool want_closed;
	int want_delivered;
};

static void feed_str(struct smtp_memhost *h, const char *s, bool bytewise)
{
	size_t n = strlen(s);
	if (!bytewise) {
		smtp_memhost_feed(h, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		smtp_memhost_feed(h, s + i, 1);
}

static void run_dialogue(const struct dialogue *d, bool bytewise, bool greet)
{
	struct smtp_session_config cfg = {
		.hostname = "mail.example.test",
		.size_limit = 100000,
		.max_recipients = 3,
		.kind = d->kind,
		.tls_available = true,
	};
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, &cfg) == 0);
	if (d->kind == SMTP_PORT_SMTPS)
		smtp_session_tls_started(h.sess, "TLSv1.3 TEST");
	if (greet)
		smtp_session_greet(h.sess);
	feed_str(&h, d->before_tls, bytewise);
	if (d->after_tls != NULL) {
		smtp_memhost_tls_up(&h);
		feed_str(&h, d->after_tls, bytewise);
	}
	char codes[512];
	reply_codes(&h.out, codes, sizeof(codes));
	CHECK_STR(codes, d->want);
	CHECK_INT(h.closed, d->want_closed);
	CHECK_INT(h.n_delivered, d->want_delivered);
	smtp_memhost_free(&h);
}

#define EHLO "EHLO client.example\r\n"
#define TXN "MAIL FROM:<a@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
#define PLAIN_ALICE "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1wdw==\r\n"
#define PLAIN_WRONG "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n"

static const struct dialogue dialogues[] = {
	{"deliver", SMTP_PORT_MX, EHLO TXN "Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n", NULL,
	 "220 250 250 250 354 250 221", true, 1},
	{"helo deliver", SMTP_PORT_MX, "HELO c\r\n" TXN "x\r\n.\r\n", NULL,
	 "220 250 250 250 354 250", false, 1},
	{"sequence errors", SMTP_PORT_MX,
	 "MAIL FROM:<a@r.example>\r\n" EHLO "RCPT TO:<alice@example.test>\r\nDATA\r\n"
	 "MAIL FROM:<a@r.example>\r\nMAIL FROM:<a@r.example>\r\nDATA\r\n", NULL,
	 "220 503 250 503 503 250 503 554", false, 0},
	{"relay refused", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<x@remote.example>\r\n"
	 "RCPT TO:<x%remote.example@example.test>\r\nRCPT TO:<@example.test:x@remote.example>\r\n"
	 "RCPT TO:<\"x@remote.example\"@example.test>\r\nRCPT TO:<x@[192.0.2.1]>\r\n"
	 "RCPT TO:<remote.example!x@example.test>\r\n", NULL,
	 "220 250 250 554 554 554 554 554 554", false, 0},
	{"recipients", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<ghost@example.test>\r\n"
	 "RCPT TO:<full@example.test>\r\nRCPT TO:<fwd@example.test>\r\nRCPT TO:<staff@example.test>\r\n"
	 "RCPT TO:<Postmaster>\r\nRCPT TO:<alice@example.test>\r\n", NULL,
	 "220 250 250 550 452 250 250 250 452", false, 0},
	{"smuggling", SMTP_PORT_MX,
	 EHLO TXN "a\r\n\n.\nMAIL FROM:<x@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nz\r\n.\r\nNOOP\r\n",
	 NULL, "220 250 250 250 354 554 250", false, 0},
	{"size param", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example> SIZE=100001\r\nMAIL FROM:<a@r.example> SIZE=100000\r\n", NULL,
	 "220 250 552 250", false, 0},
	{"params need EHLO", SMTP_PORT_MX, "HELO c\r\nMAIL FROM:<a@r.example> SIZE=1\r\n", NULL,
	 "220 250 555", false, 0},
	{"no auth on mx", SMTP_PORT_MX, EHLO PLAIN_ALICE, NULL, "220 250 502", false, 0},
	{"starttls injection", SMTP_PORT_MX, EHLO "STARTTLS\r\nRSET\r\nQUIT\r\n", EHLO "NOOP\r\n",
	 "220 250 220 250 250", false, 0},
	{"submission gate", SMTP_PORT_SUBMISSION,
	 EHLO "MAIL FROM:<alice@example.test>\r\n" PLAIN_ALICE "STARTTLS\r\n",
	 "MAIL FROM:<alice@example.test>\r\n" EHLO "MAIL FROM:<alice@example.test>\r\n" PLAIN_WRONG PLAIN_ALICE
	 "MAIL FROM:<bob@example.test>\r\nMAIL FROM:<alice@example.test>\r\n"
	 "RCPT TO:<x@remote.example>\r\nDATA\r\nx\r\n.\r\n",
	 "220 250 530 538 220 503 250 530 535 235 553 250 250 354 250", false, 1},
	{"smtps login", SMTP_PORT_SMTPS,
	 EHLO "AUTH LOGIN\r\nYm9iQGV4YW1wbGUudGVzdA==\r\nYm9iLXB3\r\nMAIL FROM:<bob@example.test>\r\n", NULL,
	 "220 250 334 334 235 250", false, 0},
	{"auth cancel and garbage", SMTP_PORT_SMTPS,
	 EHLO "AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n%%%\r\nAUTH X\r\nAUTH PLAIN =\r\n", NULL,
	 "220 250 334 501 334 501 504 501", false, 0},
	{"bdat chunks", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.test>\r\n"
	 "BDAT 5\r\nab\r\ncBDAT 5 LAST\r\n\r\n.\r\nQUIT\r\n", NULL,
	 "220 250 250 250 250 250 221", true, 1},
	{"bdat refused, chunk not read as commands", SMTP_PORT_MX,
	 "BDAT 18\r\nNOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n", NULL, "220 503 221", true, 0},
	{"bdat without recipients", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nBDAT 6 LAST\r\nNOOP\r\nNOOP\r\n", NULL,
	 "220 250 250 554 250", false, 0},
	{"bdat bad size closes", SMTP_PORT_MX, EHLO "BDAT x\r\nNOOP\r\n", NULL,
	 "220 250 501", true, 0},
	{"bdat control char closes", SMTP_PORT_MX, EHLO "BDAT 4\x01\r\nNOOP\r\n", NULL,
	 "220 250 421", true, 0},
	{"bdat bare lf", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT 4 LAST\r\na\nb\nNOOP\r\n",
	 NULL, "220 250 250 250 554 250", false, 0},
	{"data after bdat", SMTP_PORT_MX,
	 EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT 4\r\nab\r\n"
	 "DATA\r\nRCPT TO:<bob@example.test>\r\nBDAT 0 LAST\r\n", NULL,
	 "220 250 250 250 250 503 503 250", false, 1},
	{"bdat before tls on submission", SMTP_PORT_SUBMISSION,
	 EHLO "BDAT 6\r\nNOOP\r\nNOOP\r\n", NULL, "220 250 503 250", false, 0},
	{"quit discards rest", SMTP_PORT_MX, EHLO "QUIT\r\nNOOP\r\n", NULL, "220 250 221", true, 0},
};

static void test_smtp_session_dialogues(void)
{
	log_open("test", false, LOG_LEVEL_ERROR); /* the core logs every event */
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++) {
		test_state.label = dialogues[i].label;
		run_dialogue(&dialogues[i], false, true);
		run_dialogue(&dialogues[i], true, true);
	}
	/* 512 octets with CRLF are fine, 513 are not; the session goes on */
	static char longer[2][600];
	static char xs[600];
	memset(xs, 'x', sizeof(xs) - 1);
	for (int k = 0; k < 2; k++) {
		int fill = 512 - 2 - 5 + k; /* "NOOP " + fill + CRLF = 512 + k */
		snprintf(longer[k], sizeof(longer[k]), "%sNOOP %.*s\r\nNOOP\r\n",
			 EHLO, fill, xs);
	}
	struct dialogue ok = {"512 octets", SMTP_PORT_MX, longer[0], NULL, "220 250 250 250", false, 0};
	struct dialogue bad = {"513 octets", SMTP_PORT_MX, longer[1], NULL, "220 250 500 250", false, 0};
	test_state.label = ok.label;
	run_dialogue(&ok, false, true);
	run_dialogue(&ok, true, true);
	test_state.label = bad.label;
	run_dialogue(&bad, false, true);
	run_dialogue(&bad, true, true);
}

static void test_smtp_session_bdat_content(void)
{
	test_state.label = "bdat content kept as sent";
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	const char *in = EHLO "MAIL FROM:<a@r.example>\r\nRCPT TO:<alice@example.test>\r\n"
			 "BDAT 8\r\n..x\r\n.\r\nBDAT 3 LAST\r\nend";
	for (size_t i = 0; in[i]; i++)
		smtp_memhost_feed(&h, in + i, 1);
	CHECK_INT(h.n_delivered, 1);
	const char *body = strstr(h.delivered.data, "\r\n\r\n");
	(void)body;
	size_t len = h.delivered.len;
	CHECK(len > 13 && memcmp(h.delivered.data + len - 13, "..x\r\n.\r\nend\r\n", 13) == 0);
	CHECK(strstr(h.delivered.data, "with ESMTP") != NULL);
	smtp_memhost_free(&h);
}

static void test_smtp_session_early_talker(void)
{
	static const struct dialogue d = {"early talker", SMTP_PORT_MX, EHLO, NULL, "554", true, 0};
	test_state.label = d.label;
	run_dialogue(&d, false, false);
}

static void test_smtp_session_too_many_errors(void)
{
	test_state.label = "errors";
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	for (int i = 0; i < 30; i++)
		smtp_memhost_feed(&h, "BOGUS\r\n", 7);
	CHECK(h.closed);
	CHECK(strstr(h.out.data, "421 4.7.0") != NULL);
	smtp_memhost_free(&h);
}

/* The host answers later: the core must consume nothing while waiting. */
static void test_smtp_session_async_delivery(void)
{
	test_state.label = "async";
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	h.sync = false;
	smtp_session_greet(h.sess);
	const char *in = EHLO TXN "body\r\n.\r\nNOOP\r\n";
	size_t n = strlen(in);
	size_t used = smtp_session_feed(h.sess, in, n);
	size_t noop = strlen("NOOP\r\n");
	CHECK_INT(used, n - noop);
	CHECK(h.deliver_pending);
	CHECK(smtp_session_paused(h.sess));
	CHECK_INT(smtp_session_feed(h.sess, in + used, noop), 0);
	CHECK(strstr(h.out.data, "250 2.0.0 Ok: queued") == NULL);
	smtp_session_deliver_result(h.sess, STORE_BUSY);
	CHECK(strstr(h.out.data, "451 4.3.0") != NULL);
	CHECK_INT(smtp_session_feed(h.sess, in + used, noop), noop);
	CHECK(!smtp_session_paused(h.sess));
	CHECK(h.delivered.len > 0 && strstr(h.delivered.data, "\r\nbody\r\n") != NULL);
	CHECK(strncmp(h.delivered.data, "Return-Path: <a@remote.example>\r\nReceived: from client.example ([192.0.2.1])", 70) == 0);
	smtp_memhost_free(&h);
}

/* The delivered copy's header block (up to the first empty line). */
static void delivered_head(const struct smtp_memhost *h, char *dst, size_t n)
{
	const char *end = h->delivered.data ? strstr(h->delivered.data, "\r\n\r\n") : NULL;
	size_t len = end ? (size_t)(end - h->delivered.data) : 0;
	if (len >= n)
		len = n - 1;
	memcpy(dst, h->delivered.data ? h->delivered.data : "", len);
	dst[len] = '\0';
}

/* RFC 5321 4.4 "for <rcpt>" with one recipient only: several would show
 * the Bcc recipients to everyone. */
static void test_smtp_session_received_for(void)
{
	test_state.label = "received for";
	char head[2048];
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	const char *one = EHLO TXN "Subject: x\r\n\r\nhi\r\n.\r\n";
	smtp_memhost_feed(&h, one, strlen(one));
	delivered_head(&h, head, sizeof(head));
	CHECK(strstr(head, "\r\n\tfor <alice@example.test>; ") != NULL);
	/* for comes after id, before the date (Opt-info order) */
	CHECK(strstr(head, "\tid ") != NULL &&
	      strstr(head, "\tid ") < strstr(head, "for <alice@"));
	smtp_memhost_free(&h);

	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	const char *two = EHLO "MAIL FROM:<a@remote.example>\r\n"
			  "RCPT TO:<alice@example.test>\r\n"
			  "RCPT TO:<bob@example.test>\r\nDATA\r\n"
			  "Subject: x\r\n\r\nhi\r\n.\r\n";
	smtp_memhost_feed(&h, two, strlen(two));
	delivered_head(&h, head, sizeof(head));
	CHECK(strstr(head, "Received: from client.example") != NULL);
	CHECK(strstr(head, "for <") == NULL);
	CHECK(strstr(head, "alice@") == NULL && strstr(head, "bob@") == NULL);
	smtp_memhost_free(&h);

	/* a transaction after RSET starts over: one recipient again */
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	const char *rset = EHLO "MAIL FROM:<a@remote.example>\r\n"
			   "RCPT TO:<alice@example.test>\r\nRSET\r\n"
			   "MAIL FROM:<a@remote.example>\r\n"
			   "RCPT TO:<bob@example.test>\r\nDATA\r\n"
			   "Subject: x\r\n\r\nhi\r\n.\r\n";
	smtp_memhost_feed(&h, rset, strlen(rset));
	delivered_head(&h, head, sizeof(head));
	CHECK(strstr(head, "\tfor <bob@example.test>; ") != NULL);
	CHECK(strstr(head, "alice@") == NULL);
	smtp_memhost_free(&h);
}

static void test_smtp_session_shutdown(void)
{
	test_state.label = "shutdown";
	struct smtp_memhost h;
	CHECK(smtp_memhost_init(&h, NULL) == 0);
	smtp_session_greet(h.sess);
	smtp_memhost_feed(&h, EHLO TXN "part\r\n", strlen(EHLO TXN "part\r\n"));
	smtp_session_shutdown(h.sess);
	CHECK(!h.closed); /* mid-DATA: finish first */
	smtp_memhost_feed(&h, ".\r\n", 3);
	CHECK(h.closed);
	char codes[128];
	reply_codes(&h.out, codes, sizeof(codes));
	CHECK_STR(codes, "220 250 250 250 354 250 421");
	smtp_memhost_free(&h);
	log_open("mailroom", false, LOG_LEVEL_INFO);
}

TEST_SUITE(smtp_session, {"dialogues", test_smtp_session_dialogues},
	   {"bdat content", test_smtp_session_bdat_content},
	   {"early talker", test_smtp_session_early_talker},
	   {"too many errors", test_smtp_session_too_many_errors},
	   {"async delivery", test_smtp_session_async_delivery},
	   {"received for", test_smtp_session_received_for},
	   {"shutdown", test_smtp_session_shutdown});
