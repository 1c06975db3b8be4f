/*
 * test_tls.c - the self-signed certificate and the server context, checked
 * the way a client sees them: handshakes with an in-memory OpenSSL client
 * over a BIO pair (TLS 1.3, TLS 1.2 with an AEAD suite, TLS 1.1 refused),
 * the certificate verified against itself for the configured host name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../../common/tls.h"
#include "test.h"

struct paths {
	char *dir;
	char cert[512], key[512];
};

static int make_pair(struct paths *p, const char *host, const char *sub)
{
	char err[256] = "";
	snprintf(p->cert, sizeof(p->cert), "%s/%s/cert.pem", p->dir, sub);
	snprintf(p->key, sizeof(p->key), "%s/%s/key.pem", p->dir, sub);
	int rc = tls_make_self_signed(host, p->cert, p->key, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "tls_make_self_signed: %s\n", err);
	return rc;
}

/*
 * Drive both ends until both finish or one fails. Returns 0 when the
 * handshake completed on both sides.
 */
static int handshake(SSL *client, SSL *server)
{
	int cdone = 0, sdone = 0;
	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(client);
			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
				return -1;
		}
		if (!sdone) {
			int r = SSL_do_handshake(server);
			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
				return -1;
		}
	}
	return cdone && sdone ? 0 : -1;
}

/* Connect a client made from cctx to a server from sctx; 0 on success.
 * describe_r gets tls_describe() of the server side. */
static int try_connect(SSL_CTX *sctx, SSL_CTX *cctx, const char *host,
		       char *describe_r, size_t dlen, long *verify_r)
{
	SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
	BIO *sb = NULL, *cb = NULL;
	CHECK(BIO_new_bio_pair(&sb, 0, &cb, 0) == 1);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (host != NULL) {
		SSL_set_tlsext_host_name(c, host);
		SSL_set1_host(c, host);
	}
	int rc = handshake(c, s);
	if (describe_r != NULL)
		tls_describe(rc == 0 ? s : NULL, describe_r, dlen);
	if (verify_r != NULL)
		*verify_r = SSL_get_verify_result(c);
	if (rc == 0) {
		/* and data flows both ways */
		char buf[8] = "";
		CHECK(SSL_write(c, "EHLO", 4) == 4);
		CHECK(SSL_read(s, buf, sizeof(buf)) == 4);
		CHECK(memcmp(buf, "EHLO", 4) == 0);
	}
	SSL_free(c);
	SSL_free(s);
	ERR_clear_error();
	return rc;
}

static SSL_CTX *client_ctx(int min, int max)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_security_level(c, 0);
	SSL_CTX_set_cipher_list(c, "ALL:@SECLEVEL=0");
	SSL_CTX_set_min_proto_version(c, min);
	SSL_CTX_set_max_proto_version(c, max);
	return c;
}

static void test_selfsigned_files(void)
{
	struct paths p = {test_tmpdir(), "", ""};
	CHECK(make_pair(&p, "mail.example.test", "tls") == 0);
	struct stat st;
	CHECK(stat(p.key, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK(stat(p.cert, &st) == 0 && (st.st_mode & 0777) == 0644);

	FILE *f = fopen(p.cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(x != NULL);
	if (x != NULL) {
		CHECK_INT(X509_get_version(x), X509_VERSION_3);
		CHECK(X509_check_host(x, "mail.example.test", 0, 0, NULL) == 1);
		CHECK(X509_check_host(x, "other.example.test", 0, 0, NULL) != 1);
		char cn[300] = "";
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					  NID_commonName, cn, sizeof(cn));
		CHECK_STR(cn, "mail.example.test");
		/* about ten years */
		int days = 0, secs = 0;
		CHECK(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
				     X509_get0_notAfter(x)) == 1);
		CHECK(days >= 3650 && days <= 3652);
		EVP_PKEY *pub = X509_get0_pubkey(x);
		CHECK(pub != NULL && EVP_PKEY_is_a(pub, "EC"));
		char group[32] = "";
		size_t gl = 0;
		EVP_PKEY_get_utf8_string_param(pub, "group", group,
					       sizeof(group), &gl);
		CHECK_STR(group, "prime256v1");
		CHECK_INT(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
		X509_free(x);
	}

	/* a host name longer than a CN may be still goes into the SAN */
	const char *longname = "a-very-long-host-name-for-the-certificate.example."
			       "mail-servers.example.test";
	CHECK(strlen(longname) > 64);
	CHECK(make_pair(&p, longname, "long") == 0);
	f = fopen(p.cert, "r");
	x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(x != NULL && X509_check_host(x, longname, 0, 0, NULL) == 1);
	X509_free(x);

	/* an IP address gets an IP SAN */
	CHECK(make_pair(&p, "127.0.0.1", "ip") == 0);
	f = fopen(p.cert, "r");
	x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	CHECK(x != NULL && X509_check_ip_asc(x, "127.0.0.1", 0) == 1);
	X509_free(x);

	/* an unusable host name is refused before OpenSSL sees it */
	char err[256] = "";
	CHECK(tls_make_self_signed("a.test,DNS:evil.test", p.cert, p.key, err,
				   sizeof(err)) == -1);
	CHECK_STR(err, "'a.test,DNS:evil.test' is not a host name");
	CHECK(tls_make_self_signed("a:b.test", p.cert, p.key, err,
				   sizeof(err)) == -1);
	/* a folder that cannot be made */
	CHECK(tls_make_self_signed("a.test", "/proc/nope/x/cert.pem",
				   "/proc/nope/x/key.pem", err,
				   sizeof(err)) == -1);
	CHECK(strstr(err, "cannot create") != NULL);
	test_rmtree(p.dir);
	free(p.dir);
}

static void test_handshakes(void)
{
	struct paths p = {test_tmpdir(), "", ""};
	char err[256] = "", desc[128];
	long verify = -1;
	CHECK(make_pair(&p, "mail.example.test", "tls") == 0);
	SSL_CTX *sctx = tls_server_ctx_new(p.cert, p.key, err, sizeof(err));
	CHECK(sctx != NULL);
	if (sctx == NULL) {
		fprintf(stderr, "tls_server_ctx_new: %s\n", err);
		goto out;
	}
	CHECK_INT(SSL_CTX_get_min_proto_version(sctx), TLS1_2_VERSION);
	CHECK(SSL_CTX_get_options(sctx) & SSL_OP_NO_COMPRESSION);
	CHECK(SSL_CTX_get_options(sctx) & SSL_OP_NO_RENEGOTIATION);
	CHECK(SSL_CTX_get_options(sctx) & SSL_OP_CIPHER_SERVER_PREFERENCE);

	/* TLS 1.3, certificate verified against itself for the host name */
	SSL_CTX *c13 = client_ctx(TLS1_3_VERSION, TLS1_3_VERSION);
	X509_STORE *store = SSL_CTX_get_cert_store(c13);
	CHECK(X509_STORE_load_file(store, p.cert) == 1);
	SSL_CTX_set_verify(c13, SSL_VERIFY_PEER, NULL);
	test_state.label = "tls1.3";
	CHECK(try_connect(sctx, c13, "mail.example.test", desc, sizeof(desc),
			  &verify) == 0);
	CHECK(strncmp(desc, "TLSv1.3 TLS_", 12) == 0);
	CHECK_INT(verify, X509_V_OK);
	/* the wrong name fails verification */
	test_state.label = "tls1.3 wrong host";
	CHECK(try_connect(sctx, c13, "other.example.test", NULL, 0, &verify) ==
	      -1);
	SSL_CTX_free(c13);

	/* TLS 1.2 gets a forward-secret AEAD suite */
	SSL_CTX *c12 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	test_state.label = "tls1.2";
	CHECK(try_connect(sctx, c12, NULL, desc, sizeof(desc), NULL) == 0);
	CHECK(strncmp(desc, "TLSv1.2 ECDHE-", 14) == 0);
	CHECK(strstr(desc, "GCM") != NULL || strstr(desc, "CHACHA20") != NULL);
	SSL_CTX_free(c12);

	/* TLS 1.2 client offering only CBC / non-PFS suites is refused */
	SSL_CTX *cbc = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION);
	SSL_CTX_set_cipher_list(cbc, "AES128-SHA:ECDHE-ECDSA-AES128-SHA:"
				     "AES128-GCM-SHA256:@SECLEVEL=0");
	test_state.label = "tls1.2 weak suites";
	CHECK(try_connect(sctx, cbc, NULL, NULL, 0, NULL) == -1);
	SSL_CTX_free(cbc);

	/* TLS 1.1 and 1.0 are refused */
	SSL_CTX *c11 = client_ctx(TLS1_VERSION, TLS1_1_VERSION);
	test_state.label = "tls1.1";
	CHECK(try_connect(sctx, c11, NULL, desc, sizeof(desc), NULL) == -1);
	CHECK_STR(desc, "none");
	SSL_CTX_free(c11);
	test_state.label = NULL;
	SSL_CTX_free(sctx);
out:
	test_rmtree(p.dir);
	free(p.dir);
}

static void test_ctx_errors(void)
{
	struct paths a = {test_tmpdir(), "", ""}, b = {a.dir, "", ""};
	char err[1200] = "", want[1200];
	CHECK(make_pair(&a, "a.example.test", "a") == 0);
	CHECK(make_pair(&b, "b.example.test", "b") == 0);

	/* key of another certificate */
	CHECK(tls_server_ctx_new(a.cert, b.key, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want),
		 "private key %s does not match certificate %s", b.key, a.cert);
	CHECK_STR(err, want);

	/* missing files */
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/none.pem", a.dir);
	CHECK(tls_server_ctx_new(missing, a.key, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "certificate %s: No such file or directory",
		 missing);
	CHECK_STR(err, want);
	CHECK(tls_server_ctx_new(a.cert, missing, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want), "private key %s: No such file or directory",
		 missing);
	CHECK_STR(err, want);

	/* a file that is not PEM */
	FILE *f = fopen(missing, "w");
	fputs("not a certificate\n", f);
	fclose(f);
	CHECK(tls_server_ctx_new(missing, a.key, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "cannot load certificate ", 24) == 0);
	CHECK(tls_server_ctx_new(a.cert, missing, err, sizeof(err)) == NULL);
	CHECK(strncmp(err, "cannot load private key ", 24) == 0);
	CHECK(ERR_peek_error() == 0); /* no stale errors left queued */

	/* the good pair still loads */
	SSL_CTX *ok = tls_server_ctx_new(a.cert, a.key, err, sizeof(err));
	CHECK(ok != NULL);
	SSL_CTX_free(ok);
	test_rmtree(a.dir);
	free(a.dir);
}

static void test_describe_null(void)
{
	char d[16];
	tls_describe(NULL, d, sizeof(d));
	CHECK_STR(d, "none");
}

TEST_SUITE(tls, {"selfsigned_files", test_selfsigned_files},
	   {"handshakes", test_handshakes}, {"ctx_errors", test_ctx_errors},
	   {"describe_null", test_describe_null});
