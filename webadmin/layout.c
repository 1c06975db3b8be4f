/*
 * layout.c - the frame around every page: head, navigation for the
 * user's role, flash messages, error pages, and the stylesheet.
 *
 * Pages work without JavaScript and the CSP allows none: every action is
 * a plain form. The stylesheet is served from /style.css (the CSP forbids
 * inline styles) and is small enough to embed here as a string.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "web.h"

struct nav_item {
	const char *path;
	const char *label;
	int need; /* minimum role */
};

static const struct nav_item nav[] = {
	{"/", "Dashboard", STORE_ROLE_DOMAIN_ADMIN},
	{"/domains", "Domains", STORE_ROLE_ADMIN},
	{"/accounts", "Accounts", STORE_ROLE_DOMAIN_ADMIN},
	{"/aliases", "Aliases", STORE_ROLE_DOMAIN_ADMIN},
	{"/rules", "Rules", STORE_ROLE_DOMAIN_ADMIN},
	{"/queue", "Queue", STORE_ROLE_ADMIN},
	{"/dns", "DNS records", STORE_ROLE_ADMIN},
	{"/checks", "Mail checks", STORE_ROLE_ADMIN},
	{"/trace", "Message trace", STORE_ROLE_ADMIN},
	{"/audit", "Audit log", STORE_ROLE_ADMIN},
	{"/settings", "Settings", STORE_ROLE_ADMIN},
	{"/me", "My account", STORE_ROLE_USER},
};

void page_begin(struct web_req *r, const char *title)
{
	struct html *h = &r->out;
	web_branding_refresh(r->app, r->now);
	r->content_type = "text/html; charset=utf-8";
	html_fmt(h,
		 "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		 "<meta name=\"viewport\" content=\"width=device-width, "
		 "initial-scale=1\">"
		 "<title>%s - %s</title>"
		 "<link rel=\"stylesheet\" href=\"/style.css\"></head><body>"
		 "<header><a class=\"brand\" href=\"/\">%R%s</a>",
		 title, r->app->product_name,
		 r->app->have_logo ? "<img src=\"/branding/logo\" alt=\"\">" : "",
		 r->app->product_name);
	if (r->user.logged_in) {
		html_raw(h, "<nav aria-label=\"Main\">");
		for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
			if ((int)r->user.role < nav[i].need)
				continue;
			bool here = strcmp(r->path, nav[i].path) == 0;
			html_fmt(h, "<a href=\"%R\"%R>%R</a>", nav[i].path,
				 here ? " aria-current=\"page\"" : "",
				 nav[i].label);
		}
		html_fmt(h,
			 "</nav><form class=\"logout\" method=\"post\" "
			 "action=\"/logout\"><input type=\"hidden\" name=\"csrf\" "
			 "value=\"%s\"><span class=\"who\">%s</span> "
			 "<button type=\"submit\">Log out</button></form>",
			 r->user.csrf, r->user.address);
	}
	html_fmt(h, "</header><main><h1>%s</h1>", title);
	page_flash(r);
}

void page_end(struct web_req *r)
{
	html_fmt(&r->out, "</main><footer>%s", r->app->product_name);
	if (r->app->support[0])
		html_fmt(&r->out, " &middot; Help: %s", r->app->support);
	html_raw(&r->out, "</footer></body></html>\n");
}

void page_csrf(struct web_req *r)
{
	html_fmt(&r->out, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
		 r->user.csrf);
}

void page_hostname_notice(struct web_req *r, const char *panel_host)
{
	const struct config *cfg = r->app->cfg;
	if (panel_host[0] == '\0' || strcasecmp(panel_host, cfg->hostname) == 0)
		return;
	html_fmt(&r->out,
		 "<p class=\"flash error\" id=\"hostname-differs\">The mail "
		 "server calls itself <b>%s</b> (<code>hostname</code> under "
		 "<code>[server]</code> in %s): in its greeting, in the "
		 "Received and Authentication-Results fields it writes and when "
		 "it sends mail out. To use <b>%s</b> there too, put "
		 "<code>hostname = %s</code> in that file and restart Mailroom.</p>",
		 cfg->hostname, cfg->path, panel_host, panel_host);
}

void page_flash(struct web_req *r)
{
	struct session *s = r->session;
	if (s == NULL || s->flash[0] == '\0')
		return;
	html_fmt(&r->out, "<p class=\"flash %R\" role=\"status\">%s</p>",
		 s->flash_is_error ? "error" : "ok", s->flash);
	s->flash[0] = '\0';
}

void web_redirect_msg(struct web_req *r, const char *path, const char *kind,
		      const char *msg)
{
	if (r->session != NULL) {
		snprintf(r->session->flash, sizeof r->session->flash, "%s", msg);
		r->session->flash_is_error = strcmp(kind, "error") == 0;
	}
	web_redirect(r, path);
}

void web_error_page(struct web_req *r, int status, const char *message)
{
	html_reset(&r->out);
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	const char *title = status == 403   ? "Not allowed"
			    : status == 404 ? "Not found"
			    : status == 429 ? "Too many attempts"
			    : status >= 500 ? "Something went wrong"
					    : "Cannot do that";
	struct session *keep = r->session;
	r->session = NULL; /* keep any flash for a real page */
	page_begin(r, title);
	r->session = keep;
	html_fmt(&r->out, "<p class=\"flash error\">%s</p>"
			  "<p><a href=\"/\">Back to the start page</a></p>",
		 message);
	page_end(r);
}

void h_css(struct web_req *r)
{
	r->content_type = "text/css; charset=utf-8";
	r->cacheable = true;
	html_raw(&r->out, web_css);
}

/* No icon yet: an empty answer keeps browsers from logging a 404. */
void h_favicon(struct web_req *r)
{
	r->status = 204;
	r->cacheable = true;
	r->content_type = "image/x-icon";
}

const char web_css[] =
	":root{--fg:#1d2330;--muted:#5b6474;--bg:#f5f6f8;--card:#fff;"
	"--line:#d9dde4;--accent:#1f5fbf;--ok:#1d7a3a;--bad:#b3261e;"
	"--warn:#8a5a00}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',"
	"Roboto,sans-serif;color:var(--fg);background:var(--bg)}\n"
	"header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem;"
	"padding:.6rem 1rem;background:#17233a;color:#fff}\n"
	"header a{color:#dfe8f7;text-decoration:none}\n"
	".brand{font-weight:700;font-size:1.15rem;color:#fff}\n"
	".brand img{height:2rem;width:auto;max-width:10rem;vertical-align:middle;"
	"margin-right:.5rem}\n"
	"nav{display:flex;flex-wrap:wrap;gap:.25rem .9rem;flex:1}\n"
	"nav a[aria-current]{color:#fff;border-bottom:2px solid #8fb3ff}\n"
	"nav a:hover,nav a:focus{color:#fff;text-decoration:underline}\n"
	".logout{display:flex;align-items:center;gap:.5rem;margin:0}\n"
	".who{font-size:.85rem;color:#b9c6dd}\n"
	".logout button{background:transparent;border:1px solid #8094b8;"
	"color:#fff;padding:.2rem .6rem}\n"
	"main{max-width:1100px;margin:0 auto;padding:1rem}\n"
	"h1{font-size:1.5rem;margin:.5rem 0 1rem}\n"
	"h2{font-size:1.15rem;margin:1.5rem 0 .5rem}\n"
	"section>:first-child{margin-top:0}\n"
	".inline{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center}\n"
	".inline input{flex:1 1 10rem;width:auto}\n"
	".inline select{flex:1 1 10rem;width:auto}\n"
	".inline label{font-weight:400}\n"
	"section,.card{background:var(--card);border:1px solid var(--line);"
	"border-radius:8px;padding:1rem;margin:0 0 1rem}\n"
	".stats{display:grid;grid-template-columns:repeat(auto-fit,"
	"minmax(150px,1fr));gap:.75rem;margin-bottom:1rem}\n"
	".stat{background:var(--card);border:1px solid var(--line);"
	"border-radius:8px;padding:.8rem}\n"
	".stat b{display:block;font-size:1.6rem}\n"
	".stat span{color:var(--muted);font-size:.9rem}\n"
	".table-wrap{overflow-x:auto}\n"
	".check{font-size:.9rem}\n"
	"td.reply{min-width:14rem}td.reply code{word-break:normal;"
	"overflow-wrap:anywhere}\n"
	"table{border-collapse:collapse;width:100%;background:var(--card)}\n"
	"th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid "
	"var(--line);vertical-align:top}\n"
	"th{font-size:.85rem;color:var(--muted);font-weight:600}\n"
	"td form{display:inline}\n"
	"form.stack{display:grid;gap:.7rem;max-width:32rem}\n"
	"form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}\n"
	"label{display:block;font-weight:600;font-size:.9rem}\n"
	"label small,.hint{display:block;font-weight:400;color:var(--muted);"
	"font-size:.85rem}\n"
	"textarea{font:inherit;width:100%;padding:.45rem .55rem;border:1px solid "
	"#b7bfcc;border-radius:6px}\n"
	"textarea#csv{font-family:ui-monospace,Menlo,Consolas,monospace}\n"
	"input,select{font:inherit;padding:.45rem .55rem;border:1px solid #b7bfcc;"
	"border-radius:6px;width:100%;background:#fff}\n"
	"input[type=checkbox]{width:auto}\n"
	"form.inline input,form.inline select{width:auto;min-width:12rem}\n"
	"button{font:inherit;padding:.45rem .9rem;border-radius:6px;border:1px "
	"solid var(--accent);background:var(--accent);color:#fff;cursor:pointer}\n"
	"button.secondary{background:#fff;color:var(--accent)}\n"
	"button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}\n"
	"button:focus,input:focus,select:focus,a:focus{outline:3px solid #8fb3ff;"
	"outline-offset:1px}\n"
	".field-error{color:var(--bad);margin:.3rem 0 0;font-size:.9rem}\n"
	"[aria-invalid=true]{border-color:var(--bad);outline:1px solid var(--bad)}\n"
	".flash{padding:.6rem .8rem;border-radius:6px;border:1px solid}\n"
	".flash.ok{background:#e9f6ee;border-color:#9ed3b0;color:var(--ok)}\n"
	".flash.error{background:#fbeceb;border-color:#e7a7a2;color:var(--bad)}\n"
	".hint.error{color:var(--bad)}\n"
	".badge{display:inline-block;padding:0 .45rem;border-radius:999px;"
	"font-size:.8rem;border:1px solid var(--line);white-space:nowrap}\n"
	".badge.ok{color:var(--ok);border-color:#9ed3b0}\n"
	".badge.bad{color:var(--bad);border-color:#e7a7a2}\n"
	".badge.warn{color:var(--warn);border-color:#e2c27a}\n"
	"code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;"
	"font-size:.9rem;word-break:break-all}\n"
	".muted{color:var(--muted)}\n"
	"meter{width:8rem}\n"
	".login{max-width:24rem;margin:2rem auto}\n"
	"footer{text-align:center;color:var(--muted);font-size:.8rem;"
	"padding:2rem 0}\n"
	"@media print{header,footer,.flash{display:none}body{background:#fff}"
	"section{border:0;padding:0}a{color:inherit;text-decoration:none}}\n"
	"@media (max-width:600px){main{padding:.6rem}"
	"th.opt,td.opt,meter{display:none}"
	"form.inline input,form.inline select{min-width:0;width:100%}"
	"form.inline button{width:100%}}\n";
