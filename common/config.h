/*
 * config.h - the INI config file every Mailroom program reads (-c FILE).
 *
 * Parsing uses inih; this module validates. Every key is known, typed and
 * checked here: an unknown section or key, a bad value or a missing file is
 * one line such as
 *   mailroom.conf:12: unknown key 'lisen' in [smtp]
 * returned in error_r, and the program exits 1 with it. Unset keys keep the
 * defaults config_defaults() sets. Values are copied into fixed arrays sized
 * from limits.h; one that does not fit is an error, never truncated.
 *
 * Syntax: `key = value`, `#` or `;` comment lines, an inline comment after
 * " ;" (inih's rule), leading blanks ignored, CRLF accepted. A key set twice
 * in the file is an error. Numbers are decimal; message_size_limit takes
 * bytes or a K / M suffix (binary); booleans are yes/no, true/false, on/off,
 * 1/0. tls_cert and tls_key default to <data_dir>/tls/{cert,key}.pem using
 * the data_dir the file sets. On error the struct passed in is unchanged.
 *
 * Keys (ARCHITECTURE.md is the reference, README the user's copy):
 *   [server] hostname, data_dir, tls_cert, tls_key, log_level, user
 *   [smtp]   listen, submission_listen, smtps_listen, message_size_limit,
 *            max_recipients, relay_port, smarthost, smarthost_user,
 *            smarthost_password, dns_servers, greeting_delay,
 *            command_timeout, data_timeout, tls_timeout,
 *            auth_failure_delay, max_sessions, max_per_ip, limit_loopback
 *   [pop3]   listen, pop3s_listen, allow_plaintext_auth, idle_timeout
 *   [admin]  listen, http_listen
 *   [queue]  lifetime, max_connections, max_per_destination,
 *            max_messages_per_connection, delay_warning, smarthost_ca,
 *            account_hourly_limit
 * Durations (timeouts, delays) take ms, s, m or h; a bare number is seconds.
 *   [dkim]   selector
 */
#ifndef MAILROOM_CONFIG_H
#define MAILROOM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "limits.h"
#include "log.h"

#define CONFIG_DEFAULT_PATH "/etc/mailroom/mailroom.conf"
#define CONFIG_ERROR_MAX 512

struct config {
	char path[CONFIG_PATH_MAX]; /* the file read, for messages */

	/* [server] */
	char hostname[HOSTNAME_MAX + 1];
	char data_dir[CONFIG_PATH_MAX];
	char tls_cert[CONFIG_PATH_MAX]; /* default: <data_dir>/tls/cert.pem */
	char tls_key[CONFIG_PATH_MAX];  /* default: <data_dir>/tls/key.pem */
	enum log_level log_level;
	char user[64]; /* drop to this user when started as root */

	/* [smtp] */
	char smtp_listen[CONFIG_VALUE_MAX];
	char submission_listen[CONFIG_VALUE_MAX];
	char smtps_listen[CONFIG_VALUE_MAX];
	int64_t message_size_limit; /* bytes */
	int max_recipients;
	int relay_port;
	char smarthost[CONFIG_VALUE_MAX]; /* host:port, empty = deliver by MX */
	char smarthost_user[ADDR_MAX + 1];
	char smarthost_password[PASSWORD_MAX + 1];
	char dns_servers[CONFIG_VALUE_MAX]; /* ADDR:PORT,... empty = system */
	int64_t smtp_greeting_delay_ms;  /* MX port only: early talkers */
	int64_t smtp_command_timeout_ms; /* idle between commands */
	int64_t smtp_data_timeout_ms;    /* idle inside DATA/BDAT */
	int64_t smtp_tls_timeout_ms;     /* TLS handshake */
	int64_t smtp_auth_delay_ms;      /* per recent AUTH failure */
	int smtp_max_sessions;           /* sessions in all */
	int smtp_max_per_ip;             /* concurrent sessions per client IP */
	bool smtp_limit_loopback;        /* apply max_per_ip to 127/8 too */

	/* [pop3] */
	char pop3_listen[CONFIG_VALUE_MAX];
	char pop3s_listen[CONFIG_VALUE_MAX];
	bool pop3_allow_plaintext_auth; /* off: only TLS or loopback */
	int64_t pop3_idle_timeout_ms;   /* default 10 minutes (RFC 1939) */

	/* [admin] */
	char admin_listen[CONFIG_VALUE_MAX];      /* HTTPS */
	char admin_http_listen[CONFIG_VALUE_MAX]; /* plain HTTP, redirects */

	/* [queue] (mailroom-queued, outbound/) */
	int queue_lifetime;             /* seconds before a deferred message bounces */
	int queue_max_connections;      /* outbound connections at once */
	int queue_max_per_destination;  /* ... to one domain or the smarthost */
	int queue_max_messages_per_connection;
	int queue_delay_warning;        /* seconds; 0 = no delay warnings */
	char smarthost_ca[CONFIG_PATH_MAX]; /* extra CA file for the smarthost */
	int queue_account_hourly_limit; /* messages an account may send out
					   per hour before it is suspended;
					   0 = no limit */

	/* [dkim] keys are <data_dir>/dkim/<domain>.pem */
	char dkim_selector[64]; /* DNS label: <selector>._domainkey.<domain> */
};

/* Production defaults (ports 25, 587, 465, 110, 995, 443). */
void config_defaults(struct config *cfg);
/*
 * Read path into cfg (which config_defaults() has filled). 0 on success;
 * -1 with one line "FILE:LINE: what is wrong" in err (size CONFIG_ERROR_MAX).
 */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Same as config_load but from a string (tests, fuzzing); name is for messages. */
int config_load_string(struct config *cfg, const char *name, const char *text,
		       char *err, size_t errlen) __attribute__((warn_unused_result));
/* Path of the store database: <data_dir>/mailroom.db (dst size CONFIG_PATH_MAX). */
int config_db_path(const struct config *cfg, char *dst, size_t dstlen)
	__attribute__((warn_unused_result));

#endif
