/*
 * sieve_int.h - librules' private Sieve syntax tree: what sieve_parse.c
 * builds from a script (RFC 5228 section 8 grammar) and sieve_import.c
 * turns into rules. Everything lives in one arena freed at once; the
 * parser caps nesting, node count and string size, so a script cannot
 * make it recurse or allocate without bound.
 */
#ifndef MAILROOM_SIEVE_INT_H
#define MAILROOM_SIEVE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIEVE_DEPTH_MAX 8       /* nested blocks and tests */
#define SIEVE_NODES_MAX 20000
#define SIEVE_STRING_MAX 16384  /* one string literal */
#define SIEVE_LIST_MAX 64       /* strings in a list, args, tests */
#define SIEVE_ARENA_MAX (16 * 1024 * 1024)

enum sieve_arg_kind {
	SIEVE_ARG_STRINGS, /* one string or a [list] */
	SIEVE_ARG_NUMBER,
	SIEVE_ARG_TAG, /* ":name", without the colon */
};

struct sieve_arg {
	enum sieve_arg_kind kind;
	int line;
	char **strs;
	size_t n;
	bool is_list; /* written with [ ] */
	int64_t num;
	char *tag;
};

/* A command or a test: name, arguments, then tests and/or a block. */
struct sieve_node {
	char *name;
	int line;
	char *comment; /* "# rule:[...]" text just before it, or NULL */
	struct sieve_arg *args;
	size_t nargs;
	struct sieve_node **tests;
	size_t ntests;
	bool test_list; /* tests written as ( a, b ) */
	struct sieve_node **block;
	size_t nblock;
	bool has_block;
};

struct sieve_arena;

struct sieve_script {
	struct sieve_arena *arena;
	struct sieve_node **cmds;
	size_t ncmds;
};

/* Parse script[0..len). 0, or -1 with "line N: why" in err. Free with
 * sieve_script_free either way. */
int sieve_parse(const char *script, size_t len, struct sieve_script *out,
		char *err, size_t errlen);
void sieve_script_free(struct sieve_script *s);

#endif
