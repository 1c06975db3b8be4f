/*
 * fuzz_trust_spf.c - libFuzzer harness for the SPF record parser and macro
 * expansion (trust/spf_record.c, trust/spf_macro.c).
 *
 * Invariants beyond "no crash": a parsed record has at most
 * TRUST_SPF_TERMS_MAX terms, every domain slice lies inside the input,
 * CIDR lengths are in range, redirect/exp indexes point at such terms;
 * a macro-string that is valid expands (or fails) without writing past the
 * output, its result is NUL-terminated, and a domain expansion is at most
 * 253 octets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/spf_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	struct trust_spf_record *r = malloc(sizeof *r);
	const char *err = NULL;
	int rc = trust_spf_record_parse(in, size, r, &err);
	if (rc < 0 && err == NULL)
		abort();
	if (rc == 1) {
		if (r->n_terms > TRUST_SPF_TERMS_MAX)
			abort();
		for (size_t i = 0; i < r->n_terms; i++) {
			const struct trust_spf_term *t = &r->terms[i];
			if (t->domain.len && (t->domain.ptr < in ||
					      t->domain.ptr + t->domain.len > in + size))
				abort();
			if (t->cidr4 > 32 || t->cidr6 > 128)
				abort();
		}
		if (r->redirect >= (int)r->n_terms || r->exp >= (int)r->n_terms)
			abort();
		if (r->redirect >= 0 && r->terms[r->redirect].kind != SPF_T_REDIRECT)
			abort();
	}
	struct spf_macro_env e = {
		.local = "first.last", .sender_domain = "example.com",
		.domain = "sub.example.com", .helo = "mx.example.net",
		.receiver = "mail.example.org", .p = "unknown", .family = AF_INET,
		.now = 1800000000,
	};
	e.ip.s6_addr[10] = e.ip.s6_addr[11] = 0xff;
	e.ip.s6_addr[12] = 192;
	e.ip.s6_addr[15] = 7;
	struct slice s = {in, size};
	for (int exp = 0; exp < 2; exp++) {
		if (!trust_spf_macro_valid(s, exp))
			continue;
		char out[TRUST_DOMAIN_MAX + 3];
		out[sizeof out - 1] = 'G'; /* guard */
		if (spf_macro_expand(&e, s, exp, out, sizeof out - 1) == 0) {
			size_t n = strnlen(out, sizeof out - 1);
			if (n >= sizeof out - 1 || (!exp && n > 253))
				abort();
		}
		if (out[sizeof out - 1] != 'G')
			abort();
	}
	free(r);
	free(in);
	return 0;
}
