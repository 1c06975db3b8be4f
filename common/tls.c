/*
 * tls.c - the OpenSSL 3 server context every daemon uses.
 *
 * SECURITY: TLS 1.2 is the floor; for 1.2 only ECDHE with AES-GCM or
 * ChaCha20-Poly1305 (forward secret AEAD) is offered, TLS 1.3 keeps
 * OpenSSL's defaults (all AEAD). Compression (CRIME) and renegotiation are
 * off, the server's cipher order wins. Session tickets stay on: they make
 * reconnecting mail clients cheaper and OpenSSL rotates nothing we keep.
 * A context is built whole or not at all, so a SIGHUP with a broken
 * certificate leaves the old context serving.
 */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

/* "what: OpenSSL's reason" with the most recent queued error. */
static void ssl_err(char *err, size_t errlen, const char *what,
		    const char *path)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	if (path != NULL)
		snprintf(err, errlen, "%s %s: %s", what, path,
			 reason ? reason : "unknown OpenSSL error");
	else
		snprintf(err, errlen, "%s: %s", what,
			 reason ? reason : "unknown OpenSSL error");
	ERR_clear_error();
}

SSL_CTX *tls_server_ctx_new(const char *cert_path, const char *key_path,
			    char *err, size_t errlen)
{
	/* Check the files first: "No such file or directory" is clearer
	 * than OpenSSL's "system lib". */
	if (access(cert_path, R_OK) < 0) {
		snprintf(err, errlen, "certificate %s: %s", cert_path,
			 strerror(errno));
		return NULL;
	}
	if (access(key_path, R_OK) < 0) {
		snprintf(err, errlen, "private key %s: %s", key_path,
			 strerror(errno));
		return NULL;
	}

	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_err(err, errlen, "cannot create TLS context", NULL);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		ssl_err(err, errlen, "cannot set TLS versions and ciphers",
			NULL);
		goto fail;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* Idle sessions hold no read/write buffers: many idle POP3 and
	 * SMTP clients cost little memory. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		ssl_err(err, errlen, "cannot load certificate", cert_path);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		unsigned long e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_X509 &&
		    ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
			goto mismatch;
		ssl_err(err, errlen, "cannot load private key", key_path);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
mismatch:
		ERR_clear_error();
		snprintf(err, errlen, "private key %s does not match certificate %s",
			 key_path, cert_path);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_describe(SSL *ssl, char *dst, size_t dstlen)
{
	if (dstlen == 0)
		return;
	if (ssl == NULL) {
		snprintf(dst, dstlen, "none");
		return;
	}
	const char *cipher = SSL_get_cipher_name(ssl);
	snprintf(dst, dstlen, "%s %s", SSL_get_version(ssl),
		 cipher ? cipher : "(none)");
}
