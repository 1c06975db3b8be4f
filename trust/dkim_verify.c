/*
 * dkim_verify.c - the RSA signature check with prepared contexts.
 *
 * Why: OpenSSL 3 spends ~3 us per RSA verification making and setting up
 * an EVP_PKEY_CTX (the provider's key export, padding and digest
 * parameters) next to ~16 us of arithmetic, and a busy MX checks the same
 * few senders' keys over and over. A cache belongs to the one thread that
 * verifies with it (the DKIM worker owns one; without a worker the loop
 * uses its trust context's). An entry's EVP_PKEY_CTX holds a reference to
 * its key, so a cached key pointer can never stand for another key; a
 * context is reused only for the same key and digest, and a failed check
 * leaves it usable (EVP_PKEY_verify keeps no state between calls).
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include "dkim_int.h"

#define VERIFY_CACHE_MAX 8

struct dkim_verify_cache {
	struct {
		EVP_PKEY *key; /* held by ctx; NULL: free slot */
		const EVP_MD *md;
		EVP_PKEY_CTX *ctx;
		uint64_t used;
	} e[VERIFY_CACHE_MAX];
	uint64_t clock;
};

struct dkim_verify_cache *dkim_verify_cache_new(void)
{
	return calloc(1, sizeof(struct dkim_verify_cache));
}

void dkim_verify_cache_free(struct dkim_verify_cache **cp)
{
	struct dkim_verify_cache *c = *cp;
	*cp = NULL;
	if (c == NULL)
		return;
	for (size_t i = 0; i < VERIFY_CACHE_MAX; i++)
		EVP_PKEY_CTX_free(c->e[i].ctx);
	free(c);
}

static EVP_PKEY_CTX *prepared(EVP_PKEY *key, const EVP_MD *md)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

bool dkim_verify_rsa(struct dkim_verify_cache *c, EVP_PKEY *key,
		     const EVP_MD *md, const unsigned char *sig, size_t sig_len,
		     const unsigned char *hash, size_t hash_len)
{
	if (c == NULL) { /* no cache (out of memory): a context for this one */
		EVP_PKEY_CTX *ctx = prepared(key, md);
		bool ok = ctx && EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
		EVP_PKEY_CTX_free(ctx);
		return ok;
	}
	size_t slot = 0;
	for (size_t i = 0; i < VERIFY_CACHE_MAX; i++) {
		if (c->e[i].key == key && c->e[i].md == md) {
			c->e[i].used = ++c->clock;
			return EVP_PKEY_verify(c->e[i].ctx, sig, sig_len, hash,
					       hash_len) == 1;
		}
		if (c->e[i].used < c->e[slot].used)
			slot = i; /* the least recently used (or a free one) */
	}
	EVP_PKEY_CTX *ctx = prepared(key, md);
	if (ctx == NULL)
		return false;
	EVP_PKEY_CTX_free(c->e[slot].ctx);
	c->e[slot].key = key;
	c->e[slot].md = md;
	c->e[slot].ctx = ctx;
	c->e[slot].used = ++c->clock;
	return EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
}
