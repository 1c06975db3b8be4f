/*
 * util.c - the helpers every mailroomctl verb uses: one-line errors, the
 * lazily opened store, input validation, password input and generation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../common/addr.h"
#include "cli.h"

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("mailroomctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

struct store *cli_store(struct cli *cli)
{
	if (cli->store != NULL)
		return cli->store;
	char path[CONFIG_PATH_MAX];
	char err[512];
	if (config_db_path(&cli->cfg, path, sizeof path) != 0) {
		cli_fail("data_dir is too long");
		return NULL;
	}
	if (access(path, F_OK) != 0) {
		cli_fail("no database at %s (run: mailroomctl -c %s init)", path,
			 cli->cfg.path);
		return NULL;
	}
	if (store_open(path, &cli->store, err, sizeof err) != STORE_OK) {
		cli_fail("cannot open %s: %s", path, err);
		cli->store = NULL;
		return NULL;
	}
	return cli->store;
}

int cli_store_fail(struct cli *cli, int rc, const char *what)
{
	switch (rc) {
	case STORE_NOTFOUND:
		return cli_fail("%s does not exist", what);
	case STORE_EXISTS:
		return cli_fail("%s already exists", what);
	case STORE_NOTEMPTY:
		return cli_fail("%s is not empty (use --force to delete it "
				"with everything in it)", what);
	case STORE_INVALID:
		return cli_fail("%s: refused (%s)", what,
				cli->store ? store_errmsg(cli->store) : "invalid");
	case STORE_BUSY:
		return cli_fail("%s: the database is busy, try again", what);
	case STORE_FULL:
		return cli_fail("%s: the disk is full", what);
	default:
		return cli_fail("%s: %s", what,
				cli->store ? store_errmsg(cli->store)
					   : store_result_text(rc));
	}
}

int cli_address(const char *in, char *out, size_t outlen)
{
	struct addr a;
	const char *why = "invalid";
	if (addr_parse(in, strlen(in), 0, &a, &why) != 0) {
		cli_fail("'%s' is not a valid address: %s", in, why);
		return -1;
	}
	if (strlen(a.full) >= outlen) {
		cli_fail("'%s' is too long", in);
		return -1;
	}
	memcpy(out, a.full, strlen(a.full) + 1);
	return 0;
}

int cli_domain(const char *in, char *out, size_t outlen)
{
	char d[ADDR_DOMAIN_MAX + 1];
	const char *why = "invalid";
	if (addr_domain_normalise(in, strlen(in), d, &why) != 0) {
		cli_fail("'%s' is not a valid domain: %s", in, why);
		return -1;
	}
	if (strlen(d) >= outlen) {
		cli_fail("'%s' is too long", in);
		return -1;
	}
	memcpy(out, d, strlen(d) + 1);
	return 0;
}

int64_t cli_parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	long long mult = 1;
	if (*end != '\0') {
		switch (*end) {
		case 'k': case 'K': mult = 1024LL; break;
		case 'm': case 'M': mult = 1024LL * 1024; break;
		case 'g': case 'G': mult = 1024LL * 1024 * 1024; break;
		default: return -1;
		}
		if (end[1] != '\0')
			return -1;
	}
	if (v > INT64_MAX / mult)
		return -1;
	return (int64_t)(v * mult);
}

int cli_read_password(char *dst, size_t dstlen)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	if (tty) {
		fputs("Password: ", stderr);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *got = fgets(dst, (int)dstlen, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (got == NULL)
		return cli_fail("no password on standard input");
	size_t n = strlen(dst);
	if (n > 0 && dst[n - 1] == '\n')
		dst[--n] = '\0';
	else if (n == dstlen - 1 && !feof(stdin))
		return cli_fail("password is longer than %zu characters",
				dstlen - 2);
	if (n > 0 && dst[n - 1] == '\r')
		dst[--n] = '\0';
	if (n == 0)
		return cli_fail("empty password refused");
	if (n < 8)
		return cli_fail("password too short: at least 8 characters");
	return 0;
}

int cli_random_password(char *dst, size_t dstlen)
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz"
				       "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const size_t len = 20, n = sizeof alphabet - 1;
	unsigned char r[64];
	if (dstlen < len + 1)
		return -1;
	size_t out = 0;
	while (out < len) {
		if (RAND_bytes(r, sizeof r) != 1)
			return -1;
		for (size_t i = 0; i < sizeof r && out < len; i++) {
			/* reject bytes that would bias the modulo */
			if (r[i] >= 256 - (256 % n))
				continue;
			dst[out++] = alphabet[r[i] % n];
		}
	}
	dst[out] = '\0';
	return 0;
}

void cli_audit(struct cli *cli, const char *action, const char *detail)
{
	if (cli->store)
		(void)store_audit_add(cli->store, cli->actor, action, detail);
}
