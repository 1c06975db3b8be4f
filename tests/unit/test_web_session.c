/*
 * test_web_session.c - sessions (create, find, idle and absolute expiry,
 * eviction, destroy by address), CSRF tokens, and the login rate limit's
 * growing delays; sessions and the CSRF secret kept in a store and found
 * again by a second table (a restarted webadmin).
 */
#include <stdlib.h>
#include <string.h>

#include "../../store/store_int.h"
#include "../../store/websession.h"
#include "../../webadmin/session.h"
#include "../../webadmin/web.h"
#include "test.h"
#include "test_store_util.h"

static void test_sessions(void)
{
	struct session_table *t = calloc(1, sizeof *t);
	char id[SESSION_ID_HEX + 1], id2[SESSION_ID_HEX + 1];
	CHECK_INT(session_table_init(t), 0);
	test_state.label = "create and find";
	CHECK_INT(session_create(t, "a@x.test", 1000, id), 0);
	CHECK_INT(strlen(id), SESSION_ID_HEX);
	CHECK_INT(session_create(t, "b@x.test", 1000, id2), 0);
	CHECK(strcmp(id, id2) != 0);
	struct session *s = session_find(t, id, 1001);
	CHECK(s != NULL && strcmp(s->address, "a@x.test") == 0);
	CHECK(session_find(t, "short", 1001) == NULL);
	char wrong[SESSION_ID_HEX + 1];
	memcpy(wrong, id, sizeof wrong);
	wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
	CHECK(session_find(t, wrong, 1001) == NULL);

	test_state.label = "idle expiry is sliding";
	CHECK(session_find(t, id, 1001 + SESSION_IDLE_SECONDS - 1) != NULL);
	CHECK(session_find(t, id, 1001 + 2 * SESSION_IDLE_SECONDS - 2) != NULL);
	CHECK(session_find(t, id2, 1001 + 2 * SESSION_IDLE_SECONDS) == NULL);

	test_state.label = "absolute expiry";
	CHECK_INT(session_create(t, "c@x.test", 5000, id), 0);
	int64_t now = 5000, used = 5000;
	while (now < 5000 + SESSION_MAX_SECONDS) {
		now += SESSION_IDLE_SECONDS - 1;
		if (now <= 5000 + SESSION_MAX_SECONDS) {
			CHECK(session_find(t, id, now) != NULL);
			used = now;
		}
	}
	/* the metrics count it while it lives, and not past the absolute
	 * limit, though it was used less than the idle limit ago */
	CHECK_INT(session_count_live(t, used), 1);
	CHECK_INT(session_count_live(t, 5000 + SESSION_MAX_SECONDS + 1), 0);
	CHECK(session_find(t, id, 5000 + SESSION_MAX_SECONDS + 1) == NULL);

	test_state.label = "destroy by address keeps one";
	CHECK_INT(session_create(t, "d@x.test", 100, id), 0);
	CHECK_INT(session_create(t, "d@x.test", 100, id2), 0);
	session_destroy_address(t, "d@x.test", id2);
	CHECK(session_find(t, id, 101) == NULL);
	CHECK(session_find(t, id2, 101) != NULL);
	session_destroy(t, id2);
	CHECK(session_find(t, id2, 101) == NULL);

	test_state.label = "full table evicts least recently used";
	CHECK_INT(session_table_init(t), 0);
	char first[SESSION_ID_HEX + 1];
	char second[SESSION_ID_HEX + 1];
	CHECK_INT(session_create(t, "old@x.test", 10000, first), 0);
	CHECK_INT(session_create(t, "old2@x.test", 10000, second), 0);
	for (int i = 0; i < SESSIONS_MAX - 2; i++)
		CHECK_INT(session_create(t, "n@x.test", 10001, id), 0);
	CHECK(session_find(t, first, 10002) != NULL); /* touched: now recent */
	CHECK_INT(session_create(t, "new@x.test", 10003, id), 0);
	CHECK(session_find(t, first, 10004) != NULL);
	CHECK(session_find(t, second, 10004) == NULL); /* the evicted one */
	CHECK(session_find(t, id, 10004) != NULL);
	free(t);
}

static void test_csrf_tokens(void)
{
	struct session_table *t = calloc(1, sizeof *t);
	struct session_table *u = calloc(1, sizeof *u);
	CHECK_INT(session_table_init(t), 0);
	CHECK_INT(session_table_init(u), 0);
	char tok[CSRF_HEX + 1], other[CSRF_HEX + 1];
	session_token(t, "csrf", "abc", tok);
	CHECK_INT(strlen(tok), CSRF_HEX);
	CHECK(session_token_ok(t, "csrf", "abc", tok));
	CHECK(!session_token_ok(t, "pre", "abc", tok));  /* bound to purpose */
	CHECK(!session_token_ok(t, "csrf", "abd", tok)); /* bound to id */
	CHECK(!session_token_ok(u, "csrf", "abc", tok)); /* bound to secret */
	CHECK(!session_token_ok(t, "csrf", "abc", NULL));
	CHECK(!session_token_ok(t, "csrf", "", tok));
	CHECK(!session_token_ok(t, "csrf", "abc", ""));
	memcpy(other, tok, sizeof other);
	other[CSRF_HEX - 1] = other[CSRF_HEX - 1] == '0' ? '1' : '0';
	CHECK(!session_token_ok(t, "csrf", "abc", other));
	other[CSRF_HEX - 1] = '\0';
	CHECK(!session_token_ok(t, "csrf", "abc", other));
	free(t);
	free(u);
}

static void test_ratelimit(void)
{
	struct ratelimit *rl = calloc(1, sizeof *rl);
	int64_t now = 1000;
	test_state.label = "free failures";
	for (int i = 0; i < RATE_FREE_FAILURES - 1; i++) {
		ratelimit_fail(rl, "ip:1", now);
		CHECK_INT(ratelimit_wait(rl, "ip:1", now), 0);
	}
	test_state.label = "growing delays";
	int64_t want = 1;
	for (int i = 0; i < 12; i++) {
		ratelimit_fail(rl, "ip:1", now);
		CHECK_INT(ratelimit_wait(rl, "ip:1", now), want);
		CHECK_INT(ratelimit_wait(rl, "ip:2", now), 0);
		now += want;
		CHECK_INT(ratelimit_wait(rl, "ip:1", now), 0);
		want = want * 2 > RATE_MAX_DELAY ? RATE_MAX_DELAY : want * 2;
	}
	test_state.label = "clear";
	ratelimit_fail(rl, "ip:1", now);
	CHECK(ratelimit_wait(rl, "ip:1", now) > 0);
	ratelimit_clear(rl, "ip:1");
	CHECK_INT(ratelimit_wait(rl, "ip:1", now), 0);
	test_state.label = "forgotten after an hour";
	for (int i = 0; i < 5; i++)
		ratelimit_fail(rl, "ip:3", now);
	now += RATE_FORGET_SECONDS + 1;
	ratelimit_fail(rl, "ip:3", now);
	CHECK_INT(ratelimit_wait(rl, "ip:3", now), 0);
	test_state.label = "full table reuses the oldest";
	for (int i = 0; i < RATE_KEYS_MAX + 10; i++) {
		char key[32];
		snprintf(key, sizeof key, "ip:k%d", i);
		ratelimit_fail(rl, key, now + i);
	}
	free(rl);
}

static int64_t count_sessions(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM web_sessions",
			       -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* A second table on the same store stands for the restarted daemon. */
static void test_sessions_in_store(void)
{
	struct tstore ts;
	tstore_open(&ts);
	struct session_table *t = calloc(1, sizeof *t);
	struct session_table *u = calloc(1, sizeof *u);
	char err[200], id[SESSION_ID_HEX + 1], id2[SESSION_ID_HEX + 1];
	char tok[CSRF_HEX + 1];
	CHECK_INT(session_table_init(t), 0);
	CHECK_INT(session_table_attach(t, ts.st, 1000, err, sizeof err), 0);
	CHECK_INT(session_create(t, "a@x.test", 1000, id), 0);
	CHECK_INT(session_create(t, "a@x.test", 1000, id2), 0);
	session_token(t, "csrf", id, tok);
	CHECK_INT(count_sessions(ts.st), 2);
	/* the metrics count each once: in the store and in the cache */
	CHECK_INT(session_count_live(t, 1000), 2);

	test_state.label = "restart";
	CHECK_INT(session_table_init(u), 0);
	CHECK_INT(session_table_attach(u, ts.st, 1010, err, sizeof err), 0);
	/* counted before anyone comes back: the cache is empty, the store not */
	CHECK_INT(session_count_live(u, 1010), 2);
	CHECK(session_token_ok(u, "csrf", id, tok));
	struct session *s = session_find(u, id, 1010);
	CHECK(s != NULL && strcmp(s->address, "a@x.test") == 0);
	CHECK(session_find(u, "0123456789abcdef0123456789abcdef"
			      "0123456789abcdef0123456789abcdef", 1010) == NULL);

	test_state.label = "destroy by address reaches the store";
	session_destroy_address(u, "a@x.test", id);
	CHECK_INT(count_sessions(ts.st), 1);
	CHECK_INT(session_count_live(u, 1011), 1);
	struct store_websession w;
	CHECK_INT(store_websession_get(ts.st, id2, &w), STORE_NOTFOUND);
	/* t still caches id2, but a hit is confirmed against the store: the
	 * row u (or mailroomctl) deleted ends it in t at once */
	CHECK(session_find(t, id2, 1011) == NULL);
	CHECK(session_find(t, id2, 1012) == NULL);
	CHECK(session_find(t, id, 1011) != NULL); /* the kept one lives on */

	test_state.label = "idle expiry from the stored last_seen";
	struct session_table *v = calloc(1, sizeof *v);
	CHECK_INT(session_table_init(v), 0);
	CHECK_INT(session_table_attach(v, ts.st, 1020, err, sizeof err), 0);
	CHECK(session_find(v, id, 1020 + SESSION_IDLE_SECONDS + 1) == NULL);
	CHECK_INT(count_sessions(ts.st), 0);

	test_state.label = "logout";
	CHECK_INT(session_create(v, "b@x.test", 2000, id), 0);
	session_destroy(v, id);
	CHECK_INT(count_sessions(ts.st), 0);

	test_state.label = "evicted from the cache, still in the store";
	char first[SESSION_ID_HEX + 1];
	CHECK_INT(session_create(v, "first@x.test", 3000, first), 0);
	for (int i = 0; i < SESSIONS_MAX; i++)
		CHECK_INT(session_create(v, "n@x.test", 3001, id), 0);
	bool cached = false;
	for (size_t i = 0; i < SESSIONS_MAX; i++)
		if (strcmp(v->s[i].id, first) == 0)
			cached = true;
	CHECK(!cached);
	s = session_find(v, first, 3002);
	CHECK(s != NULL && strcmp(s->address, "first@x.test") == 0);
	CHECK_INT(count_sessions(ts.st), SESSIONS_MAX + 1);
	CHECK_INT(session_count_live(v, 3002), SESSIONS_MAX + 1);
	test_state.label = "absolute expiry prunes rows";
	CHECK(session_find(v, first, 3000 + SESSION_MAX_SECONDS + 1) == NULL);
	CHECK_INT(count_sessions(ts.st), 0);

	test_state.label = "used since its row was last written";
	/* last_seen reaches the store at most every SESSION_TOUCH_SECONDS: a
	 * session this cache saw use of after that still counts here */
	CHECK_INT(session_create(t, "late@x.test", 5000, id), 0);
	CHECK(session_find(t, id, 5030) != NULL); /* not written: < 60 s */
	int64_t later = 5000 + SESSION_IDLE_SECONDS + 10;
	CHECK_INT(session_count_live(t, later), 1);
	CHECK_INT(session_count_live(u, later), 0); /* another cache: the row */
	free(t);
	free(u);
	free(v);
	tstore_done(&ts);
}

/* Made-up passwords: the length asked for, only the look-alike-free
 * alphabet, different each time; too small a buffer or too long a
 * password is refused. */
static void test_random_password(void)
{
	char a[WEB_RANDOM_PASSWORD_MAX + 1], b[WEB_RANDOM_PASSWORD_MAX + 1];
	CHECK_INT(web_random_password(a, sizeof a, 16), 0);
	CHECK_INT(web_random_password(b, sizeof b, 16), 0);
	CHECK_INT(strlen(a), 16);
	CHECK(strcmp(a, b) != 0);
	CHECK_INT(strspn(a, "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"), 16);
	CHECK_INT(web_random_password(a, sizeof a, WEB_RANDOM_PASSWORD_MAX), 0);
	CHECK_INT(strlen(a), WEB_RANDOM_PASSWORD_MAX);
	CHECK_INT(web_random_password(a, 16, 16), -1); /* no room for the NUL */
	CHECK_INT(web_random_password(a, sizeof a, WEB_RANDOM_PASSWORD_MAX + 1), -1);
}

TEST_SUITE(web_session, {"sessions", test_sessions},
	   {"csrf_tokens", test_csrf_tokens}, {"ratelimit", test_ratelimit},
	   {"sessions_in_store", test_sessions_in_store},
	   {"random_password", test_random_password});
