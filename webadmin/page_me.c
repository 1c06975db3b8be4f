/*
 * page_me.c - self-service for every account: see your quota use and
 * change your own password (the current one is asked again, so a session
 * left open on a shared computer cannot lock its owner out).
 */
#include <stdio.h>
#include <string.h>

#include "../common/log.h"
#include "web.h"

#define PASSWORD_MIN 8

void h_me(struct web_req *r)
{
	struct store_account a;
	int rc = store_account_get(r->app->store, r->user.address, &a);
	if (rc != STORE_OK) {
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	struct html *h = &r->out;
	char used[32], quota[32];
	html_size(used, sizeof used, a.used_bytes);
	page_begin(r, "My account");
	html_fmt(h, "<section><p><b>%s</b>", a.address);
	if (a.display_name[0])
		html_fmt(h, " (%s)", a.display_name);
	html_fmt(h, "</p><p>%D message%R, %s stored", a.messages,
		 a.messages == 1 ? "" : "s", used);
	if (a.quota_bytes > 0) {
		html_size(quota, sizeof quota, a.quota_bytes);
		int pct = (int)(a.used_bytes * 100 / a.quota_bytes);
		html_fmt(h, " of %s (%d%%) <meter min=\"0\" max=\"%D\" value=\"%D\" "
			    "high=\"%D\"></meter>",
			 quota, pct, a.quota_bytes, a.used_bytes,
			 a.quota_bytes / 100 * STORE_NEAR_QUOTA_PERCENT);
	} else {
		html_raw(h, " (no limit)");
	}
	html_raw(h, "</p><p><a href=\"/me/howto\">How to set up your mail "
		    "program or phone</a></p><p><a href=\"/rules\">My mail rules "
		    "(filters, Sieve)</a></p></section>");

	rules_section(r, a.id);
	html_raw(h, "<section><h2>Change my password</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/me/password\">");
	page_csrf(r);
	html_fmt(h,
		 "<input type=\"hidden\" name=\"username\" value=\"%s\" "
		 "autocomplete=\"username\">"
		 "<div><label for=\"current\">Current password</label>"
		 "<input id=\"current\" name=\"current\" type=\"password\" "
		 "autocomplete=\"current-password\" required></div>"
		 "<div><label for=\"password\">New password<small>At least 8 "
		 "characters.</small></label><input id=\"password\" "
		 "name=\"password\" type=\"password\" autocomplete=\"new-password\" "
		 "required minlength=\"8\"></div>"
		 "<div><label for=\"password2\">New password again</label>"
		 "<input id=\"password2\" name=\"password2\" type=\"password\" "
		 "autocomplete=\"new-password\" required minlength=\"8\"></div>"
		 "<div><button type=\"submit\">Change password</button></div>"
		 "</form></section>",
		 a.address);
	page_end(r);
}

void h_me_password(struct web_req *r)
{
	const char *cur = web_field(r, "current");
	const char *pw = web_field(r, "password");
	const char *pw2 = web_field(r, "password2");
	struct store_account a;
	char ipkey[ADDR_MAX + 8];

	snprintf(ipkey, sizeof ipkey, "acct:%s", r->user.address);
	if (ratelimit_wait(&r->app->rl, ipkey, r->now) > 0) {
		web_redirect_msg(r, "/me", "error",
				 "Too many wrong passwords; wait a little.");
		return;
	}
	if (cur == NULL || store_account_authenticate(r->app->store, r->user.address,
						      cur, &a) != STORE_OK) {
		ratelimit_fail(&r->app->rl, ipkey, r->now);
		web_redirect_msg(r, "/me", "error",
				 "Your current password is not right.");
		return;
	}
	if (pw == NULL || strlen(pw) < PASSWORD_MIN || strlen(pw) > PASSWORD_MAX) {
		web_redirect_msg(r, "/me", "error",
				 "The new password needs at least 8 characters.");
		return;
	}
	if (pw2 == NULL || strcmp(pw, pw2) != 0) {
		web_redirect_msg(r, "/me", "error",
				 "The two new passwords are not the same.");
		return;
	}
	char hash[PASSWORD_HASH_MAX + 1];
	int rc = store_password_hash(pw, hash, sizeof hash) == STORE_OK
			 ? store_account_set_password(r->app->store,
						      r->user.address, hash)
			 : STORE_ERROR;
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/me", "error", web_store_error(r->app, rc));
		return;
	}
	session_destroy_address(&r->app->sessions, r->user.address, r->user.sid);
	web_audit(r, "own-password", "%s", r->user.address);
	web_redirect_msg(r, "/me", "ok", "Your password was changed.");
}
