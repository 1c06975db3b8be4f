/*
 * test_outbound_dkim.c - the signer's DKIM relaxed canonicalization
 * (RFC 6376 3.4.2, 3.4.4, and the example of 3.4.5): the shared
 * canonicalizer (common/dkim_canon.c) in relaxed mode fed whole and byte
 * by byte, the body hash ob_dkim_sign puts in bh= for the same bodies,
 * the exact bytes it signs (checked against its own signature), and the
 * shape of the signature field. The signature is also checked by an
 * independent verifier (python3-dkim) in tests/integration.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>

#include "../../common/base64.h"
#include "../../common/dkim_canon.h"
#include "../../outbound/outbound.h"
#include "test.h"

static void to_buf(void *ctx, const char *p, size_t n)
{
	CHECK(buf_append(ctx, p, n) == 0);
}

/* base64 of the SHA-256 of p[0..n): what bh= must say for that body */
static void b64_sha256(const char *p, size_t n, char out[45])
{
	unsigned char h[32];
	CHECK(EVP_Digest(p, n, h, NULL, EVP_sha256(), NULL) == 1);
	EVP_EncodeBlock((unsigned char *)out, h, (int)sizeof h);
}

/* The bh= value of a signature field (44 characters), NUL-terminated. */
static void bh_of(const char *field, char out[45])
{
	const char *bh = strstr(field, "bh=");
	CHECK(bh != NULL);
	out[0] = '\0';
	if (bh != NULL && strlen(bh + 3) >= 44) {
		memcpy(out, bh + 3, 44);
		out[44] = '\0';
	}
}

static void test_body_relaxed(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	CHECK(key != NULL);
	static const struct {
		const char *label, *in, *want;
	} t[] = {
		{"rfc 6376 3.4.5", " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
		{"empty", "", ""},
		{"only empty lines", "\r\n\r\n", ""},
		{"inner empty line kept", "a\r\n\r\nb", "a\r\n\r\nb\r\n"},
		{"whitespace-only line is empty", "a\r\n \t \r\nb\r\n \r\n", "a\r\n\r\nb\r\n"},
		{"runs", "x  \t y\r\n", "x y\r\n"},
		{"lone CR is content", "x\ry\r\n", "x\ry\r\n"},
		{"no final CRLF", "last", "last\r\n"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		for (size_t chunk = 1; chunk <= 64; chunk *= 8) {
			test_state.label = t[i].label;
			struct buf out;
			CHECK(buf_init(&out, 1000) == 0);
			struct dkim_canon b;
			dkim_canon_init(&b, true, to_buf, &out);
			size_t len = strlen(t[i].in);
			for (size_t off = 0; off < len; off += chunk)
				dkim_canon_feed(&b, t[i].in + off,
						len - off < chunk ? len - off : chunk);
			dkim_canon_end(&b);
			CHECK_STR(out.data, t[i].want);
			buf_free(&out);

			/* the signer hashes the same canonical body */
			struct ob_dkim *d = ob_dkim_new();
			CHECK(d != NULL);
			ob_dkim_feed(d, "From: <a@example.test>\r\n\r\n", 26);
			for (size_t off = 0; off < len; off += chunk)
				ob_dkim_feed(d, t[i].in + off,
					     len - off < chunk ? len - off : chunk);
			CHECK(buf_init(&out, 4096) == 0);
			CHECK(ob_dkim_sign(d, key, "example.test", "sel", 1, &out) == 0);
			char got[45], want[45];
			bh_of(out.data, got);
			b64_sha256(t[i].want, strlen(t[i].want), want);
			CHECK_STR(got, want);
			buf_free(&out);
			ob_dkim_free(&d);
		}
	EVP_PKEY_free(key);
}

static void test_header_relaxed(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{"A: X\r\n", "a:X"},
		{"B : Y\t\r\n\tZ  \r\n", "b:Y Z"},
		{"Subject:  Hello \r\n\t World  \r\n", "subject:Hello World"},
		{"DKIM-Signature: v=1;\r\n\tb=", "dkim-signature:v=1; b="},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		test_state.label = t[i].in;
		struct buf out;
		CHECK(buf_init(&out, 1000) == 0);
		/* as the signer calls it: relaxed, CRLF only when asked */
		CHECK(dkim_canon_header(t[i].in, strlen(t[i].in), true, false, &out) == 0);
		CHECK_STR(out.data, t[i].want);
		buf_reset(&out);
		CHECK(dkim_canon_header(t[i].in, strlen(t[i].in), true, true, &out) == 0);
		CHECK(out.len == strlen(t[i].want) + 2);
		CHECK(out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
		buf_free(&out);
	}
	struct buf out;
	CHECK(buf_init(&out, 100) == 0);
	CHECK(dkim_canon_header("no colon", 8, true, false, &out) == -1);
	buf_free(&out);
}

/*
 * The exact bytes ob_dkim_sign signs: each signed field relaxed with its
 * CRLF, in h= order, then its own field relaxed with an empty b= and no
 * CRLF (RFC 6376 3.7). Built here by hand and checked against the
 * signature it made, so a change in what the signer canonicalizes fails.
 */
static void test_sign_data(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	CHECK(key != NULL);
	static const char msg[] = "From: <a@example.test>\r\n"
				  "To : Y\t\r\n\tZ  \r\n"
				  "Subject:  Hello \r\n\t World  \r\n"
				  "X-Other: not signed\r\n\r\n"
				  " C \r\nD \t E\r\n\r\n\r\n";
	struct ob_dkim *d = ob_dkim_new();
	CHECK(d != NULL);
	ob_dkim_feed(d, msg, sizeof msg - 1);
	struct buf out;
	CHECK(buf_init(&out, 8192) == 0);
	CHECK(ob_dkim_sign(d, key, "example.test", "sel", 1700000000, &out) == 0);
	char bh[45], got_bh[45];
	b64_sha256(" C\r\nD E\r\n", 9, bh);
	bh_of(out.data, got_bh);
	CHECK_STR(got_bh, bh);

	struct buf tbs;
	CHECK(buf_init(&tbs, 4096) == 0);
	CHECK(buf_printf(&tbs,
			 "from:<a@example.test>\r\nto:Y Z\r\nsubject:Hello World\r\n"
			 "dkim-signature:v=1; a=rsa-sha256; c=relaxed/relaxed;"
			 " d=example.test; s=sel; t=1700000000; h=from:to:subject;"
			 " bh=%s; b=",
			 bh) == 0);
	const char *b = strstr(out.data, "\tb=");
	CHECK(b != NULL);
	unsigned char sig[512];
	long siglen = -1;
	if (b != NULL && out.len >= 2) {
		size_t blen = (size_t)(out.data + out.len - 2 - (b + 3));
		siglen = base64_decode((struct slice){.ptr = b + 3, .len = blen},
				       sig, sizeof sig);
	}
	CHECK_INT(siglen, 256);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	CHECK(mc != NULL);
	CHECK(EVP_DigestVerifyInit(mc, NULL, EVP_sha256(), NULL, key) == 1);
	CHECK(siglen == 256 &&
	      EVP_DigestVerify(mc, sig, (size_t)siglen, (const unsigned char *)tbs.data,
			       tbs.len) == 1);
	EVP_MD_CTX_free(mc);
	buf_free(&tbs);
	buf_free(&out);
	ob_dkim_free(&d);
	EVP_PKEY_free(key);
}

static void test_sign_shape(void)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	CHECK(key != NULL);
	static const char msg[] = "Return-Path: <a@example.test>\r\n"
				  "From: <a@example.test>\r\nTo: <b@remote.test>\r\n"
				  "Subject: hi\r\nX-Other: not signed\r\n\r\n";
	struct ob_dkim *d = ob_dkim_new();
	for (size_t i = 0; i < sizeof msg - 1; i++)
		ob_dkim_feed(d, msg + i, 1);
	struct buf out;
	CHECK(buf_init(&out, 8192) == 0);
	CHECK(ob_dkim_sign(d, key, "example.test", "sel", 1700000000, &out) == 0);
	CHECK(strncmp(out.data, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"
				" d=example.test; s=sel;\r\n\tt=1700000000;"
				" h=from:to:subject;\r\n"
				/* SHA-256 of the empty relaxed body */
				"\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=",
		      strlen("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;"
			     " d=example.test; s=sel;\r\n\tt=1700000000;"
			     " h=from:to:subject;\r\n"
			     "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=")) == 0);
	/* b= is 2048 bits in base64 (344 characters), then CRLF. */
	const char *b = strstr(out.data, "\tb=") + 3;
	CHECK_INT(strlen(b), 344 + 2);
	buf_free(&out);
	ob_dkim_free(&d);
	/* A header section past the cap is not signed. */
	d = ob_dkim_new();
	static char big[OB_DKIM_HEADERS_MAX + 100];
	memset(big, 'x', sizeof big);
	memcpy(big, "X-Big: ", 7);
	ob_dkim_feed(d, big, sizeof big);
	CHECK(buf_init(&out, 8192) == 0);
	CHECK(ob_dkim_sign(d, key, "example.test", "sel", 1, &out) == -1);
	buf_free(&out);
	ob_dkim_free(&d);
	EVP_PKEY_free(key);
}

TEST_SUITE(outbound_dkim, {"relaxed body", test_body_relaxed},
	   {"relaxed header", test_header_relaxed}, {"signed data", test_sign_data},
	   {"signature field", test_sign_shape});
