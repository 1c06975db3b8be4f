/*
 * pop3_parse.h - splitting one POP3 command line into keyword and
 * arguments, and the strict number syntax of message numbers.
 *
 * Pure functions over slices (no allocation), so the command parser is
 * unit-tested from a table and fuzzed on its own (tests/fuzz/fuzz_pop3_parse.c).
 * RFC 1939 3: a keyword is 3-4 printable ASCII characters, case-insensitive;
 * arguments are separated by single spaces. We accept runs of spaces
 * between arguments and trailing spaces (clients do send them), and refuse
 * control characters anywhere, so no NUL or CR can hide inside a name.
 */
#ifndef MAILROOM_POP3_PARSE_H
#define MAILROOM_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define POP3_KEYWORD_MAX 4
#define POP3_ARGS_MAX 2

struct pop3_cmdline {
	char keyword[POP3_KEYWORD_MAX + 1]; /* uppercased */
	struct slice rest;                  /* after the keyword's space */
};

/* 0, or -1 with a reason for the "-ERR" line in *error_r. */
int pop3_parse_line(struct slice line, struct pop3_cmdline *out,
		    const char **error_r) __attribute__((warn_unused_result));
/*
 * Split rest into at most max space-separated words. Returns the number
 * of words, or -1 when there are more than max.
 */
int pop3_parse_args(struct slice rest, struct slice *argv, size_t max);
/* A message number: 1..POP3_MAILDROP_MAX digits only. 0 or -1. */
int pop3_parse_msgnum(struct slice s, uint32_t *n_r)
	__attribute__((warn_unused_result));
/* A line count for TOP: 0..2^31-1, digits only. 0 or -1. */
int pop3_parse_count(struct slice s, uint32_t *n_r)
	__attribute__((warn_unused_result));

/* SASL base64 is common/base64.h's strict decoder. */
#include "../common/base64.h"

#endif
