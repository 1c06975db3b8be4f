/*
 * reply.c - the SMTP reply parser of the outbound client (RFC 5321 4.2).
 *
 * SECURITY: its input is whatever a remote server (or anyone on the path
 * before STARTTLS) sends. Lines are read by the bounded common line reader
 * (OB_REPLY_LINE_MAX), a reply may have at most OB_REPLY_LINES_MAX lines,
 * and only OB_REPLY_TEXT_MAX bytes of text are kept: a server can make us
 * read, never grow. Any grammar error ends the parse for good; the caller
 * drops the connection and tries elsewhere.
 *
 * Grammar accepted: "NNN" [SP text] or "NNN-text" for every line but the
 * last; all lines of one reply share the code; the code's first digit is
 * 2-5 and its second 0-5. Lines end in CRLF or a bare LF.
 */
#include <string.h>

#include "outbound.h"

int ob_reply_parser_init(struct ob_reply_parser *p)
{
	memset(p, 0, sizeof *p);
	return linereader_init(&p->lr, OB_REPLY_LINE_MAX);
}

void ob_reply_parser_free(struct ob_reply_parser *p)
{
	linereader_free(&p->lr);
}

void ob_reply_parser_reset(struct ob_reply_parser *p)
{
	linereader_reset(&p->lr);
	memset(&p->cur, 0, sizeof p->cur);
	p->in_reply = false;
	p->error = NULL;
}

bool ob_reply_parser_pending(const struct ob_reply_parser *p)
{
	return p->in_reply || linereader_has_partial(&p->lr);
}

static void add_text(struct ob_reply *r, const char *s, size_t n)
{
	if (r->lines > 1) {
		if (r->text_len + 1 >= sizeof r->text) {
			r->truncated = true;
			return;
		}
		r->text[r->text_len++] = '\n';
	}
	size_t room = sizeof r->text - 1 - r->text_len;
	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(r->text + r->text_len, s, n);
	r->text_len += n;
	r->text[r->text_len] = '\0';
}

/* "X.Y.Z" at the start of text with X matching the reply class: RFC 3463
 * says X is 2, 4 or 5 and Y, Z are 1-3 digits. */
static void take_enhanced(struct ob_reply *r, const char *s, size_t n)
{
	size_t i = 0, parts = 0;
	if (n < 5 || s[0] != '0' + r->code / 100 || s[1] != '.')
		return;
	i = 2;
	parts = 1;
	while (parts < 3) {
		size_t d = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && d < 3) {
			i++;
			d++;
		}
		if (d == 0)
			return;
		parts++;
		if (parts < 3) {
			if (i >= n || s[i] != '.')
				return;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return;
	if (i >= sizeof r->enhanced)
		return;
	memcpy(r->enhanced, s, i);
	r->enhanced[i] = '\0';
}

static enum ob_reply_status fail(struct ob_reply_parser *p, const char *why)
{
	p->error = why;
	return OB_REPLY_ERROR;
}

static enum ob_reply_status take_line(struct ob_reply_parser *p,
				      struct slice l, struct ob_reply *reply_r)
{
	const char *s = l.ptr;
	if (l.len < 3)
		return fail(p, "reply line shorter than a code");
	if (s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' ||
	    s[2] < '0' || s[2] > '9')
		return fail(p, "reply code is not 2xx-5xx");
	int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	bool last;
	if (l.len == 3 || s[3] == ' ')
		last = true;
	else if (s[3] == '-')
		last = false;
	else
		return fail(p, "reply code not followed by space or hyphen");
	if (p->in_reply && code != p->cur.code)
		return fail(p, "reply lines with different codes");
	if (++p->cur.lines > OB_REPLY_LINES_MAX)
		return fail(p, "reply with too many lines");
	p->cur.code = code;
	const char *text = l.len > 4 ? s + 4 : s + l.len;
	size_t tlen = l.len > 4 ? l.len - 4 : 0;
	if (p->cur.lines == 1)
		take_enhanced(&p->cur, text, tlen);
	add_text(&p->cur, text, tlen);
	if (!last) {
		p->in_reply = true;
		return OB_REPLY_AGAIN;
	}
	*reply_r = p->cur;
	memset(&p->cur, 0, sizeof p->cur);
	p->in_reply = false;
	return OB_REPLY_DONE;
}

enum ob_reply_status ob_reply_feed(struct ob_reply_parser *p, const char *data,
				   size_t len, size_t *used_r,
				   struct ob_reply *reply_r)
{
	size_t used = 0;
	*used_r = 0;
	if (p->error)
		return OB_REPLY_ERROR;
	while (used < len) {
		enum line_status ls;
		struct line line;
		used += linereader_feed(&p->lr, data + used, len - used, &ls,
					&line);
		*used_r = used;
		if (ls == LINE_AGAIN)
			continue;
		if (ls == LINE_TOO_LONG)
			return fail(p, "reply line too long");
		enum ob_reply_status st = take_line(p, line.text, reply_r);
		if (st != OB_REPLY_AGAIN)
			return st;
	}
	return OB_REPLY_AGAIN;
}
