/*
 * maildrop.c - one POP3 session per mailbox across every process.
 *
 * A row in maildrop_locks names the owner (pid and a token the session
 * picks, so two sessions in one process differ). A lock left by a process
 * that died (kill(pid, 0) fails with ESRCH) or older than max_age is taken
 * over, so a crash never locks a user out for good. EPERM from kill means
 * the process exists under another user: alive. The check and the take
 * happen inside one write transaction, so two sessions cannot both win.
 */
#include <errno.h>
#include <signal.h>

#include "store_int.h"

static const char SQL_GET[] =
	"SELECT pid, token, since FROM maildrop_locks WHERE account_id = ?";
static const char SQL_PUT[] =
	"INSERT OR REPLACE INTO maildrop_locks (account_id, pid, token, since)"
	" VALUES (?, ?, ?, ?)";
static const char SQL_DEL[] =
	"DELETE FROM maildrop_locks WHERE account_id = ? AND pid = ? AND token = ?";

static bool pid_alive(pid_t pid)
{
	if (pid <= 0)
		return false;
	return kill(pid, 0) == 0 || errno != ESRCH;
}

static int lock_tx(struct store *st, int64_t account_id, pid_t pid,
		   int64_t token, int64_t max_age)
{
	int64_t now = store_now();
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, account_id);
	int rc = sqlite3_step(s);
	pid_t opid = 0;
	int64_t otoken = 0, since = 0;
	if (rc == SQLITE_ROW) {
		opid = (pid_t)sqlite3_column_int64(s, 0);
		otoken = sqlite3_column_int64(s, 1);
		since = sqlite3_column_int64(s, 2);
	}
	store_release(st, s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(st, rc, "maildrop lock");
	if (rc == SQLITE_ROW && !(opid == pid && otoken == token) &&
	    pid_alive(opid) && (max_age <= 0 || now - since < max_age))
		return store_failf(st, STORE_LOCKED,
				   "maildrop locked by pid %ld",
				   (long)opid);
	if ((s = store_prepare(st, SQL_PUT)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, pid);
	sqlite3_bind_int64(s, 3, token);
	sqlite3_bind_int64(s, 4, now);
	/* An unknown account fails the foreign key: STORE_INVALID. */
	return store_step_done(st, s, "maildrop lock");
}

int store_maildrop_lock(struct store *st, int64_t account_id, pid_t owner_pid,
			int64_t owner_token, int64_t max_age)
{
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	ret = lock_tx(st, account_id, owner_pid, owner_token, max_age);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}

int store_maildrop_unlock(struct store *st, int64_t account_id,
			  pid_t owner_pid, int64_t owner_token)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, account_id);
	sqlite3_bind_int64(s, 2, owner_pid);
	sqlite3_bind_int64(s, 3, owner_token);
	int ret = store_step_done(st, s, "maildrop unlock");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such lock");
	return ret;
}
