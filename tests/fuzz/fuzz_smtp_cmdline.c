/*
 * fuzz_smtp_cmdline.c - libFuzzer harness for the SMTP command line
 * splitter (smtpd/smtp_parse.h). Properties: the verb and argument slices
 * lie inside the input, the verb is letters only, and a line with a control
 * byte is never accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size ? size : 1);
	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	struct smtp_cmdline cl;
	struct slice in = {line, size};
	enum smtp_cmdline_result r = smtp_cmdline_parse(in, &cl);
	bool control = false;
	for (size_t i = 0; i < size; i++)
		if ((data[i] < 0x20 && data[i] != '\t') || data[i] == 0x7f)
			control = true;
	if (control && r == SMTP_CMDLINE_OK)
		abort();
	if (r == SMTP_CMDLINE_OK) {
		if (cl.verb.ptr != line || cl.verb.len == 0 || cl.verb.len > SMTP_VERB_MAX)
			abort();
		for (size_t i = 0; i < cl.verb.len; i++) {
			char c = cl.verb.ptr[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
				abort();
		}
		if (cl.args.ptr < line || cl.args.ptr + cl.args.len > line + size)
			abort();
	}
	free(line);
	return 0;
}
