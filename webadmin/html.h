/*
 * html.h - building a response body where every value is escaped unless
 * the code says otherwise.
 *
 * html_fmt() is the template helper: "%s" inserts a string HTML-escaped
 * (safe in text and in double-quoted attributes), "%u" inserts it
 * URL-encoded for a query value (then safe in an href too), "%R" inserts
 * a trusted literal as is (only for text this program wrote), "%d" an int,
 * "%D" an int64_t, "%%" a percent. A value from the store or the request
 * can only reach the page raw by someone writing %R next to it, which a
 * reviewer sees.
 *
 * The body has a cap (HTML_BODY_MAX); when an append fails the html is
 * marked failed and later appends do nothing, so handlers write straight
 * through and the server answers 500 once at the end.
 */
#ifndef MAILROOM_WEB_HTML_H
#define MAILROOM_WEB_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define HTML_BODY_MAX (8 * 1024 * 1024)

struct html {
	struct buf b;
	bool failed;
};

int html_init(struct html *h) __attribute__((warn_unused_result));
void html_free(struct html *h);
void html_reset(struct html *h);
/* Trusted literal text, as is. */
void html_raw(struct html *h, const char *s);
void html_rawn(struct html *h, const char *s, size_t n);
/* Untrusted text, escaped: & < > " ' */
void html_text(struct html *h, const char *s);
void html_fmt(struct html *h, const char *fmt, ...);
/* Escaping into a caller buffer (tests, JSON-free places); -1 if it does not fit. */
int html_escape(const char *s, char *dst, size_t dstlen);
/* "1.5 MB" style sizes for people. */
void html_size(char *dst, size_t dstlen, int64_t bytes);
/* Unix time t as "2026-11-29 11:20 UTC"; "-" for 0 or a bad time. */
void html_time(char *dst, size_t dstlen, int64_t t);
/* The same with a strftime format (UTC) and the text for 0 or a bad time. */
void html_time_as(char *dst, size_t dstlen, int64_t t, const char *fmt,
		  const char *none);

#endif
