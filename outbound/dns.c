/*
 * dns.c - asynchronous DNS for the queue runner: c-ares driven by the same
 * libevent loop as the SMTP connections, so a slow name server never
 * blocks a delivery in progress.
 *
 * c-ares tells us which sockets it wants watched (sock_state_cb); each gets
 * a persistent libevent event that calls ares_process_fd, and one timer
 * fires at ares_timeout() so retries and timeouts happen without traffic.
 * `[smtp] dns_servers` (ADDR:PORT,...) replaces the system resolvers;
 * tests point it at a loopback dnsmasq.
 */
#include <ares.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "outbound_int.h"

#define DNS_WATCH_MAX 32    /* sockets c-ares uses at once (one per server) */
#define DNS_TIMEOUT_MS 3000 /* per try */
#define DNS_TRIES 3

struct dns_watch {
	ares_socket_t fd;
	struct event *ev;
};

struct ob_dns {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;
	struct dns_watch watch[DNS_WATCH_MAX];
	size_t n_watch;
};

static void rearm_timer(struct ob_dns *d)
{
	struct timeval tv, *tvp = ares_timeout(d->channel, NULL, &tv);
	if (tvp == NULL) {
		evtimer_del(d->timer);
		return;
	}
	evtimer_add(d->timer, tvp);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ob_dns *d = arg;
	(void)fd;
	(void)what;
	ares_process_fd(d->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct ob_dns *d = arg;
	ares_process_fd(d->channel,
			(what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct ob_dns *d = data;
	size_t i;
	for (i = 0; i < d->n_watch; i++)
		if (d->watch[i].fd == fd)
			break;
	if (i < d->n_watch) {
		event_free(d->watch[i].ev);
		d->watch[i] = d->watch[--d->n_watch];
	}
	if (!readable && !writable)
		return;
	if (d->n_watch >= DNS_WATCH_MAX) {
		log_error("event=dns-error reason=\"too many resolver sockets\"");
		return;
	}
	short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	struct event *ev = event_new(d->base, fd, what, on_sock, d);
	if (ev == NULL || event_add(ev, NULL) < 0) {
		if (ev)
			event_free(ev);
		log_error("event=dns-error reason=\"cannot watch a resolver socket\"");
		return;
	}
	d->watch[d->n_watch].fd = fd;
	d->watch[d->n_watch].ev = ev;
	d->n_watch++;
}

struct ob_dns *ob_dns_new(struct event_base *base, const char *servers,
			  char *err, size_t errlen)
{
	struct ob_dns *d = calloc(1, sizeof *d);
	if (d == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->base = base;
	d->timer = evtimer_new(base, on_timer, d);
	struct ares_options o;
	memset(&o, 0, sizeof o);
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	int rc = d->timer ? ares_init_options(&d->channel, &o,
					      ARES_OPT_SOCK_STATE_CB |
						      ARES_OPT_TIMEOUTMS |
						      ARES_OPT_TRIES)
			  : ARES_ENOMEM;
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		if (d->timer)
			event_free(d->timer);
		free(d);
		return NULL;
	}
	if (servers && servers[0] &&
	    (rc = ares_set_servers_ports_csv(d->channel, servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns_servers '%s': %s", servers,
			 ares_strerror(rc));
		ob_dns_free(&d);
		return NULL;
	}
	return d;
}

void ob_dns_free(struct ob_dns **dp)
{
	struct ob_dns *d = *dp;
	if (d == NULL)
		return;
	if (d->channel)
		ares_destroy(d->channel); /* callbacks run: ARES_EDESTRUCTION */
	for (size_t i = 0; i < d->n_watch; i++)
		event_free(d->watch[i].ev);
	if (d->timer)
		event_free(d->timer);
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
	ares_query(d->channel, domain, ns_c_in, ns_t_mx, mx_done, q);
	rearm_timer(d);
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
	ares_getaddrinfo(d->channel, host, service, &hints, addr_done, q);
	rearm_timer(d);
}
