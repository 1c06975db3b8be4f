/*
 * startup.h - the first steps every Mailroom daemon takes: `-c FILE` and
 * `-h` on the command line, the config loaded and validated, the log open.
 *
 * One place, so every daemon answers a bad command line, a missing file or
 * an unknown key the same way: one line on stderr and exit status 1.
 */
#ifndef MAILROOM_STARTUP_H
#define MAILROOM_STARTUP_H

#include "config.h"

struct startup_program {
	const char *name;    /* "mailroom-pop3d": in usage and messages */
	const char *ident;   /* log ident ("pop3d", "mailroom-smtpd"...) */
	const char *summary; /* what it serves, for -h; may be NULL */
};

/*
 * Parse argv, load the config into cfg (config_defaults first) and open
 * the log at the configured level. Returns -1 when main should go on,
 * else the exit status main should return: 0 after -h, 1 after a usage
 * or config error (already printed).
 */
int startup_config(int argc, char **argv, const struct startup_program *prog,
		   struct config *cfg) __attribute__((warn_unused_result));

#endif
