/*
 * fuzz_trust_psl.c - libFuzzer harness for the Public Suffix List reader
 * and its organizational domains (trust/psl.c).
 *
 * Input: the list text up to the first NUL byte, then names to look up,
 * one a line. With no NUL, the names are made from the list's own first
 * lines ("x.y." before each rule's domain part), so that lookups meet the
 * rules the fuzzer writes.
 *
 * Invariants beyond "no crash, no leak":
 * - a refused list says why (err set); an accepted one has at least one
 *   rule and no more rules than lines;
 * - the organizational domain of a name (trailing dots dropped, at most
 *   TRUST_DOMAIN_MAX long) is a lowercase suffix of it that starts at a
 *   label, never empty when the name is not, NUL-terminated in the buffer;
 * - it is its own organizational domain (asking again changes nothing);
 * - a small output buffer gets a NUL-terminated prefix of the full answer;
 * - caps: an input starting with "//caps" is also parsed padded with blank
 *   lines to exactly TRUST_PSL_RULES_MAX lines (accepted, the same rules)
 *   and to one line more (refused whole, with a reason).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/trust.h"

#define NAMES_MAX 16
#define NAME_MAX_LEN 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const struct trust_psl *p, const char *name)
{
	char org[TRUST_DOMAIN_MAX + 1];
	memset(org, 'X', sizeof org);
	trust_psl_org_domain(p, name, org, sizeof org);
	size_t ol = strnlen(org, sizeof org);
	if (ol == sizeof org)
		abort(); /* not terminated */
	size_t nl = strlen(name);
	while (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (nl > TRUST_DOMAIN_MAX)
		return; /* not a domain name: only "no crash" holds */
	if (ol > nl || (nl > 0 && ol == 0))
		abort();
	for (size_t i = 0; i < ol; i++)
		if (org[i] != (char)tolower((unsigned char)name[nl - ol + i]))
			abort();
	if (ol < nl && name[nl - ol - 1] != '.')
		abort(); /* cut inside a label */

	char again[TRUST_DOMAIN_MAX + 1];
	trust_psl_org_domain(p, org, again, sizeof again);
	if (strcmp(again, org) != 0)
		abort();

	char small[8];
	trust_psl_org_domain(p, name, small, sizeof small);
	size_t sl = strnlen(small, sizeof small);
	if (sl == sizeof small || strncmp(small, org, sl) != 0 ||
	    sl != (ol < sizeof small ? ol : sizeof small - 1))
		abort();
}

/* "x.y." and the domain part of the rule on line l[0..n) (after "!" or
 * "*."), cut at white space. */
static void name_from_rule(const char *l, size_t n, char *out, size_t cap)
{
	if (n > 0 && l[0] == '!')
		l++, n--;
	else if (n > 1 && l[0] == '*' && l[1] == '.')
		l += 2, n -= 2;
	size_t e = 0;
	while (e < n && l[e] != ' ' && l[e] != '\t' && l[e] != '\r')
		e++;
	if (e > cap - 5)
		e = cap - 5;
	memcpy(out, "x.y.", 4);
	memcpy(out + 4, l, e);
	out[4 + e] = '\0';
}

/* The list padded with blank lines to TRUST_PSL_RULES_MAX lines and one
 * more: the line cap is where a list is refused, and padding changes no
 * rule. Only for inputs that ask (a 64 KB parse costs). */
static void check_caps(const char *list, size_t len, size_t lines, size_t rules)
{
	if (lines >= TRUST_PSL_RULES_MAX)
		return;
	size_t pad = TRUST_PSL_RULES_MAX - lines;
	char *big = malloc(len + pad + 1);
	if (big == NULL)
		return;
	memcpy(big, list, len);
	memset(big + len, '\n', pad + 1);
	char err[256];
	err[0] = '\0';
	struct trust_psl *p = trust_psl_parse(big, len + pad, err, sizeof err);
	if (p == NULL || trust_psl_rules(p) != rules)
		abort();
	trust_psl_free(&p);
	if (trust_psl_parse(big, len + pad + 1, err, sizeof err) != NULL ||
	    err[0] == '\0')
		abort();
	free(big);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t list_len = nul ? (size_t)(nul - in) : size;

	char err[256];
	err[0] = '\0';
	struct trust_psl *p = trust_psl_parse(in, list_len, err, sizeof err);
	if (p == NULL) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	size_t lines = 1;
	for (size_t i = 0; i < list_len; i++)
		lines += in[i] == '\n';
	size_t rules = trust_psl_rules(p);
	if (rules == 0 || rules > lines)
		abort();
	if (list_len >= 6 && memcmp(in, "//caps", 6) == 0)
		check_caps(in, list_len, lines, rules);

	char name[NAME_MAX_LEN + 1];
	const char *l = nul ? nul + 1 : in;
	const char *end = nul ? in + size : in + list_len;
	for (int k = 0; k < NAMES_MAX && l < end; k++) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(end - l);
		if (nul) {
			size_t c = n < NAME_MAX_LEN ? n : NAME_MAX_LEN;
			memcpy(name, l, c);
			name[c] = '\0'; /* a NUL inside ends the name early */
		} else {
			name_from_rule(l, n, name, sizeof name);
		}
		check_name(p, name);
		l += n + 1;
	}
	trust_psl_free(&p);
	if (p != NULL)
		abort();
	return 0;
}
