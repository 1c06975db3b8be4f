/*
 * dns_loop.h - one c-ares channel driven by a libevent loop, so a daemon
 * asks DNS questions without blocking its connections: mailroom-queued's
 * MX and address lookups (outbound/dns.c) and smtpd's SPF/DKIM/DMARC
 * lookups (trust/ctx.c). Each user keeps its own questions and answer
 * parsing; this owns only the channel, the socket events and the timer.
 *
 * Loop thread only. No global state: one struct per user.
 */
#ifndef MAILROOM_DNS_LOOP_H
#define MAILROOM_DNS_LOOP_H

#include <ares.h>
#include <stddef.h>

struct event_base;
struct dns_loop;

/*
 * A channel whose sockets and timeouts run on base. servers is
 * `[smtp] dns_servers` (ADDR:PORT,...; tests point it at a loopback
 * dnsmasq); NULL or "" keeps the system resolvers. timeout_ms is per try.
 * log_event names the event= of the log line written when a resolver
 * socket cannot be watched ("dns-error"). Returns NULL with a reason in
 * err on failure. The caller owns the result: dns_loop_free() it.
 */
struct dns_loop *dns_loop_new(struct event_base *base, const char *servers,
			      int timeout_ms, int tries, const char *log_event,
			      char *err, size_t errlen);

/*
 * Destroys the channel first: every pending question's callback runs
 * inside this call with ARES_EDESTRUCTION (callers that might ask again
 * from there must refuse while they close). Then the events go. NULLs *lp.
 */
void dns_loop_free(struct dns_loop **lp);

/* The channel to send questions on (ares_query, ares_getaddrinfo). */
ares_channel dns_loop_channel(const struct dns_loop *l);

/* Call after sending a question: sets the timer to c-ares' next timeout,
 * so retries happen even when no answer ever comes. */
void dns_loop_sent(struct dns_loop *l);

#endif
