/*
 * dkimrec.c - the DKIM record a domain's key wants and the comparison
 * with what DNS has (dkimrec.h).
 *
 * The p= encoding is the one RFC 6376 3.6.1 and RFC 8463 3 fix: base64 of
 * the DER SubjectPublicKeyInfo for RSA, of the raw 32-byte public key for
 * Ed25519 - common/dkim_txt.c, the encoder `mailroomctl dkim show` prints
 * with, so the panel checks the bytes the admin was told to publish. The record
 * found is read with trust_tags_parse, the tag-list parser smtpd's DKIM
 * verifier reads key records with.
 */
#include "dkimrec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../common/buf.h"
#include "../common/dkim_txt.h"
#include "../common/limits.h"
#include "../outbound/outbound.h"
#include "../trust/trust.h"

int dkimrec_wanted(const char *data_dir, const char *selector,
		   const char *domain, enum dkimrec_kind kind, char *name,
		   size_t namelen, char txt[DKIMREC_TXT_MAX], const char **err)
{
	char path[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 32];
	bool ed = kind == DKIMREC_ED25519;
	txt[0] = '\0';
	snprintf(name, namelen, "%s%s._domainkey.%s", selector, ed ? "-ed25519" : "",
		 domain);
	int n = snprintf(path, sizeof path, "%s/dkim/%s%s", data_dir, domain,
			 ed ? ".ed25519.pem" : ".pem");
	if (n < 0 || (size_t)n >= sizeof path) {
		*err = "the key's path is too long";
		return -1;
	}
	if (access(path, F_OK) != 0)
		return 0;
	EVP_PKEY *key = ob_dkim_load_key(path);
	if (key == NULL) {
		*err = errno == EACCES ? "the key file cannot be read by the panel"
				       : "the key file is not a PEM private key";
		return -1;
	}
	int want_type = ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA;
	int rc = EVP_PKEY_get_base_id(key) == want_type && dkim_txt_value(key, txt, DKIMREC_TXT_MAX) == 0
			 ? 1
			 : -1;
	if (rc < 0)
		*err = "the key file holds another kind of key";
	EVP_PKEY_free(key);
	return rc;
}

/* tag's value in the parsed list with all whitespace removed (FWS may
 * sit inside base64, RFC 6376 3.6.1) into dst; def when absent. false
 * when it does not fit. */
static bool tag_text(const struct trust_tags *t, const char *tag,
		     const char *def, char *dst, size_t len)
{
	const struct slice *v = trust_tags_get(t, tag);
	if (v == NULL) {
		snprintf(dst, len, "%s", def);
		return true;
	}
	size_t o = 0;
	for (size_t i = 0; i < v->len; i++) {
		if (isspace((unsigned char)v->ptr[i]))
			continue;
		if (o + 1 >= len)
			return false;
		dst[o++] = v->ptr[i];
	}
	dst[o] = '\0';
	return true;
}

bool dkimrec_matches(const char *found, const char *want)
{
	struct trust_tags ft, wt;
	const char *err;
	char fp[DKIMREC_TXT_MAX], wp[DKIMREC_TXT_MAX], fk[32], wk[32];
	if (trust_tags_parse(found, strlen(found), &ft, &err) != 0 ||
	    trust_tags_parse(want, strlen(want), &wt, &err) != 0)
		return false;
	if (!tag_text(&ft, "p", "", fp, sizeof fp) ||
	    !tag_text(&wt, "p", "", wp, sizeof wp) || fp[0] == '\0' ||
	    !tag_text(&ft, "k", "rsa", fk, sizeof fk) ||
	    !tag_text(&wt, "k", "rsa", wk, sizeof wk))
		return false;
	return strcmp(fp, wp) == 0 && strcasecmp(fk, wk) == 0;
}
