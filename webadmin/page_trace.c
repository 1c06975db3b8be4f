/*
 * page_trace.c - the "Message trace" page: what happened to each message
 * offered to this server from the internet, newest first (the store's
 * message_trace table, written by mailroom-smtpd, store/trace.h): who sent
 * it to whom, what SPF, DKIM, DMARC and the blocklists found, the spam
 * score, and the reply the sender got - for a refused message, why.
 *
 * A filter by address ("anna@example.com", or "@example.com" for a whole
 * domain, sender or any recipient) narrows it; pages of TRACE_PAGE rows go
 * back in time with ?before=<id>. Admins only: the trace shows every
 * mailbox's correspondents.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/trace.h"
#include "web.h"

#define TRACE_PAGE 50

struct trace_ctx {
	struct web_req *r;
	int n;
	int64_t last_id;
};

/* Badge class for an outcome: refused red, delayed amber, delivered green. */
static const char *outcome_class(const char *o)
{
	if (strcmp(o, STORE_TRACE_REFUSED) == 0)
		return "bad";
	if (strcmp(o, STORE_TRACE_ACCEPTED) == 0)
		return "ok";
	return "warn";
}

/* One check's result, its first word as the badge ("pass", "fail"...). */
static void check_cell(struct html *h, const char *name, const char *v)
{
	if (v[0] == '\0')
		return;
	size_t w = strcspn(v, " ");
	char word[32];
	snprintf(word, sizeof word, "%.*s", (int)(w < sizeof word ? w : sizeof word - 1),
		 v);
	const char *cls = strcmp(word, "pass") == 0 ? "ok"
			  : strcmp(word, "fail") == 0 || strcmp(word, "permerror") == 0
			      ? "bad"
			      : "warn";
	html_fmt(h, "<div class=\"check\"><b>%R</b> <span class=\"badge %R\">%s"
		    "</span>%s%s</div>",
		 name, cls, word, v[w] ? " " : "", v[w] ? v + w + 1 : "");
}

static int trace_row(void *vctx, const struct store_trace *t)
{
	struct trace_ctx *c = vctx;
	struct html *h = &c->r->out;
	char when[40];
	html_time_as(when, sizeof when, t->at, "%Y-%m-%d %H:%M:%S", "-");
	html_fmt(h, "<tr id=\"trace-%D\"><td>%s</td><td><div>From <b>%s</b></div>"
		    "<div>To %s</div>",
		 t->id, when, t->sender[0] ? t->sender : "<>", t->rcpts);
	if (t->message_id[0])
		html_fmt(h, "<div class=\"muted\">%s</div>", t->message_id);
	html_fmt(h, "<div class=\"muted\">via %s (%s)</div></td>"
		    "<td><span class=\"badge %R\">%s</span></td><td>",
		 t->client_ip, t->helo[0] ? t->helo : "no HELO",
		 outcome_class(t->outcome), t->outcome);
	check_cell(h, "SPF", t->spf);
	check_cell(h, "DKIM", t->dkim);
	check_cell(h, "DMARC", t->dmarc);
	if (t->dnsbl[0])
		html_fmt(h, "<div class=\"check\"><b>Blocklist</b> <span "
			    "class=\"badge bad\">listed</span> %s</div>",
			 t->dnsbl);
	if (t->spam_score != 0)
		html_fmt(h, "<div class=\"check\"><b>Spam score</b> %D.%D</div>",
			 t->spam_score / 10,
			 t->spam_score < 0 ? -(t->spam_score % 10) : t->spam_score % 10);
	html_fmt(h, "</td><td class=\"reply\"><code>%s</code>", t->reply);
	if (t->details[0])
		html_fmt(h, "<div class=\"muted\">%s</div>", t->details);
	html_raw(h, "</td></tr>");
	c->n++;
	c->last_id = t->id;
	return 0;
}

void h_trace(struct web_req *r)
{
	struct html *h = &r->out;
	const char *addr = web_query(r, "address");
	const char *before_s = web_query(r, "before");
	char filter[ADDR_MAX + 2] = "";
	const char *error = NULL;
	if (addr != NULL) {
		while (*addr == ' ')
			addr++;
		size_t n = strcspn(addr, " ");
		if (addr[n] != '\0' && addr[n + strspn(addr + n, " ")] != '\0')
			error = "Write one address (anna@example.com) or a domain "
				"(@example.com).";
		else if (n > ADDR_MAX)
			error = "That address is too long.";
		else if (n > 0)
			snprintf(filter, sizeof filter, "%s%.*s",
				 memchr(addr, '@', n) ? "" : "@", (int)n, addr);
	}
	int64_t before = 0;
	if (before_s != NULL) {
		char *end;
		before = strtoll(before_s, &end, 10);
		if (*end != '\0' || before < 0)
			before = 0;
	}

	page_begin(r, "Message trace");
	html_raw(h, "<p class=\"hint\">Every message other servers offered to "
		    "this one, newest first: what the sender checks found and "
		    "the answer the sending server got. Refused mail never "
		    "reached a mailbox; the answer says why.</p>"
		    "<form class=\"inline\" method=\"get\" action=\"/trace\">"
		    "<div><label for=\"address\">Sender or recipient<small>An "
		    "address, or @domain for a whole domain.</small></label>");
	html_fmt(h, "<input id=\"address\" name=\"address\" type=\"search\" "
		    "aria-describedby=\"address-err\" value=\"%s\"%R>",
		 addr ? addr : "", error ? " aria-invalid=\"true\"" : "");
	if (error)
		html_fmt(h, "<p class=\"field-error\" id=\"address-err\" "
			    "role=\"alert\">%s</p>", error);
	html_raw(h, "</div><button type=\"submit\">Show</button></form>");
	if (error) {
		r->status = 400;
		page_end(r);
		return;
	}
	html_raw(h, "<div class=\"table-wrap\"><table class=\"trace\"><thead><tr>"
		    "<th>When (UTC)</th><th>Message</th><th>Outcome</th>"
		    "<th>Checks</th><th>Answer given</th></tr>"
		    "</thead><tbody>");
	struct trace_ctx c = {r, 0, 0};
	int rc = store_trace_list(r->app->store, filter, before, TRACE_PAGE,
				  trace_row, &c);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	else if (c.n == 0)
		html_fmt(h, "<p class=\"muted\">%R</p>",
			 filter[0] || before ? "No messages match."
					     : "No messages have arrived yet.");
	else if (c.n == TRACE_PAGE)
		html_fmt(h, "<p><a href=\"/trace?address=%u&amp;before=%D\">Older "
			    "messages</a></p>",
			 filter, c.last_id);
	page_end(r);
}
