/*
 * main.c - runs every unit test suite and prints "N passed, N failed".
 *
 * `build/test-unit` runs all; `build/test-unit NAME` runs the suites or
 * tests whose name contains NAME. Suites are declared here, one line each.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

struct test_state test_state;

/* Each room lists its suites in its own header, so rooms never edit the
 * same line: suites_<room>.h defines <ROOM>_SUITES(X) as X(name) X(name)... */
#include "suites_common.h"
#include "suites_outbound.h"
#include "suites_pop3d.h"
#include "suites_rules.h"
#include "suites_smtpd.h"
#include "suites_store.h"
#include "suites_trust.h"
#include "suites_webadmin.h"

#define SUITES(X)                                                             \
	COMMON_SUITES(X) STORE_SUITES(X) SMTPD_SUITES(X) POP3D_SUITES(X)      \
	WEBADMIN_SUITES(X) OUTBOUND_SUITES(X) RULES_SUITES(X) TRUST_SUITES(X)

#define DECLARE(n) extern const struct test_suite n##_suite;
SUITES(DECLARE)
#define LIST(n) &n##_suite,
static const struct test_suite *const suites[] = {SUITES(LIST) NULL};

char *test_tmpdir(void)
{
	char tmpl[] = "/tmp/mailroom-unit-XXXXXX";
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	return strdup(tmpl);
}

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void test_rmtree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int passed = 0, failed = 0;

	for (size_t s = 0; suites[s] != NULL; s++) {
		const struct test_suite *suite = suites[s];
		for (const struct test_case *c = suite->cases; c->name; c++) {
			if (filter && !strstr(suite->name, filter) &&
			    !strstr(c->name, filter))
				continue;
			test_state.checks_failed = 0;
			test_state.label = NULL;
			c->fn();
			if (test_state.checks_failed == 0) {
				passed++;
			} else {
				failed++;
				fprintf(stderr, "FAIL %s.%s\n", suite->name, c->name);
			}
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
