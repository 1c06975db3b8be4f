/*
 * stats.c - the counts the webadmin dashboard shows, for the whole box or
 * one domain, read in one statement so the numbers agree with each other.
 */
#include <string.h>

#include "store_int.h"

/* ?1 = domain name or NULL for all, ?2 = start of "today" (unix time),
 * ?3 = near-quota threshold in percent. */
static const char SQL_STATS[] =
	"WITH acc AS (SELECT a.* FROM accounts a JOIN domains d"
	"               ON d.id = a.domain_id WHERE ?1 IS NULL OR d.name = ?1)"
	" SELECT"
	"  (SELECT count(*) FROM domains WHERE ?1 IS NULL OR name = ?1),"
	"  (SELECT count(*) FROM acc),"
	"  (SELECT count(*) FROM acc WHERE enabled = 0),"
	"  (SELECT count(*) FROM aliases al JOIN domains d ON d.id = al.domain_id"
	"     WHERE ?1 IS NULL OR d.name = ?1),"
	"  (SELECT coalesce(sum(used_bytes), 0) FROM acc),"
	"  (SELECT count(*) FROM mailbox m WHERE m.account_id IN"
	"     (SELECT id FROM acc)),"
	"  (SELECT count(*) FROM mailbox m WHERE m.received >= ?2 AND"
	"     m.account_id IN (SELECT id FROM acc)),"
	"  (SELECT count(*) FROM queue WHERE ?1 IS NULL),"
	"  (SELECT count(*) FROM acc WHERE quota_bytes > 0 AND"
	"     used_bytes * 100 >= quota_bytes * ?3)";

int store_stats_get(struct store *st, const char *domain, int64_t since,
		    struct store_stats *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *s = store_prepare(st, SQL_STATS);
	if (s == NULL)
		return STORE_ERROR;
	if (domain != NULL)
		store_bind_text(s, 1, domain);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_int64(s, 2, since);
	sqlite3_bind_int(s, 3, STORE_NEAR_QUOTA_PERCENT);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW) {
		out->domains = sqlite3_column_int64(s, 0);
		out->accounts = sqlite3_column_int64(s, 1);
		out->disabled_accounts = sqlite3_column_int64(s, 2);
		out->aliases = sqlite3_column_int64(s, 3);
		out->used_bytes = sqlite3_column_int64(s, 4);
		out->messages = sqlite3_column_int64(s, 5);
		out->messages_today = sqlite3_column_int64(s, 6);
		out->queue = sqlite3_column_int64(s, 7);
		out->near_quota = sqlite3_column_int64(s, 8);
	} else {
		ret = store_fail(st, rc, "stats");
	}
	store_release(st, s);
	return ret;
}
