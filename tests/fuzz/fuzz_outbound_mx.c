/*
 * fuzz_outbound_mx.c - libFuzzer harness for MX answer handling: the raw
 * bytes of a DNS response go through the same function the queue runner
 * uses (ob_mx_parse: ares_parse_mx_reply, then our filtering and sorting).
 *
 * Checks: never more than OB_MX_MAX hosts, every name a NUL-terminated
 * lowercase host name without "..", preferences in non-decreasing order,
 * no duplicates; a second parse with the same seed gives the same list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../outbound/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535)
		return 0;
	struct ob_mx_list a, b;
	enum ob_mx_status st = ob_mx_parse(data, (int)size, 7, &a);
	if (ob_mx_parse(data, (int)size, 7, &b) != st)
		abort();
	if (st != OB_MX_OK) {
		if (a.n != 0 && st != OB_MX_NULL && st != OB_MX_BAD)
			abort();
		return 0;
	}
	if (a.n == 0 || a.n > OB_MX_MAX || memcmp(&a, &b, sizeof a) != 0)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		const char *n = a.hosts[i].name;
		size_t len = strnlen(n, sizeof a.hosts[i].name);
		if (len == 0 || len >= sizeof a.hosts[i].name || strstr(n, "..") ||
		    n[0] == '.')
			abort();
		for (size_t k = 0; k < len; k++)
			if (n[k] >= 'A' && n[k] <= 'Z')
				abort();
		if (i > 0 && a.hosts[i - 1].preference > a.hosts[i].preference)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(a.hosts[j].name, n) == 0)
				abort();
	}
	return 0;
}
