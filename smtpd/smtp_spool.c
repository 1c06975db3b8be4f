/*
 * smtp_spool.c - the spool file pool (see smtp_spool.h).
 */
#include "smtp_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int smtp_spool_init(struct smtp_spool_pool *p, const char *data_dir, char *err,
		    size_t errlen)
{
	p->n = 0;
	int n = snprintf(p->dir, sizeof(p->dir), "%s/spool", data_dir);
	if (n < 0 || (size_t)n >= sizeof(p->dir)) {
		snprintf(err, errlen, "data_dir too long");
		return -1;
	}
	if ((mkdir(p->dir, 0700) < 0 && errno != EEXIST) || chmod(p->dir, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", p->dir, strerror(errno));
		return -1;
	}
	return 0;
}

void smtp_spool_close_all(struct smtp_spool_pool *p)
{
	while (p->n > 0)
		close(p->fds[--p->n]);
}

int smtp_spool_take(struct smtp_spool_pool *p)
{
	if (p->n > 0)
		return p->fds[--p->n];
	int fd = open(p->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* No O_TMPFILE on this filesystem: a named file, unlinked now. */
		char path[sizeof(p->dir) + 16];
		snprintf(path, sizeof(path), "%s/msg.XXXXXX", p->dir);
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	return fd;
}

void smtp_spool_give(struct smtp_spool_pool *p, int fd, int64_t used)
{
	if (fd < 0)
		return;
	if (p->n == SMTP_SPOOL_POOL_MAX ||
	    (used > SMTP_SPOOL_KEEP_BYTES && ftruncate(fd, 0) < 0) ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return;
	}
	p->fds[p->n++] = fd;
}
