/*
 * test_pop3_visit.c - the store's in-place body visits that pop3d's RETR
 * and TOP run on (store/body_visit.h): a one-chunk body in one call, a
 * many-chunk body in 64 KiB pieces, an oversized chunk (left by an old
 * migration) read in pieces, and the errors a session must tell apart:
 * another account's message, a message deleted between pieces, a
 * callback that stops.
 */
#include <stdlib.h>
#include <string.h>

#include "../../store/body_visit.h"
#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

struct sink {
	int64_t off;  /* bytes seen so far */
	unsigned seed; /* tstore_deliver writes pattern seed 1 */
	bool same;    /* every byte matched tstore_message_file's pattern */
	size_t calls, biggest;
	int fail_at;  /* >0: the call with this number returns -1 */
};

static int sink_bytes(void *arg, const char *p, size_t n)
{
	struct sink *k = arg;
	k->calls++;
	if (k->fail_at > 0 && (int)k->calls == k->fail_at)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] !=
		    (unsigned char)(((uint64_t)(k->off + (int64_t)i) * 7 + k->seed) &
				    0xff))
			k->same = false;
	k->off += (int64_t)n;
	if (n > k->biggest)
		k->biggest = n;
	return 0;
}

/* One delivered message of size bytes for a new account: its entry id. */
static int64_t one_message(struct tstore *t, const char *addr, int64_t size,
			   int64_t *account_r, int64_t *body_r)
{
	int64_t acct = tstore_account(t->st, addr, 0);
	CHECK(acct > 0);
	CHECK_INT(tstore_deliver(t->st, t->dir, size, &acct, 1, NULL, 0, body_r),
		  0);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(t->st, acct, &e, &n), STORE_OK);
	CHECK_INT(n, 1);
	int64_t id = n == 1 ? e[0].id : 0;
	free(e);
	*account_r = acct;
	return id;
}

/* Visit to the end; returns the calls to store_body_visit it took. */
static int visit_all(struct store *st, struct store_body_cursor *c,
		     struct sink *k)
{
	int visits = 0;
	while (!c->done && visits < 1000) {
		CHECK_INT(store_body_visit(st, c, sink_bytes, k), STORE_OK);
		visits++;
	}
	return visits;
}

static void test_visit_sizes(void)
{
	static const struct {
		int64_t size;
		int visits; /* one statement per stored chunk */
	} cases[] = {{1, 1}, {10240, 1}, {65536, 1}, {65537, 2},
		     {1000000, 16}};
	struct tstore t;
	tstore_open(&t);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char addr[64];
		snprintf(addr, sizeof(addr), "u%zu@example.test", i);
		int64_t acct = 0, body = 0;
		int64_t entry = one_message(&t, addr, cases[i].size, &acct, &body);
		struct store_body_cursor c;
		store_body_cursor_init(&c, acct, entry);
		struct sink k = {.same = true, .seed = 1};
		test_state.label = addr;
		CHECK_INT(visit_all(t.st, &c, &k), cases[i].visits);
		CHECK_INT(k.off, cases[i].size);
		CHECK_INT(c.size, cases[i].size);
		CHECK(k.same);
		CHECK(k.biggest <= STORE_BLOB_CHUNK);
		/* done is sticky: no more calls to the callback */
		CHECK_INT(store_body_visit(t.st, &c, sink_bytes, &k), STORE_OK);
		CHECK_INT(k.off, cases[i].size);
	}
	tstore_done(&t);
}

static void test_visit_errors(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t acct = 0, other = 0, body = 0;
	int64_t entry = one_message(&t, "a@example.test", 200000, &acct, &body);
	(void)one_message(&t, "b@example.test", 10, &other, &body);

	/* another account's entry id is "no such message" */
	struct store_body_cursor c;
	store_body_cursor_init(&c, other, entry);
	struct sink k = {.same = true, .seed = 1};
	CHECK_INT(store_body_visit(t.st, &c, sink_bytes, &k), STORE_NOTFOUND);
	CHECK_INT(k.calls, 0);

	/* the callback stops the visit */
	store_body_cursor_init(&c, acct, entry);
	struct sink stop = {.same = true, .seed = 1, .fail_at = 1};
	CHECK_INT(store_body_visit(t.st, &c, sink_bytes, &stop), STORE_ERROR);

	/* deleted between pieces (its account's QUIT elsewhere) */
	store_body_cursor_init(&c, acct, entry);
	struct sink half = {.same = true, .seed = 1};
	CHECK_INT(store_body_visit(t.st, &c, sink_bytes, &half), STORE_OK);
	CHECK_INT(half.off, STORE_BLOB_CHUNK);
	CHECK_INT(store_mailbox_delete(t.st, acct, &entry, 1), STORE_OK);
	CHECK_INT(store_body_visit(t.st, &c, sink_bytes, &half), STORE_NOTFOUND);
	CHECK(!c.done);
	tstore_done(&t);
}

/* Store schema v4 moved old one-blob bodies into one chunk each, of any
 * size: such a chunk is read in STORE_BLOB_CHUNK pieces, never whole. */
static void test_visit_oversized_chunk(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t acct = 0, body = 0;
	int64_t size = 3 * STORE_BLOB_CHUNK + 123;
	int64_t entry = one_message(&t, "a@example.test", size, &acct, &body);
	sqlite3_stmt *s = NULL;
	CHECK_INT(sqlite3_prepare_v2(
			  t.st->db,
			  "UPDATE body_chunks SET data = (SELECT CAST(group_concat"
			  "(data, '') AS BLOB) FROM (SELECT data FROM body_chunks"
			  " WHERE body_id = ?1 ORDER BY seq)) WHERE body_id = ?1"
			  " AND seq = 0",
			  -1, &s, NULL),
		  SQLITE_OK);
	sqlite3_bind_int64(s, 1, body);
	CHECK_INT(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	CHECK_INT(sqlite3_prepare_v2(t.st->db,
				     "DELETE FROM body_chunks WHERE body_id = ?"
				     " AND seq > 0",
				     -1, &s, NULL),
		  SQLITE_OK);
	sqlite3_bind_int64(s, 1, body);
	CHECK_INT(sqlite3_step(s), SQLITE_DONE);
	sqlite3_finalize(s);
	CHECK_INT(tstore_count(t.st, "body_chunks"), 1);

	struct store_body_cursor c;
	store_body_cursor_init(&c, acct, entry);
	struct sink k = {.same = true, .seed = 1};
	CHECK_INT(visit_all(t.st, &c, &k), 4);
	CHECK_INT(k.off, size);
	CHECK(k.same);
	CHECK_INT(k.biggest, STORE_BLOB_CHUNK);
	tstore_done(&t);
}

TEST_SUITE(pop3_visit, {"sizes", test_visit_sizes},
	   {"errors", test_visit_errors},
	   {"oversized_chunk", test_visit_oversized_chunk});
