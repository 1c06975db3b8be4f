/*
 * test_rules_deliver.c - rules at delivery, through the real store: a
 * message to two local accounts comes out as the messages smtpd commits
 * (tagged copy, untouched original, forwarded copies local and remote
 * with an SRS sender and a Delivered-To line, one out-of-office reply
 * with the null sender, and none the second time), a rejecting rule
 * leaves nothing to store, a discard keeps nothing, a hop-count loop is
 * refused, and a forward back to an account that already had it stops.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../rules/deliver.h"
#include "test.h"
#include "test_store_util.h"

static const char MSG[] = "Received: from x by y\r\n"
			  "From: Sender <sender@remote.test>\r\n"
			  "To: alice@example.test, bob@example.test\r\n"
			  "Subject: Quarterly numbers\r\n"
			  "Message-ID: <q1@remote.test>\r\n"
			  "\r\n"
			  "The body stays the same.\r\n";

static int msg_fd(const char *dir, const char *text)
{
	char path[600];
	snprintf(path, sizeof path, "%s/msg-%zu", dir, strlen(text));
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	return fd;
}

/* Bodies of an account's mailbox, concatenated with "\n--\n". */
static char *mailbox(struct store *st, int64_t id)
{
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	static char out[65536];
	size_t o = 0;
	out[0] = '\0';
	CHECK_INT(store_mailbox_snapshot(st, id, &e, &n), STORE_OK);
	for (size_t i = 0; i < n; i++) {
		struct store_body_reader *r = NULL;
		CHECK_INT(store_body_open(st, id, e[i].id, &r), STORE_OK);
		ssize_t got;
		while (r && (got = store_body_read(r, out + o, sizeof out - o - 8)) > 0)
			o += (size_t)got;
		store_body_close(&r);
		memcpy(out + o, "\n--\n", 5);
		o += 4;
	}
	free(e);
	return out;
}

struct qrow {
	char text[4096];
};

static int collect_queue(void *ctx, const struct store_queue_item *q)
{
	struct qrow *r = ctx;
	size_t len = strlen(r->text);
	snprintf(r->text + len, sizeof r->text - len, "<%s> -> %s\n", q->sender,
		 q->recipient);
	return 0;
}

static void add_rule(struct store *st, int64_t account, const char *spec)
{
	CHECK_INT(store_rule_add(st, account, 0, "r", true, spec, NULL), STORE_OK);
}

static void deliver(struct rules_env *env, struct store *st, int fd,
		    int64_t size, const int64_t *ids, size_t n,
		    struct rules_outcome *out)
{
	struct store_message in = {.fd = fd, .size = size,
				   .sender = "sender@remote.test",
				   .local_ids = ids, .n_local = n};
	CHECK_INT(rules_env_begin(env, 1796000000), STORE_OK);
	CHECK_INT(rules_deliver_prepare(env, &in, out), STORE_OK);
	if (out->n)
		CHECK_INT(store_deliver(st, out->msgs, out->n), STORE_OK);
}

static void test_forward_tag_vacation(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	int64_t bob = tstore_account(t.st, "bob@example.test", 0);
	add_rule(t.st, alice,
		 "{\"if\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quarterly\"}],"
		 "\"then\":[{\"action\":\"tag\",\"text\":\"[Q]\"},"
		 "{\"action\":\"header\",\"name\":\"X-Folder\",\"text\":\"Finance\"},"
		 "{\"action\":\"forward\",\"to\":[\"x@remote.test\",\"bob@example.test\"]},"
		 "{\"action\":\"vacation\",\"text\":\"Away\",\"days\":7}]}");
	struct rules_env *env = rules_env_new(t.st, "mail.example.test");
	struct rules_outcome out;
	int fd = msg_fd(t.dir, MSG);
	int64_t ids[] = {alice, bob};
	deliver(env, t.st, fd, sizeof MSG - 1, ids, 2, &out);
	CHECK(out.reject_text == NULL);
	/* original (bob), tagged (alice), forward, vacation */
	CHECK_INT(out.n, 4);
	rules_outcome_free(&out);

	const char *a = mailbox(t.st, alice);
	CHECK(strstr(a, "Subject: [Q] Quarterly numbers\r\n") != NULL);
	CHECK(strstr(a, "\r\nX-Folder: Finance\r\n\r\nThe body") != NULL);
	CHECK(strstr(a, "\r\n\r\nThe body stays the same.\r\n") != NULL);
	CHECK(strstr(a, "\n--\n") == a + strlen(a) - 4); /* one message */
	const char *b = mailbox(t.st, bob);
	/* bob: the original, and alice's forwarded copy */
	CHECK(strstr(b, "Subject: Quarterly numbers\r\n") != NULL);
	CHECK(strstr(b, "Delivered-To: alice@example.test\r\nReceived: from x") != NULL);
	CHECK(strstr(b, "[Q]") == NULL);
	struct qrow q = {""};
	CHECK_INT(store_queue_list(t.st, collect_queue, &q), STORE_OK);
	CHECK(strstr(q.text, "=remote.test=sender@example.test> -> x@remote.test\n") != NULL);
	CHECK(strstr(q.text, "<SRS0=") != NULL);
	CHECK(strstr(q.text, "<> -> sender@remote.test\n") != NULL);

	/* the same again: no second vacation reply within 7 days */
	deliver(env, t.st, fd, sizeof MSG - 1, ids, 2, &out);
	CHECK_INT(out.n, 3);
	rules_outcome_free(&out);
	struct qrow q2 = {""};
	CHECK_INT(store_queue_list(t.st, collect_queue, &q2), STORE_OK);
	size_t replies = 0;
	for (const char *p = q2.text; (p = strstr(p, "<> -> ")) != NULL; p++)
		replies++;
	CHECK_INT(replies, 1);
	close(fd);
	rules_env_free(&env);
	tstore_done(&t);
}

static void test_reject_discard_hops(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	int64_t bob = tstore_account(t.st, "bob@example.test", 0);
	add_rule(t.st, alice, "{\"then\":[{\"action\":\"reject\",\"text\":\"Not here\"}]}");
	add_rule(t.st, bob, "{\"then\":[{\"action\":\"discard\"}]}");
	struct rules_env *env = rules_env_new(t.st, "mail.example.test");
	struct rules_outcome out;
	int fd = msg_fd(t.dir, MSG);

	test_state.label = "reject";
	int64_t a[] = {alice};
	deliver(env, t.st, fd, sizeof MSG - 1, a, 1, &out);
	CHECK_INT(out.n, 0);
	CHECK_INT(out.n_rejected, 1);
	CHECK(out.reject_text && strcmp(out.reject_text, "Not here") == 0);
	rules_outcome_free(&out);

	test_state.label = "discard";
	int64_t b[] = {bob};
	deliver(env, t.st, fd, sizeof MSG - 1, b, 1, &out);
	CHECK_INT(out.n, 0);
	CHECK(out.reject_text == NULL);
	rules_outcome_free(&out);
	CHECK_INT(tstore_count(t.st, "mailbox"), 0);

	test_state.label = "rule edit applies to the next message";
	CHECK_INT(store_rule_replace(t.st, bob, NULL, 0), STORE_OK);
	deliver(env, t.st, fd, sizeof MSG - 1, b, 1, &out);
	CHECK_INT(out.n, 1);
	rules_outcome_free(&out);
	CHECK_INT(tstore_count(t.st, "mailbox"), 1);

	test_state.label = "hops";
	char looped[8192] = "";
	size_t o = 0;
	for (int i = 0; i <= RULES_HOPS_MAX; i++)
		o += (size_t)snprintf(looped + o, sizeof looped - o,
				      "Received: from a by b\r\n");
	snprintf(looped + o, sizeof looped - o, "%s", MSG);
	int lfd = msg_fd(t.dir, looped);
	deliver(env, t.st, lfd, (int64_t)strlen(looped), b, 1, &out);
	CHECK(out.hop_limit);
	CHECK_INT(out.n, 0);
	rules_outcome_free(&out);
	close(lfd);
	close(fd);
	rules_env_free(&env);
	tstore_done(&t);
}

static void test_forward_loop_stops(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	/* alice redirects everything to bob@remote.test, which sends it back */
	add_rule(t.st, alice, "{\"then\":[{\"action\":\"redirect\",\"to\":[\"bob@remote.test\"]}]}");
	struct rules_env *env = rules_env_new(t.st, "mail.example.test");
	struct rules_outcome out;
	char back[4096];
	snprintf(back, sizeof back, "Delivered-To: alice@example.test\r\n%s", MSG);
	int fd = msg_fd(t.dir, back);
	int64_t a[] = {alice};
	deliver(env, t.st, fd, (int64_t)strlen(back), a, 1, &out);
	/* not forwarded again; kept so it is not lost */
	CHECK_INT(out.n, 1);
	CHECK(out.n == 1 && out.msgs[0].n_local == 1 && out.msgs[0].n_remote == 0);
	rules_outcome_free(&out);
	CHECK_INT(tstore_count(t.st, "queue"), 0);
	close(fd);
	rules_env_free(&env);
	tstore_done(&t);
}

TEST_SUITE(rules_deliver, {"forward_tag_vacation", test_forward_tag_vacation},
	   {"reject_discard_hops", test_reject_discard_hops},
	   {"forward_loop_stops", test_forward_loop_stops});
