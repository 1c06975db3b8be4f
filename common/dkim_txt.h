/*
 * dkim_txt.h - the DNS TXT value that publishes a DKIM signing key.
 *
 * One encoder for every place that shows or checks the record: the CLI
 * (`mailroomctl dkim keygen|show`) and the web panel's DNS page, so what
 * the admin is told to publish and what the panel checks are the same
 * bytes.
 */
#ifndef MAILROOM_DKIM_TXT_H
#define MAILROOM_DKIM_TXT_H

#include <stddef.h>

#include <openssl/evp.h>

/* "v=DKIM1; k=rsa; p=" plus the base64 of a 4096-bit key fits. */
#define DKIM_TXT_MAX 800

/*
 * "v=DKIM1; k=rsa; p=..." or "v=DKIM1; k=ed25519; p=..." for key into
 * dst: p= is the base64 of the DER SubjectPublicKeyInfo for RSA (RFC 6376
 * 3.6.1) and of the raw 32-byte public key for Ed25519 (RFC 8463 3).
 * 0, or -1 for another kind of key, an encoding failure or a dst too small.
 */
int dkim_txt_value(EVP_PKEY *key, char *dst, size_t dstlen)
	__attribute__((warn_unused_result));

#endif
