/*
 * domain.c - `mailroomctl domain add|del|list`.
 * Deleting a domain that still has accounts or aliases needs --force.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int print_domain(void *ctx, const struct store_domain *d)
{
	(void)ctx;
	printf("%s\t%lld accounts\n", d->name, (long long)d->accounts);
	return 0;
}

int cli_domain_main(struct cli *cli, int argc, char **argv)
{
	const char *usage = "usage: mailroomctl domain add|del|list [NAME] [--force]";
	if (argc < 2)
		return cli_fail("%s", usage);
	const char *sub = argv[1];
	bool force = false;
	const char *name_arg = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (argv[i][0] == '-')
			return cli_fail("unknown option '%s'", argv[i]);
		else if (name_arg == NULL)
			name_arg = argv[i];
		else
			return cli_fail("%s", usage);
	}
	if (strcmp(sub, "list") == 0) {
		if (name_arg || force)
			return cli_fail("usage: mailroomctl domain list");
		struct store *st = cli_store(cli);
		if (!st)
			return 1;
		int rc = store_domain_list(st, print_domain, NULL);
		return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, "domain list");
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0)
		return cli_fail("unknown domain command '%s' (%s)", sub, usage);
	if (name_arg == NULL)
		return cli_fail("%s", usage);
	char name[ADDR_DOMAIN_MAX + 1], what[ADDR_DOMAIN_MAX + 16];
	if (cli_domain(name_arg, name, sizeof name) != 0)
		return 1;
	snprintf(what, sizeof what, "domain %s", name);
	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	int rc;
	if (strcmp(sub, "add") == 0) {
		if (force)
			return cli_fail("--force is only for domain del");
		rc = store_domain_add(st, name);
	} else {
		rc = store_domain_del(st, name, force);
	}
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	cli_audit(cli, strcmp(sub, "add") == 0 ? "domain-add" : "domain-del", name);
	printf("%s %s\n", what, strcmp(sub, "add") == 0 ? "added" : "deleted");
	return 0;
}
