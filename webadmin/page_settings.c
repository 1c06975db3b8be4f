/*
 * page_settings.c - the admin's settings page: the server name and public
 * address the DNS and autoconfig pages use, outgoing mail (smarthost and
 * size limit, page_outgoing.c), API tokens (create, shown once; revoke),
 * and a backup download.
 *
 * Limits: hostname, public address, smarthost and size limit are
 * settings kept in the store; the listeners and certificate paths live in
 * mailroom.conf, which this unprivileged process does not write. The page
 * says so instead of pretending.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "../common/addr.h"
#include "../common/log.h"
#include "../common/tls.h"
#include "session.h"
#include "web.h"

static int token_row(void *ctx, const struct store_token *t)
{
	struct web_req *r = ctx;
	char made[40], used[40];
	html_time_as(made, sizeof made, t->created, "%Y-%m-%d", "-");
	html_time_as(used, sizeof used, t->last_used, "%Y-%m-%d %H:%M UTC", "never");
	html_fmt(&r->out, "<tr><td>%s</td><td>%s</td><td>%s</td><td>"
			  "<form method=\"post\" action=\"/settings/token-del\">",
		 t->name, made, used);
	page_csrf(r);
	html_fmt(&r->out, "<input type=\"hidden\" name=\"name\" value=\"%s\">"
			  "<button class=\"danger\" type=\"submit\">Revoke</button>"
			  "</form></td></tr>",
		 t->name);
	return 0;
}

void h_settings(struct web_req *r)
{
	settings_page(r, NULL);
}

void settings_page(struct web_req *r, const struct outgoing_form *f)
{
	struct store *st = r->app->store;
	char host[HOSTNAME_MAX + 1], ip[64];
	if (store_setting_get(st, "hostname", host, sizeof host) != STORE_OK)
		snprintf(host, sizeof host, "%s", r->app->cfg->hostname);
	if (store_setting_get(st, "public_ip", ip, sizeof ip) != STORE_OK)
		ip[0] = '\0';
	struct html *h = &r->out;
	page_begin(r, "Settings");
	page_hostname_notice(r, host);

	html_raw(h, "<section><h2>This server</h2><form class=\"stack\" "
		    "method=\"post\" action=\"/settings\">");
	page_csrf(r);
	html_fmt(h,
		 "<div><label for=\"hostname\">Server name<small>What mail "
		 "programs connect to and what MX records point at.</small>"
		 "</label><input id=\"hostname\" name=\"hostname\" required "
		 "value=\"%s\"></div>"
		 "<div><label for=\"public_ip\">Public IPv4 address<small>The "
		 "address the internet reaches this server at; the DNS page "
		 "checks the A and PTR records against it. Empty: not "
		 "checked.</small></label><input id=\"public_ip\" "
		 "name=\"public_ip\" inputmode=\"decimal\" value=\"%s\"></div>"
		 "<div><button type=\"submit\">Save</button></div></form>"
		 "<p class=\"hint\">Listening ports and the certificate files "
		 "are set in %s and take effect when the daemons restart.</p>"
		 "</section>",
		 host, ip, r->app->cfg->path);
	settings_outgoing_section(r, f);

	html_raw(h, "<section><h2>API tokens</h2><p class=\"hint\">Scripts use "
		    "these with <code>Authorization: Bearer TOKEN</code> on "
		    "<code>/api/v1/</code>. A token can do everything an admin "
		    "can.</p><div class=\"table-wrap\"><table><thead><tr>"
		    "<th>Name</th><th>Created</th><th>Last used</th><th></th>"
		    "</tr></thead><tbody>");
	int rc = store_token_list(st, token_row, r);
	html_raw(h, "</tbody></table></div>");
	if (rc != STORE_OK)
		html_fmt(h, "<p class=\"flash error\">%s</p>",
			 web_store_error(r->app, rc));
	html_raw(h, "<form class=\"inline\" method=\"post\" "
		    "action=\"/settings/token-add\">");
	page_csrf(r);
	html_raw(h, "<div><label for=\"token-name\">New token's name</label>"
		    "<input id=\"token-name\" name=\"name\" required "
		    "placeholder=\"billing-script\" maxlength=\"64\"></div>"
		    "<button type=\"submit\">Create token</button></form>"
		    "</section>");

	html_raw(h, "<section><h2>Certificate</h2><p class=\"hint\">Paste the "
		    "certificate (with its chain) and the private key you got "
		    "for this server's name, in PEM form (the text that starts "
		    "with <code>-----BEGIN</code>). They are checked before they "
		    "replace the current ones; the panel switches at once, the "
		    "mail daemons when they are reloaded (SIGHUP).</p>"
		    "<form class=\"stack\" method=\"post\" "
		    "action=\"/settings/certificate\">");
	page_csrf(r);
	html_raw(h, "<div><label for=\"cert\">Certificate chain (PEM)</label>"
		    "<textarea id=\"cert\" name=\"cert\" rows=\"6\" required>"
		    "</textarea></div><div><label for=\"key\">Private key (PEM)"
		    "</label><textarea id=\"key\" name=\"key\" rows=\"6\" "
		    "required autocomplete=\"off\"></textarea></div>"
		    "<div><button type=\"submit\" class=\"secondary\">Install "
		    "certificate</button></div></form></section>");

	html_raw(h, "<section><h2>Backup</h2><p>A copy of the whole database "
		    "(accounts, passwords as hashes, all mail), consistent even "
		    "while mail arrives. Keep it somewhere safe; restore it with "
		    "<code>mailroomctl restore FILE</code>.</p>"
		    "<form method=\"post\" action=\"/settings/backup\">");
	page_csrf(r);
	html_raw(h, "<button type=\"submit\" class=\"secondary\">Download a "
		    "backup</button></form></section>");
	page_end(r);
}

void h_settings_post(struct web_req *r)
{
	const char *host_in = web_field(r, "hostname");
	const char *ip_in = web_field(r, "public_ip");
	char host[ADDR_DOMAIN_MAX + 1];
	const char *why;
	unsigned char b[4];
	if (host_in == NULL ||
	    addr_domain_normalise(host_in, strlen(host_in), host, &why) != 0) {
		web_redirect_msg(r, "/settings", "error",
				 "The server name must be a host name like "
				 "mail.example.com.");
		return;
	}
	if (ip_in != NULL && *ip_in != '\0' && inet_pton(AF_INET, ip_in, b) != 1) {
		web_redirect_msg(r, "/settings", "error",
				 "The public address must be an IPv4 address "
				 "like 203.0.113.5.");
		return;
	}
	struct store *st = r->app->store;
	int rc = store_setting_set(st, "hostname", host);
	if (rc == STORE_OK)
		rc = store_setting_set(st, "public_ip", ip_in ? ip_in : "");
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/settings", "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "settings", "hostname=%s public_ip=%s", host, ip_in ? ip_in : "");
	web_redirect_msg(r, "/settings", "ok", "Settings saved.");
}

void h_token_add(struct web_req *r)
{
	const char *name = web_field(r, "name");
	char token[STORE_TOKEN_TEXT_MAX], msg[400];
	int rc = name ? store_token_create(r->app->store, name, token, sizeof token)
		      : STORE_INVALID;
	if (rc != STORE_OK) {
		snprintf(msg, sizeof msg, "Could not create the token: %s",
			 web_store_error(r->app, rc));
		web_redirect_msg(r, "/settings", "error", msg);
		return;
	}
	web_audit(r, "token-add", "%s", name);
	snprintf(msg, sizeof msg,
		 "Token %s created: %s - copy it now, it will not be shown again.",
		 name, token);
	explicit_bzero(token, sizeof token);
	web_redirect_msg(r, "/settings", "ok", msg);
}

void h_token_del(struct web_req *r)
{
	const char *name = web_field(r, "name");
	int rc = name ? store_token_del(r->app->store, name) : STORE_NOTFOUND;
	if (rc != STORE_OK) {
		web_redirect_msg(r, "/settings", "error", web_store_error(r->app, rc));
		return;
	}
	web_audit(r, "token-del", "%s", name);
	web_redirect_msg(r, "/settings", "ok", "Token revoked.");
}

/* Write text to path (mode 0600 for keys) and fsync. 0 or -1. */
static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			close(fd);
			unlink(path);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

void h_certificate(struct web_req *r)
{
	const struct config *cfg = r->app->cfg;
	const char *cert = web_field(r, "cert");
	const char *key = web_field(r, "key");
	char tcert[CONFIG_PATH_MAX + 16], tkey[CONFIG_PATH_MAX + 16], err[300];
	char msg[400];
	if (cert == NULL || key == NULL || strstr(cert, "-----BEGIN") == NULL ||
	    strstr(key, "-----BEGIN") == NULL) {
		web_redirect_msg(r, "/settings", "error",
				 "Paste both the certificate and the key in PEM "
				 "form.");
		return;
	}
	if (snprintf(tcert, sizeof tcert, "%s.new", cfg->tls_cert) >= (int)sizeof tcert ||
	    snprintf(tkey, sizeof tkey, "%s.new", cfg->tls_key) >= (int)sizeof tkey ||
	    write_file(tcert, cert, 0644) != 0 || write_file(tkey, key, 0600) != 0) {
		unlink(tcert);
		log_error("webadmin: event=cert-write-failed error=\"%s\"",
			  strerror(errno));
		web_redirect_msg(r, "/settings", "error",
				 "The certificate could not be written next to "
				 "the current one (permissions?).");
		return;
	}
	/* the same check the mail daemons make: parses, key matches */
	SSL_CTX *ctx = tls_server_ctx_new(tcert, tkey, err, sizeof err);
	if (ctx == NULL) {
		unlink(tcert);
		unlink(tkey);
		snprintf(msg, sizeof msg, "Not installed: %s", err);
		web_redirect_msg(r, "/settings", "error", msg);
		return;
	}
	SSL_CTX_free(ctx);
	if (rename(tkey, cfg->tls_key) != 0 || rename(tcert, cfg->tls_cert) != 0) {
		unlink(tcert);
		unlink(tkey);
		web_redirect_msg(r, "/settings", "error",
				 "The new files could not be moved into place.");
		return;
	}
	r->app->cert_checked = 0; /* the dashboard reads the new expiry */
	web_audit(r, "certificate", "installed %s", cfg->tls_cert);
	/* the main thread swaps the listeners' certificate (see main.c) */
	kill(getpid(), SIGHUP);
	web_redirect_msg(r, "/settings", "ok",
			 "Certificate installed. Reload the mail daemons to "
			 "use it for mail too.");
}

void h_backup(struct web_req *r)
{
	char rnd[SESSION_ID_HEX + 1], path[CONFIG_PATH_MAX + 96];
	if (session_random_hex(rnd) != 0 ||
	    snprintf(path, sizeof path, "%s/.webadmin-backup-%.16s.db",
		     r->app->cfg->data_dir, rnd) >= (int)sizeof path) {
		web_error_page(r, 500, "Could not name a backup file.");
		return;
	}
	int rc = store_backup(r->app->store, path);
	if (rc != STORE_OK) {
		log_error("webadmin: event=backup-failed error=\"%s\"",
			  store_errmsg(r->app->store));
		web_error_page(r, 500, web_store_error(r->app, rc));
		return;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path); /* the open fd keeps it until the download ends */
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		web_error_page(r, 500, "Could not read the backup.");
		return;
	}
	char disp[128], day[16];
	html_time_as(day, sizeof day, r->now, "%Y%m%d", "");
	snprintf(disp, sizeof disp, "attachment; filename=\"mailroom-%s.db\"", day);
	web_add_header(r, "Content-Disposition", disp);
	r->content_type = "application/vnd.sqlite3";
	r->file_fd = fd;
	r->file_size = (uint64_t)sb.st_size;
	web_audit(r, "backup-download", "%lld bytes", (long long)sb.st_size);
}
