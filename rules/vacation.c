/*
 * vacation.c - the out-of-office reply: the per-sender rate (store) and
 * the reply message itself (RFC 3834 section 3, RFC 5230 section 5).
 *
 * The reply goes from the account to the original envelope sender with
 * the null envelope sender (so nothing ever answers it back), carries
 * Auto-Submitted: auto-replied, and threads under the original with
 * In-Reply-To and References. Header text we did not write (the original
 * Message-ID, References) is copied only when it is printable ASCII and
 * short, so a crafted message cannot inject header lines into our reply.
 * The body is the account's text as UTF-8 quoted-printable (7bit-clean:
 * it passes any relay whether it speaks 8BITMIME or not).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "../store/store.h"
#include "rules.h"

#define REFERENCES_MAX 900 /* keep a folded References well under 998 */

int rules_vacation_due(struct store *st, int64_t account_id,
		       const struct rules_action *vac,
		       const struct rules_message *msg)
{
	char sender[ADDR_MAX + 1];
	const char *from = msg->envelope_from ? msg->envelope_from : "";
	size_t n = strlen(from);
	if (n == 0 || n > ADDR_MAX)
		return STORE_INVALID;
	for (size_t i = 0; i <= n; i++) /* one row per address, any case */
		sender[i] = (char)tolower((unsigned char)from[i]);
	return store_vacation_note(st, account_id, sender, (int64_t)msg->now,
				   (int64_t)vac->vacation.days * 86400);
}

static bool printable_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
			return false;
	return true;
}

static bool needs_encoding(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 127 || (unsigned char)*s < 32)
			return true;
	return false;
}

static size_t u8len(const unsigned char *s)
{
	if (s[0] >= 0xf0)
		return 4;
	if (s[0] >= 0xe0)
		return 3;
	if (s[0] >= 0xc0)
		return 2;
	return 1;
}

static void b64(const unsigned char *src, size_t n, char *dst)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)src[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)src[i + 1] << 8;
		if (i + 2 < n)
			v |= src[i + 2];
		dst[o++] = tab[(v >> 18) & 63];
		dst[o++] = tab[(v >> 12) & 63];
		dst[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		dst[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	dst[o] = '\0';
}

/* "Subject: " + text, as RFC 2047 B words of whole UTF-8 characters
 * (at most 45 octets each: 72-character words) folded one per line. */
static int put_encoded_header(struct buf *out, const char *name,
			      const char *text)
{
	if (!needs_encoding(text))
		return buf_printf(out, "%s: %s\r\n", name, text);
	int bad = buf_printf(out, "%s:", name);
	const unsigned char *p = (const unsigned char *)text;
	size_t left = strlen(text);
	while (left > 0) {
		size_t chunk = 0;
		while (chunk < left) {
			size_t k = u8len(p + chunk);
			if (chunk + k > 45 || chunk + k > left)
				break;
			chunk += k;
		}
		if (chunk == 0) /* a broken sequence: take one octet */
			chunk = 1;
		char enc[64];
		b64(p, chunk, enc);
		bad |= buf_printf(out, " =?UTF-8?B?%s?=", enc);
		p += chunk;
		left -= chunk;
		if (left)
			bad |= buf_append_str(out, "\r\n");
	}
	bad |= buf_append_str(out, "\r\n");
	return bad ? -1 : 0;
}

/* Quoted-printable (RFC 2045 6.7) of text with its line ends made CRLF. */
static int put_qp(struct buf *out, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	int bad = 0;
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n') {
			bad |= buf_append_str(out, "\r\n");
			col = 0;
			continue;
		}
		char tmp[4];
		size_t n;
		bool at_eol = p[1] == '\n' || p[1] == '\0' ||
			      (p[1] == '\r' && p[2] == '\n');
		if ((*p >= 33 && *p <= 126 && *p != '=') ||
		    ((*p == ' ' || *p == '\t') && !at_eol)) {
			tmp[0] = (char)*p;
			n = 1;
		} else {
			tmp[0] = '=';
			tmp[1] = hex[*p >> 4];
			tmp[2] = hex[*p & 15];
			n = 3;
		}
		if (col + n > 75) { /* soft line break */
			bad |= buf_append_str(out, "=\r\n");
			col = 0;
		}
		bad |= buf_append(out, tmp, n);
		col += n;
	}
	bad |= buf_append_str(out, "\r\n");
	return bad ? -1 : 0;
}

int rules_vacation_compose(const struct rules_action *vac,
			   const struct rules_message *msg,
			   const char *hostname, struct buf *out)
{
	const struct rules_vacation *v = &vac->vacation;
	const char *to = msg->envelope_from;
	const char *from = msg->account && msg->account[0] ? msg->account
							   : msg->envelope_to;
	if (to == NULL || to[0] == '\0' || from == NULL || from[0] == '\0' ||
	    !printable_ascii(to, strlen(to)) || !printable_ascii(from, strlen(from)))
		return -1;
	int bad = 0;
	struct tm tm;
	char date[64];
	time_t now = msg->now;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		return -1;
	unsigned char rnd[12];
	char id[32];
	if (RAND_bytes(rnd, sizeof rnd) != 1)
		return -1;
	for (size_t i = 0; i < sizeof rnd; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);

	bad |= buf_printf(out, "From: <%s>\r\nTo: <%s>\r\n", from, to);
	if (v->subject && v->subject[0]) {
		bad |= put_encoded_header(out, "Subject", v->subject);
	} else {
		/* RFC 5230 5.4: "Auto: " and the original subject */
		const struct rules_header *s = rules_message_header(msg, "subject");
		char subj[RULES_SHORT_TEXT_MAX + 8];
		snprintf(subj, sizeof subj, "Auto: %.*s",
			 s ? (int)(s->value_len > 400 ? 400 : s->value_len) : 0,
			 s ? s->value : "");
		/* never carry a line break over from a decoded subject */
		for (char *c = subj; *c; c++)
			if (*c == '\r' || *c == '\n')
				*c = ' ';
		bad |= put_encoded_header(out, "Subject", subj);
	}
	bad |= buf_printf(out, "Date: %s\r\n", date);
	bad |= buf_printf(out, "Message-ID: <%s.%lld@%s>\r\n", id,
			  (long long)now, hostname ? hostname : "localhost");
	const struct rules_header *mid = rules_message_header(msg, "message-id");
	bool mid_ok = mid && mid->raw_len > 2 && mid->raw_len < 500 &&
		      mid->raw[0] == '<' && mid->raw[mid->raw_len - 1] == '>' &&
		      printable_ascii(mid->raw, mid->raw_len);
	if (mid_ok) {
		bad |= buf_printf(out, "In-Reply-To: %s\r\n", mid->raw);
		const struct rules_header *refs =
			rules_message_header(msg, "references");
		const char *r = "";
		size_t rn = 0;
		if (refs && printable_ascii(refs->raw, refs->raw_len)) {
			r = refs->raw;
			rn = refs->raw_len;
			/* keep the newest ids: cut at an id boundary */
			while (rn + mid->raw_len + 1 > REFERENCES_MAX) {
				const char *sp = memchr(r + 1, '<', rn - 1);
				if (sp == NULL) {
					rn = 0;
					break;
				}
				rn -= (size_t)(sp - r);
				r = sp;
			}
		}
		bad |= buf_printf(out, "References: %.*s%s%s\r\n", (int)rn, r,
				  rn ? " " : "", mid->raw);
	}
	bad |= buf_append_str(out,
			      "Auto-Submitted: auto-replied (vacation)\r\n"
			      "MIME-Version: 1.0\r\n"
			      "Content-Type: text/plain; charset=UTF-8\r\n"
			      "Content-Transfer-Encoding: quoted-printable\r\n"
			      "\r\n");
	bad |= put_qp(out, v->text);
	return bad ? -1 : 0;
}
