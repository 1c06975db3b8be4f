/*
 * buf.h - a growable byte buffer with a hard cap, slices, and the bounded,
 * resumable line reader both protocol daemons read commands with.
 *
 * Every buffer gets its maximum when it is made (from limits.h); an append
 * past it fails with -1 and errno EMSGSIZE instead of growing, so a peer can
 * never make a session grow past its budget. Slices point into memory owned
 * by someone else and are valid until that owner changes.
 *
 * Line ends: the reader ends a line at LF. It reports whether the LF had a
 * CR before it (crlf) so the caller decides policy: SMTP and POP3 commands
 * accept a bare LF (like Postfix), SMTP DATA refuses it (no smuggling). A CR
 * not followed by LF stays inside the line text; callers that care (DATA)
 * look for it with slice_has_byte().
 */
#ifndef MAILROOM_BUF_H
#define MAILROOM_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct slice {
	const char *ptr;
	size_t len;
};

struct buf {
	char *data; /* NUL-terminated after every successful call */
	size_t len;
	size_t cap;
	size_t max; /* len never exceeds this */
};

/* 0 or -1 (ENOMEM). max is the cap; the buffer starts small. */
int buf_init(struct buf *b, size_t max) __attribute__((warn_unused_result));
/* buf_init with room for `first` bytes at once (at most max): for buffers
 * whose usual size is known, so they do not grow from 64 bytes by doubling
 * (a realloc and a copy each time) for every message. */
int buf_init_sized(struct buf *b, size_t max, size_t first)
	__attribute__((warn_unused_result));
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* 0, or -1 with errno EMSGSIZE (cap) or ENOMEM; on -1 b is unchanged. */
int buf_append(struct buf *b, const void *p, size_t n)
	__attribute__((warn_unused_result));
int buf_append_str(struct buf *b, const char *s)
	__attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), warn_unused_result));
/* Drop the first n bytes (n > len drops all). */
void buf_consume(struct buf *b, size_t n);

struct slice slice_from_str(const char *s);
bool slice_eq_nocase(struct slice s, const char *word);
bool slice_has_byte(struct slice s, char c);
/* Copy into dst (size dstlen, NUL-terminated). -1 if it does not fit. */
int slice_copy(struct slice s, char *dst, size_t dstlen)
	__attribute__((warn_unused_result));

/* Copy src into dst cut to cap - 1 bytes, always terminated (cap > 0).
 * For the per-message text fields (trace rows, Authentication-Results),
 * where a cut is acceptable and snprintf's format machinery was a
 * measurable share of the cost. src and dst may overlap. */
void str_copy_cut(char *dst, size_t cap, const char *src);
/* Append the NULL-terminated list of strings to the text already in dst,
 * cut to fit cap (always terminated). */
void str_cat_cut(char *dst, size_t cap, ...);

enum line_status {
	LINE_AGAIN = 0, /* no complete line yet: feed more bytes */
	LINE_OK,        /* *line_r holds a complete line */
	LINE_TOO_LONG,  /* a line passed max; its bytes up to the next LF are
	                   skipped and LINE_TOO_LONG is returned once, at that LF */
};

struct line {
	/* without the LF and without a CR right before it; not NUL-terminated
	 * (copy it with slice_copy() for string functions) */
	struct slice text;
	bool crlf;         /* ended in CRLF (false: bare LF) */
};

struct linereader {
	struct buf pending; /* bytes of the current, incomplete line */
	size_t max;         /* longest line accepted, with its CRLF */
	bool overflow;      /* skipping the rest of an overlong line */
};

/* max counts the line with its CRLF (SMTP: 512, POP3: 255). 0 or -1. */
int linereader_init(struct linereader *lr, size_t max)
	__attribute__((warn_unused_result));
void linereader_free(struct linereader *lr);
/* Forget any partial line (after STARTTLS, nothing pipelined may survive). */
void linereader_reset(struct linereader *lr);
/*
 * Consume bytes from data[0..len) up to and including the first LF, or all
 * of them if there is none. Returns how many bytes were consumed and sets
 * *status_r. On LINE_OK, *line_r points into the reader and stays valid
 * until the next call. Call again with the rest of the data for more lines.
 */
size_t linereader_feed(struct linereader *lr, const char *data, size_t len,
		       enum line_status *status_r, struct line *line_r);
/* True when bytes of an unfinished line are waiting. */
bool linereader_has_partial(const struct linereader *lr);

#endif
