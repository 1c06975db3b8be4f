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
		int64_t id = 0, body = 0;
		if (from >= 1) {
			id = tstore_account(st, "kept@old.test", 0);
			CHECK(id > 0);
			CHECK_INT(tstore_deliver(st, dir, 1000, &id, 1, NULL, 0,
						 &body),
				  STORE_OK);
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
			CHECK_INT(a.messages, 1);
			CHECK_INT(a.used_bytes, 1000);
			char v[8];
			CHECK_INT(store_setting_get(st, "k", v, sizeof v), 0);
			CHECK_STR(v, "v");
			struct store_body_reader *r = NULL;
			CHECK_INT(store_body_open_by_id(st, body, &r), STORE_OK);
			if (r)
				CHECK_INT(store_body_size(r), 1000);
			store_body_close(&r);
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
