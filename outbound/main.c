/*
 * main.c - mailroom-queued: Mailroom's outbound delivery daemon.
 *
 *   mailroom-queued [-c FILE] [-h]
 *
 * Why a daemon of its own and not a module of mailroom-smtpd: the outbound
 * SMTP client connects to untrusted remote servers and parses whatever
 * they send back. In its own process (as OpenSMTPD's mta and Postfix's
 * smtp/qmgr are) a bug there cannot touch the MX's memory, and it runs with
 * its own privileges. It needs nothing from smtpd: it finds work by polling
 * the store's queue (store_queue_due, indexed on next_attempt) about once a
 * second, and learns of each finished job at once to poll again.
 *
 * Everything but this file is liboutbound (outbound/README.md has the
 * map). Exit 0 after SIGTERM/SIGINT (deliveries in flight are dropped;
 * their rows stay due and go again at the next start: at least once), 1
 * with one line for a bad config or an unusable store.
 */
#include <ares.h>
#include <errno.h>
#include <event2/event.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/startup.h"
#include "../common/log.h"
#include "../common/privdrop.h"
#include "../store/store.h"
#include "outbound.h"

static int drop_privileges(const struct config *cfg)
{
	/* common/privdrop.c: checked drop; no port to bind, so no capability. */
	char err[CONFIG_ERROR_MAX];
	if (privdrop_apply_flags(cfg, PRIVDROP_NO_BIND, err, sizeof err) != 0) {
		log_error("event=startup-failed error=\"%s\"", err);
		return -1;
	}
	return 0;
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("event=shutdown signal=%d", (int)sig);
	event_base_loopbreak(arg);
}

static int run(struct config *cfg)
{
	char path[CONFIG_PATH_MAX], err[512];
	if (config_db_path(cfg, path, sizeof path) != 0) {
		log_error("event=startup-failed error=\"data_dir too long\"");
		return 1;
	}
	if (drop_privileges(cfg) < 0)
		return 1;
	struct store *st = NULL;
	if (store_open(path, &st, err, sizeof err) != STORE_OK) {
		log_error("event=startup-failed error=\"store: %s\"", err);
		return 1;
	}
	int status = 1;
	struct event_base *base = event_base_new();
	struct event *sig_term = NULL, *sig_int = NULL;
	struct ob_runner *r = NULL;
	if (base == NULL) {
		log_error("event=startup-failed error=\"event_base_new\"");
		goto out;
	}
	sig_term = evsignal_new(base, SIGTERM, on_term, base);
	sig_int = evsignal_new(base, SIGINT, on_term, base);
	if (!sig_term || !sig_int || evsignal_add(sig_term, NULL) ||
	    evsignal_add(sig_int, NULL)) {
		log_error("event=startup-failed error=\"signal setup\"");
		goto out;
	}
	struct ob_runner_params p = {
		.cfg = cfg,
		.base = base,
		.store = st,
		.lifetime = cfg->queue_lifetime,
		.delay_warning = cfg->queue_delay_warning,
		.max_sessions = cfg->queue_max_connections,
		.max_per_dest = cfg->queue_max_per_destination,
		.max_msgs_per_conn = cfg->queue_max_messages_per_connection,
		.smarthost_ca = cfg->smarthost_ca,
	};
	if ((r = ob_runner_new(&p, err, sizeof err)) == NULL) {
		log_error("event=startup-failed error=\"%s\"", err);
		goto out;
	}
	if (ob_runner_start(r) < 0) {
		log_error("event=startup-failed error=\"cannot start the runner\"");
		goto out;
	}
	/* The smarthost is the config file's, else the panel's (a reseller's
	 * preseed writes it there too), re-read at every queue run. */
	const char *sh = ob_runner_smarthost(r);
	log_info("event=running smarthost=%s relay_port=%d lifetime=%llds",
		 sh[0] ? sh : "-", cfg->relay_port,
		 (long long)cfg->queue_lifetime);
	event_base_dispatch(base);
	status = 0;
out:
	ob_runner_free(&r);
	if (sig_term)
		event_free(sig_term);
	if (sig_int)
		event_free(sig_int);
	if (base)
		event_base_free(base);
	store_close(&st);
	return status;
}

int main(int argc, char **argv)
{
	static const struct startup_program prog = {
		.name = "mailroom-queued",
		.ident = "mailroom-queued",
		.summary = "Delivers the outbound queue by MX or through [smtp] "
			   "smarthost.",
	};
	static struct config cfg; /* large: owned by main for the whole run */
	int status = startup_config(argc, argv, &prog, &cfg);
	if (status >= 0)
		return status;
	signal(SIGPIPE, SIG_IGN);
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		fprintf(stderr, "mailroom-queued: c-ares initialisation failed\n");
		return 1;
	}
	status = run(&cfg);
	ares_library_cleanup();
	return status;
}
