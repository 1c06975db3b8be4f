/*
 * router.c - the one gate every page passes: the route table, first-run
 * setup mode, the session cookie, the role check and the CSRF check.
 *
 * Handlers never re-check login, role or CSRF: the table says what a page
 * needs and this file enforces it before the handler runs. The only
 * per-object check left to handlers is the domain scope of a domain admin
 * (web_can_manage_domain), because it depends on which object is named.
 *
 * Roles: admin may do everything; a domain admin manages the accounts and
 * aliases of the domain of their own address plus the domains an admin
 * gave them (kept as the setting "domain-admin:<address>"); a user only
 * reaches their own page.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "web.h"

enum {
	NEED_NONE = -1, /* anonymous is fine */
	NEED_USER = STORE_ROLE_USER,
	NEED_DOMAIN_ADMIN = STORE_ROLE_DOMAIN_ADMIN,
	NEED_ADMIN = STORE_ROLE_ADMIN,
};

enum {
	R_SETUP = 1 << 0,   /* served while no admin exists */
	R_PRECSRF = 1 << 1, /* before login: the handler checks the mr_pre token */
	R_RAW = 1 << 2,     /* a machine's POST (XML): raw body, no form, no CSRF;
			       only for handlers that change nothing */
};

struct web_route {
	const char *method;
	const char *pattern;
	web_handler handler;
	int need;
	unsigned flags;
};

static const struct web_route routes[] = {
	{"GET", "/style.css", h_css, NEED_NONE, R_SETUP},
	{"GET", "/favicon.ico", h_favicon, NEED_NONE, R_SETUP},
	{"GET", "/branding/logo", h_logo, NEED_NONE, R_SETUP},
	{"GET", "/.well-known/autoconfig/mail/config-v1.1.xml", h_autoconfig,
	 NEED_NONE, R_SETUP},
	{"GET", "/mail/config-v1.1.xml", h_autoconfig, NEED_NONE, R_SETUP},
	{"POST", "/autodiscover/autodiscover.xml", h_autodiscover, NEED_NONE,
	 R_SETUP | R_RAW},
	{"POST", "/Autodiscover/Autodiscover.xml", h_autodiscover, NEED_NONE,
	 R_SETUP | R_RAW},
	{"GET", "/setup", h_setup_get, NEED_NONE, R_SETUP},
	{"POST", "/setup", h_setup_post, NEED_NONE, R_SETUP | R_PRECSRF},
	{"GET", "/login", h_login_get, NEED_NONE, 0},
	{"POST", "/login", h_login_post, NEED_NONE, R_PRECSRF},
	{"POST", "/logout", h_logout, NEED_USER, 0},
	{"GET", "/", h_home, NEED_USER, 0},
	{"GET", "/me", h_me, NEED_USER, 0},
	{"POST", "/me/password", h_me_password, NEED_USER, 0},
	{"GET", "/me/howto", h_me_howto, NEED_USER, 0},
	{"POST", "/me/vacation", h_me_vacation, NEED_USER, 0},
	{"POST", "/me/forward", h_me_forward, NEED_USER, 0},
	{"GET", "/accounts/howto", h_account_howto, NEED_DOMAIN_ADMIN, 0},
	/* rules: the handlers check whose list (rule_scope_get) */
	{"GET", "/rules", h_rules, NEED_USER, 0},
	{"GET", "/rules/export", h_rule_export, NEED_USER, 0},
	{"POST", "/rules/add", h_rule_add, NEED_USER, 0},
	{"POST", "/rules/toggle", h_rule_toggle, NEED_USER, 0},
	{"POST", "/rules/move", h_rule_move, NEED_USER, 0},
	{"POST", "/rules/delete", h_rule_del, NEED_USER, 0},
	{"POST", "/rules/try", h_rule_try, NEED_USER, 0},
	{"POST", "/rules/import", h_rule_import, NEED_USER, 0},
	{"GET", "/domains", h_domains, NEED_ADMIN, 0},
	{"POST", "/domains/add", h_domain_add, NEED_ADMIN, 0},
	{"POST", "/domains/delete", h_domain_del, NEED_ADMIN, 0},
	{"GET", "/accounts", h_accounts, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/accounts/add", h_account_add, NEED_DOMAIN_ADMIN, 0},
	{"GET", "/accounts/edit", h_account_edit_get, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/accounts/edit", h_account_edit_post, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/accounts/password", h_account_password, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/accounts/delete", h_account_del, NEED_DOMAIN_ADMIN, 0},
	{"GET", "/aliases", h_aliases, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/aliases/add", h_alias_add, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/aliases/delete", h_alias_del, NEED_DOMAIN_ADMIN, 0},
	{"GET", "/queue", h_queue, NEED_ADMIN, 0},
	{"POST", "/queue/retry", h_queue_retry, NEED_ADMIN, 0},
	{"POST", "/queue/delete", h_queue_del, NEED_ADMIN, 0},
	{"GET", "/audit", h_audit, NEED_ADMIN, 0},
	{"GET", "/dns", h_dns, NEED_ADMIN, 0},
	{"GET", "/checks", h_checks, NEED_ADMIN, 0},
	{"POST", "/checks", h_checks_post, NEED_ADMIN, 0},
	{"GET", "/trace", h_trace, NEED_ADMIN, 0},
	{"GET", "/settings", h_settings, NEED_ADMIN, 0},
	{"POST", "/settings", h_settings_post, NEED_ADMIN, 0},
	{"POST", "/settings/outgoing", h_settings_outgoing, NEED_ADMIN, 0},
	{"POST", "/settings/token-add", h_token_add, NEED_ADMIN, 0},
	{"POST", "/settings/token-del", h_token_del, NEED_ADMIN, 0},
	{"POST", "/settings/backup", h_backup, NEED_ADMIN, 0},
	{"POST", "/settings/certificate", h_certificate, NEED_ADMIN, 0},
	{"GET", "/accounts/import", h_import_get, NEED_DOMAIN_ADMIN, 0},
	{"POST", "/accounts/import", h_import_post, NEED_DOMAIN_ADMIN, 0},
};

/* Once an admin exists, setup mode is off; the fact is re-read every
 * ADMIN_RECHECK_SECONDS so a hot page does not count admins per request. */
#define ADMIN_RECHECK_SECONDS 10

bool web_needs_setup(struct web_app *app)
{
	int64_t now = (int64_t)time(NULL);
	if (now < app->admin_seen_until)
		return false;
	int64_t n = 0;
	if (store_account_count(app->store, STORE_ROLE_ADMIN, &n) != STORE_OK)
		return false; /* a broken store is not a reason to offer setup */
	if (n > 0)
		app->admin_seen_until = now + ADMIN_RECHECK_SECONDS;
	return n == 0;
}

bool web_can_manage_domain(const struct web_user *u, const char *domain)
{
	if (!u->logged_in)
		return false;
	if (u->role == STORE_ROLE_ADMIN)
		return true;
	if (u->role != STORE_ROLE_DOMAIN_ADMIN || domain == NULL)
		return false;
	for (size_t i = 0; i < u->n_domains; i++)
		if (strcmp(u->domains[i], domain) == 0)
			return true;
	return false;
}

void web_managed_domains_get(struct web_app *app, const char *address,
			     char *dst, size_t dstlen)
{
	char key[ADDR_MAX + 32];
	snprintf(key, sizeof key, "%s%s", WEB_MANAGED_DOMAINS_KEY, address);
	if (store_setting_get(app->store, key, dst, dstlen) != STORE_OK)
		dst[0] = '\0';
}

void web_managed_domains_load(struct web_app *app, struct web_user *u)
{
	char list[WEB_MANAGED_DOMAINS_MAX * (ADDR_DOMAIN_MAX + 2)];
	u->n_domains = 0;
	snprintf(u->domains[u->n_domains++], ADDR_DOMAIN_MAX + 1, "%s", u->domain);
	if (u->role != STORE_ROLE_DOMAIN_ADMIN)
		return;
	web_managed_domains_get(app, u->address, list, sizeof list);
	const char *p = list;
	while (*p && u->n_domains < WEB_MANAGED_DOMAINS_MAX) {
		size_t n = strcspn(p, ",");
		if (n > 0 && n <= ADDR_DOMAIN_MAX) {
			memcpy(u->domains[u->n_domains], p, n);
			u->domains[u->n_domains][n] = '\0';
			if (strcmp(u->domains[u->n_domains], u->domain) != 0)
				u->n_domains++;
		}
		p += n;
		if (*p == ',')
			p++;
	}
}

int web_managed_domains_save(struct web_app *app, const char *address,
			     const char *list, char *bad, size_t badlen)
{
	char out[WEB_MANAGED_DOMAINS_MAX * (ADDR_DOMAIN_MAX + 2)] = "";
	char key[ADDR_MAX + 32];
	size_t o = 0, count = 0;
	const char *p = list ? list : "";
	bad[0] = '\0';
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == ';')
			p++;
		size_t n = strcspn(p, ", ;");
		if (n == 0)
			break;
		char d[ADDR_DOMAIN_MAX + 1];
		const char *why;
		if (addr_domain_normalise(p, n, d, &why) != 0 ||
		    store_domain_exists(app->store, d) != 1 ||
		    count + 1 == WEB_MANAGED_DOMAINS_MAX) {
			snprintf(bad, badlen, "%.*s",
				 (int)(n > ADDR_DOMAIN_MAX ? ADDR_DOMAIN_MAX : n), p);
			return STORE_INVALID;
		}
		int w = snprintf(out + o, sizeof out - o, "%s%s", o ? "," : "", d);
		if (w < 0 || (size_t)w >= sizeof out - o)
			return STORE_INVALID;
		o += (size_t)w;
		count++;
		p += n;
	}
	snprintf(key, sizeof key, "%s%s", WEB_MANAGED_DOMAINS_KEY, address);
	return store_setting_set(app->store, key, out);
}

bool web_is_last_admin(struct web_app *app, const struct store_account *a)
{
	int64_t n = 0;
	if (a->role != STORE_ROLE_ADMIN)
		return false;
	if (store_account_count(app->store, STORE_ROLE_ADMIN, &n) != STORE_OK)
		return true; /* unsure: refuse rather than open setup mode */
	return n <= 1;
}

const char *web_store_error(struct web_app *app, int rc)
{
	switch (rc) {
	case STORE_NOTFOUND:
		return "Not found.";
	case STORE_EXISTS:
		return "That already exists.";
	case STORE_NOTEMPTY:
		return "It still has accounts or aliases.";
	case STORE_INVALID:
		return store_errmsg(app->store);
	case STORE_BUSY:
		return "The database is busy; please try again.";
	case STORE_FULL:
		return "The disk is full.";
	default:
		return "Internal error (see the server log).";
	}
}

void web_audit(struct web_req *r, const char *action, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	r->app->stats_cache.valid = false;
	int rc = store_audit_add(r->app->store, r->user.actor, action, detail);
	if (rc != STORE_OK)
		log_error("webadmin: event=audit-failed action=%s error=%s", action,
			  store_errmsg(r->app->store));
	char esc[LOG_ESCAPED_MAX];
	log_info("webadmin: event=change ip=%s actor=\"%s\" action=%s", r->ip,
		 log_escape(esc, sizeof esc, r->user.actor, strlen(r->user.actor)),
		 action);
}

/* Fill r->user from the mr_sid cookie when it names a live session of an
 * enabled account. */
static void load_session(struct web_req *r)
{
	char sid[SESSION_ID_HEX + 1];
	const char *cookie = web_header(r, "Cookie");
	if (cookie == NULL ||
	    cookie_get(cookie, strlen(cookie), "mr_sid", sid, sizeof sid) != 0)
		return;
	struct session *s = session_find(&r->app->sessions, sid, r->now);
	if (s == NULL)
		return;
	struct store_account a;
	if (store_account_get(r->app->store, s->address, &a) != STORE_OK ||
	    !a.enabled) {
		session_destroy(&r->app->sessions, sid);
		return;
	}
	struct web_user *u = &r->user;
	u->logged_in = true;
	snprintf(u->address, sizeof u->address, "%s", a.address);
	snprintf(u->domain, sizeof u->domain, "%s", a.domain);
	snprintf(u->display_name, sizeof u->display_name, "%s", a.display_name);
	u->role = a.role;
	memcpy(u->sid, sid, sizeof u->sid);
	session_token(&r->app->sessions, "csrf", sid, u->csrf);
	snprintf(u->actor, sizeof u->actor, "%s", a.address);
	web_managed_domains_load(r->app, u);
	r->session = s;
}

static bool is_form(struct web_req *r)
{
	const char *ct = web_header(r, "Content-Type");
	return ct != NULL &&
	       strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
}

void web_dispatch(struct web_req *r)
{
	if (strncmp(r->path, "/api/", 5) == 0 || strcmp(r->path, "/api") == 0 ||
	    strcmp(r->path, "/metrics") == 0) {
		api_dispatch(r);
		return;
	}
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;
	const struct web_route *route = NULL;
	bool path_known = false;
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		size_t nc = 0;
		if (!route_match(routes[i].pattern, r->path, strlen(r->path),
				 r->caps, &nc))
			continue;
		path_known = true;
		if (strcmp(routes[i].method, method) == 0) {
			route = &routes[i];
			r->ncaps = nc;
			break;
		}
	}
	if (route == NULL) {
		if (path_known) {
			web_add_header(r, "Allow", "GET, HEAD, POST");
			web_error_page(r, 405, "This page does not take that method.");
		} else {
			web_error_page(r, 404, "There is no such page.");
		}
		return;
	}
	if (r->is_post && !(route->flags & R_RAW)) {
		if (!is_form(r)) {
			web_error_page(r, 415, "Forms must be sent as "
					       "application/x-www-form-urlencoded.");
			return;
		}
		if (form_parse(r->body, r->body_len, &r->form) != 0) {
			web_error_page(r, 400, "The form data could not be read.");
			return;
		}
	}

	bool setup = web_needs_setup(r->app);
	if (setup && !(route->flags & R_SETUP)) {
		web_redirect(r, "/setup");
		return;
	}
	if (!setup && strcmp(route->pattern, "/setup") == 0) {
		web_redirect(r, "/login");
		return;
	}

	load_session(r);
	if (route->need != NEED_NONE && !r->user.logged_in) {
		if (r->is_post)
			web_error_page(r, 403, "Please log in again.");
		else
			web_redirect(r, "/login");
		return;
	}
	if (route->need != NEED_NONE && (int)r->user.role < route->need) {
		web_error_page(r, 403, "Your account does not have access to "
				       "this page.");
		return;
	}
	if (r->is_post && !(route->flags & (R_PRECSRF | R_RAW)) &&
	    !session_token_ok(&r->app->sessions, "csrf", r->user.sid,
			      web_field(r, "csrf"))) {
		char esc[LOG_ESCAPED_MAX];
		log_warn("webadmin: event=csrf-refused ip=%s path=%s", r->ip,
			 log_escape(esc, sizeof esc, r->path, strlen(r->path)));
		web_error_page(r, 403, "This form has expired or did not come "
				       "from this panel. Go back, reload the "
				       "page and try again.");
		return;
	}
	route->handler(r);
}
