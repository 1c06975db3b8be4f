/*
 * test_outbound_store.c - the store's batch queue updates the queue runner
 * uses (store/queue_outbound.c): many rows deferred or deleted in one
 * transaction, with attempts counted and bodies dropped once unused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../store/store_int.h" /* store_open_version: build a v4 file */
#include "test.h"
#include "test_outbound_util.h"

struct ids {
	int64_t v[8];
	size_t n;
};

static int collect(void *ctx, const struct store_queue_item *q)
{
	struct ids *ids = ctx;
	if (ids->n < 8)
		ids->v[ids->n++] = q->id;
	return 0;
}

static void test_batch_updates(void)
{
	struct tqueued t;
	tqueued_open(&t);
	struct store *st = t.st;
	const int64_t *id = t.ids;

	struct store_queue_deferral d[] = {
		{id[0], 1000, "451 4.7.1 greylisted"},
		{id[1], 2000, "connection refused"},
	};
	CHECK(store_queue_defer_many(st, d, 2) == STORE_OK);
	struct store_queue_item q;
	CHECK(store_queue_get(st, id[0], &q) == STORE_OK);
	CHECK_INT(q.attempts, 1);
	CHECK_INT(q.next_attempt, 1000);
	CHECK_STR(q.last_error, "451 4.7.1 greylisted");
	CHECK(store_queue_get(st, id[1], &q) == STORE_OK);
	CHECK_STR(q.last_error, "connection refused");
	CHECK(store_queue_get(st, id[2], &q) == STORE_OK);
	CHECK_INT(q.attempts, 0);
	CHECK(store_queue_defer_many(st, d, 0) == STORE_OK);

	/* Two of three go: the body stays for the third. */
	int64_t del[] = {id[0], id[1], 999999 /* already gone: skipped */};
	CHECK(store_queue_del_many(st, del, 3) == STORE_OK);
	CHECK_INT(store_queue_length(st), 1);
	struct store_body_reader *r = NULL;
	CHECK(store_body_open_by_id(st, t.body_id, &r) == STORE_OK);
	store_body_close(&r);
	CHECK(store_queue_del_many(st, &id[2], 1) == STORE_OK);
	CHECK_INT(store_queue_length(st), 0);
	CHECK(store_body_open_by_id(st, t.body_id, &r) == STORE_NOTFOUND);
	tqueued_done(&t);
}

/* Schema v5 (queue.warned): a queue row made by a v4 Mailroom migrates
 * unwarned, and the mark is taken exactly once. */
static void test_v5_warned_mark(void)
{
	char *dir = test_tmpdir(), path[512], err[256];
	snprintf(path, sizeof path, "%s/mailroom.db", dir);
	struct store *st = NULL;
	CHECK(store_open_version(path, 4, &st, err, sizeof err) == STORE_OK);
	CHECK_INT(store_schema_version(st), 4);
	static const char body[] = "Subject: old\r\n\r\nqueued by v4\r\n";
	int fd = memfd_create("msg", 0);
	CHECK(write(fd, body, sizeof body - 1) == (ssize_t)(sizeof body - 1));
	const char *remote[] = {"a@remote.test"};
	struct store_message m = {.fd = fd, .size = sizeof body - 1,
				  .sender = "alice@example.test",
				  .remote = remote, .n_remote = 1};
	CHECK(store_deliver(st, &m, 1) == STORE_OK);
	close(fd);
	store_close(&st);
	CHECK(store_open(path, &st, err, sizeof err) == STORE_OK);
	CHECK_INT(store_schema_version(st), STORE_SCHEMA_VERSION);
	CHECK(STORE_SCHEMA_VERSION >= 5);
	struct ids ids = {.n = 0};
	CHECK(store_queue_list(st, collect, &ids) == STORE_OK);
	CHECK_INT(ids.n, 1);
	struct store_queue_item q;
	CHECK(store_queue_get(st, ids.v[0], &q) == STORE_OK);
	CHECK_STR(q.recipient, "a@remote.test");
	CHECK_INT(store_queue_mark_warned(st, ids.v[0]), 1);
	CHECK_INT(store_queue_mark_warned(st, ids.v[0]), 0);
	CHECK_INT(store_queue_mark_warned(st, 424242), 0);
	CHECK_INT(store_integrity_check(st), STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	free(dir);
}

TEST_SUITE(outbound_store, {"batch defer and delete", test_batch_updates},
	   {"schema v5: warned mark", test_v5_warned_mark});
