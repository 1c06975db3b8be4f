/*
 * token.c - API tokens for the webadmin's JSON API (mailroomctl token).
 *
 * A token is "mrt_" followed by 64 hex digits (256 random bits from
 * RAND_bytes). Only its SHA-256 is stored: with that much entropy a slow
 * password hash buys nothing, and a stolen database cannot be replayed.
 * A lookup is by hash through the table's index, so comparing in constant
 * time is not needed (an attacker would have to invert SHA-256).
 * last_used is written at most once a minute per token, so a busy API
 * client does not turn every read into a disk write.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store_int.h"

#define TOKEN_PREFIX "mrt_"
#define TOKEN_RANDOM_BYTES 32
#define TOKEN_TOUCH_SECONDS 60

static void hex(const unsigned char *src, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

/* SHA-256 of token as 64 hex digits into dst (65 bytes). -1 on failure. */
static int token_hash(const char *token, char dst[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	hex(md, mdlen, dst);
	return 0;
}

static bool name_ok(const char *name)
{
	size_t n = name ? strnlen(name, STORE_TOKEN_NAME_MAX + 1) : 0;
	if (n == 0 || n > STORE_TOKEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f)
			return false;
	}
	return true;
}

static const char SQL_ADD[] =
	"INSERT INTO api_tokens (name, token_hash, created) VALUES (?, ?, ?)";

int store_token_create(struct store *st, const char *name, char *token_r,
		       size_t len)
{
	unsigned char raw[TOKEN_RANDOM_BYTES];
	char hash[65];

	if (!name_ok(name))
		return store_failf(st, STORE_INVALID,
				   "token name must be 1-%d printable characters "
				   "without spaces", STORE_TOKEN_NAME_MAX);
	if (len < sizeof TOKEN_PREFIX + 2 * TOKEN_RANDOM_BYTES)
		return store_failf(st, STORE_INVALID, "token buffer too small");
	if (RAND_bytes(raw, sizeof raw) != 1)
		return store_failf(st, STORE_ERROR, "random source failed");
	memcpy(token_r, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
	hex(raw, sizeof raw, token_r + sizeof TOKEN_PREFIX - 1);
	OPENSSL_cleanse(raw, sizeof raw);
	if (token_hash(token_r, hash) != 0)
		return store_failf(st, STORE_ERROR, "hashing failed");

	sqlite3_stmt *s = store_prepare(st, SQL_ADD);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, name);
	store_bind_text(s, 2, hash);
	sqlite3_bind_int64(s, 3, store_now());
	int ret = store_step_done(st, s, "token add");
	if (ret != STORE_OK)
		OPENSSL_cleanse(token_r, len);
	return ret;
}

static const char SQL_DEL[] = "DELETE FROM api_tokens WHERE name = ?";

int store_token_del(struct store *st, const char *name)
{
	if (!name_ok(name))
		return store_failf(st, STORE_NOTFOUND, "no such token");
	sqlite3_stmt *s = store_prepare(st, SQL_DEL);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, name);
	int ret = store_step_done(st, s, "token del");
	if (ret == STORE_OK && sqlite3_changes(st->db) == 0)
		ret = store_failf(st, STORE_NOTFOUND, "no token named %s", name);
	return ret;
}

static const char SQL_LIST[] =
	"SELECT id, name, created, last_used FROM api_tokens ORDER BY name";

static void token_row(sqlite3_stmt *s, struct store_token *t)
{
	memset(t, 0, sizeof *t);
	t->id = sqlite3_column_int64(s, 0);
	store_column_copy(s, 1, t->name, sizeof t->name);
	t->created = sqlite3_column_int64(s, 2);
	t->last_used = sqlite3_column_int64(s, 3);
}

int store_token_list(struct store *st, store_token_cb cb, void *ctx)
{
	sqlite3_stmt *s = store_prepare(st, SQL_LIST);
	if (s == NULL)
		return STORE_ERROR;
	int rc, ret = STORE_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_token t;
		token_row(s, &t);
		if ((ret = cb(ctx, &t)) != 0)
			break;
	}
	if (ret == STORE_OK && rc != SQLITE_DONE)
		ret = store_fail(st, rc, "token list");
	store_release(st, s);
	return ret;
}

static const char SQL_FIND[] =
	"SELECT id, name, created, last_used FROM api_tokens"
	" WHERE token_hash = ?";
static const char SQL_TOUCH[] =
	"UPDATE api_tokens SET last_used = ? WHERE id = ?";

int store_token_check(struct store *st, const char *token,
		      struct store_token *out)
{
	char hash[65];
	size_t n = token ? strnlen(token, STORE_TOKEN_TEXT_MAX + 1) : 0;
	if (n != sizeof TOKEN_PREFIX - 1 + 2 * TOKEN_RANDOM_BYTES ||
	    memcmp(token, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1) != 0)
		return store_failf(st, STORE_AUTHFAIL, "bad token");
	if (token_hash(token, hash) != 0)
		return store_failf(st, STORE_ERROR, "hashing failed");
	sqlite3_stmt *s = store_prepare(st, SQL_FIND);
	if (s == NULL)
		return STORE_ERROR;
	store_bind_text(s, 1, hash);
	int rc = sqlite3_step(s);
	int ret = STORE_OK;
	if (rc == SQLITE_ROW)
		token_row(s, out);
	else if (rc == SQLITE_DONE)
		ret = store_failf(st, STORE_AUTHFAIL, "bad token");
	else
		ret = store_fail(st, rc, "token check");
	store_release(st, s);
	if (ret != STORE_OK)
		return ret;

	int64_t now = store_now();
	if (now - out->last_used < TOKEN_TOUCH_SECONDS)
		return STORE_OK;
	if ((s = store_prepare(st, SQL_TOUCH)) == NULL)
		return STORE_OK; /* the token is good; the timestamp can wait */
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, out->id);
	if (store_step_done(st, s, "token touch") == STORE_OK)
		out->last_used = now;
	return STORE_OK;
}
