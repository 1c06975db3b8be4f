/*
 * tls_selfsigned.c - the certificate `mailroomctl init` makes so every TLS
 * listener works from the first start, until the admin installs a real one.
 *
 * EC P-256 key, X.509 v3, CN and subjectAltName = the configured host name
 * (IP:... when it is an address; a CN over 64 octets is replaced by a
 * fixed text, clients only match the SAN), 10 years, SHA-256, serverAuth only.
 * SECURITY: the key file is created 0600 by mkstemp in the target folder
 * and renamed into place, so it is never readable by others, not even for
 * a moment, and a crash never leaves half a key under the real name. The
 * host name is checked (LDH or numeric) before it goes into OpenSSL's
 * extension syntax, so it cannot smuggle in extra SAN entries.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "limits.h"

#define CERT_DAYS 3650

#define CN_MAX 64 /* RFC 5280 ub-common-name */

/* A DNS name (letters, digits, '-', '.') or a numeric IP address. */
static bool name_ok(const char *h, bool *is_ip_r)
{
	unsigned char ip[16];
	size_t len = strlen(h);
	*is_ip_r = inet_pton(AF_INET, h, ip) == 1 ||
		   inet_pton(AF_INET6, h, ip) == 1;
	if (*is_ip_r)
		return true;
	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	for (const char *p = h; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	}
	return true;
}

static void ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s: %s", what, reason ? reason : "OpenSSL error");
	ERR_clear_error();
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static X509 *make_cert(const char *hostname, bool is_ip, EVP_PKEY *key,
		       char *err, size_t errlen)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	if (x == NULL || bn == NULL)
		goto fail;
	/* A random positive 127-bit serial, as RFC 5280 4.1.2.2 asks. */
	if (BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto fail;
	/* Clients match the SAN; the CN is for people and is capped at 64. */
	const char *cn = strlen(hostname) <= CN_MAX ? hostname
						    : "Mailroom self-signed";
	X509_NAME *name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto fail;

	char san[HOSTNAME_MAX + 8];
	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", hostname);
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0)
		goto fail;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	ossl_err(err, errlen, "cannot build certificate");
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/*
 * Write a PEM object to path atomically: a mkstemp file in the same folder
 * (mode 0600 from birth), chmod to mode, fsync, rename. which: 0 key, 1 cert.
 */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *x,
		     char *err, size_t errlen)
{
	char tmp[4096];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0) {
		snprintf(err, errlen, "cannot chmod %s: %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, x);
	if (ok != 1) {
		ossl_err(err, errlen, "cannot write PEM");
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename to %s: %s", path,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Make the folder that holds path if it is missing (one level, 0755). */
static int make_parent(const char *path, char *err, size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL || slash == path)
		return 0;
	size_t len = (size_t)(slash - path);
	if (len >= sizeof(dir)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int tls_make_self_signed(const char *hostname, const char *cert_path,
			 const char *key_path, char *err, size_t errlen)
{
	bool is_ip;
	if (!name_ok(hostname, &is_ip)) {
		snprintf(err, errlen, "'%s' is not a host name", hostname);
		return -1;
	}
	if (make_parent(key_path, err, errlen) < 0 ||
	    make_parent(cert_path, err, errlen) < 0)
		return -1;

	ERR_clear_error();
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (key == NULL) {
		ossl_err(err, errlen, "cannot make EC P-256 key");
		return -1;
	}
	X509 *x = make_cert(hostname, is_ip, key, err, errlen);
	int ret = -1;
	if (x != NULL && write_pem(key_path, 0600, key, NULL, err, errlen) == 0 &&
	    write_pem(cert_path, 0644, NULL, x, err, errlen) == 0)
		ret = 0;
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}
