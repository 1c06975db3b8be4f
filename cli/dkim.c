/*
 * dkim.c - `mailroomctl dkim generate|show DOMAIN`: the per-domain DKIM
 * key mailroom-queued signs outgoing mail with (outbound/dkim.c).
 *
 * generate makes a 2048-bit RSA key at <data_dir>/dkim/<domain>.pem and an
 * Ed25519 key at <domain>.ed25519.pem (mode 0600, written to a temp file
 * and renamed, so a half-written key is never used; existing keys are kept
 * unless --force) and prints the DNS TXT records to publish:
 * <selector>._domainkey.<domain> "v=DKIM1; k=rsa; p=..." and
 * <selector>-ed25519._domainkey.<domain> "v=DKIM1; k=ed25519; p=..." (RFC
 * 8463). show prints the records again. The domain must be local. When
 * [server] user is set, the key files belong to that user (the daemons
 * drop to it and must read them).
 * (`keygen` is accepted as another name for generate.)
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/dkim_txt.h"
#include "cli.h"

int cli_dkim_main(struct cli *cli, int argc, char **argv);

/* The two keys a domain may have: RSA (every verifier) and Ed25519
 * (RFC 8463, a second signature for verifiers that know it). */
struct key_kind {
	const char *suffix;   /* file name after the domain */
	const char *sel_tail; /* appended to [dkim] selector */
	const char *k;        /* k= in the TXT record */
};
static const struct key_kind kinds[] = {
	{".pem", "", "rsa"},
	{".ed25519.pem", "-ed25519", "ed25519"},
};

static int key_path(const struct cli *cli, const char *domain,
		    const struct key_kind *kind, char *dst, size_t len)
{
	int n = kind ? snprintf(dst, len, "%s/dkim/%s%s", cli->cfg.data_dir,
				domain, kind->suffix)
		     : snprintf(dst, len, "%s/dkim", cli->cfg.data_dir);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The zone-file line for the key, from the one encoder the panel checks
 * with (common/dkim_txt.c). */
static int print_record(const struct cli *cli, const char *domain,
			const struct key_kind *kind, EVP_PKEY *key)
{
	char txt[DKIM_TXT_MAX];
	if (dkim_txt_value(key, txt, sizeof txt) != 0)
		return cli_fail("cannot encode the public key");
	printf("%s%s._domainkey.%s. IN TXT \"%s\"\n", cli->cfg.dkim_selector,
	       kind->sel_tail, domain, txt);
	return 0;
}

/* Daemons drop to [server] user: the key must be theirs to read. */
static int give_to_daemon_user(const struct cli *cli, FILE *f)
{
	if (cli->cfg.user[0] == '\0' || geteuid() != 0)
		return 0;
	const struct passwd *pw = getpwnam(cli->cfg.user);
	if (pw == NULL)
		return -1;
	return fchown(fileno(f), pw->pw_uid, pw->pw_gid);
}

static int write_key(const struct cli *cli, const char *path, EVP_PKEY *key)
{
	char tmp[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 40];
	int tl = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (tl < 0 || (size_t)tl >= sizeof tmp)
		return cli_fail("%s: path too long", path);
	mode_t old = umask(077);
	FILE *f = fopen(tmp, "w");
	umask(old);
	int ok = f != NULL && give_to_daemon_user(cli, f) == 0 &&
		 PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (f != NULL && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ok = 0;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return cli_fail("cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

static int generate(struct cli *cli, const char *domain, bool force)
{
	char dir[CONFIG_PATH_MAX], path[2][CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 32];
	if (key_path(cli, domain, NULL, dir, sizeof dir) < 0 ||
	    key_path(cli, domain, &kinds[0], path[0], sizeof path[0]) < 0 ||
	    key_path(cli, domain, &kinds[1], path[1], sizeof path[1]) < 0)
		return cli_fail("data_dir is too long");
	for (int i = 0; i < 2; i++)
		if (!force && access(path[i], F_OK) == 0)
			return cli_fail("%s already has a DKIM key (%s); use --force to replace it",
					domain, path[i]);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_fail("cannot create %s: %s", dir, strerror(errno));
	EVP_PKEY *keys[2] = {EVP_RSA_gen(2048), EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")};
	int rc = 0;
	if (keys[0] == NULL || keys[1] == NULL)
		rc = cli_fail("cannot generate the keys");
	for (int i = 0; rc == 0 && i < 2; i++)
		rc = write_key(cli, path[i], keys[i]);
	if (rc == 0) {
		cli_audit(cli, "dkim-generate", domain);
		printf("DKIM keys for %s written to %s and %s\n"
		       "Publish these DNS records:\n", domain, path[0], path[1]);
		for (int i = 0; rc == 0 && i < 2; i++)
			rc = print_record(cli, domain, &kinds[i], keys[i]);
	}
	EVP_PKEY_free(keys[0]);
	EVP_PKEY_free(keys[1]);
	return rc;
}

static int show(struct cli *cli, const char *domain)
{
	int shown = 0;
	for (int i = 0; i < 2; i++) {
		char path[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 32];
		if (key_path(cli, domain, &kinds[i], path, sizeof path) < 0)
			return cli_fail("data_dir is too long");
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (key == NULL)
			return cli_fail("%s is not a PEM private key", path);
		int rc = print_record(cli, domain, &kinds[i], key);
		EVP_PKEY_free(key);
		if (rc != 0)
			return rc;
		shown++;
	}
	if (shown == 0)
		return cli_fail("%s has no DKIM key (mailroomctl dkim generate %s)",
				domain, domain);
	return 0;
}

int cli_dkim_main(struct cli *cli, int argc, char **argv)
{
	bool force = argc == 4 && strcmp(argv[3], "--force") == 0;
	if (argc < 3 || argc > 4 || (argc == 4 && !force))
		return cli_fail("usage: mailroomctl dkim generate|show DOMAIN [--force]");
	const char *sub = argv[1];
	char domain[ADDR_DOMAIN_MAX + 1];
	if (cli_domain(argv[2], domain, sizeof domain) < 0)
		return 1;
	struct store *st = cli_store(cli);
	if (st == NULL)
		return 1;
	int local = store_domain_exists(st, domain);
	if (local < 0)
		return cli_store_fail(cli, local, domain);
	if (local == 0)
		return cli_fail("%s is not a local domain", domain);
	if (strcmp(sub, "generate") == 0 || strcmp(sub, "keygen") == 0)
		return generate(cli, domain, force);
	if (strcmp(sub, "show") == 0 && !force)
		return show(cli, domain);
	return cli_fail("unknown dkim command '%s'", sub);
}
