/*
 * fuzz_rules_sieve.c - libFuzzer harness for the Sieve importer (lexer,
 * parser and the conversion to rules).
 *
 * Invariants beyond "no crash": a refused script comes back with no set
 * and an error starting "line N: " (or one of the whole-script errors);
 * an accepted script's rules all pass validation, and exporting them and
 * importing the export gives rules that export to the very same text
 * (export -> import is lossless for anything the importer accepts).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules_set *set = NULL, *back = NULL;
	char err[256];
	err[0] = '\0';
	if (rules_sieve_import((const char *)data, size, &set, err, sizeof err) != 0) {
		if (set != NULL)
			abort();
		if (strncmp(err, "line ", 5) != 0 && strncmp(err, "script ", 7) != 0)
			abort();
		return 0;
	}
	for (size_t i = 0; i < set->n; i++)
		if (rules_rule_validate(set->rules[i], err, sizeof err) != 0)
			abort();
	struct buf a, b;
	if (buf_init(&a, 4 * RULES_SIEVE_MAX) != 0 ||
	    buf_init(&b, 4 * RULES_SIEVE_MAX) != 0)
		abort();
	if (rules_sieve_export(set, &a) != 0)
		abort();
	if (a.len <= RULES_SIEVE_MAX) {
		if (rules_sieve_import(a.data, a.len, &back, err, sizeof err) != 0)
			abort();
		if (rules_sieve_export(back, &b) != 0 || b.len != a.len ||
		    memcmp(a.data, b.data, a.len) != 0)
			abort();
	}
	buf_free(&a);
	buf_free(&b);
	rules_set_free(&set);
	rules_set_free(&back);
	return 0;
}
