/*
 * dns.c - the DNS records page: what each domain needs (MX, SPF, DMARC,
 * autoconfig, and DKIM for the keys `mailroomctl dkim keygen` made, see
 * dkimrec.h) and what the server name needs (A, and the PTR only the
 * ISP can set), each looked up live and shown as right / missing / wrong
 * with the value found next to the value wanted, in words an office admin
 * can forward to their provider.
 *
 * The lookups run with the app lock released (they may take seconds);
 * everything needed from the store is read before, and the session
 * pointer is dropped so nothing shared is touched while unlocked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "dkimrec.h"
#include "dnscheck.h"
#include "web.h"

#define DNS_DOMAINS_MAX 15 /* 6 queries each within DNSCHECK_QUERIES_MAX */
_Static_assert(1 + 6 * DNS_DOMAINS_MAX <= DNSCHECK_QUERIES_MAX,
	       "every domain's queries fit one batch");

enum verdict { V_RIGHT, V_MISSING, V_WRONG, V_UNKNOWN };

/* One DKIM key of a domain: the record it wants, and what DNS has. */
struct dkim_row {
	int state; /* 1 key read, 0 no key, -1 unreadable (dkimrec_wanted) */
	const char *err;
	char name[HOSTNAME_MAX + 1];
	char want[DKIMREC_TXT_MAX];
	struct dnscheck_query *q; /* NULL unless state == 1 */
};

struct dns_domain_q {
	struct dnscheck_query *mx, *spf, *dmarc, *autoconf;
	struct dkim_row dkim[2]; /* RSA, Ed25519 */
};

struct dns_page {
	char hostname[HOSTNAME_MAX + 1];
	char public_ip[64];
	char domains[DNS_DOMAINS_MAX][ADDR_DOMAIN_MAX + 1];
	struct dns_domain_q dq[DNS_DOMAINS_MAX];
	size_t n_domains;
	bool more_domains;
	struct dnscheck_query q[DNSCHECK_QUERIES_MAX];
	size_t nq;
	struct dnscheck_query ptr;
};

static int collect_domain(void *ctx, const struct store_domain *d)
{
	struct dns_page *p = ctx;
	if (p->n_domains == DNS_DOMAINS_MAX) {
		p->more_domains = true;
		return 0;
	}
	snprintf(p->domains[p->n_domains++], ADDR_DOMAIN_MAX + 1, "%s", d->name);
	return 0;
}

static struct dnscheck_query *add_query(struct dns_page *p, enum dnscheck_type t,
					const char *prefix, const char *name)
{
	struct dnscheck_query *q = &p->q[p->nq++];
	memset(q, 0, sizeof *q);
	q->type = t;
	/* name lives in *p too: copy by hand (snprintf's restrict rules) */
	size_t lp = strlen(prefix), ln = strlen(name);
	if (lp + ln >= sizeof q->name)
		ln = sizeof q->name - 1 - lp;
	memcpy(q->name, prefix, lp);
	memmove(q->name + lp, name, ln);
	q->name[lp + ln] = '\0';
	return q;
}

/* Names compare without case and without a trailing dot. */
static bool same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static bool has_value(const struct dnscheck_query *q, const char *v)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->values[i], v) == 0)
			return true;
	return false;
}

static enum verdict basic(const struct dnscheck_query *q)
{
	return q->status == DNSCHECK_FAILED ? V_UNKNOWN
	       : q->status == DNSCHECK_NONE ? V_MISSING
					    : V_RIGHT;
}

static enum verdict check_mx(const struct dnscheck_query *q, const char *host)
{
	if (q->status != DNSCHECK_FOUND)
		return basic(q);
	for (size_t i = 0; i < q->n; i++) {
		const char *sp = strchr(q->values[i], ' ');
		if (sp && same_name(sp + 1, host))
			return V_RIGHT;
	}
	return V_WRONG;
}

static enum verdict check_spf(const struct dnscheck_query *q, const char *host,
			      const struct dnscheck_query *host_a)
{
	if (q->status == DNSCHECK_FAILED)
		return V_UNKNOWN;
	const char *spf = NULL;
	int count = 0;
	for (size_t i = 0; i < q->n; i++)
		if (strncasecmp(q->values[i], "v=spf1", 6) == 0 &&
		    (q->values[i][6] == ' ' || q->values[i][6] == '\0')) {
			spf = q->values[i];
			count++;
		}
	if (count == 0)
		return V_MISSING;
	if (count > 1)
		return V_WRONG; /* two SPF records make SPF fail (RFC 7208 4.5) */
	char want[HOSTNAME_MAX + 8];
	if (strstr(spf, " mx") != NULL)
		return V_RIGHT;
	snprintf(want, sizeof want, " a:%s", host);
	if (strcasestr(spf, want) != NULL)
		return V_RIGHT;
	for (size_t i = 0; i < host_a->n; i++) {
		snprintf(want, sizeof want, "ip4:%s", host_a->values[i]);
		if (strstr(spf, want) != NULL)
			return V_RIGHT;
	}
	return V_WRONG;
}

static enum verdict check_dmarc(const struct dnscheck_query *q)
{
	if (q->status == DNSCHECK_FAILED)
		return V_UNKNOWN;
	for (size_t i = 0; i < q->n; i++)
		if (strncasecmp(q->values[i], "v=DMARC1", 8) == 0)
			return V_RIGHT;
	return q->n ? V_WRONG : V_MISSING;
}

static enum verdict check_same_a(const struct dnscheck_query *q,
				 const struct dnscheck_query *host_a)
{
	if (q->status != DNSCHECK_FOUND)
		return basic(q);
	for (size_t i = 0; i < q->n; i++)
		if (has_value(host_a, q->values[i]))
			return V_RIGHT;
	return V_WRONG;
}

static void found_text(struct html *h, const struct dnscheck_query *q)
{
	if (q->status == DNSCHECK_FAILED) {
		html_raw(h, "<span class=\"muted\">no answer from DNS</span>");
		return;
	}
	if (q->n == 0) {
		html_raw(h, "<span class=\"muted\">nothing</span>");
		return;
	}
	for (size_t i = 0; i < q->n; i++)
		html_fmt(h, "%R<code>%s</code>", i ? "<br>" : "", q->values[i]);
}

static void row(struct html *h, const char *type, const char *name,
		const char *want, const struct dnscheck_query *q, enum verdict v,
		const char *note)
{
	static const char *const label[] = {"right", "missing", "wrong",
					    "could not check"};
	static const char *const cls[] = {"ok", "bad", "bad", "warn"};
	html_fmt(h,
		 "<tr><td>%s</td><td><code>%s</code></td><td><code>%s</code>",
		 type, name, want);
	if (note)
		html_fmt(h, "<span class=\"hint\">%s</span>", note);
	html_raw(h, "</td><td>");
	found_text(h, q);
	html_fmt(h, "</td><td><span class=\"badge %R\">%R</span></td></tr>",
		 cls[v], label[v]);
}

static enum verdict check_dkim(const struct dkim_row *dk)
{
	const struct dnscheck_query *q = dk->q;
	if (q->status != DNSCHECK_FOUND)
		return basic(q);
	for (size_t i = 0; i < q->n; i++)
		if (dkimrec_matches(q->values[i], dk->want))
			return V_RIGHT;
	return V_WRONG;
}

/* The DKIM rows of one domain: a row per key found, compared live; with
 * no key, one row that says how to make it (nothing to look up). An RSA
 * key without an Ed25519 one needs no second row. */
static void dkim_rows(struct html *h, const char *domain,
		      const struct dkim_row dk[2])
{
	for (int k = 0; k < 2; k++) {
		const char *type = k ? "TXT (DKIM Ed25519)" : "TXT (DKIM)";
		if (dk[k].state == 1) {
			row(h, type, dk[k].name, dk[k].want, dk[k].q,
			    check_dkim(&dk[k]),
			    k == 0 ? "The public half of the key this server "
				     "signs outgoing mail with; receivers check "
				     "signatures against it. A DNS host may store "
				     "this long value in pieces of up to 255 "
				     "characters: that is fine."
				   : "The same for the newer Ed25519 signature "
				     "some receivers check too.");
			continue;
		}
		if (dk[k].state == 0 && (k == 1 || dk[1].state != 0))
			continue;
		char note[400];
		if (dk[k].state < 0)
			snprintf(note, sizeof note, "The key for %s cannot be used: "
				 "%s.", domain, dk[k].err);
		else
			snprintf(note, sizeof note, "No signing key for %s yet. Make "
				 "one on the server with: mailroomctl dkim keygen "
				 "%s - then this page shows the record to publish.",
				 domain, domain);
		html_fmt(h, "<tr><td>%s</td><td><code>%s</code></td><td>"
			    "<span class=\"hint\">%s</span></td><td><span "
			    "class=\"muted\">not looked up</span></td><td><span "
			    "class=\"badge warn\">%R</span></td></tr>",
			 type, dk[k].name, note,
			 dk[k].state < 0 ? "key unreadable" : "no key yet");
	}
}

static void table_head(struct html *h)
{
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>Type</th>"
		    "<th>Name</th><th>Wanted value</th><th>Found now</th>"
		    "<th>Status</th></tr></thead><tbody>");
}

void h_dns(struct web_req *r)
{
	struct dns_page *p = calloc(1, sizeof *p);
	if (p == NULL) {
		web_error_page(r, 500, "Out of memory.");
		return;
	}
	struct store *st = r->app->store;
	if (store_setting_get(st, "hostname", p->hostname, sizeof p->hostname) != STORE_OK)
		snprintf(p->hostname, sizeof p->hostname, "%s", r->app->cfg->hostname);
	if (store_setting_get(st, "public_ip", p->public_ip, sizeof p->public_ip) != STORE_OK)
		p->public_ip[0] = '\0';
	int rc = store_domain_list(st, collect_domain, p);
	if (rc != STORE_OK) {
		free(p);
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}

	struct dnscheck_query *host_a = add_query(p, DNSCHECK_A, "", p->hostname);
	const struct config *cfg = r->app->cfg;
	for (size_t i = 0; i < p->n_domains; i++) {
		struct dns_domain_q *d = &p->dq[i];
		d->mx = add_query(p, DNSCHECK_MX, "", p->domains[i]);
		d->spf = add_query(p, DNSCHECK_TXT, "", p->domains[i]);
		d->dmarc = add_query(p, DNSCHECK_TXT, "_dmarc.", p->domains[i]);
		d->autoconf = add_query(p, DNSCHECK_A, "autoconfig.", p->domains[i]);
		for (int k = 0; k < 2; k++) {
			struct dkim_row *dk = &d->dkim[k];
			dk->state = dkimrec_wanted(cfg->data_dir, cfg->dkim_selector,
						   p->domains[i],
						   k ? DKIMREC_ED25519 : DKIMREC_RSA,
						   dk->name, sizeof dk->name,
						   dk->want, &dk->err);
			if (dk->state == 1)
				dk->q = add_query(p, DNSCHECK_TXT, "", dk->name);
		}
	}

	/* the lookups: without the lock, touching only p and the config */
	char err[200] = "";
	const char *servers = r->app->cfg->dns_servers;
	r->session = NULL;
	pthread_mutex_unlock(&r->app->lock);
	dnscheck_run(p->q, p->nq, servers, err, sizeof err);
	char ipbuf[DNSCHECK_VALUE_MAX];
	const char *ip = NULL;
	if (p->public_ip[0] || host_a->n) {
		snprintf(ipbuf, sizeof ipbuf, "%s",
			 p->public_ip[0] ? p->public_ip : host_a->values[0]);
		ip = ipbuf;
	}
	p->ptr.type = DNSCHECK_PTR;
	size_t iplen = ip ? strnlen(ip, sizeof p->ptr.name - 1) : 0;
	memcpy(p->ptr.name, ip ? ip : "", iplen);
	p->ptr.name[iplen] = '\0';
	if (ip)
		dnscheck_run(&p->ptr, 1, servers, err, sizeof err);
	pthread_mutex_lock(&r->app->lock);

	struct html *h = &r->out;
	page_begin(r, "DNS records");
	page_hostname_notice(r, p->hostname);
	if (web_query(r, "welcome"))
		html_raw(h, "<p class=\"flash ok\">Your mail server is set up. Now "
			    "ask whoever runs the DNS of your domain (often the "
			    "company you bought the domain from) to create the "
			    "records below. This page checks them live: come back "
			    "any time.</p>");
	else
		html_raw(h, "<p class=\"hint\">Ask whoever runs the DNS of your "
			    "domain (often the company you bought it from) to "
			    "create these records. They are looked up live each "
			    "time this page opens.</p>");
	if (err[0])
		html_fmt(h, "<p class=\"flash error\">%s</p>", err);

	html_fmt(h, "<section><h2>This server: %s</h2>", p->hostname);
	table_head(h);
	enum verdict va = basic(host_a);
	if (p->public_ip[0] && host_a->status == DNSCHECK_FOUND)
		va = has_value(host_a, p->public_ip) ? V_RIGHT : V_WRONG;
	row(h, "A", p->hostname,
	    p->public_ip[0] ? p->public_ip : "this server's public IPv4 address",
	    host_a, va, NULL);
	enum verdict vp = V_MISSING;
	if (ip == NULL)
		p->ptr.status = DNSCHECK_NONE;
	else if (p->ptr.status == DNSCHECK_FOUND)
		vp = V_WRONG;
	else
		vp = basic(&p->ptr);
	for (size_t i = 0; i < p->ptr.n; i++)
		if (same_name(p->ptr.values[i], p->hostname))
			vp = V_RIGHT;
	char ptrname[DNSCHECK_VALUE_MAX + 32];
	snprintf(ptrname, sizeof ptrname, "%s", ip ? ip : "(the server's address)");
	row(h, "PTR", ptrname, p->hostname, &p->ptr, vp,
	    "Set by your internet provider, not your DNS host: ask them for "
	    "\"reverse DNS\". Without it many servers refuse your mail.");
	html_raw(h, "</tbody></table></div></section>");

	for (size_t i = 0; i < p->n_domains; i++) {
		const char *d = p->domains[i];
		struct dnscheck_query *mx = p->dq[i].mx;
		char want[HOSTNAME_MAX + 64], name[HOSTNAME_MAX + 16];
		html_fmt(h, "<section><h2>%s</h2>", d);
		table_head(h);
		snprintf(want, sizeof want, "10 %s", p->hostname);
		row(h, "MX", d, want, mx, check_mx(mx, p->hostname),
		    "Tells the world to deliver mail for this domain here.");
		row(h, "TXT (SPF)", d, "v=spf1 mx -all", p->dq[i].spf,
		    check_spf(p->dq[i].spf, p->hostname, host_a),
		    "Says which servers may send this domain's mail.");
		snprintf(name, sizeof name, "_dmarc.%s", d);
		snprintf(want, sizeof want, "v=DMARC1; p=quarantine; rua=mailto:postmaster@%s", d);
		row(h, "TXT (DMARC)", name, want, p->dq[i].dmarc,
		    check_dmarc(p->dq[i].dmarc),
		    "Tells receivers what to do with mail that fails SPF.");
		snprintf(name, sizeof name, "autoconfig.%s", d);
		snprintf(want, sizeof want, "CNAME %s", p->hostname);
		row(h, "CNAME", name, want, p->dq[i].autoconf,
		    check_same_a(p->dq[i].autoconf, host_a),
		    "Lets Thunderbird and other mail programs set themselves up.");
		dkim_rows(h, d, p->dq[i].dkim);
		html_raw(h, "</tbody></table></div></section>");
	}
	if (p->more_domains)
		html_fmt(h, "<p class=\"muted\">Only the first %d domains are "
			    "checked here.</p>", DNS_DOMAINS_MAX);
	page_end(r);
	free(p);
}
