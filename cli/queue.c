/*
 * queue.c - `mailroomctl queue list|flush|del ID`: the outbound queue.
 * flush makes every queued message due now (one UPDATE); mailroom-queued
 * picks them up on its next poll.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static int print_item(void *ctx, const struct store_queue_item *q)
{
	(void)ctx;
	char when[32] = "-";
	time_t t = (time_t)q->next_attempt;
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%lld\t<%s>\t<%s>\t%lld bytes\t%d attempts\tnext %s\t%s\n",
	       (long long)q->id, q->sender, q->recipient, (long long)q->size,
	       q->attempts, when, q->last_error);
	return 0;
}

int cli_queue_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 2)
		return cli_fail("usage: mailroomctl queue list|flush|del ID");
	const char *sub = argv[1];
	if (strcmp(sub, "list") == 0 || strcmp(sub, "flush") == 0) {
		if (argc != 2)
			return cli_fail("usage: mailroomctl queue %s", sub);
		struct store *st = cli_store(cli);
		if (!st)
			return 1;
		int64_t n = 0;
		bool list = strcmp(sub, "list") == 0;
		int rc = list ? store_queue_list(st, print_item, NULL)
			      : store_queue_retry_all_now(st, &n);
		if (rc != STORE_OK)
			return cli_store_fail(cli, rc, "queue");
		if (!list) {
			cli_audit(cli, "queue-flush", "");
			printf("queue flushed: every message is due now (%lld were "
			       "waiting)\n", (long long)n);
		}
		return 0;
	}
	if (strcmp(sub, "del") != 0)
		return cli_fail("unknown queue command '%s'", sub);
	if (argc != 3)
		return cli_fail("usage: mailroomctl queue del ID");
	char *end;
	errno = 0;
	long long id = strtoll(argv[2], &end, 10);
	if (errno || *end || end == argv[2] || id <= 0)
		return cli_fail("'%s' is not a queue id", argv[2]);
	struct store *st = cli_store(cli);
	if (!st)
		return 1;
	char what[64];
	snprintf(what, sizeof what, "queue entry %lld", id);
	int rc = store_queue_del(st, id);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	cli_audit(cli, "queue-del", what);
	printf("%s deleted\n", what);
	return 0;
}
