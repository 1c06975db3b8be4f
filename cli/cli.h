/*
 * cli.h - what the mailroomctl verbs share: the parsed config, a store
 * opened on first use, and one way to report a user error.
 *
 * Every verb is `int verb(struct cli *cli, int argc, char **argv)` with
 * argv[0] the verb's own name; it returns the process exit status: 0 on
 * success, 1 after printing exactly one line on stderr (cli_fail).
 */
#ifndef MAILROOM_CLI_H
#define MAILROOM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/config.h"
#include "../store/store.h"

struct cli {
	struct config cfg;
	struct store *store; /* opened by cli_store() */
	const char *actor;   /* for the audit log: "cli:<unix user>" */
	char actor_buf[96];
};

/* Print "mailroomctl: <message>" on stderr; returns 1 (the exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The store, opened (and migrated) on first use; NULL after cli_fail. */
struct store *cli_store(struct cli *cli);
/* Map a store error to one line and exit status 1. what names the object. */
int cli_store_fail(struct cli *cli, int rc, const char *what);
/* Normalised address / domain, or cli_fail and -1. */
int cli_address(const char *in, char *out, size_t outlen);
int cli_domain(const char *in, char *out, size_t outlen);
/* "1048576", "100K", "25M", "2G" -> bytes; -1 on bad input. */
int64_t cli_parse_size(const char *s);
/* One password line from stdin (no echo on a terminal), without the
 * newline. 0, or cli_fail and 1. */
int cli_read_password(char *dst, size_t dstlen);
/* A random password of 20 characters from an unambiguous alphabet. */
int cli_random_password(char *dst, size_t dstlen);
void cli_audit(struct cli *cli, const char *action, const char *detail);

int cli_init_main(struct cli *cli, int argc, char **argv);
int cli_domain_main(struct cli *cli, int argc, char **argv);
int cli_user_main(struct cli *cli, int argc, char **argv);
int cli_alias_main(struct cli *cli, int argc, char **argv);
int cli_queue_main(struct cli *cli, int argc, char **argv);
int cli_backup_main(struct cli *cli, int argc, char **argv);
int cli_restore_main(struct cli *cli, int argc, char **argv);
int cli_token_main(struct cli *cli, int argc, char **argv); /* token.c */

#endif
