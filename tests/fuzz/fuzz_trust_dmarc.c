/*
 * fuzz_trust_dmarc.c - libFuzzer harness for the DMARC record parser and
 * organizational domains (trust/dmarc.c).
 *
 * Invariants beyond "no crash": a valid record has policies in range and
 * pct in 0..100, an invalid one says why; the organizational domain of a
 * name is a lowercase suffix of it, at most as long, NUL-terminated.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	struct trust_dmarc_record r;
	const char *err = NULL;
	int rc = trust_dmarc_record_parse(in, size, &r, &err);
	if (rc == 1 && (r.p > TRUST_DMARC_P_REJECT || r.sp > TRUST_DMARC_P_REJECT ||
			r.pct < 0 || r.pct > 100))
		abort();
	if (rc < 0 && err == NULL)
		abort();
	free(in);

	char name[300];
	size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
	memcpy(name, data, n);
	name[n] = '\0';
	char org[TRUST_DOMAIN_MAX + 1];
	org[0] = 'X';
	trust_org_domain(name, org, sizeof org);
	size_t ol = strnlen(org, sizeof org), nl = strlen(name);
	if (ol == sizeof org)
		abort();
	while (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (ol > nl)
		abort();
	for (size_t i = 0; i < ol && ol < sizeof org - 1; i++)
		if (org[i] != (char)tolower((unsigned char)name[nl - ol + i]))
			abort();
	return 0;
}
