/*
 * test_trust_trace.c - the message trace store API (store/trace.h) on a
 * real SQLite store: a batch is one transaction (all rows or none), rows
 * come back newest first page by page, the address filter matches senders
 * and whole recipients (and "@domain"), unterminated fields are cut at
 * their size, and pruning removes only old rows. Then smtpd's queue in
 * front of it: rows packed and unpacked intact, a full queue drops (and
 * counts) rather than wait, stopping writes everything kept, in order.
 */
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "../../smtpd/smtp_trace.h"
#include "../../store/store_int.h"
#include "../../store/trace.h"
#include "test.h"
#include "test_store_util.h"

static void row_fill(struct store_trace *r, int64_t at, const char *sender,
		     const char *rcpts, const char *outcome)
{
	memset(r, 0, sizeof *r);
	r->at = at;
	snprintf(r->session, sizeof r->session, "s%lld", (long long)at);
	snprintf(r->client_ip, sizeof r->client_ip, "127.0.0.1");
	snprintf(r->helo, sizeof r->helo, "mx.remote.test");
	snprintf(r->sender, sizeof r->sender, "%s", sender);
	snprintf(r->rcpts, sizeof r->rcpts, "%s", rcpts);
	snprintf(r->outcome, sizeof r->outcome, "%s", outcome);
	snprintf(r->reply, sizeof r->reply, "250 2.0.0 Ok");
	snprintf(r->spf, sizeof r->spf, "pass");
	snprintf(r->dkim, sizeof r->dkim, "pass (d=remote.test)");
	r->spam_score = at % 7;
}

static int64_t count_rows(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM message_trace",
			       -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

struct collect {
	struct store_trace rows[16];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static int collect_cb(void *ctx, const struct store_trace *r)
{
	struct collect *c = ctx;
	if (c->n < sizeof c->rows / sizeof c->rows[0])
		c->rows[c->n] = *r;
	c->n++;
	return c->stop_after && c->n >= c->stop_after ? 42 : 0;
}

static size_t list(struct store *st, const char *addr, int64_t before,
		   int limit, struct collect *c)
{
	memset(c, 0, sizeof *c);
	CHECK_INT(store_trace_list(st, addr, before, limit, collect_cb, c),
		  STORE_OK);
	return c->n;
}

static void test_batch_roundtrip(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store_trace rows[3];
	row_fill(&rows[0], 100, "a@remote.test", "alice@example.test",
		 STORE_TRACE_ACCEPTED);
	row_fill(&rows[1], 101, "b@other.test", "bob@example.test,alice@example.test",
		 STORE_TRACE_REFUSED);
	snprintf(rows[1].reply, sizeof rows[1].reply, "550 5.7.1 DMARC policy");
	snprintf(rows[1].dmarc, sizeof rows[1].dmarc, "fail (p=reject)");
	row_fill(&rows[2], 102, "", "carol@example.test", "");
	CHECK_INT(store_trace_add_batch(t.st, rows, 3), STORE_OK);
	CHECK_INT(store_trace_add_batch(t.st, rows, 0), STORE_OK);
	CHECK_INT(count_rows(t.st), 3);

	struct collect c;
	CHECK_INT(list(t.st, NULL, 0, 100, &c), 3);
	CHECK_INT(c.rows[0].at, 102); /* newest first */
	CHECK_STR(c.rows[0].outcome, "accepted"); /* empty stored as accepted */
	CHECK_STR(c.rows[0].sender, "");
	CHECK_INT(c.rows[2].at, 100);
	CHECK(c.rows[0].id > c.rows[1].id && c.rows[1].id > c.rows[2].id);
	const struct store_trace *r = &c.rows[1];
	CHECK_STR(r->session, "s101");
	CHECK_STR(r->client_ip, "127.0.0.1");
	CHECK_STR(r->helo, "mx.remote.test");
	CHECK_STR(r->sender, "b@other.test");
	CHECK_STR(r->rcpts, "bob@example.test,alice@example.test");
	CHECK_STR(r->outcome, "refused");
	CHECK_STR(r->reply, "550 5.7.1 DMARC policy");
	CHECK_STR(r->dmarc, "fail (p=reject)");
	CHECK_STR(r->dkim, "pass (d=remote.test)");
	CHECK_INT(r->spam_score, 101 % 7);

	struct store_trace one;
	CHECK_INT(store_trace_get(t.st, r->id, &one), STORE_OK);
	CHECK_STR(one.reply, "550 5.7.1 DMARC policy");
	CHECK_INT(store_trace_get(t.st, 99999, &one), STORE_NOTFOUND);
	tstore_done(&t);
}

static void test_batch_all_or_nothing(void)
{
	struct tstore t;
	tstore_open(&t);
	/* A second connection holds the write lock: the batch must fail as a
	 * whole (BUSY), leaving no row, then succeed once the lock is gone. */
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(t.path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	store_set_busy_timeout(t.st, 50);
	struct store_trace rows[2];
	row_fill(&rows[0], 1, "a@x.test", "b@example.test", "accepted");
	row_fill(&rows[1], 2, "a@x.test", "b@example.test", "accepted");
	int rc = store_trace_add_batch(t.st, rows, 2);
	CHECK_INT(rc, STORE_BUSY);
	CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	CHECK_INT(count_rows(t.st), 0);
	CHECK_INT(store_trace_add_batch(t.st, rows, 2), STORE_OK);
	CHECK_INT(count_rows(t.st), 2);
	tstore_done(&t);
}

static void test_pages_and_stop(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store_trace rows[10];
	for (int i = 0; i < 10; i++)
		row_fill(&rows[i], 1000 + i, "s@remote.test", "r@example.test",
			 "accepted");
	CHECK_INT(store_trace_add_batch(t.st, rows, 10), STORE_OK);
	struct collect c;
	CHECK_INT(list(t.st, NULL, 0, 4, &c), 4);
	CHECK_INT(c.rows[0].at, 1009);
	CHECK_INT(c.rows[3].at, 1006);
	int64_t last = c.rows[3].id;
	CHECK_INT(list(t.st, "", last, 4, &c), 4); /* "" is no filter */
	CHECK_INT(c.rows[0].at, 1005);
	CHECK_INT(c.rows[0].id, last - 1);
	CHECK_INT(list(t.st, NULL, c.rows[3].id, 4, &c), 2);
	CHECK_INT(c.rows[1].at, 1000);
	CHECK_INT(list(t.st, NULL, 0, 0, &c), 1);     /* limit clamped up */
	CHECK_INT(list(t.st, NULL, 0, 99999, &c), 10); /* and down */
	memset(&c, 0, sizeof c);
	c.stop_after = 3;
	CHECK_INT(store_trace_list(t.st, NULL, 0, 10, collect_cb, &c), 42);
	CHECK_INT(c.n, 3);
	tstore_done(&t);
}

static void test_address_filter(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store_trace rows[5];
	row_fill(&rows[0], 1, "Boss@Remote.test", "alice@example.test", "accepted");
	row_fill(&rows[1], 2, "x@other.test", "bob@example.test,alice@example.test",
		 "refused");
	row_fill(&rows[2], 3, "y@other.test", "malice@example.test", "greylisted");
	row_fill(&rows[3], 4, "z@sub.remote.test", "bob@example.test", "tagged");
	row_fill(&rows[4], 5, "", "carol@example.org", "accepted");
	CHECK_INT(store_trace_add_batch(t.st, rows, 5), STORE_OK);
	static const struct {
		const char *filter;
		size_t n;
		int64_t newest_at;
	} cases[] = {
		{"alice@example.test", 2, 2},   /* not malice@ */
		{"ALICE@example.test", 2, 2},   /* case ignored */
		{"boss@remote.test", 1, 1},     /* sender, stored in mixed case */
		{"bob@example.test", 2, 4},     /* first of a list and alone */
		{"@remote.test", 1, 1},         /* not @sub.remote.test */
		{"@sub.remote.test", 1, 4},
		{"@example.test", 4, 4},
		{"@example.org", 1, 5},
		{"@test", 0, 0},               /* a domain, not a suffix */
		{"nobody@example.test", 0, 0},
		{"%", 0, 0},                    /* no LIKE wildcards */
		{"_lice@example.test", 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].filter;
		struct collect c;
		CHECK_INT(list(t.st, cases[i].filter, 0, 100, &c), cases[i].n);
		if (cases[i].n > 0)
			CHECK_INT(c.rows[0].at, cases[i].newest_at);
	}
	test_state.label = NULL;
	char huge[600];
	memset(huge, 'a', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	CHECK_INT(store_trace_list(t.st, huge, 0, 10, collect_cb, &(struct collect){0}),
		  STORE_INVALID);
	tstore_done(&t);
}

static void test_unterminated_fields(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store_trace r;
	row_fill(&r, 7, "a@x.test", "b@example.test", "accepted");
	/* every byte of these set, no NUL: the store reads no further */
	memset(r.reply, 'R', sizeof r.reply);
	memset(r.details, 'D', sizeof r.details);
	memset(r.session, 'S', sizeof r.session);
	CHECK_INT(store_trace_add_batch(t.st, &r, 1), STORE_OK);
	struct collect c;
	CHECK_INT(list(t.st, NULL, 0, 1, &c), 1);
	/* read back cut to size - 1 and terminated */
	CHECK_INT(strlen(c.rows[0].reply), sizeof r.reply - 1);
	CHECK_INT(strlen(c.rows[0].details), sizeof r.details - 1);
	CHECK_INT(strlen(c.rows[0].session), sizeof r.session - 1);
	CHECK_STR(c.rows[0].sender, "a@x.test"); /* the neighbour intact */
	tstore_done(&t);
}

static void test_prune(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store_trace rows[4];
	row_fill(&rows[0], 100, "a@x.test", "b@example.test", "accepted");
	row_fill(&rows[1], 200, "a@x.test", "b@example.test", "accepted");
	row_fill(&rows[2], 300, "a@x.test", "b@example.test", "accepted");
	row_fill(&rows[3], 400, "a@x.test", "b@example.test", "accepted");
	CHECK_INT(store_trace_add_batch(t.st, rows, 4), STORE_OK);
	CHECK_INT(store_trace_prune(t.st, 300), 2); /* at < 300 only */
	CHECK_INT(store_trace_prune(t.st, 300), 0);
	struct collect c;
	CHECK_INT(list(t.st, NULL, 0, 10, &c), 2);
	CHECK_INT(c.rows[1].at, 300);
	tstore_done(&t);
}

/* The Mail checks page's "last answer": the newest row that asked the
 * daemon, looked for only among the newest STORE_TRACE_SPAMD_LOOK rows. */
static void test_last_spamd(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t at = 0;
	char said[32];
	CHECK_INT(store_trace_last_spamd(t.st, &at, said, sizeof said), STORE_NOTFOUND);
	struct store_trace rows[3];
	row_fill(&rows[0], 100, "a@x.test", "b@example.test", "accepted");
	snprintf(rows[0].details, sizeof rows[0].details, "tests=SPAMD spamd=2.5/5.0");
	row_fill(&rows[1], 200, "a@x.test", "b@example.test", "tagged");
	snprintf(rows[1].details, sizeof rows[1].details,
		 "tests=SPAMD_UNAVAILABLE spamd=unavailable greylisted=x");
	row_fill(&rows[2], 300, "a@x.test", "b@example.test", "accepted");
	snprintf(rows[2].details, sizeof rows[2].details, "tests=none"); /* not asked */
	CHECK_INT(store_trace_add_batch(t.st, rows, 3), STORE_OK);
	CHECK_INT(store_trace_last_spamd(t.st, &at, said, sizeof said), STORE_OK);
	CHECK_INT(at, 200);
	CHECK_STR(said, "unavailable");
	char tiny[4]; /* cut to fit */
	CHECK_INT(store_trace_last_spamd(t.st, &at, tiny, sizeof tiny), STORE_OK);
	CHECK_STR(tiny, "una");
	/* one more row that asked, then enough newer ones that did not */
	CHECK_INT(store_trace_add_batch(t.st, rows, 1), STORE_OK);
	CHECK_INT(store_trace_last_spamd(t.st, &at, said, sizeof said), STORE_OK);
	CHECK_STR(said, "2.5/5.0");
	for (int i = 0; i < STORE_TRACE_SPAMD_LOOK; i++)
		CHECK_INT(store_trace_add_batch(t.st, &rows[2], 1), STORE_OK);
	CHECK_INT(store_trace_last_spamd(t.st, &at, said, sizeof said), STORE_NOTFOUND);
	tstore_done(&t);
}

TEST_SUITE(trust_trace, {"batch roundtrip", test_batch_roundtrip},
	   {"batch all or nothing", test_batch_all_or_nothing},
	   {"pages and stop", test_pages_and_stop},
	   {"address filter", test_address_filter},
	   {"unterminated fields", test_unterminated_fields},
	   {"prune", test_prune}, {"last spamd", test_last_spamd});

/* ---- smtpd's trace queue (smtpd/smtp_trace.h) --------------------------- */

static void test_pack_roundtrip(void)
{
	struct buf b;
	CHECK(buf_init(&b, 64 * 1024) == 0);
	struct store_trace in[3], out;
	row_fill(&in[0], 11, "a@x.test", "b@example.test", "accepted");
	row_fill(&in[1], -5, "", "", "refused");
	in[1].spam_score = -3;
	row_fill(&in[2], 12, "c@x.test", "d@example.test", "tagged");
	memset(in[2].rcpts, 'r', sizeof in[2].rcpts);     /* no NUL: cut */
	memset(in[2].details, 'd', sizeof in[2].details); /* no NUL: cut */
	for (int i = 0; i < 3; i++)
		CHECK_INT(smtp_trace_pack(&b, &in[i]), 0);
	size_t pos = 0;
	for (int i = 0; i < 3; i++) {
		CHECK_INT(smtp_trace_unpack(b.data, b.len, &pos, &out), 1);
		CHECK_INT(out.at, in[i].at);
		CHECK_INT(out.spam_score, in[i].spam_score);
		CHECK_STR(out.sender, in[i].sender);
		CHECK_STR(out.outcome, in[i].outcome);
		CHECK_STR(out.dkim, in[i].dkim);
		CHECK_STR(out.session, in[i].session);
	}
	CHECK_INT(strlen(out.rcpts), sizeof out.rcpts - 1);
	CHECK_INT(strlen(out.details), sizeof out.details - 1);
	CHECK_INT(smtp_trace_unpack(b.data, b.len, &pos, &out), 0); /* the end */
	CHECK_INT(pos, b.len);
	/* a cut-off rest is not a row */
	pos = 0;
	CHECK_INT(smtp_trace_unpack(b.data, 20, &pos, &out), 0);
	CHECK_INT(pos, 0);
	buf_free(&b);

	/* over the cap: refused, buffer unchanged */
	CHECK(buf_init(&b, 100) == 0);
	CHECK_INT(smtp_trace_pack(&b, &in[0]), -1);
	CHECK_INT(b.len, 0);
	buf_free(&b);
}

static void test_queue_drops_when_full_then_writes(void)
{
	struct tstore t;
	tstore_open(&t);
	struct event_base *base = event_base_new();
	struct smtp_trace q;
	char err[256] = "";
	/* a few rows per buffer */
	CHECK_INT(smtp_trace_start(&q, base, t.path, 1200, err, sizeof err), 0);
	/* hold the write lock: the writer thread waits, both buffers fill */
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(t.path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	struct store_trace r;
	int accepted = 0, dropped = 0;
	for (int i = 0; i < 40; i++) {
		row_fill(&r, 5000 + i, "a@x.test", "b@example.test", "accepted");
		if (smtp_trace_add(&q, &r))
			accepted++;
		else
			dropped++;
	}
	CHECK(accepted > 0);
	CHECK(dropped > 0);
	CHECK_INT(q.dropped, dropped);
	CHECK_INT(q.queued, accepted);
	CHECK(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	smtp_trace_stop(&q); /* writes what the thread had and what was left */
	CHECK_INT(count_rows(t.st), accepted);
	CHECK_INT(q.written, accepted);
	CHECK_INT(q.lost, 0);
	/* the rows kept their order */
	struct collect c;
	CHECK_INT(list(t.st, NULL, 0, 1, &c), 1);
	CHECK_INT(c.rows[0].at, 5000 + accepted - 1);
	/* stopped: adding drops quietly */
	CHECK(!smtp_trace_add(&q, &r));
	event_base_free(base);
	tstore_done(&t);
}

static void test_queue_start_fails_cleanly(void)
{
	struct event_base *base = event_base_new();
	struct smtp_trace q;
	char err[256] = "";
	CHECK_INT(smtp_trace_start(&q, base, "/nonexistent/dir/x.db", 0, err,
				   sizeof err), -1);
	CHECK(err[0] != '\0');
	struct store_trace r;
	row_fill(&r, 1, "a@x.test", "b@example.test", "accepted");
	CHECK(!smtp_trace_add(&q, &r));
	smtp_trace_stop(&q); /* harmless */
	event_base_free(base);
}

TEST_SUITE(trust_trace_queue, {"pack roundtrip", test_pack_roundtrip},
	   {"drops when full, then writes", test_queue_drops_when_full_then_writes},
	   {"start fails cleanly", test_queue_start_fails_cleanly});
