/*
 * page_accounts.c - accounts and aliases, for admins and domain admins.
 *
 * Scope: a domain admin sees and changes only the accounts and aliases of
 * their own domain, and never an admin account (else resetting the admin's
 * password would make them admin). The checks sit at the top of each
 * handler through may_manage_*(): the router has already checked the role.
 * Passwords set here are shown once in the confirmation and never again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "../common/addr.h"
#include "../common/log.h"
#include "web.h"

#define PASSWORD_MIN 8
#define RANDOM_PASSWORD_LEN 16
#define MB (1024LL * 1024)

static bool may_manage_account(const struct web_req *r,
			       const struct store_account *a)
{
	if (r->user.role == STORE_ROLE_ADMIN)
		return true;
	return web_can_manage_domain(&r->user, a->domain) &&
	       a->role != STORE_ROLE_ADMIN;
}

enum pw_pick { PW_TYPED, PW_MADE_UP, PW_BAD_LENGTH, PW_NO_RANDOM };

/* The password an admin set for an account (new one or reset): the typed
 * one when its length is allowed, or a made-up one in generated (and *pw
 * pointed at it) when the field was left empty. */
static enum pw_pick pick_password(const char **pw, char *generated, size_t cap)
{
	if (*pw == NULL || **pw == '\0') {
		if (web_random_password(generated, cap, RANDOM_PASSWORD_LEN) != 0)
			return PW_NO_RANDOM;
		*pw = generated;
		return PW_MADE_UP;
	}
	size_t n = strlen(*pw);
	return n < PASSWORD_MIN || n > PASSWORD_MAX ? PW_BAD_LENGTH : PW_TYPED;
}

/* Quota in MB from a form field: "" or absent = 0 (no limit). -1 if bad. */
static int64_t parse_quota_mb(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end != '\0' || v < 0 || v > 100LL * 1024 * 1024)
		return -1;
	return v * MB;
}

/* ---- the list and the create form ------------------------------------------- */

struct list_ctx {
	struct web_req *r;
	const char *selected;
	int n;
};

static int domain_option(void *ctx, const struct store_domain *d)
{
	struct list_ctx *c = ctx;
	if (!web_can_manage_domain(&c->r->user, d->name))
		return 0;
	html_fmt(&c->r->out, "<option value=\"%s\"%R>%s</option>", d->name,
		 c->selected && strcmp(c->selected, d->name) == 0 ? " selected" : "",
		 d->name);
	c->n++;
	return 0;
}

static int account_row(void *ctx, const struct store_account *a)
{
	struct list_ctx *c = ctx;
	struct web_req *r = c->r;
	if (!web_can_manage_domain(&r->user, a->domain))
		return 0;
	char used[32], quota[32];
	html_size(used, sizeof used, a->used_bytes);
	html_fmt(&r->out, "<tr><td><a href=\"/accounts/edit?address=%u\">%s</a>",
		 a->address, a->address);
	if (!a->enabled)
		html_raw(&r->out, " <span class=\"badge bad\">disabled</span>");
	html_fmt(&r->out, "</td><td class=\"opt\">%s</td><td class=\"opt\">%s</td><td>%s",
		 a->display_name, store_role_name(a->role), used);
	if (a->quota_bytes > 0) {
		html_size(quota, sizeof quota, a->quota_bytes);
		html_fmt(&r->out, " of %s <meter min=\"0\" max=\"%D\" value=\"%D\" "
				  "high=\"%D\"></meter>",
			 quota, a->quota_bytes, a->used_bytes,
			 a->quota_bytes / 100 * STORE_NEAR_QUOTA_PERCENT);
	}
	html_fmt(&r->out, "</td><td class=\"opt\">%D</td></tr>", a->messages);
	c->n++;
	return 0;
}

static void role_option(struct html *h, const char *value, const char *label,
			enum store_role cur)
{
	enum store_role v;
	bool sel = store_role_parse(value, &v) == STORE_OK && v == cur;
	html_fmt(h, "<option value=\"%R\"%R>%R</option>", value,
		 sel ? " selected" : "", label);
}

/* What the create form shows again after a refused submission: the
 * values typed and the error next to the field it is about. */
struct add_form {
	const char *local, *domain, *name, *quota, *role;
	const char *field; /* "local", "name", "password", "quota", "role" */
	const char *error;
};

/* The refused field's marks (form_error.c). */
static void field_error(struct html *h, const struct add_form *f,
			const char *field)
{
	form_field_error(h, f->field, f->error, field);
}

static const char *invalid(const struct add_form *f, const char *field)
{
	return form_invalid(f->field, f->error, field);
}

static void accounts_page(struct web_req *r, const struct add_form *f)
{
	struct html *h = &r->out;
	const char *domain = web_query(r, "domain");
	if (domain != NULL && (*domain == '\0' || !web_can_manage_domain(&r->user, domain)))
		domain = NULL; /* all they may see; rows are filtered below */

	page_begin(r, "Accounts");
	html_raw(h, "<section><h2>New account</h2>"
		    "<form class=\"stack\" method=\"post\" action=\"/accounts/add\">");
	page_csrf(r);
	html_fmt(h, "<div><label for=\"local\">Email address</label>"
		    "<div class=\"inline\"><input id=\"local\" name=\"local\" "
		    "required placeholder=\"anna\" autocomplete=\"off\" "
		    "aria-describedby=\"local-err\" value=\"%s\"%R> "
		    "<label for=\"domain\" class=\"muted\">@</label> "
		    "<select id=\"domain\" name=\"domain\">",
		 f->local ? f->local : "", invalid(f, "local"));
	struct list_ctx c = {r, f->domain ? f->domain : domain ? domain : r->user.domain,
			     0};
	int rc = store_domain_list(r->app->store, domain_option, &c);
	html_raw(h, "</select></div>");
	field_error(h, f, "local");
	html_fmt(h, "</div><div><label for=\"name\">Full name</label>"
		    "<input id=\"name\" name=\"name\" placeholder=\"Anna Example\" "
		    "maxlength=\"200\" aria-describedby=\"name-err\" value=\"%s\"%R>",
		 f->name ? f->name : "", invalid(f, "name"));
	field_error(h, f, "name");
	html_fmt(h, "</div><div><label for=\"password\">Password"
		    "<small>Leave empty to make one up; it is shown once.</small>"
		    "</label><input id=\"password\" name=\"password\" "
		    "type=\"password\" autocomplete=\"new-password\" "
		    "aria-describedby=\"password-err\"%R>",
		 invalid(f, "password"));
	field_error(h, f, "password");
	html_fmt(h, "</div><div><label for=\"quota\">Mailbox size limit in MB"
		    "<small>Empty or 0 for no limit.</small></label>"
		    "<input id=\"quota\" name=\"quota\" type=\"number\" min=\"0\" "
		    "inputmode=\"numeric\" aria-describedby=\"quota-err\" "
		    "value=\"%s\"%R>",
		 f->quota ? f->quota : "", invalid(f, "quota"));
	field_error(h, f, "quota");
	html_raw(h, "</div>");
	if (r->user.role == STORE_ROLE_ADMIN) {
		enum store_role cur = STORE_ROLE_USER;
		if (f->role)
			(void)store_role_parse(f->role, &cur);
		html_raw(h, "<div><label for=\"role\">Role</label>"
			    "<select id=\"role\" name=\"role\">");
		role_option(h, "user", "Employee", cur);
		role_option(h, "domain-admin", "Domain admin", cur);
		role_option(h, "admin", "Admin", cur);
		html_raw(h, "</select>");
		field_error(h, f, "role");
		html_raw(h, "</div>");
	}
	html_raw(h, "<div><button type=\"submit\">Create account</button></div>"
		    "</form><p><a href=\"/accounts/import\">Add many accounts "
		    "from a list (CSV)</a></p></section>");

	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>Address</th>"
		    "<th class=\"opt\">Name</th><th class=\"opt\">Role</th><th>Storage</th>"
		    "<th class=\"opt\">Messages</th></tr></thead><tbody>");
	c.n = 0;
	if (rc == STORE_OK)
		rc = store_account_list(r->app->store, domain, account_row, &c);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	else if (c.n == 0)
		html_raw(h, "<p class=\"muted\">No accounts yet.</p>");
	page_end(r);
}

void h_accounts(struct web_req *r)
{
	struct add_form f = {0};
	accounts_page(r, &f);
}

void h_account_add(struct web_req *r)
{
	struct add_form f = {
		.local = web_field(r, "local"),
		.domain = web_field(r, "domain"),
		.name = web_field(r, "name"),
		.quota = web_field(r, "quota"),
		.role = web_field(r, "role"),
	};
	const char *pw = web_field(r, "password");
	int64_t quota = parse_quota_mb(f.quota);
	char address[ADDR_MAX + 1], generated[RANDOM_PASSWORD_LEN + 1];
	char msg[512];
	struct addr a;
	const char *why = "missing";
	enum store_role role = STORE_ROLE_USER;

#define REFUSE(code, fld, text)                                             \
	do {                                                                  \
		r->status = code;                                             \
		f.field = fld;                                                \
		f.error = text;                                               \
		accounts_page(r, &f);                                         \
		return;                                                       \
	} while (0)
	if (f.local == NULL || f.domain == NULL ||
	    snprintf(address, sizeof address, "%s@%s", f.local, f.domain) >=
		    (int)sizeof address ||
	    addr_parse(address, strlen(address), 0, &a, &why) != 0) {
		snprintf(msg, sizeof msg, "That address cannot be used: %s. Use "
			 "letters, digits, dots, dashes, like anna.berg.", why);
		REFUSE(400, "local", msg);
	}
	if (!web_can_manage_domain(&r->user, a.domain)) {
		web_error_page(r, 403, "You cannot add accounts to that domain.");
		return;
	}
	if (f.role != NULL && *f.role != '\0' &&
	    store_role_parse(f.role, &role) != STORE_OK)
		REFUSE(400, "role", "Choose one of the roles.");
	if (role != STORE_ROLE_USER && r->user.role != STORE_ROLE_ADMIN) {
		web_error_page(r, 403, "Only an admin can give out admin roles.");
		return;
	}
	if (quota < 0)
		REFUSE(400, "quota", "The size limit must be a whole number of MB.");
	if (f.name != NULL && strlen(f.name) > DISPLAY_NAME_MAX)
		REFUSE(400, "name", "The name can have at most 200 characters.");
	enum pw_pick pick = pick_password(&pw, generated, sizeof generated);
	if (pick == PW_NO_RANDOM) {
		web_error_page(r, 500, "No randomness for a password.");
		return;
	}
	if (pick == PW_BAD_LENGTH)
		REFUSE(400, "password", "The password needs at least 8 characters "
					"(or leave it empty to make one up).");
	bool made_up = pick == PW_MADE_UP;
	char hash[PASSWORD_HASH_MAX + 1];
	if (store_password_hash(pw, hash, sizeof hash) != STORE_OK) {
		web_error_page(r, 500, "Could not hash the password.");
		return;
	}
	int rc = store_account_add(r->app->store, a.full, hash, role,
				   f.name ? f.name : "", quota);
	if (rc == STORE_EXISTS) {
		snprintf(msg, sizeof msg, "%s already exists.", a.full);
		REFUSE(409, "local", msg);
	}
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not create %s: %s", a.full,
			 web_store_error(r->app, rc));
		REFUSE(rc == STORE_INVALID ? 400 : 500, "local", msg);
	}
#undef REFUSE
	web_audit(r, "account-add", "%s role=%s quota=%lld", a.full,
		  store_role_name(role), (long long)quota);
	if (made_up)
		snprintf(msg, sizeof msg,
			 "Account %s created. Its password is %s - write it down "
			 "now, it will not be shown again.",
			 a.full, generated);
	else
		snprintf(msg, sizeof msg, "Account %s created.", a.full);
	explicit_bzero(generated, sizeof generated);
	web_redirect_msg(r, "/accounts", "ok", msg);
}

/* ---- one account ------------------------------------------------------------ */

/* Load the account named by field/query "address" that r may manage; on
 * failure the response is already set and false returned. */
static bool load_managed(struct web_req *r, const char *address,
			 struct store_account *a)
{
	if (address == NULL) {
		web_error_page(r, 400, "No account named.");
		return false;
	}
	int rc = store_account_get(r->app->store, address, a);
	if (rc == STORE_NOTFOUND) {
		web_error_page(r, 404, "There is no such account.");
		return false;
	}
	if (rc != STORE_OK) {
		web_error_page(r, 500, web_store_error(r->app, rc));
		return false;
	}
	if (!may_manage_account(r, a)) {
		web_error_page(r, 403, "You cannot manage that account.");
		return false;
	}
	return true;
}

void h_account_edit_get(struct web_req *r)
{
	struct store_account a;
	if (!load_managed(r, web_query(r, "address"), &a))
		return;
	struct html *h = &r->out;
	char used[32];
	html_size(used, sizeof used, a.used_bytes);
	page_begin(r, a.address);
	html_fmt(h, "<p class=\"hint\">%D messages, %s stored. "
		    "<a href=\"/accounts/howto?address=%u\">Setup instructions "
		    "for this employee</a></p>",
		 a.messages, used, a.address);

	html_raw(h, "<section><h2>Details</h2><form class=\"stack\" method=\"post\" "
		    "action=\"/accounts/edit\">");
	page_csrf(r);
	html_fmt(h,
		 "<input type=\"hidden\" name=\"address\" value=\"%s\">"
		 "<div><label for=\"name\">Full name</label><input id=\"name\" "
		 "name=\"name\" maxlength=\"200\" value=\"%s\"></div>"
		 "<div><label for=\"quota\">Mailbox size limit in MB<small>0 for no "
		 "limit.</small></label><input id=\"quota\" name=\"quota\" "
		 "type=\"number\" min=\"0\" value=\"%D\"></div>"
		 "<div><label><input type=\"checkbox\" name=\"enabled\" value=\"1\"%R>"
		 " Enabled<small>A disabled account cannot log in or receive "
		 "mail.</small></label></div>",
		 a.address, a.display_name, a.quota_bytes / MB,
		 a.enabled ? " checked" : "");
	if (r->user.role == STORE_ROLE_ADMIN) {
		html_raw(h, "<div><label for=\"role\">Role</label>"
			    "<select id=\"role\" name=\"role\">");
		role_option(h, "user", "Employee", a.role);
		role_option(h, "domain-admin", "Domain admin", a.role);
		role_option(h, "admin", "Admin", a.role);
		html_raw(h, "</select></div>");
		if (a.role == STORE_ROLE_DOMAIN_ADMIN) {
			char list[WEB_MANAGED_DOMAINS_MAX * (ADDR_DOMAIN_MAX + 2)];
			web_managed_domains_get(r->app, a.address, list, sizeof list);
			html_fmt(h, "<div><label for=\"domains\">Also manages<small>"
				    "Besides %s: more domains, separated by "
				    "commas.</small></label><input id=\"domains\" "
				    "name=\"domains\" value=\"%s\"></div>",
				 a.domain, list);
		}
	}
	html_raw(h, "<div><button type=\"submit\">Save</button></div></form>"
		    "</section>");

	html_raw(h, "<section><h2>Reset the password</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/accounts/password\">");
	page_csrf(r);
	html_fmt(h,
		 "<input type=\"hidden\" name=\"address\" value=\"%s\">"
		 "<div><label for=\"password\">New password<small>Leave empty to "
		 "make one up; it is shown once.</small></label>"
		 "<input id=\"password\" name=\"password\" type=\"password\" "
		 "autocomplete=\"new-password\"></div>"
		 "<div><button type=\"submit\" class=\"secondary\">Set password"
		 "</button></div></form></section>",
		 a.address);

	html_raw(h, "<section><h2>Delete</h2><form class=\"stack\" method=\"post\" "
		    "action=\"/accounts/delete\">");
	page_csrf(r);
	html_fmt(h,
		 "<input type=\"hidden\" name=\"address\" value=\"%s\">"
		 "<label><input type=\"checkbox\" name=\"confirm\" value=\"1\" "
		 "required> Delete %s and all of its mail</label>"
		 "<div><button type=\"submit\" class=\"danger\">Delete account"
		 "</button></div></form></section>",
		 a.address, a.address);
	page_end(r);
}

void h_account_edit_post(struct web_req *r)
{
	struct store_account a;
	if (!load_managed(r, web_field(r, "address"), &a))
		return;
	const char *name = web_field(r, "name");
	const char *role_s = web_field(r, "role");
	int64_t quota = parse_quota_mb(web_field(r, "quota"));
	char back[ADDR_MAX * 3 + 32], msg[512];
	snprintf(back, sizeof back, "/accounts/edit?address=%s", a.address);

	struct store_account_change ch = {name, quota, web_field(r, "enabled") != NULL,
					  -1};
	if (quota < 0 || (name && strlen(name) > DISPLAY_NAME_MAX)) {
		web_redirect_msg(r, back, "error",
				 "The size limit must be a whole number of MB and "
				 "the name at most 200 characters.");
		return;
	}
	if (role_s != NULL) {
		enum store_role role;
		if (r->user.role != STORE_ROLE_ADMIN ||
		    store_role_parse(role_s, &role) != STORE_OK) {
			web_error_page(r, 403, "You cannot change roles.");
			return;
		}
		ch.role = (int)role;
	}
	if ((strcmp(a.address, r->user.address) == 0 || web_is_last_admin(r->app, &a)) &&
	    (ch.enabled == 0 || (ch.role >= 0 && ch.role != (int)a.role))) {
		web_redirect_msg(r, back, "error",
				 "You cannot disable yourself, change your own "
				 "role, or disable or demote the only admin.");
		return;
	}
	const char *domains = web_field(r, "domains");
	if (domains != NULL && r->user.role == STORE_ROLE_ADMIN) {
		char bad[ADDR_DOMAIN_MAX + 1];
		if (web_managed_domains_save(r->app, a.address, domains, bad,
					     sizeof bad) != STORE_OK) {
			snprintf(msg, sizeof msg, "'%s' is not one of this server's "
				 "domains.", bad);
			web_redirect_msg(r, back, "error", msg);
			return;
		}
	}
	int rc = store_account_update(r->app->store, a.address, &ch);
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not save: %s",
			 web_store_error(r->app, rc));
		web_redirect_msg(r, back, "error", msg);
		return;
	}
	if (ch.enabled == 0)
		session_destroy_address(&r->app->sessions, a.address, NULL);
	web_audit(r, "account-edit", "%s enabled=%d quota=%lld role=%s", a.address,
		  ch.enabled, (long long)quota,
		  ch.role >= 0 ? store_role_name((enum store_role)ch.role) : "-");
	web_redirect_msg(r, back, "ok", "Saved.");
}

void h_account_password(struct web_req *r)
{
	struct store_account a;
	if (!load_managed(r, web_field(r, "address"), &a))
		return;
	const char *pw = web_field(r, "password");
	char generated[RANDOM_PASSWORD_LEN + 1], back[ADDR_MAX * 3 + 32], msg[512];
	snprintf(back, sizeof back, "/accounts/edit?address=%s", a.address);
	enum pw_pick pick = pick_password(&pw, generated, sizeof generated);
	if (pick == PW_NO_RANDOM) {
		web_error_page(r, 500, "No randomness for a password.");
		return;
	}
	if (pick == PW_BAD_LENGTH) {
		web_redirect_msg(r, back, "error",
				 "The password needs at least 8 characters.");
		return;
	}
	bool made_up = pick == PW_MADE_UP;
	char hash[PASSWORD_HASH_MAX + 1];
	int rc = store_password_hash(pw, hash, sizeof hash) == STORE_OK
			 ? store_account_set_password(r->app->store, a.address, hash)
			 : STORE_ERROR;
	if (rc != STORE_OK) {
		web_redirect_msg(r, back, "error", web_store_error(r->app, rc));
		return;
	}
	session_destroy_address(&r->app->sessions, a.address, r->user.sid);
	web_audit(r, "account-password", "%s", a.address);
	if (made_up)
		snprintf(msg, sizeof msg,
			 "New password for %s: %s - write it down now, it will "
			 "not be shown again.", a.address, generated);
	else
		snprintf(msg, sizeof msg, "Password for %s changed.", a.address);
	explicit_bzero(generated, sizeof generated);
	web_redirect_msg(r, back, "ok", msg);
}

void h_account_del(struct web_req *r)
{
	struct store_account a;
	if (!load_managed(r, web_field(r, "address"), &a))
		return;
	char msg[512];
	if (strcmp(a.address, r->user.address) == 0 || web_is_last_admin(r->app, &a)) {
		web_redirect_msg(r, "/accounts", "error",
				 "You cannot delete your own account or the only "
				 "admin.");
		return;
	}
	int rc = store_account_del(r->app->store, a.address);
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not delete %s: %s", a.address,
			 web_store_error(r->app, rc));
		web_redirect_msg(r, "/accounts", "error", msg);
		return;
	}
	session_destroy_address(&r->app->sessions, a.address, NULL);
	if (a.role == STORE_ROLE_DOMAIN_ADMIN) {
		char bad[ADDR_DOMAIN_MAX + 1];
		(void)web_managed_domains_save(r->app, a.address, "", bad, sizeof bad);
	}
	web_audit(r, "account-del", "%s", a.address);
	snprintf(msg, sizeof msg, "Account %s deleted.", a.address);
	web_redirect_msg(r, "/accounts", "ok", msg);
}

/* ---- aliases ---------------------------------------------------------------- */

static int alias_row(void *ctx, const struct store_alias *al)
{
	struct list_ctx *c = ctx;
	struct web_req *r = c->r;
	const char *at = strchr(al->address, '@');
	if (at == NULL || !web_can_manage_domain(&r->user, at + 1))
		return 0;
	html_fmt(&r->out, "<tr><td class=\"mono\">%s%R</td><td class=\"mono\">%s"
			  "</td><td><form method=\"post\" action=\"/aliases/delete\">",
		 al->address,
		 at == al->address ? " <span class=\"badge\">catch-all</span>" : "",
		 al->target);
	page_csrf(r);
	html_fmt(&r->out,
		 "<input type=\"hidden\" name=\"address\" value=\"%s\">"
		 "<input type=\"hidden\" name=\"target\" value=\"%s\">"
		 "<button class=\"danger\" type=\"submit\">Remove</button></form>"
		 "</td></tr>",
		 al->address, al->target);
	c->n++;
	return 0;
}

void h_aliases(struct web_req *r)
{
	struct html *h = &r->out;
	const char *domain = NULL; /* rows are filtered by web_can_manage_domain */
	page_begin(r, "Aliases and lists");
	html_raw(h, "<section><h2>Add</h2><p class=\"hint\">Mail to the alias "
		    "goes to every target. Targets may be outside your domains. "
		    "Write <code>@example.com</code> as the alias to catch mail "
		    "for every address of the domain that does not exist "
		    "(catch-all).</p><form class=\"stack\" method=\"post\" "
		    "action=\"/aliases/add\">");
	page_csrf(r);
	html_raw(h, "<div><label for=\"address\">Alias address</label>"
		    "<input id=\"address\" name=\"address\" required "
		    "placeholder=\"sales@example.com\"></div>"
		    "<div><label for=\"targets\">Deliver to<small>One or more "
		    "addresses, separated by commas or spaces.</small></label>"
		    "<input id=\"targets\" name=\"targets\" required "
		    "placeholder=\"anna@example.com, bob@partner.org\"></div>"
		    "<div><button type=\"submit\">Add</button></div></form></section>");
	html_raw(h, "<div class=\"table-wrap\"><table><thead><tr><th>Alias</th>"
		    "<th>Delivers to</th><th></th></tr></thead><tbody>");
	struct list_ctx c = {r, NULL, 0};
	int rc = store_alias_list(r->app->store, domain, alias_row, &c);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	else if (c.n == 0)
		html_raw(h, "<p class=\"muted\">No aliases yet.</p>");
	page_end(r);
}

/* Normalise an alias address ("a@b" or "@b" for a catch-all) into dst and
 * its domain into dom. -1 if it is neither. */
int web_alias_address(const char *in, char *dst, size_t dstlen, char *dom)
{
	const char *why;
	if (in[0] == '@') {
		if (addr_domain_normalise(in + 1, strlen(in + 1), dom, &why) != 0)
			return -1;
		return snprintf(dst, dstlen, "@%s", dom) < (int)dstlen ? 0 : -1;
	}
	struct addr a;
	if (addr_parse(in, strlen(in), 0, &a, &why) != 0)
		return -1;
	snprintf(dom, ADDR_DOMAIN_MAX + 1, "%s", a.domain);
	return snprintf(dst, dstlen, "%s", a.full) < (int)dstlen ? 0 : -1;
}

void h_alias_add(struct web_req *r)
{
	const char *in = web_field(r, "address");
	const char *targets = web_field(r, "targets");
	char address[ADDR_MAX + 2], dom[ADDR_DOMAIN_MAX + 1], msg[512];
	if (in == NULL || targets == NULL ||
	    web_alias_address(in, address, sizeof address, dom) != 0) {
		web_redirect_msg(r, "/aliases", "error",
				 "The alias must be an address like "
				 "sales@example.com, or @example.com.");
		return;
	}
	if (!web_can_manage_domain(&r->user, dom)) {
		web_error_page(r, 403, "You cannot add aliases to that domain.");
		return;
	}
	/* split the targets on commas and spaces; check them all first */
	struct addr t[16];
	size_t nt = 0;
	const char *p = targets, *item;
	size_t n;
	while (list_next(&p, &item, &n)) {
		const char *why;
		if (nt == sizeof t / sizeof t[0] ||
		    addr_parse(item, n, 0, &t[nt], &why) != 0) {
			snprintf(msg, sizeof msg, "%s", nt == 16
				 ? "At most 16 targets at a time."
				 : "A target is not an email address.");
			web_redirect_msg(r, "/aliases", "error", msg);
			return;
		}
		nt++;
	}
	if (nt == 0) {
		web_redirect_msg(r, "/aliases", "error", "Give at least one target.");
		return;
	}
	for (size_t i = 0; i < nt; i++) {
		int rc = store_alias_add(r->app->store, address, t[i].full);
		if (rc != STORE_OK && rc != STORE_EXISTS) {
			snprintf(msg, sizeof msg, "Could not add %s -> %s: %s",
				 address, t[i].full, web_store_error(r->app, rc));
			web_redirect_msg(r, "/aliases", "error", msg);
			return;
		}
		web_audit(r, "alias-add", "%s -> %s", address, t[i].full);
	}
	snprintf(msg, sizeof msg, "Alias %s saved.", address);
	web_redirect_msg(r, "/aliases", "ok", msg);
}

void h_alias_del(struct web_req *r)
{
	const char *in = web_field(r, "address");
	const char *target = web_field(r, "target");
	char address[ADDR_MAX + 2], dom[ADDR_DOMAIN_MAX + 1], msg[512];
	if (in == NULL || web_alias_address(in, address, sizeof address, dom) != 0) {
		web_redirect_msg(r, "/aliases", "error", "No alias named.");
		return;
	}
	if (!web_can_manage_domain(&r->user, dom)) {
		web_error_page(r, 403, "You cannot change aliases of that domain.");
		return;
	}
	if (target != NULL && *target == '\0')
		target = NULL;
	int rc = store_alias_del(r->app->store, address, target);
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not remove %s: %s", address,
			 web_store_error(r->app, rc));
		web_redirect_msg(r, "/aliases", "error", msg);
		return;
	}
	web_audit(r, "alias-del", "%s -> %s", address, target ? target : "*");
	snprintf(msg, sizeof msg, "Removed from %s.", address);
	web_redirect_msg(r, "/aliases", "ok", msg);
}
