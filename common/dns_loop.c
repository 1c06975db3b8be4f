/*
 * dns_loop.c - c-ares driven by the caller's libevent loop.
 *
 * c-ares tells us which sockets it wants watched (sock_state_cb); each gets
 * a persistent libevent event that calls ares_process_fd, and one timer
 * fires at ares_timeout() so retries and timeouts happen without traffic.
 * At most DNS_LOOP_WATCH_MAX sockets at once (c-ares opens one per server
 * in use); past that a socket is not watched and its questions time out.
 */
#include "dns_loop.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define DNS_LOOP_WATCH_MAX 32

struct dns_watch {
	ares_socket_t fd;
	struct event *ev;
};

struct dns_loop {
	struct event_base *base;
	ares_channel channel;
	struct event *timer;
	const char *log_event; /* static string from the caller */
	struct dns_watch watch[DNS_LOOP_WATCH_MAX];
	size_t n_watch;
};

void dns_loop_sent(struct dns_loop *l)
{
	struct timeval tv, *tvp = ares_timeout(l->channel, NULL, &tv);
	if (tvp == NULL)
		evtimer_del(l->timer);
	else
		evtimer_add(l->timer, tvp);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_loop *l = arg;
	(void)fd;
	(void)what;
	ares_process_fd(l->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_loop_sent(l);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct dns_loop *l = arg;
	ares_process_fd(l->channel,
			(what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	dns_loop_sent(l);
}

/* c-ares' sock_state_cb: the old event for fd (if any) goes, a new one
 * with the wanted directions comes, or none when c-ares closed it. */
static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_loop *l = data;
	size_t i;
	for (i = 0; i < l->n_watch; i++)
		if (l->watch[i].fd == fd)
			break;
	if (i < l->n_watch) {
		event_free(l->watch[i].ev);
		l->watch[i] = l->watch[--l->n_watch];
	}
	if (!readable && !writable)
		return;
	if (l->n_watch >= DNS_LOOP_WATCH_MAX) {
		log_error("event=%s reason=\"too many resolver sockets\"",
			  l->log_event);
		return;
	}
	short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	struct event *ev = event_new(l->base, fd, what, on_sock, l);
	if (ev == NULL || event_add(ev, NULL) < 0) {
		if (ev)
			event_free(ev);
		log_error("event=%s reason=\"cannot watch a resolver socket\"",
			  l->log_event);
		return;
	}
	l->watch[l->n_watch].fd = fd;
	l->watch[l->n_watch].ev = ev;
	l->n_watch++;
}

struct dns_loop *dns_loop_new(struct event_base *base, const char *servers,
			      int timeout_ms, int tries, const char *log_event,
			      char *err, size_t errlen)
{
	struct dns_loop *l = calloc(1, sizeof *l);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->base = base;
	l->log_event = log_event;
	l->timer = evtimer_new(base, on_timer, l);
	if (l->timer == NULL) {
		snprintf(err, errlen, "out of memory");
		free(l);
		return NULL;
	}
	struct ares_options o;
	memset(&o, 0, sizeof o);
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = l;
	o.timeout = timeout_ms;
	o.tries = tries;
	int rc = ares_init_options(&l->channel, &o,
				   ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
					   ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		l->channel = NULL;
		dns_loop_free(&l);
		return NULL;
	}
	if (servers && servers[0] &&
	    (rc = ares_set_servers_ports_csv(l->channel, servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns_servers '%s': %s", servers,
			 ares_strerror(rc));
		dns_loop_free(&l);
		return NULL;
	}
	return l;
}

void dns_loop_free(struct dns_loop **lp)
{
	struct dns_loop *l = *lp;
	if (l == NULL)
		return;
	if (l->channel)
		ares_destroy(l->channel); /* callbacks run: ARES_EDESTRUCTION */
	for (size_t i = 0; i < l->n_watch; i++)
		event_free(l->watch[i].ev);
	if (l->timer)
		event_free(l->timer);
	free(l);
	*lp = NULL;
}

ares_channel dns_loop_channel(const struct dns_loop *l)
{
	return l->channel;
}
