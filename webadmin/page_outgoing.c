/*
 * page_outgoing.c - the "Outgoing mail" part of the settings page: the
 * smarthost (the provider's relay every outgoing message goes through)
 * with its login, and the largest message the server takes.
 *
 * They are store settings, because this unprivileged process does not
 * write mailroom.conf: smarthost.host ("host:port", "" = deliver by MX),
 * smarthost.user and smarthost.password are read by mailroom-queued when
 * it starts (outbound/main.c; a [smtp] smarthost in the config file wins),
 * smtp.message_size_limit (bytes, decimal; "" = the config's limit) by
 * mailroom-smtpd. The password is write-only: the page says only whether
 * one is set, an empty field keeps it, and it never reaches a log line or
 * the audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/addr.h"
#include "web.h"

#define MB (1024LL * 1024)
#define SIZE_LIMIT_MAX_MB 4096 /* the config file's own bound (4 GiB) */

/* f is NULL when nothing was refused (form_error.c does the rest). */
static void field_error(struct html *h, const struct outgoing_form *f,
			const char *field)
{
	if (f != NULL)
		form_field_error(h, f->field, f->error, field);
}

static const char *invalid(const struct outgoing_form *f, const char *field)
{
	return f != NULL ? form_invalid(f->field, f->error, field) : "";
}

/* A stored setting, or "" when unset or unreadable. */
static void setting(struct web_req *r, const char *key, char *dst, size_t len)
{
	if (store_setting_get(r->app->store, key, dst, len) != STORE_OK)
		dst[0] = '\0';
}

void settings_outgoing_section(struct web_req *r, const struct outgoing_form *f)
{
	struct html *h = &r->out;
	char host[CONFIG_VALUE_MAX], user[ADDR_MAX + 1], pass[PASSWORD_MAX + 1];
	char size[32], size_mb[32] = "";
	setting(r, "smarthost.host", host, sizeof host);
	setting(r, "smarthost.user", user, sizeof user);
	setting(r, "smarthost.password", pass, sizeof pass);
	bool pass_set = pass[0] != '\0';
	explicit_bzero(pass, sizeof pass);
	setting(r, "smtp.message_size_limit", size, sizeof size);
	if (size[0] != '\0') {
		char *end;
		long long n = strtoll(size, &end, 10);
		if (*end == '\0' && n > 0 && n % MB == 0)
			snprintf(size_mb, sizeof size_mb, "%lld", n / MB);
		else if (*end == '\0' && n > 0)
			snprintf(size_mb, sizeof size_mb, "%.1f", (double)n / MB);
	}
	char deflt[32];
	html_size(deflt, sizeof deflt, r->app->cfg->message_size_limit);

	html_raw(h, "<section><h2>Outgoing mail</h2>");
	if (r->app->cfg->smarthost[0] != '\0')
		html_fmt(h, "<p class=\"flash error\" id=\"smarthost-config\">The "
			    "configuration file %s sets the smarthost %s; it is used "
			    "instead of the one below until it is removed there.</p>",
			 r->app->cfg->path, r->app->cfg->smarthost);
	html_raw(h, "<form class=\"stack\" method=\"post\" "
		    "action=\"/settings/outgoing\">");
	page_csrf(r);
	html_fmt(h,
		 "<div><label for=\"smarthost\">Smarthost<small>The server of "
		 "your internet provider that sends mail on for you, as "
		 "name:port (for example smtp.provider.example:587). Empty: "
		 "this server delivers to each recipient's server itself."
		 "</small></label><input id=\"smarthost\" name=\"smarthost\" "
		 "placeholder=\"smtp.provider.example:587\" "
		 "aria-describedby=\"smarthost-err\" value=\"%s\"%R>",
		 f ? f->smarthost : host, invalid(f, "smarthost"));
	field_error(h, f, "smarthost");
	html_fmt(h,
		 "</div><div><label for=\"smarthost_user\">Smarthost user name"
		 "<small>Empty when the provider does not ask for a login."
		 "</small></label><input id=\"smarthost_user\" "
		 "name=\"smarthost_user\" autocomplete=\"off\" "
		 "aria-describedby=\"smarthost_user-err\" value=\"%s\"%R>",
		 f ? f->user : user, invalid(f, "smarthost_user"));
	field_error(h, f, "smarthost_user");
	html_fmt(h,
		 "</div><div><label for=\"smarthost_password\">Smarthost "
		 "password <span class=\"badge %R\" id=\"smarthost-password-"
		 "state\">%R</span><small>Never shown again once saved. Leave "
		 "empty to keep the current one.</small></label><input "
		 "id=\"smarthost_password\" name=\"smarthost_password\" "
		 "type=\"password\" autocomplete=\"new-password\" "
		 "aria-describedby=\"smarthost_password-err\"%R>"
		 "<label><input type=\"checkbox\" "
		 "name=\"smarthost_password_clear\" value=\"1\"> Remove the "
		 "saved password</label>",
		 pass_set ? "ok" : "warn", pass_set ? "set" : "not set",
		 invalid(f, "smarthost_password"));
	field_error(h, f, "smarthost_password");
	html_fmt(h,
		 "</div><div><label for=\"size_limit\">Largest message in MB"
		 "<small>Mail bigger than this is refused when it arrives. "
		 "Empty: the server's configured limit (%s).</small></label>"
		 "<input id=\"size_limit\" name=\"size_limit\" type=\"number\" "
		 "min=\"1\" max=\"%d\" inputmode=\"numeric\" "
		 "aria-describedby=\"size_limit-err\" value=\"%s\"%R>",
		 deflt, SIZE_LIMIT_MAX_MB, f ? f->size_limit : size_mb,
		 invalid(f, "size_limit"));
	field_error(h, f, "size_limit");
	html_raw(h, "</div><div><button type=\"submit\">Save outgoing mail "
		    "settings</button></div></form><p class=\"hint\">The mail "
		    "daemons read these when they start: restart "
		    "mailroom-queued after changing the smarthost. A smarthost "
		    "set in the configuration file takes precedence.</p>"
		    "</section>");
}

/* Same test outbound applies (ob_smarthost_split): host:port, host may be
 * a [bracketed] address, port 1..65535. */
static bool smarthost_ok(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	if (colon == NULL || colon == spec || strlen(spec) >= CONFIG_VALUE_MAX)
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		return false;
	size_t hl = (size_t)(colon - spec);
	const char *hp = spec;
	if (hp[0] == '[') {
		if (hl < 3 || hp[hl - 1] != ']')
			return false;
		hp++;
		hl -= 2;
	}
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)hp[i];
		if (!(c == '.' || c == '-' || c == ':' || (c >= '0' && c <= '9') ||
		      ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
			return false;
	}
	return true;
}

static void refuse(struct web_req *r, struct outgoing_form *f,
		   const char *field, const char *error)
{
	f->field = field;
	f->error = error;
	r->status = 400;
	settings_page(r, f);
}

void h_settings_outgoing(struct web_req *r)
{
	const char *host = web_field(r, "smarthost");
	const char *user = web_field(r, "smarthost_user");
	const char *pass = web_field(r, "smarthost_password");
	const char *clear = web_field(r, "smarthost_password_clear");
	const char *size = web_field(r, "size_limit");
	struct outgoing_form f = {
		.smarthost = host ? host : "",
		.user = user ? user : "",
		.size_limit = size ? size : "",
	};
	host = f.smarthost;
	user = f.user;
	size = f.size_limit;
	if (host[0] != '\0' && !smarthost_ok(host)) {
		refuse(r, &f, "smarthost",
		       "Write the smarthost as name:port, for example "
		       "smtp.provider.example:587.");
		return;
	}
	if (strlen(user) > ADDR_MAX || strpbrk(user, "\r\n\t ") != NULL) {
		refuse(r, &f, "smarthost_user",
		       "The user name cannot contain spaces and must be shorter "
		       "than 320 characters.");
		return;
	}
	if (pass != NULL && (strlen(pass) > PASSWORD_MAX ||
			     strpbrk(pass, "\r\n") != NULL)) {
		refuse(r, &f, "smarthost_password",
		       "The password must be one line of at most 256 "
		       "characters.");
		return;
	}
	if (pass != NULL && pass[0] != '\0' && user[0] == '\0') {
		refuse(r, &f, "smarthost_user",
		       "A password needs a user name to go with it.");
		return;
	}
	long long mb = 0;
	if (size[0] != '\0') {
		char *end;
		mb = strtoll(size, &end, 10);
		if (*end != '\0' || mb < 1 || mb > SIZE_LIMIT_MAX_MB) {
			refuse(r, &f, "size_limit",
			       "The largest message must be a whole number of MB "
			       "between 1 and 4096, or empty.");
			return;
		}
	}
	char bytes[32] = "";
	if (mb > 0)
		snprintf(bytes, sizeof bytes, "%lld", mb * MB);

	struct store *st = r->app->store;
	int rc = store_setting_set(st, "smarthost.host", host);
	if (rc == STORE_OK)
		rc = store_setting_set(st, "smarthost.user", user);
	const char *pass_note = "kept";
	if (rc == STORE_OK && clear != NULL) {
		rc = store_setting_set(st, "smarthost.password", "");
		pass_note = "removed";
	} else if (rc == STORE_OK && pass != NULL && pass[0] != '\0') {
		rc = store_setting_set(st, "smarthost.password", pass);
		pass_note = "changed";
	}
	if (rc == STORE_OK)
		rc = store_setting_set(st, "smtp.message_size_limit", bytes);
	if (rc != STORE_OK) {
		refuse(r, &f, "smarthost", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "settings-outgoing",
		  "smarthost=%s user=%s password=%s message_size_limit=%s",
		  host[0] ? host : "(direct)", user[0] ? user : "-", pass_note,
		  bytes[0] ? bytes : "(config)");
	web_redirect_msg(r, "/settings", "ok", "Outgoing mail settings saved.");
}
