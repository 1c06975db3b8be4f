/*
 * page_rule_editor.c - the "Rules" page: one rule list (server-wide or an
 * account's) in order with a summary per rule, and the form that adds a
 * rule.
 *
 * The form is deliberately small (a name, all/any, three condition rows,
 * one action) so it works without JavaScript; anything richer comes in
 * through Sieve import. The server builds librules' JSON spec from the
 * fields and lets rules_rule_from_json judge it, so the panel never
 * stores a rule smtpd would skip. Field errors the panel can pin down
 * (a size that is not a number, a missing value) are shown next to that
 * field; librules' verdict on the whole rule is shown above the action.
 * The spam verdict and the SPF/DKIM/DMARC results are fields of their
 * own whose only test is "is": the Test select is not asked there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/addr.h"
#include "../rules/rules.h"
#include "rule_editor.h"

#define ACCOUNT_PICK_MAX 2000

const char *rule_scope_name(const struct rule_scope *s)
{
	return s->account_id == 0 ? "server-wide" : s->address;
}

int rule_scope_get(struct web_req *r, struct rule_scope *s)
{
	const char *who = r->is_post ? web_field(r, "account") : web_query(r, "account");
	memset(s, 0, sizeof *s);
	if (who == NULL || *who == '\0')
		who = r->user.role == STORE_ROLE_ADMIN ? "server" : r->user.address;
	if (strcmp(who, "server") == 0) {
		if (r->user.role != STORE_ROLE_ADMIN) {
			web_error_page(r, 403, "Only administrators edit the "
					       "server-wide rules.");
			return -1;
		}
		return 0;
	}
	struct store_account a;
	int rc = store_account_get(r->app->store, who, &a);
	bool own = rc == STORE_OK && strcmp(a.address, r->user.address) == 0;
	if (!own && !web_can_manage_domain(&r->user, rc == STORE_OK ? a.domain : NULL)) {
		web_error_page(r, 403, "You may not edit this account's rules.");
		return -1;
	}
	if (rc != STORE_OK) {
		web_error_page(r, 404, "There is no such account.");
		return -1;
	}
	s->account_id = a.id;
	snprintf(s->address, sizeof s->address, "%s", a.address);
	return 0;
}

void rule_redirect(struct web_req *r, const struct rule_scope *s,
		   const char *kind, const char *msg)
{
	char path[ADDR_MAX * 3 + 32];
	struct html h;
	if (html_init(&h) != 0) {
		web_redirect_msg(r, "/rules", kind, msg);
		return;
	}
	html_fmt(&h, "/rules?account=%u", s->account_id ? s->address : "server");
	snprintf(path, sizeof path, "%s", h.failed || !h.b.data ? "/rules" : h.b.data);
	html_free(&h);
	web_redirect_msg(r, path, kind, msg);
}

/* ---- the list ------------------------------------------------------------ */

struct list_ctx {
	struct web_req *r;
	const struct rule_scope *s;
	size_t n;
};

/* One POST button with the list's hidden fields. */
static void button(struct list_ctx *c, const char *action, int64_t id,
		   const char *extra, const char *label)
{
	struct html *h = &c->r->out;
	html_fmt(h, "<form method=\"post\" action=\"%R\">", action);
	page_csrf(c->r);
	html_fmt(h, "<input type=\"hidden\" name=\"account\" value=\"%s\">"
		    "<input type=\"hidden\" name=\"id\" value=\"%D\">%R"
		    "<button type=\"submit\" class=\"%R\">%R</button></form>",
		 c->s->account_id ? c->s->address : "server", id, extra,
		 strcmp(label, "Delete") == 0 ? "danger" : "secondary", label);
}

static int list_row(void *vctx, const struct store_rule *row)
{
	struct list_ctx *c = vctx;
	struct html *h = &c->r->out;
	struct rules_rule *rule = rules_rule_new();
	struct buf summary;
	char err[256] = "";
	if (rule == NULL || buf_init(&summary, RULES_SPEC_MAX) != 0) {
		rules_rule_free(&rule);
		return -1;
	}
	if (rules_spec_parse(row->spec, rule, err, sizeof err) != 0 ||
	    rules_rule_describe(rule, &summary) != 0 ||
	    buf_append(&summary, "", 1) != 0) {
		buf_reset(&summary);
		if (buf_printf(&summary, "(unreadable: %s)", err) != 0 ||
		    buf_append(&summary, "", 1) != 0)
			summary.len = 0;
	}
	html_fmt(h, "<tr><td>%d</td><td>%s</td><td>%R</td><td><code>%s</code></td><td>",
		 row->position, row->name, row->enabled ? "on" : "off",
		 summary.len ? summary.data : "");
	html_raw(h, "<div class=\"inline\">");
	button(c, "/rules/toggle", row->id, "", row->enabled ? "Disable" : "Enable");
	button(c, "/rules/move", row->id,
	       "<input type=\"hidden\" name=\"dir\" value=\"up\">", "Up");
	button(c, "/rules/move", row->id,
	       "<input type=\"hidden\" name=\"dir\" value=\"down\">", "Down");
	button(c, "/rules/delete", row->id, "", "Delete");
	html_raw(h, "</div></td></tr>");
	buf_free(&summary);
	rules_rule_free(&rule);
	c->n++;
	return 0;
}

/* ---- the account picker (admins and domain admins) ------------------------ */

struct pick_ctx {
	struct web_req *r;
	const struct rule_scope *s;
	size_t n;
};

static int pick_row(void *vctx, const struct store_account *a)
{
	struct pick_ctx *p = vctx;
	if (p->n++ >= ACCOUNT_PICK_MAX)
		return 1;
	html_fmt(&p->r->out, "<option value=\"%s\"%R>%s</option>", a->address,
		 strcmp(a->address, p->s->address) == 0 ? " selected" : "",
		 a->address);
	return 0;
}

static void picker(struct web_req *r, const struct rule_scope *s)
{
	struct html *h = &r->out;
	if (r->user.role < STORE_ROLE_DOMAIN_ADMIN)
		return;
	html_raw(h, "<section><form class=\"inline\" method=\"get\" "
		    "action=\"/rules\"><div><label for=\"account\">Rules of"
		    "</label><select id=\"account\" name=\"account\">");
	if (r->user.role == STORE_ROLE_ADMIN)
		html_fmt(h, "<option value=\"server\"%R>Server-wide (every "
			    "account)</option>",
			 s->account_id == 0 ? " selected" : "");
	struct pick_ctx p = {r, s, 0};
	if (r->user.role == STORE_ROLE_ADMIN)
		(void)store_account_list(r->app->store, NULL, pick_row, &p);
	else
		for (size_t i = 0; i < r->user.n_domains; i++)
			(void)store_account_list(r->app->store, r->user.domains[i],
						 pick_row, &p);
	html_raw(h, "</select></div><div><button type=\"submit\">Show</button>"
		    "</div></form></section>");
}

/* ---- the add form ---------------------------------------------------------- */

static const char *const field_opts[][2] = {
	{"", "(not used)"},       {"from", "From"},
	{"to_cc", "To or Cc"},    {"subject", "Subject"},
	{"header", "Header named"}, {"size", "Size (bytes)"},
	{"envelope_from", "Envelope sender"}, {"envelope_to", "Envelope recipient"},
	{"body", "Body (first 64 KiB)"},
	{"spam", "Marked as spam by the mail checks (value: yes or no)"},
	{"spf", "SPF result"}, {"dkim", "DKIM result"}, {"dmarc", "DMARC result"},
};
static const char *const op_opts[][2] = {
	{"contains", "contains"}, {"is", "is"}, {"matches", "matches (* ?)"},
	{"over", "is over (size)"}, {"under", "is under (size)"},
};
static const char *const action_opts[][2] = {
	{"keep", "Keep in the mailbox"},
	{"forward", "Forward a copy to (and keep)"},
	{"redirect", "Redirect to (do not keep)"},
	{"discard", "Discard silently"},
	{"reject", "Reject with the text"},
	{"tag", "Put a prefix in front of the Subject"},
	{"stop", "Stop (no further rules)"},
};

static const char *fval(const struct rule_page_state *st, const char *name)
{
	const char *v = st && st->form ? form_get(st->form, name) : NULL;
	return v ? v : "";
}

static void select_opts(struct html *h, const char *const (*opts)[2], size_t n,
			const char *cur)
{
	for (size_t i = 0; i < n; i++)
		html_fmt(h, "<option value=\"%R\"%R>%R</option>", opts[i][0],
			 strcmp(opts[i][0], cur) == 0 ? " selected" : "", opts[i][1]);
}

static void field_error(struct html *h, const char *id, const char *msg)
{
	if (msg && *msg)
		html_fmt(h, "<p class=\"field-error\" id=\"%R\">%s</p>", id, msg);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void add_form(struct web_req *r, const struct rule_scope *s,
		     const struct rule_page_state *st)
{
	struct html *h = &r->out;
	html_raw(h, "<section><h2>Add a rule</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/rules/add\">");
	page_csrf(r);
	html_fmt(h, "<input type=\"hidden\" name=\"account\" value=\"%s\">"
		    "<div><label for=\"name\">Name</label><input id=\"name\" "
		    "name=\"name\" maxlength=\"100\" value=\"%s\">",
		 s->account_id ? s->address : "server", fval(st, "name"));
	field_error(h, "err-name", st ? st->err_name : NULL);
	bool any = strcmp(fval(st, "match"), "any") == 0;
	html_fmt(h, "</div><div><label for=\"match\">When</label><select "
		    "id=\"match\" name=\"match\"><option value=\"all\"%R>all "
		    "conditions hold</option><option value=\"any\"%R>any "
		    "condition holds</option></select><small>No condition: every "
		    "message.</small></div><p class=\"hint\" id=\"auth-hint\">"
		    "SPF, DKIM and DMARC result: what this server's mail checks "
		    "found (not what other servers wrote), tested with \"is\": "
		    "pass, fail, none, softfail (SPF), neutral, policy, temperror "
		    "or permerror. DKIM is pass when any signature passes.</p>",
		 any ? "" : " selected", any ? " selected" : "");
	for (int i = 1; i <= RULE_FORM_CONDS; i++) {
		char fn[16], hn[16], on[16], vn[16], eid[24];
		snprintf(fn, sizeof fn, "f%d", i);
		snprintf(hn, sizeof hn, "h%d", i);
		snprintf(on, sizeof on, "o%d", i);
		snprintf(vn, sizeof vn, "v%d", i);
		snprintf(eid, sizeof eid, "err-v%d", i);
		html_fmt(h, "<div class=\"inline\"><div><label for=\"%R\">Condition "
			    "%d</label><select id=\"%R\" name=\"%R\">",
			 fn, i, fn, fn);
		select_opts(h, field_opts, COUNT(field_opts), fval(st, fn));
		html_fmt(h, "</select></div><div><label for=\"%R\">Header name"
			    "</label><input id=\"%R\" name=\"%R\" maxlength=\"76\" "
			    "value=\"%s\"></div><div><label for=\"%R\">Test</label>"
			    "<select id=\"%R\" name=\"%R\">",
			 hn, hn, hn, fval(st, hn), on, on, on);
		select_opts(h, op_opts, COUNT(op_opts), fval(st, on));
		html_fmt(h, "</select></div><div><label for=\"%R\">Value</label>"
			    "<input id=\"%R\" name=\"%R\" maxlength=\"1000\" "
			    "value=\"%s\">",
			 vn, vn, vn, fval(st, vn));
		field_error(h, eid, st ? st->err_cond[i - 1] : NULL);
		html_raw(h, "</div></div>");
	}
	html_raw(h, "<div><label for=\"action\">Then</label><select id=\"action\" "
		    "name=\"action\">");
	select_opts(h, action_opts, COUNT(action_opts), fval(st, "action"));
	html_fmt(h, "</select></div><div><label for=\"arg\">Addresses or text"
		    "<small>Forward and redirect: addresses separated by commas. "
		    "Reject: the reason. Subject prefix: e.g. [Sales].</small>"
		    "</label><input id=\"arg\" name=\"arg\" maxlength=\"1000\" "
		    "value=\"%s\">",
		 fval(st, "arg"));
	field_error(h, "err-action", st ? st->err_action : NULL);
	field_error(h, "err-rule", st ? st->err_rule : NULL);
	html_raw(h, "</div><div><button type=\"submit\">Add rule</button></div>"
		    "</form></section>");
}

/* The try-it box and Sieve import/export. */
static void tools(struct web_req *r, const struct rule_scope *s,
		  const struct rule_page_state *st)
{
	struct html *h = &r->out;
	const char *acct = s->account_id ? s->address : "server";
	html_fmt(h, "<section><h2>Try it</h2><p class=\"hint\">Paste a message "
		    "(headers, an empty line, the body). Nothing is delivered or "
		    "stored; the page says what %R would do.</p>",
		 s->account_id ? "this account's rules (after the server-wide ones)"
			       : "the server-wide rules");
	html_raw(h, "<form class=\"stack\" method=\"post\" action=\"/rules/try\">");
	page_csrf(r);
	html_fmt(h, "<input type=\"hidden\" name=\"account\" value=\"%s\">"
		    "<div><label for=\"message\">Message</label><textarea "
		    "id=\"message\" name=\"message\" rows=\"8\">%s</textarea></div>"
		    "<div><button type=\"submit\">Try</button></div></form>",
		 acct, st && st->try_message ? st->try_message : "");
	if (st && st->try_result)
		html_fmt(h, "<h3>What would happen</h3><pre id=\"try-result\">%s</pre>",
			 st->try_result);
	html_fmt(h, "</section><section><h2>Sieve</h2><p><a href=\"/rules/export"
		    "?account=%u\">Download these rules as a Sieve script</a></p>"
		    "<form class=\"stack\" method=\"post\" action=\"/rules/import\">",
		 acct);
	page_csrf(r);
	html_fmt(h, "<input type=\"hidden\" name=\"account\" value=\"%s\">"
		    "<div><label for=\"script\">Import a Sieve script<small>It "
		    "replaces every rule in this list.</small></label><textarea "
		    "id=\"script\" name=\"script\" rows=\"8\">%s</textarea>",
		 acct, st && st->import_script ? st->import_script : "");
	field_error(h, "err-import", st ? st->err_import : NULL);
	html_raw(h, "</div><div><button type=\"submit\">Import</button></div>"
		    "</form></section>");
}

void rule_page(struct web_req *r, const struct rule_scope *s,
	       const struct rule_page_state *st)
{
	struct html *h = &r->out;
	page_begin(r, "Rules");
	picker(r, s);
	if (s->account_id == 0)
		html_raw(h, "<p class=\"hint\">Server-wide rules run for every "
			    "account first, in this order.</p>");
	else
		html_fmt(h, "<p class=\"hint\">Rules of <b>%s</b>, run in this "
			    "order after the server-wide ones.</p>",
			 s->address);
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>#</th>"
		    "<th>Name</th><th>Enabled</th><th>What it does</th><th></th>"
		    "</tr></thead><tbody>");
	struct list_ctx c = {r, s, 0};
	int rc = store_rule_list(r->app->store, s->account_id, list_row, &c);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>", web_store_error(r->app, rc));
	else if (c.n == 0)
		html_raw(h, "<p class=\"muted\">No rules yet.</p>");
	add_form(r, s, st);
	tools(r, s, st);
	page_end(r);
}

void h_rules(struct web_req *r)
{
	struct rule_scope s;
	if (rule_scope_get(r, &s) == 0)
		rule_page(r, &s, NULL);
}

/* ---- adding ---------------------------------------------------------------- */

/* "1048576", "500K", "2M", "1G" -> octets; -1 if it is not that. */
static int64_t parse_size(const char *v)
{
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (end == v || errno != 0 || n < 0)
		return -1;
	int64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024 * 1024 * 1024, end++;
	if (*end != '\0' || n > INT64_MAX / mul)
		return -1;
	return (int64_t)n * mul;
}

/* One condition row into conds; false with an error in st when it is bad. */
static bool add_condition(struct web_req *r, int i, json_t *conds,
			  struct rule_page_state *st)
{
	char key[16];
	const char *f, *hname, *op, *v;
	snprintf(key, sizeof key, "f%d", i);
	f = web_field(r, key);
	snprintf(key, sizeof key, "h%d", i);
	hname = web_field(r, key);
	snprintf(key, sizeof key, "o%d", i);
	op = web_field(r, key);
	snprintf(key, sizeof key, "v%d", i);
	v = web_field(r, key);
	char *err = st->err_cond[i - 1];
	if (f == NULL || *f == '\0')
		return true; /* row not used */
	if (op == NULL || v == NULL || *v == '\0') {
		snprintf(err, RULE_FORM_ERR_MAX, "Give a value to compare with.");
		return false;
	}
	if (strcmp(f, "spam") == 0) { /* rules_spam_condition; the test is ignored */
		json_t *spam = rules_spam_condition(v, false);
		if (spam == NULL)
			snprintf(err, RULE_FORM_ERR_MAX, "Answer yes (spam) or no (not spam).");
		return spam != NULL && json_array_append_new(conds, spam) == 0;
	}
	enum rules_field fld;
	char unused[RULES_HEADER_NAME_MAX + 1];
	if (rules_field_parse(f, &fld, unused) == 0 && rules_field_is_auth(fld))
		op = "is"; /* the only test a result takes; librules judges v */
	json_t *c = json_pack("{s:s,s:s}", "field", f, "op", op);
	if (c == NULL)
		return false;
	if (strcmp(f, "size") == 0) {
		int64_t n = parse_size(v);
		if (n < 0) {
			snprintf(err, RULE_FORM_ERR_MAX, "The size must be a number "
				 "of bytes, like 500000, 500K or 2M.");
			json_decref(c);
			return false;
		}
		json_object_set_new(c, "value", json_integer(n));
	} else {
		json_object_set_new(c, "value", json_string(v));
	}
	if (strcmp(f, "header") == 0) {
		if (hname == NULL || *hname == '\0') {
			snprintf(err, RULE_FORM_ERR_MAX, "Name the header to look at.");
			json_decref(c);
			return false;
		}
		json_object_set_new(c, "name", json_string(hname));
	}
	/* librules' per-condition checks, so their message lands on this row */
	char one[RULE_FORM_ERR_MAX];
	json_t *probe = json_pack("{s:i,s:s,s:[O],s:[{s:s}]}", "v", RULES_SPEC_VERSION,
				  "match", "all", "if", c, "then", "action", "keep");
	char *text = probe ? json_dumps(probe, JSON_COMPACT) : NULL;
	struct rules_rule *rule = NULL;
	bool ok = text && rules_rule_from_json(text, &rule, one, sizeof one) == 0;
	if (!ok)
		snprintf(err, RULE_FORM_ERR_MAX, "%s", text ? one : "Out of memory.");
	rules_rule_free(&rule);
	free(text);
	json_decref(probe);
	if (ok)
		json_array_append(conds, c);
	json_decref(c);
	return ok;
}

/* The action from "action" and "arg"; NULL with st->err_action. */
static json_t *make_action(struct web_req *r, struct rule_page_state *st)
{
	const char *a = web_field(r, "action");
	const char *arg = web_field(r, "arg");
	if (arg == NULL)
		arg = "";
	if (a == NULL || *a == '\0')
		a = "keep";
	json_t *act = json_pack("{s:s}", "action", a);
	if (act == NULL)
		return NULL;
	if (strcmp(a, "forward") == 0 || strcmp(a, "redirect") == 0) {
		json_t *to = json_array();
		const char *p = arg, *item;
		size_t n;
		while (list_next(&p, &item, &n))
			json_array_append_new(to, json_stringn(item, n));
		if (json_array_size(to) == 0) {
			snprintf(st->err_action, sizeof st->err_action,
				 "Say which addresses to send it to.");
			json_decref(to);
			json_decref(act);
			return NULL;
		}
		json_object_set_new(act, "to", to);
	} else if (strcmp(a, "reject") == 0 || strcmp(a, "tag") == 0) {
		if (*arg == '\0') {
			snprintf(st->err_action, sizeof st->err_action, "%s",
				 strcmp(a, "tag") == 0 ? "Give the prefix to put in "
							 "front of the Subject."
						       : "Give the reason to reject with.");
			json_decref(act);
			return NULL;
		}
		/* no trailing space: librules puts one between tag and subject */
		json_object_set_new(act, "text", json_string(arg));
	}
	return act;
}

void h_rule_add(struct web_req *r)
{
	struct rule_scope s;
	if (rule_scope_get(r, &s) != 0)
		return;
	struct rule_page_state st;
	memset(&st, 0, sizeof st);
	st.form = &r->form;
	const char *name = web_field(r, "name");
	const char *match = web_field(r, "match");
	bool bad = false;
	if (name == NULL || *name == '\0' || strlen(name) > RULES_NAME_MAX) {
		snprintf(st.err_name, sizeof st.err_name,
			 "Give the rule a name (at most %d characters).", RULES_NAME_MAX);
		bad = true;
	}
	json_t *conds = json_array();
	for (int i = 1; i <= RULE_FORM_CONDS; i++)
		if (!add_condition(r, i, conds, &st))
			bad = true;
	json_t *act = make_action(r, &st);
	if (act == NULL)
		bad = true;
	char *json = NULL;
	struct rules_rule *rule = NULL;
	if (!bad) {
		json_t *root = json_pack("{s:s,s:b,s:i,s:s,s:o,s:[o]}", "name", name,
					 "enabled", 1, "v", RULES_SPEC_VERSION, "match",
					 match && strcmp(match, "any") == 0 ? "any" : "all",
					 "if", conds, "then", act);
		conds = NULL;
		act = NULL;
		json = root ? json_dumps(root, JSON_COMPACT) : NULL;
		json_decref(root);
		if (json == NULL ||
		    rules_rule_from_json(json, &rule, st.err_rule, sizeof st.err_rule) != 0) {
			if (json == NULL)
				snprintf(st.err_rule, sizeof st.err_rule, "Out of memory.");
			bad = true;
		}
	}
	json_decref(conds);
	json_decref(act);
	free(json);
	char *spec = bad ? NULL : rules_spec_format(rule);
	if (bad || spec == NULL) {
		rules_rule_free(&rule);
		r->status = 400;
		rule_page(r, &s, &st);
		return;
	}
	int64_t id = 0;
	int rc = store_rule_add(r->app->store, s.account_id, 0, rule->name, true,
				spec, &id);
	free(spec);
	if (rc != STORE_OK) {
		rules_rule_free(&rule);
		rule_redirect(r, &s, "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "rule-add", "%s rule %lld \"%s\"", rule_scope_name(&s),
		  (long long)id, rule->name);
	rules_rule_free(&rule);
	rule_redirect(r, &s, "ok", "The rule was added.");
}
