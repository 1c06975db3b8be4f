/*
 * tls.h - OpenSSL 3 server contexts shared by the three daemons, and the
 * self-signed certificate mailroomctl init makes before a real one exists.
 *
 * Server contexts allow TLS 1.2 and 1.3 only, forward-secret AEAD suites
 * only for 1.2, no compression, no renegotiation, and server cipher order.
 * A daemon builds a new context on SIGHUP and swaps it in for new
 * connections; sessions already running keep the old one (SSL_CTX is
 * reference counted).
 */
#ifndef MAILROOM_TLS_H
#define MAILROOM_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* NULL with the reason in err when the files are missing or do not match. */
SSL_CTX *tls_server_ctx_new(const char *cert_path, const char *key_path,
			    char *err, size_t errlen);
/*
 * Write a new self-signed certificate for hostname (EC P-256, SHA-256,
 * 10 years, subjectAltName DNS:hostname) to cert_path and its key to
 * key_path (mode 0600). 0, or -1 with the reason in err.
 */
int tls_make_self_signed(const char *hostname, const char *cert_path,
			 const char *key_path, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" style text for Received: and logs. */
void tls_describe(SSL *ssl, char *dst, size_t dstlen);

#endif
