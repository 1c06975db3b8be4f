/*
 * main.c - mailroom-webadmin: the admin panel and JSON API over HTTPS.
 *
 *   mailroom-webadmin [-c FILE]
 *
 * Reads the config, opens the store, binds [admin] listen (HTTPS) and
 * http_listen (redirect only), and serves until SIGTERM or SIGINT, then
 * stops the listeners (finishing requests in flight) and exits 0. A bad
 * config, an unreadable certificate or a taken port is one line on stderr
 * and exit 1. Signals are blocked before libmicrohttpd starts its threads
 * so only the main thread receives them (sigwait).
 *
 * Logged-in sessions and the CSRF secret are kept in the store
 * (session.h), so they outlive a restart.
 *
 * MAILROOM_WEBADMIN_SESSION_IDLE (seconds, environment) shortens the idle
 * timeout of sessions below the default 30 minutes; tests use it to see a
 * session expire. It can only shorten, never lengthen.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>

#include "../common/config.h"
#include "../common/startup.h"
#include "../common/log.h"
#include "../common/privdrop.h"
#include "server.h"
#include "web.h"

int main(int argc, char **argv)
{
	static const struct startup_program prog = {
		.name = "mailroom-webadmin",
		.ident = "mailroom-webadmin",
		.summary = "Serves the admin panel and the JSON API over HTTPS on "
			   "[admin] listen.",
	};
	static struct config cfg;
	char err[CONFIG_ERROR_MAX];
	int status = startup_config(argc, argv, &prog, &cfg);
	if (status >= 0)
		return status;
	/* Before the store, the listeners and libmicrohttpd's threads. */
	if (privdrop_apply(&cfg, err, sizeof err) != 0) {
		fprintf(stderr, "mailroom-webadmin: %s\n", err);
		return 1;
	}
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		fprintf(stderr, "mailroom-webadmin: c-ares failed to start\n");
		return 1;
	}

	char db[CONFIG_PATH_MAX];
	if (config_db_path(&cfg, db, sizeof db) != 0) {
		fprintf(stderr, "mailroom-webadmin: database path too long\n");
		return 1;
	}
	struct web_app *app = calloc(1, sizeof *app);
	if (app == NULL) {
		fprintf(stderr, "mailroom-webadmin: out of memory\n");
		return 1;
	}
	app->cfg = &cfg;
	app->started = (int64_t)time(NULL);
	if (store_open(db, &app->store, err, sizeof err) != STORE_OK) {
		fprintf(stderr, "mailroom-webadmin: %s: %s\n", db, err);
		free(app);
		return 1;
	}
	if (session_table_init(&app->sessions) != 0) {
		fprintf(stderr, "mailroom-webadmin: no random source\n");
		store_close(&app->store);
		free(app);
		return 1;
	}
	const char *idle = getenv("MAILROOM_WEBADMIN_SESSION_IDLE");
	if (idle != NULL) {
		char *end;
		long v = strtol(idle, &end, 10);
		if (*end == '\0' && v >= 1 && v < app->sessions.idle_seconds)
			app->sessions.idle_seconds = (int)v;
	}
	/* sessions and the CSRF secret live in the store: a restart keeps
	 * everyone logged in and their open forms valid */
	if (session_table_attach(&app->sessions, app->store, app->started, err,
				 sizeof err) != 0) {
		fprintf(stderr, "mailroom-webadmin: %s\n", err);
		store_close(&app->store);
		free(app);
		return 1;
	}
	pthread_mutex_init(&app->lock, NULL);
	web_cert_refresh(app, app->started);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct web_server *srv = NULL;
	if (web_server_start(app, &srv, err, sizeof err) != 0) {
		fprintf(stderr, "mailroom-webadmin: %s\n", err);
		store_close(&app->store);
		pthread_mutex_destroy(&app->lock);
		free(app);
		return 1;
	}
	log_info("webadmin: event=started pid=%ld", (long)getpid());

	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (web_server_reload(srv, err, sizeof err) == 0)
				log_info("webadmin: event=tls-reloaded");
			else
				log_error("webadmin: event=tls-reload-failed error=\"%s\"",
					  err);
			continue;
		}
		log_info("webadmin: event=stopping signal=%d", sig);
		break;
	}
	web_server_stop(&srv);
	pthread_mutex_lock(&app->lock);
	store_close(&app->store);
	pthread_mutex_unlock(&app->lock);
	pthread_mutex_destroy(&app->lock);
	explicit_bzero(app->sessions.secret, sizeof app->sessions.secret);
	free(app);
	ares_library_cleanup();
	log_info("webadmin: event=stopped");
	return 0;
}
