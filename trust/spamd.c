/*
 * spamd.c - a client of SpamAssassin's spamd, written from the protocol
 * description (SpamAssassin's spamd/PROTOCOL), so mailroom-smtpd can add
 * spamd's judgement to its own checks when an admin runs one.
 *
 * One TCP connection per message on the caller's libevent loop:
 *
 *   -> SYMBOLS SPAMC/1.5\r\n Content-length: N\r\n \r\n <N octets>
 *   <- SPAMD/1.1 0 EX_OK\r\n Content-length: 27\r\n
 *      Spam: True ; 1000.0 / 5.0\r\n \r\n GTUBE,NO_RECEIVED,NO_RELAYS
 *
 * SYMBOLS rather than CHECK: same cost for spamd, and the rule names tell
 * the user why. Nothing here blocks: the connect is non-blocking, a
 * timer bounds the connect (TRUST_SPAMD_CONNECT_MS_MAX or the total,
 * whichever is shorter) and the whole exchange (the caller's timeout),
 * and the message goes out from our copy as the socket drains (an
 * evbuffer reference, no second copy). After the last octet the write
 * side is shut down, so a daemon that reads to the end also answers.
 *
 * Memory: the copy of the message is capped at TRUST_SPAMD_SEND_MAX
 * (a longer message is asked about by its first part, cut at a line
 * end), and at most TRUST_SPAMD_REPLY_MAX of the reply is looked at.
 *
 * SECURITY: the reply is hostile input. The parser below is pure (no
 * allocation, never reads past n) and fuzzed (tests/fuzz/
 * fuzz_trust_spamd.c); what reaches logs and headers from the reply is
 * numbers, rule names of [A-Za-z0-9_], and a status word with anything
 * but printable ASCII, quotes and backslashes replaced.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "trust.h"

#define SPAMD_COPY_FIRST (16 * 1024) /* most mail fits at once */

/* ---- the address ------------------------------------------------------- */

int trust_spamd_addr_parse(const char *s, struct trust_spamd_addr *out,
			   const char **error_r)
{
	static const char *const bad =
		"Write the spamd address as an IP address and port, e.g. "
		"127.0.0.1:783 or [::1]:783 (host names are not looked up).";
	memset(out, 0, sizeof *out);
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hl;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
			*error_r = bad;
			return -1;
		}
		hl = (size_t)(close - s - 1);
		if (hl >= sizeof host) {
			*error_r = bad;
			return -1;
		}
		memcpy(host, s + 1, hl);
		if (close[1] == ':')
			port = close + 2;
	} else {
		const char *colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL; /* a bare IPv6 address */
		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof host) {
			*error_r = bad;
			return -1;
		}
		memcpy(host, s, hl);
		if (colon != NULL)
			port = colon + 1;
	}
	host[hl] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		memcpy(host, "127.0.0.1", sizeof "127.0.0.1");
	if (inet_pton(AF_INET, host, out->ip) == 1) {
		out->family = AF_INET;
	} else if (inet_pton(AF_INET6, host, out->ip) == 1) {
		out->family = AF_INET6;
	} else {
		*error_r = bad;
		return -1;
	}
	out->port = TRUST_SPAMD_DEFAULT_PORT;
	if (port != NULL) {
		unsigned long v = 0;
		size_t i = 0;
		for (; port[i] >= '0' && port[i] <= '9' && i < 6; i++)
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (i == 0 || port[i] != '\0' || v < 1 || v > 65535) {
			*error_r = "The spamd port must be a number from 1 to 65535 "
				   "(usually 783).";
			return -1;
		}
		out->port = (unsigned)v;
	}
	return 0;
}

void trust_spamd_addr_text(const struct trust_spamd_addr *a, char *out,
			   size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	if (inet_ntop(a->family, a->ip, ip, sizeof ip) == NULL)
		ip[0] = '\0';
	snprintf(out, cap, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, a->port);
}

/* ---- the reply's header section (pure) ---------------------------------- */

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

static void trim(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* "-12.34" -> tenths, half away from zero; -1 when not such a number or
 * beyond 1,000,000 points. */
static int parse_tenths(const char *p, size_t n, int *out)
{
	size_t i = 0;
	bool neg = false;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	long whole = 0;
	size_t d = 0;
	for (; i < n && digit(p[i]); i++, d++) {
		whole = whole * 10 + (p[i] - '0');
		if (whole > 1000000)
			return -1;
	}
	if (d == 0)
		return -1;
	int tenth = 0, hundredth = 0;
	if (i < n && p[i] == '.') {
		size_t f = 0;
		for (i++; i < n && digit(p[i]); i++, f++) {
			if (f == 0)
				tenth = p[i] - '0';
			else if (f == 1)
				hundredth = p[i] - '0';
		}
		if (f == 0)
			return -1;
	}
	if (i != n)
		return -1;
	long v = whole * 10 + tenth + (hundredth >= 5);
	if (v > 10000000) /* 1000000.05 rounds up past the limit */
		return -1;
	*out = (int)(neg ? -v : v);
	return 0;
}

/* "True ; 15.3 / 5.0" (True, False, Yes, No; spaces optional). */
static int parse_spam(const char *p, size_t n, struct trust_spamd_reply *r)
{
	const char *semi = memchr(p, ';', n);
	if (semi == NULL)
		return -1;
	const char *slash = memchr(semi, '/', n - (size_t)(semi - p));
	if (slash == NULL)
		return -1;
	const char *w = p, *sc = semi + 1, *rq = slash + 1;
	size_t wn = (size_t)(semi - p), scn = (size_t)(slash - sc),
	       rqn = n - (size_t)(rq - p);
	trim(&w, &wn);
	trim(&sc, &scn);
	trim(&rq, &rqn);
	if ((wn == 4 && strncasecmp(w, "true", 4) == 0) ||
	    (wn == 3 && strncasecmp(w, "yes", 3) == 0))
		r->spam = true;
	else if ((wn == 5 && strncasecmp(w, "false", 5) == 0) ||
		 (wn == 2 && strncasecmp(w, "no", 2) == 0))
		r->spam = false;
	else
		return -1;
	if (parse_tenths(sc, scn, &r->score_tenths) < 0 ||
	    parse_tenths(rq, rqn, &r->required_tenths) < 0)
		return -1;
	return 0;
}

/* "SPAMD/1.1 0 EX_OK" */
static int parse_status(const char *p, size_t n, struct trust_spamd_reply *r)
{
	size_t i = 6; /* "SPAMD/" checked by the caller */
	size_t d = 0;
	for (; i < n && digit(p[i]); i++)
		d++;
	if (d == 0 || i >= n || p[i] != '.')
		return -1;
	for (d = 0, i++; i < n && digit(p[i]); i++)
		d++;
	if (d == 0 || i >= n || p[i] != ' ')
		return -1;
	while (i < n && p[i] == ' ')
		i++;
	int code = 0;
	for (d = 0; i < n && digit(p[i]); i++, d++) {
		if (d == 3)
			return -1;
		code = code * 10 + (p[i] - '0');
	}
	if (d == 0 || (i < n && p[i] != ' '))
		return -1;
	r->code = code;
	while (i < n && p[i] == ' ')
		i++;
	size_t o = 0;
	for (; i < n && o + 1 < sizeof r->message; i++) {
		unsigned char c = (unsigned char)p[i];
		r->message[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\'
					  ? (char)c
					  : '?';
	}
	r->message[o] = '\0';
	return 0;
}

static bool name_char(char c)
{
	return c > 0x20 && c < 0x7f && c != ':';
}

int trust_spamd_reply_parse(const char *p, size_t n,
			    struct trust_spamd_reply *out, const char **error_r)
{
	memset(out, 0, sizeof *out);
	out->content_length = -1;
	static const char magic[] = "SPAMD/";
	size_t m = n < sizeof magic - 1 ? n : sizeof magic - 1;
	if (memcmp(p, magic, m) != 0) {
		*error_r = "not a SPAMD reply";
		return -1;
	}
	size_t lim = n < TRUST_SPAMD_HEAD_MAX ? n : TRUST_SPAMD_HEAD_MAX;
	size_t pos = 0;
	bool first = true, have_cl = false;
	for (;;) {
		const char *lf = memchr(p + pos, '\n', lim - pos);
		if (lf == NULL) {
			if (n >= TRUST_SPAMD_HEAD_MAX) {
				*error_r = "no end of the reply's header section "
					   "within 4 KiB";
				return -1;
			}
			return 0;
		}
		size_t end = (size_t)(lf - p), next = end + 1;
		if (end > pos && p[end - 1] == '\r')
			end--;
		const char *l = p + pos;
		size_t len = end - pos;
		pos = next;
		if (first) {
			first = false;
			if (len < sizeof magic - 1 || parse_status(l, len, out) < 0) {
				*error_r = "bad status line";
				return -1;
			}
			continue;
		}
		if (len == 0) {
			out->head_len = pos;
			return 1;
		}
		const char *colon = memchr(l, ':', len);
		size_t nl = colon ? (size_t)(colon - l) : 0;
		for (size_t i = 0; i < nl; i++)
			if (!name_char(l[i]))
				nl = 0;
		if (nl == 0) {
			*error_r = "bad header line";
			return -1;
		}
		const char *v = colon + 1;
		size_t vn = len - nl - 1;
		trim(&v, &vn);
		if (nl == 4 && strncasecmp(l, "spam", 4) == 0) {
			if (out->have_spam || parse_spam(v, vn, out) < 0) {
				*error_r = out->have_spam ? "two Spam headers"
							  : "bad Spam header";
				return -1;
			}
			out->have_spam = true;
		} else if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
			long long cl = 0;
			size_t i = 0;
			for (; i < vn && digit(v[i]) && i < 12; i++)
				cl = cl * 10 + (v[i] - '0');
			if (have_cl || i == 0 || i != vn) {
				*error_r = have_cl ? "two Content-length headers"
						   : "bad Content-length header";
				return -1;
			}
			have_cl = true;
			out->content_length = cl;
		}
	}
}

static bool symbol_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || digit(c) ||
	       c == '_';
}

size_t trust_spamd_symbols(const char *p, size_t n, char *out, size_t cap)
{
	size_t o = 0, kept = 0, i = 0;
	if (cap == 0)
		return 0;
	while (i < n) {
		while (i < n && !symbol_char(p[i]))
			i++;
		size_t start = i;
		while (i < n && symbol_char(p[i]))
			i++;
		size_t len = i - start;
		if (len == 0 || o + (o ? 1 : 0) + len + 1 > cap)
			break;
		if (o)
			out[o++] = ',';
		memcpy(out + o, p + start, len);
		o += len;
		kept++;
	}
	out[o] = '\0';
	return kept;
}

/* ---- the client ----------------------------------------------------------- */

struct trust_spamd {
	struct event_base *base;
	struct trust_spamd_addr addr;
	char addr_text[64];
	const char *addr_error; /* static text; NULL: addr is good */
	int timeout_ms;
	char *msg;              /* the prefix, then the message */
	size_t len, cap, prefix_len;
	bool cut, oom, fed;
	char head[64];          /* request line and Content-length */
	struct bufferevent *bev;
	struct event *timer;
	bool connected, shut, eof, failed_early;
	int64_t start_us;
	trust_spamd_cb cb;
	void *arg;
	struct trust_spamd_outcome out;
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

struct trust_spamd *trust_spamd_new(struct event_base *base, const char *addr,
				    int timeout_ms)
{
	struct trust_spamd *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->timer = evtimer_new(base, on_timer, s);
	if (s->timer == NULL) {
		free(s);
		return NULL;
	}
	s->base = base;
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	if (trust_spamd_addr_parse(addr ? addr : "", &s->addr, &s->addr_error) == 0)
		trust_spamd_addr_text(&s->addr, s->addr_text, sizeof s->addr_text);
	else
		str_copy_cut(s->addr_text, sizeof s->addr_text, addr ? addr : "");
	return s;
}

static void copy_in(struct trust_spamd *s, const char *p, size_t n)
{
	if (s->oom || s->cut || n == 0)
		return;
	size_t room = TRUST_SPAMD_SEND_MAX - s->len;
	if (n > room) {
		n = room;
		s->cut = true;
	}
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : SPAMD_COPY_FIRST;
		while (cap < s->len + n)
			cap *= 2;
		if (cap > TRUST_SPAMD_SEND_MAX)
			cap = TRUST_SPAMD_SEND_MAX;
		char *nb = realloc(s->msg, cap);
		if (nb == NULL) {
			s->oom = true;
			return;
		}
		s->msg = nb;
		s->cap = cap;
	}
	memcpy(s->msg + s->len, p, n);
	s->len += n;
}

void trust_spamd_prefix(struct trust_spamd *s, const char *p, size_t n)
{
	if (s == NULL || s->fed)
		return; /* only in front of the message */
	copy_in(s, p, n);
	s->prefix_len = s->len;
}

void trust_spamd_feed(struct trust_spamd *s, const char *p, size_t n)
{
	if (s == NULL)
		return;
	s->fed = true;
	copy_in(s, p, n);
}

static void teardown(struct trust_spamd *s)
{
	if (s->bev != NULL)
		bufferevent_free(s->bev); /* closes the socket */
	s->bev = NULL;
	if (s->timer != NULL)
		evtimer_del(s->timer);
}

/* The one way out: cb last, so it may free s. */
static void complete(struct trust_spamd *s)
{
	teardown(s);
	s->out.elapsed_us = mono_us() - s->start_us;
	s->out.cut = s->cut;
	trust_spamd_cb cb = s->cb;
	s->cb = NULL;
	if (cb != NULL)
		cb(s->arg, &s->out);
}

static void fail(struct trust_spamd *s, const char *what, const char *detail)
{
	s->out.answered = false;
	snprintf(s->out.reason, sizeof s->out.reason, "%s %s%s%s", s->addr_text,
		 what, detail ? ": " : "", detail ? detail : "");
	complete(s);
}

static void read_reply(struct trust_spamd *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t have = evbuffer_get_length(in);
	size_t look = have < TRUST_SPAMD_REPLY_MAX ? have : TRUST_SPAMD_REPLY_MAX;
	const char *p = look ? (const char *)evbuffer_pullup(in, (ev_ssize_t)look) : "";
	if (p == NULL) {
		fail(s, "reply", "out of memory");
		return;
	}
	struct trust_spamd_reply r;
	const char *err = NULL;
	int rc = trust_spamd_reply_parse(p, look, &r, &err);
	if (rc < 0) {
		fail(s, "sent a bad reply", err);
		return;
	}
	if (rc == 0) {
		if (s->eof)
			fail(s, "closed the connection", look ? "the reply is incomplete"
							      : "no reply");
		return;
	}
	if (r.code != 0) {
		char what[64];
		snprintf(what, sizeof what, "%d %s", r.code, r.message);
		fail(s, "answered", what);
		return;
	}
	if (!r.have_spam) {
		fail(s, "sent a bad reply", "no Spam header");
		return;
	}
	size_t body = look - r.head_len;
	size_t want = 0;
	if (r.content_length > 0)
		want = (unsigned long long)r.content_length < TRUST_SPAMD_REPLY_MAX - r.head_len
			       ? (size_t)r.content_length
			       : TRUST_SPAMD_REPLY_MAX - r.head_len;
	if (body < want && !s->eof)
		return; /* the rule names are still coming */
	s->out.answered = true;
	s->out.spam = r.spam;
	s->out.score_tenths = r.score_tenths;
	s->out.required_tenths = r.required_tenths;
	trust_spamd_symbols(p + r.head_len, body < want ? body : want, s->out.symbols,
			    sizeof s->out.symbols);
	complete(s);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	read_reply(arg);
}

/* Everything sent: shut our side, as spamc does. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct trust_spamd *s = arg;
	if (s->connected && !s->shut &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		s->shut = true;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	}
}

static void connected(struct trust_spamd *s)
{
	s->connected = true;
	int64_t left_ms = s->timeout_ms - (mono_us() - s->start_us) / 1000;
	if (left_ms < 1)
		left_ms = 1;
	struct timeval tv = {(time_t)(left_ms / 1000), (suseconds_t)(left_ms % 1000) * 1000};
	evtimer_add(s->timer, &tv);
	int hl = snprintf(s->head, sizeof s->head,
			  "SYMBOLS SPAMC/1.5\r\nContent-length: %zu\r\n\r\n", s->len);
	struct evbuffer *o = bufferevent_get_output(s->bev);
	if (hl < 0 || (size_t)hl >= sizeof s->head ||
	    evbuffer_add(o, s->head, (size_t)hl) < 0 ||
	    (s->len > 0 && evbuffer_add_reference(o, s->msg, s->len, NULL, NULL) < 0) ||
	    bufferevent_enable(s->bev, EV_READ | EV_WRITE) < 0) {
		fail(s, "request", "out of memory");
		return;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct trust_spamd *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		connected(s);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		s->eof = true;
		if (s->connected) {
			read_reply(s);
			return;
		}
	}
	int e = EVUTIL_SOCKET_ERROR();
	fail(s, s->connected ? "connection failed" : "connect failed",
	     e ? evutil_socket_error_to_string(e) : "closed");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct trust_spamd *s = arg;
	if (s->failed_early) {
		complete(s);
		return;
	}
	char t[48];
	if (!s->connected) {
		int ms = s->timeout_ms < TRUST_SPAMD_CONNECT_MS_MAX ? s->timeout_ms
								    : TRUST_SPAMD_CONNECT_MS_MAX;
		snprintf(t, sizeof t, "within %d ms", ms);
		fail(s, "no connection", t);
	} else {
		snprintf(t, sizeof t, "within %d.%03d s", s->timeout_ms / 1000,
			 s->timeout_ms % 1000);
		fail(s, "no answer", t);
	}
}

/* Reported from the loop, never before trust_spamd_finish returns. */
static void fail_soon(struct trust_spamd *s, const char *what, const char *detail)
{
	s->failed_early = true;
	snprintf(s->out.reason, sizeof s->out.reason, "%s %s%s%s", s->addr_text,
		 what, detail ? ": " : "", detail ? detail : "");
	struct timeval now = {0, 0};
	evtimer_add(s->timer, &now);
}

void trust_spamd_finish(struct trust_spamd *s, trust_spamd_cb cb, void *arg)
{
	s->cb = cb;
	s->arg = arg;
	s->start_us = mono_us();
	if (s->addr_error != NULL) {
		fail_soon(s, "is not an address", s->addr_error);
		return;
	}
	if (s->oom) {
		fail_soon(s, "message copy", "out of memory");
		return;
	}
	if (s->cut) { /* the first part, up to its last line end */
		const char *p = s->msg + s->prefix_len;
		size_t n = s->len - s->prefix_len;
		while (n > 0 && p[n - 1] != '\n')
			n--;
		if (n > 0)
			s->len = s->prefix_len + n;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof ss);
	if (s->addr.family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)s->addr.port);
		memcpy(&a->sin_addr, s->addr.ip, 4);
		sl = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)s->addr.port);
		memcpy(&a->sin6_addr, s->addr.ip, 16);
		sl = sizeof *a;
	}
	s->bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		fail_soon(s, "connect failed", "out of memory");
		return;
	}
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sl) < 0) {
		int e = EVUTIL_SOCKET_ERROR();
		bufferevent_free(s->bev);
		s->bev = NULL;
		fail_soon(s, "connect failed",
			  e ? evutil_socket_error_to_string(e) : "refused");
		return;
	}
	int ms = s->timeout_ms < TRUST_SPAMD_CONNECT_MS_MAX ? s->timeout_ms
							    : TRUST_SPAMD_CONNECT_MS_MAX;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(s->timer, &tv);
}

void trust_spamd_free(struct trust_spamd **sp)
{
	struct trust_spamd *s = *sp;
	*sp = NULL;
	if (s == NULL)
		return;
	teardown(s);
	if (s->timer != NULL)
		event_free(s->timer);
	free(s->msg);
	free(s);
}
