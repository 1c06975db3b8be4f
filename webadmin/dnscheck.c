/*
 * dnscheck.c - parallel c-ares lookups with one deadline (dnscheck.h).
 *
 * The event loop is poll() over ares_getsock(); answers are parsed with
 * c-ares's own parsers and copied, bounded, into the query structs.
 */
#include "dnscheck.h"

#include <arpa/inet.h>
#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void add_value(struct dnscheck_query *q, const char *v)
{
	if (q->n == DNSCHECK_VALUES_MAX)
		return;
	snprintf(q->values[q->n], DNSCHECK_VALUE_MAX, "%s", v);
	q->n++;
}

static void parse(struct dnscheck_query *q, const unsigned char *abuf, int alen)
{
	char v[DNSCHECK_VALUE_MAX];
	switch (q->type) {
	case DNSCHECK_A: {
		struct ares_addrttl addrs[DNSCHECK_VALUES_MAX];
		int naddrs = DNSCHECK_VALUES_MAX;
		if (ares_parse_a_reply(abuf, alen, NULL, addrs, &naddrs) != ARES_SUCCESS)
			break;
		for (int i = 0; i < naddrs; i++)
			if (inet_ntop(AF_INET, &addrs[i].ipaddr, v, sizeof v))
				add_value(q, v);
		break;
	}
	case DNSCHECK_MX: {
		struct ares_mx_reply *mx = NULL;
		if (ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS)
			break;
		for (struct ares_mx_reply *m = mx; m; m = m->next) {
			snprintf(v, sizeof v, "%u %s", m->priority, m->host);
			add_value(q, v);
		}
		ares_free_data(mx);
		break;
	}
	case DNSCHECK_TXT: {
		struct ares_txt_ext *txt = NULL;
		if (ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS)
			break;
		/* a record may be split into several strings: join them */
		v[0] = '\0';
		size_t len = 0;
		for (struct ares_txt_ext *t = txt; t; t = t->next) {
			if (t->record_start && len > 0) {
				add_value(q, v);
				v[0] = '\0';
				len = 0;
			}
			size_t n = t->length;
			if (len + n >= sizeof v)
				n = sizeof v - 1 - len;
			memcpy(v + len, t->txt, n);
			len += n;
			v[len] = '\0';
		}
		if (len > 0)
			add_value(q, v);
		ares_free_data(txt);
		break;
	}
	case DNSCHECK_PTR: {
		struct hostent *he = NULL;
		if (ares_parse_ptr_reply(abuf, alen, NULL, 0, AF_INET, &he) != ARES_SUCCESS)
			break;
		if (he->h_name)
			add_value(q, he->h_name);
		for (char **a = he->h_aliases; a && *a; a++)
			add_value(q, *a);
		ares_free_hostent(he);
		break;
	}
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		      int alen)
{
	struct dnscheck_query *q = arg;
	(void)timeouts;
	if (status == ARES_SUCCESS) {
		parse(q, abuf, alen);
		q->status = q->n > 0 ? DNSCHECK_FOUND : DNSCHECK_NONE;
	} else if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
		q->status = DNSCHECK_NONE;
	} else {
		q->status = DNSCHECK_FAILED;
	}
}

/* "4.3.2.1.in-addr.arpa" for "1.2.3.4"; -1 if not an IPv4 address. */
static int ptr_name(const char *ip, char *dst, size_t dstlen)
{
	unsigned char b[4];
	if (inet_pton(AF_INET, ip, b) != 1)
		return -1;
	snprintf(dst, dstlen, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	return 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int dnscheck_run(struct dnscheck_query *q, size_t n, const char *servers,
		 char *err, size_t errlen)
{
	ares_channel ch;
	struct ares_options opt;
	memset(&opt, 0, sizeof opt);
	opt.timeout = 1000;
	opt.tries = 2;
	for (size_t i = 0; i < n; i++) {
		q[i].status = DNSCHECK_PENDING;
		q[i].n = 0;
	}
	if (ares_init_options(&ch, &opt, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "the DNS resolver could not start");
		for (size_t i = 0; i < n; i++)
			q[i].status = DNSCHECK_FAILED;
		return -1;
	}
	if (servers != NULL && servers[0] != '\0' &&
	    ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS) {
		snprintf(err, errlen, "bad dns_servers '%s'", servers);
		ares_destroy(ch);
		for (size_t i = 0; i < n; i++)
			q[i].status = DNSCHECK_FAILED;
		return -1;
	}
	static const int qtype[] = {[DNSCHECK_A] = ns_t_a, [DNSCHECK_MX] = ns_t_mx,
				    [DNSCHECK_TXT] = ns_t_txt, [DNSCHECK_PTR] = ns_t_ptr};
	for (size_t i = 0; i < n; i++) {
		char name[HOSTNAME_MAX + 1];
		if (q[i].type == DNSCHECK_PTR) {
			if (ptr_name(q[i].name, name, sizeof name) != 0) {
				q[i].status = DNSCHECK_NONE;
				continue;
			}
		} else {
			snprintf(name, sizeof name, "%s", q[i].name);
		}
		ares_query(ch, name, ns_c_in, qtype[q[i].type], on_answer, &q[i]);
	}

	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		nfds_t np = 0;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = 0;
			/* c-ares's ARES_GETSOCK_WRITABLE shifts a signed 1 by
			 * up to 31: undefined; test the bits unsigned */
			unsigned ub = (unsigned)bits;
			if (ub & (1u << i))
				ev |= POLLIN;
			if (ub & (1u << (i + ARES_GETSOCK_MAXNUM)))
				ev |= POLLOUT;
			if (ev == 0)
				continue;
			pfd[np].fd = socks[i];
			pfd[np].events = ev;
			pfd[np].revents = 0;
			np++;
		}
		if (np == 0)
			break; /* nothing in flight: all answered */
		long left = DNSCHECK_TIMEOUT_MS - ms_since(&t0);
		if (left <= 0)
			break;
		struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
		long wait = tvp ? tvp->tv_sec * 1000 + tvp->tv_usec / 1000 : left;
		if (wait > left)
			wait = left;
		int rc = poll(pfd, np, (int)wait);
		if (rc < 0)
			continue;
		if (rc == 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (nfds_t i = 0; i < np; i++)
			ares_process_fd(ch,
					pfd[i].revents & (POLLIN | POLLERR | POLLHUP)
						? pfd[i].fd
						: ARES_SOCKET_BAD,
					pfd[i].revents & POLLOUT ? pfd[i].fd
								 : ARES_SOCKET_BAD);
	}
	ares_destroy(ch); /* calls back pending queries with ARES_EDESTRUCTION */
	for (size_t i = 0; i < n; i++)
		if (q[i].status == DNSCHECK_PENDING)
			q[i].status = DNSCHECK_FAILED;
	return 0;
}
