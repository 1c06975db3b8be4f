/*
 * greylist.c - what greylisting keys on: the client's network (a sender's
 * retry often comes from another address of the same pool, so /24 for
 * IPv4 and /64 for IPv6) and the per-domain switch. The triples and their
 * timers live in the store (store/greylist.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "trust_int.h"

int trust_greylist_net(const char *client_ip, char *out, size_t outlen)
{
	struct in6_addr a;
	int fam;
	if (tdns_parse_ip(client_ip, &a, &fam) < 0)
		return -1;
	char txt[INET6_ADDRSTRLEN];
	int n;
	if (fam == AF_INET) {
		const unsigned char *b = &a.s6_addr[12];
		n = snprintf(out, outlen, "%u.%u.%u.0/24", b[0], b[1], b[2]);
	} else {
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, txt, sizeof txt);
		n = snprintf(out, outlen, "%s/64", txt);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

bool trust_domain_in_list(const char *list, const char *domain)
{
	size_t dl = strlen(domain);
	for (const char *p = list ? list : ""; *p;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		size_t len = strcspn(p, ", \t\r\n");
		if ((len == 1 && p[0] == '*') ||
		    (len == dl && len > 0 && strncasecmp(p, domain, len) == 0))
			return true;
		p += len;
	}
	return false;
}
