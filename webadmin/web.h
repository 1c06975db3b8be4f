/*
 * web.h - the webadmin's private header: the application context every
 * handler gets, the request/response a handler fills, and the handler
 * lists. Nothing outside webadmin/ includes it.
 *
 * Threading: libmicrohttpd runs each listener in its own internal thread;
 * every request is handled while holding app->lock, so the session table,
 * the rate limit and the store handle are only ever used by one thread at
 * a time. Requests are short (one SQLite read or write; a login costs one
 * password hash), so one lock is simpler than sharding and fast enough.
 */
#ifndef MAILROOM_WEB_H
#define MAILROOM_WEB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../store/store.h"
#include "html.h"
#include "parse.h"
#include "session.h"

struct MHD_Connection;

#define WEB_MANAGED_DOMAINS_MAX 16
/* Setting key prefix for the extra domains of a domain admin. */
#define WEB_MANAGED_DOMAINS_KEY "domain-admin:"

struct web_app {
	const struct config *cfg;
	struct store *store;
	pthread_mutex_t lock;
	struct session_table sessions;
	struct ratelimit rl;
	int https_port; /* first HTTPS listener's port, for redirects */
	int64_t started;
	/* Caches of slow-to-learn facts (router.c, page_admin.c). */
	int64_t admin_seen_until; /* an admin existed; skip the check until */
	int64_t cert_checked;     /* when cert_not_after was read (0: never) */
	int64_t cert_not_after;   /* unix time; 0 = unreadable */
	bool cert_self_signed;
	/* Reseller branding (settings branding.product_name / .support /
	 * .logo, set by mailroomctl preseed; branding.c), re-read every
	 * BRANDING_RECHECK_SECONDS. */
	int64_t branding_checked;
	char product_name[128];
	char support[256];
	char logo_path[512];
	bool have_logo; /* logo_path is an image the panel will serve */
	/* Dashboard counts, reused within one second unless a change made
	 * through this panel cleared them (web_audit). Changes by the other
	 * daemons show up within a second. */
	struct {
		bool valid;
		int64_t at;
		int64_t since;
		char domain[ADDR_DOMAIN_MAX + 1]; /* "" = whole box */
		struct store_stats s;
	} stats_cache;
};

/* Who is asking: a browser session or an API token. */
struct web_user {
	bool logged_in;
	char address[ADDR_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1]; /* of their own address */
	/* Domain admins: the domains they manage (their own first, then the
	 * ones an admin gave them; see web_managed_domains_*). */
	char domains[WEB_MANAGED_DOMAINS_MAX][ADDR_DOMAIN_MAX + 1];
	size_t n_domains;
	enum store_role role;
	char display_name[DISPLAY_NAME_MAX + 1];
	char sid[SESSION_ID_HEX + 1]; /* "" for API tokens */
	char csrf[CSRF_HEX + 1];
	char actor[ADDR_MAX + 32]; /* for the audit log */
};

#define WEB_HEADERS_MAX 6

struct web_req {
	struct web_app *app;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	bool is_post;
	const char *body; /* raw request body (JSON), NUL-terminated */
	size_t body_len;
	struct form form; /* urlencoded body, decoded (empty otherwise) */
	char ip[64];
	struct web_user user;
	struct session *session; /* NULL unless logged in by cookie */
	struct route_cap caps[ROUTE_CAPTURES_MAX];
	size_t ncaps;
	int64_t now;

	/* the response */
	int status;
	const char *content_type;
	struct html out;
	bool cacheable; /* static assets only; everything else no-store */
	int file_fd;        /* >= 0: send this file instead of out (closed by MHD) */
	uint64_t file_size;
	size_t nheaders;
	struct {
		char name[32];
		char value[320];
	} headers[WEB_HEADERS_MAX];
};

/* ---- request helpers (server.c) ----------------------------------------- */
/* Query string value (decoded by MHD), or NULL. */
const char *web_query(struct web_req *r, const char *name);
/* A request header, or NULL. */
const char *web_header(struct web_req *r, const char *name);
/* A POST field (urlencoded form), or NULL. */
const char *web_field(struct web_req *r, const char *name);
void web_add_header(struct web_req *r, const char *name, const char *value);
void web_redirect(struct web_req *r, const char *location);
/* Plain text error page with status. */
void web_error_page(struct web_req *r, int status, const char *message);
/* Re-read the reseller's branding settings when they are older than
 * half a minute (branding.c). */
void web_branding_refresh(struct web_app *app, int64_t now);
/* Copy capture i into dst, decoded; -1 if missing or too long. */
int web_cap(const struct web_req *r, size_t i, char *dst, size_t dstlen);
/* "Set-Cookie" for name=value with our flags; max_age < 0: session cookie,
 * 0: delete. */
void web_set_cookie(struct web_req *r, const char *name, const char *value,
		    int max_age);

/* ---- routing (router.c) ------------------------------------------------- */
void web_dispatch(struct web_req *r);
/* True when the store has no admin account yet (first-run setup). */
bool web_needs_setup(struct web_app *app);
/* May user manage accounts/aliases of domain? admin: all; domain-admin:
 * their own address's domain; user: none. */
bool web_can_manage_domain(const struct web_user *u, const char *domain);

/* Load the domains a domain admin manages into u (their own domain always
 * first). Read from the store setting "domain-admin:<address>", a comma
 * list an admin edits on the account page. */
void web_managed_domains_load(struct web_app *app, struct web_user *u);
/* Save the extra domains (comma list, each must exist) for address.
 * STORE_OK or an error; bad gets the refused domain's text. */
int web_managed_domains_save(struct web_app *app, const char *address,
			     const char *list, char *bad, size_t badlen);
/* The saved extra domains of address as a comma list into dst. */
void web_managed_domains_get(struct web_app *app, const char *address,
			     char *dst, size_t dstlen);

/* True when a is the box's only admin: deleting, disabling or demoting it
 * would lock everyone out and reopen first-run setup, so callers refuse. */
bool web_is_last_admin(struct web_app *app, const struct store_account *a);

/* Re-read the certificate's expiry and issuer into app (at most every 10
 * minutes unless app->cert_checked is 0). page_admin.c. */
void web_cert_refresh(struct web_app *app, int64_t now);

/* ---- layout (layout.c) --------------------------------------------------- */
void page_begin(struct web_req *r, const char *title);
void page_end(struct web_req *r);
/* A hidden CSRF field for forms of a logged-in user. */
void page_csrf(struct web_req *r);
/* Notices carried in ?ok= / ?err= after a redirect, shown escaped. */
void page_flash(struct web_req *r);
/*
 * The panel's Server name (setting "hostname": what the DNS page asks the
 * ISP for, what mail programs are told to connect to) is not what the
 * mail daemons call themselves ([server] hostname in the config file:
 * greeting, Received, Authentication-Results, outbound EHLO): a notice
 * saying so and how to make them one. Nothing when they agree.
 */
void page_hostname_notice(struct web_req *r, const char *panel_host);
/* Redirect to path with a message: web_redirect_msg(r, "/domains", "ok", "Added"). */
void web_redirect_msg(struct web_req *r, const char *path, const char *kind,
		      const char *msg);
extern const char web_css[];

/* ---- made-up passwords (random_password.c) ------------------------------ */
#define WEB_RANDOM_PASSWORD_MAX 64
/* len (at most WEB_RANDOM_PASSWORD_MAX) random characters from an alphabet
 * without look-alikes into dst, NUL-terminated. -1 if dst is too small or
 * there is no randomness. */
int web_random_password(char *dst, size_t dstlen, size_t len);

/* ---- a refused form shown again (form_error.c) ------------------------- */
/* refused is the field the error is about (or NULL), error its message (or
 * NULL: nothing refused). For field: the error paragraph (id "<field>-err")
 * when it is the refused one, else nothing... */
void form_field_error(struct html *h, const char *refused, const char *error,
		      const char *field);
/* ...and the attribute for its input: " aria-invalid=\"true\"" or "". */
const char *form_invalid(const char *refused, const char *error,
			 const char *field);

/* ---- handlers ------------------------------------------------------------ */
typedef void (*web_handler)(struct web_req *r);

void h_css(struct web_req *r);
void h_favicon(struct web_req *r);
void h_logo(struct web_req *r);
void h_login_get(struct web_req *r);
void h_login_post(struct web_req *r);
void h_logout(struct web_req *r);
void h_setup_get(struct web_req *r);
void h_setup_post(struct web_req *r);
void h_home(struct web_req *r);
void h_domains(struct web_req *r);
void h_domain_add(struct web_req *r);
void h_domain_del(struct web_req *r);
void h_accounts(struct web_req *r);
void h_account_add(struct web_req *r);
void h_account_edit_get(struct web_req *r);
void h_account_edit_post(struct web_req *r);
void h_account_password(struct web_req *r);
void h_account_del(struct web_req *r);
void h_aliases(struct web_req *r);
void h_alias_add(struct web_req *r);
void h_alias_del(struct web_req *r);
void h_queue(struct web_req *r);
void h_queue_retry(struct web_req *r);
void h_queue_del(struct web_req *r);
void h_audit(struct web_req *r);
void h_settings(struct web_req *r);
void h_settings_post(struct web_req *r);
/* The outgoing-mail form shown again after a refused submission: the
 * values typed (never the password) and the error next to its field. */
struct outgoing_form {
	const char *smarthost, *user, *size_limit;
	const char *field; /* "smarthost", "smarthost_user", ... */
	const char *error;
};
/* The settings page; f is NULL unless the outgoing form was refused
 * (page_settings.c). */
void settings_page(struct web_req *r, const struct outgoing_form *f);
/* Its "Outgoing mail" section and that form's handler (page_outgoing.c). */
void settings_outgoing_section(struct web_req *r, const struct outgoing_form *f);
void h_settings_outgoing(struct web_req *r);
void h_token_add(struct web_req *r);
void h_token_del(struct web_req *r);
void h_backup(struct web_req *r);
void h_certificate(struct web_req *r);
void h_import_get(struct web_req *r);
void h_import_post(struct web_req *r);
void h_dns(struct web_req *r);
/* The Mail checks page: trust.* settings (page_checks.c). */
void h_checks(struct web_req *r);
void h_checks_post(struct web_req *r);
/* The Message trace page (page_trace.c). */
void h_trace(struct web_req *r);
void h_me(struct web_req *r);
void h_me_password(struct web_req *r);
void h_me_howto(struct web_req *r);
void h_me_vacation(struct web_req *r);
void h_me_forward(struct web_req *r);
/* The out-of-office and forwarding forms for account_id (page_rules.c). */
void rules_section(struct web_req *r, int64_t account_id);
void h_account_howto(struct web_req *r);
/* The Rules page (page_rule_editor.c, page_rule_actions.c). */
void h_rules(struct web_req *r);
void h_rule_add(struct web_req *r);
void h_rule_toggle(struct web_req *r);
void h_rule_move(struct web_req *r);
void h_rule_del(struct web_req *r);
void h_rule_try(struct web_req *r);
void h_rule_export(struct web_req *r);
void h_rule_import(struct web_req *r);
void h_autoconfig(struct web_req *r);
void h_autodiscover(struct web_req *r);

void api_dispatch(struct web_req *r);

/* Normalise an alias address ("a@b", or "@b" for a catch-all) into dst
 * (ADDR_MAX + 2) and its domain into dom (ADDR_DOMAIN_MAX + 1). 0 or -1. */
int web_alias_address(const char *in, char *dst, size_t dstlen, char *dom);

/* Audit an admin change as the request's actor (errors logged, not fatal). */
void web_audit(struct web_req *r, const char *action, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A store error as words for a person. */
const char *web_store_error(struct web_app *app, int rc);

#endif
