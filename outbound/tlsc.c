/*
 * tlsc.c - the TLS client context the outbound SMTP client uses.
 *
 * TLS 1.2 or newer, the system's trust store (plus, for the smarthost, an
 * extra CA file the admin names). Whether a certificate is checked is the
 * caller's choice per connection: opportunistic STARTTLS to an MX never
 * requires it (RFC 3207 leaves no way to demand it without MTA-STS/DANE)
 * but logs the result; the smarthost, which gets our password, requires it.
 */
#include <openssl/err.h>
#include <stdio.h>

#include "outbound_int.h"

SSL_CTX *ob_tls_client_ctx(const char *extra_ca, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error(); /* no system store: nothing verifies */
	if (extra_ca && extra_ca[0] &&
	    SSL_CTX_load_verify_locations(ctx, extra_ca, NULL) != 1) {
		snprintf(err, errlen, "cannot load CA file %s", extra_ca);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}
