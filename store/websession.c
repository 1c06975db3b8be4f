/*
 * websession.c - the web panel's sessions in the table web_sessions
 * (websession.h). Rows are keyed by the hex SHA-256 of the session id,
 * so the id itself never reaches the disk.
 */
#include "websession.h"

#include <string.h>

#include <openssl/evp.h>

#include "store_int.h"

#define WEBSESSION_HASH_HEX 64

/* Hex SHA-256 of id into dst. -1 when id is empty or hashing fails. */
static int id_hash(const char *id, char dst[WEBSESSION_HASH_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (id == NULL || id[0] == '\0' ||
	    EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != WEBSESSION_HASH_HEX / 2)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++) {
		dst[2 * i] = digits[md[i] >> 4];
		dst[2 * i + 1] = digits[md[i] & 15];
	}
	dst[WEBSESSION_HASH_HEX] = '\0';
	return 0;
}

static const char SQL_ADD[] =
	"INSERT INTO web_sessions (id_hash, address, created, last_seen)"
	" VALUES (?1, ?2, ?3, ?3)";

int store_websession_add(struct store *st, const char *id, const char *address,
			 int64_t created)
{
	char h[WEBSESSION_HASH_HEX + 1];
	if (address == NULL || address[0] == '\0' || id_hash(id, h) != 0)
		return store_failf(st, STORE_INVALID, "bad session id or address");
	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, h);
	store_bind_text(s, 2, address);
	sqlite3_bind_int64(s, 3, created);
	return store_step_done(st, s, "web session add");
}

static const char SQL_GET[] =
	"SELECT address, created, last_seen FROM web_sessions WHERE id_hash = ?";

int store_websession_get(struct store *st, const char *id,
			 struct store_websession *out)
{
	char h[WEBSESSION_HASH_HEX + 1];
	if (id_hash(id, h) != 0)
		return store_failf(st, STORE_NOTFOUND, "no such session");
	sqlite3_stmt *s = store_prepare(st, SQL_GET);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, h);
	int rc = sqlite3_step(s), ret = STORE_OK;
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof *out);
		store_column_copy(s, 0, out->address, sizeof out->address);
		out->created = sqlite3_column_int64(s, 1);
		out->last_seen = sqlite3_column_int64(s, 2);
	} else if (rc == SQLITE_DONE) {
		ret = store_failf(st, STORE_NOTFOUND, "no such session");
	} else {
		ret = store_fail(st, rc, "web session get");
	}
	store_release(st, s);
	return ret;
}

static const char SQL_TOUCH[] =
	"UPDATE web_sessions SET last_seen = ?2 WHERE id_hash = ?1"
	" AND last_seen < ?2";

int store_websession_touch(struct store *st, const char *id, int64_t last_seen)
{
	char h[WEBSESSION_HASH_HEX + 1];
	if (id_hash(id, h) != 0)
		return STORE_OK;
	sqlite3_stmt *s = store_prepare(st, SQL_TOUCH);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, h);
	sqlite3_bind_int64(s, 2, last_seen);
	return store_step_done(st, s, "web session touch");
}

static const char SQL_DEL[] = "DELETE FROM web_sessions WHERE id_hash = ?";

int store_websession_del(struct store *st, const char *id)
{
	char h[WEBSESSION_HASH_HEX + 1];
	if (id_hash(id, h) != 0)
		return STORE_OK;
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, h);
	return store_step_done(st, s, "web session del");
}

static const char SQL_DEL_ADDR[] =
	"DELETE FROM web_sessions WHERE address = ?1 AND id_hash <> ?2";

int store_websession_del_address(struct store *st, const char *address,
				 const char *keep_id)
{
	char h[WEBSESSION_HASH_HEX + 1] = "";
	if (address == NULL)
		return store_failf(st, STORE_INVALID, "no address");
	if (keep_id != NULL && keep_id[0] != '\0' && id_hash(keep_id, h) != 0)
		return store_failf(st, STORE_ERROR, "cannot hash session id");
	sqlite3_stmt *s = store_prepare(st, SQL_DEL_ADDR);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, address);
	store_bind_text(s, 2, h);
	return store_step_done(st, s, "web session del address");
}

static const char SQL_COUNT[] =
	"SELECT count(*) FROM web_sessions WHERE last_seen >= ?1 AND created >= ?2";

int64_t store_websession_count(struct store *st, int64_t seen_since,
			       int64_t created_since)
{
	sqlite3_stmt *s = store_prepare(st, SQL_COUNT);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, seen_since);
	sqlite3_bind_int64(s, 2, created_since);
	int rc = sqlite3_step(s);
	int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0)
				     : store_fail(st, rc, "web session count");
	store_release(st, s);
	return n;
}

static const char SQL_PRUNE[] =
	"DELETE FROM web_sessions WHERE last_seen < ?1 OR created < ?2";

int64_t store_websession_prune(struct store *st, int64_t idle_before,
			       int64_t created_before)
{
	sqlite3_stmt *s = store_prepare(st, SQL_PRUNE);
	if (s == NULL)
		return STORE_ERROR;
	sqlite3_bind_int64(s, 1, idle_before);
	sqlite3_bind_int64(s, 2, created_before);
	int rc = store_step_done(st, s, "web session prune");
	if (rc != STORE_OK)
		return rc;
	return (int64_t)sqlite3_changes(st->db);
}
