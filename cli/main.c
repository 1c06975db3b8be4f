/*
 * main.c - mailroomctl: every admin operation from a shell.
 *
 *   mailroomctl [-c FILE] VERB [ARGS...]
 *
 * One const table maps verbs to handlers; each handler validates its own
 * arguments. Resellers script this tool, so its contract is strict: exit 0
 * on success, 1 with exactly one line on stderr for any user error, and
 * machine-friendly output (one record per line, tab-separated) on stdout.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_rule_main(struct cli *cli, int argc, char **argv); /* rule.c */
int cli_preseed_main(struct cli *cli, int argc, char **argv); /* preseed.c */
int cli_factory_reset_main(struct cli *cli, int argc, char **argv); /* factory_reset.c */
int cli_dkim_main(struct cli *cli, int argc, char **argv); /* dkim.c */

struct cli_verb {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *usage;
};

static const struct cli_verb verbs[] = {
	{"init", cli_init_main, "init"},
	{"domain", cli_domain_main, "domain add|del|list [NAME] [--force]"},
	{"user", cli_user_main,
	 "user add|del|list|passwd|set ADDRESS [--role admin|domain-admin|user] "
	 "[--name TEXT] [--quota SIZE] [--random] [--enable|--disable]"},
	{"alias", cli_alias_main, "alias add|del|list ADDRESS [TARGET...]"},
	{"queue", cli_queue_main, "queue list|flush|del [ID]"},
	{"backup", cli_backup_main, "backup FILE"},
	{"restore", cli_restore_main, "restore FILE"},
	{"token", cli_token_main, "token add|del NAME | token list"},
	{"rule", cli_rule_main,
	 "rule list|show|add|del|enable|disable|move|test|import|export "
	 "ADDRESS|--server ... (see cli/rule.c)"},
	{"preseed", cli_preseed_main, "preseed apply|show [FILE]"},
	{"factory-reset", cli_factory_reset_main, "factory-reset --yes"},
	{"dkim", cli_dkim_main, "dkim generate|show DOMAIN [--force]"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: mailroomctl [-c FILE] VERB [ARGS...]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		fprintf(out, "  %s\n", verbs[i].usage);
	fprintf(out, "\nThe config file defaults to %s.\n", CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	const char *config_path = CONFIG_DEFAULT_PATH;
	int opt;

	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 1;
	}

	static struct cli cli; /* large (config arrays); lives for main only */
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cli.cfg);
	if (config_load(&cli.cfg, config_path, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	const struct passwd *pw = getpwuid(getuid());
	snprintf(cli.actor_buf, sizeof cli.actor_buf, "cli:%s",
		 pw ? pw->pw_name : "?");
	cli.actor = cli.actor_buf;

	const char *verb = argv[optind];
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strcmp(verbs[i].name, verb) == 0) {
			int rc = verbs[i].run(&cli, argc - optind, argv + optind);
			store_close(&cli.store);
			return rc;
		}
	}
	return cli_fail("unknown verb '%s' (see mailroomctl -h)", verb);
}
