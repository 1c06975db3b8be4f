/*
 * server.c - libmicrohttpd glue: listeners, request bodies, responses.
 *
 * SECURITY: this is where network bytes enter. Each connection gets
 * HTTP_CONNECTION_MEMORY from libmicrohttpd for headers; a request body is
 * collected into a buffer capped at HTTP_POST_MAX (413 past it; a body
 * declared past HTTP_POST_DRAIN_MAX gets its 413 before it is read, a
 * smaller one is read and dropped first, so the client sees the answer). A request with
 * two Content-Length headers, or Content-Length with Transfer-Encoding,
 * is refused with 400 (request smuggling). Every response carries the
 * security headers (CSP without inline script or style, frame denial, no
 * referrer, HSTS, nosniff) and, except static assets, Cache-Control:
 * no-store.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../common/listen.h"
#include "../common/log.h"
#include "acme.h"

#define WEB_CSP                                                               \
	"default-src 'none'; style-src 'self'; img-src 'self'; "              \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct web_server {
	struct web_app *app;
	struct MHD_Daemon *https[LISTEN_ADDRS_MAX];
	int https_fd[LISTEN_ADDRS_MAX]; /* the listening sockets (for reload) */
	size_t n_https;
	struct MHD_Daemon *http[LISTEN_ADDRS_MAX];
	size_t n_http;
	char *cert;
	char *key;
};

/* Per-connection request state, freed by request_done. */
struct conn_state {
	struct buf body;
	bool too_big;
	bool started;
};

/* ---- request helpers ------------------------------------------------------ */

const char *web_query(struct web_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *web_header(struct web_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *web_field(struct web_req *r, const char *name)
{
	return form_get(&r->form, name);
}

void web_add_header(struct web_req *r, const char *name, const char *value)
{
	if (r->nheaders == WEB_HEADERS_MAX) {
		log_error("webadmin: event=too-many-headers");
		return;
	}
	snprintf(r->headers[r->nheaders].name, sizeof r->headers[0].name, "%s",
		 name);
	snprintf(r->headers[r->nheaders].value, sizeof r->headers[0].value,
		 "%s", value);
	r->nheaders++;
}

void web_redirect(struct web_req *r, const char *location)
{
	r->status = 303;
	web_add_header(r, "Location", location);
	html_reset(&r->out);
	r->content_type = "text/plain; charset=utf-8";
	html_raw(&r->out, "See other\n");
}

int web_cap(const struct web_req *r, size_t i, char *dst, size_t dstlen)
{
	if (i >= r->ncaps)
		return -1;
	return url_decode(r->caps[i].ptr, r->caps[i].len, false, dst, dstlen) < 0
		       ? -1
		       : 0;
}

void web_set_cookie(struct web_req *r, const char *name, const char *value,
		    int max_age)
{
	char v[320];
	char age[32] = "";
	if (max_age >= 0)
		snprintf(age, sizeof age, "; Max-Age=%d", max_age);
	snprintf(v, sizeof v, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict%s",
		 name, value, age);
	web_add_header(r, "Set-Cookie", v);
}

/* ---- MHD callbacks -------------------------------------------------------- */

struct header_count {
	int content_length;
	int transfer_encoding;
	bool unknown_coding; /* a Transfer-Encoding other than "chunked" */
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	struct header_count *c = cls;
	(void)kind;
	if (strcasecmp(key, "Content-Length") == 0) {
		c->content_length++;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0) {
		c->transfer_encoding++;
		/* Only plain "chunked" is understood; anything else ("gzip,
		 * chunked", "xchunked", "chunked, chunked") would leave the body
		 * length unknown, so it is refused instead of waited on. */
		if (value == NULL || strcasecmp(value, "chunked") != 0)
			c->unknown_coding = true;
	}
	return MHD_YES;
}

static enum MHD_Result send_plain(struct MHD_Connection *conn, unsigned status,
				  const char *text)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void client_ip(struct MHD_Connection *conn, char *dst, size_t dstlen)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci == NULL || ci->client_addr == NULL ||
	    sockaddr_ip_text(ci->client_addr, dst, dstlen) == NULL)
		snprintf(dst, dstlen, "?");
}

static enum MHD_Result send_response(struct web_req *r)
{
	if (r->out.failed) {
		if (r->file_fd >= 0)
			close(r->file_fd);
		log_error("webadmin: event=page-too-large path=%s", r->path);
		return send_plain(r->conn, 500, "Internal error: page too large\n");
	}
	struct MHD_Response *resp;
	if (r->file_fd >= 0) {
		resp = MHD_create_response_from_fd64(r->file_size, r->file_fd);
		if (resp == NULL)
			close(r->file_fd);
		r->file_fd = -1; /* MHD owns it now */
	} else {
		resp = MHD_create_response_from_buffer(
			r->out.b.len, r->out.b.data, MHD_RESPMEM_MUST_COPY);
	}
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
				r->content_type ? r->content_type
						: "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	/* HSTS only with a real certificate: pinning a name to a self-signed
	 * certificate (localhost in development) would lock browsers out */
	if (r->app->cert_not_after != 0 && !r->app->cert_self_signed)
		MHD_add_response_header(resp, "Strict-Transport-Security",
					"max-age=31536000");
	MHD_add_response_header(resp, "Cache-Control",
				r->cacheable ? "public, max-age=3600" : "no-store");
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(resp, r->headers[i].name,
					r->headers[i].value);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct web_app *app = cls;
	struct conn_state *cs = *con_cls;
	(void)version;

	if (cs == NULL) {
		/* Headers are in; nothing of the body has been read yet. */
		struct header_count hc = {0, 0, false};
		MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hc);
		if (hc.transfer_encoding > 1 || hc.unknown_coding)
			return send_plain(conn, 501,
					  "Transfer-Encoding not supported\n");
		if (hc.content_length > 1 ||
		    (hc.content_length > 0 && hc.transfer_encoding > 0))
			return send_plain(conn, 400,
					  "Bad request: conflicting body length\n");
		const char *cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		bool over = false;
		if (cl != NULL) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			/* Past the cap but not absurd: read the body and drop
			 * it, then answer 413. Answering before the body is
			 * read closes the connection under a client that is
			 * still sending, and a browser shows a reset instead
			 * of the answer. */
			if (errno != 0 || *end != '\0' || n > HTTP_POST_DRAIN_MAX)
				return send_plain(conn, 413,
						  "Request body too large\n");
			over = n > HTTP_POST_MAX;
		}
		cs = calloc(1, sizeof *cs);
		if (cs == NULL || buf_init(&cs->body, HTTP_POST_MAX) != 0) {
			free(cs);
			return MHD_NO;
		}
		cs->too_big = over;
		*con_cls = cs;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!cs->too_big &&
		    buf_append(&cs->body, upload_data, *upload_data_size) != 0)
			cs->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->too_big)
		return send_plain(conn, 413, "Request body too large\n");

	struct web_req *r = calloc(1, sizeof *r);
	if (r == NULL || html_init(&r->out) != 0) {
		free(r);
		return MHD_NO;
	}
	r->app = app;
	r->conn = conn;
	r->method = method;
	r->path = url;
	r->is_post = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
	r->body = cs->body.data ? cs->body.data : "";
	r->body_len = cs->body.len;
	r->status = 200;
	r->file_fd = -1;
	r->now = (int64_t)time(NULL);
	client_ip(conn, r->ip, sizeof r->ip);

	pthread_mutex_lock(&app->lock);
	web_dispatch(r);
	pthread_mutex_unlock(&app->lock);

	enum MHD_Result ret = send_response(r);
	log_debug("webadmin: event=request ip=%s method=%s path=%s status=%d",
		  r->ip, method, url, r->status);
	form_free(&r->form);
	html_free(&r->out);
	free(r);
	return ret;
}

static void request_done(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	struct conn_state *cs = *con_cls;
	if (cs == NULL)
		return;
	/* the body may hold a password: wipe before freeing */
	if (cs->body.data)
		explicit_bzero(cs->body.data, cs->body.len);
	buf_free(&cs->body);
	free(cs);
	*con_cls = NULL;
}

/* Plain HTTP: everything goes to the same path over HTTPS. */
static enum MHD_Result redirect_handle(void *cls, struct MHD_Connection *conn,
				       const char *url, const char *method,
				       const char *version,
				       const char *upload_data,
				       size_t *upload_data_size, void **con_cls)
{
	struct web_app *app = cls;
	(void)method;
	(void)version;
	(void)upload_data;
	(void)con_cls;
	*upload_data_size = 0;
	if (web_acme_is_challenge(url)) /* ACME http-01 (acme.c) */
		return web_acme_answer(conn, app->cfg, url);

	/* Host without its port; refuse anything that could break the header. */
	char host[HOSTNAME_MAX + 1];
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	size_t n = 0;
	if (h != NULL) {
		if (h[0] == '[') {
			while (h[n] && h[n] != ']')
				n++;
			if (h[n] == ']')
				n++;
		} else {
			while (h[n] && h[n] != ':')
				n++;
		}
	}
	bool ok = h != NULL && n > 0 && n < sizeof host;
	for (size_t i = 0; ok && i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '[' || c == ']' || c == ':'))
			ok = false;
	}
	if (ok) {
		memcpy(host, h, n);
		host[n] = '\0';
	} else {
		snprintf(host, sizeof host, "%s", app->cfg->hostname);
	}
	char loc[HOSTNAME_MAX + 64];
	if (app->https_port == 443)
		snprintf(loc, sizeof loc, "https://%s/", host);
	else
		snprintf(loc, sizeof loc, "https://%s:%d/", host, app->https_port);
	(void)url; /* to the front page: never reflect a path into a header */

	static const char text[] = "Moved to HTTPS\n";
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Location", loc);
	MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, 301, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* fmt is libmicrohttpd's own format: the attribute tells the compiler so
 * (clang's -Wformat-nonliteral in `make fuzz-build`). */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	(void)cls;
	vsnprintf(line, sizeof line, fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	char esc[LOG_ESCAPED_MAX];
	log_debug("webadmin: event=mhd msg=\"%s\"", log_escape(esc, sizeof esc, line, n));
}

/* ---- start and stop ------------------------------------------------------- */

static char *read_pem(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *data = malloc(WEB_PEM_MAX + 1);
	size_t len = 0;
	ssize_t got = 0;
	while (data != NULL && len < WEB_PEM_MAX &&
	       (got = read(fd, data + len, WEB_PEM_MAX - len)) > 0)
		len += (size_t)got;
	close(fd);
	if (data == NULL || got < 0 || len == 0 || len >= WEB_PEM_MAX) {
		snprintf(err, errlen, "%s: %s", path,
			 got < 0 ? strerror(errno) : "empty or too large");
		free(data);
		return NULL;
	}
	data[len] = '\0';
	return data;
}

/* One HTTPS daemon on listening socket fd (which it then owns). */
static struct MHD_Daemon *https_start(struct web_app *app, int fd,
				      const char *cert, const char *key)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_TLS;
	return MHD_start_daemon(
		flags, 0, NULL, NULL, handle, app,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_HTTPS_MEM_CERT, cert,
		MHD_OPTION_HTTPS_MEM_KEY, key,
		MHD_OPTION_HTTPS_PRIORITIES, WEB_TLS_PRIORITIES,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS_MAX,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)WEB_THREADS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)WEB_PER_IP_CONNECTIONS_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_CONNECTION_TIMEOUT,
		MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
		MHD_OPTION_END);
}

static void pem_free(char *pem)
{
	if (pem != NULL) {
		explicit_bzero(pem, strlen(pem));
		free(pem);
	}
}

int web_server_reload(struct web_server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->app->cfg;
	char *cert = read_pem(cfg->tls_cert, err, errlen);
	char *key = cert ? read_pem(cfg->tls_key, err, errlen) : NULL;
	if (key == NULL) {
		pem_free(cert);
		return -1;
	}
	/* Start every new daemon (on a duplicate of its socket) before any old
	 * one goes: a bad certificate leaves the running ones untouched. */
	struct MHD_Daemon *fresh[LISTEN_ADDRS_MAX];
	int fresh_fd[LISTEN_ADDRS_MAX];
	for (size_t i = 0; i < srv->n_https; i++) {
		fresh_fd[i] = fcntl(srv->https_fd[i], F_DUPFD_CLOEXEC, 0);
		fresh[i] = fresh_fd[i] < 0 ? NULL
					   : https_start(srv->app, fresh_fd[i], cert, key);
		if (fresh[i] == NULL) {
			if (fresh_fd[i] >= 0)
				close(fresh_fd[i]);
			for (size_t k = 0; k < i; k++)
				MHD_stop_daemon(fresh[k]);
			snprintf(err, errlen, "%s / %s: the certificate or key was "
				 "refused; still serving the old one",
				 cfg->tls_cert, cfg->tls_key);
			pem_free(cert);
			pem_free(key);
			return -1;
		}
	}
	/* The old ones stop accepting, get up to WEB_RELOAD_DRAIN_MS to finish
	 * the connections they have (a handshake already accepted, a request
	 * in flight), then go; idle keep-alive connections are closed and
	 * clients reconnect to the new daemon. */
	for (size_t i = 0; i < srv->n_https; i++) {
		MHD_socket old = MHD_quiesce_daemon(srv->https[i]);
		if (old != MHD_INVALID_SOCKET)
			close(old);
	}
	for (int waited = 0; waited < WEB_RELOAD_DRAIN_MS; waited += 20) {
		unsigned busy = 0;
		for (size_t i = 0; i < srv->n_https; i++) {
			const union MHD_DaemonInfo *di = MHD_get_daemon_info(
				srv->https[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			busy += di ? di->num_connections : 0;
		}
		if (busy == 0)
			break;
		usleep(20 * 1000);
	}
	for (size_t i = 0; i < srv->n_https; i++) {
		MHD_stop_daemon(srv->https[i]);
		srv->https[i] = fresh[i];
		srv->https_fd[i] = fresh_fd[i];
	}
	pem_free(srv->cert);
	pem_free(srv->key);
	srv->cert = cert;
	srv->key = key;
	pthread_mutex_lock(&srv->app->lock);
	srv->app->cert_checked = 0;
	web_cert_refresh(srv->app, (int64_t)time(NULL));
	pthread_mutex_unlock(&srv->app->lock);
	return 0;
}

static int port_of(const struct listen_addr *a)
{
	const char *colon = strrchr(a->text, ':');
	return colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

static int open_all(const char *spec, struct listen_addr *addrs, int *fds,
		    size_t *n_r, char *err, size_t errlen)
{
	if (listen_parse(spec, addrs, LISTEN_ADDRS_MAX, n_r, err, errlen) != 0)
		return -1;
	for (size_t i = 0; i < *n_r; i++) {
		fds[i] = listen_open(&addrs[i], err, errlen);
		if (fds[i] < 0) {
			for (size_t k = 0; k < i; k++)
				close(fds[k]);
			return -1;
		}
	}
	return 0;
}

/* Started as root with [server] user set: become that user once the ports
 * are bound and the key is read, before any request is served. */
static int drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
	if (geteuid() != 0 || cfg->user[0] == '\0')
		return 0;
	const struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		snprintf(err, errlen, "no such user '%s' ([server] user)", cfg->user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot become %s: %s", cfg->user,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int web_server_start(struct web_app *app, struct web_server **srv_r,
		     char *err, size_t errlen)
{
	const struct config *cfg = app->cfg;
	struct listen_addr addrs[LISTEN_ADDRS_MAX], haddrs[LISTEN_ADDRS_MAX];
	int fds[LISTEN_ADDRS_MAX], hfds[LISTEN_ADDRS_MAX];
	size_t n = 0, hn = 0;

	struct web_server *srv = calloc(1, sizeof *srv);
	if (srv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((srv->cert = read_pem(cfg->tls_cert, err, errlen)) == NULL ||
	    (srv->key = read_pem(cfg->tls_key, err, errlen)) == NULL)
		goto fail;
	if (open_all(cfg->admin_listen, addrs, fds, &n, err, errlen) != 0)
		goto fail;
	if (open_all(cfg->admin_http_listen, haddrs, hfds, &hn, err, errlen) != 0) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "%s: [admin] listen is empty: nothing to serve",
			 cfg->path);
		for (size_t i = 0; i < hn; i++)
			close(hfds[i]);
		goto fail;
	}
	app->https_port = port_of(&addrs[0]);
	if (drop_privileges(cfg, err, errlen) != 0) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		for (size_t i = 0; i < hn; i++)
			close(hfds[i]);
		goto fail;
	}

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_USE_ERROR_LOG;
	srv->app = app;
	for (size_t i = 0; i < n; i++) {
		srv->https[i] = https_start(app, fds[i], srv->cert, srv->key);
		srv->https_fd[i] = fds[i];
		if (srv->https[i] == NULL) {
			snprintf(err, errlen,
				 "%s: cannot start HTTPS (bad certificate or key?)",
				 addrs[i].text);
			for (size_t k = i; k < n; k++)
				close(fds[k]);
			for (size_t k = 0; k < hn; k++)
				close(hfds[k]);
			goto fail;
		}
		srv->n_https++;
	}
	for (size_t i = 0; i < hn; i++) {
		srv->http[i] = MHD_start_daemon(
			flags, 0, NULL, NULL, redirect_handle, app,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			MHD_OPTION_LISTEN_SOCKET, hfds[i],
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)WEB_CONNECTIONS_MAX,
			MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)WEB_CONNECTION_TIMEOUT,
			MHD_OPTION_END);
		if (srv->http[i] == NULL) {
			snprintf(err, errlen, "%s: cannot start HTTP redirector",
				 haddrs[i].text);
			for (size_t k = i; k < hn; k++)
				close(hfds[k]);
			goto fail;
		}
		srv->n_http++;
	}
	for (size_t i = 0; i < n; i++)
		log_info("webadmin: event=listen addr=%s proto=https", addrs[i].text);
	for (size_t i = 0; i < hn; i++)
		log_info("webadmin: event=listen addr=%s proto=http-redirect",
			 haddrs[i].text);
	*srv_r = srv;
	return 0;
fail:
	web_server_stop(&srv);
	return -1;
}

void web_server_stop(struct web_server **srvp)
{
	struct web_server *srv = *srvp;
	if (srv == NULL)
		return;
	for (size_t i = 0; i < srv->n_https; i++)
		MHD_stop_daemon(srv->https[i]);
	for (size_t i = 0; i < srv->n_http; i++)
		MHD_stop_daemon(srv->http[i]);
	pem_free(srv->key);
	free(srv->cert);
	free(srv);
	*srvp = NULL;
}
