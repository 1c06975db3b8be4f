/*
 * password.c - password hashing and verification with libcrypt.
 *
 * New hashes are yescrypt ($y$) with a salt libcrypt draws from the OS.
 * Verification also takes SHA-512 crypt ($6$), SHA-256 crypt ($5$) and
 * bcrypt ($2b$, $2y$, and $2a$ from older Dovecot/PHP), so hashes from
 * Dovecot or /etc/shadow import as they are. Older schemes (DES, MD5) are
 * refused: they are too weak to keep. The comparison of crypt output with the stored hash is constant
 * time. Passwords never leave this file except as a hash, and the
 * crypt_data work area is wiped before it is freed.
 */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static const char *const accepted_prefixes[] = {"$y$", "$6$", "$5$", "$2b$",
						 "$2y$", "$2a$"};

/* A well-formed yescrypt hash of a password nobody has: verifying against
 * it costs what a real verification costs, so an unknown user answers as
 * slowly as a known one. */
const char store_password_dummy_hash[] =
	"$y$j9T$dQ8obQ0CzIL/V/6KWb9bB/$xy2.q/i7BSTGpNzlTt98O.UUf78aTrP8VEZlU7im174";

static bool crypt_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '/' || c == '$';
}

bool store_password_hash_valid(const char *hash)
{
	if (hash == NULL)
		return false;
	size_t len = strnlen(hash, PASSWORD_HASH_MAX + 1);
	if (len < 13 || len > PASSWORD_HASH_MAX)
		return false;
	bool known = false;
	for (size_t i = 0; i < sizeof accepted_prefixes / sizeof accepted_prefixes[0]; i++)
		if (strncmp(hash, accepted_prefixes[i],
			    strlen(accepted_prefixes[i])) == 0)
			known = true;
	if (!known)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!crypt_char(hash[i]))
			return false;
	/* LEGACY: a method libcrypt still verifies but would not pick for new
	 * hashes ($5$ on Debian); fine to import. */
	int c = crypt_checksalt(hash);
	return c == CRYPT_SALT_OK || c == CRYPT_SALT_METHOD_LEGACY;
}

int store_password_hash(const char *password, char *dst, size_t dstlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	if (password == NULL || strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
		return STORE_INVALID;
	/* NULL random bytes: libcrypt reads them from the OS itself. */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) == NULL)
		return STORE_ERROR;
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (cd == NULL)
		return STORE_ERROR;
	const char *h = crypt_r(password, salt, cd);
	int ret = STORE_ERROR;
	if (h != NULL && h[0] == '$') {
		size_t n = strlen(h);
		if (n < dstlen) {
			memcpy(dst, h, n + 1);
			ret = STORE_OK;
		} else {
			ret = STORE_INVALID;
		}
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ret;
}

/* Constant time in the length of a: the time says nothing about where the
 * first difference is. */
static bool equal_ct(const char *a, const char *b, size_t n)
{
	volatile unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

bool store_password_verify(const char *password, const char *hash)
{
	if (password == NULL || !store_password_hash_valid(hash) ||
	    strnlen(password, PASSWORD_MAX + 1) > PASSWORD_MAX)
		return false;
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (cd == NULL)
		return false;
	const char *h = crypt_r(password, hash, cd);
	bool ok = false;
	/* On failure libcrypt returns NULL or a string starting with '*'. */
	if (h != NULL && h[0] == '$') {
		size_t n = strlen(hash);
		ok = strlen(h) == n && equal_ct(h, hash, n);
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}
