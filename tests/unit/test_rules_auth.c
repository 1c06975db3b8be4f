/*
 * test_rules_auth.c - the spf, dkim and dmarc conditions: the spec (parse,
 * format, describe, validation with the allowed words), our
 * Authentication-Results read into rules_message.auth (the field smtpd
 * writes, folded; other servers' fields, comments and quoted strings
 * ignored; several DKIM results; no field: none), evaluation with "not",
 * the RCPT-time shortcut, the try-it box and Sieve export/import.
 *
 * A differential case ties this reader to the MX's filter: every field
 * it takes as ours is one trust_auth_results_is_ours would have removed
 * from arriving mail, so a forger cannot slip one past both.
 */
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"
#include "../../trust/trust.h"
#include "test.h"

#define HOST "mail.example.test"

static struct rules_message *parsed(const char *text, const char *id)
{
	struct rules_message *m = calloc(1, sizeof *m);
	rules_message_parse(m, text, rules_header_block_len(text, strlen(text)));
	rules_message_auth(m, id);
	m->envelope_from = "bob@remote.test";
	m->envelope_to = m->account = "alice@example.test";
	m->size = (int64_t)strlen(text);
	m->now = 1796000000;
	return m;
}

/* Does the one condition cond_json hold for m? */
static bool holds(const char *cond_json, const struct rules_message *m)
{
	char json[1024], err[256] = "";
	snprintf(json, sizeof json, "{\"if\":[%s],\"then\":[{\"action\":\"discard\"}]}",
		 cond_json);
	struct rules_rule *r = NULL;
	if (rules_rule_from_json(json, &r, err, sizeof err) != 0) {
		fprintf(stderr, "rule %s: %s\n", json, err);
		CHECK(!"rule parses");
		return false;
	}
	struct rules_set *set = rules_set_new();
	CHECK_INT(rules_set_append(set, &r), 0);
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	rules_set_free(&set);
	return d.n_matched == 1;
}

#define COND(f, v) "{\"field\":\"" f "\",\"op\":\"is\",\"value\":\"" v "\"}"
#define NOT(f, v) "{\"field\":\"" f "\",\"op\":\"is\",\"value\":\"" v "\",\"not\":true}"

/* ---- the spec ------------------------------------------------------------ */

static void test_spec(void)
{
	static const struct {
		const char *cond, *want_spec, *want_text;
	} ok[] = {
		{COND("spf", "pass"), "{\"field\":\"spf\",\"op\":\"is\",\"value\":\"pass\"}",
		 "if spf is pass then discard"},
		/* any case in, lower case kept */
		{COND("dkim", "PaSs"), "{\"field\":\"dkim\",\"op\":\"is\",\"value\":\"pass\"}",
		 "if dkim is pass then discard"},
		{NOT("dmarc", "fail"),
		 "{\"field\":\"dmarc\",\"op\":\"is\",\"value\":\"fail\",\"not\":true}",
		 "if dmarc not is fail then discard"},
		{COND("spf", "softfail"), NULL, "if spf is softfail then discard"},
		{COND("spf", "policy"), NULL, NULL},
		{COND("dkim", "neutral"), NULL, NULL},
		{COND("dmarc", "temperror"), NULL, NULL},
		{COND("dmarc", "none"), NULL, NULL},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		test_state.label = ok[i].cond;
		char json[512], err[256] = "";
		snprintf(json, sizeof json, "{\"v\":1,\"match\":\"all\",\"if\":[%s],"
			 "\"then\":[{\"action\":\"discard\"}]}", ok[i].cond);
		struct rules_rule *r = rules_rule_new();
		CHECK_INT(rules_spec_parse(json, r, err, sizeof err), 0);
		char *spec = rules_spec_format(r);
		CHECK(spec != NULL);
		if (spec && ok[i].want_spec) {
			char want[512];
			snprintf(want, sizeof want, "{\"v\":1,\"match\":\"all\",\"if\":[%s],"
				 "\"then\":[{\"action\":\"discard\"}]}", ok[i].want_spec);
			CHECK_STR(spec, want);
		}
		/* the stored form parses to the same rule */
		struct rules_rule *back = rules_rule_new();
		CHECK_INT(rules_spec_parse(spec, back, err, sizeof err), 0);
		char *again = rules_spec_format(back);
		CHECK_STR(again, spec);
		struct buf b;
		CHECK_INT(buf_init(&b, 1024), 0);
		CHECK_INT(rules_rule_describe(r, &b), 0);
		if (ok[i].want_text)
			CHECK_STR(b.data, ok[i].want_text);
		/* and the web admin's JSON form round-trips too */
		char *full = rules_rule_to_json(r);
		struct rules_rule *fr = NULL;
		CHECK_INT(rules_rule_from_json(full, &fr, err, sizeof err), 0);
		char *full2 = fr ? rules_rule_to_json(fr) : NULL;
		CHECK_STR(full2, full);
		free(full);
		free(full2);
		rules_rule_free(&fr);
		buf_free(&b);
		free(spec);
		free(again);
		rules_rule_free(&back);
		rules_rule_free(&r);
	}
#define SPF_WORDS ": none neutral pass fail softfail policy temperror permerror"
#define DKIM_WORDS ": none pass fail policy neutral temperror permerror"
#define DMARC_WORDS ": none pass fail temperror permerror"
	static const struct {
		const char *cond, *want_err;
	} bad[] = {
		{COND("spf", "maybe"), "spf result 'maybe' is not one of" SPF_WORDS},
		{COND("dkim", "softfail"), "dkim result 'softfail' is not one of" DKIM_WORDS},
		{COND("dmarc", "policy"), "dmarc result 'policy' is not one of" DMARC_WORDS},
		{COND("dmarc", "neutral"), "dmarc result 'neutral' is not one of" DMARC_WORDS},
		{COND("spf", ""), "spf result '' is not one of" SPF_WORDS},
		{COND("spf", " pass"), "spf result ' pass' is not one of" SPF_WORDS},
		/* a control character is not echoed: the reason stays one line */
		{COND("dkim", "pass\\nx"), "dkim result is not one of" DKIM_WORDS},
		{"{\"field\":\"spf\",\"op\":\"contains\",\"value\":\"pass\"}",
		 "spf takes is (or not is), not contains"},
		{"{\"field\":\"dkim\",\"op\":\"matches\",\"value\":\"pa*\"}",
		 "dkim takes is (or not is), not matches"},
		{"{\"field\":\"dmarc\",\"op\":\"over\",\"value\":\"pass\"}",
		 "dmarc takes is (or not is), not over"},
		{"{\"field\":\"spf\",\"op\":\"is\",\"value\":1}",
		 "condition: 'value' must be a string"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		test_state.label = bad[i].cond;
		char json[512], err[256] = "";
		snprintf(json, sizeof json, "{\"if\":[%s],\"then\":[{\"action\":"
			 "\"discard\"}]}", bad[i].cond);
		struct rules_rule *r = NULL;
		CHECK_INT(rules_rule_from_json(json, &r, err, sizeof err), -1);
		CHECK(r == NULL);
		CHECK_STR(err, bad[i].want_err);
	}
	test_state.label = NULL;
	CHECK_INT(rules_auth_result_parse(RULES_FIELD_SPF, "SoftFail"), RULES_AUTH_SOFTFAIL);
	CHECK_INT(rules_auth_result_parse(RULES_FIELD_DKIM, "softfail"), -1);
	CHECK_INT(rules_auth_result_parse(RULES_FIELD_SUBJECT, "pass"), -1);
	CHECK(rules_field_is_auth(RULES_FIELD_DMARC));
	CHECK(!rules_field_is_auth(RULES_FIELD_HEADER));
	enum rules_field f;
	char h[RULES_HEADER_NAME_MAX + 1];
	CHECK_INT(rules_field_parse("DKIM", &f, h), 0);
	CHECK_INT(f, RULES_FIELD_DKIM);
}

/* ---- reading our Authentication-Results ------------------------------------ */

/* The field as smtpd writes it (trust/authres.c), folded with ";\r\n\t". */
static void smtpd_field(struct buf *out, enum trust_spf_result spf,
			const enum trust_auth_result *dkim, size_t n_dkim,
			enum trust_auth_result dmarc)
{
	static struct trust_spf_outcome s;
	static struct trust_dkim_outcome d;
	static struct trust_dmarc_outcome m;
	memset(&s, 0, sizeof s);
	memset(&d, 0, sizeof d);
	memset(&m, 0, sizeof m);
	s.result = spf;
	snprintf(s.identity, sizeof s.identity, "bob@remote.test");
	snprintf(s.reason, sizeof s.reason, "spf=pass dkim=pass"); /* a comment */
	for (size_t i = 0; i < n_dkim; i++) {
		d.sigs[i].result = dkim[i];
		snprintf(d.sigs[i].domain, sizeof d.sigs[i].domain, "remote.test");
		snprintf(d.sigs[i].selector, sizeof d.sigs[i].selector, "s%zu", i);
		snprintf(d.sigs[i].b_prefix, sizeof d.sigs[i].b_prefix, "dkim=pas");
		snprintf(d.sigs[i].reason, sizeof d.sigs[i].reason, "dkim=pass");
	}
	d.n_sigs = n_dkim;
	m.result = dmarc;
	m.policy = m.disposition = TRUST_DMARC_P_NONE;
	snprintf(m.domain, sizeof m.domain, "remote.test");
	struct trust_results r = {&s, &d, &m};
	CHECK_INT(trust_auth_results_header(HOST, &r, out), 0);
}

static void test_smtpd_field(void)
{
	struct buf b;
	CHECK_INT(buf_init(&b, 65536), 0);
	static const enum trust_auth_result fail_pass[] = {TRUST_AUTH_FAIL, TRUST_AUTH_PASS};
	smtpd_field(&b, TRUST_SPF_SOFTFAIL, fail_pass, 2, TRUST_AUTH_FAIL);
	CHECK(strstr(b.data, ";\r\n\tspf=softfail (spf=pass dkim=pass)") != NULL);
	CHECK(strstr(b.data, ";\r\n\tdkim=fail (dkim=pass)") != NULL);
	/* above a trace line and a forged-looking field of another server */
	CHECK_INT(buf_append_str(&b, "Authentication-Results: mx.remote.test; spf=pass;\r\n"
				     "\tdkim=pass; dmarc=pass\r\n"
				     "Received: from x by y\r\nSubject: s\r\n\r\nbody\r\n"), 0);
	struct rules_message *m = parsed(b.data, HOST);
	CHECK_INT(m->auth.spf, 1u << RULES_AUTH_SOFTFAIL);
	CHECK_INT(m->auth.dkim, (1u << RULES_AUTH_FAIL) | (1u << RULES_AUTH_PASS));
	CHECK_INT(m->auth.dmarc, 1u << RULES_AUTH_FAIL);
	CHECK(holds(COND("spf", "softfail"), m));
	CHECK(!holds(COND("spf", "pass"), m)); /* the comment and the other field */
	CHECK(holds(NOT("spf", "pass"), m));
	CHECK(holds(COND("dkim", "pass"), m)); /* any signature */
	CHECK(holds(COND("dkim", "fail"), m));
	CHECK(!holds(NOT("dkim", "pass"), m));
	CHECK(!holds(COND("dkim", "none"), m));
	CHECK(holds(COND("dmarc", "fail"), m));
	CHECK(!holds(COND("dmarc", "pass"), m));
	free(m);

	/* the same text, read for another hostname: only none */
	m = parsed(b.data, "other.example.test");
	CHECK(holds(COND("spf", "none"), m));
	CHECK(holds(COND("dkim", "none"), m));
	CHECK(!holds(COND("dkim", "pass"), m));
	free(m);

	/* every result smtpd writes reads back as itself */
	buf_reset(&b);
	static const enum trust_auth_result one_pass[] = {TRUST_AUTH_PASS};
	smtpd_field(&b, TRUST_SPF_PASS, one_pass, 1, TRUST_AUTH_PASS);
	CHECK_INT(buf_append_str(&b, "\r\n"), 0);
	m = parsed(b.data, HOST);
	CHECK(holds(COND("spf", "pass"), m));
	CHECK(holds(COND("dkim", "pass"), m));
	CHECK(holds(COND("dmarc", "pass"), m));
	CHECK(!holds(NOT("dmarc", "pass"), m));
	free(m);

	/* no signature: dkim=none written, and read */
	buf_reset(&b);
	smtpd_field(&b, TRUST_SPF_TEMPERROR, NULL, 0, TRUST_AUTH_PERMERROR);
	CHECK(strstr(b.data, "dkim=none") != NULL);
	CHECK_INT(buf_append_str(&b, "\r\n"), 0);
	m = parsed(b.data, HOST);
	CHECK(holds(COND("spf", "temperror"), m));
	CHECK(holds(COND("dkim", "none"), m));
	CHECK(holds(COND("dmarc", "permerror"), m));
	free(m);
	buf_free(&b);
}

/* Hand-written fields: what counts and what never does. */
static const struct {
	const char *label;
	const char *header; /* the whole header block */
	uint16_t spf, dkim, dmarc;
} field_cases[] = {
#define N (1u << RULES_AUTH_NONE)
#define P (1u << RULES_AUTH_PASS)
#define F (1u << RULES_AUTH_FAIL)
	{"no field", "Subject: x\r\n\r\n", N, N, N},
	{"ours, no results", "Authentication-Results: " HOST "; none\r\n\r\n", N, N, N},
	{"ours without dkim", "Authentication-Results: " HOST "; spf=pass\r\n\r\n", P, N, N},
	{"another server only",
	 "Authentication-Results: mx.remote.test; spf=pass; dkim=pass; dmarc=pass\r\n\r\n",
	 N, N, N},
	{"another server's below ours",
	 "Authentication-Results: " HOST "; dkim=fail\r\n"
	 "Authentication-Results: mx.remote.test; dkim=pass\r\n\r\n", N, F, N},
	{"comment", "Authentication-Results: " HOST "; spf=fail (spf=pass; dkim=pass)\r\n\r\n",
	 F, N, N},
	{"nested comment with quoted-pairs",
	 "Authentication-Results: " HOST "; spf=fail (a (b \\) c; dkim=pass) \\( ; dmarc=pass)"
	 " smtp.mailfrom=x@y.test\r\n\r\n", F, N, N},
	{"quoted string",
	 "Authentication-Results: " HOST "; dkim=fail header.b=\"x;dkim=pass\\\";spf=pass\"\r\n\r\n",
	 N, F, N},
	{"reason", "Authentication-Results: " HOST "; dmarc=fail reason=\"dmarc=pass; x\"\r\n\r\n",
	 N, N, F},
	{"unclosed comment ends it",
	 "Authentication-Results: " HOST "; spf=fail (x; dkim=pass\r\n\r\n", F, N, N},
	{"several dkim", "Authentication-Results: " HOST "; dkim=fail; dkim=pass; dkim=neutral\r\n\r\n",
	 N, F | P | (1u << RULES_AUTH_NEUTRAL), N},
	{"case and CFWS", "AUTHENTICATION-RESULTS: Mail.Example.TEST;  DKIM (c) = (c) Pass ;"
	 "dmarc/1=FAIL\r\n\r\n", N, P, F},
	{"folded LF only", "Authentication-Results: " HOST ";\n\tspf=pass;\n\tdmarc=pass\n\n",
	 P, N, P},
	{"unknown method and word", "Authentication-Results: " HOST "; iprev=pass; "
	 "spf=hardfail; auth=pass\r\n\r\n", N, N, N},
	{"word not for dmarc", "Authentication-Results: " HOST "; dmarc=softfail\r\n\r\n", N, N, N},
	{"method without =", "Authentication-Results: " HOST "; spf pass; dkim=\r\n\r\n", N, N, N},
	/* forms smtpd never writes: not ours (the filter may not see our id) */
	{"comment before the id",
	 "Authentication-Results: (x) " HOST "; dkim=pass\r\n\r\n", N, N, N},
	{"quoted id", "Authentication-Results: \"" HOST "\"; dkim=pass\r\n\r\n", N, N, N},
	{"id with a suffix", "Authentication-Results: " HOST ".evil.test; dkim=pass\r\n\r\n",
	 N, N, N},
	{"id prefix", "Authentication-Results: mail.example; dkim=pass\r\n\r\n", N, N, N},
	{"id without ;", "Authentication-Results: " HOST " dkim=pass\r\n\r\n", N, N, N},
	{"version", "Authentication-Results: " HOST " 1; dkim=pass\r\n\r\n", N, N, N},
	{"id then quote", "Authentication-Results: " HOST "\"x\"; dkim=pass\r\n\r\n", N, N, N},
	{"other field name", "X-Authentication-Results: " HOST "; dkim=pass\r\n"
	 "Authentication-Results-X: " HOST "; dkim=pass\r\n\r\n", N, N, N},
	{"in the body", "Subject: x\r\n\r\nAuthentication-Results: " HOST "; dkim=pass\r\n",
	 N, N, N},
#undef N
#undef P
#undef F
};

static void test_fields(void)
{
	for (size_t i = 0; i < sizeof field_cases / sizeof field_cases[0]; i++) {
		test_state.label = field_cases[i].label;
		struct rules_message *m = parsed(field_cases[i].header, HOST);
		CHECK_INT(m->auth.spf, field_cases[i].spf);
		CHECK_INT(m->auth.dkim, field_cases[i].dkim);
		CHECK_INT(m->auth.dmarc, field_cases[i].dmarc);
		free(m);
	}
	test_state.label = NULL;
	/* without an authserv-id (or before rules_message_auth): none */
	const char *ours = "Authentication-Results: " HOST "; dkim=pass\r\n\r\n";
	struct rules_message *m = parsed(ours, NULL);
	CHECK_INT(m->auth.dkim, 1u << RULES_AUTH_NONE);
	rules_message_auth(m, "");
	CHECK_INT(m->auth.dkim, 1u << RULES_AUTH_NONE);
	rules_message_auth(m, HOST);
	CHECK_INT(m->auth.dkim, 1u << RULES_AUTH_PASS);
	rules_message_parse(m, ours, strlen(ours)); /* parsing again resets */
	CHECK_INT(m->auth.dkim, 1u << RULES_AUTH_NONE);
	free(m);
}

/*
 * Whatever this reader takes as our field, the MX filter must take as
 * ours too (and so would have removed it from arriving mail): try the
 * table's fields and variants around the id on both.
 */
static void test_same_as_mx_filter(void)
{
	static const char *const values[] = {
		HOST "; dkim=pass", " " HOST ";dkim=pass", "\t" HOST ";\r\n\tdkim=pass",
		"(c) " HOST "; dkim=pass", "(\\) " HOST "; dkim=pass", "\"" HOST "\"; dkim=pass",
		HOST "\"x\"; dkim=pass", HOST ".x; dkim=pass", HOST " 1; dkim=pass",
		HOST "(c); dkim=pass", "MAIL.EXAMPLE.TEST; dkim=pass", HOST "\\; dkim=pass",
		HOST "\r\n ; dkim=pass", "\r\n " HOST "; dkim=pass", HOST "=; dkim=pass",
	};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		test_state.label = values[i];
		char field[256];
		int n = snprintf(field, sizeof field, "Authentication-Results:%s\r\n",
				 values[i]);
		char block[300];
		snprintf(block, sizeof block, "%s\r\n", field);
		struct rules_message *m = parsed(block, HOST);
		bool rules_ours = m->auth.dkim == (1u << RULES_AUTH_PASS);
		bool filter_ours = trust_auth_results_is_ours(field, (size_t)n, HOST);
		if (rules_ours)
			CHECK(filter_ours);
		free(m);
	}
	test_state.label = NULL;
	/* the plain form is read by both */
	struct rules_message *m = parsed("Authentication-Results: " HOST "; dkim=pass\r\n\r\n",
					 HOST);
	CHECK_INT(m->auth.dkim, 1u << RULES_AUTH_PASS);
	free(m);
}

/* ---- evaluation around it --------------------------------------------------- */

static void test_rcpt_and_try(void)
{
	/* a reject on "dmarc is none" is not an envelope rule: decided at
	 * delivery, never at RCPT */
	char err[256];
	struct rules_rule *r = NULL;
	CHECK_INT(rules_rule_from_json("{\"name\":\"no dmarc\",\"if\":[" COND("dmarc", "none")
				       "],\"then\":[{\"action\":\"reject\",\"text\":\"no\"}]}",
				       &r, err, sizeof err), 0);
	struct rules_set *set = rules_set_new();
	CHECK_INT(rules_set_append(set, &r), 0);
	CHECK(rules_evaluate_rcpt(set, "a@remote.test", "alice@example.test") == NULL);
	rules_set_free(&set);

	CHECK_INT(rules_rule_from_json("{\"name\":\"verified\",\"if\":[" COND("dkim", "pass")
				       "],\"then\":[{\"action\":\"header\",\"name\":"
				       "\"X-Verified\",\"text\":\"yes\"}]}",
				       &r, err, sizeof err), 0);
	set = rules_set_new();
	CHECK_INT(rules_set_append(set, &r), 0);
	const char pasted[] = "Authentication-Results: " HOST ";\n\tspf=pass smtp.mailfrom=b@r.test;\n"
			      "\tdkim=pass header.d=r.test\nFrom: b@r.test\nSubject: hi\n\nbody\n";
	struct buf b;
	CHECK_INT(buf_init(&b, 4096), 0);
	CHECK_INT(rules_try(set, pasted, sizeof pasted - 1, NULL, "alice@example.test", HOST,
			    1796000000, &b), 0);
	CHECK_STR(b.data, "matched: verified\nkeep: yes\nheader: X-Verified: yes\n");
	buf_reset(&b);
	CHECK_INT(rules_try(set, pasted, sizeof pasted - 1, NULL, "alice@example.test",
			    "mx.other.test", 1796000000, &b), 0);
	CHECK_STR(b.data, "matched: none\nkeep: yes\n");
	buf_free(&b);
	rules_set_free(&set);
}

/* ---- Sieve --------------------------------------------------------------------- */

static void test_sieve(void)
{
	char err[256] = "";
	struct rules_rule *r = NULL;
	CHECK_INT(rules_rule_from_json(
			  "{\"name\":\"Verified\",\"match\":\"any\",\"if\":[" COND("dkim", "pass")
			  "," NOT("spf", "fail") "," COND("dmarc", "temperror") "],"
			  "\"then\":[{\"action\":\"tag\",\"text\":\"[ok]\"}]}",
			  &r, err, sizeof err), 0);
	struct rules_set *set = rules_set_new(), *back = NULL;
	r->position = 1;
	CHECK_INT(rules_set_append(set, &r), 0);
	struct buf s1, s2;
	CHECK_INT(buf_init(&s1, RULES_SIEVE_MAX), 0);
	CHECK_INT(buf_init(&s2, RULES_SIEVE_MAX), 0);
	CHECK_INT(rules_sieve_export(set, &s1), 0);
	CHECK(strstr(s1.data, "\"variables\", \"vnd.mailroom.authres\"];") != NULL);
	CHECK(strstr(s1.data, "if anyof (mailroom_authres \"dkim\" \"pass\",\n"
			      "        not mailroom_authres \"spf\" \"fail\",\n"
			      "        mailroom_authres \"dmarc\" \"temperror\")") != NULL);
	/* never the inexact text match on the field */
	CHECK(strstr(s1.data, "Authentication-Results\"") == NULL);
	CHECK(strstr(s1.data, "# Other Sieve servers refuse this script") != NULL);
	CHECK_INT(rules_sieve_import(s1.data, s1.len, &back, err, sizeof err), 0);
	if (back) {
		CHECK_INT(back->n, 1);
		char *a = rules_rule_to_json(set->rules[0]);
		char *b = rules_rule_to_json(back->rules[0]);
		CHECK_STR(b, a);
		free(a);
		free(b);
		CHECK_INT(rules_sieve_export(back, &s2), 0);
		CHECK_STR(s2.data, s1.data);
	}
	rules_set_free(&back);
	/* hand-written: :is accepted; bad words and methods refused */
	static const struct {
		const char *script, *want;
	} cases[] = {
		{"require \"vnd.mailroom.authres\";\nif mailroom_authres :is \"DMARC\" \"fail\" "
		 "{ discard; }\n", NULL},
		{"require \"vnd.mailroom.authres\";\nif mailroom_authres \"dkim\" \"maybe\" "
		 "{ discard; }\n",
		 "line 2: dkim result 'maybe' is not one of" DKIM_WORDS},
		{"require \"vnd.mailroom.authres\";\nif mailroom_authres \"subject\" \"x\" "
		 "{ discard; }\n",
		 "line 2: mailroom_authres takes \"spf\", \"dkim\" or \"dmarc\""},
		{"require \"vnd.mailroom.authres\";\nif mailroom_authres :contains \"spf\" \"pass\" "
		 "{ discard; }\n",
		 "line 2: mailroom_authres takes a method and one result"},
		{"require \"vnd.mailroom.authres\";\nif mailroom_authres \"spf\" [\"pass\", "
		 "\"none\"] { discard; }\n",
		 "line 2: mailroom_authres takes a method and one result"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].script;
		err[0] = '\0';
		int rc = rules_sieve_import(cases[i].script, strlen(cases[i].script), &back,
					    err, sizeof err);
		CHECK_INT(rc, cases[i].want ? -1 : 0);
		if (cases[i].want)
			CHECK_STR(err, cases[i].want);
		else if (back)
			CHECK_INT(back->rules[0]->conds[0].field, RULES_FIELD_DMARC);
		rules_set_free(&back);
	}
	test_state.label = NULL;
	buf_free(&s1);
	buf_free(&s2);
	rules_set_free(&set);
}

TEST_SUITE(rules_auth, {"spec", test_spec}, {"smtpd_field", test_smtpd_field},
	   {"fields", test_fields}, {"same_as_mx_filter", test_same_as_mx_filter},
	   {"rcpt_and_try", test_rcpt_and_try}, {"sieve", test_sieve});
