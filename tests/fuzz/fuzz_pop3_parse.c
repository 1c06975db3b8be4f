/*
 * fuzz_pop3_parse.c - the POP3 command line parser (pop3d/pop3_parse.c)
 * and the command table lookup, plus the base64 decoder AUTH PLAIN uses.
 *
 * Invariants beyond "no crash": a parsed keyword is 1-4 uppercase letters,
 * the rest lies inside the input, split arguments are non-empty, hold no
 * space and stay inside the rest; numbers accepted are in range; base64
 * output is never longer than 3/4 of its input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pop3d/pop3_int.h"
#include "../../pop3d/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice line = {(const char *)data, size};
	struct pop3_cmdline cl;
	const char *err = NULL;
	if (pop3_parse_line(line, &cl, &err) == 0) {
		size_t k = strlen(cl.keyword);
		check(k >= 1 && k <= POP3_KEYWORD_MAX);
		for (size_t i = 0; i < k; i++)
			check(cl.keyword[i] >= 'A' && cl.keyword[i] <= 'Z');
		check(cl.rest.ptr >= line.ptr &&
		      cl.rest.ptr + cl.rest.len == line.ptr + line.len);
		const struct pop3_command *c = pop3_command_find(cl.keyword);
		if (c != NULL)
			check(strcmp(c->name, cl.keyword) == 0);
		struct slice argv[POP3_ARGS_MAX];
		int n = pop3_parse_args(cl.rest, argv, POP3_ARGS_MAX);
		check(n >= -1 && n <= POP3_ARGS_MAX);
		for (int i = 0; i < n; i++) {
			check(argv[i].len > 0);
			check(argv[i].ptr >= cl.rest.ptr &&
			      argv[i].ptr + argv[i].len <= cl.rest.ptr + cl.rest.len);
			check(memchr(argv[i].ptr, ' ', argv[i].len) == NULL);
			uint32_t v;
			if (pop3_parse_msgnum(argv[i], &v) == 0)
				check(v >= 1 && v <= POP3_MAILDROP_MAX);
			if (pop3_parse_count(argv[i], &v) == 0)
				check(v <= 0x7fffffffu);
		}
	} else {
		check(err != NULL);
	}
	unsigned char out[AUTH_LINE_MAX];
	long n = base64_decode(line, out, sizeof(out));
	check(n >= -1);
	if (n >= 0)
		check((size_t)n <= size / 4 * 3);
	return 0;
}
