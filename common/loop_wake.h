/*
 * loop_wake.h - how a worker thread tells a libevent loop "your finished
 * jobs are waiting": an eventfd of our own that the loop watches.
 *
 * Why not event_active() from the thread: it takes the event base's lock
 * against the busy loop thread, and measured 3 futex calls per message
 * more than without a worker (strace -c, 20 sessions of signed mail,
 * trust/dkim_worker.c). The thread signals when its done list goes from
 * empty to not empty (one wake-up per batch); the callback runs on the
 * loop thread with the eventfd drained, and takes the whole list.
 *
 * Used by smtpd's writer, pop3d's password checks and the DKIM worker.
 */
#ifndef MAILROOM_LOOP_WAKE_H
#define MAILROOM_LOOP_WAKE_H

#include <stddef.h>

struct event_base;
struct event;

struct loop_wake {
	int fd;            /* eventfd, -1 when not open */
	struct event *ev;  /* persistent read event on fd */
	void (*cb)(void *arg);
	void *arg;
};

/* Watch a new eventfd on base; cb(arg) runs on base's thread after each
 * wake-up. 0, or -1 with the reason in err (lw left closed). */
int loop_wake_open(struct loop_wake *lw, struct event_base *base,
		   void (*cb)(void *arg), void *arg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Any thread: make cb run soon on the loop thread. Never blocks. */
void loop_wake_signal(struct loop_wake *lw);
/* Loop thread (or after the loop ended): stop watching and close.
 * Safe again on a closed wake, and on one whose open failed; a wake never
 * opened must have fd -1 (zero is a descriptor). */
void loop_wake_close(struct loop_wake *lw);

#endif
