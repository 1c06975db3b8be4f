/*
 * acme.h - ACME http-01 answers on the plain-HTTP listener (RFC 8555 8.3).
 *
 * The ACME client (uacme, driven by packaging/acme/mailroom-acme) writes
 * each key authorization to <data_dir>/acme/challenge/TOKEN through its
 * hook; the CA then fetches http://NAME/.well-known/acme-challenge/TOKEN
 * on port 80, which is [admin] http_listen.
 */
#ifndef MAILROOM_WEB_ACME_H
#define MAILROOM_WEB_ACME_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "../common/config.h"

#define ACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define ACME_TOKEN_MAX 128     /* tokens are 43 base64url characters */
#define ACME_KEYAUTH_MAX 256   /* TOKEN "." 43-character thumbprint */

/* True when url asks for an ACME challenge (answer with web_acme_answer). */
bool web_acme_is_challenge(const char *url);

/*
 * Queue the answer for url: 200 with the key authorization as text/plain
 * when <data_dir>/acme/challenge/TOKEN exists, 404 for an unknown or
 * malformed token (only base64url: no path can escape the directory).
 */
enum MHD_Result web_acme_answer(struct MHD_Connection *conn,
				const struct config *cfg, const char *url);

/* The answer's body for url into dst (NUL-terminated), without MHD: 0, or
 * -1 when there is none (bad token, no file, too long). For tests. */
int web_acme_read(const struct config *cfg, const char *url, char *dst,
		  size_t dstlen);

#endif
