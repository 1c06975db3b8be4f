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
#include "../common/log.h"
#include "../common/privdrop.h"
#include "server.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mailroom-pop3d [-c FILE] [-h]\n"
		"  -c FILE  config file (default %s)\n"
		"  -h       this help\n"
		"Serves POP3 with STLS on [pop3] listen and POP3S on "
		"[pop3] pop3s_listen.\n",
		CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	const char *path = CONFIG_DEFAULT_PATH;
	int opt;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	/* Large (fixed arrays): static, owned by main for the whole run. */
	static struct config cfg;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	log_open("pop3d", false, cfg.log_level);
	/* Before the store and the listeners: they are opened as [server] user. */
	if (privdrop_apply(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "mailroom-pop3d: %s\n", err);
		return 1;
	}
	return pop3_server_run(&cfg);
}
