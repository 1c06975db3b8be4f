/*
 * mailbox.c - what POP3 needs of a mailbox: the snapshot taken at login
 * and the deletions made at QUIT.
 *
 * The snapshot reads only the narrow mailbox rows (an index covers uid,
 * size and received), so STAT, LIST and UIDL never touch a body. Deletion
 * is one transaction: entries go, the quota is freed and bodies nothing
 * else uses are removed, all or nothing (RFC 1939 UPDATE state).
 */
#include <stdlib.h>

#include "store_int.h"

static const char SQL_SNAPSHOT[] =
	"SELECT id, uid, size, received FROM mailbox WHERE account_id = ?"
	" ORDER BY uid";

int store_mailbox_snapshot(struct store *st, int64_t account_id,
			   struct store_mailbox_entry **entries_r, size_t *n_r)
{
	*entries_r = NULL;
	*n_r = 0;
	sqlite3_stmt *s = store_prepare(st, SQL_SNAPSHOT);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, account_id);
	struct store_mailbox_entry *v = NULL;
	size_t n = 0, cap = 0;
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_mailbox_entry *nv =
				realloc(v, ncap * sizeof *nv);
			if (nv == NULL) {
				ret = store_failf(st, STORE_ERROR,
						  "out of memory");
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[n].id = sqlite3_column_int64(s, 0);
		v[n].uid = (uint32_t)sqlite3_column_int64(s, 1);
		v[n].size = sqlite3_column_int64(s, 2);
		v[n].received = sqlite3_column_int64(s, 3);
		n++;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "mailbox snapshot");
	store_release(st, s);
	if (ret != STORE_OK) {
		free(v);
		return ret;
	}
	*entries_r = v;
	*n_r = n;
	return STORE_OK;
}

static const char SQL_DEL_ENTRY[] =
	"DELETE FROM mailbox WHERE id = ? AND account_id = ?"
	" RETURNING body_id, size";
static const char SQL_FREE_QUOTA[] =
	"UPDATE accounts SET used_bytes = max(0, used_bytes - ?) WHERE id = ?";

static int delete_one(struct store *st, int64_t account_id, int64_t entry_id)
{
	sqlite3_stmt *s = store_prepare(st, SQL_DEL_ENTRY);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, entry_id);
	sqlite3_bind_int64(s, 2, account_id);
	int rc = sqlite3_step(s);
	int64_t body_id = 0, size = 0;
	if (rc == SQLITE_ROW) {
		body_id = sqlite3_column_int64(s, 0);
		size = sqlite3_column_int64(s, 1);
		rc = sqlite3_step(s);
	}
	store_release(st, s);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "mailbox delete");
	if (body_id == 0)
		return STORE_OK; /* not in this mailbox: ignored */
	if ((s = store_prepare(st, SQL_FREE_QUOTA)) == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, size);
	sqlite3_bind_int64(s, 2, account_id);
	int ret = store_step_done(st, s, "mailbox quota");
	if (ret == STORE_OK)
		ret = store_body_drop_if_unused(st, body_id);
	return ret;
}

int store_mailbox_delete(struct store *st, int64_t account_id,
			 const int64_t *entry_ids, size_t n)
{
	if (n == 0)
		return STORE_OK;
	int ret = store_tx_begin(st);
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = delete_one(st, account_id, entry_ids[i]);
	if (ret != STORE_OK) {
		store_tx_rollback(st);
		return ret;
	}
	return store_tx_commit(st);
}
