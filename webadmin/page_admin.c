/*
 * page_admin.c - the dashboard, domains, the outbound queue and the audit
 * log: the admin's view of the whole box.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "web.h"

#define CERT_WARN_DAYS 21
#define AUDIT_PAGE 200

#define CERT_RECHECK_SECONDS 600

/* Read the certificate's expiry into the app's cache (at most every
 * CERT_RECHECK_SECONDS: parsing it on every dashboard view costs more than
 * the rest of the page). */
void web_cert_refresh(struct web_app *app, int64_t now)
{
	if (app->cert_checked != 0 && now - app->cert_checked < CERT_RECHECK_SECONDS)
		return;
	app->cert_checked = now;
	app->cert_not_after = 0;
	app->cert_self_signed = false;
	FILE *f = fopen(app->cfg->tls_cert, "r");
	if (f == NULL)
		return;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return;
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
		app->cert_not_after = now + (int64_t)days * 86400 + secs;
	app->cert_self_signed = X509_NAME_cmp(X509_get_subject_name(x),
					      X509_get_issuer_name(x)) == 0;
	X509_free(x);
}

/* Days until the certificate expires; -1000000 if unreadable. */
static int cert_days_left(struct web_app *app, int64_t now, bool *self_signed_r)
{
	web_cert_refresh(app, now);
	*self_signed_r = app->cert_self_signed;
	if (app->cert_not_after == 0)
		return -1000000;
	int64_t left = app->cert_not_after - now;
	return (int)(left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
}

static int dashboard_stats(struct web_app *app, const char *domain,
			   int64_t since, int64_t now, struct store_stats *out)
{
	const char *key = domain ? domain : "";
	if (app->stats_cache.valid && app->stats_cache.at == now &&
	    app->stats_cache.since == since &&
	    strcmp(app->stats_cache.domain, key) == 0) {
		*out = app->stats_cache.s;
		return STORE_OK;
	}
	int rc = store_stats_get(app->store, domain, since, out);
	if (rc == STORE_OK) {
		app->stats_cache.valid = true;
		app->stats_cache.at = now;
		app->stats_cache.since = since;
		snprintf(app->stats_cache.domain, sizeof app->stats_cache.domain,
			 "%s", key);
		app->stats_cache.s = *out;
	}
	return rc;
}

static void stat_card(struct html *h, const char *value, const char *label)
{
	html_fmt(h, "<div class=\"stat\"><b>%s</b><span>%s</span></div>", value,
		 label);
}

void h_home(struct web_req *r)
{
	if (r->user.role == STORE_ROLE_USER) {
		web_redirect(r, "/me");
		return;
	}
	bool admin = r->user.role == STORE_ROLE_ADMIN;
	struct store_stats s;
	time_t now = (time_t)r->now;
	struct tm tm;
	gmtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	int64_t midnight = (int64_t)timegm(&tm);
	int rc = STORE_OK;
	if (admin) {
		rc = dashboard_stats(r->app, NULL, midnight, r->now, &s);
	} else { /* a domain admin: the sum over their domains */
		memset(&s, 0, sizeof s);
		for (size_t i = 0; rc == STORE_OK && i < r->user.n_domains; i++) {
			struct store_stats d;
			rc = store_stats_get(r->app->store, r->user.domains[i],
					     midnight, &d);
			s.domains += d.domains;
			s.accounts += d.accounts;
			s.disabled_accounts += d.disabled_accounts;
			s.aliases += d.aliases;
			s.used_bytes += d.used_bytes;
			s.messages += d.messages;
			s.messages_today += d.messages_today;
			s.near_quota += d.near_quota;
		}
	}
	if (rc != STORE_OK) {
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	struct html *h = &r->out;
	char v[64];
	page_begin(r, "Dashboard");
	if (!admin) {
		html_raw(h, "<p class=\"hint\">Your domains:");
		for (size_t i = 0; i < r->user.n_domains; i++)
			html_fmt(h, "%R %s", i ? "," : "", r->user.domains[i]);
		html_raw(h, "</p>");
	}
	html_raw(h, "<div class=\"stats\">");
	snprintf(v, sizeof v, "%lld", (long long)s.accounts);
	stat_card(h, v, "accounts");
	html_size(v, sizeof v, s.used_bytes);
	stat_card(h, v, "storage used");
	snprintf(v, sizeof v, "%lld", (long long)s.messages_today);
	stat_card(h, v, "messages today");
	if (admin) {
		snprintf(v, sizeof v, "%lld", (long long)s.queue);
		stat_card(h, v, "waiting to be sent");
		snprintf(v, sizeof v, "%lld", (long long)s.domains);
		stat_card(h, v, "domains");
	}
	snprintf(v, sizeof v, "%lld", (long long)s.aliases);
	stat_card(h, v, "alias targets");
	html_raw(h, "</div>");

	html_raw(h, "<section><h2>Things to look at</h2><ul>");
	int warnings = 0;
	if (s.near_quota > 0) {
		html_fmt(h, "<li><span class=\"badge warn\">quota</span> %D "
			    "mailbox%R at %d%% of their quota or more: "
			    "<a href=\"/accounts\">see accounts</a></li>",
			 s.near_quota, s.near_quota == 1 ? " is" : "es are",
			 STORE_NEAR_QUOTA_PERCENT);
		warnings++;
	}
	if (s.disabled_accounts > 0) {
		html_fmt(h, "<li><span class=\"badge\">disabled</span> %D "
			    "account%R disabled.</li>",
			 s.disabled_accounts, s.disabled_accounts == 1 ? " is" : "s are");
		warnings++;
	}
	if (admin) {
		bool self_signed;
		int days = cert_days_left(r->app, r->now, &self_signed);
		if (days == -1000000) {
			html_raw(h, "<li><span class=\"badge bad\">certificate</span> "
				    "The TLS certificate cannot be read.</li>");
			warnings++;
		} else if (days < CERT_WARN_DAYS) {
			html_fmt(h, "<li><span class=\"badge bad\">certificate</span> "
				    "The TLS certificate %R in %d day%R.</li>",
				 days < 0 ? "expired" : "expires", days < 0 ? -days : days,
				 days == 1 || days == -1 ? "" : "s");
			warnings++;
		}
		if (days != -1000000 && self_signed) {
			html_raw(h, "<li><span class=\"badge warn\">certificate</span> "
				    "The certificate is self-signed: mail programs "
				    "and browsers will ask staff to accept it.</li>");
			warnings++;
		}
		if (s.queue > 0) {
			html_fmt(h, "<li><span class=\"badge warn\">queue</span> %D "
				    "message%R waiting to be sent: "
				    "<a href=\"/queue\">see the queue</a></li>",
				 s.queue, s.queue == 1 ? " is" : "s are");
			warnings++;
		}
	}
	if (warnings == 0)
		html_raw(h, "<li><span class=\"badge ok\">ok</span> Nothing needs "
			    "your attention.</li>");
	html_raw(h, "</ul></section>");
	html_raw(h, "<section><h2>Next steps</h2><p>");
	html_raw(h, "<a href=\"/accounts\">Create an account for each "
		    "employee</a>");
	if (admin)
		html_raw(h, " &middot; <a href=\"/dns\">Check your DNS records</a>");
	html_raw(h, "</p></section>");
	page_end(r);
}

/* ---- domains --------------------------------------------------------------- */

static int domain_row(void *ctx, const struct store_domain *d)
{
	struct web_req *r = ctx;
	char when[40];
	html_time(when, sizeof when, d->created);
	html_fmt(&r->out,
		 "<tr><td>%s</td><td><a href=\"/accounts?domain=%u\">%D</a></td>"
		 "<td class=\"opt\">%s</td><td><form method=\"post\" "
		 "action=\"/domains/delete\">",
		 d->name, d->name, d->accounts, when);
	page_csrf(r);
	html_fmt(&r->out,
		 "<input type=\"hidden\" name=\"domain\" value=\"%s\">", d->name);
	if (d->accounts > 0)
		html_fmt(&r->out,
			 "<label><input type=\"checkbox\" name=\"force\" value=\"1\" "
			 "required> also delete its %D account%R and their mail"
			 "</label> ",
			 d->accounts, d->accounts == 1 ? "" : "s");
	html_raw(&r->out, "<button class=\"danger\" type=\"submit\">Delete"
			  "</button></form></td></tr>");
	return 0;
}

void h_domains(struct web_req *r)
{
	struct html *h = &r->out;
	page_begin(r, "Domains");
	html_raw(h, "<section><h2>Add a domain</h2>"
		    "<form class=\"inline\" method=\"post\" action=\"/domains/add\">");
	page_csrf(r);
	html_raw(h, "<div><label for=\"domain\">Domain name</label>"
		    "<input id=\"domain\" name=\"domain\" required "
		    "placeholder=\"example.com\"></div>"
		    "<button type=\"submit\">Add domain</button></form></section>");
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>Domain</th>"
		    "<th>Accounts</th><th class=\"opt\">Added</th><th></th></tr>"
		    "</thead><tbody>");
	int rc = store_domain_list(r->app->store, domain_row, r);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	page_end(r);
}

void h_domain_add(struct web_req *r)
{
	const char *in = web_field(r, "domain");
	char d[ADDR_DOMAIN_MAX + 1], msg[400];
	const char *why;
	if (in == NULL || addr_domain_normalise(in, strlen(in), d, &why) != 0) {
		web_redirect_msg(r, "/domains", "error",
				 "That is not a domain name (like example.com).");
		return;
	}
	int rc = store_domain_add(r->app->store, d);
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not add %s: %s", d,
			 web_store_error(r->app, rc));
		web_redirect_msg(r, "/domains", "error", msg);
		return;
	}
	web_audit(r, "domain-add", "%s", d);
	snprintf(msg, sizeof msg, "Domain %s added.", d);
	web_redirect_msg(r, "/domains", "ok", msg);
}

void h_domain_del(struct web_req *r)
{
	const char *d = web_field(r, "domain");
	const char *force = web_field(r, "force");
	char msg[400];
	if (d == NULL) {
		web_redirect_msg(r, "/domains", "error", "No domain named.");
		return;
	}
	int rc = store_domain_del(r->app->store, d, force != NULL);
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not delete %s: %s", d,
			 web_store_error(r->app, rc));
		web_redirect_msg(r, "/domains", "error", msg);
		return;
	}
	web_audit(r, "domain-del", "%s%s", d, force ? " force" : "");
	snprintf(msg, sizeof msg, "Domain %s deleted.", d);
	web_redirect_msg(r, "/domains", "ok", msg);
}

/* ---- queue ----------------------------------------------------------------- */

static int queue_row(void *ctx, const struct store_queue_item *q)
{
	struct web_req *r = ctx;
	char next[40], size[32], id[24];
	html_time(next, sizeof next, q->next_attempt);
	html_size(size, sizeof size, q->size);
	snprintf(id, sizeof id, "%lld", (long long)q->id);
	html_fmt(&r->out,
		 "<tr><td>%D</td><td class=\"mono\">%s</td><td class=\"mono\">%s</td>"
		 "<td class=\"opt\">%s</td><td>%d</td><td class=\"opt\">%s</td>"
		 "<td class=\"opt\">%s</td><td>",
		 q->id, q->sender[0] ? q->sender : "<>", q->recipient, size,
		 q->attempts, next, q->last_error);
	const char *const actions[2][2] = {{"/queue/retry", "Retry now"},
					   {"/queue/delete", "Delete"}};
	for (int i = 0; i < 2; i++) {
		html_fmt(&r->out, "<form method=\"post\" action=\"%R\">",
			 actions[i][0]);
		page_csrf(r);
		html_fmt(&r->out,
			 "<input type=\"hidden\" name=\"id\" value=\"%s\">"
			 "<button class=\"%R\" type=\"submit\">%R</button></form> ",
			 id, i ? "danger" : "secondary", actions[i][1]);
	}
	html_raw(&r->out, "</td></tr>");
	return 0;
}

void h_queue(struct web_req *r)
{
	struct html *h = &r->out;
	page_begin(r, "Outbound queue");
	html_raw(h, "<p class=\"hint\">Messages to other mail servers that "
		    "could not be delivered yet. Mailroom keeps trying; "
		    "\"Retry now\" tries at once.</p>");
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>Id</th>"
		    "<th>From</th><th>To</th><th class=\"opt\">Size</th>"
		    "<th>Tries</th><th class=\"opt\">Next try</th>"
		    "<th class=\"opt\">Last error</th><th></th></tr></thead><tbody>");
	int rc = store_queue_list(r->app->store, queue_row, r);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	if (store_queue_length(r->app->store) == 0)
		html_raw(h, "<p class=\"muted\">The queue is empty.</p>");
	page_end(r);
}

static bool field_id(struct web_req *r, int64_t *id_r)
{
	const char *s = web_field(r, "id");
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || v <= 0)
		return false;
	*id_r = v;
	return true;
}

void h_queue_retry(struct web_req *r)
{
	int64_t id;
	if (!field_id(r, &id)) {
		web_redirect_msg(r, "/queue", "error", "No message named.");
		return;
	}
	int rc = store_queue_retry_now(r->app->store, id);
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/queue", "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "queue-retry", "id=%lld", (long long)id);
	web_redirect_msg(r, "/queue", "ok", "The message will be tried again now.");
}

void h_queue_del(struct web_req *r)
{
	int64_t id;
	if (!field_id(r, &id)) {
		web_redirect_msg(r, "/queue", "error", "No message named.");
		return;
	}
	int rc = store_queue_del(r->app->store, id);
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/queue", "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "queue-del", "id=%lld", (long long)id);
	web_redirect_msg(r, "/queue", "ok", "The message was deleted.");
}

/* ---- audit log ------------------------------------------------------------- */

static int audit_row(void *ctx, const struct store_audit_entry *e)
{
	struct web_req *r = ctx;
	char when[40];
	html_time(when, sizeof when, e->ts);
	html_fmt(&r->out,
		 "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"mono\">%s</td></tr>",
		 when, e->actor, e->action, e->detail);
	return 0;
}

void h_audit(struct web_req *r)
{
	struct html *h = &r->out;
	page_begin(r, "Audit log");
	html_fmt(h, "<p class=\"hint\">The last %d changes, newest first.</p>",
		 AUDIT_PAGE);
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>When</th>"
		    "<th>Who</th><th>What</th><th>Details</th></tr></thead><tbody>");
	int rc = store_audit_list(r->app->store, AUDIT_PAGE, audit_row, r);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	page_end(r);
}
