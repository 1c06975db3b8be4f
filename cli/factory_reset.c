/*
 * factory_reset.c - `mailroomctl factory-reset --yes`: the box as it was
 * delivered.
 *
 * Deletes the database (every domain, account, message, queue entry,
 * token, rule, setting and the audit log: mailroom.db and its -wal, -shm
 * and -journal files), the setup-code file and the SMTP spool, creates a
 * fresh database and applies /etc/mailroom/preseed.conf again (an empty
 * box when there is none: the web panel then offers its first-admin
 * setup). The certificate (tls/) and the ACME account (acme/) are the
 * box's identity and are kept.
 *
 * A reset while a daemon has the database open would leave that daemon
 * writing to a deleted file, so it is refused when any process this user
 * can see holds mailroom.db open (the daemons run as the same user as the
 * mailroomctl that may delete their files). Without --yes it asks on a
 * terminal, and refuses otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preseed.h"

/* pid of a process with path open, or 0. */
static long holder_of(const char *path)
{
	DIR *proc = opendir("/proc");
	if (proc == NULL)
		return 0;
	long found = 0;
	long self = (long)getpid();
	for (struct dirent *e; found == 0 && (e = readdir(proc)) != NULL;) {
		char *end = NULL;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == self)
			continue;
		char fddir[64];
		snprintf(fddir, sizeof fddir, "/proc/%ld/fd", pid);
		DIR *fds = opendir(fddir);
		if (fds == NULL)
			continue; /* another user's process, or gone */
		for (struct dirent *f; (f = readdir(fds)) != NULL;) {
			char link[320], target[CONFIG_PATH_MAX];
			if (f->d_name[0] == '.')
				continue;
			snprintf(link, sizeof link, "%s/%s", fddir, f->d_name);
			ssize_t n = readlink(link, target, sizeof target - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, path) == 0) {
				found = pid;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

static bool confirmed(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--yes") == 0)
		return true;
	if (argc != 1 || !isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "This deletes all mail, accounts and settings. "
			"Type 'reset' to go on: ");
	char answer[16];
	if (fgets(answer, sizeof answer, stdin) == NULL)
		return false;
	return strcmp(answer, "reset\n") == 0;
}

int cli_factory_reset_main(struct cli *cli, int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--yes") != 0))
		return cli_fail("usage: mailroomctl factory-reset [--yes]");
	if (!confirmed(argc, argv))
		return cli_fail("factory-reset deletes all mail, accounts and "
				"settings: run it again with --yes");
	char db[CONFIG_PATH_MAX], real[PATH_MAX];
	if (config_db_path(&cli->cfg, db, sizeof db) != 0)
		return cli_fail("data_dir is too long");
	long pid = realpath(db, real) ? holder_of(real) : 0;
	if (pid != 0)
		return cli_fail("process %ld has %s open: stop the daemons first "
				"(systemctl stop mailroom.target)", pid, db);
	store_close(&cli->store);

	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char p[CONFIG_PATH_MAX + 16];
		snprintf(p, sizeof p, "%s%s", db, suffixes[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			return cli_fail("cannot delete %s: %s", p, strerror(errno));
	}
	static const char *const others[] = {"setup-code", "spool"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		char p[CONFIG_PATH_MAX + 16];
		snprintf(p, sizeof p, "%s/%s", cli->cfg.data_dir, others[i]);
		if (nftw(p, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
		    errno != ENOENT)
			return cli_fail("cannot delete %s: %s", p, strerror(errno));
	}
	printf("deleted %s (all domains, accounts, mail, settings)\n", db);

	char err[512];
	if (store_open(db, &cli->store, err, sizeof err) != STORE_OK) {
		cli->store = NULL;
		return cli_fail("cannot create %s: %s", db, err);
	}
	cli_audit(cli, "factory-reset", "all data deleted");
	return cli_preseed_apply(cli, PRESEED_DEFAULT_PATH);
}
