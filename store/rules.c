/*
 * rules.c - rows of the rules table (server-wide when account_id is NULL,
 * else one account's, each list ordered by position) and the vacation
 * reply log (one row per account and sender: when we last replied).
 *
 * The spec column is opaque here (librules owns its JSON form); the store
 * only keeps it within STORE_RULE_SPEC_MAX. Positions are kept dense
 * (1..n) by every change, so "move rule 3 to 1" is simple arithmetic.
 * Every change bumps the "rules_generation" setting in the same
 * transaction: a daemon that caches parsed rules reads that one value per
 * message and reloads only when it moved.
 */
#include <string.h>

#include "store_int.h"

#define GEN_KEY "rules_generation"

static bool rule_name_ok(const char *name)
{
	return name != NULL && strnlen(name, STORE_RULE_NAME_MAX + 1) <=
				       STORE_RULE_NAME_MAX;
}

static bool rule_spec_ok(const char *spec)
{
	return spec != NULL && spec[0] != '\0' &&
	       strnlen(spec, STORE_RULE_SPEC_MAX + 1) <= STORE_RULE_SPEC_MAX;
}

static void bind_account(sqlite3_stmt *s, int idx, int64_t account_id)
{
	if (account_id > 0)
		sqlite3_bind_int64(s, idx, account_id);
	else
		sqlite3_bind_null(s, idx);
}

static const char SQL_GEN_BUMP[] =
	"INSERT INTO settings (key, value) VALUES ('" GEN_KEY "', '1')"
	" ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1";

static int gen_bump(struct store *st)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GEN_BUMP);
	if (s == NULL)
		return STORE_ERROR;
	return store_step_done(st, s, "rules generation");
}

static const char SQL_GEN_GET[] =
	"SELECT CAST(value AS INTEGER) FROM settings WHERE key = '" GEN_KEY "'";

int store_rule_generation(struct store *st, int64_t *gen_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_GEN_GET);
	if (s == NULL)
		return STORE_ERROR;
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	*gen_r = 0;
	if (rc == SQLITE_ROW)
		*gen_r = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		ret = store_fail(st, rc, "rules generation");
	store_release(st, s);
	return ret;
}

/* Rows in one list (account or server-wide). */
static const char SQL_COUNT[] =
	"SELECT count(*) FROM rules WHERE account_id IS ?";

static int list_count(struct store *st, int64_t account_id, int64_t *n_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_COUNT);
	if (s == NULL)
		return STORE_ERROR;
	bind_account(s, 1, account_id);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		*n_r = sqlite3_column_int64(s, 0);
	else
		ret = store_fail(st, rc, "rule count");
	store_release(st, s);
	return ret;
}

/* Renumber a list 1..n in its current order (after a delete or move).
 * Done row by row from a snapshot of the order: an UPDATE whose subquery
 * counts rows of the same table would see its own half-done work. */
static const char SQL_ORDER[] =
	"SELECT id FROM rules WHERE account_id IS ? ORDER BY position, id";
static const char SQL_SETPOS[] = "UPDATE rules SET position = ? WHERE id = ?";

static int renumber(struct store *st, int64_t account_id)
{
	int64_t ids[STORE_RULES_PER_LIST_MAX + 1];
	size_t n = 0;
	sqlite3_stmt *s = store_prepare(st, SQL_ORDER);
	if (s == NULL)
		return STORE_ERROR;
	bind_account(s, 1, account_id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < sizeof ids / sizeof ids[0])
		ids[n++] = sqlite3_column_int64(s, 0);
	int ret = (rc == SQLITE_ROW || rc == SQLITE_DONE)
			  ? STORE_OK
			  : store_fail(st, rc, "rule renumber");
	store_release(st, s);
	for (size_t i = 0; ret == STORE_OK && i < n; i++) {
		s = store_prepare(st, SQL_SETPOS);
		if (s == NULL)
			return STORE_ERROR;
		sqlite3_bind_int64(s, 1, (int64_t)i + 1);
		sqlite3_bind_int64(s, 2, ids[i]);
		ret = store_step_done(st, s, "rule renumber");
	}
	return ret;
}

static const char SQL_SHIFT[] =
	"UPDATE rules SET position = position + 1"
	" WHERE account_id IS ? AND position >= ?";

static int shift_down(struct store *st, int64_t account_id, int64_t from)
{
	sqlite3_stmt *s = store_prepare(st, SQL_SHIFT);
	if (s == NULL)
		return STORE_ERROR;
	bind_account(s, 1, account_id);
	sqlite3_bind_int64(s, 2, from);
	return store_step_done(st, s, "rule shift");
}

static const char SQL_INSERT[] =
	"INSERT INTO rules (account_id, position, enabled, name, spec)"
	" VALUES (?, ?, ?, ?, ?)";

static int insert_row(struct store *st, int64_t account_id, int64_t pos,
		      const char *name, bool enabled, const char *spec,
		      int64_t *id_r)
{
	sqlite3_stmt *s = store_prepare(st, SQL_INSERT);
	if (s == NULL)
		return STORE_ERROR;
	bind_account(s, 1, account_id);
	sqlite3_bind_int64(s, 2, pos);
	sqlite3_bind_int(s, 3, enabled ? 1 : 0);
	store_bind_text(s, 4, name);
	store_bind_text(s, 5, spec);
	int ret = store_step_done(st, s, "rule add");
	if (ret == STORE_OK && id_r)
		*id_r = sqlite3_last_insert_rowid(st->db);
	return ret;
}

/*
 * Every change to a rule list ends the same way: on success, close the gaps
 * in the positions (when asked), bump the generation the daemons poll, and
 * commit; on any failure, roll the whole change back. Returns the result.
 */
static int finish_change(struct store *st, int ret, int64_t account_id,
			 bool renumber_list)
{
	if (ret == STORE_OK && renumber_list)
		ret = renumber(st, account_id);
	if (ret == STORE_OK)
		ret = gen_bump(st);
	if (ret == STORE_OK)
		return store_tx_commit(st);
	store_tx_rollback(st);
	return ret;
}

int store_rule_add(struct store *st, int64_t account_id, int position,
		   const char *name, bool enabled, const char *spec,
		   int64_t *id_r)
{
	if (!rule_name_ok(name) || !rule_spec_ok(spec))
		return store_failf(st, STORE_INVALID,
				   "rule name or spec missing or too long");
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	int64_t n = 0;
	ret = list_count(st, account_id, &n);
	if (ret == STORE_OK && n >= STORE_RULES_PER_LIST_MAX)
		ret = store_failf(st, STORE_TOOMANY, "at most %d rules per list",
				  STORE_RULES_PER_LIST_MAX);
	int64_t pos = (position <= 0 || position > n) ? n + 1 : position;
	if (ret == STORE_OK && pos <= n)
		ret = shift_down(st, account_id, pos);
	if (ret == STORE_OK)
		ret = insert_row(st, account_id, pos, name, enabled, spec, id_r);
	return finish_change(st, ret, account_id, false);
}

static const char SQL_UPDATE[] =
	"UPDATE rules SET name = coalesce(?3, name),"
	" enabled = coalesce(?4, enabled), spec = coalesce(?5, spec)"
	" WHERE id = ?1 AND account_id IS ?2";

int store_rule_update(struct store *st, int64_t account_id, int64_t id,
		      const char *name, int enabled, const char *spec)
{
	if ((name && !rule_name_ok(name)) || (spec && !rule_spec_ok(spec)))
		return store_failf(st, STORE_INVALID,
				   "rule name or spec too long");
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_prepare(st, SQL_UPDATE);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	sqlite3_bind_int64(s, 1, id);
	bind_account(s, 2, account_id);
	if (name)
		store_bind_text(s, 3, name);
	if (enabled >= 0)
		sqlite3_bind_int(s, 4, enabled ? 1 : 0);
	if (spec)
		store_bind_text(s, 5, spec);
	ret = store_step_done(st, s, "rule update");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such rule");
	return finish_change(st, ret, account_id, false);
}

static const char SQL_DEL[] = "DELETE FROM rules WHERE id = ? AND account_id IS ?";

int store_rule_del(struct store *st, int64_t account_id, int64_t id)
{
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	sqlite3_bind_int64(s, 1, id);
	bind_account(s, 2, account_id);
	ret = store_step_done(st, s, "rule del");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no such rule");
	return finish_change(st, ret, account_id, true);
}

/* Put the rule at position - 0.5 (before the one there), then renumber:
 * moving up or down is the same two statements. */
static const char SQL_MOVE[] =
	"UPDATE rules SET position = ?3 WHERE id = ?1 AND account_id IS ?2";
static const char SQL_POS[] =
	"SELECT position FROM rules WHERE id = ? AND account_id IS ?";
static const char SQL_DOUBLE[] =
	"UPDATE rules SET position = position * 2 WHERE account_id IS ?";

int store_rule_move(struct store *st, int64_t account_id, int64_t id,
		    int position)
{
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	int64_t n = 0;
	ret = list_count(st, account_id, &n);
	if (position < 1 || position > n)
		position = (int)n;
	sqlite3_stmt *s = ret == STORE_OK ? store_prepare(st, SQL_DOUBLE) : NULL;
	if (ret == STORE_OK && s == NULL)
		ret = STORE_ERROR;
	if (s) {
		bind_account(s, 1, account_id);
		ret = store_step_done(st, s, "rule move");
	}
	/* old positions are now 2, 4, 6...: 2p-1 sits just before the p-th,
	 * 2p+1 just after it */
	if (ret == STORE_OK && (s = store_prepare(st, SQL_MOVE)) == NULL)
		ret = STORE_ERROR;
	if (ret == STORE_OK) {
		int64_t cur = 0;
		sqlite3_stmt *q = store_prepare(st, SQL_POS);
		if (q) {
			sqlite3_bind_int64(q, 1, id);
			bind_account(q, 2, account_id);
			if (sqlite3_step(q) == SQLITE_ROW)
				cur = sqlite3_column_int64(q, 0) / 2;
			store_release(st, q);
		}
		int64_t target = cur == 0                  ? 0
				 : (int64_t)position <= cur ? 2LL * position - 1
							     : 2LL * position + 1;
		sqlite3_bind_int64(s, 1, id);
		bind_account(s, 2, account_id);
		sqlite3_bind_int64(s, 3, target);
		ret = store_step_done(st, s, "rule move");
		if (ret == STORE_OK && (cur == 0 || sqlite3_changes(st->db) == 0))
			ret = store_failf(st, STORE_NOTFOUND, "no such rule");
	}
	return finish_change(st, ret, account_id, true);
}

static const char SQL_DEL_ALL[] = "DELETE FROM rules WHERE account_id IS ?";

int store_rule_replace(struct store *st, int64_t account_id,
		       const struct store_rule_in *rules, size_t n)
{
	if (n > STORE_RULES_PER_LIST_MAX)
		return store_failf(st, STORE_TOOMANY, "at most %d rules per list",
				   STORE_RULES_PER_LIST_MAX);
	for (size_t i = 0; i < n; i++)
		if (!rule_name_ok(rules[i].name) || !rule_spec_ok(rules[i].spec))
			return store_failf(st, STORE_INVALID,
					   "rule %zu: name or spec missing or "
					   "too long", i + 1);
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	sqlite3_stmt *s = store_prepare(st, SQL_DEL_ALL);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	bind_account(s, 1, account_id);
	ret = store_step_done(st, s, "rule replace");
	for (size_t i = 0; ret == STORE_OK && i < n; i++)
		ret = insert_row(st, account_id, (int64_t)i + 1, rules[i].name,
				 rules[i].enabled, rules[i].spec, NULL);
	return finish_change(st, ret, account_id, false);
}

static const char SQL_LIST[] =
	"SELECT id, account_id, position, enabled, name, spec FROM rules"
	" WHERE account_id IS ? ORDER BY position, id";
/* Delivery order: server-wide (NULL) first, then the account's. */
static const char SQL_LIST_DELIVERY[] =
	"SELECT id, account_id, position, enabled, name, spec FROM rules"
	" WHERE account_id IS NULL OR account_id = ?"
	" ORDER BY account_id IS NOT NULL, position, id";

static int list_rows(struct store *st, const char *sql, int64_t account_id,
		     bool delivery, store_rule_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, sql);
	if (s == NULL)
		return STORE_ERROR;
	if (delivery)
		sqlite3_bind_int64(s, 1, account_id > 0 ? account_id : -1);
	else
		bind_account(s, 1, account_id);
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_rule r;
		memset(&r, 0, sizeof r);
		r.id = sqlite3_column_int64(s, 0);
		r.account_id = sqlite3_column_type(s, 1) == SQLITE_NULL
				       ? 0
				       : sqlite3_column_int64(s, 1);
		r.position = sqlite3_column_int(s, 2);
		r.enabled = sqlite3_column_int(s, 3) != 0;
		store_column_copy(s, 4, r.name, sizeof r.name);
		const unsigned char *spec = sqlite3_column_text(s, 5);
		r.spec = spec ? (const char *)spec : "";
		if ((ret = cb(ctx, &r)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = store_fail(st, rc, "rule list");
	store_release(st, s);
	return ret;
}

int store_rule_list(struct store *st, int64_t account_id, store_rule_cb cb,
		    void *ctx)
{
	return list_rows(st, SQL_LIST, account_id, false, cb, ctx);
}

int store_rule_list_delivery(struct store *st, int64_t account_id,
			     store_rule_cb cb, void *ctx)
{
	return list_rows(st, SQL_LIST_DELIVERY, account_id, true, cb, ctx);
}

/* ---- vacation reply log ---------------------------------------------------- */

static const char SQL_VAC_GET[] =
	"SELECT last_sent FROM vacation_replies WHERE account_id = ? AND sender = ?";
static const char SQL_VAC_SET[] =
	"INSERT INTO vacation_replies (account_id, sender, last_sent)"
	" VALUES (?1, ?2, ?3)"
	" ON CONFLICT (account_id, sender) DO UPDATE SET last_sent = ?3";
/* Rows older than the longest allowed interval are never needed again. */
static const char SQL_VAC_PURGE[] =
	"DELETE FROM vacation_replies WHERE account_id = ? AND last_sent < ?";

int store_vacation_note(struct store *st, int64_t account_id,
			const char *sender, int64_t now, int64_t interval)
{
	if (sender == NULL || sender[0] == '\0' ||
	    strnlen(sender, ADDR_MAX + 1) > ADDR_MAX || account_id <= 0)
		return store_failf(st, STORE_INVALID, "vacation: bad sender");
	int ret = store_tx_begin(st);
	if (ret != STORE_OK)
		return ret;
	int due = 1;
	sqlite3_stmt *s = store_prepare(st, SQL_VAC_GET);
	if (s == NULL) {
		store_tx_rollback(st);
		return STORE_ERROR;
	}
	sqlite3_bind_int64(s, 1, account_id);
	store_bind_text(s, 2, sender);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int64_t last = sqlite3_column_int64(s, 0);
		if (now >= last && now - last < interval)
			due = 0;
	} else if (rc != SQLITE_DONE) {
		ret = store_fail(st, rc, "vacation get");
	}
	store_release(st, s);
	if (ret == STORE_OK && due) {
		s = store_prepare(st, SQL_VAC_SET);
		if (s == NULL) {
			ret = STORE_ERROR;
		} else {
			sqlite3_bind_int64(s, 1, account_id);
			store_bind_text(s, 2, sender);
			sqlite3_bind_int64(s, 3, now);
			ret = store_step_done(st, s, "vacation set");
		}
	}
	if (ret == STORE_OK && due && (s = store_prepare(st, SQL_VAC_PURGE))) {
		sqlite3_bind_int64(s, 1, account_id);
		sqlite3_bind_int64(s, 2, now - STORE_VACATION_KEEP_SECONDS);
		ret = store_step_done(st, s, "vacation purge");
	}
	if (ret == STORE_OK) {
		ret = store_tx_commit(st);
		return ret == STORE_OK ? due : ret;
	}
	store_tx_rollback(st);
	return ret;
}
