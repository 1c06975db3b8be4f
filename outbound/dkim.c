/*
 * dkim.c - DKIM signing (RFC 6376) of outgoing mail: rsa-sha256 with
 * relaxed/relaxed canonicalization, so a receiver (Gmail, Microsoft) can
 * tell the mail really comes from the sender's domain; plus, when the
 * domain has an Ed25519 key too, a second ed25519-sha256 signature
 * (RFC 8463) over the same canonical data.
 *
 * The signer is fed the stored message once, in pieces (the same pass
 * that scans for 8-bit data): the header section is kept (at most
 * OB_DKIM_HEADERS_MAX; a larger one is simply not signed) and the body is
 * canonicalized as it streams into SHA-256, so memory stays bounded for
 * any message size. Canonicalization is common/dkim_canon.c's, the same
 * code our verifier (trust/) checks signatures with. The signature field
 * is then prepended when the message is sent. Keys are PEM files per domain: <data_dir>/dkim/
 * <domain>.pem (RSA, selector [dkim] selector) and <domain>.ed25519.pem
 * (selector "<selector>-ed25519"), made by `mailroomctl dkim generate`.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/dkim_canon.h"
#include "outbound.h"

/* Fields signed when present (RFC 6376 5.4.1's recommendation, less the
 * trace fields that relays add). */
static const char *const signed_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding",
};
#define N_SIGNED (sizeof signed_fields / sizeof signed_fields[0])

struct ob_dkim {
	struct buf headers; /* the header section, CRLF lines */
	bool in_body;
	bool failed; /* header section too big, or out of memory */
	size_t nl_run; /* trailing bytes of "\r\n\r\n" seen in the header */
	struct dkim_canon body; /* relaxed */
	EVP_MD_CTX *sha;
	bool body_done; /* bh computed: more signatures may follow */
	unsigned char bh[EVP_MAX_MD_SIZE];
	unsigned int bhlen;
};

/* ---- the signer ------------------------------------------------------------ */

static void sha_emit(void *ctx, const char *p, size_t n)
{
	EVP_DigestUpdate(ctx, p, n);
}

struct ob_dkim *ob_dkim_new(void)
{
	struct ob_dkim *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->sha = EVP_MD_CTX_new();
	if (d->sha == NULL || EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL) != 1 ||
	    buf_init(&d->headers, OB_DKIM_HEADERS_MAX) < 0) {
		ob_dkim_free(&d);
		return NULL;
	}
	dkim_canon_init(&d->body, true, sha_emit, d->sha);
	return d;
}

void ob_dkim_free(struct ob_dkim **dp)
{
	struct ob_dkim *d = *dp;
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->sha);
	buf_free(&d->headers);
	free(d);
	*dp = NULL;
}

void ob_dkim_feed(struct ob_dkim *d, const char *p, size_t n)
{
	size_t i = 0;
	if (!d->in_body) {
		/* Copy up to the blank line; "\r\n\r\n" (or a message that
		 * starts with "\r\n") ends the header section. */
		static const char end[] = "\r\n\r\n";
		if (d->headers.len == 0 && d->nl_run == 0)
			d->nl_run = 2; /* as if a line had just ended */
		for (; i < n && !d->in_body; i++) {
			char c = p[i];
			d->nl_run = (c == end[d->nl_run]) ? d->nl_run + 1
				    : (c == '\r')         ? 1
							  : 0;
			if (!d->failed && buf_append(&d->headers, &c, 1) < 0)
				d->failed = true;
			if (d->nl_run == 4)
				d->in_body = true;
		}
		if (!d->in_body)
			return;
	}
	dkim_canon_feed(&d->body, p + i, n - i);
}

/* Where the field named name (lowercase) last occurs: its text with CRLF. */
static bool find_field(const struct buf *h, const char *name, struct slice *out)
{
	size_t nlen = strlen(name);
	bool found = false;
	size_t i = 0;
	while (i < h->len) {
		size_t start = i;
		/* the field runs to a CRLF not followed by WSP */
		while (i < h->len) {
			if (h->data[i] == '\n' &&
			    (i + 1 >= h->len || (h->data[i + 1] != ' ' && h->data[i + 1] != '\t'))) {
				i++;
				break;
			}
			i++;
		}
		const char *f = h->data + start;
		size_t flen = i - start;
		if (flen > nlen && strncasecmp(f, name, nlen) == 0) {
			size_t k = nlen;
			while (k < flen && (f[k] == ' ' || f[k] == '\t'))
				k++;
			if (k < flen && f[k] == ':') {
				out->ptr = f;
				out->len = flen;
				found = true;
			}
		}
	}
	return found;
}

static int b64_into(struct buf *out, const unsigned char *p, size_t n)
{
	size_t need = (n + 2) / 3 * 4 + 1;
	char *tmp = malloc(need);
	if (tmp == NULL)
		return -1;
	EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
	int rc = buf_append_str(out, tmp);
	free(tmp);
	return rc;
}

int ob_dkim_sign(struct ob_dkim *d, EVP_PKEY *key, const char *domain,
		 const char *selector, int64_t now, struct buf *out)
{
	if (d->failed)
		return -1;
	if (!d->body_done) {
		d->in_body = true; /* a message with no body at all */
		dkim_canon_end(&d->body);
		if (EVP_DigestFinal_ex(d->sha, d->bh, &d->bhlen) != 1)
			return -1;
		d->body_done = true;
	}
	/* RFC 8463: Ed25519 signs the SHA-256 of the header data. */
	bool ed = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519;

	struct buf data, hnames;
	if (buf_init(&data, OB_DKIM_HEADERS_MAX + 4096) < 0)
		return -1;
	if (buf_init(&hnames, 512) < 0) {
		buf_free(&data);
		return -1;
	}
	int rc = 0;
	for (size_t k = 0; k < N_SIGNED && rc == 0; k++) {
		struct slice f;
		if (!find_field(&d->headers, signed_fields[k], &f))
			continue;
		rc |= dkim_canon_header(f.ptr, f.len, true, true, &data);
		rc |= buf_printf(&hnames, "%s%s", hnames.len ? ":" : "",
				 signed_fields[k]);
	}
	size_t field_start = out->len;
	rc |= buf_printf(out,
			 "DKIM-Signature: v=1; a=%s; c=relaxed/relaxed;"
			 " d=%s; s=%s;\r\n\tt=%lld; h=%s;\r\n\tbh=",
			 ed ? "ed25519-sha256" : "rsa-sha256", domain, selector,
			 (long long)now, hnames.data);
	rc |= b64_into(out, d->bh, d->bhlen);
	rc |= buf_append_str(out, ";\r\n\tb=");
	/* The field as signed: canonical, with an empty b= and no CRLF. */
	if (rc == 0)
		rc = dkim_canon_header(out->data + field_start,
				       out->len - field_start, true, false, &data);
	unsigned char *sig = NULL, hash[32];
	size_t siglen = 0;
	const unsigned char *tbs = (const unsigned char *)data.data;
	size_t tbslen = data.len;
	if (ed && rc == 0) {
		if (EVP_Digest(data.data, data.len, hash, NULL, EVP_sha256(), NULL) != 1)
			rc = -1;
		tbs = hash;
		tbslen = sizeof hash;
	}
	EVP_MD_CTX *mc = rc == 0 ? EVP_MD_CTX_new() : NULL;
	if (mc == NULL ||
	    EVP_DigestSignInit(mc, NULL, ed ? NULL : EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(mc, NULL, &siglen, tbs, tbslen) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(mc, sig, &siglen, tbs, tbslen) != 1)
		rc = -1;
	if (rc == 0)
		rc = b64_into(out, sig, siglen) | buf_append_str(out, "\r\n");
	free(sig);
	EVP_MD_CTX_free(mc);
	buf_free(&data);
	buf_free(&hnames);
	return rc < 0 ? -1 : 0;
}

EVP_PKEY *ob_dkim_load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}
