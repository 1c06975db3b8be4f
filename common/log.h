/*
 * log.h - one event per line, to stderr or syslog.
 *
 * Lines are `key=value` fields after a short event word so fail2ban and a
 * person can both read them, e.g.
 *   smtpd: session=4f2a1c ip=203.0.113.9 event=auth-failed user="bob@x"
 * Client-supplied text must pass through log_escape() first: it is cut to
 * LOG_FIELD_MAX bytes and every byte outside printable ASCII (and the quote
 * and backslash) is written as \xNN, so no client can forge a log line.
 * Passwords and AUTH data are never passed here.
 *
 * The level and destination are set once by log_open() at startup, before
 * any thread starts; that is this module's only state.
 */
#ifndef MAILROOM_LOG_H
#define MAILROOM_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

enum log_level {
	LOG_LEVEL_ERROR = 0, /* the daemon cannot do something it should */
	LOG_LEVEL_WARN,      /* a peer or admin did something wrong */
	LOG_LEVEL_INFO,      /* normal events: sessions, deliveries, logins */
	LOG_LEVEL_DEBUG,     /* protocol detail for developers */
};

void log_open(const char *ident, bool use_syslog, enum log_level level);
/* "error", "warn", "info", "debug" -> 0, else -1. */
int log_level_parse(const char *s, enum log_level *level_r);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
bool log_enabled(enum log_level level);

/*
 * Escape src[0..srclen) for a log field into dst (always NUL-terminated),
 * cut to LOG_FIELD_MAX source bytes with "..." appended when cut. Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);
/* Size of a dst that always holds log_escape's output. */
#define LOG_ESCAPED_MAX (LOG_FIELD_MAX * 4 + 4)

#endif
