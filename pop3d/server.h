/*
 * server.h - mailroom-pop3d's event loop: listeners, connections, TLS and
 * signals around the I/O-free session core (pop3_session.h).
 */
#ifndef MAILROOM_POP3_SERVER_H
#define MAILROOM_POP3_SERVER_H

#include "../common/config.h"

/*
 * Open the listeners of cfg ([pop3] listen with STLS, pop3s_listen with
 * implicit TLS) and the store, then serve until SIGTERM/SIGINT. SIGHUP
 * reloads the certificate. Returns the process exit status; on a startup
 * failure (port taken, no certificate for POP3S, no database) one line
 * goes to the log first.
 */
int pop3_server_run(const struct config *cfg);

#endif
