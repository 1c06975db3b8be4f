/*
 * smtp_tuning.c - read the MAILROOM_SMTPD_* environment overrides once at
 * startup (see smtp_tuning.h for the list and why they are not config keys).
 */
#include "smtp_tuning.h"

#include <errno.h>
#include <stdlib.h>

#include "../common/log.h"
#include "smtp_limits.h"

static void env_long(const char *name, long *v, long min, long max)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return;
	char *end;
	errno = 0;
	long x = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max) {
		log_warn("event=bad-tuning name=%s (kept %ld)", name, *v);
		return;
	}
	*v = x;
}

void smtp_tuning_load(struct smtp_tuning *t)
{
	t->greeting_delay_ms = SMTP_GREETING_DELAY_MS;
	t->command_timeout_ms = SMTP_COMMAND_TIMEOUT_MS;
	t->data_timeout_ms = SMTP_DATA_TIMEOUT_MS;
	t->tls_handshake_timeout_ms = SMTP_TLS_HANDSHAKE_TIMEOUT_MS;
	t->max_per_ip = SMTP_MAX_PER_IP;
	t->limit_loopback = false;
	t->auth_delay_ms = SMTP_AUTH_DELAY_MS;
	t->auth_delay_max_ms = SMTP_AUTH_DELAY_MAX_MS;
	t->max_sessions = SMTP_MAX_SESSIONS;
	long loop = 0;
	env_long("MAILROOM_SMTPD_GREETING_DELAY_MS", &t->greeting_delay_ms, 0, 60000);
	env_long("MAILROOM_SMTPD_COMMAND_TIMEOUT_MS", &t->command_timeout_ms, 100, 3600000);
	env_long("MAILROOM_SMTPD_DATA_TIMEOUT_MS", &t->data_timeout_ms, 100, 3600000);
	env_long("MAILROOM_SMTPD_TLS_TIMEOUT_MS", &t->tls_handshake_timeout_ms, 100, 600000);
	env_long("MAILROOM_SMTPD_MAX_PER_IP", &t->max_per_ip, 1, 1000000);
	env_long("MAILROOM_SMTPD_LIMIT_LOOPBACK", &loop, 0, 1);
	env_long("MAILROOM_SMTPD_AUTH_DELAY_MS", &t->auth_delay_ms, 0, 60000);
	env_long("MAILROOM_SMTPD_MAX_SESSIONS", &t->max_sessions, 1, 1000000);
	t->limit_loopback = loop == 1;
}
