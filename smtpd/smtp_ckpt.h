/*
 * smtp_ckpt.h - the checkpoint thread: copies the store's WAL into the
 * database while the writer thread goes on committing.
 *
 * Left to SQLite, the commit that passes 1000 WAL pages (8 MB) also runs
 * the checkpoint - copying those pages into the database and fsyncing it -
 * and every session waiting on that group commit waits for it too (tens
 * of ms; with 1 MB messages every eighth commit). Here each store handle
 * of smtpd is watched (store_wal_watch): after a commit that leaves the
 * WAL at SMTP_CKPT_PAGES or more, this thread is woken and runs a PASSIVE
 * checkpoint on its own handle, which never blocks a writer. Should the WAL
 * still pass SMTP_CKPT_HARD_PAGES (the checkpoint cannot keep up), the
 * committing thread checkpoints itself, as SQLite would have.
 *
 * Durability is untouched: a commit is fsynced in the WAL before the 250;
 * checkpoints only let the WAL start over.
 */
#ifndef MAILROOM_SMTP_CKPT_H
#define MAILROOM_SMTP_CKPT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../store/store.h"

#define SMTP_CKPT_PAGES 1000       /* SQLite's own default threshold */
#define SMTP_CKPT_HARD_PAGES 8192  /* 64 MB of 8 KiB pages: journal_size_limit */

struct smtp_ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wanted;
	bool stop;
	bool started;
	struct store *st; /* this thread's own handle */
	uint64_t runs;    /* checkpoints run (under mu) */
};

/* One per watched store handle: the hook needs that handle for the
 * fallback checkpoint. */
struct smtp_ckpt_watch {
	struct store_wal_watch watch;
	struct smtp_ckpt *ckpt;
	struct store *st;
};

int smtp_ckpt_start(struct smtp_ckpt *c, const char *db_path, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
/* Watch st (any thread's handle; w must outlive it and the thread). */
void smtp_ckpt_watch(struct smtp_ckpt *c, struct smtp_ckpt_watch *w,
		     struct store *st);
/* Join the thread; call after every watched handle is closed. */
void smtp_ckpt_stop(struct smtp_ckpt *c);

#endif
