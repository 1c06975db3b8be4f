/*
 * test_outbound_sendlimit.c - the per-account sending limit's pieces that
 * need no daemon: the record (minute buckets over a one-hour window, its
 * text form, reset) and the store functions that count, hold and release
 * an account's queue rows and keep its record next to the deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../outbound/outbound.h"
#include "../../store/sendlimit.h"
#include "test.h"

static void test_record_window(void)
{
	struct ob_sendlimit_rec r;
	ob_sendlimit_init(&r);
	int64_t t0 = 1800000000; /* a minute boundary */
	ob_sendlimit_add(&r, t0, 3);
	ob_sendlimit_add(&r, t0 + 59, 1);   /* same minute */
	ob_sendlimit_add(&r, t0 + 600, 2);  /* ten minutes on */
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 600), 6);
	/* The first minute leaves the window an hour later. */
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 3599), 6);
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 3600), 2);
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 4200), 0);
	/* A bucket slot reused an hour later starts from zero. */
	ob_sendlimit_add(&r, t0 + 3600, 1);
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 3600), 3);
	ob_sendlimit_reset(&r, t0 + 3700);
	CHECK_INT(ob_sendlimit_sum(&r, t0 + 3700), 0);
	CHECK_INT(r.reset_at, t0 + 3700);
	CHECK_INT(r.suspended_at, 0);
}

static void test_record_text(void)
{
	struct ob_sendlimit_rec r, back;
	ob_sendlimit_init(&r);
	int64_t now = 1800000000;
	r.reset_at = 1799990000;
	r.suspended_at = now;
	for (int i = 0; i < 70; i++) /* more minutes than the window keeps */
		ob_sendlimit_add(&r, now - 70 * 60 + i * 60 + 60, (uint32_t)i + 1);
	char text[STORE_SENDLIMIT_RECORD_MAX];
	CHECK(ob_sendlimit_format(&r, now, text, sizeof text) == 0);
	CHECK(strncmp(text, "v1 reset=1799990000 suspended=1800000000 ", 41) == 0);
	CHECK(ob_sendlimit_parse(text, &back) == 0);
	CHECK_INT(back.reset_at, r.reset_at);
	CHECK_INT(back.suspended_at, r.suspended_at);
	CHECK_INT(ob_sendlimit_sum(&back, now), ob_sendlimit_sum(&r, now));
	CHECK(ob_sendlimit_sum(&r, now) > 0);
	char tiny[20];
	CHECK(ob_sendlimit_format(&r, now, tiny, sizeof tiny) < 0);
	static const char *bad[] = {
		"", "v2 reset=1 suspended=0", "v1 reset=-1 suspended=0",
		"v1 reset=1 suspended=0 5", "v1 reset=1 suspended=0 5:", "v1 reset=1 suspended=0 5:99999999999",
		"v1 reset=1 suspended=0 x:1", "v1 reset=1 suspended=0 1:1 ", "v1 reset=1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(ob_sendlimit_parse(bad[i], &back) < 0);
		CHECK_INT(ob_sendlimit_sum(&back, now), 0); /* left empty */
	}
	CHECK(ob_sendlimit_parse("v1 reset=0 suspended=0", &back) == 0);
}

static int count_records(void *ctx, const char *sender, const char *value)
{
	int *n = ctx;
	(*n)++;
	CHECK_STR(sender, "alice@example.test");
	CHECK(strncmp(value, "v1 ", 3) == 0);
	return 0;
}

static void test_store_hold_release(void)
{
	char *dir = test_tmpdir(), path[512], err[256];
	snprintf(path, sizeof path, "%s/mailroom.db", dir);
	struct store *st = NULL;
	CHECK(store_open(path, &st, err, sizeof err) == STORE_OK);
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	const char *remote[] = {"a@remote.test", "b@remote.test"};
	const char *senders[] = {"alice@example.test", "bob@example.test"};
	for (int k = 0; k < 2; k++) {
		int fd = memfd_create("msg", 0);
		CHECK(write(fd, body, sizeof body - 1) == (ssize_t)(sizeof body - 1));
		struct store_message m = {.fd = fd, .size = sizeof body - 1,
					  .sender = senders[k],
					  .remote = remote, .n_remote = 2};
		CHECK(store_deliver(st, &m, 1) == STORE_OK);
		close(fd);
	}
	int64_t n = -1;
	CHECK(store_sendlimit_queued(st, "alice@example.test", 0, &n) == STORE_OK);
	CHECK_INT(n, 2);
	CHECK(store_sendlimit_queued(st, "alice@example.test", INT64_MAX, &n) == STORE_OK);
	CHECK_INT(n, 0);
	CHECK(store_sendlimit_hold(st, "alice@example.test", 9999999999,
				   OB_SENDLIMIT_HELD " x", &n) == STORE_OK);
	CHECK_INT(n, 2);
	struct store_queue_item q;
	int64_t first = 0;
	for (int64_t id = 1; id < 10 && first == 0; id++)
		if (store_queue_get(st, id, &q) == STORE_OK &&
		    strcmp(q.sender, "alice@example.test") == 0)
			first = id;
	CHECK(first != 0);
	CHECK(store_queue_get(st, first, &q) == STORE_OK);
	CHECK_INT(q.next_attempt, 9999999999);
	CHECK(strncmp(q.last_error, OB_SENDLIMIT_HELD, strlen(OB_SENDLIMIT_HELD)) == 0);
	/* A '%' in the prefix is a byte, not a wildcard. */
	CHECK(store_sendlimit_release(st, "alice@example.test", "%", 5, &n) == STORE_OK);
	CHECK_INT(n, 0);
	CHECK(store_sendlimit_release(st, "alice@example.test", OB_SENDLIMIT_HELD,
				      1234, &n) == STORE_OK);
	CHECK_INT(n, 2);
	CHECK(store_queue_get(st, first, &q) == STORE_OK);
	CHECK_INT(q.next_attempt, 1234);
	CHECK_STR(q.last_error, "");
	CHECK_INT(q.attempts, 0);
	/* Records: absent, set, listed, deleted with rows in one go. */
	char rec[STORE_SENDLIMIT_RECORD_MAX];
	CHECK(store_sendlimit_record_get(st, "alice@example.test", rec, sizeof rec) ==
	      STORE_NOTFOUND);
	struct store_sendlimit_note note = {"alice@example.test", "v1 reset=0 suspended=0 1:2"};
	int64_t del[] = {first};
	CHECK(store_queue_del_many_noted(st, del, 1, &note, 1) == STORE_OK);
	CHECK(store_queue_get(st, first, &q) == STORE_NOTFOUND);
	CHECK(store_sendlimit_record_get(st, "alice@example.test", rec, sizeof rec) ==
	      STORE_OK);
	CHECK_STR(rec, "v1 reset=0 suspended=0 1:2");
	CHECK(store_setting_set(st, "sendlimiz", "not mine") == STORE_OK);
	CHECK(store_setting_set(st, "sendlimit", "not mine either") == STORE_OK);
	int listed = 0;
	CHECK(store_sendlimit_record_list(st, count_records, &listed) == STORE_OK);
	CHECK_INT(listed, 1);
	CHECK(store_sendlimit_record_set(st, "alice@example.test", "") == STORE_OK);
	CHECK(store_sendlimit_record_get(st, "alice@example.test", rec, sizeof rec) ==
	      STORE_NOTFOUND);
	CHECK(store_sendlimit_record_set(st, "", "x") == STORE_INVALID);
	CHECK(store_sendlimit_queued(st, "bob@example.test", 0, &n) == STORE_OK);
	CHECK_INT(n, 2); /* bob's rows were never touched */
	CHECK_INT(store_integrity_check(st), STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	free(dir);
}

TEST_SUITE(outbound_sendlimit, {"record: one-hour window", test_record_window},
	   {"record: text form", test_record_text},
	   {"store: count, hold, release, records", test_store_hold_release});
