/*
 * queue_read.h - one read snapshot around many reads (mailroom-queued).
 *
 * Every SQLite read outside a transaction is a transaction of its own:
 * shared-memory locks taken and dropped, the WAL index checked. The queue
 * runner reads a hundred bodies in a row when it makes a job (the 8-bit
 * scan and the DKIM hash); inside one read transaction they share one
 * snapshot and one set of locks. Only for reads: no write may happen in
 * between (store_tx_begin refuses while it is open).
 */
#ifndef MAILROOM_STORE_QUEUE_READ_H
#define MAILROOM_STORE_QUEUE_READ_H

#include "store.h"

/* STORE_OK, or STORE_INVALID when a transaction is already open. */
int store_read_begin(struct store *st);
/* Ends the snapshot (a no-op when none is open). */
void store_read_end(struct store *st);

#endif
