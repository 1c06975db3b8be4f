/*
 * test_outbound_writer.c - the queue runner's store writer thread: batches
 * handed over from the loop are committed on the thread's own store
 * handle (rows deleted, sending-limit records written in the same
 * transaction) and reported back on the loop in ticket order; freeing it
 * commits what it was given first.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../outbound/outbound_int.h"
#include "../../store/sendlimit.h"
#include "test.h"
#include "test_outbound_util.h"

struct seen {
	uint64_t tickets[8];
	bool ok[8];
	size_t n;
};

static void on_done(void *arg, uint64_t ticket, bool ok)
{
	struct seen *s = arg;
	if (s->n < 8) {
		s->tickets[s->n] = ticket;
		s->ok[s->n] = ok;
		s->n++;
	}
}

static int count_rows(void *ctx, const struct store_queue_item *q)
{
	(void)q;
	(*(int *)ctx)++;
	return 0;
}

static void test_writer_commits_in_order(void)
{
	struct tqueued t;
	tqueued_open(&t);
	struct store *st = t.st;
	char err[256];
	int n;

	struct event_base *base = event_base_new();
	struct seen seen = {.n = 0};
	struct ob_writer *w = ob_writer_new(t.path, base, on_done, &seen, err, sizeof err);
	CHECK(w != NULL);
	CHECK_INT(ob_writer_last_ticket(w), 0);
	int64_t first[] = {t.ids[0], t.ids[1]};
	struct store_sendlimit_note note = {"alice@example.test", "v1 reset=0 suspended=0 5:2"};
	uint64_t t1 = ob_writer_submit(w, first, 2, &note, 1);
	int64_t second[] = {424242}; /* already gone: not an error */
	uint64_t t2 = ob_writer_submit(w, second, 1, NULL, 0);
	CHECK_INT(t1, 1);
	CHECK_INT(t2, 2);
	CHECK_INT(ob_writer_last_ticket(w), 2);
	for (int i = 0; i < 500 && seen.n < 2; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	CHECK_INT(seen.n, 2);
	CHECK_INT(seen.tickets[0], 1);
	CHECK_INT(seen.tickets[1], 2);
	CHECK(seen.ok[0] && seen.ok[1]);
	n = 0;
	CHECK(store_queue_list(st, count_rows, &n) == STORE_OK);
	CHECK_INT(n, 1);
	char rec[STORE_SENDLIMIT_RECORD_MAX];
	CHECK(store_sendlimit_record_get(st, "alice@example.test", rec, sizeof rec) ==
	      STORE_OK);
	CHECK_STR(rec, "v1 reset=0 suspended=0 5:2");
	/* Freeing commits what was handed over, even unreported. */
	int64_t last[] = {t.ids[2]};
	CHECK_INT(ob_writer_submit(w, last, 1, NULL, 0), 3);
	ob_writer_free(&w);
	CHECK(w == NULL);
	n = 0;
	CHECK(store_queue_list(st, count_rows, &n) == STORE_OK);
	CHECK_INT(n, 0);
	event_base_free(base);
	CHECK_INT(store_integrity_check(st), STORE_OK);
	tqueued_done(&t);
}

TEST_SUITE(outbound_writer, {"commits in ticket order, drains at free",
			     test_writer_commits_in_order});
