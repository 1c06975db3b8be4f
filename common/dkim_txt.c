/*
 * dkim_txt.c - the TXT value publishing a DKIM key (dkim_txt.h).
 */
#include "dkim_txt.h"

#include <string.h>

#include <openssl/x509.h>

int dkim_txt_value(EVP_PKEY *key, char *dst, size_t dstlen)
{
	unsigned char raw[64], *der = NULL;
	const unsigned char *pub = raw;
	size_t n = sizeof raw;
	const char *head;
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1)
			return -1;
		head = "v=DKIM1; k=ed25519; p=";
		break;
	case EVP_PKEY_RSA: {
		int dl = i2d_PUBKEY(key, &der);
		if (dl <= 0)
			return -1;
		pub = der;
		n = (size_t)dl;
		head = "v=DKIM1; k=rsa; p=";
		break;
	}
	default:
		return -1;
	}
	size_t hl = strlen(head), bl = (n + 2) / 3 * 4;
	int rc = -1;
	if (hl + bl < dstlen) { /* EVP_EncodeBlock writes bl + 1 with its NUL */
		memcpy(dst, head, hl);
		EVP_EncodeBlock((unsigned char *)dst + hl, pub, (int)n);
		rc = 0;
	}
	OPENSSL_free(der);
	return rc;
}
