/*
 * fuzz_trust_spamd.c - libFuzzer harness for what the spamd client reads
 * from the network and the admin (trust/spamd.c): the reply parser, the
 * rule-name cleaner, and the spamd address.
 *
 * Invariants beyond "no crash":
 * - reply: a refusal says why; a complete header section ends inside the
 *   input and within TRUST_SPAMD_HEAD_MAX, after an empty line; the status
 *   word is printable ASCII without quotes or backslashes; scores are
 *   within +-1,000,000 points; every shorter prefix answers "need more"
 *   or the same answer (same header length), never a different one;
 * - rule names: only [A-Za-z0-9_] and commas, no empty name, shorter than
 *   the buffer, and cleaning the result again changes nothing;
 * - address: an accepted one prints as text that parses to the same
 *   address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../trust/trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const char *in, size_t size)
{
	struct trust_spamd_reply r;
	const char *err = NULL;
	int rc = trust_spamd_reply_parse(in, size, &r, &err);
	if (rc < 0 && err == NULL)
		abort();
	if (rc == 1) {
		if (r.head_len > size || r.head_len > TRUST_SPAMD_HEAD_MAX ||
		    r.head_len < 2 || in[r.head_len - 1] != '\n')
			abort();
		if (r.score_tenths > 10000000 || r.score_tenths < -10000000 ||
		    r.required_tenths > 10000000 || r.required_tenths < -10000000)
			abort();
		if (r.code < 0 || r.code > 999)
			abort();
		for (const char *p = r.message; *p; p++)
			if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
				abort();
	}
	/* prefixes: a few, and the ones just before the end */
	size_t cuts[] = {size / 2, size / 3, size > 0 ? size - 1 : 0,
			 rc == 1 && r.head_len > 0 ? r.head_len - 1 : 0};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct trust_spamd_reply p;
		int prc = trust_spamd_reply_parse(in, cuts[i], &p, &err);
		if (prc != 0 && prc != rc)
			abort();
		if (prc == 1 && p.head_len != r.head_len)
			abort();
	}
}

static void check_symbols(const char *in, size_t size)
{
	char out[TRUST_SPAMD_SYMBOLS_MAX], again[TRUST_SPAMD_SYMBOLS_MAX];
	size_t kept = trust_spamd_symbols(in, size, out, sizeof out);
	size_t n = strlen(out);
	if (n >= sizeof out || (kept == 0) != (n == 0))
		abort();
	size_t commas = 0;
	for (size_t i = 0; i < n; i++) {
		char c = out[i];
		if (c == ',') {
			commas++;
			if (i == 0 || i + 1 == n || out[i + 1] == ',')
				abort();
		} else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '_')) {
			abort();
		}
	}
	if (kept && commas + 1 != kept)
		abort();
	if (trust_spamd_symbols(out, n, again, sizeof again) != kept ||
	    strcmp(out, again) != 0)
		abort();
	/* a small buffer cuts at a name, never inside one */
	char small[12];
	trust_spamd_symbols(in, size, small, sizeof small);
	if (strlen(small) >= sizeof small ||
	    (small[0] && strncmp(out, small, strlen(small)) != 0))
		abort();
}

static void check_addr(const char *in, size_t size)
{
	char s[80];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
	memcpy(s, in, n);
	s[n] = '\0';
	struct trust_spamd_addr a, b;
	const char *err = NULL;
	if (trust_spamd_addr_parse(s, &a, &err) < 0) {
		if (err == NULL)
			abort();
		return;
	}
	char text[64];
	trust_spamd_addr_text(&a, text, sizeof text);
	if (trust_spamd_addr_parse(text, &b, &err) < 0 || a.family != b.family ||
	    a.port != b.port || a.port < 1 || a.port > 65535 ||
	    memcmp(a.ip, b.ip, sizeof a.ip) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	memcpy(in, data, size);
	check_reply(in, size);
	check_symbols(in, size);
	check_addr(in, size);
	free(in);
	return 0;
}
