/*
 * test_outbound_util.h - the fixture the outbound suites share: a fresh
 * store with one message queued for three remote recipients, the state the
 * queue runner's store code starts from.
 */
#ifndef MAILROOM_TEST_OUTBOUND_UTIL_H
#define MAILROOM_TEST_OUTBOUND_UTIL_H

#include <stdint.h>

#include "../../store/store.h"

#define TQUEUED_ROWS 3

struct tqueued {
	char *dir;       /* a test_tmpdir(), removed by tqueued_done */
	char path[512];  /* dir/mailroom.db */
	struct store *st;
	int64_t body_id; /* the one body the three rows share */
	int64_t ids[TQUEUED_ROWS]; /* the rows, in store_queue_list order */
};

/* A new temp dir with an open store in it and one message from
 * alice@example.test queued for a@, b@ and c@remote.test: three queue
 * rows, one body (CHECKs each step). */
void tqueued_open(struct tqueued *t);
/* Close the store and remove the dir. */
void tqueued_done(struct tqueued *t);

#endif
