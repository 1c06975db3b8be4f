/*
 * user.c - `mailroomctl user add|del|list|passwd|set`.
 *
 * Passwords come from standard input (one line; no echo on a terminal) or
 * are generated with --random and printed once. They are hashed before
 * they reach the store and never printed or logged otherwise.
 *
 * passwd, set --disable and del also end the account's web panel sessions
 * (the web_sessions rows), as the panel's own password change does: a
 * cookie taken before the change must not outlive it, nor come back to
 * life when the account is enabled again or re-created under its address.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "../store/websession.h"

struct user_opts {
	const char *address;
	const char *role;
	const char *name;
	const char *quota;
	bool random;
	int enabled; /* -1 unchanged */
};

static int parse_opts(int argc, char **argv, struct user_opts *o)
{
	memset(o, 0, sizeof *o);
	o->enabled = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;
		if (strcmp(a, "--role") == 0)
			slot = &o->role;
		else if (strcmp(a, "--name") == 0)
			slot = &o->name;
		else if (strcmp(a, "--quota") == 0)
			slot = &o->quota;
		else if (strcmp(a, "--random") == 0)
			o->random = true;
		else if (strcmp(a, "--enable") == 0)
			o->enabled = 1;
		else if (strcmp(a, "--disable") == 0)
			o->enabled = 0;
		else if (a[0] == '-')
			return cli_fail("unknown option '%s'", a);
		else if (o->address == NULL)
			o->address = a;
		else
			return cli_fail("unexpected argument '%s'", a);
		if (slot) {
			if (i + 1 >= argc)
				return cli_fail("%s needs a value", a);
			*slot = argv[++i];
		}
	}
	return 0;
}

/* Password from stdin or --random, hashed into hash. 0 or exit status. */
static int new_password_hash(const struct user_opts *o, char *hash,
			     size_t hashlen)
{
	char pw[PASSWORD_MAX + 2];
	int rc;
	if (o->random) {
		if (cli_random_password(pw, sizeof pw) != 0)
			return cli_fail("cannot generate a random password");
		printf("password: %s\n", pw);
	} else if ((rc = cli_read_password(pw, sizeof pw)) != 0) {
		return rc;
	}
	rc = store_password_hash(pw, hash, hashlen);
	OPENSSL_cleanse(pw, sizeof pw);
	if (rc != STORE_OK)
		return cli_fail("cannot hash the password");
	return 0;
}

/* Forget every web panel session of address. 0, or cli_fail and 1 (the
 * change itself is already done: the line says so). */
static int end_web_sessions(struct cli *cli, struct store *st,
			    const char *address, const char *done)
{
	if (store_websession_del_address(st, address, NULL) == STORE_OK)
		return 0;
	return cli_fail("%s, but its web panel sessions were not ended: %s",
			done, store_errmsg(cli->store));
}

static int print_account(void *ctx, const struct store_account *a)
{
	(void)ctx;
	printf("%s\t%s\t%s\t%lld/%lld bytes\t%lld messages\t%s\n", a->address,
	       store_role_name(a->role), a->enabled ? "enabled" : "disabled",
	       (long long)a->used_bytes, (long long)a->quota_bytes,
	       (long long)a->messages, a->display_name);
	return 0;
}

static int user_add(struct cli *cli, const struct user_opts *o,
		    const char *address)
{
	enum store_role role = STORE_ROLE_USER;
	int64_t quota = 0;
	if (o->role && store_role_parse(o->role, &role) != 0)
		return cli_fail("unknown role '%s' (admin, domain-admin, user)",
				o->role);
	if (o->quota && (quota = cli_parse_size(o->quota)) < 0)
		return cli_fail("bad quota '%s' (bytes, or with K, M, G)",
				o->quota);
	if (o->name && strlen(o->name) > DISPLAY_NAME_MAX)
		return cli_fail("display name longer than %d bytes",
				DISPLAY_NAME_MAX);
	if (o->enabled != -1)
		return cli_fail("--enable/--disable are for user set");
	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	const char *at = strchr(address, '@');
	if (at && store_domain_exists(st, at + 1) == 0)
		return cli_fail("domain %s does not exist (add it with: "
				"mailroomctl domain add %s)", at + 1, at + 1);
	struct store_account existing;
	if (store_account_get(st, address, &existing) == STORE_OK)
		return cli_fail("user %s already exists", address);
	char hash[PASSWORD_HASH_MAX + 1];
	int rc = new_password_hash(o, hash, sizeof hash);
	if (rc != 0)
		return rc;
	rc = store_account_add(st, address, hash, role, o->name ? o->name : "",
			       quota);
	if (rc != STORE_OK) {
		char what[ADDR_MAX + 8];
		snprintf(what, sizeof what, "user %s", address);
		return cli_store_fail(cli, rc, what);
	}
	cli_audit(cli, "user-add", address);
	printf("user %s added (%s)\n", address, store_role_name(role));
	return 0;
}

int cli_user_main(struct cli *cli, int argc, char **argv)
{
	const char *usage =
		"usage: mailroomctl user add|del|list|passwd|set ADDRESS [options]";
	if (argc < 2)
		return cli_fail("%s", usage);
	const char *sub = argv[1];
	struct user_opts o;
	int rc = parse_opts(argc, argv, &o);
	if (rc != 0)
		return rc;

	if (strcmp(sub, "list") == 0) {
		char domain[ADDR_DOMAIN_MAX + 1];
		if (o.address && cli_domain(o.address, domain, sizeof domain) != 0)
			return 1;
		struct store *st = cli_store(cli);
		if (!st)
			return 1;
		rc = store_account_list(st, o.address ? domain : NULL,
					print_account, NULL);
		return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, "user list");
	}
	if (strcmp(sub, "add") && strcmp(sub, "del") && strcmp(sub, "passwd") &&
	    strcmp(sub, "set"))
		return cli_fail("unknown user command '%s' (%s)", sub, usage);
	if (o.address == NULL)
		return cli_fail("%s", usage);
	char address[ADDR_MAX + 1], what[ADDR_MAX + 8];
	if (cli_address(o.address, address, sizeof address) != 0)
		return 1;
	snprintf(what, sizeof what, "user %s", address);

	if (strcmp(sub, "add") == 0)
		return user_add(cli, &o, address);

	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	if (strcmp(sub, "del") == 0) {
		if (o.role || o.name || o.quota || o.random || o.enabled != -1)
			return cli_fail("usage: mailroomctl user del ADDRESS");
		rc = store_account_del(st, address);
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, what);
		cli_audit(cli, "user-del", address);
		if ((rc = end_web_sessions(cli, st, address, "user deleted")) != 0)
			return rc;
		printf("%s deleted\n", what);
		return 0;
	}
	struct store_account acct;
	rc = store_account_get(st, address, &acct);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	if (strcmp(sub, "passwd") == 0) {
		if (o.role || o.name || o.quota || o.enabled != -1)
			return cli_fail("usage: mailroomctl user passwd ADDRESS [--random]");
		char hash[PASSWORD_HASH_MAX + 1];
		if ((rc = new_password_hash(&o, hash, sizeof hash)) != 0)
			return rc;
		rc = store_account_set_password(st, address, hash);
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, what);
		cli_audit(cli, "user-passwd", address);
		if ((rc = end_web_sessions(cli, st, address, "password changed")) != 0)
			return rc;
		printf("password of %s changed\n", address);
		return 0;
	}
	/* set */
	struct store_account_change ch = {.display_name = o.name,
					  .quota_bytes = -1,
					  .enabled = o.enabled,
					  .role = -1};
	if (o.random)
		return cli_fail("--random is for user add and user passwd");
	if (o.role) {
		enum store_role role;
		if (store_role_parse(o.role, &role) != 0)
			return cli_fail("unknown role '%s' (admin, domain-admin, user)",
					o.role);
		ch.role = (int)role;
	}
	if (o.quota && (ch.quota_bytes = cli_parse_size(o.quota)) < 0)
		return cli_fail("bad quota '%s' (bytes, or with K, M, G)", o.quota);
	if (o.name && strlen(o.name) > DISPLAY_NAME_MAX)
		return cli_fail("display name longer than %d bytes", DISPLAY_NAME_MAX);
	if (!o.role && !o.name && !o.quota && o.enabled == -1)
		return cli_fail("user set needs --role, --name, --quota, --enable or --disable");
	rc = store_account_update(st, address, &ch);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	cli_audit(cli, "user-set", address);
	if (o.enabled == 0 &&
	    (rc = end_web_sessions(cli, st, address, "user disabled")) != 0)
		return rc;
	printf("%s updated\n", what);
	return 0;
}
