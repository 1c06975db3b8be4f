/*
 * startup.c - command line, config and log for every daemon (startup.h).
 */
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "startup.h"

static void usage(FILE *out, const struct startup_program *prog)
{
	fprintf(out,
		"usage: %s [-c FILE] [-h]\n"
		"  -c FILE  config file (default %s)\n"
		"  -h       this help\n",
		prog->name, CONFIG_DEFAULT_PATH);
	if (prog->summary)
		fprintf(out, "%s\n", prog->summary);
}

int startup_config(int argc, char **argv, const struct startup_program *prog,
		   struct config *cfg)
{
	const char *path = CONFIG_DEFAULT_PATH;
	int opt;
	optind = 1;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			usage(stdout, prog);
			return 0;
		default:
			usage(stderr, prog);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr, prog);
		return 1;
	}
	char err[CONFIG_ERROR_MAX];
	config_defaults(cfg);
	if (config_load(cfg, path, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	log_open(prog->ident, false, cfg->log_level);
	return -1;
}
