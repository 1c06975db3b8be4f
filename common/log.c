/*
 * log.c - one event per line to stderr (with a UTC timestamp and the
 * program's ident) or to syslog (facility mail).
 *
 * The only state is the ident, level and destination that log_open() sets
 * once at startup, before any thread starts. Each stderr line is written
 * with a single write() so the three daemons that `make run` starts do not
 * tear each other's lines. As a second line of defence after log_escape(),
 * CR and LF inside a formatted line become spaces: one call, one line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static struct {
	char ident[32];
	bool use_syslog;
	enum log_level level;
} log_state = {"mailroom", false, LOG_LEVEL_INFO};

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_open(const char *ident, bool use_syslog, enum log_level level)
{
	snprintf(log_state.ident, sizeof(log_state.ident), "%s",
		 ident ? ident : "mailroom");
	log_state.use_syslog = use_syslog;
	log_state.level = level;
	if (use_syslog)
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int log_level_parse(const char *s, enum log_level *level_r)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (s != NULL && strcmp(s, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

bool log_enabled(enum log_level level)
{
	return level <= log_state.level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	if ((unsigned)level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_ERROR;

	char msg[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';

	if (log_state.use_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					   LOG_DEBUG};
		syslog(prio[level], "%s: %s", level_names[level], msg);
		return;
	}

	char stamp[32];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	char line[LOG_LINE_MAX + 128];
	int len = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: %s: %s\n",
			   stamp, ts.tv_nsec / 1000000L, log_state.ident,
			   (long)getpid(), level_names[level], msg);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line)) {
		len = (int)sizeof(line) - 1;
		line[len - 1] = '\n';
	}
	/* Nothing useful to do if stderr is gone. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)len);
	(void)w;
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	if (dstlen == 0)
		return dst;
	bool cut = srclen > LOG_FIELD_MAX;
	size_t n = cut ? LOG_FIELD_MAX : srclen;
	size_t o = 0;
	size_t i;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < n)
		cut = true; /* dst too small */
	if (cut) {
		while (o > 0 && o + 3 >= dstlen)
			o--;
		/* do not leave half an escape behind */
		for (size_t back = 1; back <= 3 && back <= o; back++) {
			if (dst[o - back] == '\\') {
				o -= back;
				break;
			}
		}
		if (o + 3 < dstlen) {
			memcpy(dst + o, "...", 3);
			o += 3;
		}
	}
	dst[o] = '\0';
	return dst;
}
