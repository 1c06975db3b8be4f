/*
 * dkim.c - `mailroomctl dkim generate|show DOMAIN`: the per-domain DKIM
 * key mailroom-queued signs outgoing mail with (outbound/dkim.c).
 *
 * generate makes a 2048-bit RSA key at <data_dir>/dkim/<domain>.pem (mode
 * 0600, written to a temp file and renamed, so a half-written key is never
 * used; an existing key is kept unless --force) and prints the DNS TXT
 * record to publish: <selector>._domainkey.<domain> with "v=DKIM1; k=rsa;
 * p=...". show prints that record again. The domain must be local.
 * (`keygen` is accepted as another name for generate.)
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_dkim_main(struct cli *cli, int argc, char **argv);

static int key_path(const struct cli *cli, const char *domain, char *dst,
		    size_t len, bool dir_only)
{
	int n = dir_only ? snprintf(dst, len, "%s/dkim", cli->cfg.data_dir)
			 : snprintf(dst, len, "%s/dkim/%s.pem", cli->cfg.data_dir,
				    domain);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int print_record(const struct cli *cli, const char *domain,
			EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	if (n <= 0)
		return cli_fail("cannot encode the public key");
	char *b64 = malloc((size_t)(n + 2) / 3 * 4 + 1);
	if (b64 == NULL) {
		OPENSSL_free(der);
		return cli_fail("out of memory");
	}
	EVP_EncodeBlock((unsigned char *)b64, der, n);
	printf("%s._domainkey.%s. IN TXT \"v=DKIM1; k=rsa; p=%s\"\n",
	       cli->cfg.dkim_selector, domain, b64);
	free(b64);
	OPENSSL_free(der);
	return 0;
}

static int generate(struct cli *cli, const char *domain, bool force)
{
	char dir[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 16],
		tmp[sizeof path + 8];
	if (key_path(cli, domain, dir, sizeof dir, true) < 0 ||
	    key_path(cli, domain, path, sizeof path, false) < 0)
		return cli_fail("data_dir is too long");
	if (!force && access(path, F_OK) == 0)
		return cli_fail("%s already has a DKIM key (%s); use --force to replace it",
				domain, path);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_fail("cannot create %s: %s", dir, strerror(errno));
	EVP_PKEY *key = EVP_RSA_gen(2048);
	if (key == NULL)
		return cli_fail("cannot generate an RSA key");
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	mode_t old = umask(077);
	FILE *f = fopen(tmp, "w");
	umask(old);
	int ok = f != NULL && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
	if (f != NULL && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		ok = 0;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		EVP_PKEY_free(key);
		return cli_fail("cannot write %s: %s", path, strerror(errno));
	}
	cli_audit(cli, "dkim-generate", domain);
	printf("DKIM key for %s written to %s\nPublish this DNS record:\n", domain,
	       path);
	int rc = print_record(cli, domain, key);
	EVP_PKEY_free(key);
	return rc;
}

static int show(struct cli *cli, const char *domain)
{
	char path[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 16];
	if (key_path(cli, domain, path, sizeof path, false) < 0)
		return cli_fail("data_dir is too long");
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return cli_fail("%s has no DKIM key (mailroomctl dkim generate %s)",
				domain, domain);
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		return cli_fail("%s is not a PEM private key", path);
	int rc = print_record(cli, domain, key);
	EVP_PKEY_free(key);
	return rc;
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
