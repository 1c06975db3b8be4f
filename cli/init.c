/*
 * init.c - `mailroomctl init`: make a box ready to run.
 *
 * Creates the data dir (mode 0700, parents as needed), the database at the
 * current schema version, and a self-signed certificate for the configured
 * hostname when the configured certificate does not exist yet. Safe to run
 * again: what exists is kept (an older database is migrated).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/tls.h"
#include "cli.h"

/* mkdir -p with the given mode for directories it creates. */
static int make_dirs(const char *path, mode_t mode)
{
	char tmp[CONFIG_PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof tmp)
		return -1;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* The directory part of path into dst ("." when there is none). */
static void dir_of(const char *path, char *dst, size_t dstlen)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (slash == path)
		n = 1;
	if (n == 0 || n >= dstlen) {
		snprintf(dst, dstlen, ".");
		return;
	}
	memcpy(dst, path, n);
	dst[n] = '\0';
}

int cli_init_main(struct cli *cli, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return cli_fail("usage: mailroomctl init");
	const struct config *cfg = &cli->cfg;

	if (make_dirs(cfg->data_dir, 0700) != 0)
		return cli_fail("cannot create %s: %s", cfg->data_dir,
				strerror(errno));
	if (chmod(cfg->data_dir, 0700) != 0)
		return cli_fail("cannot chmod %s: %s", cfg->data_dir,
				strerror(errno));

	char db[CONFIG_PATH_MAX], err[512];
	if (config_db_path(cfg, db, sizeof db) != 0)
		return cli_fail("data_dir is too long");
	if (store_open(db, &cli->store, err, sizeof err) != STORE_OK) {
		cli->store = NULL;
		return cli_fail("cannot create %s: %s", db, err);
	}
	printf("database %s (schema %d)\n", db,
	       store_schema_version(cli->store));

	if (access(cfg->tls_cert, F_OK) != 0 || access(cfg->tls_key, F_OK) != 0) {
		char dir[CONFIG_PATH_MAX];
		dir_of(cfg->tls_cert, dir, sizeof dir);
		if (make_dirs(dir, 0700) != 0)
			return cli_fail("cannot create %s: %s", dir,
					strerror(errno));
		dir_of(cfg->tls_key, dir, sizeof dir);
		if (make_dirs(dir, 0700) != 0)
			return cli_fail("cannot create %s: %s", dir,
					strerror(errno));
		if (tls_make_self_signed(cfg->hostname, cfg->tls_cert,
					 cfg->tls_key, err, sizeof err) != 0)
			return cli_fail("cannot make a certificate: %s", err);
		printf("self-signed certificate for %s in %s\n", cfg->hostname,
		       cfg->tls_cert);
		cli_audit(cli, "init", "created self-signed certificate");
	} else {
		printf("certificate %s kept\n", cfg->tls_cert);
	}
	return 0;
}
