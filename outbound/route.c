/*
 * route.c - where a job's mail goes: the smarthost, or the destination's
 * MX hosts by preference (RFC 5321 5.1), each host's addresses in turn.
 *
 * A connection that fails before the server has answered every message
 * (refused, timed out, 421, a broken reply, TLS trouble) moves on to the
 * next address, then the next MX host, carrying only the recipients that
 * have no answer yet. When every address is used up, those recipients are
 * deferred with the last error. An MX whose TLS handshake fails is tried
 * once more in plain text (opportunistic TLS must not make mail
 * undeliverable); the smarthost never is.
 *
 * No MX records: the domain's own A/AAAA (implicit MX). A null MX
 * (RFC 7505) or a domain that does not exist fails at once.
 */
#include <ares.h>
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "outbound_int.h"

void ob_rcpt_set(struct ob_rcpt *r, enum ob_rcpt_state st, const char *status,
		 const char *reply, const char *mta)
{
	r->state = st;
	snprintf(r->status, sizeof r->status, "%s", status);
	snprintf(r->reply, sizeof r->reply, "%s", reply);
	snprintf(r->mta, sizeof r->mta, "%s", mta ? mta : "");
}

int ob_smarthost_split(const char *spec, char *host, size_t hostlen,
		       int *port_r)
{
	const char *colon = strrchr(spec, ':');
	if (colon == NULL)
		return -1;
	const char *h = spec;
	size_t hl = (size_t)(colon - spec);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (hl == 0 || hl >= hostlen || *end || port < 1 || port > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port_r = (int)port;
	return 0;
}

/* Every recipient still without an answer gets the same outcome. */
static void settle_pending(struct ob_job *j, enum ob_rcpt_state st,
			   const char *status, const char *why)
{
	for (size_t m = 0; m < j->n_msgs; m++)
		for (size_t i = 0; i < j->msgs[m].n_rcpts; i++) {
			struct ob_rcpt *r = &j->msgs[m].rcpts[i];
			if (r->state == OB_RCPT_PENDING)
				ob_rcpt_set(r, st, status, why, NULL);
		}
}

static bool any_pending(const struct ob_job *j)
{
	for (size_t m = 0; m < j->n_msgs; m++)
		for (size_t i = 0; i < j->msgs[m].n_rcpts; i++)
			if (j->msgs[m].rcpts[i].state == OB_RCPT_PENDING)
				return true;
	return false;
}

static int job_port(const struct ob_job *j)
{
	const struct config *cfg = ob_runner_cfg(j->runner);
	if (j->smarthost) {
		char host[HOSTNAME_MAX + 1];
		int port = 25;
		if (ob_smarthost_split(j->sh.host, host, sizeof host, &port) < 0)
			return 25;
		return port;
	}
	return cfg->relay_port;
}

static void next_host(struct ob_job *j);

static void next_addr(struct ob_job *j)
{
	if (j->addr_idx >= j->addrs.n) {
		next_host(j);
		return;
	}
	ob_client_connect(j, &j->addrs.a[j->addr_idx++]);
}

static void addr_done(void *arg, int status, const struct ob_addr_list *list)
{
	struct ob_job *j = arg;
	if (status == ARES_EDESTRUCTION)
		return;
	if (status != ARES_SUCCESS) {
		snprintf(j->last_error, sizeof j->last_error,
			 "cannot find the address of %s: %s", j->host,
			 ares_strerror(status));
		log_info("job=%llu event=host-unresolved host=%s reason=\"%s\"",
			 (unsigned long long)j->id, j->host, ares_strerror(status));
		next_host(j);
		return;
	}
	j->addrs = *list;
	j->addr_idx = 0;
	next_addr(j);
}

static void next_host(struct ob_job *j)
{
	if (j->mx_idx >= j->mx.n) {
		if (j->last_error[0] == '\0')
			snprintf(j->last_error, sizeof j->last_error,
				 "no host to deliver to");
		settle_pending(j, j->last_error_permanent ? OB_RCPT_FAIL
							  : OB_RCPT_DEFER,
			       j->last_error_permanent ? "5.4.4" : "4.4.1",
			       j->last_error);
		ob_job_finish(j);
		return;
	}
	snprintf(j->host, sizeof j->host, "%s", j->mx.hosts[j->mx_idx++].name);
	j->addrs.n = 0;
	j->addr_idx = 0;
	ob_dns_addrs(ob_runner_dns(j->runner), j->host, job_port(j), addr_done, j);
}

static void mx_done(void *arg, int status, enum ob_mx_status mxst,
		    const struct ob_mx_list *list)
{
	struct ob_job *j = arg;
	if (status == ARES_EDESTRUCTION)
		return;
	char why[OB_REPLY_TEXT_MAX];
	if (status != ARES_SUCCESS) {
		bool perm = ob_dns_status_permanent(status);
		snprintf(why, sizeof why, "%s: %s", j->dest,
			 perm ? "domain does not exist (no such name in DNS)"
			      : ares_strerror(status));
		log_info("job=%llu event=mx-lookup-failed domain=%s reason=\"%s\"",
			 (unsigned long long)j->id, j->dest, ares_strerror(status));
		settle_pending(j, perm ? OB_RCPT_FAIL : OB_RCPT_DEFER,
			       perm ? "5.1.2" : "4.4.3", why);
		ob_job_finish(j);
		return;
	}
	switch (mxst) {
	case OB_MX_NULL:
		snprintf(why, sizeof why,
			 "%s does not accept mail (null MX, RFC 7505)", j->dest);
		log_info("job=%llu event=null-mx domain=%s",
			 (unsigned long long)j->id, j->dest);
		settle_pending(j, OB_RCPT_FAIL, "5.1.10", why);
		ob_job_finish(j);
		return;
	case OB_MX_BAD:
		snprintf(why, sizeof why, "%s: unusable MX records", j->dest);
		settle_pending(j, OB_RCPT_DEFER, "4.4.3", why);
		ob_job_finish(j);
		return;
	case OB_MX_NONE:
		memset(&j->mx, 0, sizeof j->mx);
		snprintf(j->mx.hosts[0].name, sizeof j->mx.hosts[0].name, "%s",
			 j->dest);
		j->mx.n = 1;
		log_debug("job=%llu event=implicit-mx domain=%s",
			  (unsigned long long)j->id, j->dest);
		break;
	case OB_MX_OK:
		j->mx = *list;
		break;
	}
	j->mx_idx = 0;
	next_host(j);
}

void ob_job_start(struct ob_job *j)
{
	if (j->smarthost) {
		int port;
		memset(&j->mx, 0, sizeof j->mx);
		if (ob_smarthost_split(j->sh.host, j->mx.hosts[0].name,
				       sizeof j->mx.hosts[0].name, &port) < 0) {
			settle_pending(j, OB_RCPT_DEFER, "4.3.5",
				       "smarthost setting is not host:port");
			ob_job_finish(j);
			return;
		}
		j->mx.n = 1;
		j->mx_idx = 0;
		next_host(j);
		return;
	}
	for (const char *p = j->dest; *p; p++)
		if ((unsigned char)*p >= 0x80) {
			/* runner.c found no A-label form for it. */
			char why[OB_REPLY_TEXT_MAX];
			snprintf(why, sizeof why,
				 "%s is not a valid internationalized domain name",
				 j->dest);
			settle_pending(j, OB_RCPT_FAIL, "5.1.2", why);
			ob_job_finish(j);
			return;
		}
	ob_dns_mx(ob_runner_dns(j->runner), j->dest, mx_done, j);
}

void ob_route_conn_done(struct ob_job *j, bool ok, bool tls_failed,
			const char *why)
{
	ob_client_close(j);
	if (!any_pending(j)) {
		ob_job_finish(j);
		return;
	}
	if (ok) {
		/* The server spoke but left recipients unanswered (it should
		 * not happen): try them again later. */
		settle_pending(j, OB_RCPT_DEFER, "4.4.2",
			       why && why[0] ? why : "connection ended early");
		ob_job_finish(j);
		return;
	}
	snprintf(j->last_error, sizeof j->last_error, "%s", why ? why : "");
	if (j->msgs_this_conn > 0 && !tls_failed) {
		/* The host took mail on this connection, then closed it (some
		 * take one message per connection): go on with the same one.
		 * Each reconnection delivers or ends, so this ends. */
		j->addr_idx--;
		log_debug("job=%llu event=reconnect host=%s",
			  (unsigned long long)j->id, j->host);
	} else if (tls_failed && !j->smarthost && !j->plain_retry) {
		j->plain_retry = true;
		j->addr_idx--;
		log_info("job=%llu event=tls-fallback host=%s",
			 (unsigned long long)j->id, j->host);
	} else {
		j->plain_retry = false;
	}
	next_addr(j);
}
