/*
 * buf.c - the capped byte buffer, slices, and the bounded line reader.
 *
 * A buffer never grows past the max it was made with: appends that would
 * pass it fail with EMSGSIZE and leave the buffer as it was, so a peer
 * cannot push a session past its memory budget. The line reader keeps only
 * the bytes of the current line (at most max of them); a longer line is
 * dropped byte by byte up to its LF and reported once as LINE_TOO_LONG, so
 * its tail can never be read as a new command.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BUF_INITIAL 64

/* Make room for len + extra bytes plus the NUL. 0, or -1 with errno. */
static int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->max - b->len) {
		errno = EMSGSIZE;
		return -1;
	}
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : BUF_INITIAL;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	char *p = realloc(b->data, ncap);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int buf_init(struct buf *b, size_t max)
{
	return buf_init_sized(b, max, BUF_INITIAL);
}

int buf_init_sized(struct buf *b, size_t max, size_t first)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max == SIZE_MAX ? SIZE_MAX - 1 : max;
	if (first < 1)
		first = 1;
	if (first > b->max)
		first = b->max + 1;
	b->data = malloc(first);
	if (b->data == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->cap = first;
	b->data[0] = '\0';
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = b->data ? b->cap - b->len : 0; /* includes the NUL */
	int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (b->data != NULL)
			b->data[b->len] = '\0';
		errno = EINVAL;
		return -1;
	}
	if ((size_t)n < room) {
		if ((size_t)n > b->max - b->len) {
			b->data[b->len] = '\0';
			errno = EMSGSIZE;
			return -1;
		}
		b->len += (size_t)n;
		return 0;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

struct slice slice_from_str(const char *s)
{
	struct slice sl = {s, s ? strlen(s) : 0};
	return sl;
}

bool slice_eq_nocase(struct slice s, const char *word)
{
	size_t n = strlen(word);
	return s.len == n && (n == 0 || strncasecmp(s.ptr, word, n) == 0);
}

bool slice_has_byte(struct slice s, char c)
{
	return s.len > 0 && memchr(s.ptr, c, s.len) != NULL;
}

int slice_copy(struct slice s, char *dst, size_t dstlen)
{
	if (dstlen == 0)
		return -1;
	if (s.len >= dstlen) {
		dst[0] = '\0';
		return -1;
	}
	if (s.len > 0)
		memcpy(dst, s.ptr, s.len);
	dst[s.len] = '\0';
	return 0;
}

/* ---- line reader ---------------------------------------------------------
 * pending holds the bytes of the line being read. After LINE_OK it holds
 * the whole line with its LF (the caller's slice points there); a partial
 * line never contains an LF, so "pending ends in LF" marks a line that was
 * handed out and is dropped at the start of the next call. */

int linereader_init(struct linereader *lr, size_t max)
{
	lr->max = max;
	lr->overflow = false;
	return buf_init(&lr->pending, max);
}

void linereader_free(struct linereader *lr)
{
	buf_free(&lr->pending);
	lr->overflow = false;
}

void linereader_reset(struct linereader *lr)
{
	buf_reset(&lr->pending);
	lr->overflow = false;
}

static bool line_handed_out(const struct linereader *lr)
{
	return lr->pending.len > 0 &&
	       lr->pending.data[lr->pending.len - 1] == '\n';
}

bool linereader_has_partial(const struct linereader *lr)
{
	return lr->overflow || (lr->pending.len > 0 && !line_handed_out(lr));
}

size_t linereader_feed(struct linereader *lr, const char *data, size_t len,
		       enum line_status *status_r, struct line *line_r)
{
	if (line_handed_out(lr))
		buf_reset(&lr->pending);

	const char *lf = len > 0 ? memchr(data, '\n', len) : NULL;
	size_t take = lf ? (size_t)(lf - data) + 1 : len;

	*status_r = LINE_AGAIN;
	if (lr->overflow) {
		if (lf != NULL) {
			lr->overflow = false;
			*status_r = LINE_TOO_LONG;
		}
		return take;
	}
	if (take > lr->max - lr->pending.len) {
		buf_reset(&lr->pending);
		if (lf != NULL)
			*status_r = LINE_TOO_LONG;
		else
			lr->overflow = true;
		return take;
	}
	/* Cannot fail: pending's max is lr->max and we checked the room, but
	 * realloc may; treat that as a line we could not hold. */
	if (buf_append(&lr->pending, data, take) < 0) {
		buf_reset(&lr->pending);
		if (lf != NULL)
			*status_r = LINE_TOO_LONG;
		else
			lr->overflow = true;
		return take;
	}
	if (lf == NULL)
		return take;

	size_t n = lr->pending.len - 1; /* without the LF */
	bool crlf = n > 0 && lr->pending.data[n - 1] == '\r';
	if (crlf)
		n--;
	line_r->text.ptr = lr->pending.data;
	line_r->text.len = n;
	line_r->crlf = crlf;
	*status_r = LINE_OK;
	return take;
}

void str_copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memmove(dst, src, n);
	dst[n] = '\0';
}

void str_cat_cut(char *dst, size_t cap, ...)
{
	size_t n = strnlen(dst, cap - 1);
	va_list ap;
	va_start(ap, cap);
	for (const char *s; (s = va_arg(ap, const char *)) != NULL && n + 1 < cap;) {
		size_t k = strnlen(s, cap - 1 - n);
		memcpy(dst + n, s, k);
		n += k;
	}
	va_end(ap);
	dst[n] = '\0';
}
