/*
 * smtp_spool.h - the files DATA streams into, kept in a small pool.
 *
 * A spool file is an unnamed file (O_TMPFILE) in <data_dir>/spool (0700):
 * it has no name, so a crash or SIGKILL leaves nothing behind and no other
 * process can open it. Making a new inode per message costs more than the
 * message itself on ext4, so files are reused: one is taken when DATA
 * starts and given back when the message is refused or committed, rewound
 * (and truncated when it grew past SMTP_SPOOL_KEEP_BYTES). The store reads
 * exactly the message's size with pread, so older bytes past it are never
 * read. Loop thread only.
 */
#ifndef MAILROOM_SMTP_SPOOL_H
#define MAILROOM_SMTP_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/limits.h"

#define SMTP_SPOOL_POOL_MAX 256
#define SMTP_SPOOL_KEEP_BYTES (1024 * 1024)

struct smtp_spool_pool {
	char dir[CONFIG_PATH_MAX + 16];
	int fds[SMTP_SPOOL_POOL_MAX];
	size_t n;
};

/* Create dir (0700) if needed; 0, or -1 with the reason in err. */
int smtp_spool_init(struct smtp_spool_pool *p, const char *data_dir, char *err,
		    size_t errlen) __attribute__((warn_unused_result));
void smtp_spool_close_all(struct smtp_spool_pool *p);
/* A file positioned at offset 0, or -1 (errno set). */
int smtp_spool_take(struct smtp_spool_pool *p);
/* Return fd; used is how many bytes this message wrote. */
void smtp_spool_give(struct smtp_spool_pool *p, int fd, int64_t used);

#endif
