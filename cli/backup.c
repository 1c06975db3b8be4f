/*
 * backup.c - `mailroomctl backup FILE` and `restore FILE`.
 *
 * backup uses SQLite's online backup, so it is consistent while the
 * daemons run and write. restore checks the backup first and then replaces
 * the database; stop the daemons before restoring.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_backup_main(struct cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return cli_fail("usage: mailroomctl backup FILE");
	const char *path = argv[1];
	if (access(path, F_OK) == 0)
		return cli_fail("%s exists: refusing to overwrite it", path);
	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	int rc = store_backup(st, path);
	if (rc != STORE_OK)
		return cli_fail("backup to %s failed: %s", path, store_errmsg(st));
	printf("backup written to %s\n", path);
	return 0;
}

int cli_restore_main(struct cli *cli, int argc, char **argv)
{
	if (argc != 2)
		return cli_fail("usage: mailroomctl restore FILE");
	const char *path = argv[1];
	if (access(path, R_OK) != 0)
		return cli_fail("cannot read %s", path);
	char db[CONFIG_PATH_MAX], err[512];
	if (config_db_path(&cli->cfg, db, sizeof db) != 0)
		return cli_fail("data_dir is too long");
	if (store_restore(path, db, err, sizeof err) != STORE_OK)
		return cli_fail("restore from %s failed: %s", path, err);
	/* record it in the restored database */
	if (cli_store(cli))
		cli_audit(cli, "restore", path);
	printf("database restored from %s\n", path);
	return 0;
}
