/*
 * backup.c - online backup and restore of the whole database.
 *
 * Backup uses SQLite's online backup API in one step, which reads one
 * consistent snapshot while other processes go on writing (WAL readers
 * never block writers). It writes a temp file next to the target, turns
 * it into a plain rollback-journal database (so it opens read-only
 * anywhere, no -wal needed), fsyncs it and renames it into place: the
 * target is either the old file or a whole new backup, never half.
 *
 * Restore is for a stopped server: the backup must open and pass
 * integrity_check and carry a schema this code knows; then it is copied
 * next to db_path, each account's uidnext is raised to the replaced
 * database's (so POP3 UIDLs never repeat), it is fsynced, the old -wal/-shm
 * are removed (a stale WAL replayed over another database would corrupt it)
 * and renamed over.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_int.h"

#define BACKUP_BUSY_RETRIES 100 /* x 50 ms */

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static int fsync_parent(const char *path)
{
	char copy[CONFIG_PATH_MAX + 32];
	if (snprintf(copy, sizeof copy, "%s", path) >= (int)sizeof copy)
		return -1;
	return fsync_path(dirname(copy), O_RDONLY | O_DIRECTORY);
}

/* mkstemp a sibling of target: same filesystem, so rename is atomic. */
static int temp_sibling(const char *target, char *tmp, size_t tmplen)
{
	if (snprintf(tmp, tmplen, "%s.tmp-XXXXXX", target) >= (int)tmplen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	fchmod(fd, 0600);
	close(fd);
	return 0;
}

static int copy_into(sqlite3 *dst, struct store *st)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
	if (b == NULL)
		return store_failf(st, STORE_ERROR, "backup: %s",
				   sqlite3_errmsg(dst));
	int rc, tries = 0;
	while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY ||
	       rc == SQLITE_LOCKED) {
		if (++tries > BACKUP_BUSY_RETRIES)
			break;
		sqlite3_sleep(50);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return store_failf(st, rc == SQLITE_FULL ? STORE_FULL
				       : rc == SQLITE_BUSY ? STORE_BUSY
							   : STORE_ERROR,
				   "backup: %s", sqlite3_errstr(rc));
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(dst, "PRAGMA journal_mode=DELETE", -1, &s,
			       NULL) == SQLITE_OK)
		rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return store_failf(st, STORE_ERROR, "backup journal mode: %s",
				   sqlite3_errmsg(dst));
	return STORE_OK;
}

int store_backup(struct store *st, const char *path)
{
	char tmp[CONFIG_PATH_MAX + 32];
	if (temp_sibling(path, tmp, sizeof tmp) < 0)
		return store_failf(st, errno == ENOSPC ? STORE_FULL : STORE_ERROR,
				   "%s: %s", path, strerror(errno));
	sqlite3 *dst = NULL;
	int ret;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		ret = store_failf(st, STORE_ERROR, "%s: %s", tmp,
				  dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
	else
		ret = copy_into(dst, st);
	if (sqlite3_close(dst) != SQLITE_OK && ret == STORE_OK)
		ret = store_failf(st, STORE_ERROR, "backup close");
	if (ret == STORE_OK && fsync_path(tmp, O_RDONLY) < 0)
		ret = store_failf(st, STORE_ERROR, "fsync %s: %s", tmp,
				  strerror(errno));
	if (ret == STORE_OK && rename(tmp, path) < 0)
		ret = store_failf(st, STORE_ERROR, "rename to %s: %s", path,
				  strerror(errno));
	if (ret != STORE_OK) {
		unlink(tmp);
		return ret;
	}
	fsync_parent(path);
	return STORE_OK;
}

/* Open the backup read-only and check it is whole and ours. */
static int check_backup(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int ret = STORE_INVALID;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path,
			 db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
		    SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
		snprintf(err, errlen, "%s: not a sound SQLite database (%s)",
			 path, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
		    SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto out;
	}
	int v = sqlite3_column_int(s, 0);
	if (v < 1 || v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s: not a Mailroom backup this version can restore "
			 "(schema %d)",
			 path, v);
		goto out;
	}
	ret = STORE_OK;
out:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return ret;
}

static int copy_file(const char *from, const char *to, char *err,
		     size_t errlen)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	int out = open(to, O_WRONLY | O_TRUNC | O_CLOEXEC);
	char *buf = malloc(STORE_BLOB_CHUNK);
	int ret = STORE_ERROR;
	if (in < 0 || out < 0 || buf == NULL) {
		snprintf(err, errlen, "restore: %s", strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t n = read(in, buf, STORE_BLOB_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read %s: %s", from,
				 strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				snprintf(err, errlen, "write %s: %s", to,
					 strerror(errno));
				ret = errno == ENOSPC ? STORE_FULL : STORE_ERROR;
				goto done;
			}
			off += w;
		}
	}
	if (fsync(out) < 0) {
		snprintf(err, errlen, "fsync %s: %s", to, strerror(errno));
		goto done;
	}
	ret = STORE_OK;
done:
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && ret == STORE_OK) {
		snprintf(err, errlen, "close %s: %s", to, strerror(errno));
		ret = STORE_ERROR;
	}
	return ret;
}

static void unlink_sidecar(const char *db_path, const char *suffix)
{
	char p[CONFIG_PATH_MAX + 32];
	if (snprintf(p, sizeof p, "%s%s", db_path, suffix) < (int)sizeof p)
		unlink(p);
}

/*
 * A restored mailbox must never hand out a UID a client already saw: mail
 * delivered after the backup was taken used UIDs the backup's uidnext does
 * not know. So each account in the restored copy (tmp) keeps the larger of
 * its own uidnext and the one of the same address in the database being
 * replaced. A missing or unreadable old database carries nothing over.
 */
static int carry_uidnext(const char *tmp, const char *db_path, char *err,
			 size_t errlen)
{
	if (access(db_path, R_OK) != 0)
		return STORE_OK;
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	int ret = STORE_ERROR;
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
	char uri[CONFIG_PATH_MAX + 32];
	if (snprintf(uri, sizeof uri, "file:%s?mode=ro", db_path) >=
	    (int)sizeof uri)
		goto out;
	if (sqlite3_prepare_v2(db, "ATTACH DATABASE ? AS old", -1, &stmt,
			       NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(stmt, 1, uri, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (rc != SQLITE_DONE) {
		ret = STORE_OK; /* the old file is no database: nothing to keep */
		goto out;
	}
	if (sqlite3_prepare_v2(
		    db,
		    "UPDATE main.accounts SET uidnext = ("
		    " SELECT MAX(main.accounts.uidnext, o.uidnext)"
		    " FROM old.accounts o WHERE o.address = main.accounts.address)"
		    " WHERE address IN (SELECT address FROM old.accounts)",
		    -1, &stmt, NULL) != SQLITE_OK) {
		/* an old database without an accounts table: nothing to keep */
		ret = STORE_OK;
		goto out;
	}
	if (sqlite3_step(stmt) == SQLITE_DONE)
		ret = STORE_OK;
out:
	if (ret != STORE_OK)
		snprintf(err, errlen, "keeping UIDs of %s: %s", db_path,
			 db ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return ret;
}

int store_restore(const char *backup_path, const char *db_path, char *err,
		  size_t errlen)
{
	int ret = check_backup(backup_path, err, errlen);
	if (ret != STORE_OK)
		return ret;
	char tmp[CONFIG_PATH_MAX + 32];
	if (temp_sibling(db_path, tmp, sizeof tmp) < 0) {
		snprintf(err, errlen, "%s: %s", db_path, strerror(errno));
		return STORE_ERROR;
	}
	if ((ret = copy_file(backup_path, tmp, err, errlen)) != STORE_OK) {
		unlink(tmp);
		return ret;
	}
	if ((ret = carry_uidnext(tmp, db_path, err, errlen)) != STORE_OK ||
	    (ret = fsync_path(tmp, O_RDWR) == 0 ? STORE_OK : STORE_ERROR) !=
		    STORE_OK) {
		unlink(tmp);
		return ret;
	}
	unlink_sidecar(db_path, "-wal");
	unlink_sidecar(db_path, "-shm");
	if (rename(tmp, db_path) < 0) {
		snprintf(err, errlen, "rename to %s: %s", db_path,
			 strerror(errno));
		unlink(tmp);
		return STORE_ERROR;
	}
	fsync_parent(db_path);
	return STORE_OK;
}
