/*
 * test_store_proc.c - the store under several processes and faults: two
 * writers at once lose nothing, a writer killed with SIGKILL in the middle
 * of a big batch leaves a sound database with all of the batch or none,
 * a backup taken while a writer runs opens and passes integrity_check and
 * restores, and injected faults (a held write lock, a full database) come
 * back as STORE_BUSY / STORE_FULL with nothing half stored.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

#define WRITES_PER_CHILD 150

static struct store *child_open(const char *path)
{
	char err[256];
	struct store *st = NULL;
	if (store_open(path, &st, err, sizeof err) != STORE_OK)
		_exit(10);
	return st;
}

/* Child n: deliveries to the shared account plus its own domains. */
static void writer_child(const char *dir, const char *path, int n, int64_t id)
{
	struct store *st = child_open(path);
	char name[64], sub[512];
	snprintf(sub, sizeof sub, "%s/w%d", dir, n);
	mkdir(sub, 0700);
	for (int i = 0; i < WRITES_PER_CHILD; i++) {
		if (tstore_deliver(st, sub, 200 + i, &id, 1, NULL, 0, NULL) != 0)
			_exit(11);
		snprintf(name, sizeof name, "w%d-%d.test", n, i);
		if (store_domain_add(st, name) != 0)
			_exit(12);
	}
	store_close(&st);
	_exit(0);
}

static void test_two_writers(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t id = tstore_account(t.st, "shared@example.test", 0);
	store_close(&t.st);
	pid_t kids[2];
	for (int n = 0; n < 2; n++)
		if ((kids[n] = fork()) == 0)
			writer_child(t.dir, t.path, n, id);
	for (int n = 0; n < 2; n++)
		CHECK_INT(tstore_wait(kids[n]), 0);
	char err[256];
	CHECK_INT(store_open(t.path, &t.st, err, sizeof err), 0);
	CHECK_INT(store_integrity_check(t.st), 0);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(t.st, id, &e, &n), 0);
	CHECK_INT(n, 2 * WRITES_PER_CHILD);
	bool uids_ok = true;
	int64_t bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].uid != i + 1)
			uids_ok = false;
		bytes += e[i].size;
	}
	CHECK(uids_ok);
	free(e);
	struct store_account a;
	CHECK_INT(store_account_get_by_id(t.st, id, &a), 0);
	CHECK_INT(a.used_bytes, bytes);
	CHECK_INT(tstore_count(t.st, "domains"), 1 + 2 * WRITES_PER_CHILD);
	tstore_done(&t);
}

#define KILL_BATCH 40
#define KILL_MSG_SIZE (384 * 1024)

/* Deliver one batch of KILL_BATCH messages; tell the parent just before. */
static void big_batch_child(const char *dir, const char *path, int64_t id,
			    int ready)
{
	struct store *st = child_open(path);
	int fd = tstore_message_file(dir, "kill-msg", KILL_MSG_SIZE, 5);
	if (fd < 0)
		_exit(13);
	struct store_message m[KILL_BATCH];
	for (int i = 0; i < KILL_BATCH; i++)
		m[i] = (struct store_message){.fd = fd, .size = KILL_MSG_SIZE,
					      .sender = "", .local_ids = &id,
					      .n_local = 1};
	if (write(ready, "x", 1) != 1)
		_exit(14);
	int rc = store_deliver(st, m, KILL_BATCH);
	store_close(&st);
	_exit(rc == 0 ? 0 : 15);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_sigkill_mid_batch(void)
{
	static const long delays_ms[] = {0, 2, 5, 10, 20, 40, 80, 400};
	int none = 0, all = 0, mid = 0;
	for (size_t d = 0; d < sizeof delays_ms / sizeof delays_ms[0]; d++) {
		char label[32];
		snprintf(label, sizeof label, "kill after %ld ms", delays_ms[d]);
		test_state.label = label;
		struct tstore t;
		tstore_open(&t);
		int64_t id = tstore_account(t.st, "k@example.test", 0);
		/* one committed message before, which must survive */
		CHECK_INT(tstore_deliver(t.st, t.dir, 10, &id, 1, NULL, 0, NULL), 0);
		store_close(&t.st);
		int p[2];
		CHECK(pipe(p) == 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			big_batch_child(t.dir, t.path, id, p[1]);
		}
		close(p[1]);
		char c;
		CHECK(read(p[0], &c, 1) == 1);
		close(p[0]);
		sleep_ms(delays_ms[d]);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		/* uncommitted frames in the WAL: the kill landed mid-write */
		char wal[600];
		struct stat sb;
		snprintf(wal, sizeof wal, "%s-wal", t.path);
		bool wal_big = stat(wal, &sb) == 0 && sb.st_size > KILL_MSG_SIZE;

		char err[256];
		CHECK_INT(store_open(t.path, &t.st, err, sizeof err), 0);
		CHECK_INT(store_integrity_check(t.st), 0);
		int64_t entries = tstore_count(t.st, "mailbox");
		int64_t bodies = tstore_count(t.st, "bodies");
		CHECK(entries == 1 || entries == 1 + KILL_BATCH);
		CHECK_INT(bodies, entries);
		struct store_account a;
		CHECK_INT(store_account_get_by_id(t.st, id, &a), 0);
		CHECK_INT(a.used_bytes, 10 + (entries - 1) * (int64_t)KILL_MSG_SIZE);
		if (entries == 1 && wal_big && WIFSIGNALED(status))
			mid++;
		if (entries == 1)
			none++;
		else
			all++;
		/* the store is usable: the next uid follows the last kept */
		CHECK_INT(tstore_deliver(t.st, t.dir, 10, &id, 1, NULL, 0, NULL), 0);
		struct store_mailbox_entry *e = NULL;
		size_t n = 0;
		CHECK_INT(store_mailbox_snapshot(t.st, id, &e, &n), 0);
		if (n > 0)
			CHECK_INT(e[n - 1].uid, n);
		free(e);
		tstore_done(&t);
	}
	fprintf(stderr,
		"  SIGKILL mid-batch: %d runs kept none (%d killed mid-write), "
		"%d kept all\n",
		none, mid, all);
	CHECK(mid > 0); /* at least one kill really landed mid-transaction */
}

/* Writes until the parent closes the stop pipe; says "started" on the
 * other after its first commit. */
static void endless_writer(const char *dir, const char *path, int64_t id,
			   int stop, int started)
{
	struct store *st = child_open(path);
	char sub[512];
	snprintf(sub, sizeof sub, "%s/endless", dir);
	mkdir(sub, 0700);
	for (int i = 0;; i++) {
		if (tstore_deliver(st, sub, 4000 + i, &id, 1, NULL, 0, NULL) != 0)
			_exit(16);
		if (i == 0 && (write(started, "s", 1) != 1 || close(started) != 0))
			_exit(17);
		char c;
		if (read(stop, &c, 1) == 0)
			break;
	}
	store_close(&st);
	_exit(0);
}

static void test_backup_under_load(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t id = tstore_account(t.st, "b@example.test", 0);
	int p[2], q[2];
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	/* non-blocking reads in the child: EAGAIN means "go on" */
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		close(q[0]);
		int fl = fcntl(p[0], F_GETFL);
		fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
		endless_writer(t.dir, t.path, id, p[0], q[1]);
	}
	close(p[0]);
	close(q[1]);
	char started;
	CHECK(read(q[0], &started, 1) == 1); /* the writer is writing */
	close(q[0]);
	char bpath[3][600];
	int64_t counts[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		sleep_ms(150);
		snprintf(bpath[i], sizeof bpath[i], "%s/backup-%d.db", t.dir, i);
		CHECK_INT(store_backup(t.st, bpath[i]), 0);
	}
	close(p[1]);
	CHECK_INT(tstore_wait(pid), 0);
	for (int i = 0; i < 3; i++) {
		char err[256];
		struct store *b = NULL;
		test_state.label = bpath[i];
		struct stat sb;
		CHECK(stat(bpath[i], &sb) == 0);
		CHECK_INT(sb.st_mode & 0777, 0600);
		CHECK_INT(store_open(bpath[i], &b, err, sizeof err), 0);
		if (b == NULL)
			continue;
		CHECK_INT(store_integrity_check(b), 0);
		CHECK_INT(store_schema_version(b), STORE_SCHEMA_VERSION);
		counts[i] = tstore_count(b, "mailbox");
		CHECK_INT(tstore_count(b, "bodies"), counts[i]);
		store_close(&b);
	}
	test_state.label = NULL;
	CHECK(counts[0] > 0 && counts[2] >= counts[1] && counts[1] >= counts[0]);
	int64_t live = tstore_count(t.st, "mailbox");
	fprintf(stderr, "  backups under load held %lld, %lld, %lld messages (live %lld)\n",
		(long long)counts[0], (long long)counts[1], (long long)counts[2],
		(long long)live);
	CHECK(live >= counts[2]);
	/* restore the first backup over the live database (writer stopped) */
	struct store_account before;
	CHECK_INT(store_account_get(t.st, "b@example.test", &before), 0);
	store_close(&t.st);
	char err[256] = "";
	CHECK_INT(store_restore(bpath[0], t.path, err, sizeof err), 0);
	CHECK_INT(store_open(t.path, &t.st, err, sizeof err), 0);
	CHECK_INT(store_integrity_check(t.st), 0);
	CHECK_INT(tstore_count(t.st, "mailbox"), counts[0]);
	struct store_account a;
	CHECK_INT(store_account_get(t.st, "b@example.test", &a), 0);
	CHECK_INT(a.uidvalidity, before.uidvalidity);
	/* UIDLs survive, and never repeat: the next message continues after
	 * every UID the replaced database handed out (live of them), not
	 * after the backup's, since clients may have seen those */
	CHECK_INT(tstore_deliver(t.st, t.dir, 10, &id, 1, NULL, 0, NULL), 0);
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	CHECK_INT(store_mailbox_snapshot(t.st, id, &e, &n), 0);
	if (n > 0)
		CHECK_INT(e[n - 1].uid, live + 1);
	free(e);
	tstore_done(&t);
}

static void test_restore_refuses(void)
{
	struct tstore t;
	tstore_open(&t);
	CHECK_INT(store_domain_add(t.st, "keep.test"), 0);
	char junk[600], newer[600], err[256];
	snprintf(junk, sizeof junk, "%s/junk.db", t.dir);
	FILE *f = fopen(junk, "w");
	for (int i = 0; i < 200; i++)
		fputs("not a database at all, just text\n", f);
	fclose(f);
	CHECK(store_restore(junk, t.path, err, sizeof err) != 0);
	CHECK(err[0] != '\0');
	snprintf(newer, sizeof newer, "%s/newer.db", t.dir);
	CHECK_INT(store_backup(t.st, newer), 0);
	sqlite3 *db = NULL;
	CHECK(sqlite3_open(newer, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) ==
	      SQLITE_OK);
	sqlite3_close(db);
	CHECK(store_restore(newer, t.path, err, sizeof err) != 0);
	CHECK(strstr(err, "99") != NULL);
	char missing[600];
	snprintf(missing, sizeof missing, "%s/missing.db", t.dir);
	CHECK(store_restore(missing, t.path, err, sizeof err) != 0);
	/* the live database is untouched by the refusals */
	CHECK_INT(store_domain_exists(t.st, "keep.test"), 1);
	CHECK_INT(store_integrity_check(t.st), 0);
	/* a backup to a directory that does not exist fails cleanly */
	snprintf(missing, sizeof missing, "%s/no/such/dir/b.db", t.dir);
	CHECK_INT(store_backup(t.st, missing), STORE_ERROR);
	tstore_done(&t);
}

/* Another connection holds the write lock: writes come back BUSY after
 * the busy timeout, and nothing is half stored. */
static void test_busy_fault(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t id = tstore_account(t.st, "a@example.test", 0);
	sqlite3 *other = NULL;
	CHECK(sqlite3_open(t.path, &other) == SQLITE_OK);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	store_set_busy_timeout(t.st, 100);
	CHECK_INT(store_domain_add(t.st, "busy.test"), STORE_BUSY);
	CHECK_INT(tstore_deliver(t.st, t.dir, 1000, &id, 1, NULL, 0, NULL), STORE_BUSY);
	CHECK(store_result_is_temporary(STORE_BUSY));
	CHECK_INT(store_account_del(t.st, "a@example.test"), STORE_BUSY);
	/* readers are not blocked by a writer (WAL) */
	struct store_account a;
	CHECK_INT(store_account_get(t.st, "a@example.test", &a), 0);
	CHECK(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(other);
	CHECK_INT(tstore_count(t.st, "bodies"), 0);
	CHECK_INT(tstore_deliver(t.st, t.dir, 1000, &id, 1, NULL, 0, NULL), 0);
	CHECK_INT(store_domain_add(t.st, "busy.test"), 0);
	tstore_done(&t);
}

/* A page limit stands in for a full disk: FULL, nothing half stored,
 * and the store works again once there is room. */
static void test_full_fault(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t id = tstore_account(t.st, "a@example.test", 0);
	sqlite3 *db = store_db(t.st);
	sqlite3_stmt *s = NULL;
	int64_t pages = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		pages = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	CHECK(pages > 0);
	/* a pragma takes no parameters: the number is ours, not input */
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
		 (long long)pages + 20);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	int rc = tstore_deliver(t.st, t.dir, 1024 * 1024, &id, 1, NULL, 0, NULL);
	CHECK_INT(rc, STORE_FULL);
	CHECK(store_result_is_temporary(rc));
	CHECK_INT(tstore_count(t.st, "bodies"), 0);
	CHECK_INT(tstore_count(t.st, "mailbox"), 0);
	struct store_account a;
	CHECK_INT(store_account_get_by_id(t.st, id, &a), 0);
	CHECK_INT(a.used_bytes, 0);
	CHECK(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL,
			   NULL) == SQLITE_OK);
	CHECK_INT(tstore_deliver(t.st, t.dir, 1024 * 1024, &id, 1, NULL, 0, NULL), 0);
	CHECK_INT(store_integrity_check(t.st), 0);
	tstore_done(&t);
}

/* A real write error: the file size limit stops the WAL from growing in
 * a child mid-delivery. STORE_FULL, and nothing of it in the database. */
static void test_write_error_fault(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t id = tstore_account(t.st, "a@example.test", 0);
	CHECK_INT(tstore_deliver(t.st, t.dir, 100, &id, 1, NULL, 0, NULL), 0);
	store_close(&t.st);
	int fd = tstore_message_file(t.dir, "big", 2 * 1024 * 1024, 4);
	CHECK(fd >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		struct store *st = child_open(t.path);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {512 * 1024, 512 * 1024};
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(20);
		struct store_message m = {.fd = fd, .size = 2 * 1024 * 1024,
					  .sender = "", .local_ids = &id,
					  .n_local = 1};
		int rc = store_deliver(st, &m, 1);
		if (rc != STORE_FULL)
			fprintf(stderr, "deliver under RLIMIT_FSIZE: %d %s\n", rc,
				store_errmsg(st));
		store_close(&st);
		_exit(rc == STORE_FULL ? 0 : 21);
	}
	CHECK_INT(tstore_wait(pid), 0);
	close(fd);
	char err[256];
	CHECK_INT(store_open(t.path, &t.st, err, sizeof err), 0);
	CHECK_INT(store_integrity_check(t.st), 0);
	CHECK_INT(tstore_count(t.st, "mailbox"), 1);
	CHECK_INT(tstore_count(t.st, "bodies"), 1);
	struct store_account a;
	CHECK_INT(store_account_get_by_id(t.st, id, &a), 0);
	CHECK_INT(a.used_bytes, 100);
	CHECK_INT(tstore_deliver(t.st, t.dir, 2 * 1024 * 1024, &id, 1, NULL, 0, NULL), 0);
	tstore_done(&t);
}

TEST_SUITE(store_proc, {"two_writers", test_two_writers},
	   {"sigkill_mid_batch", test_sigkill_mid_batch},
	   {"backup_under_load", test_backup_under_load},
	   {"restore_refuses", test_restore_refuses},
	   {"busy_fault", test_busy_fault}, {"full_fault", test_full_fault},
	   {"write_error_fault", test_write_error_fault});
