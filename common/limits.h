/*
 * limits.h - every size cap Mailroom enforces, in one place.
 *
 * Each growing buffer gets its cap from here when it is made (see buf.h), so
 * a reviewer can read the whole memory budget of a session on one page.
 * Protocol numbers cite the RFC that sets them.
 */
#ifndef MAILROOM_LIMITS_H
#define MAILROOM_LIMITS_H

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define SMTP_COMMAND_LINE_MAX 512
/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with CRLF. */
#define SMTP_TEXT_LINE_MAX 1000
/* RFC 2449 4: POP3 command lines (with extensions) up to 255 octets. */
#define POP3_COMMAND_LINE_MAX 255
/* AUTH initial responses and continuation lines (base64 of PLAIN). */
#define AUTH_LINE_MAX 2048

/* RFC 5321 4.5.3.1.1-3 */
#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_MAX 320 /* local@domain, as stored; fits ADDR_MAX + 1 with NUL */
#define HOSTNAME_MAX 255

#define PASSWORD_MAX 256      /* longest password accepted anywhere */
#define PASSWORD_HASH_MAX 256 /* crypt(3) output */
#define DISPLAY_NAME_MAX 200

/* Config file */
#define CONFIG_VALUE_MAX 1024 /* one value, e.g. a listen list */
#define CONFIG_PATH_MAX 1024  /* file paths in the config */
#define LISTEN_ADDRS_MAX 8    /* addresses in one listen key */

/* Defaults the config may override */
#define MESSAGE_SIZE_LIMIT_DEFAULT (25LL * 1024 * 1024)
#define MAX_RECIPIENTS_DEFAULT 100
#define RELAY_PORT_DEFAULT 25

/* Store */
#define ALIAS_DEPTH_MAX 8          /* alias -> alias -> ... chains */
#define ALIAS_EXPANSION_MAX 1000   /* addresses one recipient may expand to */
#define STORE_BUSY_TIMEOUT_MS 5000 /* SQLite busy handler */

/* Log lines: client-supplied text is escaped and cut to this many bytes. */
#define LOG_FIELD_MAX 200
#define LOG_LINE_MAX 2048

/* Web admin */
#define HTTP_POST_MAX (64 * 1024)          /* form and JSON bodies */
#define HTTP_POST_DRAIN_MAX (1024 * 1024) /* an over-cap body read and dropped, so the 413 arrives */
#define HTTP_UPLOAD_MAX (1024 * 1024)      /* certificate upload */
#define HTTP_CONNECTION_MEMORY (64 * 1024) /* libmicrohttpd per connection */

#endif
