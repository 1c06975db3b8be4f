/*
 * page_rule_actions.c - what the buttons of the Rules page do: enable or
 * disable, move up or down, delete, "try it" on a pasted message, and the
 * Sieve download and import.
 *
 * Each handler first resolves and checks the list (rule_scope_get), so a
 * rule id from another account's list is simply not found: the store
 * functions take the list's account_id and refuse ids outside it. Every
 * change is audited with the actor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../rules/rules.h"
#include "rule_editor.h"

#define TRY_MESSAGE_MAX (256 * 1024)
#define TRY_RESULT_MAX (64 * 1024)

struct find_ctx {
	int64_t id;
	bool found;
	bool enabled;
	int position;
	int count;
	char name[STORE_RULE_NAME_MAX + 1];
};

static int find_cb(void *vctx, const struct store_rule *row)
{
	struct find_ctx *f = vctx;
	f->count++;
	if (row->id == f->id) {
		f->found = true;
		f->enabled = row->enabled;
		f->position = row->position;
		snprintf(f->name, sizeof f->name, "%s", row->name);
	}
	return 0;
}

/* The list and the rule the form names; false after a response. */
static bool find_rule(struct web_req *r, struct rule_scope *s, struct find_ctx *f)
{
	if (rule_scope_get(r, s) != 0)
		return false;
	memset(f, 0, sizeof *f);
	const char *id = web_field(r, "id");
	char *end;
	errno = 0;
	long long v = id ? strtoll(id, &end, 10) : 0;
	if (id == NULL || end == id || *end != '\0' || errno != 0 || v <= 0) {
		web_error_page(r, 400, "The form names no rule.");
		return false;
	}
	f->id = (int64_t)v;
	int rc = store_rule_list(r->app->store, s->account_id, find_cb, f);
	if (rc != STORE_OK) {
		rule_redirect(r, s, "error", web_store_error(r->app, rc));
		return false;
	}
	if (!f->found) {
		rule_redirect(r, s, "error", "That rule is not in this list "
					     "(any more).");
		return false;
	}
	return true;
}

static void done(struct web_req *r, const struct rule_scope *s, int rc,
		 const char *ok)
{
	if (rc != STORE_OK)
		rule_redirect(r, s, "error", web_store_error(r->app, rc));
	else
		rule_redirect(r, s, "ok", ok);
}

void h_rule_toggle(struct web_req *r)
{
	struct rule_scope s;
	struct find_ctx f;
	if (!find_rule(r, &s, &f))
		return;
	int rc = store_rule_update(r->app->store, s.account_id, f.id, NULL,
				   f.enabled ? 0 : 1, NULL);
	if (rc == STORE_OK)
		web_audit(r, f.enabled ? "rule-disable" : "rule-enable",
			  "%s rule %lld \"%s\"", rule_scope_name(&s),
			  (long long)f.id, f.name);
	done(r, &s, rc, f.enabled ? "The rule is off." : "The rule is on.");
}

void h_rule_move(struct web_req *r)
{
	struct rule_scope s;
	struct find_ctx f;
	if (!find_rule(r, &s, &f))
		return;
	const char *dir = web_field(r, "dir");
	bool up = dir && strcmp(dir, "up") == 0;
	int to = up ? f.position - 1 : f.position + 1;
	if (to < 1 || to > f.count) {
		rule_redirect(r, &s, "ok", "The rule is already there.");
		return;
	}
	int rc = store_rule_move(r->app->store, s.account_id, f.id, to);
	if (rc == STORE_OK)
		web_audit(r, "rule-move", "%s rule %lld \"%s\" to %d",
			  rule_scope_name(&s), (long long)f.id, f.name, to);
	done(r, &s, rc, "The rule was moved.");
}

void h_rule_del(struct web_req *r)
{
	struct rule_scope s;
	struct find_ctx f;
	if (!find_rule(r, &s, &f))
		return;
	int rc = store_rule_del(r->app->store, s.account_id, f.id);
	if (rc == STORE_OK)
		web_audit(r, "rule-delete", "%s rule %lld \"%s\"",
			  rule_scope_name(&s), (long long)f.id, f.name);
	done(r, &s, rc, "The rule was deleted.");
}

void h_rule_try(struct web_req *r)
{
	struct rule_scope s;
	if (rule_scope_get(r, &s) != 0)
		return;
	const char *msg = web_field(r, "message");
	struct rule_page_state st;
	memset(&st, 0, sizeof st);
	if (msg == NULL || *msg == '\0' || strlen(msg) > TRY_MESSAGE_MAX) {
		rule_redirect(r, &s, "error", "Paste a message (at most 256 KB).");
		return;
	}
	struct rules_set *set = NULL;
	int rc = rules_load(r->app->store, s.account_id, &set);
	if (rc != STORE_OK) {
		rule_redirect(r, &s, "error", web_store_error(r->app, rc));
		return;
	}
	struct buf out;
	if (buf_init(&out, TRY_RESULT_MAX) != 0 ||
	    /* spf/dkim/dmarc: the pasted message's Authentication-Results
	     * of this server (the config's hostname, smtpd's authserv-id) */
	    rules_try(set, msg, strlen(msg), NULL, s.address,
		      r->app->cfg->hostname, time(NULL), &out) != 0 ||
	    buf_append(&out, "", 1) != 0) {
		rules_set_free(&set);
		buf_free(&out);
		web_error_page(r, 500, "The rules could not be tried.");
		return;
	}
	st.try_message = msg;
	st.try_result = out.data;
	rule_page(r, &s, &st);
	buf_free(&out);
	rules_set_free(&set);
}

void h_rule_export(struct web_req *r)
{
	struct rule_scope s;
	if (rule_scope_get(r, &s) != 0)
		return;
	struct rules_set *set = NULL;
	int rc = rules_load_own(r->app->store, s.account_id, &set);
	struct buf out;
	if (rc != STORE_OK || buf_init(&out, RULES_SIEVE_MAX * 4) != 0) {
		rules_set_free(&set);
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	if (rules_sieve_export(set, &out) != 0) {
		rules_set_free(&set);
		buf_free(&out);
		web_error_page(r, 500, "The rules could not be written as Sieve.");
		return;
	}
	r->content_type = "application/sieve; charset=utf-8";
	web_add_header(r, "Content-Disposition", s.account_id
			  ? "attachment; filename=\"rules.sieve\""
			  : "attachment; filename=\"server-rules.sieve\"");
	html_rawn(&r->out, out.data ? out.data : "", out.len);
	buf_free(&out);
	rules_set_free(&set);
}

void h_rule_import(struct web_req *r)
{
	struct rule_scope s;
	if (rule_scope_get(r, &s) != 0)
		return;
	const char *script = web_field(r, "script");
	struct rule_page_state st;
	memset(&st, 0, sizeof st);
	st.import_script = script;
	struct rules_set *set = NULL;
	if (script == NULL || strlen(script) > RULES_SIEVE_MAX) {
		snprintf(st.err_import, sizeof st.err_import,
			 "Paste a Sieve script (at most 256 KB).");
	} else if (rules_sieve_import(script, strlen(script), &set, st.err_import,
				      sizeof st.err_import) != 0) {
		set = NULL;
	}
	if (set == NULL) {
		if (st.err_import[0] == '\0')
			snprintf(st.err_import, sizeof st.err_import, "Out of memory.");
		r->status = 400;
		rule_page(r, &s, &st);
		return;
	}
	struct store_rule_in *in = calloc(set->n ? set->n : 1, sizeof *in);
	char **specs = calloc(set->n ? set->n : 1, sizeof *specs);
	int rc = in && specs ? STORE_OK : STORE_ERROR;
	for (size_t i = 0; rc == STORE_OK && i < set->n; i++) {
		specs[i] = rules_spec_format(set->rules[i]);
		if (specs[i] == NULL)
			rc = STORE_ERROR;
		in[i].name = set->rules[i]->name;
		in[i].enabled = set->rules[i]->enabled;
		in[i].spec = specs[i];
	}
	if (rc == STORE_OK)
		rc = store_rule_replace(r->app->store, s.account_id, in, set->n);
	size_t n = set->n;
	for (size_t i = 0; specs && i < n; i++)
		free(specs[i]);
	free(specs);
	free(in);
	rules_set_free(&set);
	if (rc == STORE_OK)
		web_audit(r, "rule-import", "%s %zu rule(s) from Sieve",
			  rule_scope_name(&s), n);
	done(r, &s, rc, "The script was imported; it replaced this list.");
}
