/*
 * main.c - mailroom-smtpd: the office's MX (25), submission (587) and
 * implicit-TLS submission (465) server.
 *
 * Reads -c FILE, sets up logging, raises the descriptor limit (one per
 * session), optionally drops root after binding, and runs the event loop
 * (smtp_server.c) until SIGTERM. Exit 0 after a clean stop, 1 with one
 * line on stderr when the config or a port is wrong.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/startup.h"
#include "../common/log.h"
#include "../common/privdrop.h"
#include "smtp_server.h"

/* One descriptor per session: take the hard limit. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("event=rlimit-nofile error=\"%s\"", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static const struct startup_program prog = {
		.name = "mailroom-smtpd",
		.ident = "mailroom-smtpd",
		.summary = "Serves SMTP on [smtp] listen (MX), submission_listen "
			   "(STARTTLS + AUTH) and smtps_listen (implicit TLS).",
	};
	static struct config cfg;
	char err[CONFIG_ERROR_MAX];
	int status = startup_config(argc, argv, &prog, &cfg);
	if (status >= 0)
		return status;
	raise_nofile();
	/* Before the store and the listeners: they are opened as [server] user. */
	if (privdrop_apply(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailroom-smtpd: %s\n", err);
		return 1;
	}
	char serr[1024];
	int rc = smtp_server_run(&cfg, serr, sizeof(serr));
	if (rc != 0) {
		fprintf(stderr, "mailroom-smtpd: %s\n", serr);
		return 1;
	}
	return 0;
}
