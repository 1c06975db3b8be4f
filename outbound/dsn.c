/*
 * dsn.c - delivery status notifications (RFC 3464, status codes RFC 3463):
 * the message that tells a sender their mail failed or is delayed.
 *
 * The report is multipart/report; report-type=delivery-status with three
 * parts: a short text a person reads (with the remote server's own words),
 * the machine-readable message/delivery-status, and the original header
 * section as text/rfc822-headers (never the body: a bounce must not carry
 * a message back out whole, and it keeps DSNs small).
 *
 * SECURITY: diagnostic text comes from remote servers. It is reduced to
 * printable ASCII on one line of bounded length before it goes into a
 * header field or the text part, so a hostile reply cannot add header
 * fields or MIME boundaries. The boundary is built from a caller-supplied
 * unique seed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outbound.h"

#define DIAG_MAX 900 /* keeps "Diagnostic-Code: smtp; " + text under 998 */
#define LINE_MAX_OCTETS 998 /* RFC 5322 2.1.1, CRLF not counted */

static void rfc5322_date(int64_t t, char *dst, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(dst, len, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		snprintf(dst, len, "Thu, 01 Jan 1970 00:00:00 +0000");
}

/* Printable ASCII only, newlines and runs of blanks as one space, cut. */
static void clean(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	bool space = false;
	for (const char *p = in ? in : ""; *p && o + 1 < outlen; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\r' || c == '\n' || c == '\t' || c == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < outlen) {
			out[o++] = ' ';
		}
		space = false;
		out[o++] = (c >= 0x21 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

/*
 * A recipient for Final-Recipient: "rfc822; addr" when it is ASCII, else
 * RFC 6533's "utf-8; " with utf-8-addr-xtext, each non-ASCII character
 * (and '+', '=', backslash, controls) as \x{HEX} of its code point, so the
 * message/delivery-status part stays 7-bit.
 */
static void recipient_field(const char *addr, char *out, size_t outlen)
{
	bool ascii = true;
	for (const char *p = addr; *p; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (ascii) {
		char c[ADDR_MAX + 1];
		clean(addr, c, sizeof c);
		snprintf(out, outlen, "rfc822; %s", c);
		return;
	}
	size_t o = (size_t)snprintf(out, outlen, "utf-8; ");
	const unsigned char *p = (const unsigned char *)addr;
	while (*p && o + 12 < outlen) {
		uint32_t cp = *p;
		size_t len = 1;
		if (cp >= 0xf0 && p[1] && p[2] && p[3]) {
			cp = ((cp & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) |
			     ((p[2] & 0x3fu) << 6) | (p[3] & 0x3fu);
			len = 4;
		} else if (cp >= 0xe0 && p[1] && p[2]) {
			cp = ((cp & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) |
			     (p[2] & 0x3fu);
			len = 3;
		} else if (cp >= 0xc0 && p[1]) {
			cp = ((cp & 0x1fu) << 6) | (p[1] & 0x3fu);
			len = 2;
		}
		if (cp > 0x20 && cp < 0x7f && cp != '+' && cp != '=' && cp != '\\')
			out[o++] = (char)cp;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x{%X}",
					      (unsigned)cp);
		p += len;
	}
	out[o < outlen ? o : outlen - 1] = '\0';
}

/* The header section as CRLF lines, cut at a line end within the cap. */
static int add_headers(struct buf *out, struct slice h)
{
	size_t n = h.len;
	if (n > OB_DSN_HEADERS_MAX) {
		n = OB_DSN_HEADERS_MAX;
		while (n > 0 && h.ptr[n - 1] != '\n')
			n--;
	}
	if (buf_append(out, h.ptr, n) < 0)
		return -1;
	if (n > 0 && h.ptr[n - 1] != '\n')
		return buf_append_str(out, "\r\n");
	return 0;
}

int ob_dsn_build(struct buf *out, const struct ob_dsn_info *info,
		 const struct ob_dsn_rcpt *rcpts, size_t n)
{
	char date[64], arrival[64], boundary[128], host[HOSTNAME_MAX + 1];
	bool delayed = n > 0;
	for (size_t i = 0; i < n; i++)
		if (rcpts[i].action != OB_DSN_DELAYED)
			delayed = false;
	clean(info->reporting_host, host, sizeof host);
	rfc5322_date(info->now, date, sizeof date);
	rfc5322_date(info->arrival, arrival, sizeof arrival);
	char seed[48]; /* RFC 2046: a boundary is at most 70 characters */
	clean(info->boundary_seed, seed, sizeof seed);
	snprintf(boundary, sizeof boundary, "=_dsn_%s", seed);

	int rc = 0;
	rc |= buf_printf(out,
			 "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
			 "To: <%s>\r\n"
			 "Subject: %s\r\n"
			 "Date: %s\r\n"
			 "Message-ID: <dsn.%s@%s>\r\n"
			 "Auto-Submitted: auto-replied\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: multipart/report; "
			 "report-type=delivery-status;\r\n"
			 "\tboundary=\"%s\"\r\n"
			 "\r\n"
			 "This is a MIME-encapsulated message.\r\n"
			 "\r\n"
			 "--%s\r\n"
			 "Content-Description: Notification\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: 8bit\r\n"
			 "\r\n"
			 "This is the mail system at host %s.\r\n"
			 "\r\n",
			 host, info->sender,
			 delayed ? "Delayed Mail (still being retried)"
				 : "Undelivered Mail Returned to Sender",
			 date, seed, host, boundary, boundary, host);
	if (delayed)
		rc |= buf_printf(out,
				 "Your message could not be delivered yet. "
				 "It is still in the queue and\r\n"
				 "will be tried again; you do not need to "
				 "send it again.\r\n\r\n");
	else
		rc |= buf_printf(out,
				 "I'm sorry to have to inform you that your "
				 "message could not\r\nbe delivered to one or "
				 "more recipients.\r\n\r\n");
	for (size_t i = 0; i < n; i++) {
		char diag[DIAG_MAX + 1], mta[HOSTNAME_MAX + 1];
		clean(rcpts[i].diagnostic, diag, sizeof diag);
		clean(rcpts[i].remote_mta, mta, sizeof mta);
		/* A long recipient and remote name leave less room on this
		 * line for the text (RFC 5322's 998 octets); the whole text
		 * is in Diagnostic-Code below. */
		size_t used = strlen(rcpts[i].recipient) + strlen(mta) +
			      sizeof "<>: host  said: ";
		int room = used < LINE_MAX_OCTETS ? (int)(LINE_MAX_OCTETS - used) : 0;
		if (mta[0])
			rc |= buf_printf(out, "<%s>: host %s said: %.*s\r\n\r\n",
					 rcpts[i].recipient, mta, room, diag);
		else
			rc |= buf_printf(out, "<%s>: %.*s\r\n\r\n",
					 rcpts[i].recipient, room, diag);
	}
	rc |= buf_printf(out,
			 "--%s\r\n"
			 "Content-Description: Delivery report\r\n"
			 "Content-Type: message/delivery-status\r\n"
			 "\r\n"
			 "Reporting-MTA: dns; %s\r\n"
			 "Arrival-Date: %s\r\n",
			 boundary, host, arrival);
	for (size_t i = 0; i < n; i++) {
		char diag[DIAG_MAX + 1], mta[HOSTNAME_MAX + 1], status[16];
		char final[ADDR_MAX * 8 + 16];
		recipient_field(rcpts[i].recipient, final, sizeof final);
		clean(rcpts[i].diagnostic, diag, sizeof diag);
		clean(rcpts[i].remote_mta, mta, sizeof mta);
		clean(rcpts[i].status, status, sizeof status);
		rc |= buf_printf(out,
				 "\r\n"
				 "Final-Recipient: %s\r\n"
				 "Action: %s\r\n"
				 "Status: %s\r\n",
				 final,
				 rcpts[i].action == OB_DSN_DELAYED ? "delayed"
								   : "failed",
				 status);
		if (mta[0])
			rc |= buf_printf(out,
					 "Remote-MTA: dns; %s\r\n"
					 "Diagnostic-Code: smtp; %s\r\n",
					 mta, diag);
		else
			rc |= buf_printf(out, "Diagnostic-Code: X-Mailroom; %s\r\n",
					 diag);
		rc |= buf_printf(out, "Last-Attempt-Date: %s\r\n", date);
	}
	rc |= buf_printf(out,
			 "\r\n--%s\r\n"
			 "Content-Description: Undelivered Message Headers\r\n"
			 "Content-Type: text/rfc822-headers\r\n"
			 "\r\n",
			 boundary);
	if (rc == 0)
		rc = add_headers(out, info->orig_headers);
	if (rc == 0)
		rc = buf_printf(out, "\r\n--%s--\r\n", boundary);
	return rc < 0 ? -1 : 0;
}
