/*
 * test_store_util.c - helpers shared by the store's test suites.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

/* openssl passwd -5 -salt tstoresalt0 secret (SHA-256 crypt: fast). */
const char tstore_hash[] =
	"$5$tstoresalt0$xYDNSgIckQoP55x288cmYbS9piMIGo.FpOp7dFOnhU3";

void tstore_open(struct tstore *t)
{
	char err[256] = "";
	memset(t, 0, sizeof *t);
	t->dir = test_tmpdir();
	snprintf(t->path, sizeof t->path, "%s/%s", t->dir, STORE_DB_NAME);
	int rc = store_open(t->path, &t->st, err, sizeof err);
	if (rc != STORE_OK)
		fprintf(stderr, "store_open: %s\n", err);
	CHECK_INT(rc, STORE_OK);
}

void tstore_done(struct tstore *t)
{
	store_close(&t->st);
	test_rmtree(t->dir);
	free(t->dir);
	t->dir = NULL;
}

int64_t tstore_account(struct store *st, const char *address, int64_t quota)
{
	const char *domain = strchr(address, '@') + 1;
	if (store_domain_exists(st, domain) == 0)
		CHECK_INT(store_domain_add(st, domain), STORE_OK);
	int rc = store_account_add(st, address, tstore_hash, STORE_ROLE_USER,
				   "", quota);
	CHECK_INT(rc, STORE_OK);
	if (rc != STORE_OK)
		fprintf(stderr, "account add: %s\n", store_errmsg(st));
	struct store_account a;
	if (store_account_get(st, address, &a) != STORE_OK)
		return 0;
	return a.id;
}

void tstore_settings(struct store *st, const char *const *kv)
{
	for (; kv[0] != NULL; kv += 2) {
		int rc = store_setting_set(st, kv[0], kv[1]);
		CHECK(rc == 0);
		if (rc != 0)
			fprintf(stderr, "setting %s: %s\n", kv[0], store_errmsg(st));
	}
}

void tstore_check_pattern(struct store_body_reader *r, int64_t size,
			  unsigned seed, size_t piece)
{
	CHECK_INT(store_body_size(r), size);
	unsigned char *buf = malloc(piece);
	int64_t off = 0;
	bool same = true;
	ssize_t n;
	while ((n = store_body_read(r, buf, piece)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (unsigned char)(((uint64_t)(off + i) * 7 + seed) & 0xff))
				same = false;
		off += n;
	}
	CHECK_INT(n, 0);
	CHECK_INT(off, size);
	CHECK(same);
	free(buf);
}

int tstore_message_file(const char *dir, const char *name, int64_t size,
			unsigned seed)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	unsigned char buf[8192];
	for (int64_t off = 0; off < size;) {
		size_t n = sizeof buf;
		if ((int64_t)n > size - off)
			n = (size_t)(size - off);
		for (size_t i = 0; i < n; i++)
			buf[i] = (unsigned char)(((uint64_t)(off + (int64_t)i) * 7 + seed) & 0xff);
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
		off += (int64_t)n;
	}
	return fd;
}

int tstore_deliver(struct store *st, const char *dir, int64_t size,
		   const int64_t *ids, size_t n, const char *const *remote,
		   size_t n_remote, int64_t *body_id_r)
{
	int fd = tstore_message_file(dir, "msg", size, 1);
	if (fd < 0)
		return STORE_ERROR;
	struct store_message m = {
		.fd = fd,
		.size = size,
		.sender = "sender@remote.test",
		.local_ids = ids,
		.n_local = n,
		.remote = remote,
		.n_remote = n_remote,
	};
	int rc = store_deliver(st, &m, 1);
	close(fd);
	if (body_id_r)
		*body_id_r = m.body_id_r;
	return rc;
}

int64_t tstore_count(struct store *st, const char *table)
{
	static const char *const sql[][2] = {
		{"bodies", "SELECT count(*) FROM bodies"},
		{"body_chunks", "SELECT count(*) FROM body_chunks"},
		{"mailbox", "SELECT count(*) FROM mailbox"},
		{"queue", "SELECT count(*) FROM queue"},
		{"accounts", "SELECT count(*) FROM accounts"},
		{"domains", "SELECT count(*) FROM domains"},
		{"aliases", "SELECT count(*) FROM aliases"},
		{"settings", "SELECT count(*) FROM settings"},
		{"maildrop_locks", "SELECT count(*) FROM maildrop_locks"},
	};
	for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
		if (strcmp(sql[i][0], table) != 0)
			continue;
		sqlite3_stmt *s = NULL;
		int64_t n = -1;
		if (sqlite3_prepare_v2(store_db(st), sql[i][1], -1, &s, NULL) ==
			    SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
		return n;
	}
	return -1;
}

int tstore_wait(pid_t pid)
{
	int status = 0;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}
