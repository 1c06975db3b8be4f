/*
 * dkimrec.c - the DKIM record a domain's key wants and the comparison
 * with what DNS has (dkimrec.h).
 *
 * The p= encoding is the one RFC 6376 3.6.1 and RFC 8463 3 fix: base64 of
 * the DER SubjectPublicKeyInfo for RSA, of the raw 32-byte public key for
 * Ed25519 - what `mailroomctl dkim show` prints (cli/dkim.c keeps its
 * encoder static, so the page has these few lines of its own).
 */
#include "dkimrec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../common/limits.h"
#include "../outbound/outbound.h"

static int encode(EVP_PKEY *key, enum dkimrec_kind kind,
		  char txt[DKIMREC_TXT_MAX])
{
	unsigned char raw[64], *der = NULL;
	const unsigned char *pub = raw;
	size_t n = sizeof raw;
	if (kind == DKIMREC_ED25519) {
		if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1)
			return -1;
	} else {
		int dl = i2d_PUBKEY(key, &der);
		if (dl <= 0)
			return -1;
		pub = der;
		n = (size_t)dl;
	}
	const char *head = kind == DKIMREC_ED25519 ? "v=DKIM1; k=ed25519; p="
						   : "v=DKIM1; k=rsa; p=";
	size_t hl = strlen(head), bl = (n + 2) / 3 * 4;
	int rc = -1;
	if (hl + bl < DKIMREC_TXT_MAX) {
		memcpy(txt, head, hl);
		EVP_EncodeBlock((unsigned char *)txt + hl, pub, (int)n);
		rc = 0;
	}
	OPENSSL_free(der);
	return rc;
}

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
	int rc = EVP_PKEY_get_base_id(key) == want_type && encode(key, kind, txt) == 0
			 ? 1
			 : -1;
	if (rc < 0)
		*err = "the key file holds another kind of key";
	EVP_PKEY_free(key);
	return rc;
}

/* The value of tag (e.g. "p") in a tag=value list, whitespace removed,
 * into dst. false when the tag is absent or too long. */
static bool tag_value(const char *list, const char *tag, char *dst, size_t len)
{
	size_t tl = strlen(tag);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		const char *q = p;
		while (q < end && (isalnum((unsigned char)*q) || *q == '_'))
			q++;
		const char *eq = q;
		while (eq < end && (*eq == ' ' || *eq == '\t'))
			eq++;
		if ((size_t)(q - p) == tl && strncasecmp(p, tag, tl) == 0 &&
		    eq < end && *eq == '=') {
			size_t o = 0;
			for (const char *v = eq + 1; v < end; v++) {
				if (isspace((unsigned char)*v))
					continue;
				if (o + 1 >= len)
					return false;
				dst[o++] = *v;
			}
			dst[o] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

bool dkimrec_matches(const char *found, const char *want)
{
	char fp[DKIMREC_TXT_MAX], wp[DKIMREC_TXT_MAX], fk[32] = "rsa", wk[32] = "rsa";
	if (!tag_value(found, "p", fp, sizeof fp) ||
	    !tag_value(want, "p", wp, sizeof wp) || fp[0] == '\0')
		return false;
	(void)tag_value(found, "k", fk, sizeof fk);
	(void)tag_value(want, "k", wk, sizeof wk);
	return strcmp(fp, wp) == 0 && strcasecmp(fk, wk) == 0;
}
