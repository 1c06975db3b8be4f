/*
 * test_password.c - password hashing and verification, including hashes
 * made by other tools (mkpasswd from Debian's whois, openssl passwd), run
 * with fork/exec and pipes so the password never touches a command line.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../store/store.h"
#include "test.h"

static const char PASSWORD[] = "Tr0ub4dor&3";

/* Hashes of PASSWORD made once by mkpasswd and openssl passwd. */
static const struct {
	const char *label;
	const char *hash;
} fixed[] = {
	{"yescrypt", "$y$j9T$KOGq6WxU5WXUgGyFAAVI2.$bTpKnCfy75iV/5iJeUOE1j9uKaeFEK1RdJE0HBFHNjA"},
	{"sha512crypt", "$6$J6MzeJGbEuIqpCRu$OIcSl51xdyNAhKw0MZimni8YbSkmolnlfMkqL.Ip0.Rea669J71ja..jbdAbb77Ex8LvQsg8H/t2KnBOuTvjQ/"},
	{"bcrypt", "$2b$05$8r9zjkQ.uViixdqxW557jeBMW/96dF21.b5qmbvTOJh0CrdJEO3u."},
	{"sha256crypt", "$5$M0i5sJ9XBAtMHzA0$JoMvvjzLuZ7XDIwKp/Ax3OYw5NYzUbKdkwFm1Zu7U74"},
	{"openssl -6", "$6$wdbVU979W9B20bUa$pUgNekxjaQGxfo0xppwoUmlNrP3JbiKekTrsMcU1kVETX48d6tWuhGRvQTySqoBYJcRWNkHTf2Rok4Falyvlo0"},
};

static void test_fixed_hashes(void)
{
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		test_state.label = fixed[i].label;
		CHECK(store_password_hash_valid(fixed[i].hash));
		CHECK(store_password_verify(PASSWORD, fixed[i].hash));
		CHECK(!store_password_verify("Tr0ub4dor&4", fixed[i].hash));
		CHECK(!store_password_verify("", fixed[i].hash));
		CHECK(!store_password_verify("tr0ub4dor&3", fixed[i].hash));
	}
}

/* Run argv with password on stdin; the tool's first line into out. */
static int run_tool(char *const argv[], const char *password, char *out,
		    size_t outlen)
{
	int in[2], res[2];
	if (pipe(in) < 0 || pipe(res) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(res[1], 1);
		close(in[0]);
		close(in[1]);
		close(res[0]);
		close(res[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(res[1]);
	size_t plen = strlen(password);
	if (write(in[1], password, plen) != (ssize_t)plen)
		plen = 0;
	close(in[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < outlen && (r = read(res[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(res[0]);
	out[strcspn(out, "\r\n")] = '\0';
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_other_tools(void)
{
	static char *const tools[][5] = {
		{"mkpasswd", "-m", "yescrypt", "-s", NULL},
		{"mkpasswd", "-m", "sha-512", "-s", NULL},
		{"mkpasswd", "-m", "bcrypt", "-s", NULL},
		{"mkpasswd", "-m", "bcrypt-a", "-s", NULL},
		{"mkpasswd", "-m", "sha-256", "-s", NULL},
		{"openssl", "passwd", "-6", "-stdin", NULL},
		{"openssl", "passwd", "-5", "-stdin", NULL},
	};
	static const char *const passwords[] = {
		"correct horse battery staple", "x", "pässwörd-ünïcode",
		"with\ttab and $dollar and 'quote'",
	};
	for (size_t t = 0; t < sizeof tools / sizeof tools[0]; t++) {
		for (size_t p = 0; p < sizeof passwords / sizeof passwords[0]; p++) {
			char hash[512];
			test_state.label = tools[t][2];
			int rc = run_tool(tools[t], passwords[p], hash, sizeof hash);
			CHECK_INT(rc, 0);
			CHECK(hash[0] == '$');
			CHECK(store_password_hash_valid(hash));
			CHECK(store_password_verify(passwords[p], hash));
			CHECK(!store_password_verify("wrong", hash));
		}
	}
}

static void test_hash_roundtrip(void)
{
	char h1[PASSWORD_HASH_MAX + 1], h2[PASSWORD_HASH_MAX + 1];
	CHECK_INT(store_password_hash("s3cret!", h1, sizeof h1), 0);
	CHECK_INT(store_password_hash("s3cret!", h2, sizeof h2), 0);
	CHECK(strncmp(h1, "$y$", 3) == 0);
	CHECK(strcmp(h1, h2) != 0); /* fresh salt each time */
	CHECK(store_password_hash_valid(h1));
	CHECK(store_password_verify("s3cret!", h1));
	CHECK(store_password_verify("s3cret!", h2));
	CHECK(!store_password_verify("s3cret", h1));
	CHECK(!store_password_verify("s3cret!!", h1));
	/* too small a buffer is refused, not cut */
	char small[20];
	CHECK(store_password_hash("s3cret!", small, sizeof small) != 0);
	/* over-long passwords are refused */
	char *big = malloc(PASSWORD_MAX + 2);
	memset(big, 'a', PASSWORD_MAX + 1);
	big[PASSWORD_MAX + 1] = '\0';
	CHECK(store_password_hash(big, h1, sizeof h1) != 0);
	free(big);
}

static void test_invalid_hashes(void)
{
	static const char *const bad[] = {
		"", "x", "plaintext-password", "$1$abcdefgh$0123456789abcdefghij..",
		"ab01234567890", /* DES */
		"$y$", "$6$", "$6$salt", "$y$j9T$bad hash with spaces$x",
		"*", "!", "!$6$J6MzeJGbEuIqpCRu$OIcSl51xdyNAhKw0MZimni8Y",
		"$7$unknown$xxxxxxxxxxxxxxxxxxx",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		test_state.label = bad[i];
		CHECK(!store_password_hash_valid(bad[i]));
		CHECK(!store_password_verify("", bad[i]));
		CHECK(!store_password_verify("x", bad[i]));
	}
	CHECK(!store_password_hash_valid(NULL));
	CHECK(!store_password_verify(NULL, fixed[0].hash));
}

TEST_SUITE(password, {"fixed_hashes", test_fixed_hashes},
	   {"other_tools", test_other_tools},
	   {"hash_roundtrip", test_hash_roundtrip},
	   {"invalid_hashes", test_invalid_hashes});
