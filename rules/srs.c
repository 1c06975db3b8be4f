/*
 * srs.c - Sender Rewriting Scheme for forwarded copies, in the libsrs2
 * format most forwarders use, so the receiver's SPF check sees our domain
 * and bounces still find their way back.
 *
 *   SRS0=HHHH=TT=orig-domain=orig-local@our-domain
 *   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@our-domain
 *
 * HHHH is the first 4 characters of base64(HMAC-SHA1(key, lowercase
 * text)) over TT+domain+local (SRS0) or forwarder+rest (SRS1); TT is the
 * day number mod 1024 in base32. Hashes compare case-insensitively (some
 * MTAs lowercase local parts), which costs a few bits but is what libsrs2
 * does. A reversed SRS0 older than RULES_SRS_MAX_AGE_DAYS is refused, so
 * the scheme cannot be used as an open relay for bounces forever.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../store/store.h"
#include "rules.h"

#define SRS_HASH_LEN 4
static const char base32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

bool rules_srs_is_srs(const char *a)
{
	return strncasecmp(a, "SRS0=", 5) == 0 || strncasecmp(a, "SRS1=", 5) == 0;
}

/* HMAC over the lowercased concatenation of parts; 4 base64 characters. */
static int srs_hash(const unsigned char *key, size_t keylen,
		    const char *const *parts, size_t nparts, char out[5])
{
	char text[2 * ADDR_MAX + 64];
	size_t o = 0;
	for (size_t i = 0; i < nparts; i++) {
		size_t n = strlen(parts[i]);
		if (o + n >= sizeof text)
			return -1;
		for (size_t j = 0; j < n; j++)
			text[o++] = (char)tolower((unsigned char)parts[i][j]);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (HMAC(EVP_sha1(), key, (int)keylen, (const unsigned char *)text, o,
		 md, &mdlen) == NULL ||
	    mdlen < 3)
		return -1;
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = ((unsigned)md[0] << 16) | ((unsigned)md[1] << 8) | md[2];
	out[0] = tab[(v >> 18) & 63];
	out[1] = tab[(v >> 12) & 63];
	out[2] = tab[(v >> 6) & 63];
	out[3] = tab[v & 63];
	out[4] = '\0';
	return 0;
}

static void srs_time(time_t now, char out[3])
{
	unsigned long day = (unsigned long)(now / 86400) % 1024;
	out[0] = base32[(day >> 5) & 31];
	out[1] = base32[day & 31];
	out[2] = '\0';
}

/* Split "local@domain" at the last '@' into local/domain buffers. */
static int split(const char *a, char *local, size_t llen, char *domain,
		 size_t dlen)
{
	const char *at = strrchr(a, '@');
	if (at == NULL || at == a || at[1] == '\0')
		return -1;
	size_t ln = (size_t)(at - a), dn = strlen(at + 1);
	if (ln >= llen || dn >= dlen)
		return -1;
	memcpy(local, a, ln);
	local[ln] = '\0';
	memcpy(domain, at + 1, dn + 1);
	return 0;
}

int rules_srs_forward(const unsigned char *key, size_t keylen,
		      const char *sender, const char *our_domain, time_t now,
		      char *out, size_t outlen)
{
	char local[ADDR_MAX + 1], domain[ADDR_MAX + 1], hash[5], tt[3];
	int n;
	if (sender == NULL || sender[0] == '\0') {
		if (outlen == 0)
			return -1;
		out[0] = '\0'; /* the null sender stays null */
		return 0;
	}
	if (split(sender, local, sizeof local, domain, sizeof domain) != 0)
		return -1;
	if (strncasecmp(local, "SRS0=", 5) == 0 ||
	    strncasecmp(local, "SRS1=", 5) == 0) {
		const char *host = domain, *rest = local + 4; /* "=HHHH=..." */
		char host1[ADDR_MAX + 1];
		if (strncasecmp(local, "SRS1=", 5) == 0) {
			/* SRS1=HHHH=host==rest: keep the first forwarder */
			const char *h = strchr(local + 5, '=');
			const char *e = h ? strchr(h + 1, '=') : NULL;
			if (e == NULL || (size_t)(e - h - 1) >= sizeof host1)
				return -1;
			memcpy(host1, h + 1, (size_t)(e - h - 1));
			host1[e - h - 1] = '\0';
			host = host1;
			rest = e; /* "==HHHH=TT=..." minus one '=' below */
			rest++;
		}
		const char *parts[] = {host, rest};
		if (srs_hash(key, keylen, parts, 2, hash) != 0)
			return -1;
		n = snprintf(out, outlen, "SRS1=%s=%s=%s@%s", hash, host, rest,
			     our_domain);
	} else {
		srs_time(now, tt);
		const char *parts[] = {tt, domain, local};
		if (srs_hash(key, keylen, parts, 3, hash) != 0)
			return -1;
		n = snprintf(out, outlen, "SRS0=%s=%s=%s=%s@%s", hash, tt, domain,
			     local, our_domain);
	}
	return n > 0 && (size_t)n < outlen ? 0 : -1;
}

#define WHY(s) (*why_r = (s), -1)

int rules_srs_reverse(const unsigned char *key, size_t keylen,
		      const char *address, time_t now, char *out,
		      size_t outlen, const char **why_r)
{
	char local[ADDR_MAX + 1], domain[ADDR_MAX + 1], hash[5];
	static const char *dummy;
	if (why_r == NULL)
		why_r = &dummy;
	if (split(address, local, sizeof local, domain, sizeof domain) != 0)
		return WHY("not an address");
	bool srs1 = strncasecmp(local, "SRS1=", 5) == 0;
	if (!srs1 && strncasecmp(local, "SRS0=", 5) != 0)
		return WHY("not an SRS address");
	/* both: SRSn=HHHH=... */
	const char *h = local + 5;
	if (strlen(h) < SRS_HASH_LEN + 1 || h[SRS_HASH_LEN] != '=')
		return WHY("malformed SRS address");
	const char *body = h + SRS_HASH_LEN + 1;
	int n;
	if (srs1) {
		/* host=rest where rest starts with '=' */
		const char *e = strchr(body, '=');
		char host[ADDR_MAX + 1];
		if (e == NULL || e == body || e[1] != '=' ||
		    (size_t)(e - body) >= sizeof host)
			return WHY("malformed SRS1 address");
		memcpy(host, body, (size_t)(e - body));
		host[e - body] = '\0';
		const char *rest = e + 1;
		const char *parts[] = {host, rest};
		if (srs_hash(key, keylen, parts, 2, hash) != 0 ||
		    strncasecmp(hash, h, SRS_HASH_LEN) != 0)
			return WHY("SRS hash does not match");
		n = snprintf(out, outlen, "SRS0%s@%s", rest, host);
	} else {
		/* TT=domain=local */
		if (strlen(body) < 3 || body[2] != '=')
			return WHY("malformed SRS0 address");
		char tt[3] = {body[0], body[1], '\0'};
		const char *d = body + 3;
		const char *e = strchr(d, '=');
		char od[ADDR_MAX + 1];
		if (e == NULL || e == d || e[1] == '\0' ||
		    (size_t)(e - d) >= sizeof od)
			return WHY("malformed SRS0 address");
		memcpy(od, d, (size_t)(e - d));
		od[e - d] = '\0';
		const char *ol = e + 1;
		const char *parts[] = {tt, od, ol};
		if (srs_hash(key, keylen, parts, 3, hash) != 0 ||
		    strncasecmp(hash, h, SRS_HASH_LEN) != 0)
			return WHY("SRS hash does not match");
		const char *p0 = strchr(base32, toupper((unsigned char)tt[0]));
		const char *p1 = strchr(base32, toupper((unsigned char)tt[1]));
		if (p0 == NULL || p1 == NULL || tt[0] == '\0' || tt[1] == '\0')
			return WHY("malformed SRS0 timestamp");
		long then = (long)((p0 - base32) * 32 + (p1 - base32));
		long today = (long)((now / 86400) % 1024);
		long age = (today - then + 1024) % 1024;
		if (age > RULES_SRS_MAX_AGE_DAYS)
			return WHY("SRS address too old");
		n = snprintf(out, outlen, "%s@%s", ol, od);
	}
	if (n <= 0 || (size_t)n >= outlen)
		return WHY("result too long");
	return 0;
}

int rules_srs_key(struct store *st, unsigned char *key_r, size_t *len_r)
{
	char hex[2 * RULES_SRS_KEY_MAX + 1];
	int rc = store_setting_get(st, RULES_SRS_KEY_SETTING, hex, sizeof hex);
	if (rc == STORE_NOTFOUND) {
		unsigned char raw[32];
		if (RAND_bytes(raw, sizeof raw) != 1)
			return STORE_ERROR;
		for (size_t i = 0; i < sizeof raw; i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		OPENSSL_cleanse(raw, sizeof raw);
		rc = store_setting_set(st, RULES_SRS_KEY_SETTING, hex);
		if (rc != STORE_OK)
			return rc;
		/* another process may have won the race: read back */
		rc = store_setting_get(st, RULES_SRS_KEY_SETTING, hex, sizeof hex);
	}
	if (rc != STORE_OK)
		return rc;
	size_t n = strlen(hex);
	if (n < 32 || n % 2 || n / 2 > RULES_SRS_KEY_MAX)
		return STORE_INVALID;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v = 0;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return STORE_INVALID;
		key_r[i] = (unsigned char)v;
	}
	*len_r = n / 2;
	OPENSSL_cleanse(hex, sizeof hex);
	return STORE_OK;
}
