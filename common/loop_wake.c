/*
 * loop_wake.c - a worker thread waking a libevent loop (see loop_wake.h).
 */
#include "loop_wake.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Loop thread: drain the counter (nonblocking), then the owner's callback. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct loop_wake *lw = arg;
	uint64_t n;
	(void)!read(fd, &n, sizeof n);
	lw->cb(lw->arg);
}

int loop_wake_open(struct loop_wake *lw, struct event_base *base,
		   void (*cb)(void *arg), void *arg, char *err, size_t errlen)
{
	lw->cb = cb;
	lw->arg = arg;
	lw->ev = NULL;
	lw->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (lw->fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	lw->ev = event_new(base, lw->fd, EV_READ | EV_PERSIST, on_readable, lw);
	if (lw->ev == NULL || event_add(lw->ev, NULL) < 0) {
		snprintf(err, errlen, "libevent: cannot watch an eventfd");
		loop_wake_close(lw);
		return -1;
	}
	return 0;
}

void loop_wake_signal(struct loop_wake *lw)
{
	uint64_t one = 1;
	/* EAGAIN (the counter is full) still leaves it readable */
	while (write(lw->fd, &one, sizeof one) < 0 && errno == EINTR)
		;
}

void loop_wake_close(struct loop_wake *lw)
{
	if (lw->ev != NULL)
		event_free(lw->ev);
	lw->ev = NULL;
	if (lw->fd >= 0)
		close(lw->fd);
	lw->fd = -1;
}
