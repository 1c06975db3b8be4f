/*
 * test_web_dkimrec.c - the DNS page's DKIM comparison: the same key in
 * other spacing or tag order matches, another key or kind does not; and
 * the wanted record for a key file (none, a key, a broken file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../webadmin/dkimrec.h"
#include "test.h"

static void test_matches(void)
{
	static const char want[] = "v=DKIM1; k=rsa; p=MIIBIjAN+/Bg==";
	static const struct {
		const char *label, *found;
		bool match;
	} cases[] = {
		{"same", "v=DKIM1; k=rsa; p=MIIBIjAN+/Bg==", true},
		{"spaces in p", "v=DKIM1; k=rsa; p=MIIB IjAN\t+/Bg==", true},
		{"order, no k", "p=MIIBIjAN+/Bg==; v=DKIM1", true},
		{"trailing ;", "v=DKIM1;k=rsa;p=MIIBIjAN+/Bg==;", true},
		{"other key", "v=DKIM1; k=rsa; p=MIIBIjAN+/Bh==", false},
		{"revoked", "v=DKIM1; k=rsa; p=", false},
		{"no p", "v=DKIM1; k=rsa", false},
		{"other kind", "v=DKIM1; k=ed25519; p=MIIBIjAN+/Bg==", false},
		{"tag name ends in p", "v=DKIM1; xp=MIIBIjAN+/Bg==", false},
		{"spf", "v=spf1 mx -all", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		CHECK(dkimrec_matches(cases[i].found, want) == cases[i].match);
	}
	test_state.label = "ed25519";
	CHECK(dkimrec_matches("v=DKIM1; k=ed25519; p=abc=",
			      "v=DKIM1; k=ed25519; p=abc="));
	CHECK(!dkimrec_matches("v=DKIM1; p=abc=", "v=DKIM1; k=ed25519; p=abc="));
}

static void test_wanted(void)
{
	char dir[] = "/tmp/mr-dkimrec-XXXXXX", sub[64], path[128];
	char name[300], txt[DKIMREC_TXT_MAX];
	const char *err = NULL;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof sub, "%s/dkim", dir);
	CHECK(mkdir(sub, 0700) == 0);
	test_state.label = "no key";
	CHECK(dkimrec_wanted(dir, "sel", "x.test", DKIMREC_RSA, name, sizeof name,
			     txt, &err) == 0);
	CHECK_STR(name, "sel._domainkey.x.test");
	test_state.label = "ed25519 key";
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	snprintf(path, sizeof path, "%s/x.test.ed25519.pem", sub);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL && k != NULL &&
	      PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1);
	if (f)
		fclose(f);
	CHECK(dkimrec_wanted(dir, "sel", "x.test", DKIMREC_ED25519, name,
			     sizeof name, txt, &err) == 1);
	CHECK_STR(name, "sel-ed25519._domainkey.x.test");
	CHECK(strncmp(txt, "v=DKIM1; k=ed25519; p=", 22) == 0 &&
	      strlen(txt) == 22 + 44);
	test_state.label = "a key of the other kind under the RSA name";
	char rsa[160];
	snprintf(rsa, sizeof rsa, "%s/x.test.pem", sub);
	CHECK(rename(path, rsa) == 0);
	CHECK(dkimrec_wanted(dir, "sel", "x.test", DKIMREC_RSA, name, sizeof name,
			     txt, &err) == -1);
	test_state.label = "not a key";
	f = fopen(rsa, "w");
	if (f) {
		fputs("hello\n", f);
		fclose(f);
	}
	CHECK(dkimrec_wanted(dir, "sel", "x.test", DKIMREC_RSA, name, sizeof name,
			     txt, &err) == -1);
	CHECK(err != NULL);
	unlink(rsa);
	rmdir(sub);
	rmdir(dir);
	EVP_PKEY_free(k);
}

TEST_SUITE(web_dkimrec, {"matches", test_matches}, {"wanted", test_wanted});
