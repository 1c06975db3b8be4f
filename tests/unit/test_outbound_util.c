/*
 * test_outbound_util.c - the queued-message fixture the outbound suites
 * share (test_outbound_store.c, test_outbound_writer.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "test.h"
#include "test_outbound_util.h"

struct rows {
	struct tqueued *t;
	size_t n;
};

static int collect(void *ctx, const struct store_queue_item *q)
{
	struct rows *r = ctx;
	if (r->n < TQUEUED_ROWS)
		r->t->ids[r->n] = q->id;
	r->n++;
	return 0;
}

void tqueued_open(struct tqueued *t)
{
	char err[256] = "";
	memset(t, 0, sizeof *t);
	t->dir = test_tmpdir();
	snprintf(t->path, sizeof t->path, "%s/mailroom.db", t->dir);
	CHECK(store_open(t->path, &t->st, err, sizeof err) == STORE_OK);
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	int fd = memfd_create("msg", 0);
	CHECK(write(fd, body, sizeof body - 1) == (ssize_t)(sizeof body - 1));
	const char *remote[TQUEUED_ROWS] = {"a@remote.test", "b@remote.test",
					    "c@remote.test"};
	struct store_message m = {.fd = fd, .size = sizeof body - 1,
				  .sender = "alice@example.test",
				  .remote = remote, .n_remote = TQUEUED_ROWS};
	CHECK(store_deliver(t->st, &m, 1) == STORE_OK);
	close(fd);
	t->body_id = m.body_id_r;
	struct rows r = {t, 0};
	CHECK(store_queue_list(t->st, collect, &r) == STORE_OK);
	CHECK_INT(r.n, TQUEUED_ROWS);
}

void tqueued_done(struct tqueued *t)
{
	store_close(&t->st);
	test_rmtree(t->dir);
	free(t->dir);
	t->dir = NULL;
}
