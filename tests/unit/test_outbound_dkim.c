/*
 * test_outbound_dkim.c - DKIM relaxed canonicalization (RFC 6376 3.4.2,
 * 3.4.4, and the example of 3.4.5), fed whole and byte by byte, and the
 * shape of the signature field. The signature itself is checked by an
 * independent verifier (python3-dkim) in tests/integration.
 */
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <string.h>

#include "../../outbound/outbound.h"
#include "test.h"

static void to_buf(void *ctx, const char *p, size_t n)
{
	CHECK(buf_append(ctx, p, n) == 0);
}

static void test_body_relaxed(void)
{
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
			struct ob_dkim_body b;
			ob_dkim_body_init(&b, to_buf, &out);
			size_t len = strlen(t[i].in);
			for (size_t off = 0; off < len; off += chunk)
				ob_dkim_body_feed(&b, t[i].in + off,
						  len - off < chunk ? len - off : chunk);
			ob_dkim_body_end(&b);
			CHECK_STR(out.data, t[i].want);
			buf_free(&out);
		}
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
		CHECK(ob_dkim_canon_header(t[i].in, strlen(t[i].in), &out) == 0);
		CHECK_STR(out.data, t[i].want);
		buf_free(&out);
	}
	struct buf out;
	CHECK(buf_init(&out, 100) == 0);
	CHECK(ob_dkim_canon_header("no colon", 8, &out) == -1);
	buf_free(&out);
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
	   {"relaxed header", test_header_relaxed}, {"signature field", test_sign_shape});
