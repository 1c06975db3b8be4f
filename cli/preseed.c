/*
 * preseed.c - `mailroomctl preseed apply|show [FILE]`: a reseller's
 * first-start settings, applied once to an empty box.
 *
 * The file is INI like mailroom.conf ([domains] names; [admin] address,
 * password; [smarthost] host, user, password; [branding] product_name,
 * logo, support). It is parsed whole and every value checked before
 * anything is written, so a bad file changes nothing and fails with one
 * "FILE:LINE: what" line. It applies only when the store has no domain and
 * no account and the setting preseed.applied is absent; afterwards that
 * setting is set, so a second run (postinst on upgrade, every start of
 * mailroom-webadmin.service) does nothing.
 *
 * Without [admin] password a one-time setup code (20 characters from an
 * unambiguous alphabet) becomes the admin's first password: printed on
 * stdout for the sticker and kept in <data_dir>/setup-code (0600) for an
 * imaging script. SECURITY: the file may hold passwords; they are never
 * echoed by `show`.
 */
#include "preseed.h"

#include "../common/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRESEED_LINE_MAX 1024
#define PRESEED_DOMAINS_MAX 32
#define PRESEED_TEXT_MAX 256

struct preseed {
	char domains[PRESEED_DOMAINS_MAX][ADDR_DOMAIN_MAX + 1];
	size_t n_domains;
	char admin[ADDR_MAX + 1];
	char admin_password[PASSWORD_MAX + 1];
	char smarthost[PRESEED_TEXT_MAX];
	char smarthost_user[PRESEED_TEXT_MAX];
	char smarthost_password[PASSWORD_MAX + 1];
	char product_name[PRESEED_TEXT_MAX];
	char logo[PRESEED_TEXT_MAX];
	char support[PRESEED_TEXT_MAX];
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Printable text only: a value ends up in HTML and in SMTP settings. */
static int copy_value(const char *v, char *dst, size_t dstlen)
{
	size_t n = strlen(v);
	if (n >= dstlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

static int add_domains(struct preseed *p, char *v, char *why, size_t whylen)
{
	for (char *save = NULL, *tok = strtok_r(v, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (p->n_domains == PRESEED_DOMAINS_MAX) {
			snprintf(why, whylen, "more than %d domains",
				 PRESEED_DOMAINS_MAX);
			return -1;
		}
		const char *bad = "invalid";
		if (addr_domain_normalise(tok, strlen(tok),
					  p->domains[p->n_domains], &bad) != 0) {
			snprintf(why, whylen, "bad domain '%s': %s", tok, bad);
			return -1;
		}
		p->n_domains++;
	}
	return 0;
}

static int set_key(struct preseed *p, const char *sec, const char *key,
		   char *v, char *why, size_t whylen)
{
	struct {
		const char *sec, *key;
		char *dst;
		size_t size;
	} const plain[] = {
		{"admin", "password", p->admin_password, sizeof p->admin_password},
		{"smarthost", "host", p->smarthost, sizeof p->smarthost},
		{"smarthost", "user", p->smarthost_user, sizeof p->smarthost_user},
		{"smarthost", "password", p->smarthost_password,
		 sizeof p->smarthost_password},
		{"branding", "product_name", p->product_name,
		 sizeof p->product_name},
		{"branding", "logo", p->logo, sizeof p->logo},
		{"branding", "support", p->support, sizeof p->support},
	};
	if (strcmp(sec, "domains") == 0 && strcmp(key, "names") == 0)
		return add_domains(p, v, why, whylen);
	if (strcmp(sec, "admin") == 0 && strcmp(key, "address") == 0) {
		struct addr a;
		const char *bad = "invalid";
		if (addr_parse(v, strlen(v), 0, &a, &bad) != 0 ||
		    strlen(a.full) >= sizeof p->admin) {
			snprintf(why, whylen, "bad address '%s': %s", v, bad);
			return -1;
		}
		memcpy(p->admin, a.full, strlen(a.full) + 1);
		return 0;
	}
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
		if (strcmp(sec, plain[i].sec) != 0 || strcmp(key, plain[i].key) != 0)
			continue;
		if (copy_value(v, plain[i].dst, plain[i].size) != 0) {
			snprintf(why, whylen, "value of %s is too long or not "
					      "printable", key);
			return -1;
		}
		return 0;
	}
	snprintf(why, whylen, "unknown key '%s' in [%s]", key, sec);
	return -1;
}

/* Whole-file checks, after every line was read. */
static int check(const struct preseed *p, char *why, size_t whylen)
{
	if (p->admin[0] != '\0') {
		const char *at = strrchr(p->admin, '@');
		bool found = false;
		for (size_t i = 0; at && i < p->n_domains; i++)
			found |= strcmp(at + 1, p->domains[i]) == 0;
		if (!found) {
			snprintf(why, whylen, "[admin] address %s is not in one "
					      "of [domains] names", p->admin);
			return -1;
		}
	}
	if (p->smarthost[0] != '\0') {
		const char *colon = strrchr(p->smarthost, ':');
		char *end = NULL;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || colon == p->smarthost || *end != '\0' ||
		    port < 1 || port > 65535) {
			snprintf(why, whylen, "[smarthost] host must be "
					      "HOST:PORT, not '%s'", p->smarthost);
			return -1;
		}
	}
	if (p->logo[0] != '\0' && p->logo[0] != '/') {
		snprintf(why, whylen, "[branding] logo must be an absolute path");
		return -1;
	}
	return 0;
}

/* 0, 1 when the file does not exist (*missing), -1 with "FILE:LINE: why". */
static int parse(const char *path, struct preseed *p, char *err, size_t errlen)
{
	memset(p, 0, sizeof *p);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[PRESEED_LINE_MAX], sec[32] = "", why[768] = "";
	int lineno = 0, rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(why, sizeof why, "line too long");
			rc = -1;
			break;
		}
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close == NULL || close[1] != '\0' ||
			    (size_t)(close - s - 1) >= sizeof sec) {
				snprintf(why, sizeof why, "bad section line");
				rc = -1;
				break;
			}
			*close = '\0';
			snprintf(sec, sizeof sec, "%s", trim(s + 1));
			if (strcmp(sec, "domains") && strcmp(sec, "admin") &&
			    strcmp(sec, "smarthost") && strcmp(sec, "branding")) {
				snprintf(why, sizeof why, "unknown section [%s]", sec);
				rc = -1;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (eq == NULL || sec[0] == '\0') {
			snprintf(why, sizeof why, eq ? "key outside a section"
						     : "expected key = value");
			rc = -1;
			break;
		}
		*eq = '\0';
		rc = set_key(p, sec, trim(s), trim(eq + 1), why, sizeof why);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(why, sizeof why, "read error");
		rc = -1;
	}
	fclose(f);
	explicit_bzero(line, sizeof line);
	if (rc == 0 && check(p, why, sizeof why) != 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	if (rc != 0)
		snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
	return rc;
}

static int count_domain(void *ctx, const struct store_domain *d)
{
	(void)d;
	(*(int64_t *)ctx)++;
	return 0;
}

/* Write the setup code where an imaging script can pick it up (0600). */
static void save_setup_code(const struct cli *cli, const char *code)
{
	char path[CONFIG_PATH_MAX];
	if (snprintf(path, sizeof path, "%s/setup-code", cli->cfg.data_dir) >=
	    (int)sizeof path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	size_t n = strlen(code);
	if (write(fd, code, n) != (ssize_t)n || write(fd, "\n", 1) != 1)
		fprintf(stderr, "mailroomctl: could not write %s\n", path);
	close(fd);
}

static int set(struct cli *cli, const char *key, const char *value)
{
	if (value[0] == '\0')
		return 0;
	int rc = store_setting_set(cli->store, key, value);
	return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, key);
}

int cli_preseed_apply(struct cli *cli, const char *path)
{
	static struct preseed p; /* big; one per process */
	char err[2048];
	int prc = parse(path, &p, err, sizeof err);
	if (prc == 1) {
		printf("no preseed file %s: nothing to do\n", path);
		return 0;
	}
	if (prc != 0)
		return cli_fail("%s", err);
	if (cli_store(cli) == NULL)
		return 1;

	char when[32];
	int rc = store_setting_get(cli->store, PRESEED_APPLIED_KEY, when,
				   sizeof when);
	if (rc == STORE_OK) {
		printf("preseed already applied (%s %s): nothing to do\n",
		       PRESEED_APPLIED_KEY, when);
		return 0;
	}
	if (rc != STORE_NOTFOUND)
		return cli_store_fail(cli, rc, "settings");
	int64_t domains = 0, accounts = 0;
	if ((rc = store_domain_list(cli->store, count_domain, &domains)) != 0 ||
	    (rc = store_account_count(cli->store, STORE_ROLE_USER, &accounts)) != 0)
		return cli_store_fail(cli, rc, "store");
	if (domains > 0 || accounts > 0) {
		printf("box is not empty (%" PRId64 " domains, %" PRId64
		       " accounts): preseed not applied\n", domains, accounts);
		return 0;
	}

	for (size_t i = 0; i < p.n_domains; i++) {
		rc = store_domain_add(cli->store, p.domains[i]);
		if (rc != STORE_OK && rc != STORE_EXISTS)
			return cli_store_fail(cli, rc, p.domains[i]);
		printf("domain %s\n", p.domains[i]);
	}
	if (p.admin[0] != '\0') {
		char code[32] = "", hash[PASSWORD_HASH_MAX + 1];
		const char *password = p.admin_password;
		if (password[0] == '\0') {
			if (cli_random_password(code, sizeof code) != 0)
				return cli_fail("no random source for the setup code");
			password = code;
		}
		if (store_password_hash(password, hash, sizeof hash) != STORE_OK)
			return cli_fail("cannot hash the admin password");
		rc = store_account_add(cli->store, p.admin, hash, STORE_ROLE_ADMIN,
				       "Administrator", 0);
		explicit_bzero(hash, sizeof hash);
		if (rc != STORE_OK) {
			explicit_bzero(code, sizeof code);
			return cli_store_fail(cli, rc, p.admin);
		}
		printf("admin %s\n", p.admin);
		if (code[0] != '\0') {
			printf("setup code: %s   (the first password of %s: "
			       "print it on the box; change it at first login)\n",
			       code, p.admin);
			save_setup_code(cli, code);
			explicit_bzero(code, sizeof code);
		}
		if (set(cli, "preseed.admin", p.admin) != 0)
			return 1;
	}
	if (set(cli, "smarthost.host", p.smarthost) != 0 ||
	    set(cli, "smarthost.user", p.smarthost_user) != 0 ||
	    set(cli, "smarthost.password", p.smarthost_password) != 0 ||
	    set(cli, "branding.product_name", p.product_name) != 0 ||
	    set(cli, "branding.logo", p.logo) != 0 ||
	    set(cli, "branding.support", p.support) != 0)
		return 1;
	char now[32];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	if (set(cli, PRESEED_APPLIED_KEY, now) != 0)
		return 1;
	cli_audit(cli, "preseed", path);
	explicit_bzero(&p, sizeof p);
	printf("preseed %s applied\n", path);
	return 0;
}

/* `preseed show`: what would be set, passwords masked. */
static int show(const char *path)
{
	static struct preseed p;
	char err[2048];
	int rc = parse(path, &p, err, sizeof err);
	if (rc == 1)
		return cli_fail("no preseed file %s", path);
	if (rc != 0)
		return cli_fail("%s", err);
	for (size_t i = 0; i < p.n_domains; i++)
		printf("domain\t%s\n", p.domains[i]);
	if (p.admin[0])
		printf("admin\t%s\t%s\n", p.admin,
		       p.admin_password[0] ? "password set" : "setup code");
	if (p.smarthost[0])
		printf("smarthost\t%s\t%s\n", p.smarthost,
		       p.smarthost_user[0] ? p.smarthost_user : "-");
	printf("branding.product_name\t%s\nbranding.logo\t%s\n"
	       "branding.support\t%s\n",
	       p.product_name, p.logo, p.support);
	explicit_bzero(&p, sizeof p);
	return 0;
}

int cli_preseed_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || argc > 3 ||
	    (strcmp(argv[1], "apply") != 0 && strcmp(argv[1], "show") != 0))
		return cli_fail("usage: mailroomctl preseed apply|show [FILE]");
	const char *path = argc == 3 ? argv[2] : PRESEED_DEFAULT_PATH;
	if (strcmp(argv[1], "show") == 0)
		return show(path);
	return cli_preseed_apply(cli, path);
}
