/*
 * fuzz_addr.c - libFuzzer harness for mailbox and domain syntax.
 *
 * An accepted address must be in normal form: local@domain, ASCII
 * lowercase, none of the relay characters, within the RFC 5321 lengths,
 * and parsing its own normal form must give it back unchanged. The first
 * byte chooses whether UTF-8 local parts are allowed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normal(const struct addr *a, int flags)
{
	size_t ll = strlen(a->local), dl = strlen(a->domain);
	if (ll == 0 || ll > ADDR_LOCAL_MAX || dl == 0 || dl > 253)
		abort();
	if (strlen(a->full) != ll + 1 + dl || a->full[ll] != '@' ||
	    memcmp(a->full, a->local, ll) || strcmp(a->full + ll + 1, a->domain))
		abort();
	for (const char *p = a->full; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'A' && c <= 'Z') || c <= ' ' || c == 0x7f || c == '%' ||
		    c == '!' || c == '"' || c == '[' || c == ':' || c == '\\')
			abort();
		if (c >= 0x80 && (!(flags & ADDR_ALLOW_UTF8) || p >= a->full + ll))
			abort();
	}
	struct addr again;
	const char *why;
	if (addr_parse(a->full, strlen(a->full), flags, &again, &why) != 0 ||
	    strcmp(again.full, a->full) != 0)
		abort();
	if (!addr_domain_valid(a->domain, dl))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	int flags = (data[0] & 1) ? ADDR_ALLOW_UTF8 : 0;
	const char *s = (const char *)data + 1;
	size_t len = size - 1;

	struct addr a;
	const char *why = NULL;
	if (addr_parse(s, len, flags, &a, &why) == 0)
		check_normal(&a, flags);
	else if (why == NULL)
		abort();

	char dom[ADDR_DOMAIN_MAX + 1];
	why = NULL;
	if (addr_domain_normalise(s, len, dom, &why) == 0) {
		if (strlen(dom) != len || !addr_domain_valid(dom, len))
			abort();
	} else if (why == NULL) {
		abort();
	}
	return 0;
}
