/*
 * smtp_server.h - mailroom-smtpd's event loop: listeners, connections,
 * TLS, timeouts, per-IP limits, the spool, signals; the glue between
 * libevent and the I/O-free protocol core (smtp_session.h).
 */
#ifndef MAILROOM_SMTP_SERVER_H
#define MAILROOM_SMTP_SERVER_H

#include <stddef.h>

#include "../common/config.h"

/*
 * Bind every configured listener, open the store, start the workers and
 * serve until SIGTERM/SIGINT (then finish in-flight transactions). SIGHUP
 * re-reads cfg->path: hostname, message_size_limit, max_recipients and the
 * certificate apply to new sessions (listen addresses need a restart), so
 * cfg is updated in place. Returns the process exit status: 0 after a
 * clean stop, 1 with one line in err when startup failed (a port taken,
 * the store missing).
 */
int smtp_server_run(struct config *cfg, char *err, size_t errlen);

#endif
