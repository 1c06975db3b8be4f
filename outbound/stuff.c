/*
 * stuff.c - the byte-level transforms of sending a message: dot-stuffing
 * for DATA (RFC 5321 4.5.2) done across arbitrary chunk boundaries, since
 * the body is streamed from the store in pieces, and the one-pass scan
 * that says whether a message needs 8BITMIME or SMTPUTF8.
 *
 * Bodies are stored with CRLF line ends already (smtpd refuses bare LF in
 * DATA), so no line-end conversion happens here.
 */
#include "outbound.h"

void ob_stuffer_init(struct ob_stuffer *s)
{
	s->at_line_start = true;
	s->last_cr = false;
	s->any = false;
	s->last_lf = false;
}

int ob_stuff(struct ob_stuffer *s, const char *in, size_t len, struct buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (s->at_line_start && c == '.') {
			/* Flush up to here, then one extra dot. */
			if (buf_append(out, in + start, i - start) < 0 ||
			    buf_append(out, ".", 1) < 0)
				return -1;
			start = i;
		}
		s->at_line_start = (c == '\n');
		s->last_lf = (c == '\n');
		s->last_cr = (c == '\r');
	}
	if (len > 0)
		s->any = true;
	return buf_append(out, in + start, len - start);
}

int ob_stuff_end(struct ob_stuffer *s, struct buf *out)
{
	if (s->any && !s->last_lf)
		return buf_append_str(out, "\r\n.\r\n");
	return buf_append_str(out, ".\r\n");
}

void ob_scan_init(struct ob_scan *sc)
{
	sc->body_8bit = false;
	sc->header_8bit = false;
	sc->in_body = false;
	sc->line_pos = 0;
	sc->line_cr = false;
}

void ob_scan_feed(struct ob_scan *sc, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x80) {
			sc->body_8bit = true;
			if (!sc->in_body)
				sc->header_8bit = true;
		}
		if (sc->in_body) {
			if (sc->body_8bit)
				return; /* nothing more to learn */
			continue;
		}
		if (c == '\n') {
			/* An empty line (only CR before the LF) ends the header. */
			if (sc->line_pos == 0 || (sc->line_pos == 1 && sc->line_cr))
				sc->in_body = true;
			sc->line_pos = 0;
			sc->line_cr = false;
			continue;
		}
		sc->line_cr = (c == '\r');
		sc->line_pos++;
	}
}
