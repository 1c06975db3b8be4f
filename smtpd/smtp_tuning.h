/*
 * smtp_tuning.h - timeouts, delays and per-IP limits of the SMTP daemon.
 *
 * Defaults come from smtp_limits.h. The config file has no keys for these
 * (common/config.h is shared); tests and benchmarks change them through
 * the environment:
 *   MAILROOM_SMTPD_GREETING_DELAY_MS  MX-port greeting delay (early talkers)
 *   MAILROOM_SMTPD_COMMAND_TIMEOUT_MS idle time between commands
 *   MAILROOM_SMTPD_DATA_TIMEOUT_MS    idle time inside DATA
 *   MAILROOM_SMTPD_MAX_PER_IP         concurrent sessions per client IP
 *   MAILROOM_SMTPD_LIMIT_LOOPBACK     1: apply the per-IP limit to 127/8 too
 *   MAILROOM_SMTPD_AUTH_DELAY_MS      delay per recent AUTH failure
 *   MAILROOM_SMTPD_MAX_SESSIONS       sessions in all
 */
#ifndef MAILROOM_SMTP_TUNING_H
#define MAILROOM_SMTP_TUNING_H

#include <stdbool.h>

struct smtp_tuning {
	long greeting_delay_ms;
	long command_timeout_ms;
	long data_timeout_ms;
	long tls_handshake_timeout_ms;
	long max_per_ip;
	bool limit_loopback;
	long auth_delay_ms;
	long auth_delay_max_ms;
	long max_sessions;
};

/* Defaults, then the environment; a malformed value keeps the default and
 * is reported once in the log. */
void smtp_tuning_load(struct smtp_tuning *t);

#endif
