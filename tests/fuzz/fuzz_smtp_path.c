/*
 * fuzz_smtp_path.c - libFuzzer harness for the MAIL/RCPT path and ESMTP
 * parameter parser and the SASL base64 decoder (smtpd/smtp_parse.h).
 * The first input byte chooses the prefix and the addr.h flags (bit 0
 * ADDR_ALLOW_UTF8, bit 1 "TO:", bit 2 ADDR_ALLOW_ULABEL: U-label domains
 * through libidn2); the rest is the command's argument text.
 * Properties: an accepted mailbox is NUL-terminated, lowercase ASCII or
 * UTF-8 only when allowed, never holds a relay character ('%', '!', '"',
 * '[', ':') or a second '@'; its domain is always ASCII LDH (a U-label
 * domain only comes back as A-labels), and the stored form parses again,
 * unchanged, as a plain ASCII-domain address: what reaches the store
 * re-validates. Parameter slices lie inside the input; base64 output never
 * exceeds 3/4 of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/addr.h"
#include "../../smtpd/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addr(const struct addr *a, int flags)
{
	size_t n = strnlen(a->full, sizeof(a->full));
	if (n == sizeof(a->full))
		abort();
	int ats = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a->full[i];
		if (c == '@')
			ats++;
		if (c == '%' || c == '!' || c == '"' || c == '[' || c == ':' ||
		    c == ' ' || c < 0x21 || (c >= 'A' && c <= 'Z'))
			abort();
		if (c >= 0x80 && !(flags & ADDR_ALLOW_UTF8))
			abort();
	}
	if (ats != 1)
		abort();
	/* the domain: ASCII letters, digits, '-' and '.', equal to a->domain */
	const char *at = strchr(a->full, '@');
	if (strcmp(at + 1, a->domain) != 0 ||
	    strspn(a->domain, "abcdefghijklmnopqrstuvwxyz0123456789-.") !=
		    strlen(a->domain))
		abort();
	/* the stored form is a fixed point: it parses again without
	 * ADDR_ALLOW_ULABEL (its domain is ASCII) to the same text */
	struct addr again;
	const char *err = NULL;
	if (addr_parse(a->full, n, flags & ADDR_ALLOW_UTF8, &again, &err) != 0 ||
	    strcmp(again.full, a->full) != 0 ||
	    strcmp(again.domain, a->domain) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int flags = ((data[0] & 1) ? ADDR_ALLOW_UTF8 : 0) |
		    ((data[0] & 4) ? ADDR_ALLOW_ULABEL : 0);
	const char *prefix = (data[0] & 2) ? "TO:" : "FROM:";
	char *buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	struct slice in = {buf, size - 1};
	struct smtp_path p;
	enum smtp_path_result r = smtp_path_parse(in, prefix, flags, &p);
	if (r == SMTP_PATH_OK)
		check_addr(&p.addr, flags);
	if (r == SMTP_PATH_OK || r == SMTP_PATH_NULL || r == SMTP_PATH_POSTMASTER) {
		if (p.n_params > SMTP_PARAMS_MAX)
			abort();
		for (size_t i = 0; i < p.n_params; i++) {
			const struct smtp_param *q = &p.params[i];
			if (q->key.ptr < buf || q->key.ptr + q->key.len > buf + size - 1 ||
			    q->value.ptr < buf || q->value.ptr + q->value.len > buf + size - 1)
				abort();
		}
		int64_t v;
		for (size_t i = 0; i < p.n_params; i++)
			if (smtp_parse_decimal(p.params[i].value, &v) == 0 && v < 0)
				abort();
	}
	unsigned char out[1024];
	long n = base64_decode(in, out, sizeof(out));
	if (n > 0 && (size_t)n > (size - 1) / 4 * 3)
		abort();
	free(buf);
	return 0;
}
