/*
 * page_rules.c - an employee's own out-of-office reply and forwarding,
 * on the "My account" page.
 *
 * Each is one rule in the account's rule list (store rules table, the
 * JSON spec documented in rules/rules.h), kept under a fixed name so the
 * panel finds it again: "Out of office (web)" with a vacation action,
 * "Forwarding (web)" with a forward (keep a copy) or redirect action.
 * Turning one off disables the rule rather than deleting it, so the text
 * is still there next holiday. Rules made with Sieve or mailroomctl are
 * left alone. smtpd validates every spec when it loads the rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/addr.h"
#include "web.h"

#define RULE_VACATION "Out of office (web)"
#define RULE_FORWARD "Forwarding (web)"
#define VACATION_TEXT_MAX 8000
#define VACATION_SUBJECT_MAX 500
#define FORWARD_TARGETS_MAX 16

struct found_rule {
	const char *want;
	bool found;
	int64_t id;
	bool enabled;
	json_t *spec; /* parsed, owned */
};

static int find_cb(void *ctx, const struct store_rule *rule)
{
	struct found_rule *f = ctx;
	if (f->found || strcmp(rule->name, f->want) != 0)
		return 0;
	f->found = true;
	f->id = rule->id;
	f->enabled = rule->enabled;
	f->spec = json_loads(rule->spec, 0, NULL);
	return 0;
}

static void find_rule(struct web_req *r, int64_t account_id, const char *name,
		      struct found_rule *f)
{
	memset(f, 0, sizeof *f);
	f->want = name;
	(void)store_rule_list(r->app->store, account_id, find_cb, f);
}

/* The first action of a found rule, or NULL. */
static json_t *first_action(const struct found_rule *f)
{
	return f->spec ? json_array_get(json_object_get(f->spec, "then"), 0) : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

void rules_section(struct web_req *r, int64_t account_id)
{
	struct html *h = &r->out;
	struct found_rule vac, fwd;
	find_rule(r, account_id, RULE_VACATION, &vac);
	find_rule(r, account_id, RULE_FORWARD, &fwd);
	json_t *va = first_action(&vac);
	json_t *fa = first_action(&fwd);

	html_raw(h, "<section><h2>Out of office</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/me/vacation\">");
	page_csrf(r);
	html_fmt(h,
		 "<div><label><input type=\"checkbox\" name=\"on\" value=\"1\"%R> "
		 "Send an automatic reply<small>Each sender gets it at most once "
		 "a week; mailing lists and automatic mail get none.</small>"
		 "</label></div>"
		 "<div class=\"inline\"><div><label for=\"start\">From</label>"
		 "<input id=\"start\" name=\"start\" type=\"date\" value=\"%s\">"
		 "</div><div><label for=\"end\">Until</label>"
		 "<input id=\"end\" name=\"end\" type=\"date\" value=\"%s\"></div>"
		 "</div>"
		 "<div><label for=\"subject\">Subject<small>Empty: \"Auto:\" and "
		 "the original subject.</small></label><input id=\"subject\" "
		 "name=\"subject\" maxlength=\"500\" value=\"%s\"></div>"
		 "<div><label for=\"text\">Message</label><textarea id=\"text\" "
		 "name=\"text\" rows=\"5\" maxlength=\"8000\">%s</textarea></div>"
		 "<div><button type=\"submit\">Save</button></div></form></section>",
		 vac.found && vac.enabled ? " checked" : "", jstr(va, "start"),
		 jstr(va, "end"), jstr(va, "subject"),
		 va ? jstr(va, "text") : "I am away and will answer when I am back.");

	const char *kind = jstr(fa, "action");
	char targets[FORWARD_TARGETS_MAX * (ADDR_MAX + 2)] = "";
	json_t *to = json_object_get(fa, "to");
	size_t i;
	json_t *v;
	size_t o = 0;
	json_array_foreach(to, i, v) {
		int n = snprintf(targets + o, sizeof targets - o, "%s%s", i ? ", " : "",
				 json_string_value(v) ? json_string_value(v) : "");
		if (n < 0 || (size_t)n >= sizeof targets - o)
			break;
		o += (size_t)n;
	}
	html_raw(h, "<section><h2>Forwarding</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/me/forward\">");
	page_csrf(r);
	html_fmt(h,
		 "<div><label><input type=\"checkbox\" name=\"on\" value=\"1\"%R> "
		 "Forward my mail</label></div>"
		 "<div><label for=\"to\">To<small>One or more addresses, "
		 "separated by commas.</small></label><input id=\"to\" name=\"to\" "
		 "value=\"%s\"></div>"
		 "<div><label><input type=\"checkbox\" name=\"keep\" value=\"1\"%R> "
		 "Also keep a copy here</label></div>"
		 "<div><button type=\"submit\">Save</button></div></form></section>",
		 fwd.found && fwd.enabled ? " checked" : "", targets,
		 strcmp(kind, "redirect") == 0 ? "" : " checked");
	json_decref(vac.spec);
	json_decref(fwd.spec);
}

/* Add or update the named rule with spec (enabled as given). */
static int save_rule(struct web_req *r, int64_t account_id, const char *name,
		     bool enabled, json_t *spec)
{
	char *text = json_dumps(spec, JSON_COMPACT);
	if (text == NULL)
		return STORE_ERROR;
	struct found_rule f;
	find_rule(r, account_id, name, &f);
	json_decref(f.spec);
	int rc = f.found ? store_rule_update(r->app->store, account_id, f.id, NULL,
					     enabled ? 1 : 0, text)
			 : store_rule_add(r->app->store, account_id, 0, name,
					  enabled, text, NULL);
	free(text);
	return rc;
}

/* Save the user's own rule from spec (NULL when building it ran out of
 * memory; spec is freed here), audit it and go back to /me with ok_msg or
 * the store's error. */
static void save_and_return(struct web_req *r, const struct store_account *a,
			    const char *name, bool on, json_t *spec,
			    const char *audit_action, const char *ok_msg)
{
	int rc = spec ? save_rule(r, a->id, name, on, spec) : STORE_ERROR;
	json_decref(spec);
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/me", "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, audit_action, "%s %s", a->address, on ? "on" : "off");
	web_redirect_msg(r, "/me", "ok", ok_msg);
}

static bool valid_date(const char *s)
{
	if (s == NULL || *s == '\0')
		return true;
	int y, m, d;
	char tail;
	return strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3 &&
	       y >= 2000 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool own_account(struct web_req *r, struct store_account *a)
{
	if (store_account_get(r->app->store, r->user.address, a) != STORE_OK) {
		web_error_page(r, 500, "Your account could not be read.");
		return false;
	}
	return true;
}

void h_me_vacation(struct web_req *r)
{
	struct store_account a;
	if (!own_account(r, &a))
		return;
	bool on = web_field(r, "on") != NULL;
	const char *start = web_field(r, "start");
	const char *end = web_field(r, "end");
	const char *subject = web_field(r, "subject");
	const char *text = web_field(r, "text");
	if (!valid_date(start) || !valid_date(end)) {
		web_redirect_msg(r, "/me", "error", "Dates must look like 2026-12-24.");
		return;
	}
	if (start && end && *start && *end && strcmp(start, end) > 0) {
		web_redirect_msg(r, "/me", "error", "The end is before the start.");
		return;
	}
	if (text == NULL || *text == '\0' || strlen(text) > VACATION_TEXT_MAX ||
	    (subject && strlen(subject) > VACATION_SUBJECT_MAX)) {
		web_redirect_msg(r, "/me", "error",
				 "Write a message (at most 8000 characters).");
		return;
	}
	json_t *act = json_pack("{s:s,s:i,s:s}", "action", "vacation", "days", 7,
				"text", text);
	if (start && *start)
		json_object_set_new(act, "start", json_string(start));
	if (end && *end)
		json_object_set_new(act, "end", json_string(end));
	if (subject && *subject)
		json_object_set_new(act, "subject", json_string(subject));
	json_t *spec = json_pack("{s:i,s:s,s:[],s:[o]}", "v", 1, "match", "all",
				 "if", "then", act);
	save_and_return(r, &a, RULE_VACATION, on, spec, "vacation",
			on ? "Your automatic reply is on."
			   : "Your automatic reply is off.");
}

void h_me_forward(struct web_req *r)
{
	struct store_account a;
	if (!own_account(r, &a))
		return;
	bool on = web_field(r, "on") != NULL;
	bool keep = web_field(r, "keep") != NULL;
	const char *to = web_field(r, "to");
	json_t *list = json_array();
	const char *p = to ? to : "", *item;
	size_t n;
	while (list_next(&p, &item, &n)) {
		struct addr t;
		const char *why;
		if (json_array_size(list) == FORWARD_TARGETS_MAX ||
		    addr_parse(item, n, 0, &t, &why) != 0 ||
		    strcmp(t.full, a.address) == 0) {
			json_decref(list);
			web_redirect_msg(r, "/me", "error",
					 "Forward to at most 16 other email "
					 "addresses, separated by commas.");
			return;
		}
		json_array_append_new(list, json_string(t.full));
	}
	if (on && json_array_size(list) == 0) {
		json_decref(list);
		web_redirect_msg(r, "/me", "error", "Say where to forward to.");
		return;
	}
	if (json_array_size(list) == 0) { /* off and empty: nothing to keep */
		json_decref(list);
		struct found_rule f;
		find_rule(r, a.id, RULE_FORWARD, &f);
		json_decref(f.spec);
		if (f.found)
			(void)store_rule_update(r->app->store, a.id, f.id, NULL, 0, NULL);
		web_audit(r, "forward", "%s off", a.address);
		web_redirect_msg(r, "/me", "ok", "Forwarding is off.");
		return;
	}
	json_t *spec = json_pack("{s:i,s:s,s:[],s:[{s:s,s:o}]}", "v", 1, "match",
				 "all", "if", "then", "action",
				 keep ? "forward" : "redirect", "to", list);
	save_and_return(r, &a, RULE_FORWARD, on, spec, "forward",
			on ? "Your mail is forwarded." : "Forwarding is off.");
}
