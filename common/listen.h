/*
 * listen.h - listener addresses from config, and listening sockets.
 *
 * A listen value is `ADDR:PORT[,ADDR:PORT...]`; IPv6 addresses are written
 * in brackets (`[::1]:2525`); an empty value means no listener. Only numeric
 * addresses are accepted (no DNS lookup at startup).
 */
#ifndef MAILROOM_LISTEN_H
#define MAILROOM_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include "limits.h"

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64]; /* as written, normalised: "127.0.0.1:2525", "[::1]:25" */
};

/*
 * Parse spec into out[0..max). Sets *n_r (0 for an empty spec). 0 on
 * success, -1 with a message in err ("bad port in '127.0.0.1:x'").
 */
int listen_parse(const char *spec, struct listen_addr *out, size_t max,
		 size_t *n_r, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/*
 * A non-blocking, close-on-exec listening TCP socket bound to a (with
 * SO_REUSEADDR, IPV6_V6ONLY for IPv6). Returns the fd, or -1 with
 * "127.0.0.1:2525: Address already in use" in err.
 */
int listen_open(const struct listen_addr *a, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Numeric "ADDR" text of a peer address, into dst (INET6_ADDRSTRLEN+). */
const char *sockaddr_ip_text(const struct sockaddr *sa, char *dst, size_t dstlen);
/* True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
int sockaddr_is_loopback(const struct sockaddr *sa);

#endif
