/*
 * smtp_tuning.h - timeouts, delays and per-IP limits of the SMTP daemon.
 *
 * They come from the config file's [smtp] keys (common/config.h):
 *   greeting_delay      MX-port greeting delay (early talkers)
 *   command_timeout     idle time between commands
 *   data_timeout        idle time inside DATA/BDAT
 *   tls_timeout         TLS handshake
 *   auth_failure_delay  delay per recent AUTH failure (grows, capped)
 *   max_sessions        sessions in all
 *   max_per_ip          concurrent sessions per client IP
 *   limit_loopback      apply max_per_ip to 127/8 too
 * config.c validates the ranges; this copy is what the loop reads, so a
 * SIGHUP can replace it between events.
 */
#ifndef MAILROOM_SMTP_TUNING_H
#define MAILROOM_SMTP_TUNING_H

#include <stdbool.h>

#include "../common/config.h"

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

/* The config's values (config_defaults() gives the RFC 5321 ones). */
void smtp_tuning_load(struct smtp_tuning *t, const struct config *cfg);

#endif
