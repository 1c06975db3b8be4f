/*
 * smtp_data.c - DATA decoder: a five-state machine per byte.
 *
 * States: BOL (start of a line; also the start of DATA, which follows the
 * CRLF of the DATA command), DOT ('.' at BOL), DOT_CR (".\r" at BOL), TEXT,
 * CR (a CR inside a line). Only BOL '.' CR LF ends the message. Bytes are
 * emitted as runs: a run is cut at each stuffed dot and at the final
 * ".CRLF". A CR is emitted before we know whether LF follows; if it turns
 * out bare the message is discarded anyway, so that is safe.
 */
#include "smtp_data.h"

#include <string.h>

#include "../common/limits.h"

enum { ST_BOL, ST_DOT, ST_DOT_CR, ST_TEXT, ST_CR };

#define TEXT_LINE_MAX (SMTP_TEXT_LINE_MAX - 2)

void smtp_data_init(struct smtp_data *d, int64_t max_size)
{
	d->raw = false;
	d->state = ST_BOL;
	d->line_len = 0;
	d->size = 0;
	d->max_size = max_size;
	d->error = SMTP_DATA_OK;
}

void smtp_data_init_raw(struct smtp_data *d, int64_t max_size)
{
	smtp_data_init(d, max_size);
	d->raw = true;
}

const char *smtp_data_error_text(enum smtp_data_error e)
{
	switch (e) {
	case SMTP_DATA_OK:
		return "ok";
	case SMTP_DATA_BARE_LF:
		return "bare LF in message (only CRLF line ends are accepted)";
	case SMTP_DATA_BARE_CR:
		return "bare CR in message (only CRLF line ends are accepted)";
	case SMTP_DATA_NUL:
		return "NUL byte in message";
	case SMTP_DATA_LINE_TOO_LONG:
		return "a text line is longer than 998 octets";
	case SMTP_DATA_TOO_BIG:
		return "message too big";
	case SMTP_DATA_SINK:
		return "spool write failed";
	}
	return "?";
}

static void fail(struct smtp_data *d, enum smtp_data_error e)
{
	if (d->error == SMTP_DATA_OK)
		d->error = e;
}

/* Count n more message octets; the cap is checked octet by octet so the
 * first error does not depend on how the input was split. */
static void count(struct smtp_data *d, size_t n)
{
	if (d->error != SMTP_DATA_OK)
		return;
	if ((int64_t)n > d->max_size - d->size) {
		d->size = d->max_size + 1;
		fail(d, SMTP_DATA_TOO_BIG);
		return;
	}
	d->size += (int64_t)n;
}

/* Emit p[from..to) unless in discard mode. */
static void emit(struct smtp_data *d, const char *p, size_t from, size_t to,
		 smtp_data_sink sink, void *ctx)
{
	if (to <= from || d->error != SMTP_DATA_OK)
		return;
	if (sink(ctx, p + from, to - from) < 0)
		fail(d, SMTP_DATA_SINK);
}

/*
 * Account for a run of ordinary text at once, failing with the error the
 * byte-by-byte path would have hit first (size before line length on the
 * same octet), so the outcome never depends on how TCP split the input.
 */
static void run_limits(struct smtp_data *d, size_t run)
{
	if (d->error == SMTP_DATA_OK) {
		int64_t room_size = d->max_size - d->size;
		size_t room_line = d->line_len < TEXT_LINE_MAX
					   ? TEXT_LINE_MAX - d->line_len
					   : 0;
		bool over_size = (int64_t)run > room_size;
		bool over_line = run > room_line;
		if (over_size && (!over_line || room_size <= (int64_t)room_line)) {
			count(d, run);
		} else if (over_line) {
			count(d, room_line + 1);
			fail(d, SMTP_DATA_LINE_TOO_LONG);
		} else {
			count(d, run);
		}
	}
	d->line_len += run;
}

/* A byte inside a line (state TEXT rules); returns the next state. */
static int text_byte(struct smtp_data *d, unsigned char c)
{
	count(d, 1);
	switch (c) {
	case '\r':
		return ST_CR;
	case '\n':
		fail(d, SMTP_DATA_BARE_LF);
		return ST_TEXT; /* a bare LF never starts a line */
	case '\0':
		fail(d, SMTP_DATA_NUL);
		return ST_TEXT;
	default:
		if (++d->line_len > TEXT_LINE_MAX)
			fail(d, SMTP_DATA_LINE_TOO_LONG);
		return ST_TEXT;
	}
}

size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n,
		      smtp_data_sink sink, void *ctx, bool *done_r)
{
	size_t run = 0; /* start of the pending run to emit */
	*done_r = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (d->state) {
		case ST_BOL:
			d->line_len = 0;
			if (c == '.' && !d->raw) {
				emit(d, p, run, i, sink, ctx);
				run = i + 1; /* drop the dot */
				d->state = ST_DOT;
			} else {
				d->state = text_byte(d, c);
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				run = i + 1; /* maybe the end: hold the CR */
				d->state = ST_DOT_CR;
			} else {
				d->state = text_byte(d, c);
			}
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				d->state = ST_BOL;
				*done_r = true;
				return i + 1;
			}
			/* ".\rX": a bare CR after a dot. */
			fail(d, SMTP_DATA_BARE_CR);
			d->state = text_byte(d, c);
			break;
		case ST_TEXT: {
			/* Fast path: ordinary text up to the next CR, LF or NUL. */
			const char *stop = memchr(p + i, '\r', n - i);
			size_t j = stop ? (size_t)(stop - p) : n;
			if ((stop = memchr(p + i, '\n', j - i)) != NULL)
				j = (size_t)(stop - p);
			if ((stop = memchr(p + i, '\0', j - i)) != NULL)
				j = (size_t)(stop - p);
			run_limits(d, j - i);
			if (j == n) {
				i = n - 1;
				break;
			}
			i = j;
			d->state = text_byte(d, (unsigned char)p[i]);
			break;
		}
		case ST_CR:
			if (c == '\n') {
				count(d, 1);
				d->state = ST_BOL;
			} else {
				fail(d, SMTP_DATA_BARE_CR);
				d->state = text_byte(d, c);
			}
			break;
		}
	}
	if (d->state == ST_DOT_CR)
		run = n; /* the held CR is not emitted yet */
	emit(d, p, run, n, sink, ctx);
	return n;
}

void smtp_data_finish_raw(struct smtp_data *d, smtp_data_sink sink, void *ctx)
{
	if (d->state == ST_CR) {
		fail(d, SMTP_DATA_BARE_CR);
	} else if (d->state == ST_TEXT) {
		count(d, 2);
		emit(d, "\r\n", 0, 2, sink, ctx);
	}
	d->state = ST_BOL;
}
