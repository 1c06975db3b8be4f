/*
 * listen.c - listener specs from the config (`ADDR:PORT[,ADDR:PORT...]`)
 * and the listening sockets made from them.
 *
 * Addresses must be numeric (inet_pton), so startup never waits on DNS and
 * a typo cannot silently bind somewhere else. IPv6 is written in brackets
 * and bound IPV6_V6ONLY, so "0.0.0.0:25,[::]:25" is two independent
 * sockets on every system regardless of the bindv6only sysctl.
 */
#include "listen.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A burst of connections (a mail client reconnecting after an outage, a
 * bulk sender) waits in the kernel rather than retrying its SYN a second
 * later; the kernel caps this at net.core.somaxconn (4096 on Debian 12). */
#define LISTEN_BACKLOG 4096

/* Parse a decimal port 0..65535 from s[0..len). -1 if not one. */
static int parse_port(const char *s, size_t len)
{
	if (len == 0 || len > 5)
		return -1;
	int port = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		port = port * 10 + (s[i] - '0');
	}
	return port <= 65535 ? port : -1;
}

/* One "ADDR:PORT" item (already trimmed, len > 0). */
static int parse_one(const char *item, size_t len, struct listen_addr *a,
		     char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	size_t port_len;
	bool v6 = false;

	memset(a, 0, sizeof(*a));
	if (item[0] == '[') {
		const char *close = memchr(item, ']', len);
		if (close == NULL) {
			snprintf(err, errlen, "missing ']' in '%.*s'", (int)len,
				 item);
			return -1;
		}
		size_t hlen = (size_t)(close - item) - 1;
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(err, errlen, "bad address in '%.*s'", (int)len,
				 item);
			return -1;
		}
		memcpy(host, item + 1, hlen);
		host[hlen] = '\0';
		if ((size_t)(close - item) + 1 >= len ||
		    close[1] != ':') {
			snprintf(err, errlen, "missing port in '%.*s'", (int)len,
				 item);
			return -1;
		}
		port_s = close + 2;
		port_len = len - (size_t)(port_s - item);
		v6 = true;
	} else {
		const char *colon = NULL;
		for (size_t i = 0; i < len; i++)
			if (item[i] == ':')
				colon = item + i;
		if (colon == NULL) {
			snprintf(err, errlen, "missing port in '%.*s'", (int)len,
				 item);
			return -1;
		}
		size_t hlen = (size_t)(colon - item);
		if (memchr(item, ':', hlen) != NULL) {
			snprintf(err, errlen,
				 "IPv6 addresses need brackets in '%.*s'",
				 (int)len, item);
			return -1;
		}
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(err, errlen, "bad address in '%.*s'", (int)len,
				 item);
			return -1;
		}
		memcpy(host, item, hlen);
		host[hlen] = '\0';
		port_s = colon + 1;
		port_len = len - hlen - 1;
	}

	int port = parse_port(port_s, port_len);
	if (port < 0) {
		snprintf(err, errlen, "bad port in '%.*s'", (int)len, item);
		return -1;
	}

	char norm[INET6_ADDRSTRLEN];
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->ss;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			snprintf(err, errlen, "bad IPv6 address in '%.*s'",
				 (int)len, item);
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*sin6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, norm, sizeof(norm));
		snprintf(a->text, sizeof(a->text), "[%s]:%d", norm, port);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			snprintf(err, errlen,
				 "bad address in '%.*s' (numeric IPv4 or "
				 "[IPv6] only)",
				 (int)len, item);
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->len = sizeof(*sin);
		inet_ntop(AF_INET, &sin->sin_addr, norm, sizeof(norm));
		snprintf(a->text, sizeof(a->text), "%s:%d", norm, port);
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

int listen_parse(const char *spec, struct listen_addr *out, size_t max,
		 size_t *n_r, char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = spec;

	*n_r = 0;
	while (is_space(*p))
		p++;
	if (*p == '\0')
		return 0;

	for (;;) {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *s = p, *e = end;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		if (s == e) {
			snprintf(err, errlen, "empty address in '%s'", spec);
			return -1;
		}
		for (const char *q = s; q < e; q++) {
			if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
				snprintf(err, errlen, "bad character in '%.*s'",
					 (int)(e - s), s);
				return -1;
			}
		}
		if (n >= max) {
			snprintf(err, errlen, "more than %zu addresses", max);
			return -1;
		}
		if (parse_one(s, (size_t)(e - s), &out[n], err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(out[i].text, out[n].text) == 0) {
				snprintf(err, errlen, "%s listed twice",
					 out[n].text);
				return -1;
			}
		}
		n++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	*n_r = n;
	return 0;
}

int listen_open(const struct listen_addr *a, char *err, size_t errlen)
{
	int family = a->ss.ss_family;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", a->text, strerror(errno));
		return -1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
		goto fail;
	if (listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	snprintf(err, errlen, "%s: %s", a->text, strerror(saved));
	errno = saved;
	return -1;
}

const char *sockaddr_ip_text(const struct sockaddr *sa, char *dst,
			     size_t dstlen)
{
	if (dstlen == 0)
		return dst;
	dst[0] = '\0';
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, dst, (socklen_t)dstlen))
			return dst;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;
		/* ::ffff:a.b.c.d is an IPv4 peer: log it as one, so fail2ban
		 * sees the same text whichever socket it came in on. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			if (inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], dst,
				      (socklen_t)dstlen))
				return dst;
		} else if (inet_ntop(AF_INET6, &sin6->sin6_addr, dst,
				     (socklen_t)dstlen)) {
			return dst;
		}
	} else if (sa->sa_family == AF_UNIX) {
		snprintf(dst, dstlen, "local");
		return dst;
	}
	snprintf(dst, dstlen, "unknown");
	return dst;
}

int sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return sin6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}
