/*
 * test_store_mail.c - the mail path through the store: recipient
 * expansion, group-commit delivery, POP3 snapshots and deletes, streaming
 * body reads (a 30 MB body with bounded memory), the outbound queue and
 * the maildrop lock.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

/* ---- expansion ------------------------------------------------------ */

struct expand_fixture {
	struct tstore t;
	int64_t alice, bob, carol, dave;
};

static void alias(struct store *st, const char *a, const char *t)
{
	test_state.label = a;
	CHECK_INT(store_alias_add(st, a, t), STORE_OK);
}

static void expand_setup(struct expand_fixture *f)
{
	tstore_open(&f->t);
	struct store *st = f->t.st;
	f->alice = tstore_account(st, "alice@example.test", 0);
	f->bob = tstore_account(st, "bob@example.test", 1000);
	f->carol = tstore_account(st, "carol@example.test", 0);
	f->dave = tstore_account(st, "dave@example.test", 0);
	CHECK_INT(store_domain_add(st, "b.test"), 0);
	CHECK_INT(store_domain_add(st, "c.test"), 0);
	struct store_account_change off = {NULL, -1, 0, -1};
	CHECK_INT(store_account_update(st, "carol@example.test", &off), 0);

	alias(st, "sales@example.test", "alice@example.test");
	alias(st, "sales@example.test", "bob@example.test");
	alias(st, "sales@example.test", "partner@remote.test");
	alias(st, "team@example.test", "sales@example.test");
	alias(st, "team@example.test", "dave@example.test");
	alias(st, "team@example.test", "alice@example.test");
	alias(st, "loop1@example.test", "loop2@example.test");
	alias(st, "loop2@example.test", "loop1@example.test");
	alias(st, "loop2@example.test", "alice@example.test");
	alias(st, "self@example.test", "loopa@example.test");
	alias(st, "loopa@example.test", "self@example.test");
	alias(st, "off@example.test", "carol@example.test");
	alias(st, "offmix@example.test", "carol@example.test");
	alias(st, "offmix@example.test", "dave@example.test");
	alias(st, "ext@example.test", "x@remote.test");
	alias(st, "ext@example.test", "y@remote.test");
	alias(st, "alice@example.test", "bob@example.test"); /* account + alias */
	alias(st, "@b.test", "dave@example.test");            /* catch-all */
	alias(st, "info@b.test", "alice@example.test");
	alias(st, "@c.test", "nobody@c.test"); /* catch-all to itself */
	alias(st, "gone@example.test", "deleted@example.test");
	/* chains: ok8 reaches alice at depth 8, far12 is cut before */
	char a[64], t[64];
	for (int i = 0; i < 8; i++) {
		snprintf(a, sizeof a, "ok%d@example.test", i);
		snprintf(t, sizeof t, "ok%d@example.test", i + 1);
		alias(st, a, i == 7 ? "alice@example.test" : t);
	}
	for (int i = 0; i < 12; i++) {
		snprintf(a, sizeof a, "far%d@example.test", i);
		snprintf(t, sizeof t, "far%d@example.test", i + 1);
		alias(st, a, i == 11 ? "alice@example.test" : t);
	}
	/* a fan-out past ALIAS_EXPANSION_MAX */
	CHECK(sqlite3_exec(store_db(st),
			   "INSERT INTO aliases (address, target, domain_id)"
			   " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL"
			   " SELECT i + 1 FROM n WHERE i < 1001)"
			   " SELECT 'big@example.test', 'r' || i || '@remote.test',"
			   " (SELECT id FROM domains WHERE name = 'example.test')"
			   " FROM n",
			   NULL, NULL, NULL) == SQLITE_OK);
	test_state.label = NULL;
}

/* Expansion result as "local,local|remote,remote" with sorted parts. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void describe(struct store *st, const struct store_expansion *e,
		     char *out, size_t outlen)
{
	char *names[32];
	char buf[32][ADDR_MAX + 1];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < e->n_local && n < 32; i++) {
		struct store_account a;
		if (store_account_get_by_id(st, e->local_ids[i], &a) != 0)
			snprintf(a.address, sizeof a.address, "?");
		snprintf(buf[n], sizeof buf[n], "%.*s", (int)strcspn(a.address, "@"),
			 a.address);
		names[n] = buf[n];
		n++;
	}
	qsort(names, n, sizeof names[0], cmp_str);
	for (size_t i = 0; i < n; i++) {
		strncat(out, names[i], outlen - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, ",", outlen - strlen(out) - 1);
	}
	strncat(out, "|", outlen - strlen(out) - 1);
	char **r = e->remote;
	if (e->n_remote > 0)
		qsort(r, e->n_remote, sizeof r[0], cmp_str);
	for (size_t i = 0; i < e->n_remote; i++) {
		strncat(out, r[i], outlen - strlen(out) - 1);
		if (i + 1 < e->n_remote)
			strncat(out, ",", outlen - strlen(out) - 1);
	}
}

static void test_expand(void)
{
	struct expand_fixture f;
	expand_setup(&f);
	static const struct {
		const char *rcpt;
		int64_t size;
		int want;
		const char *result;
		bool over_quota;
	} cases[] = {
		{"dave@example.test", 10, STORE_OK, "dave|", false},
		{"bob@example.test", 1000, STORE_OK, "bob|", false},
		{"bob@example.test", 1001, STORE_OK, "bob|", true},
		{"alice@example.test", 5000, STORE_OK, "alice,bob|", true},
		{"sales@example.test", 10, STORE_OK, "alice,bob|partner@remote.test", false},
		{"team@example.test", 10, STORE_OK, "alice,bob,dave|partner@remote.test", false},
		{"loop1@example.test", 10, STORE_OK, "alice,bob|", false},
		{"self@example.test", 10, STORE_NOTFOUND, "", false},
		{"carol@example.test", 10, STORE_NOTFOUND, "", false},
		{"off@example.test", 10, STORE_NOTFOUND, "", false},
		{"offmix@example.test", 10, STORE_OK, "dave|", false},
		{"ext@example.test", 10, STORE_OK, "|x@remote.test,y@remote.test", false},
		{"anything@b.test", 10, STORE_OK, "dave|", false},
		{"info@b.test", 10, STORE_OK, "alice,bob|", false},
		{"who@c.test", 10, STORE_NOTFOUND, "", false},
		{"nobody@example.test", 10, STORE_NOTFOUND, "", false},
		{"gone@example.test", 10, STORE_NOTFOUND, "", false},
		{"ok0@example.test", 10, STORE_OK, "alice|", false}, /* bob: 9 deep */
		{"far0@example.test", 10, STORE_NOTFOUND, "", false},
		{"big@example.test", 10, STORE_TOOMANY, "", false},
		{"someone@remote.test", 10, STORE_INVALID, "", false},
		{"@example.test", 10, STORE_INVALID, "", false},
		{"noat", 10, STORE_INVALID, "", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].rcpt;
		struct store_expansion e;
		int rc = store_expand(f.t.st, cases[i].rcpt, cases[i].size, &e);
		CHECK_INT(rc, cases[i].want);
		if (rc == STORE_OK) {
			char got[512];
			describe(f.t.st, &e, got, sizeof got);
			CHECK_STR(got, cases[i].result);
			CHECK_INT(e.over_quota, cases[i].over_quota);
		} else {
			CHECK(e.n_local == 0 && e.n_remote == 0 &&
			      e.local_ids == NULL && e.remote == NULL);
		}
		store_expansion_free(&e);
	}
	tstore_done(&f.t);
}

/* ---- delivery, snapshot, delete -------------------------------------- */

static int64_t col_int(struct store *st, const char *sql, int64_t arg)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, arg);
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return v;
}

static void check_body_pattern(struct store *st, int64_t account,
			       int64_t entry, int64_t size, unsigned seed,
			       size_t piece)
{
	struct store_body_reader *r = NULL;
	CHECK_INT(store_body_open(st, account, entry, &r), STORE_OK);
	if (r == NULL)
		return;
	tstore_check_pattern(r, size, seed, piece);
	unsigned char after[1];
	CHECK_INT(store_body_read(r, after, sizeof after), 0); /* still at the end */
	store_body_close(&r);
	CHECK(r == NULL);
}

static void test_deliver_three(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t ids[3] = {tstore_account(st, "a@example.test", 0),
			  tstore_account(st, "b@example.test", 100000),
			  tstore_account(st, "c@example.test", 0)};
	int64_t body = 0;
	CHECK_INT(tstore_deliver(st, t.dir, 12345, ids, 3, NULL, 0, &body), 0);
	CHECK(body > 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	CHECK_INT(tstore_count(st, "mailbox"), 3);
	for (int i = 0; i < 3; i++) {
		struct store_account a;
		CHECK_INT(store_account_get_by_id(st, ids[i], &a), 0);
		CHECK_INT(a.used_bytes, 12345);
		CHECK_INT(a.messages, 1);
		struct store_mailbox_entry *e = NULL;
		size_t n = 0;
		CHECK_INT(store_mailbox_snapshot(st, ids[i], &e, &n), 0);
		CHECK_INT(n, 1);
		if (n == 1) {
			CHECK_INT(e[0].uid, 1);
			CHECK_INT(e[0].size, 12345);
			CHECK(e[0].received > 0);
			check_body_pattern(st, ids[i], e[0].id, 12345, 1, 1000);
		}
		free(e);
	}
	/* a second message: next uid, quota adds up, its own body */
	CHECK_INT(tstore_deliver(st, t.dir, 100, ids, 3, NULL, 0, NULL), 0);
	CHECK_INT(tstore_count(st, "bodies"), 2);
	struct store_account b;
	CHECK_INT(store_account_get_by_id(st, ids[1], &b), 0);
	CHECK_INT(b.used_bytes, 12445);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(st, ids[1], &e, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2)
		CHECK(e[0].uid == 1 && e[1].uid == 2);
	free(e);
	/* duplicate ids in one message: one entry */
	int64_t dup[3] = {ids[0], ids[0], ids[0]};
	CHECK_INT(tstore_deliver(st, t.dir, 10, dup, 3, NULL, 0, NULL), 0);
	CHECK_INT(col_int(st, "SELECT count(*) FROM mailbox WHERE account_id = ?", ids[0]), 3);
	/* an empty message is fine */
	CHECK_INT(tstore_deliver(st, t.dir, 0, ids, 1, NULL, 0, &body), 0);
	struct store_body_reader *r = NULL;
	CHECK_INT(store_body_open_by_id(st, body, &r), 0);
	char c;
	if (r)
		CHECK_INT(store_body_read(r, &c, 1), 0);
	store_body_close(&r);
	/* nobody to deliver to: nothing stored */
	int64_t nb = tstore_count(st, "bodies");
	CHECK_INT(tstore_deliver(st, t.dir, 10, NULL, 0, NULL, 0, &body), 0);
	CHECK_INT(body, 0);
	CHECK_INT(tstore_count(st, "bodies"), nb);
	tstore_done(&t);
}

static void test_uids_never_reused(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t id = tstore_account(st, "a@example.test", 0);
	for (int i = 0; i < 3; i++)
		CHECK_INT(tstore_deliver(st, t.dir, 50, &id, 1, NULL, 0, NULL), 0);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(st, id, &e, &n), 0);
	CHECK_INT(n, 3);
	if (n != 3) {
		free(e);
		tstore_done(&t);
		return;
	}
	/* delete the newest and the oldest, deliver again: uid 4 */
	int64_t del[2] = {e[2].id, e[0].id};
	free(e);
	CHECK_INT(store_mailbox_delete(st, id, del, 2), 0);
	CHECK_INT(tstore_deliver(st, t.dir, 50, &id, 1, NULL, 0, NULL), 0);
	CHECK_INT(store_mailbox_snapshot(st, id, &e, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(e[0].uid, 2);
		CHECK_INT(e[1].uid, 4);
	}
	/* delete everything: the next is still 5 */
	int64_t all[2] = {e[0].id, e[1].id};
	free(e);
	CHECK_INT(store_mailbox_delete(st, id, all, 2), 0);
	CHECK_INT(tstore_deliver(st, t.dir, 50, &id, 1, NULL, 0, NULL), 0);
	CHECK_INT(store_mailbox_snapshot(st, id, &e, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_INT(e[0].uid, 5);
	free(e);
	tstore_done(&t);
}

static void test_delete_frees(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t a = tstore_account(st, "a@example.test", 0);
	int64_t b = tstore_account(st, "b@example.test", 0);
	int64_t ids[2] = {a, b};
	CHECK_INT(tstore_deliver(st, t.dir, 700, ids, 2, NULL, 0, NULL), 0);
	struct store_mailbox_entry *ea = NULL, *eb = NULL;
	size_t na = 0, nb = 0;
	CHECK_INT(store_mailbox_snapshot(st, a, &ea, &na), 0);
	CHECK_INT(store_mailbox_snapshot(st, b, &eb, &nb), 0);
	CHECK(na == 1 && nb == 1);
	if (na != 1 || nb != 1)
		goto out;
	/* b's entry id is not in a's mailbox: ignored */
	CHECK_INT(store_mailbox_delete(st, a, &eb[0].id, 1), 0);
	CHECK_INT(tstore_count(st, "mailbox"), 2);
	struct store_body_reader *r = NULL;
	CHECK_INT(store_body_open(st, a, eb[0].id, &r), STORE_NOTFOUND);
	CHECK(r == NULL);
	/* a's copy goes; the body stays for b */
	CHECK_INT(store_mailbox_delete(st, a, &ea[0].id, 1), 0);
	struct store_account acc;
	CHECK_INT(store_account_get_by_id(st, a, &acc), 0);
	CHECK_INT(acc.used_bytes, 0);
	CHECK_INT(acc.messages, 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	check_body_pattern(st, b, eb[0].id, 700, 1, 64);
	/* deleting it twice is harmless */
	CHECK_INT(store_mailbox_delete(st, a, &ea[0].id, 1), 0);
	/* b's goes: the body is orphaned and removed */
	CHECK_INT(store_mailbox_delete(st, b, &eb[0].id, 1), 0);
	CHECK_INT(tstore_count(st, "bodies"), 0);
	CHECK_INT(store_account_get_by_id(st, b, &acc), 0);
	CHECK_INT(acc.used_bytes, 0);
	CHECK_INT(store_mailbox_delete(st, b, NULL, 0), 0);
	/* account delete removes its mail and the bodies only it used */
	CHECK_INT(tstore_deliver(st, t.dir, 10, ids, 2, NULL, 0, NULL), 0);
	CHECK_INT(tstore_deliver(st, t.dir, 10, &a, 1, NULL, 0, NULL), 0);
	CHECK_INT(tstore_count(st, "bodies"), 2);
	CHECK_INT(store_account_del(st, "a@example.test"), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	CHECK_INT(tstore_count(st, "mailbox"), 1);
	/* a body still queued for a remote recipient outlives the account */
	const char *remote[] = {"far@remote.test"};
	CHECK_INT(tstore_deliver(st, t.dir, 10, &b, 1, remote, 1, NULL), 0);
	CHECK_INT(tstore_count(st, "bodies"), 2);
	CHECK_INT(store_account_del(st, "b@example.test"), 0);
	CHECK_INT(tstore_count(st, "mailbox"), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	CHECK_INT(store_queue_length(st), 1);
	/* and a domain delete with force sweeps the same way */
	int64_t c = tstore_account(st, "c@example.test", 0);
	CHECK_INT(tstore_deliver(st, t.dir, 10, &c, 1, NULL, 0, NULL), 0);
	CHECK_INT(store_domain_del(st, "example.test", true), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	CHECK_INT(tstore_count(st, "body_chunks"), 1);
out:
	free(ea);
	free(eb);
	tstore_done(&t);
}

static void test_deliver_all_or_nothing(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t a = tstore_account(st, "a@example.test", 0);
	int good = tstore_message_file(t.dir, "good", 5000, 3);
	int shortf = tstore_message_file(t.dir, "short", 100, 3);
	const char *remote[] = {"x@remote.test"};
	struct store_message m[2] = {
		{.fd = good, .size = 5000, .sender = "s@r.test", .local_ids = &a,
		 .n_local = 1, .remote = remote, .n_remote = 1},
		{.fd = shortf, .size = 200000, .sender = "s@r.test",
		 .local_ids = &a, .n_local = 1},
	};
	CHECK_INT(store_deliver(st, m, 2), STORE_ERROR);
	CHECK(strstr(store_errmsg(st), "shorter") != NULL);
	m[1].size = 1000; /* short too, on the small-body path */
	CHECK_INT(store_deliver(st, m, 2), STORE_ERROR);
	CHECK(strstr(store_errmsg(st), "shorter") != NULL);
	CHECK_INT(m[0].body_id_r, 0);
	CHECK_INT(tstore_count(st, "bodies"), 0);
	CHECK_INT(tstore_count(st, "mailbox"), 0);
	CHECK_INT(tstore_count(st, "queue"), 0);
	struct store_account acc;
	CHECK_INT(store_account_get_by_id(st, a, &acc), 0);
	CHECK_INT(acc.used_bytes, 0);
	/* the same batch with the second message fixed goes in whole */
	m[1].size = 100;
	CHECK_INT(store_deliver(st, m, 2), 0);
	CHECK(m[0].body_id_r > 0 && m[1].body_id_r > m[0].body_id_r);
	CHECK_INT(tstore_count(st, "mailbox"), 2);
	CHECK_INT(tstore_count(st, "queue"), 1);
	CHECK_INT(store_account_get_by_id(st, a, &acc), 0);
	CHECK_INT(acc.used_bytes, 5100);
	/* the uids did not jump over the failed batch */
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(st, a, &e, &n), 0);
	if (n == 2)
		CHECK(e[0].uid == 1 && e[1].uid == 2);
	free(e);
	/* a bad fd and a negative size are errors too */
	m[0].fd = -1;
	CHECK_INT(store_deliver(st, m, 1), STORE_ERROR);
	m[0].fd = good;
	m[0].size = -1;
	CHECK_INT(store_deliver(st, m, 1), STORE_INVALID);
	CHECK_INT(tstore_count(st, "mailbox"), 2);
	/* an account deleted since RCPT is skipped, the rest delivered */
	int64_t b = tstore_account(st, "b@example.test", 0);
	CHECK_INT(store_account_del(st, "b@example.test"), 0);
	int64_t both[2] = {b, a};
	CHECK_INT(tstore_deliver(st, t.dir, 10, both, 2, NULL, 0, NULL), 0);
	CHECK_INT(tstore_count(st, "mailbox"), 3);
	/* only the deleted account: nothing stored, no orphan body */
	int64_t nbodies = tstore_count(st, "bodies"), body = -1;
	CHECK_INT(tstore_deliver(st, t.dir, 70000, &b, 1, NULL, 0, &body), 0);
	CHECK_INT(body, 0);
	CHECK_INT(tstore_count(st, "bodies"), nbodies);
	CHECK_INT(tstore_count(st, "body_chunks"), nbodies);
	close(good);
	close(shortf);
	tstore_done(&t);
}

/* Peak RSS of this process in kB (VmHWM), after reset when possible. */
static long vm_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t fl = strlen(field);
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, field, fl) == 0)
			v = strtol(line + fl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static void reset_peak(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "5", 1) != 1) {
			/* older kernel: VmHWM then counts from fork */
		}
		close(fd);
	}
}

/* Child: deliver 30 MB and read it back; report peak growth in kB. */
static void big_child(const char *dir, int out)
{
	const int64_t size = 30LL * 1024 * 1024;
	char path[512], err[256];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME);
	struct store *st = NULL;
	long res[3] = {-1, -1, 0};
	if (store_open(path, &st, err, sizeof err) != STORE_OK)
		_exit(2);
	int64_t id = 0;
	struct store_account a;
	if (store_account_get(st, "big@example.test", &a) == 0)
		id = a.id;
	int fd = tstore_message_file(dir, "big", size, 9);
	if (fd < 0 || id == 0)
		_exit(3);
	reset_peak();
	long base = vm_kb("VmHWM:");
	struct store_message m = {.fd = fd, .size = size, .sender = "",
				  .local_ids = &id, .n_local = 1};
	if (store_deliver(st, &m, 1) != STORE_OK)
		_exit(4);
	res[0] = vm_kb("VmHWM:") - base;
	reset_peak();
	base = vm_kb("VmHWM:");
	struct store_body_reader *r = NULL;
	if (store_body_open_by_id(st, m.body_id_r, &r) != STORE_OK)
		_exit(5);
	unsigned char buf[16384];
	int64_t off = 0;
	ssize_t n;
	while ((n = store_body_read(r, buf, sizeof buf - 3)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(((uint64_t)(off + i) * 7 + 9) & 0xff))
				res[2] = 1;
		off += n;
	}
	if (off != size)
		res[2] = 2;
	store_body_close(&r);
	res[1] = vm_kb("VmHWM:") - base;
	store_close(&st);
	if (write(out, res, sizeof res) != (ssize_t)sizeof res)
		_exit(6);
	_exit(0);
}

static void test_big_body_bounded_memory(void)
{
	struct tstore t;
	tstore_open(&t);
	tstore_account(t.st, "big@example.test", 0);
	store_close(&t.st);
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		big_child(t.dir, p[1]);
	}
	close(p[1]);
	long res[3] = {-1, -1, -1};
	ssize_t got = read(p[0], res, sizeof res);
	close(p[0]);
	CHECK_INT(tstore_wait(pid), 0);
	CHECK_INT(got, sizeof res);
	fprintf(stderr, "  30 MB body: peak RSS growth deliver %ld kB, read %ld kB\n",
		res[0], res[1]);
	CHECK(res[0] >= 0 && res[0] < 10 * 1024);
	CHECK(res[1] >= 0 && res[1] < 10 * 1024);
	CHECK_INT(res[2], 0);
	tstore_done(&t);
}

static void test_body_pieces(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t a = tstore_account(t.st, "a@example.test", 0);
	const int64_t size = 3 * STORE_BLOB_CHUNK + 17;
	CHECK_INT(tstore_deliver(t.st, t.dir, size, &a, 1, NULL, 0, NULL), 0);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(t.st, a, &e, &n), 0);
	static const size_t pieces[] = {1, 7, 4096, STORE_BLOB_CHUNK, 65537, 1 << 20};
	for (size_t i = 0; n == 1 && i < sizeof pieces / sizeof pieces[0]; i++)
		check_body_pattern(t.st, a, e[0].id, size, 1, pieces[i]);
	struct store_body_reader *r = NULL;
	/* A reader left open (a client draining RETR slowly) does not pin an
	 * old snapshot: the same store sees new mail and can write. */
	unsigned char head[100];
	if (n == 1) {
		CHECK_INT(store_body_open(t.st, a, e[0].id, &r), STORE_OK);
		if (r)
			CHECK_INT(store_body_read(r, head, sizeof head), sizeof head);
		struct tstore other;
		char err[256];
		CHECK_INT(store_open(t.path, &other.st, err, sizeof err), 0);
		CHECK_INT(tstore_deliver(other.st, t.dir, 10, &a, 1, NULL, 0, NULL), 0);
		store_close(&other.st);
		struct store_mailbox_entry *e2 = NULL;
		size_t n2 = 0;
		CHECK_INT(store_mailbox_snapshot(t.st, a, &e2, &n2), 0);
		CHECK_INT(n2, 2);
		if (n2 == 2)
			CHECK_INT(store_mailbox_delete(t.st, a, &e2[1].id, 1), 0);
		free(e2);
		int64_t rest = 0;
		ssize_t got;
		unsigned char buf[4096];
		while (r && (got = store_body_read(r, buf, sizeof buf)) > 0)
			rest += got;
		CHECK_INT(rest + (int64_t)sizeof head, size);
		store_body_close(&r);
	}
	/* a body deleted under its reader reads as an error */
	if (n == 1) {
		CHECK_INT(store_body_open(t.st, a, e[0].id, &r), STORE_OK);
		CHECK_INT(store_mailbox_delete(t.st, a, &e[0].id, 1), 0);
		if (r)
			CHECK_INT(store_body_read(r, head, sizeof head), -1);
		store_body_close(&r);
	}
	CHECK_INT(store_body_open(t.st, a, 99999, &r), STORE_NOTFOUND);
	CHECK_INT(store_body_open_by_id(t.st, 99999, &r), STORE_NOTFOUND);
	CHECK(r == NULL);
	store_body_close(&r); /* NULL is fine */
	free(e);
	tstore_done(&t);
}

/* ---- queue ----------------------------------------------------------- */

struct qlist {
	int64_t ids[16];
	char rcpt[16][ADDR_MAX + 1];
	int n;
};

static int q_cb(void *ctx, const struct store_queue_item *q)
{
	struct qlist *l = ctx;
	if (l->n < 16) {
		l->ids[l->n] = q->id;
		snprintf(l->rcpt[l->n], sizeof l->rcpt[0], "%s", q->recipient);
	}
	l->n++;
	return 0;
}

static void test_queue(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t a = tstore_account(st, "a@example.test", 0);
	const char *remote[] = {"x@remote.test", "y@remote.test"};
	int64_t body = 0;
	CHECK_INT(tstore_deliver(st, t.dir, 321, &a, 1, remote, 2, &body), 0);
	CHECK_INT(store_queue_length(st), 2);
	struct qlist l = {0};
	CHECK_INT(store_queue_list(st, q_cb, &l), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.rcpt[0], "x@remote.test");
	struct store_queue_item q;
	CHECK_INT(store_queue_get(st, l.ids[0], &q), 0);
	CHECK_INT(q.body_id, body);
	CHECK_INT(q.size, 321);
	CHECK_STR(q.sender, "sender@remote.test");
	CHECK_INT(q.attempts, 0);
	CHECK_STR(q.last_error, "");
	CHECK(q.next_attempt > 0 && q.next_attempt <= store_now());
	CHECK_INT(store_queue_get(st, 9999, &q), STORE_NOTFOUND);

	/* due now: both; after a defer only the other one */
	int64_t now = store_now();
	struct qlist d = {0};
	CHECK_INT(store_queue_due(st, now, 10, q_cb, &d), 0);
	CHECK_INT(d.n, 2);
	memset(&d, 0, sizeof d);
	CHECK_INT(store_queue_due(st, now, 1, q_cb, &d), 0);
	CHECK_INT(d.n, 1);
	CHECK_INT(store_queue_defer(st, l.ids[0], now + 600, "451 4.7.1 try later"), 0);
	CHECK_INT(store_queue_defer(st, 9999, now, "x"), STORE_NOTFOUND);
	CHECK_INT(store_queue_get(st, l.ids[0], &q), 0);
	CHECK_INT(q.attempts, 1);
	CHECK_STR(q.last_error, "451 4.7.1 try later");
	CHECK_INT(q.next_attempt, now + 600);
	memset(&d, 0, sizeof d);
	CHECK_INT(store_queue_due(st, now, 10, q_cb, &d), 0);
	CHECK_INT(d.n, 1);
	CHECK_STR(d.rcpt[0], "y@remote.test");
	/* a long error is cut, not refused */
	char longerr[2000];
	memset(longerr, 'e', sizeof longerr - 1);
	longerr[sizeof longerr - 1] = '\0';
	CHECK_INT(store_queue_defer(st, l.ids[0], now + 600, longerr), 0);
	CHECK_INT(store_queue_get(st, l.ids[0], &q), 0);
	CHECK_INT(strlen(q.last_error), sizeof q.last_error - 1);
	CHECK_INT(store_queue_retry_now(st, l.ids[0]), 0);
	CHECK_INT(store_queue_retry_now(st, 9999), STORE_NOTFOUND);
	memset(&d, 0, sizeof d);
	CHECK_INT(store_queue_due(st, store_now(), 10, q_cb, &d), 0);
	CHECK_INT(d.n, 2);

	/* the body reader works by id for the queue runner */
	struct store_body_reader *r = NULL;
	CHECK_INT(store_body_open_by_id(st, body, &r), 0);
	if (r)
		CHECK_INT(store_body_size(r), 321);
	store_body_close(&r);

	/* rows go; the body stays while the mailbox entry uses it */
	CHECK_INT(store_queue_del(st, l.ids[0]), 0);
	CHECK_INT(store_queue_del(st, l.ids[0]), STORE_NOTFOUND);
	CHECK_INT(store_queue_del(st, l.ids[1]), 0);
	CHECK_INT(store_queue_length(st), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	/* a remote-only message: its body goes with its last queue row */
	CHECK_INT(tstore_deliver(st, t.dir, 50, NULL, 0, remote, 1, &body), 0);
	CHECK_INT(tstore_count(st, "bodies"), 2);
	memset(&l, 0, sizeof l);
	CHECK_INT(store_queue_list(st, q_cb, &l), 0);
	CHECK_INT(l.n, 1);
	CHECK_INT(store_queue_del(st, l.ids[0]), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	/* the null sender <> is kept as "" */
	struct store_message m = {.fd = tstore_message_file(t.dir, "n", 5, 0),
				  .size = 5, .sender = "", .remote = remote,
				  .n_remote = 1};
	CHECK_INT(store_deliver(st, &m, 1), 0);
	close(m.fd);
	memset(&l, 0, sizeof l);
	CHECK_INT(store_queue_list(st, q_cb, &l), 0);
	CHECK_INT(store_queue_get(st, l.ids[0], &q), 0);
	CHECK_STR(q.sender, "");
	tstore_done(&t);
}

/* ---- maildrop lock --------------------------------------------------- */

static void test_maildrop_lock(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	int64_t a = tstore_account(st, "a@example.test", 0);
	pid_t me = getpid();
	CHECK_INT(store_maildrop_lock(st, a, me, 1, 600), 0);
	CHECK_INT(store_maildrop_lock(st, a, me, 1, 600), 0); /* same owner */
	CHECK_INT(store_maildrop_lock(st, a, me, 2, 600), STORE_LOCKED);
	CHECK_INT(store_maildrop_unlock(st, a, me, 2), STORE_NOTFOUND);
	CHECK_INT(store_maildrop_unlock(st, a, me, 1), 0);
	CHECK_INT(store_maildrop_lock(st, a, me, 2, 600), 0);
	CHECK_INT(store_maildrop_unlock(st, a, me, 2), 0);
	CHECK_INT(store_maildrop_lock(st, 9999, me, 1, 600), STORE_INVALID);

	/* a dead owner's lock is taken over */
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	tstore_wait(dead);
	CHECK_INT(store_maildrop_lock(st, a, dead, 7, 600), 0);
	CHECK_INT(store_maildrop_lock(st, a, me, 3, 600), 0);
	/* a live owner's old lock is taken over past max_age */
	CHECK(sqlite3_exec(store_db(st),
			   "UPDATE maildrop_locks SET since = since - 1000",
			   NULL, NULL, NULL) == SQLITE_OK);
	CHECK_INT(store_maildrop_lock(st, a, me, 4, 2000), STORE_LOCKED);
	CHECK_INT(store_maildrop_lock(st, a, me, 4, 600), 0);
	/* pid 1 is alive (EPERM when not root counts as alive too) */
	CHECK_INT(store_maildrop_lock(st, a, 1, 5, 600), STORE_LOCKED);
	/* the lock row goes with the account */
	CHECK_INT(store_account_del(st, "a@example.test"), 0);
	CHECK_INT(tstore_count(st, "maildrop_locks"), 0);
	tstore_done(&t);
}

TEST_SUITE(store_mail, {"expand", test_expand},
	   {"deliver_three", test_deliver_three},
	   {"uids_never_reused", test_uids_never_reused},
	   {"delete_frees", test_delete_frees},
	   {"deliver_all_or_nothing", test_deliver_all_or_nothing},
	   {"big_body_bounded_memory", test_big_body_bounded_memory},
	   {"body_pieces", test_body_pieces}, {"queue", test_queue},
	   {"maildrop_lock", test_maildrop_lock});
