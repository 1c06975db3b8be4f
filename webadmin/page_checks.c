/*
 * page_checks.c - the "Mail checks" page: the admin's settings of the
 * inbound trust checks (trust/settings.c reads them, mailroom-smtpd
 * re-reads them every minute and on SIGHUP): SPF, DKIM and DMARC on or
 * off, refusing forged mail from our own domains, DNS blocklists,
 * greylisting per domain and its delay, the spam score threshold and the
 * subject tag for spam, and an optional SpamAssassin daemon (spamd, or
 * rspamd through its spamd protocol) whose score joins ours (trust/spamd.c).
 *
 * Every value is checked here with words for the admin (errors next to
 * their field), written as the trust.* settings, then read back through
 * trust_settings_load() - the same parser smtpd uses - so the page never
 * saves something smtpd would quietly replace with a default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/addr.h"
#include "../store/trace.h"
#include "../trust/trust.h"
#include "web.h"

/* What the form holds: typed text and the four switches. */
struct checks_form {
	bool spf, dkim, dmarc, forged;
	const char *dnsbl, *grey, *delay, *threshold, *tag;
	const char *spamd, *spamd_timeout; /* NULL in a POST: left as they are */
	const char *field; /* the refused one, or NULL */
	const char *error;
};

/* The refused field's marks (form_error.c). */
static void field_error(struct html *h, const struct checks_form *f,
			const char *field)
{
	form_field_error(h, f->field, f->error, field);
}

static const char *invalid(const struct checks_form *f, const char *field)
{
	return form_invalid(f->field, f->error, field);
}

static void checkbox(struct html *h, const char *name, bool on,
		     const char *label, const char *hint)
{
	html_fmt(h, "<div><label for=\"%R\"><input type=\"checkbox\" "
		    "id=\"%R\" name=\"%R\" value=\"yes\"%R> %R<small>%R</small>"
		    "</label></div>",
		 name, name, name, on ? " checked" : "", label, hint);
}

static void text_field(struct html *h, const struct checks_form *f,
		       const char *name, const char *label, const char *hint,
		       const char *value, const char *extra)
{
	html_fmt(h, "<div><label for=\"%R\">%R<small>%R</small></label>"
		    "<input id=\"%R\" name=\"%R\" aria-describedby=\"%R-err\" "
		    "value=\"%s\"%R%R>",
		 name, label, hint, name, name, name, value, extra,
		 invalid(f, name));
	field_error(h, f, name);
	html_raw(h, "</div>");
}

/* How the spam filter daemon answered the last message smtpd asked it
 * about (the message trace), so an admin sees a wrong address or a
 * stopped daemon here rather than in the log. */
static void spamd_status(struct web_req *r)
{
	struct html *h = &r->out;
	int64_t at = 0;
	char said[48], when[40];
	int rc = store_trace_last_spamd(r->app->store, &at, said, sizeof said);
	if (rc == STORE_NOTFOUND) {
		html_raw(h, "<p class=\"hint\" id=\"spamd-status\">No message from the "
			    "internet has been sent to it yet.</p>");
		return;
	}
	if (rc != STORE_OK)
		return;
	html_time(when, sizeof when, at);
	char *slash = strchr(said, '/');
	if (slash == NULL) {
		html_fmt(h, "<p class=\"hint error\" id=\"spamd-status\">Last message "
			    "(%s): it did not answer, so the message was judged by "
			    "our own checks. The mail server's log says why "
			    "(event=spamd-unavailable).</p>", when);
		return;
	}
	*slash = '\0';
	html_fmt(h, "<p class=\"hint\" id=\"spamd-status\">Last message (%s): it "
		    "answered with score %s (its own spam threshold %s).</p>",
		 when, said, slash + 1);
}

static void checks_page(struct web_req *r, const struct checks_form *f)
{
	struct html *h = &r->out;
	page_begin(r, "Mail checks");
	html_raw(h, "<p class=\"hint\">How this server checks mail arriving from "
		    "the internet. Changes reach the mail server within a "
		    "minute. Mail your own staff send (logged in) is never "
		    "checked or delayed.</p><form class=\"stack\" method=\"post\" "
		    "action=\"/checks\">");
	page_csrf(r);
	html_raw(h, "<section><h2>Who really sent it</h2>");
	checkbox(h, "spf", f->spf, "Check SPF",
		 "Is the sending server allowed to send for the sender's domain?");
	checkbox(h, "dkim", f->dkim, "Check DKIM signatures",
		 "Was the message signed by the domain it claims, and not changed?");
	checkbox(h, "dmarc", f->dmarc, "Apply DMARC",
		 "Refuse or mark mail the sender's domain says to refuse when "
		 "SPF and DKIM fail.");
	checkbox(h, "reject_forged_own_domain", f->forged,
		 "Refuse forged mail from our own domains",
		 "Mail from outside that claims to come from one of this "
		 "server's domains and fails the checks is refused.");
	html_raw(h, "</section><section><h2>Blocklists and greylisting</h2>");
	text_field(h, f, "dnsbl_zones", "DNS blocklists",
		   "Lists of known spam senders, e.g. zen.spamhaus.org, "
		   "separated by commas. A listed server is refused when it "
		   "connects. Empty: no lists.",
		   f->dnsbl, " placeholder=\"zen.spamhaus.org\"");
	text_field(h, f, "greylist_domains", "Greylisting for these domains",
		   "Mail from an unknown sender is asked to come back a few "
		   "minutes later; real mail servers do, most spam programs do "
		   "not. Our domains separated by commas, * for all, empty: off.",
		   f->grey, "");
	text_field(h, f, "greylist_delay", "Greylisting delay in seconds",
		   "How long an unknown sender must wait (1 to 86400; usually "
		   "300).",
		   f->delay, " inputmode=\"numeric\"");
	html_raw(h, "</section><section><h2>Spam</h2>");
	text_field(h, f, "spam_threshold", "Spam score threshold",
		   "Mail scoring this many points or more counts as spam "
		   "(0 to 1000, one decimal, e.g. 5 or 5.5).",
		   f->threshold, " inputmode=\"decimal\"");
	text_field(h, f, "spam_subject_tag", "Subject tag for spam",
		   "Put in front of the subject of spam, e.g. [SPAM]. Empty: "
		   "the subject is left alone (the X-Spam headers are always "
		   "added).",
		   f->tag, " maxlength=\"63\"");
	html_raw(h, "<p class=\"hint\" id=\"spam-rule-hint\">To discard, forward or "
		    "redirect spam instead, add a server-wide rule on the <a "
		    "href=\"/rules?account=server\">Rules</a> page with the "
		    "condition \"Marked as spam by the mail checks\". Spam flags "
		    "that senders put in their own messages are removed on the "
		    "way in, so only these checks decide.</p>"
		    "<p class=\"hint\" id=\"auth-rule-hint\">The SPF, DKIM and "
		    "DMARC results are rule conditions too (\"SPF result\", "
		    "\"DKIM result\", \"DMARC result\" is pass, fail, none, "
		    "...): they read the results these checks wrote into the "
		    "message, not what other servers wrote.</p>");
	html_raw(h, "</section><section><h2>SpamAssassin or rspamd</h2>");
	text_field(h, f, "spamd", "Spam filter daemon (spamd or rspamd)",
		   "Address and port of a SpamAssassin spamd (usually "
		   "127.0.0.1:783) or an rspamd scanner (usually 127.0.0.1:11333: "
		   "it answers spamd's protocol) this server may ask about each "
		   "message from the internet. Its score then "
		   "counts instead of ours (ours still marks spam when it reaches "
		   "the threshold). Mail is never refused or lost when it is "
		   "down or slow. Empty: not used.",
		   f->spamd ? f->spamd : "", " placeholder=\"127.0.0.1:783\"");
	text_field(h, f, "spamd_timeout", "spamd timeout in seconds",
		   "How long a message may wait for spamd's answer (1 to 300; "
		   "usually 10). After that it is judged by our own checks.",
		   f->spamd_timeout ? f->spamd_timeout : "10",
		   " inputmode=\"numeric\"");
	if (f->spamd != NULL && f->spamd[0] != '\0')
		spamd_status(r);
	html_raw(h, "</section><div><button type=\"submit\">Save mail checks"
		    "</button></div></form>");
	page_end(r);
}

/* The current settings as the form shows them; bufs hold the texts. */
struct checks_bufs {
	char delay[16], threshold[16], spamd_timeout[16];
	struct trust_settings s;
};

static void load_form(struct web_req *r, struct checks_form *f,
		      struct checks_bufs *b)
{
	const char *bad = NULL;
	/* a bad stored key shows its default, as smtpd uses it */
	(void)trust_settings_load(r->app->store, &b->s, &bad);
	snprintf(b->delay, sizeof b->delay, "%d", b->s.greylist_delay);
	snprintf(b->threshold, sizeof b->threshold, "%d.%d",
		 b->s.spam_threshold_tenths / 10, b->s.spam_threshold_tenths % 10);
	f->spf = b->s.spf;
	f->dkim = b->s.dkim;
	f->dmarc = b->s.dmarc;
	f->forged = b->s.reject_forged_own_domain;
	f->dnsbl = b->s.dnsbl_zones;
	f->grey = b->s.greylist_domains;
	f->delay = b->delay;
	f->threshold = b->threshold;
	f->tag = b->s.spam_subject_tag;
	snprintf(b->spamd_timeout, sizeof b->spamd_timeout, "%d", b->s.spamd_timeout);
	f->spamd = b->s.spamd;
	f->spamd_timeout = b->spamd_timeout;
}

void h_checks(struct web_req *r)
{
	struct checks_bufs *b = calloc(1, sizeof *b);
	if (b == NULL) {
		web_error_page(r, 500, "Out of memory.");
		return;
	}
	struct checks_form f = {0};
	load_form(r, &f, b);
	checks_page(r, &f);
	free(b);
}

/*
 * Normalise a comma/space separated list of host names into out (comma
 * and space between). local: each must be one of our domains ("*" alone
 * allowed). 0, or -1 with *why set.
 */
static int normalise_list(struct web_app *app, const char *in, bool local,
			  char *out, size_t outlen, const char **why)
{
	size_t o = 0;
	out[0] = '\0';
	const char *p = in, *item;
	size_t n;
	while (list_next(&p, &item, &n)) {
		char d[ADDR_DOMAIN_MAX + 1];
		const char *err;
		if (local && n == 1 && item[0] == '*') {
			snprintf(d, sizeof d, "*");
		} else if (addr_domain_normalise(item, n, d, &err) != 0 ||
			   strchr(d, '.') == NULL) {
			*why = local ? "Write our domains (or *) separated by "
				       "commas, e.g. example.com."
				     : "Write list names separated by commas, "
				       "e.g. zen.spamhaus.org.";
			return -1;
		} else if (local && store_domain_exists(app->store, d) != 1) {
			*why = "Greylisting can only be turned on for this "
			       "server's own domains (see Domains), or * for all.";
			return -1;
		}
		int w = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", d);
		if (w < 0 || (size_t)w >= outlen - o) {
			*why = "That list is too long.";
			return -1;
		}
		o += (size_t)w;
	}
	return 0;
}

static bool on(struct web_req *r, const char *name)
{
	const char *v = web_field(r, name);
	return v != NULL && strcmp(v, "yes") == 0;
}

static void refuse(struct web_req *r, struct checks_form *f, const char *field,
		   const char *error)
{
	f->field = field;
	f->error = error;
	r->status = 400;
	checks_page(r, f);
}

void h_checks_post(struct web_req *r)
{
	struct checks_form f = {
		.spf = on(r, "spf"),
		.dkim = on(r, "dkim"),
		.dmarc = on(r, "dmarc"),
		.forged = on(r, "reject_forged_own_domain"),
		.dnsbl = web_field(r, "dnsbl_zones"),
		.grey = web_field(r, "greylist_domains"),
		.delay = web_field(r, "greylist_delay"),
		.threshold = web_field(r, "spam_threshold"),
		.tag = web_field(r, "spam_subject_tag"),
		.spamd = web_field(r, "spamd"),
		.spamd_timeout = web_field(r, "spamd_timeout"),
	};
	const char **texts[] = {&f.dnsbl, &f.grey, &f.delay, &f.threshold, &f.tag};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (*texts[i] == NULL)
			*texts[i] = "";
	struct trust_settings *cur = calloc(1, sizeof *cur);
	struct trust_settings *want = calloc(1, sizeof *want);
	if (cur == NULL || want == NULL) {
		free(cur);
		free(want);
		web_error_page(r, 500, "Out of memory.");
		return;
	}
	const char *why = NULL, *field = NULL;
	char *end;
	if (normalise_list(r->app, f.dnsbl, false, want->dnsbl_zones,
			   sizeof want->dnsbl_zones, &why) != 0) {
		field = "dnsbl_zones";
	} else if (normalise_list(r->app, f.grey, true, want->greylist_domains,
				  sizeof want->greylist_domains, &why) != 0) {
		field = "greylist_domains";
	} else {
		long d = strtol(f.delay, &end, 10);
		if (f.delay[0] == '\0' || *end != '\0' || d < 1 || d > 86400) {
			field = "greylist_delay";
			why = "The delay must be a whole number of seconds from 1 "
			      "to 86400.";
		}
		want->greylist_delay = (int)d;
	}
	if (field == NULL) {
		long whole = strtol(f.threshold, &end, 10);
		int frac = 0;
		if (end != f.threshold && *end == '.' && end[1] >= '0' &&
		    end[1] <= '9' && end[2] == '\0') {
			frac = end[1] - '0';
			end += 2;
		}
		if (end == f.threshold || *end != '\0' || whole < 0 ||
		    whole > 1000 || f.threshold[0] == '-' || f.threshold[0] == '+') {
			field = "spam_threshold";
			why = "The threshold must be a number of points from 0 to "
			      "1000, like 5 or 5.5.";
		}
		want->spam_threshold_tenths = (int)whole * 10 + frac;
	}
	if (field == NULL) {
		bool ctl = false;
		for (const char *p = f.tag; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				ctl = true;
		if (ctl || strlen(f.tag) >= sizeof want->spam_subject_tag) {
			field = "spam_subject_tag";
			why = "The tag must be one line of at most 63 characters.";
		}
	}
	/* spamd: only when the form has the field (a client that does not
	 * know it leaves it as it is); normalised as smtpd will read it */
	char spamd_addr[sizeof want->spamd] = "", spamd_to[16] = "10";
	if (field == NULL && f.spamd != NULL && f.spamd[0] != '\0') {
		struct trust_spamd_addr a;
		if (trust_spamd_addr_parse(f.spamd, &a, &why) < 0)
			field = "spamd";
		else
			trust_spamd_addr_text(&a, spamd_addr, sizeof spamd_addr);
	}
	if (field == NULL && f.spamd != NULL && f.spamd_timeout != NULL &&
	    f.spamd_timeout[0] != '\0') {
		long t = strtol(f.spamd_timeout, &end, 10);
		if (*end != '\0' || t < 1 || t > 300 || f.spamd_timeout[0] == '+') {
			field = "spamd_timeout";
			why = "The timeout must be a whole number of seconds from 1 "
			      "to 300.";
		} else {
			snprintf(spamd_to, sizeof spamd_to, "%ld", t);
		}
	}
	if (field != NULL) {
		refuse(r, &f, field, why);
		free(cur);
		free(want);
		return;
	}

	char delay[16], thr[16];
	snprintf(delay, sizeof delay, "%d", want->greylist_delay);
	snprintf(thr, sizeof thr, "%d.%d", want->spam_threshold_tenths / 10,
		 want->spam_threshold_tenths % 10);
	struct {
		const char *key, *value;
	} kv[] = {
		{"trust.spf", f.spf ? "yes" : "no"},
		{"trust.dkim", f.dkim ? "yes" : "no"},
		{"trust.dmarc", f.dmarc ? "yes" : "no"},
		{"trust.reject_forged_own_domain", f.forged ? "yes" : "no"},
		{"trust.dnsbl_zones", want->dnsbl_zones},
		{"trust.greylist_domains", want->greylist_domains},
		{"trust.greylist_delay", delay},
		{"trust.spam_threshold", thr},
		{"trust.spam_subject_tag", f.tag},
		{"trust.spamd", spamd_addr},
		{"trust.spamd_timeout", spamd_to},
	};
	size_t n_kv = sizeof kv / sizeof kv[0] - (f.spamd == NULL ? 2 : 0);
	int rc = STORE_OK;
	for (size_t i = 0; i < n_kv && rc == STORE_OK; i++)
		rc = store_setting_set(r->app->store, kv[i].key, kv[i].value);
	const char *bad = NULL;
	if (rc != STORE_OK) {
		refuse(r, &f, "dnsbl_zones", web_store_error(r->app, rc));
	} else if (trust_settings_load(r->app->store, cur, &bad) < 0) {
		/* cannot happen after the checks above; say which, never hide it */
		refuse(r, &f, "dnsbl_zones", "The mail server would not accept "
					     "these settings; see the server log.");
	} else {
		web_audit(r, "mail-checks",
			  "spf=%s dkim=%s dmarc=%s forged_own_domain=%s dnsbl=\"%s\" "
			  "greylist=\"%s\" greylist_delay=%s spam_threshold=%s "
			  "subject_tag=\"%s\" spamd=\"%s\" spamd_timeout=%s",
			  kv[0].value, kv[1].value, kv[2].value, kv[3].value,
			  want->dnsbl_zones, want->greylist_domains, delay, thr, f.tag,
			  f.spamd ? spamd_addr : cur->spamd,
			  f.spamd ? spamd_to : "unchanged");
		web_redirect_msg(r, "/checks", "ok",
				 "Mail checks saved. The mail server uses them "
				 "within a minute.");
	}
	free(cur);
	free(want);
}
