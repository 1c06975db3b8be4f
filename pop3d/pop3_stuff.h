/*
 * pop3_stuff.h - the multi-line answer encoder for RETR and TOP: byte
 * stuffing (RFC 1939 3: a line starting with "." gets another "."), the
 * TOP cut (the header, the blank line, then n body lines) and the final
 * ".\r\n", applied to a body that arrives in arbitrary pieces.
 *
 * The store keeps bodies with CRLF line ends, so bytes pass through
 * unchanged apart from the added dots; a body that does not end in a line
 * end gets a CRLF before the terminating dot so the client still sees it.
 * A line end is LF (with or without CR before it), the same rule the
 * client applies when it undoes the stuffing.
 */
#ifndef MAILROOM_POP3_STUFF_H
#define MAILROOM_POP3_STUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes output; 0, or -1 to stop (the connection failed). */
typedef int (*pop3_emit_fn)(void *ctx, const char *p, size_t n);

struct pop3_stuffer {
	bool top;          /* TOP: stop after the header and lines_left lines */
	bool in_header;    /* TOP: still before the blank line */
	uint32_t lines_left;
	bool line_start;   /* the next byte starts a line */
	char first;        /* first byte of the current line */
	uint64_t line_len; /* bytes of the current line so far, with its LF */
	bool done;         /* TOP has all it wants; ignore further input */
};

/* top false: RETR (lines ignored). */
void pop3_stuffer_init(struct pop3_stuffer *st, bool top, uint32_t lines);
/* Encode in[0..len). 0, or -1 when emit failed. Once st->done, the rest
 * of the body is not needed (the caller may stop reading it). */
int pop3_stuff(struct pop3_stuffer *st, const char *in, size_t len,
	       pop3_emit_fn emit, void *ctx) __attribute__((warn_unused_result));
/* The end: a CRLF if the last line was not ended, then ".\r\n". */
int pop3_stuff_finish(struct pop3_stuffer *st, pop3_emit_fn emit, void *ctx)
	__attribute__((warn_unused_result));

#endif
