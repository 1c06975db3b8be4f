/*
 * smtp_data.h - the DATA stream decoder: dot-unstuffing, end of data, and
 * the line-end policy that closes SMTP smuggling.
 *
 * SECURITY (CVE-2023-51764 class): the message ends only at CR LF "." CR
 * LF. A bare LF, a bare CR or a NUL anywhere in the stream, a text line
 * over 998 octets or a message over the size cap turn the decoder into
 * discard mode: it stops emitting and keeps looking for the strict end, so
 * whatever the client hid behind ".\n" or "\r.\r" is swallowed with the
 * refused message and never read as commands or as a second message.
 *
 * The decoder is resumable byte by byte and holds no buffer: it emits runs
 * of the input (minus the stuffed dots and the final ".CRLF") to a sink.
 */
#ifndef MAILROOM_SMTP_DATA_H
#define MAILROOM_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_BARE_LF,
	SMTP_DATA_BARE_CR,
	SMTP_DATA_NUL,
	SMTP_DATA_LINE_TOO_LONG, /* a text line over 998 octets */
	SMTP_DATA_TOO_BIG,       /* over max_size */
	SMTP_DATA_SINK,          /* the sink failed (disk) */
};

struct smtp_data {
	int state;
	bool raw;         /* BDAT: no dot-stuffing and no end marker */
	size_t line_len;  /* octets in the current line (unstuffed) */
	int64_t size;     /* octets emitted */
	int64_t max_size; /* cap on emitted octets */
	enum smtp_data_error error; /* first error; emits nothing after it */
};

/* Called with each run of decoded message bytes; 0, or -1 to fail. */
typedef int (*smtp_data_sink)(void *ctx, const char *p, size_t n);

void smtp_data_init(struct smtp_data *d, int64_t max_size);
/*
 * BDAT (RFC 3030) chunks: the same line rules (CRLF only, no NUL, 998
 * octets) and size cap, but the octets are taken as they are - a '.' at
 * the start of a line is text and nothing ends the message; the chunk
 * length does. smtp_data_feed() never sets *done_r in this mode.
 */
void smtp_data_init_raw(struct smtp_data *d, int64_t max_size);
/* After the LAST chunk: a message that stops inside a line gets its CRLF
 * (emitted to sink); one that stops after a bare CR is refused. */
void smtp_data_finish_raw(struct smtp_data *d, smtp_data_sink sink, void *ctx);
/*
 * Decode p[0..n). Returns the bytes consumed: all of them, or fewer when
 * the end of data was found, in which case *done_r is true and the bytes
 * after it belong to the next command.
 */
size_t smtp_data_feed(struct smtp_data *d, const char *p, size_t n,
		      smtp_data_sink sink, void *ctx, bool *done_r);
const char *smtp_data_error_text(enum smtp_data_error e);

#endif
