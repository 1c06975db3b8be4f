/*
 * alias.c - `mailroomctl alias add|del|list`.
 *
 *   alias add ADDRESS TARGET...   ADDRESS "@domain" is the catch-all
 *   alias del ADDRESS [TARGET]    without TARGET every target goes
 *   alias list [DOMAIN]
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* An alias address: local@domain or "@domain" (catch-all). */
static int alias_address(const char *in, char *out, size_t outlen)
{
	if (in[0] == '@') {
		char d[ADDR_DOMAIN_MAX + 1];
		if (cli_domain(in + 1, d, sizeof d) != 0)
			return -1;
		if (strlen(d) + 2 > outlen)
			return cli_fail("'%s' is too long", in), -1;
		snprintf(out, outlen, "@%s", d);
		return 0;
	}
	return cli_address(in, out, outlen);
}

static int print_alias(void *ctx, const struct store_alias *a)
{
	(void)ctx;
	printf("%s\t%s\n", a->address, a->target);
	return 0;
}

int cli_alias_main(struct cli *cli, int argc, char **argv)
{
	const char *usage = "usage: mailroomctl alias add|del|list ADDRESS [TARGET...]";
	if (argc < 2)
		return cli_fail("%s", usage);
	const char *sub = argv[1];
	for (int i = 2; i < argc; i++)
		if (argv[i][0] == '-')
			return cli_fail("unknown option '%s'", argv[i]);

	if (strcmp(sub, "list") == 0) {
		if (argc > 3)
			return cli_fail("usage: mailroomctl alias list [DOMAIN]");
		char domain[ADDR_DOMAIN_MAX + 1];
		if (argc == 3 && cli_domain(argv[2], domain, sizeof domain) != 0)
			return 1;
		struct store *st = cli_store(cli);
		if (!st)
			return 1;
		int rc = store_alias_list(st, argc == 3 ? domain : NULL,
					  print_alias, NULL);
		return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, "alias list");
	}
	bool add = strcmp(sub, "add") == 0;
	if (!add && strcmp(sub, "del") != 0)
		return cli_fail("unknown alias command '%s' (%s)", sub, usage);
	if (argc < (add ? 4 : 3) || (!add && argc > 4))
		return cli_fail("%s", add ? "usage: mailroomctl alias add ADDRESS TARGET..."
				      : "usage: mailroomctl alias del ADDRESS [TARGET]");

	char address[ADDR_MAX + 1], what[2 * ADDR_MAX + 16];
	if (alias_address(argv[2], address, sizeof address) != 0)
		return 1;
	/* validate every target before changing anything */
	char targets[16][ADDR_MAX + 1];
	int ntargets = argc - 3;
	if (ntargets > 16)
		return cli_fail("at most 16 targets per command");
	for (int i = 0; i < ntargets; i++)
		if (cli_address(argv[3 + i], targets[i], sizeof targets[i]) != 0)
			return 1;

	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	const char *domain = strchr(address, '@') + 1;
	if (add && store_domain_exists(st, domain) == 0)
		return cli_fail("domain %s is not local (add it with: mailroomctl "
				"domain add %s)", domain, domain);
	if (!add) {
		int rc = store_alias_del(st, address, ntargets ? targets[0] : NULL);
		snprintf(what, sizeof what, "alias %.320s%s%.320s", address,
			 ntargets ? " -> " : "", ntargets ? targets[0] : "");
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, what);
		cli_audit(cli, "alias-del", what + 6);
		printf("%s deleted\n", what);
		return 0;
	}
	for (int i = 0; i < ntargets; i++) {
		snprintf(what, sizeof what, "alias %.320s -> %.320s", address, targets[i]);
		int rc = store_alias_add(st, address, targets[i]);
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, what);
		cli_audit(cli, "alias-add", what + 6);
		printf("%s added\n", what);
	}
	return 0;
}
