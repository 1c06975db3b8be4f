/*
 * server.h - the webadmin's listeners: libmicrohttpd daemons over the
 * sockets named in [admin] listen (HTTPS) and http_listen (plain HTTP that
 * only redirects to HTTPS).
 */
#ifndef MAILROOM_WEB_SERVER_H
#define MAILROOM_WEB_SERVER_H

#include <stddef.h>

#include "web.h"

/* TLS: GnuTLS priorities for libmicrohttpd, TLS 1.2 and 1.3 with AEAD
 * suites and forward secrecy only, in the server's order. */
#define WEB_TLS_PRIORITIES                                                    \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:" \
	"+AES-128-GCM:+CHACHA20-POLY1305:-RSA:-DHE-RSA:-SHA1:-SHA256:-SHA384:" \
	"%SERVER_PRECEDENCE"
#define WEB_CONNECTIONS_MAX 512
/* TLS and HTTP parsing run on this many threads; handlers still take the
 * app lock one at a time (web.h). */
#define WEB_THREADS 2
#define WEB_PER_IP_CONNECTIONS_MAX 128
#define WEB_CONNECTION_TIMEOUT 30 /* seconds idle */
#define WEB_PEM_MAX (64 * 1024)
#define WEB_RELOAD_DRAIN_MS 2000 /* old listeners finish their connections */

struct web_server;

/* Bind every listener and start serving. 0, or -1 with one line in err
 * ("127.0.0.1:8443: Address already in use"). */
int web_server_start(struct web_app *app, struct web_server **srv_r,
		     char *err, size_t errlen) __attribute__((warn_unused_result));
void web_server_stop(struct web_server **srvp);
/* Read tls_cert/tls_key again and serve new connections with them (SIGHUP).
 * The new daemons start before the old ones stop, so a bad file leaves the
 * old certificate serving: 0, or -1 with the reason in err. */
int web_server_reload(struct web_server *srv, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
