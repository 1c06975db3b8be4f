/*
 * test.h - the tiny table-driven unit test harness.
 *
 * A test file defines `static void test_x(void)` functions and registers
 * them in its suite array; tests/unit/main.c runs every suite. CHECK()
 * records a failure with file, line and the current case label, and goes
 * on, so one run shows every broken case. The runner ends with the line
 * "N passed, N failed" that CI reads.
 */
#ifndef MAILROOM_TEST_H
#define MAILROOM_TEST_H

#include <stdio.h>
#include <string.h>

struct test_state {
	int checks_failed; /* in the running test */
	const char *label; /* current table case, for messages */
};
extern struct test_state test_state;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			test_state.checks_failed++;                           \
			fprintf(stderr, "%s:%d: [%s] check failed: %s\n",     \
				__FILE__, __LINE__,                           \
				test_state.label ? test_state.label : "-",    \
				#cond);                                       \
		}                                                             \
	} while (0)

#define CHECK_STR(got, want)                                                  \
	do {                                                                  \
		const char *g_ = (got), *w_ = (want);                         \
		if (g_ == NULL || w_ == NULL || strcmp(g_, w_) != 0) {        \
			test_state.checks_failed++;                           \
			fprintf(stderr, "%s:%d: [%s] got \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__,                           \
				test_state.label ? test_state.label : "-",    \
				g_ ? g_ : "(null)", w_ ? w_ : "(null)");      \
		}                                                             \
	} while (0)

#define CHECK_INT(got, want)                                                  \
	do {                                                                  \
		long long g_ = (long long)(got), w_ = (long long)(want);      \
		if (g_ != w_) {                                               \
			test_state.checks_failed++;                           \
			fprintf(stderr, "%s:%d: [%s] %s = %lld, want %lld\n",  \
				__FILE__, __LINE__,                           \
				test_state.label ? test_state.label : "-",    \
				#got, g_, w_);                                \
		}                                                             \
	} while (0)

/*
 * CHECK_OUTPUT(rc, got, want, why): the two outcomes of a function that
 * writes a string on success (rc 0) or names a reason on refusal (rc -1).
 * A table gives `want` NULL for a refused case; shared so every
 * normalise/convert table checks both sides the same way.
 */
#define CHECK_OUTPUT(rc, got, want, why)                                      \
	do {                                                                  \
		if ((want) != NULL) {                                         \
			CHECK_INT(rc, 0);                                     \
			CHECK_STR(got, want);                                 \
		} else {                                                      \
			CHECK_INT(rc, -1);                                    \
			CHECK((why) != NULL);                                 \
		}                                                             \
	} while (0)

struct test_case {
	const char *name;
	void (*fn)(void);
};

/* Each test file exposes one of these, listed in main.c. */
struct test_suite {
	const char *name;
	const struct test_case *cases;
};

#define TEST_SUITE(sname, ...)                                                \
	static const struct test_case sname##_cases[] = {__VA_ARGS__,        \
							  {NULL, NULL}};      \
	const struct test_suite sname##_suite = {#sname, sname##_cases}

/* A private, empty temp directory for one test; removed by test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);

#endif
