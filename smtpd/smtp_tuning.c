/*
 * smtp_tuning.c - copy the [smtp] timeout and limit keys into the form the
 * loop uses (see smtp_tuning.h). The AUTH delay cap is not a key: it only
 * bounds how far the per-failure delay may grow.
 */
#include "smtp_tuning.h"

#include "smtp_limits.h"

void smtp_tuning_load(struct smtp_tuning *t, const struct config *cfg)
{
	t->greeting_delay_ms = (long)cfg->smtp_greeting_delay_ms;
	t->command_timeout_ms = (long)cfg->smtp_command_timeout_ms;
	t->data_timeout_ms = (long)cfg->smtp_data_timeout_ms;
	t->tls_handshake_timeout_ms = (long)cfg->smtp_tls_timeout_ms;
	t->max_per_ip = cfg->smtp_max_per_ip;
	t->limit_loopback = cfg->smtp_limit_loopback;
	t->auth_delay_ms = (long)cfg->smtp_auth_delay_ms;
	t->auth_delay_max_ms = SMTP_AUTH_DELAY_MAX_MS;
	t->max_sessions = cfg->smtp_max_sessions;
}
