/*
 * test_store_util.h - helpers the store's test suites share: a fresh store
 * in a temp dir, a message file of a given size and the check of what a
 * body reader gives back, settings, child processes.
 */
#ifndef MAILROOM_TEST_STORE_UTIL_H
#define MAILROOM_TEST_STORE_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "../../store/store.h"

struct tstore {
	char *dir;
	char path[512];
	struct store *st;
};

/* A new temp dir with an open, migrated store in it (CHECKs on failure). */
void tstore_open(struct tstore *t);
/* Close the store and remove the dir. */
void tstore_done(struct tstore *t);

/* A cheap valid hash for tests that do not test passwords ($5$, fixed). */
extern const char tstore_hash[];

/* Add domain and an account in it; returns the account id (0 on error). */
int64_t tstore_account(struct store *st, const char *address, int64_t quota);

/* Write a file of size bytes in dir whose byte i is (i * 7 + seed) & 0xff;
 * returns an fd open for reading (-1 on error). */
int tstore_message_file(const char *dir, const char *name, int64_t size,
			unsigned seed);
/* Read r to its end, piece octets at a time, and CHECK it gave size octets
 * (store_body_size too) of tstore_message_file's pattern for seed; r stays
 * open for the caller's own checks. */
void tstore_check_pattern(struct store_body_reader *r, int64_t size,
			  unsigned seed, size_t piece);
/* Deliver one message of size bytes from a temp file to local ids. */
int tstore_deliver(struct store *st, const char *dir, int64_t size,
		   const int64_t *ids, size_t n, const char *const *remote,
		   size_t n_remote, int64_t *body_id_r);

/* Write the settings in kv, "key", "value" pairs ended by NULL, each
 * write CHECKed: the "set" step of every settings test. */
void tstore_settings(struct store *st, const char *const *kv);

/* Count rows of table (one of a fixed list) with the raw connection. */
int64_t tstore_count(struct store *st, const char *table);

/* Wait for pid and return its exit status (-1 if it did not exit). */
int tstore_wait(pid_t pid);

#endif
