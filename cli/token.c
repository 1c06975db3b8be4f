/*
 * token.c - `mailroomctl token add|list|del`: API tokens for the
 * webadmin's JSON API.
 *
 * `token add NAME` prints the new token once on stdout (only its SHA-256
 * is stored, so it cannot be shown again); `token list` prints
 * name, created and last used (unix time, 0 = never), tab-separated;
 * `token del NAME` revokes it at once.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"

static int print_token(void *ctx, const struct store_token *t)
{
	(void)ctx;
	printf("%s\t%lld\t%lld\n", t->name, (long long)t->created,
	       (long long)t->last_used);
	return 0;
}

int cli_token_main(struct cli *cli, int argc, char **argv)
{
	const char *usage = "usage: mailroomctl token add|del NAME | token list";
	if (argc < 2)
		return cli_fail("%s", usage);
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0) {
		if (argc != 2)
			return cli_fail("usage: mailroomctl token list");
		struct store *st = cli_store(cli);
		if (!st)
			return 1;
		int rc = store_token_list(st, print_token, NULL);
		return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, "token list");
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "del") != 0)
		return cli_fail("unknown token command '%s' (%s)", sub, usage);
	if (argc != 3 || argv[2][0] == '-')
		return cli_fail("%s", usage);
	const char *name = argv[2];
	char what[STORE_TOKEN_NAME_MAX + 16];
	snprintf(what, sizeof what, "token %s", name);
	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	if (strcmp(sub, "del") == 0) {
		int rc = store_token_del(st, name);
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, what);
		cli_audit(cli, "token-del", name);
		return 0;
	}
	char token[STORE_TOKEN_TEXT_MAX];
	int rc = store_token_create(st, name, token, sizeof token);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	cli_audit(cli, "token-add", name);
	printf("%s\n", token);
	OPENSSL_cleanse(token, sizeof token);
	return 0;
}
