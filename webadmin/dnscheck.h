/*
 * dnscheck.h - live DNS lookups for the DNS records page (c-ares).
 *
 * A batch of queries runs in parallel on one c-ares channel, pointed at
 * [smtp] dns_servers when set (tests: a loopback dnsmasq), else at the
 * system resolver. The whole batch has a deadline (DNSCHECK_TIMEOUT_MS);
 * a query still open then is reported as timed out. No state outlives
 * dnscheck_run().
 */
#ifndef MAILROOM_WEB_DNSCHECK_H
#define MAILROOM_WEB_DNSCHECK_H

#include <stddef.h>

#include "../common/limits.h"

#define DNSCHECK_QUERIES_MAX 96
#define DNSCHECK_VALUES_MAX 8
#define DNSCHECK_VALUE_MAX 512
#define DNSCHECK_TIMEOUT_MS 3000

enum dnscheck_type {
	DNSCHECK_A,
	DNSCHECK_MX,  /* values: "PREF EXCHANGE" */
	DNSCHECK_TXT, /* values: the strings of one record joined */
	DNSCHECK_PTR, /* name is an IPv4 address; values: host names */
};

enum dnscheck_status {
	DNSCHECK_PENDING = 0,
	DNSCHECK_FOUND,
	DNSCHECK_NONE,    /* NXDOMAIN or no record of that type */
	DNSCHECK_FAILED,  /* SERVFAIL, refused, timeout */
};

struct dnscheck_query {
	enum dnscheck_type type;
	char name[HOSTNAME_MAX + 1];
	enum dnscheck_status status;
	size_t n;
	char values[DNSCHECK_VALUES_MAX][DNSCHECK_VALUE_MAX];
};

/* Run queries q[0..n) to completion or the deadline. servers is
 * "ADDR:PORT,..." or "" for the system resolver. 0, or -1 with err set
 * when c-ares cannot start (then every query is DNSCHECK_FAILED). */
int dnscheck_run(struct dnscheck_query *q, size_t n, const char *servers,
		 char *err, size_t errlen);

#endif
