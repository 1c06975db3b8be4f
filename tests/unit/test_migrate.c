/*
 * test_migrate.c - the schema migrates itself from every older version,
 * with data surviving; a newer database is refused; a failing step leaves
 * the database at its old version; a fresh database opened by two
 * processes at once is migrated once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

static const char *const tables_v1[] = {"domains", "accounts", "aliases",
					"bodies", "mailbox", "queue",
					"settings", "audit_log"};
static const char *const tables_v2[] = {"rules", "api_tokens",
					"maildrop_locks"};
static const char *const tables_v3[] = {"vacation_replies"};
static const char *const tables_v4[] = {"body_chunks"};
static const char *const tables_v6[] = {"greylist"};
static const char *const tables_v7[] = {"web_sessions"};
static const char *const tables_v8[] = {"message_trace"};

static bool has_table(struct store *st, const char *name)
{
	sqlite3_stmt *s = NULL;
	bool found = false;
	if (sqlite3_prepare_v2(store_db(st),
			       "SELECT 1 FROM sqlite_master WHERE type = 'table'"
			       " AND name = ?",
			       -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		found = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return found;
}

static void check_tables(struct store *st, int version)
{
	for (size_t i = 0; i < sizeof tables_v1 / sizeof tables_v1[0]; i++)
		CHECK(has_table(st, tables_v1[i]) == (version >= 1));
	for (size_t i = 0; i < sizeof tables_v2 / sizeof tables_v2[0]; i++)
		CHECK(has_table(st, tables_v2[i]) == (version >= 2));
	for (size_t i = 0; i < sizeof tables_v3 / sizeof tables_v3[0]; i++)
		CHECK(has_table(st, tables_v3[i]) == (version >= 3));
	for (size_t i = 0; i < sizeof tables_v4 / sizeof tables_v4[0]; i++)
		CHECK(has_table(st, tables_v4[i]) == (version >= 4));
	CHECK(has_table(st, tables_v6[0]) == (version >= 6));
	CHECK(has_table(st, tables_v7[0]) == (version >= 7));
	CHECK(has_table(st, tables_v8[0]) == (version >= 8));
}

static unsigned char pattern(int64_t i, unsigned seed)
{
	return (unsigned char)(((uint64_t)i * 7 + seed) & 0xff);
}

/*
 * Before v4 a body's bytes sat in bodies.data: store a message the way
 * that schema did, with raw SQL (the current delivery code writes v4).
 * Returns the body id.
 */
static int64_t legacy_message(struct store *st, int64_t account, int64_t size,
			      unsigned seed, uint32_t uid)
{
	sqlite3 *db = store_db(st);
	unsigned char *data = malloc((size_t)size);
	for (int64_t i = 0; i < size; i++)
		data[i] = pattern(i, seed);
	sqlite3_stmt *s = NULL;
	int64_t body = 0;
	CHECK(sqlite3_prepare_v2(db,
				 "INSERT INTO bodies (size, created, data)"
				 " VALUES (?, 1, ?)",
				 -1, &s, NULL) == SQLITE_OK);
	sqlite3_bind_int64(s, 1, size);
	sqlite3_bind_blob(s, 2, data, (int)size, SQLITE_STATIC);
	CHECK(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
	body = sqlite3_last_insert_rowid(db);
	CHECK(sqlite3_prepare_v2(db,
				 "INSERT INTO mailbox (account_id, uid, body_id,"
				 " size, received) VALUES (?, ?, ?, ?, 1)",
				 -1, &s, NULL) == SQLITE_OK);
	sqlite3_bind_int64(s, 1, account);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, body);
	sqlite3_bind_int64(s, 4, size);
	CHECK(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
	CHECK(sqlite3_prepare_v2(db,
				 "UPDATE accounts SET uidnext = ? + 1,"
				 " used_bytes = used_bytes + ? WHERE id = ?",
				 -1, &s, NULL) == SQLITE_OK);
	sqlite3_bind_int64(s, 1, uid);
	sqlite3_bind_int64(s, 2, size);
	sqlite3_bind_int64(s, 3, account);
	CHECK(sqlite3_step(s) == SQLITE_DONE);
	sqlite3_finalize(s);
	free(data);
	return body;
}

static void check_body(struct store *st, int64_t body, int64_t size,
		       unsigned seed, size_t piece)
{
	struct store_body_reader *r = NULL;
	CHECK_INT(store_body_open_by_id(st, body, &r), STORE_OK);
	if (r == NULL)
		return;
	tstore_check_pattern(r, size, seed, piece);
	store_body_close(&r);
}

static void set_user_version(const char *path, int v)
{
	sqlite3 *db = NULL;
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
}

static void test_fresh(void)
{
	struct tstore t;
	tstore_open(&t);
	CHECK_INT(store_schema_version(t.st), STORE_SCHEMA_VERSION);
	check_tables(t.st, STORE_SCHEMA_VERSION);
	CHECK_INT(store_integrity_check(t.st), STORE_OK);
	sqlite3_stmt *s = NULL;
	CHECK(sqlite3_prepare_v2(store_db(t.st), "PRAGMA page_size", -1, &s,
				 NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(s, 0), 8192);
	sqlite3_finalize(s);
	CHECK(sqlite3_prepare_v2(store_db(t.st), "PRAGMA journal_mode", -1, &s,
				 NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	CHECK(sqlite3_prepare_v2(store_db(t.st), "PRAGMA foreign_keys", -1, &s,
				 NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	CHECK(sqlite3_prepare_v2(store_db(t.st), "PRAGMA synchronous", -1, &s,
				 NULL) == SQLITE_OK);
	CHECK(sqlite3_step(s) == SQLITE_ROW);
	CHECK_INT(sqlite3_column_int(s, 0), 2); /* FULL */
	sqlite3_finalize(s);
	struct stat sb;
	CHECK(stat(t.path, &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	tstore_done(&t);
}

/* Put data in a database at version from, then open it with the current
 * code: the version is current, every table is there, the data too. */
static void test_every_older_version(void)
{
	for (int from = 0; from < STORE_SCHEMA_VERSION; from++) {
		char label[32];
		snprintf(label, sizeof label, "from v%d", from);
		test_state.label = label;
		char *dir = test_tmpdir();
		char path[512], err[256] = "";
		snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME);
		struct store *st = NULL;
		CHECK_INT(store_open_version(path, from, &st, err, sizeof err),
			  STORE_OK);
		CHECK_INT(store_schema_version(st), from);
		check_tables(st, from);
		int64_t id = 0, body[3] = {0, 0, 0};
		/* a small body, one bigger than a chunk, and an empty one */
		static const int64_t sizes[3] = {1000, 3 * STORE_BLOB_CHUNK + 5, 0};
		if (from >= 1) {
			id = tstore_account(st, "kept@old.test", 0);
			CHECK(id > 0);
			for (int i = 0; i < 3; i++) {
				if (from < 4) {
					body[i] = legacy_message(st, id, sizes[i], 1,
								 (uint32_t)i + 1);
				} else {
					int fd = tstore_message_file(dir, "m", sizes[i], 1);
					struct store_message m = {
						.fd = fd, .size = sizes[i], .sender = "",
						.local_ids = &id, .n_local = 1};
					CHECK_INT(store_deliver(st, &m, 1), STORE_OK);
					body[i] = m.body_id_r;
					close(fd);
				}
			}
			CHECK_INT(store_setting_set(st, "k", "v"), STORE_OK);
		}
		store_close(&st);

		CHECK_INT(store_open(path, &st, err, sizeof err), STORE_OK);
		CHECK_INT(store_schema_version(st), STORE_SCHEMA_VERSION);
		check_tables(st, STORE_SCHEMA_VERSION);
		CHECK_INT(store_integrity_check(st), STORE_OK);
		if (from >= 1) {
			struct store_account a;
			CHECK_INT(store_account_get(st, "kept@old.test", &a),
				  STORE_OK);
			CHECK_INT(a.id, id);
			CHECK_INT(a.messages, 3);
			CHECK_INT(a.used_bytes, sizes[0] + sizes[1]);
			char v[8];
			CHECK_INT(store_setting_get(st, "k", v, sizeof v), 0);
			CHECK_STR(v, "v");
			static const size_t pieces[] = {1, 999, 4096, 100000};
			for (int i = 0; i < 3; i++)
				for (size_t p = 0; p < 4; p++)
					check_body(st, body[i], sizes[i], 1, pieces[p]);
			/* new mail goes on from the old uids */
			int64_t nb = 0;
			CHECK_INT(tstore_deliver(st, dir, 70000, &id, 1, NULL, 0, &nb), 0);
			struct store_mailbox_entry *e = NULL;
			size_t n = 0;
			CHECK_INT(store_mailbox_snapshot(st, id, &e, &n), 0);
			CHECK_INT(n, 4);
			if (n == 4) {
				CHECK_INT(e[3].uid, 4);
				/* old and new bodies delete alike, chunks too */
				int64_t del[2] = {e[1].id, e[3].id};
				CHECK_INT(store_mailbox_delete(st, id, del, 2), 0);
			}
			free(e);
			CHECK_INT(tstore_count(st, "bodies"), 2);
			CHECK_INT(tstore_count(st, "body_chunks"), 1);
			/* a v2 feature works on the migrated data */
			CHECK_INT(store_maildrop_lock(st, id, getpid(), 1, 60),
				  STORE_OK);
		}
		store_close(&st);
		test_rmtree(dir);
		free(dir);
	}
}

static void test_newer_refused(void)
{
	struct tstore t;
	tstore_open(&t);
	CHECK_INT(store_domain_add(t.st, "future.test"), STORE_OK);
	store_close(&t.st);
	set_user_version(t.path, STORE_SCHEMA_VERSION + 1);
	char err[256] = "";
	struct store *st = NULL;
	CHECK_INT(store_open(t.path, &st, err, sizeof err), STORE_INVALID);
	CHECK(st == NULL);
	CHECK(strstr(err, "newer") != NULL);
	/* untouched: back at our version it opens with its data */
	set_user_version(t.path, STORE_SCHEMA_VERSION);
	CHECK_INT(store_open(t.path, &t.st, err, sizeof err), STORE_OK);
	CHECK_INT(store_domain_exists(t.st, "future.test"), 1);
	tstore_done(&t);
}

/* A step that fails half way leaves the database as it was. */
static void test_failed_step_rolls_back(void)
{
	char *dir = test_tmpdir();
	char path[512], err[256] = "";
	snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME);
	struct store *st = NULL;
	CHECK_INT(store_open_version(path, 1, &st, err, sizeof err), STORE_OK);
	CHECK_INT(store_domain_add(st, "v1.test"), STORE_OK);
	/* a table in the way of step 2's second CREATE */
	CHECK(sqlite3_exec(store_db(st), "CREATE TABLE api_tokens (x)", NULL,
			   NULL, NULL) == SQLITE_OK);
	store_close(&st);
	CHECK(store_open(path, &st, err, sizeof err) != STORE_OK);
	CHECK(strstr(err, "1 -> 2") != NULL);
	CHECK_INT(store_open_version(path, 1, &st, err, sizeof err), STORE_OK);
	CHECK_INT(store_schema_version(st), 1);
	CHECK(!has_table(st, "rules")); /* step 2's first CREATE undone */
	CHECK_INT(store_domain_exists(st, "v1.test"), 1);
	store_close(&st);
	test_rmtree(dir);
	free(dir);
}

static void test_concurrent_first_open(void)
{
	char *dir = test_tmpdir();
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, STORE_DB_NAME);
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			char err[256];
			struct store *st = NULL;
			int rc = store_open(path, &st, err, sizeof err);
			if (rc == STORE_OK &&
			    store_schema_version(st) != STORE_SCHEMA_VERSION)
				rc = 99;
			store_close(&st);
			if (rc != STORE_OK)
				fprintf(stderr, "child open: %d %s\n", rc, err);
			_exit(rc == STORE_OK ? 0 : 1);
		}
	}
	for (int i = 0; i < 4; i++)
		CHECK_INT(tstore_wait(kids[i]), 0);
	struct store *st = NULL;
	char err[256];
	CHECK_INT(store_open(path, &st, err, sizeof err), STORE_OK);
	CHECK_INT(store_integrity_check(st), STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	free(dir);
}

static void test_bad_paths(void)
{
	char err[256] = "";
	struct store *st = NULL;
	CHECK(store_open("/nonexistent-dir/x/mailroom.db", &st, err,
			 sizeof err) != STORE_OK);
	CHECK(st == NULL);
	CHECK(err[0] != '\0');
	/* a file that is not a database */
	char *dir = test_tmpdir();
	char path[512];
	snprintf(path, sizeof path, "%s/junk.db", dir);
	FILE *f = fopen(path, "w");
	fputs("this is not an SQLite database, it is a text file ......\n", f);
	fclose(f);
	CHECK(store_open(path, &st, err, sizeof err) != STORE_OK);
	CHECK(st == NULL);
	test_rmtree(dir);
	free(dir);
}

TEST_SUITE(migrate, {"fresh", test_fresh},
	   {"every_older_version", test_every_older_version},
	   {"newer_refused", test_newer_refused},
	   {"failed_step_rolls_back", test_failed_step_rolls_back},
	   {"concurrent_first_open", test_concurrent_first_open},
	   {"bad_paths", test_bad_paths});
