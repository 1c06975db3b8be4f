/*
 * test_outbound_dsn.c - the RFC 3464 bounce: structure, the remote words,
 * and that hostile reply text cannot add header fields or MIME parts.
 */
#include <string.h>

#include "../../outbound/outbound_int.h"
#include "test.h"

static const char HEADERS[] =
	"From: <alice@example.test>\r\nTo: <bob@remote.test>\r\n"
	"Subject: quarterly report\r\n";

static void build(struct buf *out, const struct ob_dsn_rcpt *r, size_t n)
{
	struct ob_dsn_info info = {
		.reporting_host = "mail.example.test",
		.sender = "alice@example.test",
		.arrival = 1700000000,
		.now = 1700000100,
		.boundary_seed = "42.1700000100.7",
		.orig_headers = {HEADERS, sizeof HEADERS - 1},
	};
	CHECK(buf_init(out, OB_DSN_MAX) == 0);
	CHECK(ob_dsn_build(out, &info, r, n) == 0);
}

static void test_dsn_structure(void)
{
	struct ob_dsn_rcpt r[] = {
		{"bob@remote.test", "5.1.1", "mx1.remote.test",
		 "550 5.1.1 <bob@remote.test>: Recipient address rejected",
		 OB_DSN_FAILED},
		{"carol@remote.test", "5.1.10", NULL,
		 "remote.test does not accept mail (null MX, RFC 7505)", OB_DSN_FAILED},
	};
	struct buf out;
	build(&out, r, 2);
	const char *d = out.data;
	CHECK(strstr(d, "From: Mail Delivery System <MAILER-DAEMON@mail.example.test>\r\n"));
	CHECK(strstr(d, "To: <alice@example.test>\r\n"));
	CHECK(strstr(d, "Subject: Undelivered Mail Returned to Sender\r\n"));
	CHECK(strstr(d, "Auto-Submitted: auto-replied\r\n"));
	CHECK(strstr(d, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
			"\tboundary=\"=_dsn_42.1700000100.7\"\r\n"));
	CHECK(strstr(d, "Date: Tue, 14 Nov 2023 22:15:00 +0000\r\n"));
	CHECK(strstr(d, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
	CHECK(strstr(d, "Reporting-MTA: dns; mail.example.test\r\n"));
	CHECK(strstr(d, "\r\nFinal-Recipient: rfc822; bob@remote.test\r\n"
			"Action: failed\r\nStatus: 5.1.1\r\n"
			"Remote-MTA: dns; mx1.remote.test\r\n"
			"Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: Recipient address rejected\r\n"));
	CHECK(strstr(d, "Final-Recipient: rfc822; carol@remote.test\r\n"
			"Action: failed\r\nStatus: 5.1.10\r\n"
			"Diagnostic-Code: X-Mailroom; remote.test does not accept"));
	CHECK(strstr(d, "<bob@remote.test>: host mx1.remote.test said: 550 5.1.1"));
	CHECK(strstr(d, "Content-Type: text/rfc822-headers\r\n\r\n"
			"From: <alice@example.test>\r\nTo: <bob@remote.test>\r\n"
			"Subject: quarterly report\r\n"));
	CHECK(strstr(d, "\r\n--=_dsn_42.1700000100.7--\r\n"));
	/* Three parts: three boundary lines plus the closing one. */
	int n = 0;
	for (const char *p = d; (p = strstr(p, "\r\n--=_dsn_")) != NULL; p++)
		n++;
	CHECK_INT(n, 4);
	/* Every line within RFC 5322's 998. */
	size_t line = 0;
	for (const char *p = d; *p; p++) {
		line = *p == '\n' ? 0 : line + 1;
		CHECK(line <= 998);
	}
	buf_free(&out);
}

static void test_dsn_hostile_text(void)
{
	char long_text[3000], long_mta[300];
	memset(long_text, 'A', sizeof long_text - 1);
	long_text[sizeof long_text - 1] = '\0';
	/* a long remote name and a long text on the "host X said: T" line
	 * (found by fuzz_outbound_dsn: the line was 1,037 octets) */
	memset(long_mta, 'm', sizeof long_mta - 1);
	long_mta[sizeof long_mta - 1] = '\0';
	struct ob_dsn_rcpt r[] = {
		{"bob@remote.test", "5.7.1\r\nX-Evil: 1", "mx\r\nBcc: x",
		 "550 no\r\nX-Injected: yes\r\n\r\n--=_dsn_42.1700000100.7\r\nhi", OB_DSN_FAILED},
		{"carol@remote.test", "5.0.0", "mx", long_text, OB_DSN_FAILED},
		{"dave@remote.test", "5.0.0", long_mta, long_text, OB_DSN_FAILED},
	};
	struct buf out;
	build(&out, r, 3);
	CHECK(strstr(out.data, "\nX-Injected") == NULL);
	CHECK(strstr(out.data, "\nX-Evil") == NULL);
	CHECK(strstr(out.data, "\nBcc") == NULL);
	CHECK(strstr(out.data, "Diagnostic-Code: smtp; 550 no X-Injected: yes --=_dsn_"));
	size_t line = 0, longest = 0;
	for (const char *p = out.data; *p; p++) {
		line = *p == '\n' ? 0 : line + 1;
		if (line > longest)
			longest = line;
	}
	CHECK(longest <= 998);
	buf_free(&out);
}

static void test_dsn_delayed(void)
{
	struct ob_dsn_rcpt r[] = {{"bob@remote.test", "4.4.1", "mx1.remote.test",
				   "connection refused", OB_DSN_DELAYED}};
	struct buf out;
	build(&out, r, 1);
	CHECK(strstr(out.data, "Subject: Delayed Mail (still being retried)\r\n"));
	CHECK(strstr(out.data, "Action: delayed\r\n"));
	buf_free(&out);
}

/* RFC 6533: a UTF-8 recipient in the 7-bit report part as utf-8-addr-xtext. */
static void test_dsn_utf8_recipient(void)
{
	struct ob_dsn_rcpt r[] = {
		{"j\xc3\xb6rg+x@remote.test", "5.6.7", NULL,
		 "mx does not support SMTPUTF8", OB_DSN_FAILED},
		{"\xe2\x82\xac\xf0\x9f\x93\xa7=@remote.test", "5.6.7", NULL, "no",
		 OB_DSN_FAILED},
	};
	struct buf out;
	build(&out, r, 2);
	const char *d = out.data;
	CHECK(strstr(d, "\r\nFinal-Recipient: utf-8; j\\x{F6}rg\\x{2B}x@remote.test\r\n"));
	CHECK(strstr(d, "\r\nFinal-Recipient: utf-8; \\x{20AC}\\x{1F4E7}\\x{3D}@remote.test\r\n"));
	CHECK(strstr(d, "Content-Type: text/plain; charset=utf-8\r\n"));
	CHECK(strstr(d, "<j\xc3\xb6rg+x@remote.test>: mx does not"));
	buf_free(&out);
}

/* Unicode domains become A-labels; names IDNA2008 refuses give -1. */
static void test_idna(void)
{
	char out[256];
	CHECK(ob_idna_domain("b\xc3\xbcro.example", out, sizeof out) == 0);
	CHECK_STR(out, "xn--bro-hoa.example");
	CHECK(ob_idna_domain("B\xc3\x9cRO.Example", out, sizeof out) == 0);
	CHECK_STR(out, "xn--bro-hoa.example"); /* UTS #46 lower-cases */
	CHECK(ob_idna_domain("plain.example", out, sizeof out) == 0);
	CHECK_STR(out, "plain.example");
	CHECK(ob_idna_domain("ab--c\xc3\xbc.example", out, sizeof out) < 0);
	CHECK(ob_idna_domain("b\xc3\xbcro.example", out, 10) < 0); /* does not fit */
	CHECK(ob_idna_addr("friend@b\xc3\xbcro.example", out, sizeof out) == 0);
	CHECK_STR(out, "friend@xn--bro-hoa.example");
	CHECK(ob_idna_addr("j\xc3\xb6rg@remote.test", out, sizeof out) == 0);
	CHECK_STR(out, "j\xc3\xb6rg@remote.test"); /* local part untouched */
}

TEST_SUITE(outbound_dsn, {"structure", test_dsn_structure},
	   {"utf-8 recipient (RFC 6533)", test_dsn_utf8_recipient},
	   {"IDNA A-labels", test_idna},
	   {"hostile remote text", test_dsn_hostile_text},
	   {"delay warning", test_dsn_delayed});
