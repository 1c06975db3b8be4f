/*
 * preseed.h - a reseller's first-start settings (/etc/mailroom/preseed.conf)
 * and the verbs that use them: `mailroomctl preseed apply|show [FILE]` and
 * `mailroomctl factory-reset --yes` (packaging/README.md has the story).
 *
 * Settings written (keys the web panel and the queue read):
 *   branding.product_name, branding.logo, branding.support
 *   smarthost.host, smarthost.user, smarthost.password
 *   preseed.applied (unix time; its presence means "never again"),
 *   preseed.admin (the first admin's address)
 */
#ifndef MAILROOM_CLI_PRESEED_H
#define MAILROOM_CLI_PRESEED_H

#include <stdbool.h>

#include "cli.h"

#define PRESEED_DEFAULT_PATH "/etc/mailroom/preseed.conf"
#define PRESEED_APPLIED_KEY "preseed.applied"

int cli_preseed_main(struct cli *cli, int argc, char **argv);
int cli_factory_reset_main(struct cli *cli, int argc, char **argv);

/*
 * Apply path to the open store of cli when the box is empty and the flag
 * is not set. Missing file: a note, 0. Returns the exit status (0, or 1
 * after cli_fail). Used by `preseed apply` and by factory-reset.
 */
int cli_preseed_apply(struct cli *cli, const char *path);

#endif
