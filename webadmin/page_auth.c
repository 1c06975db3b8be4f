/*
 * page_auth.c - logging in and out, and the first-run setup wizard.
 *
 * SECURITY: these are the pages anyone on the network can reach. Before
 * login there is no session, so the forms carry a token bound to the
 * mr_pre cookie (HMAC, see session.h): a page on another site can neither
 * read the cookie nor compute the token, so it cannot log a victim into
 * the attacker's account or run the setup. Logins are rate limited per
 * client IP and per account; a refused attempt never reaches the password
 * check. Every failure gives the same words whatever was wrong. A login
 * always makes a new session id (no fixation).
 */
#include <stdio.h>
#include <string.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "web.h"

#define PASSWORD_MIN 8

/* The mr_pre value from the cookie, or a new one set on the response. */
static void pre_cookie(struct web_req *r, char pre[SESSION_ID_HEX + 1])
{
	const char *cookie = web_header(r, "Cookie");
	if (cookie != NULL &&
	    cookie_get(cookie, strlen(cookie), "mr_pre", pre, SESSION_ID_HEX + 1) == 0 &&
	    strlen(pre) == SESSION_ID_HEX)
		return;
	if (session_random_hex(pre) != 0) {
		pre[0] = '\0';
		return;
	}
	web_set_cookie(r, "mr_pre", pre, -1);
}

static bool pre_token_ok(struct web_req *r)
{
	char pre[SESSION_ID_HEX + 1];
	const char *cookie = web_header(r, "Cookie");
	if (cookie == NULL ||
	    cookie_get(cookie, strlen(cookie), "mr_pre", pre, sizeof pre) != 0)
		return false;
	return session_token_ok(&r->app->sessions, "pre", pre,
				web_field(r, "csrf"));
}

static void pre_field(struct web_req *r)
{
	char pre[SESSION_ID_HEX + 1], tok[CSRF_HEX + 1];
	pre_cookie(r, pre);
	session_token(&r->app->sessions, "pre", pre, tok);
	html_fmt(&r->out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", tok);
}

static void login_form(struct web_req *r, const char *address, const char *error)
{
	page_begin(r, "Log in");
	struct html *h = &r->out;
	html_raw(h, "<section class=\"login\">");
	if (error)
		html_fmt(h, "<p class=\"flash error\" role=\"alert\">%s</p>", error);
	html_raw(h, "<form class=\"stack\" method=\"post\" action=\"/login\">");
	pre_field(r);
	html_fmt(h,
		 "<div><label for=\"address\">Email address</label>"
		 "<input id=\"address\" name=\"address\" type=\"email\" "
		 "autocomplete=\"username\" required autofocus value=\"%s\"></div>"
		 "<div><label for=\"password\">Password</label>"
		 "<input id=\"password\" name=\"password\" type=\"password\" "
		 "autocomplete=\"current-password\" required></div>"
		 "<div><button type=\"submit\">Log in</button></div></form>"
		 "</section>",
		 address ? address : "");
	page_end(r);
}

void h_login_get(struct web_req *r)
{
	login_form(r, NULL, NULL);
}

static void login_session(struct web_req *r, const char *address)
{
	char sid[SESSION_ID_HEX + 1];
	if (session_create(&r->app->sessions, address, r->now, sid) != 0) {
		web_error_page(r, 500, "Could not start a session.");
		return;
	}
	web_set_cookie(r, "mr_sid", sid, -1);
	web_set_cookie(r, "mr_pre", "", 0);
	explicit_bzero(sid, sizeof sid);
}

void h_login_post(struct web_req *r)
{
	char esc[LOG_ESCAPED_MAX];
	if (!pre_token_ok(r)) {
		log_warn("webadmin: event=csrf-refused ip=%s path=/login", r->ip);
		r->status = 403;
		login_form(r, NULL, "The login form expired. Please try again.");
		return;
	}
	const char *in = web_field(r, "address");
	const char *password = web_field(r, "password");
	struct addr a;
	const char *why;
	if (in == NULL || password == NULL ||
	    addr_parse(in, strlen(in), 0, &a, &why) != 0) {
		r->status = 401;
		login_form(r, in, "Wrong address or password.");
		return;
	}
	char ipkey[80], acctkey[ADDR_MAX + 8];
	snprintf(ipkey, sizeof ipkey, "ip:%s", r->ip);
	snprintf(acctkey, sizeof acctkey, "acct:%s", a.full);
	int64_t wait = ratelimit_wait(&r->app->rl, ipkey, r->now);
	int64_t wait2 = ratelimit_wait(&r->app->rl, acctkey, r->now);
	if (wait2 > wait)
		wait = wait2;
	if (wait > 0) {
		char msg[160];
		log_warn("webadmin: event=login-throttled ip=%s user=\"%s\" wait=%lld",
			 r->ip, log_escape(esc, sizeof esc, a.full, strlen(a.full)),
			 (long long)wait);
		snprintf(msg, sizeof msg,
			 "Too many failed attempts. Please wait %lld second%s and "
			 "try again.", (long long)wait, wait == 1 ? "" : "s");
		char retry[32];
		snprintf(retry, sizeof retry, "%lld", (long long)wait);
		web_add_header(r, "Retry-After", retry);
		r->status = 429;
		login_form(r, a.full, msg);
		return;
	}
	struct store_account acct;
	int rc = store_account_authenticate(r->app->store, a.full, password, &acct);
	if (rc != STORE_OK) {
		ratelimit_fail(&r->app->rl, ipkey, r->now);
		ratelimit_fail(&r->app->rl, acctkey, r->now);
		log_warn("webadmin: event=login-failed ip=%s user=\"%s\"", r->ip,
			 log_escape(esc, sizeof esc, a.full, strlen(a.full)));
		r->status = 401;
		login_form(r, a.full, "Wrong address or password.");
		return;
	}
	ratelimit_clear(&r->app->rl, ipkey);
	ratelimit_clear(&r->app->rl, acctkey);
	log_info("webadmin: event=login ip=%s user=\"%s\" role=%s", r->ip,
		 log_escape(esc, sizeof esc, a.full, strlen(a.full)),
		 store_role_name(acct.role));
	login_session(r, a.full);
	if (r->status == 200)
		web_redirect(r, acct.role == STORE_ROLE_USER ? "/me" : "/");
}

void h_logout(struct web_req *r)
{
	session_destroy(&r->app->sessions, r->user.sid);
	web_set_cookie(r, "mr_sid", "", 0);
	web_redirect(r, "/login");
}

/* ---- first-run setup ------------------------------------------------------ */

static void setup_form(struct web_req *r, const char *domain,
		       const char *hostname, const char *local,
		       const char *field, const char *error)
{
	struct html *h = &r->out;
	page_begin(r, "Welcome to Mailroom");
	html_raw(h, "<section><p>Three answers and your mail server is ready. "
		    "You will then see the DNS records to ask your provider "
		    "for.</p>");
	html_raw(h, "<form class=\"stack\" method=\"post\" action=\"/setup\">");
	pre_field(r);
#define FIELD_ERR(name)                                                      \
	if (error && field && strcmp(field, name) == 0)                       \
	html_fmt(h, "<span class=\"flash error\" id=\"" name "-err\">%s</span>", error)
	html_fmt(h,
		 "<div><label for=\"domain\">Your mail domain"
		 "<small>The part after the @ in everyone's address, e.g. "
		 "example.com</small></label>"
		 "<input id=\"domain\" name=\"domain\" required value=\"%s\">",
		 domain ? domain : "");
	FIELD_ERR("domain");
	html_fmt(h,
		 "</div><div><label for=\"hostname\">This server's name"
		 "<small>The name mail programs connect to, e.g. "
		 "mail.example.com</small></label>"
		 "<input id=\"hostname\" name=\"hostname\" required value=\"%s\">",
		 hostname ? hostname : r->app->cfg->hostname);
	FIELD_ERR("hostname");
	html_fmt(h,
		 "</div><div><label for=\"local\">Your admin login"
		 "<small>The part before the @; you log in as this address"
		 "</small></label>"
		 "<input id=\"local\" name=\"local\" required value=\"%s\">",
		 local ? local : "admin");
	FIELD_ERR("local");
	html_raw(h,
		 "</div><div><label for=\"password\">Admin password"
		 "<small>At least 8 characters</small></label>"
		 "<input id=\"password\" name=\"password\" type=\"password\" "
		 "autocomplete=\"new-password\" required minlength=\"8\">");
	FIELD_ERR("password");
	html_raw(h,
		 "</div><div><label for=\"password2\">Password again</label>"
		 "<input id=\"password2\" name=\"password2\" type=\"password\" "
		 "autocomplete=\"new-password\" required minlength=\"8\"></div>"
		 "<div><button type=\"submit\">Set up my mail server</button></div>"
		 "</form></section>");
#undef FIELD_ERR
	page_end(r);
}

void h_setup_get(struct web_req *r)
{
	setup_form(r, NULL, NULL, NULL, NULL, NULL);
}

void h_setup_post(struct web_req *r)
{
	const char *domain_in = web_field(r, "domain");
	const char *host_in = web_field(r, "hostname");
	const char *local = web_field(r, "local");
	const char *pw = web_field(r, "password");
	const char *pw2 = web_field(r, "password2");
	char domain[ADDR_DOMAIN_MAX + 1], host[ADDR_DOMAIN_MAX + 1];
	char address[ADDR_MAX + 1];
	const char *why;
	struct addr a;

	if (!pre_token_ok(r)) {
		r->status = 403;
		setup_form(r, domain_in, host_in, local, "domain",
			   "The form expired. Please send it again.");
		return;
	}
#define REFUSE(field, msg)                                                    \
	do {                                                                  \
		r->status = 400;                                              \
		setup_form(r, domain_in, host_in, local, field, msg);         \
		return;                                                       \
	} while (0)
	if (domain_in == NULL ||
	    addr_domain_normalise(domain_in, strlen(domain_in), domain, &why) != 0)
		REFUSE("domain", "That is not a domain name (like example.com).");
	if (host_in == NULL ||
	    addr_domain_normalise(host_in, strlen(host_in), host, &why) != 0)
		REFUSE("hostname", "That is not a host name (like mail.example.com).");
	if (local == NULL ||
	    snprintf(address, sizeof address, "%s@%s", local, domain) >=
		    (int)sizeof address ||
	    addr_parse(address, strlen(address), 0, &a, &why) != 0)
		REFUSE("local", "Use letters, digits, dots or dashes, like admin.");
	if (pw == NULL || strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX)
		REFUSE("password", "The password needs at least 8 characters.");
	if (pw2 == NULL || strcmp(pw, pw2) != 0)
		REFUSE("password", "The two passwords are not the same.");
#undef REFUSE

	struct store *st = r->app->store;
	char hash[PASSWORD_HASH_MAX + 1];
	int rc = store_domain_add(st, domain);
	if (rc != STORE_OK && rc != STORE_EXISTS) {
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	if (store_password_hash(pw, hash, sizeof hash) != STORE_OK) {
		web_error_page(r, 500, "Could not hash the password.");
		return;
	}
	rc = store_account_add(st, a.full, hash, STORE_ROLE_ADMIN, "Administrator", 0);
	if (rc == STORE_EXISTS)
		rc = store_account_set_password(st, a.full, hash) == STORE_OK
			     ? store_account_update(st, a.full,
						    &(struct store_account_change){
							    NULL, -1, 1,
							    STORE_ROLE_ADMIN})
			     : STORE_ERROR;
	if (rc != STORE_OK) {
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	if (store_setting_set(st, "hostname", host) != STORE_OK)
		log_warn("webadmin: event=setting-failed key=hostname");
	snprintf(r->user.actor, sizeof r->user.actor, "setup:%s", r->ip);
	web_audit(r, "setup", "domain=%s hostname=%s admin=%s", domain, host, a.full);
	login_session(r, a.full);
	if (r->status == 200)
		web_redirect(r, "/dns?welcome=1");
}
