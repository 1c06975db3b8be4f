/*
 * privdrop.h - leave root before a daemon touches the network.
 *
 * Under systemd the units start every daemon as User=mailroom with
 * AmbientCapabilities=CAP_NET_BIND_SERVICE, so nothing here runs. Started
 * by hand (or by an init without User=) as root, a daemon calls
 * privdrop_apply() from main() before it opens its store or listeners and
 * ends up in the very same state: the [server] user's uid, gid and no
 * supplementary groups, holding CAP_NET_BIND_SERVICE only when one of its
 * listen addresses has a port below 1024 (binding happens after the drop,
 * so the store's files and the WAL are created by the user who will later
 * write them, never by root).
 *
 * The rule when running as root (written down in packaging/README.md):
 *   [server] user = NAME    switch to NAME, check it took, or exit 1.
 *   [server] user = root    refused: exit 1.
 *   no user, and the config is the installed one (/etc/mailroom/...) or
 *   data_dir is under /var/lib/mailroom
 *                           refused: exit 1 ("set [server] user").
 *   no user, any other config (make run, tests on loopback)
 *                           runs on as root with a loud warning on stderr
 *                           and in the log at every start.
 * Not root: nothing changes (a user who may not switch users cannot).
 */
#ifndef MAILROOM_PRIVDROP_H
#define MAILROOM_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Do not keep CAP_NET_BIND_SERVICE even when a configured port is < 1024
 * (mailroom-queued binds nothing). */
#define PRIVDROP_NO_BIND 0x1u

/*
 * Apply the rule above. 0 when the process may go on (dropped, not root,
 * or dev root with the warning); -1 with one line in err when it must
 * exit. On 0 after a drop, getuid/geteuid/getgid/getegid are the user's,
 * setuid(0) fails and no_new_privs is set.
 */
int privdrop_apply(const struct config *cfg, char *err, size_t errlen)
	__attribute__((warn_unused_result));
int privdrop_apply_flags(const struct config *cfg, unsigned flags, char *err,
			 size_t errlen) __attribute__((warn_unused_result));

/*
 * Give up every remaining capability (CAP_NET_BIND_SERVICE after the
 * listeners are bound). 0, or -1 when the kernel refused. Optional: a
 * daemon that keeps the capability can only bind more low ports.
 */
int privdrop_release(void) __attribute__((warn_unused_result));

/* True when any listener in cfg has a port below 1024. */
bool privdrop_needs_low_ports(const struct config *cfg);

#endif
