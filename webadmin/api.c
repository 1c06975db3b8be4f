/*
 * api.c - the JSON API under /api/v1/ for scripts and resellers.
 *
 * Auth is `Authorization: Bearer mrt_...` (tokens from `mailroomctl token
 * add`); a token acts as an admin and every change is audited as
 * "token:NAME". Cookies are ignored here, so a browser session cannot be
 * ridden into the API (no CSRF surface). Failed token checks count toward
 * the per-IP rate limit like failed logins. Bodies are JSON objects
 * (duplicate keys refused); errors are {"error": "..."} with a 4xx/5xx.
 * Quotas are in bytes. GET /metrics (Prometheus text) takes the same
 * token.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "../store/trace.h"
#include "web.h"

#define API_PASSWORD_MIN 8
#define API_RANDOM_PASSWORD_LEN 20

typedef void (*api_handler)(struct web_req *r, json_t *body);

struct api_route {
	const char *method;
	const char *pattern;
	api_handler handler;
	bool has_body;
};

static void api_json(struct web_req *r, int status, json_t *v)
{
	r->status = status;
	r->content_type = "application/json";
	html_reset(&r->out);
	char *s = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	if (s == NULL) {
		r->status = 500;
		html_raw(&r->out, "{\"error\":\"out of memory\"}");
		return;
	}
	html_raw(&r->out, s);
	html_raw(&r->out, "\n");
	free(s);
}

static void api_error(struct web_req *r, int status, const char *msg)
{
	api_json(r, status, json_pack("{s:s}", "error", msg));
}

static int api_store_status(int rc)
{
	switch (rc) {
	case STORE_NOTFOUND:
		return 404;
	case STORE_EXISTS:
	case STORE_NOTEMPTY:
		return 409;
	case STORE_INVALID:
		return 400;
	case STORE_BUSY:
	case STORE_FULL:
		return 503;
	default:
		return 500;
	}
}

static void api_store_error(struct web_req *r, int rc)
{
	api_error(r, api_store_status(rc), web_store_error(r->app, rc));
}

/* ---- domains ----------------------------------------------------------------- */

static int domain_json(void *ctx, const struct store_domain *d)
{
	json_array_append_new(ctx, json_pack("{s:s,s:I,s:I}", "name", d->name,
					     "accounts", (json_int_t)d->accounts,
					     "created", (json_int_t)d->created));
	return 0;
}

static void api_domains_get(struct web_req *r, json_t *body)
{
	(void)body;
	json_t *a = json_array();
	int rc = store_domain_list(r->app->store, domain_json, a);
	if (rc != STORE_OK) {
		json_decref(a);
		api_store_error(r, rc);
		return;
	}
	api_json(r, 200, a);
}

static void api_domains_post(struct web_req *r, json_t *body)
{
	const char *in = json_string_value(json_object_get(body, "name"));
	char d[ADDR_DOMAIN_MAX + 1];
	const char *why;
	if (in == NULL || addr_domain_normalise(in, strlen(in), d, &why) != 0) {
		api_error(r, 400, "\"name\" must be a domain name like example.com");
		return;
	}
	int rc = store_domain_add(r->app->store, d);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	web_audit(r, "domain-add", "%s", d);
	api_json(r, 201, json_pack("{s:s}", "name", d));
}

static void api_domain_del(struct web_req *r, json_t *body)
{
	(void)body;
	char d[ADDR_DOMAIN_MAX + 1];
	if (web_cap(r, 0, d, sizeof d) != 0) {
		api_error(r, 404, "no such domain");
		return;
	}
	const char *force = web_query(r, "force");
	bool f = force && (strcmp(force, "1") == 0 || strcmp(force, "true") == 0);
	int rc = store_domain_del(r->app->store, d, f);
	if (rc == STORE_NOTEMPTY) {
		api_error(r, 409, "the domain still has accounts or aliases; "
				  "add ?force=1 to delete them too");
		return;
	}
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	web_audit(r, "domain-del", "%s%s", d, f ? " force" : "");
	api_json(r, 200, json_pack("{s:s}", "deleted", d));
}

/* ---- accounts ---------------------------------------------------------------- */

static json_t *account_json(const struct store_account *a)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:I,s:I}", "address",
			 a->address, "domain", a->domain, "display_name",
			 a->display_name, "role", store_role_name(a->role), "quota",
			 (json_int_t)a->quota_bytes, "used", (json_int_t)a->used_bytes,
			 "enabled", a->enabled, "messages", (json_int_t)a->messages,
			 "created", (json_int_t)a->created);
}

static int account_cb(void *ctx, const struct store_account *a)
{
	json_array_append_new(ctx, account_json(a));
	return 0;
}

static void api_accounts_get(struct web_req *r, json_t *body)
{
	(void)body;
	const char *domain = web_query(r, "domain");
	json_t *a = json_array();
	int rc = store_account_list(r->app->store, domain, account_cb, a);
	if (rc != STORE_OK) {
		json_decref(a);
		api_store_error(r, rc);
		return;
	}
	api_json(r, 200, a);
}

/* Optional fields shared by POST and PATCH; false after an error reply. */
static bool account_fields(struct web_req *r, json_t *body,
			   struct store_account_change *ch, const char **pw_r)
{
	json_t *v;
	ch->display_name = NULL;
	ch->quota_bytes = -1;
	ch->enabled = -1;
	ch->role = -1;
	*pw_r = NULL;
	if ((v = json_object_get(body, "display_name")) != NULL) {
		if (!json_is_string(v) || strlen(json_string_value(v)) > DISPLAY_NAME_MAX) {
			api_error(r, 400, "\"display_name\" must be a string of at "
					  "most 200 bytes");
			return false;
		}
		ch->display_name = json_string_value(v);
	}
	if ((v = json_object_get(body, "quota")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			api_error(r, 400, "\"quota\" must be a number of bytes (0 = "
					  "no limit)");
			return false;
		}
		ch->quota_bytes = json_integer_value(v);
	}
	if ((v = json_object_get(body, "enabled")) != NULL) {
		if (!json_is_boolean(v)) {
			api_error(r, 400, "\"enabled\" must be true or false");
			return false;
		}
		ch->enabled = json_is_true(v);
	}
	if ((v = json_object_get(body, "role")) != NULL) {
		enum store_role role;
		if (!json_is_string(v) ||
		    store_role_parse(json_string_value(v), &role) != STORE_OK) {
			api_error(r, 400, "\"role\" must be user, domain-admin or admin");
			return false;
		}
		ch->role = (int)role;
	}
	if ((v = json_object_get(body, "password")) != NULL) {
		const char *pw = json_string_value(v);
		if (pw == NULL || strlen(pw) < API_PASSWORD_MIN ||
		    strlen(pw) > PASSWORD_MAX) {
			api_error(r, 400, "\"password\" must have at least 8 characters");
			return false;
		}
		*pw_r = pw;
	}
	return true;
}

static void api_accounts_post(struct web_req *r, json_t *body)
{
	const char *in = json_string_value(json_object_get(body, "address"));
	struct addr a;
	const char *why;
	if (in == NULL || addr_parse(in, strlen(in), 0, &a, &why) != 0) {
		api_error(r, 400, "\"address\" must be an email address");
		return;
	}
	struct store_account_change ch;
	const char *pw;
	char generated[API_RANDOM_PASSWORD_LEN + 1] = "";
	if (!account_fields(r, body, &ch, &pw))
		return;
	if (pw == NULL) {
		if (web_random_password(generated, sizeof generated,
					API_RANDOM_PASSWORD_LEN) != 0) {
			api_error(r, 500, "no randomness");
			return;
		}
		pw = generated;
	}
	char hash[PASSWORD_HASH_MAX + 1];
	if (store_password_hash(pw, hash, sizeof hash) != STORE_OK) {
		api_error(r, 500, "could not hash the password");
		return;
	}
	enum store_role role = ch.role < 0 ? STORE_ROLE_USER : (enum store_role)ch.role;
	int rc = store_account_add(r->app->store, a.full, hash, role,
				   ch.display_name ? ch.display_name : "",
				   ch.quota_bytes < 0 ? 0 : ch.quota_bytes);
	if (rc == STORE_OK && ch.enabled == 0)
		rc = store_account_update(r->app->store, a.full,
					  &(struct store_account_change){NULL, -1, 0, -1});
	struct store_account acct;
	if (rc == STORE_OK)
		rc = store_account_get(r->app->store, a.full, &acct);
	if (rc != STORE_OK) {
		if (rc == STORE_INVALID && store_domain_exists(r->app->store, a.domain) == 0)
			api_error(r, 400, "the address's domain is not one of ours");
		else
			api_store_error(r, rc);
		return;
	}
	web_audit(r, "account-add", "%s role=%s", a.full, store_role_name(role));
	json_t *j = account_json(&acct);
	if (generated[0] != '\0')
		json_object_set_new(j, "password", json_string(generated));
	explicit_bzero(generated, sizeof generated);
	api_json(r, 201, j);
}

static bool cap_address(struct web_req *r, char *dst, size_t dstlen)
{
	if (web_cap(r, 0, dst, dstlen) != 0) {
		api_error(r, 404, "no such account");
		return false;
	}
	return true;
}

static void api_account_get(struct web_req *r, json_t *body)
{
	(void)body;
	char address[ADDR_MAX + 1];
	struct store_account a;
	if (!cap_address(r, address, sizeof address))
		return;
	int rc = store_account_get(r->app->store, address, &a);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	api_json(r, 200, account_json(&a));
}

static void api_account_patch(struct web_req *r, json_t *body)
{
	char address[ADDR_MAX + 1];
	struct store_account a;
	struct store_account_change ch;
	const char *pw;
	if (!cap_address(r, address, sizeof address) ||
	    !account_fields(r, body, &ch, &pw))
		return;
	int rc = store_account_get(r->app->store, address, &a);
	if (rc == STORE_OK && web_is_last_admin(r->app, &a) &&
	    (ch.enabled == 0 || (ch.role >= 0 && ch.role != STORE_ROLE_ADMIN))) {
		api_error(r, 409, "this is the only admin: make another admin first");
		return;
	}
	if (rc == STORE_OK)
		rc = store_account_update(r->app->store, address, &ch);
	if (rc == STORE_OK && pw != NULL) {
		char hash[PASSWORD_HASH_MAX + 1];
		rc = store_password_hash(pw, hash, sizeof hash) == STORE_OK
			     ? store_account_set_password(r->app->store, address, hash)
			     : STORE_ERROR;
	}
	if (rc == STORE_OK)
		rc = store_account_get(r->app->store, address, &a);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	if (pw != NULL || ch.enabled == 0)
		session_destroy_address(&r->app->sessions, address, NULL);
	web_audit(r, "account-edit", "%s%s", address, pw ? " password" : "");
	api_json(r, 200, account_json(&a));
}

static void api_account_del(struct web_req *r, json_t *body)
{
	(void)body;
	char address[ADDR_MAX + 1];
	if (!cap_address(r, address, sizeof address))
		return;
	struct store_account a;
	int rc = store_account_get(r->app->store, address, &a);
	if (rc == STORE_OK && web_is_last_admin(r->app, &a)) {
		api_error(r, 409, "this is the only admin: make another admin first");
		return;
	}
	if (rc == STORE_OK)
		rc = store_account_del(r->app->store, address);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	session_destroy_address(&r->app->sessions, address, NULL);
	char bad[ADDR_DOMAIN_MAX + 1];
	(void)web_managed_domains_save(r->app, address, "", bad, sizeof bad);
	web_audit(r, "account-del", "%s", address);
	api_json(r, 200, json_pack("{s:s}", "deleted", address));
}

/* ---- aliases ----------------------------------------------------------------- */

static int alias_cb(void *ctx, const struct store_alias *a)
{
	json_array_append_new(ctx, json_pack("{s:s,s:s}", "address", a->address,
					     "target", a->target));
	return 0;
}

static void api_aliases_get(struct web_req *r, json_t *body)
{
	(void)body;
	json_t *a = json_array();
	int rc = store_alias_list(r->app->store, web_query(r, "domain"), alias_cb, a);
	if (rc != STORE_OK) {
		json_decref(a);
		api_store_error(r, rc);
		return;
	}
	api_json(r, 200, a);
}

static void api_aliases_post(struct web_req *r, json_t *body)
{
	const char *in = json_string_value(json_object_get(body, "address"));
	char address[ADDR_MAX + 2], dom[ADDR_DOMAIN_MAX + 1];
	if (in == NULL || web_alias_address(in, address, sizeof address, dom) != 0) {
		api_error(r, 400, "\"address\" must be an address or @domain "
				  "(catch-all)");
		return;
	}
	json_t *targets = json_object_get(body, "targets");
	json_t *one = json_object_get(body, "target");
	json_t *list = json_array();
	if (json_is_string(one))
		json_array_append(list, one);
	else if (json_is_array(targets))
		json_array_extend(list, targets);
	if (json_array_size(list) == 0 || json_array_size(list) > 100) {
		json_decref(list);
		api_error(r, 400, "give \"target\" (a string) or \"targets\" "
				  "(1 to 100 strings)");
		return;
	}
	struct addr t;
	const char *why;
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL || addr_parse(s, strlen(s), 0, &t, &why) != 0) {
			json_decref(list);
			api_error(r, 400, "every target must be an email address");
			return;
		}
	}
	json_t *out = json_array();
	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		if (addr_parse(s, strlen(s), 0, &t, &why) != 0)
			continue;
		int rc = store_alias_add(r->app->store, address, t.full);
		if (rc != STORE_OK && rc != STORE_EXISTS) {
			json_decref(list);
			json_decref(out);
			api_store_error(r, rc);
			return;
		}
		web_audit(r, "alias-add", "%s -> %s", address, t.full);
		json_array_append_new(out, json_pack("{s:s,s:s}", "address", address,
						     "target", t.full));
	}
	json_decref(list);
	api_json(r, 201, out);
}

static void api_alias_del(struct web_req *r, json_t *body)
{
	(void)body;
	char in[ADDR_MAX + 2], address[ADDR_MAX + 2], dom[ADDR_DOMAIN_MAX + 1];
	if (web_cap(r, 0, in, sizeof in) != 0 ||
	    web_alias_address(in, address, sizeof address, dom) != 0) {
		api_error(r, 404, "no such alias");
		return;
	}
	const char *target = web_query(r, "target");
	int rc = store_alias_del(r->app->store, address,
				 target && *target ? target : NULL);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	web_audit(r, "alias-del", "%s -> %s", address, target ? target : "*");
	api_json(r, 200, json_pack("{s:s}", "deleted", address));
}

/* ---- queue ------------------------------------------------------------------- */

static int queue_cb(void *ctx, const struct store_queue_item *q)
{
	json_array_append_new(
		ctx, json_pack("{s:I,s:s,s:s,s:I,s:i,s:I,s:I,s:s}", "id",
			       (json_int_t)q->id, "sender", q->sender, "recipient",
			       q->recipient, "size", (json_int_t)q->size,
			       "attempts", q->attempts, "created",
			       (json_int_t)q->created, "next_attempt",
			       (json_int_t)q->next_attempt, "last_error",
			       q->last_error));
	return 0;
}

static void api_queue_get(struct web_req *r, json_t *body)
{
	(void)body;
	json_t *a = json_array();
	int rc = store_queue_list(r->app->store, queue_cb, a);
	if (rc != STORE_OK) {
		json_decref(a);
		api_store_error(r, rc);
		return;
	}
	api_json(r, 200, a);
}

static bool cap_id(struct web_req *r, int64_t *id_r)
{
	char s[24], *end;
	if (web_cap(r, 0, s, sizeof s) != 0 || s[0] == '\0')
		goto bad;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || v <= 0)
		goto bad;
	*id_r = v;
	return true;
bad:
	api_error(r, 404, "no such queue entry");
	return false;
}

static void api_queue_retry(struct web_req *r, json_t *body)
{
	(void)body;
	int64_t id;
	if (!cap_id(r, &id))
		return;
	int rc = store_queue_retry_now(r->app->store, id);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	web_audit(r, "queue-retry", "id=%lld", (long long)id);
	api_json(r, 200, json_pack("{s:I}", "retry", (json_int_t)id));
}

static void api_queue_del(struct web_req *r, json_t *body)
{
	(void)body;
	int64_t id;
	if (!cap_id(r, &id))
		return;
	int rc = store_queue_del(r->app->store, id);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	web_audit(r, "queue-del", "id=%lld", (long long)id);
	api_json(r, 200, json_pack("{s:I}", "deleted", (json_int_t)id));
}

/* ---- metrics (Prometheus text format) ------------------------------------ */

static void api_metrics(struct web_req *r, json_t *body)
{
	(void)body;
	struct store_stats s;
	time_t now = (time_t)r->now;
	struct tm tm;
	gmtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	int rc = store_stats_get(r->app->store, NULL, (int64_t)timegm(&tm), &s);
	if (rc != STORE_OK) {
		api_store_error(r, rc);
		return;
	}
	struct html *h = &r->out;
	r->content_type = "text/plain; version=0.0.4; charset=utf-8";
	static const struct {
		const char *name, *help;
		size_t off;
	} gauges[] = {
		{"mailroom_domains", "Local domains.", offsetof(struct store_stats, domains)},
		{"mailroom_accounts", "Accounts.", offsetof(struct store_stats, accounts)},
		{"mailroom_accounts_disabled", "Disabled accounts.",
		 offsetof(struct store_stats, disabled_accounts)},
		{"mailroom_accounts_near_quota", "Accounts at 90% of their quota or more.",
		 offsetof(struct store_stats, near_quota)},
		{"mailroom_alias_targets", "Alias rows (address to target).",
		 offsetof(struct store_stats, aliases)},
		{"mailroom_storage_bytes", "Mailbox bytes used.",
		 offsetof(struct store_stats, used_bytes)},
		{"mailroom_mailbox_messages", "Messages in mailboxes.",
		 offsetof(struct store_stats, messages)},
		{"mailroom_messages_today", "Messages received since 00:00 UTC.",
		 offsetof(struct store_stats, messages_today)},
		{"mailroom_queue_length", "Outbound messages waiting.",
		 offsetof(struct store_stats, queue)},
	};
	for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++) {
		int64_t v;
		memcpy(&v, (const char *)&s + gauges[i].off, sizeof v);
		html_fmt(h, "# HELP %R %R\n# TYPE %R gauge\n%R %D\n", gauges[i].name,
			 gauges[i].help, gauges[i].name, gauges[i].name, v);
	}
	html_fmt(h, "# HELP mailroom_webadmin_sessions Live panel sessions.\n"
		    "# TYPE mailroom_webadmin_sessions gauge\n"
		    "mailroom_webadmin_sessions %d\n"
		    "# HELP mailroom_webadmin_start_time_seconds When the panel started.\n"
		    "# TYPE mailroom_webadmin_start_time_seconds gauge\n"
		    "mailroom_webadmin_start_time_seconds %D\n",
		 session_count_live(&r->app->sessions, r->now), r->app->started);
}

/* ---- settings (read only; the panel's Settings page changes them) ---------- */

/* The outgoing-mail settings as the daemons will read them. The smarthost
 * password is never returned, only whether one is set. */
static void api_settings_get(struct web_req *r, json_t *body)
{
	(void)body;
	struct store *st = r->app->store;
	char host[CONFIG_VALUE_MAX] = "", user[ADDR_MAX + 1] = "";
	char pass[PASSWORD_MAX + 1] = "", size[32] = "";
	if (store_setting_get(st, "smarthost.host", host, sizeof host) != STORE_OK)
		host[0] = '\0';
	if (store_setting_get(st, "smarthost.user", user, sizeof user) != STORE_OK)
		user[0] = '\0';
	if (store_setting_get(st, "smarthost.password", pass, sizeof pass) != STORE_OK)
		pass[0] = '\0';
	bool pass_set = pass[0] != '\0';
	explicit_bzero(pass, sizeof pass);
	if (store_setting_get(st, "smtp.message_size_limit", size, sizeof size) !=
	    STORE_OK)
		size[0] = '\0';
	char *end;
	long long limit = strtoll(size, &end, 10);
	if (size[0] == '\0' || *end != '\0' || limit <= 0)
		limit = (long long)r->app->cfg->message_size_limit;
	api_json(r, 200,
		 json_pack("{s:s,s:s,s:b,s:I,s:b}", "smarthost", host,
			   "smarthost_user", user, "smarthost_password_set",
			   pass_set, "message_size_limit", (json_int_t)limit,
			   "message_size_limit_from_config", size[0] == '\0'));
}

/* ---- message trace (read only) ------------------------------------------------ */

static int trace_cb(void *ctx, const struct store_trace *t)
{
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id",
			      (json_int_t)t->id, "at", (json_int_t)t->at, "session",
			      t->session, "client_ip", t->client_ip, "helo", t->helo,
			      "sender", t->sender, "rcpts", t->rcpts, "message_id",
			      t->message_id, "outcome", t->outcome, "reply", t->reply);
	if (o == NULL)
		return 1; /* out of memory: stops the walk (not a STORE_E* code) */
	json_object_set_new(o, "spf", json_string(t->spf));
	json_object_set_new(o, "dkim", json_string(t->dkim));
	json_object_set_new(o, "dmarc", json_string(t->dmarc));
	json_object_set_new(o, "dnsbl", json_string(t->dnsbl));
	json_object_set_new(o, "spam_score", json_real((double)t->spam_score / 10));
	json_object_set_new(o, "details", json_string(t->details));
	json_array_append_new(ctx, o);
	return 0;
}

/* Newest first; ?address=a@b or @domain, ?before=ID for the next page,
 * ?limit=N (1..STORE_TRACE_LIST_MAX, default 100). */
static void api_trace_get(struct web_req *r, json_t *body)
{
	(void)body;
	const char *addr = web_query(r, "address");
	const char *before_s = web_query(r, "before");
	const char *limit_s = web_query(r, "limit");
	long long before = 0, limit = 100;
	char *end;
	if (before_s != NULL) {
		before = strtoll(before_s, &end, 10);
		if (*end != '\0' || before < 0) {
			api_error(r, 400, "before must be a trace id");
			return;
		}
	}
	if (limit_s != NULL) {
		limit = strtoll(limit_s, &end, 10);
		if (*end != '\0' || limit < 1 || limit > STORE_TRACE_LIST_MAX) {
			api_error(r, 400, "limit must be a number from 1 to 1000");
			return;
		}
	}
	if (addr != NULL && strlen(addr) > ADDR_MAX) {
		api_error(r, 400, "address too long");
		return;
	}
	json_t *a = json_array();
	int rc = store_trace_list(r->app->store, addr, before, (int)limit, trace_cb, a);
	if (rc != STORE_OK) {
		json_decref(a);
		if (rc > 0)
			api_error(r, 500, "out of memory");
		else
			api_store_error(r, rc);
		return;
	}
	api_json(r, 200, a);
}

/* ---- the gate ---------------------------------------------------------------- */

static const struct api_route api_routes[] = {
	{"GET", "/api/v1/domains", api_domains_get, false},
	{"POST", "/api/v1/domains", api_domains_post, true},
	{"DELETE", "/api/v1/domains/{}", api_domain_del, false},
	{"GET", "/api/v1/accounts", api_accounts_get, false},
	{"POST", "/api/v1/accounts", api_accounts_post, true},
	{"GET", "/api/v1/accounts/{}", api_account_get, false},
	{"PATCH", "/api/v1/accounts/{}", api_account_patch, true},
	{"DELETE", "/api/v1/accounts/{}", api_account_del, false},
	{"GET", "/api/v1/aliases", api_aliases_get, false},
	{"POST", "/api/v1/aliases", api_aliases_post, true},
	{"DELETE", "/api/v1/aliases/{}", api_alias_del, false},
	{"GET", "/api/v1/queue", api_queue_get, false},
	{"POST", "/api/v1/queue/{}/retry", api_queue_retry, false},
	{"DELETE", "/api/v1/queue/{}", api_queue_del, false},
	{"GET", "/api/v1/settings", api_settings_get, false},
	{"GET", "/api/v1/trace", api_trace_get, false},
	{"GET", "/metrics", api_metrics, false},
};

static bool api_auth(struct web_req *r)
{
	char key[80];
	snprintf(key, sizeof key, "api:%s", r->ip);
	int64_t wait = ratelimit_wait(&r->app->rl, key, r->now);
	if (wait > 0) {
		char retry[32];
		snprintf(retry, sizeof retry, "%lld", (long long)wait);
		web_add_header(r, "Retry-After", retry);
		api_error(r, 429, "too many bad tokens from this address; wait "
				  "and try again");
		return false;
	}
	const char *auth = web_header(r, "Authorization");
	struct store_token t;
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0) {
		web_add_header(r, "WWW-Authenticate", "Bearer realm=\"mailroom\"");
		api_error(r, 401, "send an API token: Authorization: Bearer TOKEN "
				  "(mailroomctl token add NAME makes one)");
		return false;
	}
	const char *tok = auth + 7;
	while (*tok == ' ')
		tok++;
	if (store_token_check(r->app->store, tok, &t) != STORE_OK) {
		ratelimit_fail(&r->app->rl, key, r->now);
		log_warn("webadmin: event=api-auth-failed ip=%s", r->ip);
		web_add_header(r, "WWW-Authenticate",
			       "Bearer realm=\"mailroom\", error=\"invalid_token\"");
		api_error(r, 401, "this API token is not valid (revoked or mistyped)");
		return false;
	}
	r->user.logged_in = true;
	r->user.role = STORE_ROLE_ADMIN;
	snprintf(r->user.actor, sizeof r->user.actor, "token:%s", t.name);
	return true;
}

void api_dispatch(struct web_req *r)
{
	const struct api_route *route = NULL;
	bool path_known = false;
	for (size_t i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++) {
		size_t nc = 0;
		if (!route_match(api_routes[i].pattern, r->path, strlen(r->path),
				 r->caps, &nc))
			continue;
		path_known = true;
		if (strcmp(api_routes[i].method, r->method) == 0) {
			route = &api_routes[i];
			r->ncaps = nc;
			break;
		}
	}
	if (!api_auth(r))
		return;
	if (route == NULL) {
		api_error(r, path_known ? 405 : 404,
			  path_known ? "method not allowed here" : "no such API path");
		return;
	}
	json_t *body = NULL;
	if (route->has_body) {
		const char *ct = web_header(r, "Content-Type");
		if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
			api_error(r, 415, "send JSON with Content-Type: application/json");
			return;
		}
		json_error_t jerr;
		body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!json_is_object(body)) {
			char msg[256];
			snprintf(msg, sizeof msg, "the body must be a JSON object (%s)",
				 body ? "not an object" : jerr.text);
			json_decref(body);
			api_error(r, 400, msg);
			return;
		}
	}
	route->handler(r, body);
	json_decref(body);
}
