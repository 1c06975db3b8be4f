/*
 * test_rules_body.c - the "body" condition: contains / is / matches,
 * case-insensitive, on the quoted-printable or base64 decoded body of a
 * single part and the raw bytes of a multipart one; the 64 KiB scan
 * bound (text past it is not seen, at evaluation and at delivery); a set
 * reads the body only when an enabled rule has a body condition; the
 * Sieve export/import round trip (RFC 5173) and its refusals.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../rules/deliver.h"
#include "test.h"
#include "test_store_util.h"

static struct rules_set *set_of(const char *json)
{
	struct rules_set *set = rules_set_new();
	struct rules_rule *r = NULL;
	char err[256] = "";
	if (rules_rule_from_json(json, &r, err, sizeof err) != 0) {
		fprintf(stderr, "rule %s: %s\n", json, err);
		CHECK(!"rule parses");
		return set;
	}
	CHECK(rules_set_append(set, &r) == 0);
	return set;
}

/* Does a body condition (op, value) hold for the message text? The
 * message is parsed and its body decoded as delivery does. */
static bool body_matches(const char *op, const char *value, const char *text,
			 size_t len)
{
	char json[2048];
	snprintf(json, sizeof json,
		 "{\"if\":[{\"field\":\"body\",\"op\":\"%s\",\"value\":\"%s\"}],"
		 "\"then\":[{\"action\":\"discard\"}]}", op, value);
	struct rules_set *set = set_of(json);
	struct rules_message *m = calloc(1, sizeof *m);
	char *body = malloc(RULES_BODY_SCAN_MAX);
	CHECK(m != NULL && body != NULL);
	size_t hl = rules_header_block_len(text, len);
	rules_message_parse(m, text, hl);
	m->body_len = rules_body_decode(m, text + hl, len - hl, body);
	m->body = body;
	m->envelope_from = m->envelope_to = m->account = "a@example.test";
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	bool hit = d.n_matched == 1;
	free(body);
	free(m);
	rules_set_free(&set);
	return hit;
}

#define HIT(op, v, t) body_matches(op, v, t, strlen(t))

static const char PLAIN[] = "From: a@example.test\r\n"
			    "Subject: hello\r\n"
			    "\r\n"
			    "Dear customer,\r\nyour Invoice Overdue notice.\r\n";

static void test_operators(void)
{
	CHECK(HIT("contains", "invoice overdue", PLAIN));
	CHECK(HIT("contains", "DEAR CUSTOMER", PLAIN));
	CHECK(!HIT("contains", "paid in full", PLAIN));
	/* the headers are not the body */
	CHECK(!HIT("contains", "hello", PLAIN));
	CHECK(HIT("matches", "dear*overdue notice.", PLAIN));
	CHECK(!HIT("matches", "overdue*", PLAIN));
	static const char ONE[] = "Subject: x\r\n\r\nStop\r\n";
	CHECK(HIT("is", "stop", ONE)); /* the final line break is ignored */
	CHECK(!HIT("is", "sto", ONE));
	/* a message without a body: only an empty "is" holds */
	CHECK(HIT("is", "", "Subject: x\r\n\r\n"));
	CHECK(!HIT("contains", "x", "Subject: x\r\n\r\n"));
	/* "not" */
	struct rules_set *set = set_of(
		"{\"if\":[{\"field\":\"body\",\"op\":\"contains\",\"value\":\"x\","
		"\"not\":true}],\"then\":[{\"action\":\"discard\"}]}");
	struct rules_message *m = calloc(1, sizeof *m);
	rules_message_parse(m, "Subject: x\r\n\r\n", 14);
	m->body = "yyy";
	m->body_len = 3;
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	CHECK_INT(d.n_matched, 1);
	m->body = "yxy";
	rules_evaluate(set, m, &d);
	CHECK_INT(d.n_matched, 0);
	free(m);
	rules_set_free(&set);
}

static void test_decoding(void)
{
	static const char QP[] =
		"Subject: x\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: Quoted-Printable\r\n"
		"\r\n"
		"Your invoice=20is over=\r\ndue: =E2=82=AC 40\r\n";
	CHECK(HIT("contains", "invoice is overdue", QP));
	CHECK(HIT("contains", "\xe2\x82\xac 40", QP));
	CHECK(!HIT("contains", "=20", QP));
	/* "Your invoice is overdue since May" */
	static const char B64[] =
		"Subject: x\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"WW91ciBpbnZvaWNlIGlzIG92ZXJk\r\ndWUgc2luY2UgTWF5\r\n";
	CHECK(HIT("contains", "INVOICE IS OVERDUE", B64));
	CHECK(HIT("is", "your invoice is overdue since may", B64));
	CHECK(!HIT("contains", "WW91", B64));
	/* multipart: the raw octets, parts' encodings not followed */
	static const char MP[] =
		"Subject: x\r\n"
		"Content-Type: multipart/alternative; boundary=b\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nplain invoice=20overdue\r\n"
		"--b--\r\n";
	CHECK(HIT("contains", "invoice=20overdue", MP));
	CHECK(!HIT("contains", "invoice overdue", MP));
	/* a malformed escape is kept; a soft break cut at the end is dropped */
	struct rules_message *m = calloc(1, sizeof *m);
	rules_message_parse(m, QP, strlen(QP));
	char out[64];
	CHECK_INT(rules_body_decode(m, "a=zz b=", 7, out), 6);
	CHECK(memcmp(out, "a=zz b", 6) == 0);
	free(m);
}

static void test_scan_bound(void)
{
	static const char HDR[] = "Subject: big\r\n\r\n";
	size_t hl = sizeof HDR - 1;
	size_t len = hl + RULES_BODY_SCAN_MAX + 100;
	char *text = malloc(len + 1);
	CHECK(text != NULL);
	memcpy(text, HDR, hl);
	memset(text + hl, 'x', len - hl);
	text[len] = '\0';
	/* the needle ends at the very last scanned octet: seen */
	memcpy(text + hl + RULES_BODY_SCAN_MAX - 5, "NEEDL", 5);
	CHECK(body_matches("contains", "needl", text, len));
	/* one octet later it straddles the bound: not seen */
	memset(text + hl, 'x', len - hl);
	memcpy(text + hl + RULES_BODY_SCAN_MAX - 4, "NEEDL", 5);
	CHECK(!body_matches("contains", "needl", text, len));
	/* far past it: not seen */
	memset(text + hl, 'x', len - hl);
	memcpy(text + len - 10, "NEEDL", 5);
	CHECK(!body_matches("contains", "needl", text, len));
	free(text);
}

static void test_needs_body(void)
{
	const char *no_body[] = {
		"{\"if\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"x\"}],"
		"\"then\":[{\"action\":\"keep\"}]}",
		"{\"then\":[{\"action\":\"keep\"}]}",
	};
	struct rules_set *set = rules_set_new();
	for (size_t i = 0; i < 2; i++) {
		struct rules_rule *r = NULL;
		char err[256];
		CHECK_INT(rules_rule_from_json(no_body[i], &r, err, sizeof err), 0);
		CHECK(rules_set_append(set, &r) == 0);
	}
	CHECK(!set->needs_body);
	/* a disabled body rule does not make the set read the body */
	struct rules_rule *r = NULL;
	char err[256];
	CHECK_INT(rules_rule_from_json(
			  "{\"enabled\":false,\"if\":[{\"field\":\"body\",\"op\":\"is\","
			  "\"value\":\"x\"}],\"then\":[{\"action\":\"keep\"}]}",
			  &r, err, sizeof err), 0);
	CHECK(r != NULL && !r->enabled);
	CHECK(rules_set_append(set, &r) == 0);
	CHECK(!set->needs_body);
	CHECK_INT(rules_rule_from_json(
			  "{\"if\":[{\"field\":\"body\",\"op\":\"is\",\"value\":\"x\"}],"
			  "\"then\":[{\"action\":\"keep\"}]}", &r, err, sizeof err), 0);
	CHECK(rules_set_append(set, &r) == 0);
	CHECK(set->needs_body);
	rules_set_free(&set);
}

/* Through the store and rules_deliver_prepare: the body rule tags a
 * message whose text is in the body, not one where it is past the
 * bound; an account whose rules have no body condition is unaffected. */
static void test_deliver(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	CHECK_INT(store_rule_add(t.st, alice, 0, "fin", true,
				 "{\"if\":[{\"field\":\"body\",\"op\":\"contains\","
				 "\"value\":\"invoice overdue\"}],\"then\":[{\"action\":"
				 "\"tag\",\"text\":\"[FIN]\"}]}", NULL), STORE_OK);
	struct rules_env *env = rules_env_new(t.st, "mail.example.test");
	CHECK(env != NULL);
	static const char HDR[] = "From: s@remote.test\r\nSubject: May\r\n\r\n";
	size_t hl = sizeof HDR - 1;
	size_t len = hl + RULES_BODY_SCAN_MAX + 64;
	char *text = malloc(len);
	memcpy(text, HDR, hl);
	memset(text + hl, 'x', len - hl);
	for (int pass = 0; pass < 2; pass++) {
		test_state.label = pass ? "past the bound" : "in the body";
		memset(text + hl, 'x', len - hl);
		size_t at = pass ? hl + RULES_BODY_SCAN_MAX + 10 : hl + 100;
		memcpy(text + at, " Invoice Overdue ", 17);
		char path[600];
		snprintf(path, sizeof path, "%s/msg-%d", t.dir, pass);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0);
		CHECK(write(fd, text, len) == (ssize_t)len);
		int64_t ids[] = {alice};
		struct store_message in = {.fd = fd, .size = (int64_t)len,
					   .sender = "s@remote.test",
					   .local_ids = ids, .n_local = 1};
		struct rules_outcome out;
		CHECK_INT(rules_env_begin(env, 1796000000), STORE_OK);
		CHECK_INT(rules_deliver_prepare(env, &in, &out), STORE_OK);
		/* one message for alice: the tagged copy replaces the
		 * original, or the original itself */
		CHECK_INT(out.n, 1);
		CHECK_INT(out.msgs[0].n_local, 1);
		char head[64] = "";
		CHECK(pread(out.msgs[0].fd, head, 60, 0) == 60);
		CHECK((strstr(head, "Subject: [FIN] May\r\n") != NULL) == !pass);
		CHECK((strstr(head, "Subject: May\r\n") != NULL) == pass);
		rules_outcome_free(&out);
		close(fd);
	}
	free(text);
	rules_env_free(&env);
	tstore_done(&t);
}

static void test_sieve(void)
{
	struct rules_set *set = set_of(
		"{\"name\":\"Fin\",\"match\":\"any\",\"if\":[{\"field\":\"body\",\"op\":\"contains\","
		"\"value\":\"invoice \\\"overdue\\\"\"},{\"field\":\"body\",\"op\":"
		"\"matches\",\"value\":\"*final notice*\",\"not\":true}],"
		"\"then\":[{\"action\":\"tag\",\"text\":\"[FIN]\"}]}");
	struct buf s1, s2;
	CHECK_INT(buf_init(&s1, RULES_SIEVE_MAX), 0);
	CHECK_INT(buf_init(&s2, RULES_SIEVE_MAX), 0);
	CHECK_INT(rules_sieve_export(set, &s1), 0);
	CHECK(strstr(s1.data, "\"body\"") != NULL);
	CHECK(strstr(s1.data, "anyof (body :contains \"invoice \\\"overdue\\\"\",\n"
			      "        not body :matches \"*final notice*\")") != NULL);
	struct rules_set *back = NULL;
	char err[256] = "";
	CHECK_INT(rules_sieve_import(s1.data, s1.len, &back, err, sizeof err), 0);
	if (back) {
		CHECK_INT(back->n, 1);
		CHECK(back->needs_body);
		char *a = rules_spec_format(set->rules[0]);
		char *b = back->n ? rules_spec_format(back->rules[0]) : NULL;
		CHECK_STR(b ? b : "", a);
		free(a);
		free(b);
		CHECK_INT(rules_sieve_export(back, &s2), 0);
		CHECK_STR(s2.data, s1.data);
	}
	rules_set_free(&back);
	/* :text and :raw are both our body test */
	static const char *ok[] = {
		"require \"body\";\nif body :text :contains \"x\" { discard; }\n",
		"require \"body\";\nif body :raw :is \"x\" { discard; }\n",
	};
	for (size_t i = 0; i < 2; i++) {
		test_state.label = ok[i];
		CHECK_INT(rules_sieve_import(ok[i], strlen(ok[i]), &back, err,
					     sizeof err), 0);
		CHECK(back && back->n == 1 &&
		      back->rules[0]->conds[0].field == RULES_FIELD_BODY);
		rules_set_free(&back);
	}
	static const struct {
		const char *script, *err;
	} bad[] = {
		{"require \"body\";\n\nif body :content \"text\" :contains \"x\" "
		 "{ discard; }\n", "line 3: body :content is not supported"},
		{"require \"body\";\nif body :regex \"x\" { discard; }\n",
		 "line 2: :regex does not fit body"},
		{"require \"body\";\nif body :contains \"subject\" \"x\" { discard; }\n",
		 "line 2: body takes one key"},
		{"require \"body\";\nif header :text :contains \"subject\" \"x\" "
		 "{ discard; }\n", "line 2: :text belongs to body"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		test_state.label = bad[i].err;
		err[0] = '\0';
		CHECK(rules_sieve_import(bad[i].script, strlen(bad[i].script), &back,
					 err, sizeof err) != 0);
		CHECK(strstr(err, bad[i].err) != NULL);
		if (!strstr(err, bad[i].err))
			fprintf(stderr, "  error was: %s\n", err);
		rules_set_free(&back);
	}
	buf_free(&s1);
	buf_free(&s2);
	rules_set_free(&set);
}

TEST_SUITE(rules_body, {"operators", test_operators},
	   {"decoding", test_decoding}, {"scan_bound", test_scan_bound},
	   {"needs_body", test_needs_body}, {"deliver", test_deliver},
	   {"sieve", test_sieve});
