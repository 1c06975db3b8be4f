/*
 * main.c - mailroom-pop3d: POP3 (with STLS) and POP3S for Mailroom's
 * mailboxes.
 *
 *   mailroom-pop3d [-c FILE] [-h]
 *
 * Reads the config, opens the log (stderr, the supervisor keeps it) and
 * hands over to the event loop in server.c. Exit 0 after SIGTERM, 1 with
 * one clear line for a bad config, a taken port or a missing store.
 */
#include <stdio.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/startup.h"
#include "../common/log.h"
#include "../common/privdrop.h"
#include "server.h"

int main(int argc, char **argv)
{
	static const struct startup_program prog = {
		.name = "mailroom-pop3d",
		.ident = "pop3d",
		.summary = "Serves POP3 with STLS on [pop3] listen and POP3S on "
			   "[pop3] pop3s_listen.",
	};
	/* Large (fixed arrays): static, owned by main for the whole run. */
	static struct config cfg;
	char err[CONFIG_ERROR_MAX];
	int status = startup_config(argc, argv, &prog, &cfg);
	if (status >= 0)
		return status;
	/* Before the store and the listeners: they are opened as [server] user. */
	if (privdrop_apply(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mailroom-pop3d: %s\n", err);
		return 1;
	}
	return pop3_server_run(&cfg);
}
