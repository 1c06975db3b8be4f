/*
 * mr-deliver.c - test helper: put messages into one account's mailbox
 * through the store's own delivery call (store_deliver), so POP3 tests can
 * fill mailboxes without smtpd and without writing SQL behind the store's
 * back.
 *
 *   mr-deliver DB ADDRESS FILE...            one message per file ("-": stdin)
 *   mr-deliver DB ADDRESS --generate N SIZE  N distinct messages of SIZE
 *                                            octets (CRLF lines), in batches
 *   mr-deliver DB --add-users PREFIX N DOMAIN PASSWORD
 *                                            N accounts PREFIXnnnn@DOMAIN with
 *                                            one hash of PASSWORD (benchmarks:
 *                                            1,000 yescrypt hashes take a while)
 *
 * Files are delivered as they are: the caller makes them CRLF. Built by
 * tests/integration/pop3_util.py against build/libstore.a.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../store/store.h"

#define BATCH 500

static int fail(const char *what, const char *detail)
{
	fprintf(stderr, "mr-deliver: %s: %s\n", what, detail);
	return 1;
}

/* A memfd holding message i of a generated mailbox, exactly size octets. */
static int generate(long i, long size)
{
	int fd = memfd_create("msg", 0);
	if (fd < 0)
		return -1;
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "From: gen@remote.test\r\nTo: user@example.test\r\n"
			 "Subject: generated message %ld\r\n"
			 "Message-ID: <gen%ld@remote.test>\r\n\r\n",
			 i, i);
	long left = size;
	if (write(fd, head, (size_t)(n < left ? n : left)) < 0)
		return -1;
	left -= n < left ? n : left;
	char line[80];
	while (left > 0) {
		int k = snprintf(line, sizeof(line),
				 "line of message %ld padding padding padding\r\n", i);
		if (k > left) {
			/* Finish with CRLF when there is room for one. */
			memset(line, 'x', (size_t)left);
			if (left >= 2) {
				line[left - 2] = '\r';
				line[left - 1] = '\n';
			}
			k = (int)left;
		}
		if (write(fd, line, (size_t)k) < 0)
			return -1;
		left -= k;
	}
	return fd;
}

static int deliver(struct store *st, int64_t id, int *fds, size_t n)
{
	struct store_message msgs[BATCH];
	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		if (fstat(fds[i], &sb) < 0)
			return fail("fstat", strerror(errno));
		msgs[i].fd = fds[i];
		msgs[i].size = sb.st_size;
		msgs[i].sender = "test@remote.test";
		msgs[i].local_ids = &id;
		msgs[i].n_local = 1;
	}
	int rc = store_deliver(st, msgs, n);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	if (rc != STORE_OK)
		return fail("store_deliver", store_errmsg(st));
	return 0;
}

static int add_users(struct store *st, char **argv)
{
	long n = strtol(argv[4], NULL, 10);
	char hash[PASSWORD_HASH_MAX + 1];
	if (store_password_hash(argv[6], hash, sizeof(hash)) != STORE_OK)
		return fail("hash", store_errmsg(st));
	for (long i = 1; i <= n; i++) {
		char address[ADDR_MAX + 1];
		snprintf(address, sizeof(address), "%s%04ld@%s", argv[3], i, argv[5]);
		int rc = store_account_add(st, address, hash, STORE_ROLE_USER, "", 0);
		if (rc != STORE_OK && rc != STORE_EXISTS)
			return fail(address, store_errmsg(st));
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[2], "--add-users") == 0) {
		struct store *st;
		char err[512];
		if (store_open(argv[1], &st, err, sizeof(err)) != STORE_OK)
			return fail(argv[1], err);
		int rc = add_users(st, argv);
		store_close(&st);
		return rc;
	}
	if (argc < 4)
		return fail("usage", "mr-deliver DB ADDRESS FILE... | --generate N SIZE");
	struct store *st;
	char err[512];
	if (store_open(argv[1], &st, err, sizeof(err)) != STORE_OK)
		return fail(argv[1], err);
	struct store_account a;
	if (store_account_get(st, argv[2], &a) != STORE_OK)
		return fail(argv[2], "no such account");
	int fds[BATCH];
	size_t n = 0;
	int rc = 0;
	if (strcmp(argv[3], "--generate") == 0) {
		if (argc != 6)
			return fail("usage", "--generate N SIZE");
		long count = strtol(argv[4], NULL, 10);
		long size = strtol(argv[5], NULL, 10);
		for (long i = 1; i <= count && rc == 0; i++) {
			if ((fds[n++] = generate(i, size)) < 0)
				return fail("memfd", strerror(errno));
			if (n == BATCH || i == count) {
				rc = deliver(st, a.id, fds, n);
				n = 0;
			}
		}
	} else {
		for (int i = 3; i < argc && rc == 0; i++) {
			int fd = strcmp(argv[i], "-") == 0 ? dup(0)
							   : open(argv[i], O_RDONLY);
			if (fd < 0)
				return fail(argv[i], strerror(errno));
			if (strcmp(argv[i], "-") == 0) {
				/* stdin may be a pipe: copy it to a memfd. */
				int m = memfd_create("stdin", 0);
				char buf[65536];
				ssize_t k;
				while ((k = read(fd, buf, sizeof(buf))) > 0)
					if (write(m, buf, (size_t)k) != k)
						return fail("memfd", strerror(errno));
				close(fd);
				fd = m;
			}
			fds[n++] = fd;
			if (n == BATCH || i == argc - 1) {
				rc = deliver(st, a.id, fds, n);
				n = 0;
			}
		}
	}
	store_close(&st);
	return rc;
}
