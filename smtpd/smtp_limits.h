/*
 * smtp_limits.h - caps and timeouts that belong to smtpd alone.
 *
 * The shared caps (command line 512, text line 1000, AUTH line, address
 * sizes) live in common/limits.h; these are the ones only the SMTP daemon
 * enforces. The timeouts, delays and session limits are config keys
 * ([smtp] command_timeout etc., defaults in common/config.c following RFC
 * 5321 4.5.3.2); smtp_tuning.c copies them.
 */
#ifndef MAILROOM_SMTP_LIMITS_H
#define MAILROOM_SMTP_LIMITS_H

/* ESMTP parameters on one MAIL or RCPT command. */
#define SMTP_PARAMS_MAX 8
/* Errors (4xx/5xx replies to commands) before the session gets 421
 * (Postfix smtpd_hard_error_limit). */
#define SMTP_ERRORS_MAX 20
/* NOOP, VRFY, HELP, RSET... before 421 (Postfix smtpd_junk_command_limit). */
#define SMTP_JUNK_MAX 100
/* AUTH failures in one session before 421 (the per-IP delay also grows). */
#define SMTP_AUTH_FAILURES_MAX 3
/* Longest HELO/EHLO argument kept (RFC 5321 domain or address literal). */
#define SMTP_HELO_MAX 255
/* A reply line we format, with CRLF. */
#define SMTP_REPLY_MAX 1024
/* Client output not yet sent before the server stops reading commands. */
#define SMTP_OUTPUT_HIGH_WATER (64 * 1024)
/* Bytes read from a socket at once. */
#define SMTP_READ_CHUNK (64 * 1024)

/* The cap on the growing per-IP AUTH failure delay ([smtp]
 * auth_failure_delay is the step). */
#define SMTP_AUTH_DELAY_MAX_MS (30 * 1000)
#define SMTP_AUTH_FAILURE_MEMORY_S (15 * 60)
#define SMTP_SHUTDOWN_GRACE_MS (30 * 1000)
/* Messages one group commit takes at most. */
#define SMTP_COMMIT_BATCH_MAX 2048

#endif
