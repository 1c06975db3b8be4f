/*
 * dns.c - asynchronous DNS for the queue runner: MX and address lookups on
 * a c-ares channel driven by the same libevent loop as the SMTP
 * connections (common/dns_loop.c), so a slow name server never blocks a
 * delivery in progress. `[smtp] dns_servers` (ADDR:PORT,...) replaces the
 * system resolvers; tests point it at a loopback dnsmasq.
 */
#include <ares.h>
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/dns_loop.h"
#include "outbound_int.h"

#define DNS_TIMEOUT_MS 3000 /* per try */
#define DNS_TRIES 3

struct ob_dns {
	struct dns_loop *loop;
};

struct ob_dns *ob_dns_new(struct event_base *base, const char *servers,
			  char *err, size_t errlen)
{
	struct ob_dns *d = calloc(1, sizeof *d);
	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->loop = dns_loop_new(base, servers, DNS_TIMEOUT_MS, DNS_TRIES,
			       "dns-error", err, errlen);
	if (d->loop == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void ob_dns_free(struct ob_dns **dp)
{
	struct ob_dns *d = *dp;
	if (d == NULL)
		return;
	dns_loop_free(&d->loop); /* callbacks run: ARES_EDESTRUCTION */
	free(d);
	*dp = NULL;
}

bool ob_dns_status_permanent(int status)
{
	return status == ARES_ENOTFOUND;
}

struct mx_query {
	ob_dns_mx_cb cb;
	void *arg;
};

static void mx_done(void *arg, int status, int timeouts, unsigned char *abuf,
		    int alen)
{
	struct mx_query *q = arg;
	(void)timeouts;
	struct ob_mx_list list;
	enum ob_mx_status mxst = OB_MX_BAD;
	memset(&list, 0, sizeof list);
	if (status == ARES_SUCCESS)
		mxst = ob_mx_parse(abuf, alen,
				   (uint32_t)arc4random_uniform(UINT32_MAX), &list);
	else if (status == ARES_ENODATA) {
		status = ARES_SUCCESS;
		mxst = OB_MX_NONE;
	}
	q->cb(q->arg, status, mxst, &list);
	free(q);
}

void ob_dns_mx(struct ob_dns *d, const char *domain, ob_dns_mx_cb cb, void *arg)
{
	struct mx_query *q = malloc(sizeof *q);
	if (q == NULL) {
		cb(arg, ARES_ENOMEM, OB_MX_BAD, NULL);
		return;
	}
	q->cb = cb;
	q->arg = arg;
	ares_query(dns_loop_channel(d->loop), domain, ns_c_in, ns_t_mx, mx_done,
		   q);
	dns_loop_sent(d->loop);
}

struct addr_query {
	ob_dns_addr_cb cb;
	void *arg;
};

static void addr_done(void *arg, int status, int timeouts,
		      struct ares_addrinfo *res)
{
	struct addr_query *q = arg;
	(void)timeouts;
	struct ob_addr_list list;
	memset(&list, 0, sizeof list);
	if (status == ARES_SUCCESS && res != NULL) {
		for (struct ares_addrinfo_node *n = res->nodes;
		     n != NULL && list.n < OB_ADDRS_PER_HOST; n = n->ai_next) {
			if (n->ai_addrlen > sizeof list.a[0].ss)
				continue;
			memcpy(&list.a[list.n].ss, n->ai_addr, n->ai_addrlen);
			list.a[list.n].len = (socklen_t)n->ai_addrlen;
			list.n++;
		}
		if (list.n == 0)
			status = ARES_ENODATA;
	}
	if (res)
		ares_freeaddrinfo(res);
	q->cb(q->arg, status, &list);
	free(q);
}

void ob_dns_addrs(struct ob_dns *d, const char *host, int port,
		  ob_dns_addr_cb cb, void *arg)
{
	struct addr_query *q = malloc(sizeof *q);
	if (q == NULL) {
		cb(arg, ARES_ENOMEM, NULL);
		return;
	}
	q->cb = cb;
	q->arg = arg;
	char service[16];
	snprintf(service, sizeof service, "%d", port);
	struct ares_addrinfo_hints hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NUMERICSERV;
	ares_getaddrinfo(dns_loop_channel(d->loop), host, service, &hints,
			 addr_done, q);
	dns_loop_sent(d->loop);
}
