/*
 * html.c - the escaping template helper (see html.h).
 */
#include "html.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int html_init(struct html *h)
{
	h->failed = false;
	return buf_init(&h->b, HTML_BODY_MAX);
}

void html_free(struct html *h)
{
	buf_free(&h->b);
}

void html_reset(struct html *h)
{
	buf_reset(&h->b);
	h->failed = false;
}

void html_rawn(struct html *h, const char *s, size_t n)
{
	if (h->failed)
		return;
	if (buf_append(&h->b, s, n) != 0)
		h->failed = true;
}

void html_raw(struct html *h, const char *s)
{
	html_rawn(h, s, strlen(s));
}

static const char *entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}

void html_text(struct html *h, const char *s)
{
	const char *run = s;
	for (; *s; s++) {
		const char *e = entity(*s);
		if (e == NULL)
			continue;
		html_rawn(h, run, (size_t)(s - run));
		html_raw(h, e);
		run = s + 1;
	}
	html_rawn(h, run, (size_t)(s - run));
}

static void url_encode(struct html *h, const char *s)
{
	static const char digits[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
		    c == '~' || c == '@') {
			html_rawn(h, (const char *)&c, 1);
		} else {
			char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
			html_rawn(h, esc, 3);
		}
	}
}

void html_fmt(struct html *h, const char *fmt, ...)
{
	va_list ap;
	char num[32];

	va_start(ap, fmt);
	const char *run = fmt;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%')
			continue;
		html_rawn(h, run, (size_t)(p - run));
		p++;
		switch (*p) {
		case 's':
			html_text(h, va_arg(ap, const char *));
			break;
		case 'u':
			url_encode(h, va_arg(ap, const char *));
			break;
		case 'R':
			html_raw(h, va_arg(ap, const char *));
			break;
		case 'd':
			snprintf(num, sizeof num, "%d", va_arg(ap, int));
			html_raw(h, num);
			break;
		case 'D':
			snprintf(num, sizeof num, "%" PRId64, va_arg(ap, int64_t));
			html_raw(h, num);
			break;
		case '%':
			html_raw(h, "%");
			break;
		default: /* a programming error: show it rather than guess */
			html_raw(h, "%?");
			if (*p == '\0')
				p--;
			break;
		}
		run = p + 1;
	}
	html_raw(h, run);
	va_end(ap);
}

int html_escape(const char *s, char *dst, size_t dstlen)
{
	size_t o = 0;
	for (; *s; s++) {
		const char *e = entity(*s);
		size_t n = e ? strlen(e) : 1;
		if (o + n + 1 > dstlen)
			return -1;
		if (e)
			memcpy(dst + o, e, n);
		else
			dst[o] = *s;
		o += n;
	}
	if (o + 1 > dstlen)
		return -1;
	dst[o] = '\0';
	return 0;
}

/* fmt is always one of the callers' literals. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void html_time_as(char *dst, size_t dstlen, int64_t t, const char *fmt,
		  const char *none)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t <= 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(dst, dstlen, fmt, &tm) == 0)
		snprintf(dst, dstlen, "%s", none);
}
#pragma GCC diagnostic pop

void html_time(char *dst, size_t dstlen, int64_t t)
{
	html_time_as(dst, dstlen, t, "%Y-%m-%d %H:%M UTC", "-");
}

void html_size(char *dst, size_t dstlen, int64_t bytes)
{
	static const char *const units[] = {"bytes", "KB", "MB", "GB", "TB"};
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(dst, dstlen, "%" PRId64 " bytes", bytes);
	else
		snprintf(dst, dstlen, "%.1f %s", v, units[u]);
}
