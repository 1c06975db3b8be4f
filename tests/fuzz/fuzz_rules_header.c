/*
 * fuzz_rules_header.c - libFuzzer harness for what rules make of an
 * arriving message's header block: unfolding, RFC 2047 decoding, address
 * lists, our Authentication-Results (spf/dkim/dmarc), and a rule set with
 * every condition kind evaluated against it,
 * plus the vacation reply and the subject tag built from it.
 *
 * Invariants beyond "no crash": every parsed value is NUL-terminated at
 * its stated length and lies in the message's arena; the decoder never
 * writes past its destination (checked with a guard byte) and its result
 * is NUL-terminated at the returned length; values never hold a NUL; address slices lie inside the
 * value; the vacation reply, when built, has CRLF line ends only and no
 * header line the original could inject (no bare CR or LF in a header).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rules_message msg; /* big: one for the process */
static struct rules_set *set;

static const char *const RULES[] = {
	"{\"if\":[{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"*a?b*\\\\*\"}],"
	"\"then\":[{\"action\":\"tag\",\"text\":\"[x]\"}]}",
	"{\"match\":\"any\",\"if\":[{\"field\":\"from\",\"op\":\"is\",\"value\":\"a@b.test\"},"
	"{\"field\":\"to_cc\",\"op\":\"matches\",\"value\":\"*@example.test\"},"
	"{\"field\":\"header\",\"name\":\"X-A\",\"op\":\"contains\",\"value\":\"\xc3\xa9\"},"
	"{\"field\":\"size\",\"op\":\"over\",\"value\":10}],"
	"\"then\":[{\"action\":\"forward\",\"to\":[\"f@remote.test\"]}]}",
	"{\"then\":[{\"action\":\"vacation\",\"text\":\"away\",\"days\":1}]}",
	"{\"match\":\"any\",\"if\":[{\"field\":\"dkim\",\"op\":\"is\",\"value\":\"pass\"},"
	"{\"field\":\"spf\",\"op\":\"is\",\"value\":\"softfail\",\"not\":true},"
	"{\"field\":\"dmarc\",\"op\":\"is\",\"value\":\"none\"}],"
	"\"then\":[{\"action\":\"header\",\"name\":\"X-V\",\"text\":\"y\"}]}",
};

#include <stdio.h>
/* abort naming the invariant that broke */
#define die_unless(ok)                                                        \
	do {                                                                  \
		if (!(ok)) {                                                  \
			fprintf(stderr, "invariant failed, line %d: %s\n",     \
				__LINE__, #ok);                               \
			abort();                                              \
		}                                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (set == NULL) {
		set = rules_set_new();
		char err[256];
		for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
			struct rules_rule *r = NULL;
			die_unless(rules_rule_from_json(RULES[i], &r, err, sizeof err) == 0);
			die_unless(rules_set_append(set, &r) == 0);
		}
	}
	char *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);

	/* the decoder on its own, into a small destination with a guard */
	char small[33];
	small[32] = 0x5a;
	size_t n = rules_decode_2047(copy, size, small, 32);
	die_unless(small[32] == 0x5a);
	/* plain text may carry a NUL through: check the terminator by length */
	die_unless(n == (size_t)-1 ? strnlen(small, 32) <= 31 : n <= 31 && small[n] == '\0');

	size_t hl = rules_header_block_len(copy, size);
	die_unless(hl <= size);
	rules_message_parse(&msg, copy, hl);
	/* our Authentication-Results: only known result bits, never empty */
	rules_message_auth(&msg, "mail.example.test");
	die_unless(msg.auth.spf && msg.auth.spf < 0x100 && msg.auth.dkim &&
		   msg.auth.dkim < 0x100 && msg.auth.dmarc && msg.auth.dmarc < 0x100);
	msg.envelope_from = "sender@remote.test";
	msg.envelope_to = msg.account = "alice@example.test";
	msg.size = (int64_t)size;
	msg.now = 1796000000;
	for (size_t i = 0; i < msg.n_headers; i++) {
		const struct rules_header *h = &msg.headers[i];
		die_unless(h->value >= msg.arena &&
			   h->value + h->value_len < msg.arena + sizeof msg.arena);
		die_unless(strlen(h->value) == h->value_len);
		die_unless(strlen(h->raw) == h->raw_len);
		die_unless(h->name.ptr >= copy && h->name.ptr + h->name.len <= copy + hl);
		struct slice a[8];
		size_t na = rules_address_list(h->raw, h->raw_len, a, 8);
		for (size_t j = 0; j < na; j++)
			die_unless(a[j].ptr >= h->raw &&
				   a[j].ptr + a[j].len <= h->raw + h->raw_len);
	}
	struct rules_decision d;
	die_unless(rules_evaluate(set, &msg, &d) == 0);
	(void)rules_hop_count(&msg);

	struct buf b;
	if (buf_init(&b, 1 << 20) == 0) {
		if (d.vacation &&
		    rules_vacation_compose(d.vacation, &msg, "mail.example.test", &b) == 0) {
			size_t body = 0;
			for (size_t i = 0; i < b.len; i++) {
				if (b.data[i] == '\n')
					die_unless(i > 0 && b.data[i - 1] == '\r');
				if (b.data[i] == '\r')
					die_unless(i + 1 < b.len && b.data[i + 1] == '\n');
				if (!body && i + 3 < b.len &&
				    memcmp(b.data + i, "\r\n\r\n", 4) == 0)
					body = i;
			}
			die_unless(body > 0);
		}
		buf_reset(&b);
		static const char tagged[] = "Subject: =?UTF-8?Q?[t=C3=A9]?=";
		if (rules_subject_tag_apply(copy, hl, "[t\xc3\xa9]", &b) == 0) {
			/* tagged now, or already (compared ASCII case-blind) */
			bool ok = memmem(b.data, b.len, tagged, sizeof tagged - 1);
			for (size_t i = 0; !ok && i < b.len; i++)
				if (b.data[i] == 'T')
					b.data[i] = 't';
			die_unless(ok || memmem(b.data, b.len, "[t\xc3\xa9]", 5));
		}
		buf_free(&b);
	}
	free(copy);
	return 0;
}
