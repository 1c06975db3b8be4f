/*
 * smtp_sizelimit.h - the message size limit in force: the store setting
 * smtp.message_size_limit (bytes, decimal text; the web panel's settings
 * page writes it) wins over [smtp] message_size_limit of the config file.
 * An empty or unreadable setting means the config's value.
 */
#ifndef MAILROOM_SMTP_SIZELIMIT_H
#define MAILROOM_SMTP_SIZELIMIT_H

#include <stdint.h>

#include "../store/store.h"

#define SMTP_SIZELIMIT_SETTING "smtp.message_size_limit"
/* The bounds the config file puts on message_size_limit (1 KiB .. 4 GiB). */
#define SMTP_SIZELIMIT_MIN 1024LL
#define SMTP_SIZELIMIT_MAX (4LL * 1024 * 1024 * 1024)
/* How often the loop re-reads the setting (one indexed row read). */
#define SMTP_SIZELIMIT_POLL_MS 15000

/*
 * Parse the setting's text: decimal bytes within the bounds above. 0 and
 * the value in *out, or -1 (empty, junk, out of range: the caller keeps
 * the config's limit).
 */
int smtp_sizelimit_parse(const char *text, int64_t *out);

enum smtp_sizelimit_source {
	SMTP_SIZELIMIT_CONFIG, /* setting unset or empty */
	SMTP_SIZELIMIT_STORE,  /* the setting */
	SMTP_SIZELIMIT_BAD,    /* setting malformed: config value used */
	SMTP_SIZELIMIT_UNREAD, /* store read failed: caller keeps its value */
};

/* Setting text we look at (decimal bytes fit in 20). */
#define SMTP_SIZELIMIT_TEXT_MAX 64

/*
 * The limit to use: the store setting when set and valid, else
 * config_limit (written to *limit_r). The setting's text is copied to
 * text (size SMTP_SIZELIMIT_TEXT_MAX) for the caller's log line.
 */
enum smtp_sizelimit_source smtp_sizelimit_effective(struct store *st,
						    int64_t config_limit,
						    int64_t *limit_r,
						    char *text);

#endif
