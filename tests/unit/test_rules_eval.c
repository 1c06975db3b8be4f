/*
 * test_rules_eval.c - every condition and action, the order rules run in,
 * Sieve keep semantics, the RCPT-time reject, vacation suppression
 * (RFC 3834 / 5230), the JSON spec (strict parse, round trip) and the
 * decision text the CLI and web admin show.
 */
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"
#include "test.h"

static const char MSG[] =
	"Received: from a by b\r\n"
	"From: =?UTF-8?Q?Ren=C3=A9e?= <Renee@Sender.test>\r\n"
	"To: Alice <alice@example.test>, team@example.test\r\n"
	"Cc: \"Carol, C\" <carol@example.test>\r\n"
	"Subject: =?ISO-8859-1?Q?R=E9union?= budget\r\n"
	" 2026\r\n"
	"Message-ID: <m1@sender.test>\r\n"
	"X-Spam-Flag: YES\r\n"
	"\r\n"
	"body\r\n";

static struct rules_message *message(const char *text)
{
	struct rules_message *m = calloc(1, sizeof *m);
	rules_message_parse(m, text, strlen(text));
	m->envelope_from = "renee@sender.test";
	m->envelope_to = "alice@example.test";
	m->account = "alice@example.test";
	m->size = 5000;
	m->now = 1796000000; /* 2026-11-30 */
	return m;
}

static struct rules_rule *rule(const char *json)
{
	struct rules_rule *r = NULL;
	char err[256] = "";
	if (rules_rule_from_json(json, &r, err, sizeof err) != 0) {
		fprintf(stderr, "rule %s: %s\n", json, err);
		CHECK(!"rule parses");
	}
	return r;
}

static bool matches(const char *cond_json, const struct rules_message *m)
{
	char json[2048];
	snprintf(json, sizeof json, "{\"if\":[%s],\"then\":[{\"action\":\"discard\"}]}",
		 cond_json);
	struct rules_set *set = rules_set_new();
	struct rules_rule *r = rule(json);
	if (r == NULL || rules_set_append(set, &r) != 0) {
		rules_set_free(&set);
		return false;
	}
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	rules_set_free(&set);
	return d.n_matched == 1;
}

static const struct {
	const char *cond;
	bool want;
} cond_cases[] = {
	{"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"réunion\"}", true},
	/* i;ascii-casemap: only ASCII letters fold, so É is not é */
	{"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"RÉUNION\"}", false},
	{"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"Réunion BUDGET\"}", true},
	{"{\"field\":\"subject\",\"op\":\"is\",\"value\":\"RÉUNION budget 2026\"}", false},
	{"{\"field\":\"subject\",\"op\":\"is\",\"value\":\"Réunion budget 2026\"}", true},
	{"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"R?union*2026\"}", true},
	{"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"budget*\"}", false},
	{"{\"field\":\"from\",\"op\":\"contains\",\"value\":\"renée\"}", true},
	{"{\"field\":\"from\",\"op\":\"is\",\"value\":\"renee@sender.test\"}", true},
	{"{\"field\":\"from\",\"op\":\"is\",\"value\":\"Renée\"}", false},
	{"{\"field\":\"from\",\"op\":\"matches\",\"value\":\"*@sender.test\"}", true},
	{"{\"field\":\"to_cc\",\"op\":\"is\",\"value\":\"carol@example.test\"}", true},
	{"{\"field\":\"to_cc\",\"op\":\"is\",\"value\":\"team@example.test\"}", true},
	{"{\"field\":\"to_cc\",\"op\":\"is\",\"value\":\"bob@example.test\"}", false},
	{"{\"field\":\"to_cc\",\"op\":\"contains\",\"value\":\"Carol, C\"}", true},
	{"{\"field\":\"header\",\"name\":\"x-spam-flag\",\"op\":\"is\",\"value\":\"yes\"}", true},
	{"{\"field\":\"header:X-Spam-Flag\",\"op\":\"is\",\"value\":\"no\"}", false},
	{"{\"field\":\"header\",\"name\":\"X-Missing\",\"op\":\"contains\",\"value\":\"\"}", false},
	{"{\"field\":\"header\",\"name\":\"X-Missing\",\"op\":\"contains\",\"value\":\"\",\"not\":true}", true},
	{"{\"field\":\"size\",\"op\":\"over\",\"value\":4999}", true},
	{"{\"field\":\"size\",\"op\":\"over\",\"value\":5000}", false},
	{"{\"field\":\"size\",\"op\":\"under\",\"value\":5001}", true},
	{"{\"field\":\"size\",\"op\":\"under\",\"value\":5000}", false},
	{"{\"field\":\"envelope_from\",\"op\":\"is\",\"value\":\"RENEE@sender.test\"}", true},
	{"{\"field\":\"envelope-from\",\"op\":\"matches\",\"value\":\"*@other.test\"}", false},
	{"{\"field\":\"envelope_to\",\"op\":\"contains\",\"value\":\"alice@\"}", true},
	{"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"budget\",\"not\":true}", false},
	{"{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"^r.+union +BUDGET [0-9]{4}$\"}", true},
	{"{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"^budget\"}", false},
	{"{\"field\":\"from\",\"op\":\"regex\",\"value\":\"<renee@sender\\\\.test>$\"}", true},
	{"{\"field\":\"to_cc\",\"op\":\"regex\",\"value\":\"carol, c\"}", true},
	{"{\"field\":\"envelope_from\",\"op\":\"regex\",\"value\":\"@(sender|other)\\\\.test$\"}", true},
};

static void test_conditions(void)
{
	struct rules_message *m = message(MSG);
	for (size_t i = 0; i < sizeof cond_cases / sizeof cond_cases[0]; i++) {
		test_state.label = cond_cases[i].cond;
		CHECK(matches(cond_cases[i].cond, m) == cond_cases[i].want);
	}
	free(m);
}

static void test_all_any(void)
{
	struct rules_message *m = message(MSG);
	const char *t = "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"budget\"}";
	const char *f = "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"nope\"}";
	char json[1024];
	struct rules_decision d;
	static const struct {
		const char *match;
		int a, b;
		bool want;
	} cases[] = {{"all", 1, 1, true}, {"all", 1, 0, false},
		     {"any", 0, 1, true}, {"any", 0, 0, false}};
	for (size_t i = 0; i < 4; i++) {
		test_state.label = cases[i].match;
		snprintf(json, sizeof json,
			 "{\"match\":\"%s\",\"if\":[%s,%s],\"then\":[{\"action\":\"stop\"}]}",
			 cases[i].match, cases[i].a ? t : f, cases[i].b ? t : f);
		struct rules_set *set = rules_set_new();
		struct rules_rule *r = rule(json);
		CHECK(rules_set_append(set, &r) == 0);
		rules_evaluate(set, m, &d);
		CHECK(d.n_matched == (cases[i].want ? 1u : 0u));
		rules_set_free(&set);
	}
	free(m);
}

/* A set from rule JSONs; NULL-terminated list. */
static struct rules_set *set_of(const char *const *jsons)
{
	struct rules_set *set = rules_set_new();
	for (size_t i = 0; jsons[i]; i++) {
		struct rules_rule *r = rule(jsons[i]);
		if (r == NULL || rules_set_append(set, &r) != 0)
			CHECK(!"append");
	}
	return set;
}

static void test_actions(void)
{
	struct rules_message *m = message(MSG);
	struct rules_decision d;
	struct {
		const char *label;
		const char *rules[4];
		bool keep;
		size_t n_forward;
		const char *reject, *tag;
		bool stopped;
	} cases[] = {
		{"no rules", {NULL}, true, 0, NULL, NULL, false},
		{"forward keeps", {"{\"then\":[{\"action\":\"forward\",\"to\":[\"x@remote.test\",\"y@remote.test\"]}]}"}, true, 2, NULL, NULL, false},
		{"redirect drops", {"{\"then\":[{\"action\":\"redirect\",\"to\":[\"x@remote.test\"]}]}"}, false, 1, NULL, NULL, false},
		{"discard", {"{\"then\":[{\"action\":\"discard\"}]}"}, false, 0, NULL, NULL, false},
		{"discard then keep", {"{\"then\":[{\"action\":\"discard\"},{\"action\":\"keep\"}]}"}, true, 0, NULL, NULL, false},
		{"reject wins", {"{\"then\":[{\"action\":\"forward\",\"to\":[\"x@remote.test\"]},{\"action\":\"reject\",\"text\":\"go away\"}]}"}, false, 0, "go away", NULL, false},
		{"tag", {"{\"then\":[{\"action\":\"tag\",\"text\":\"[B]\"}]}"}, true, 0, NULL, "[B]", false},
		{"set header", {"{\"then\":[{\"action\":\"header\",\"name\":\"X-Team\",\"text\":\"sales\"}]}"}, true, 0, NULL, NULL, false},
		{"stop ends", {"{\"then\":[{\"action\":\"stop\"}]}", "{\"then\":[{\"action\":\"discard\"}]}"}, true, 0, NULL, NULL, true},
		{"disabled skipped", {"{\"enabled\":false,\"then\":[{\"action\":\"discard\"}]}"}, true, 0, NULL, NULL, false},
		{"forward dedup and not to self", {"{\"then\":[{\"action\":\"forward\",\"to\":[\"X@remote.test\",\"alice@example.test\"]},{\"action\":\"forward\",\"to\":[\"x@remote.test\"]}]}"}, true, 1, NULL, NULL, false},
		{"second rule runs", {"{\"then\":[{\"action\":\"tag\",\"text\":\"[1]\"}]}", "{\"then\":[{\"action\":\"tag\",\"text\":\"[2]\"},{\"action\":\"discard\"}]}"}, false, 0, NULL, "[1]", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		struct rules_set *set = set_of(cases[i].rules);
		CHECK_INT(rules_evaluate(set, m, &d), 0);
		CHECK(d.keep == cases[i].keep);
		CHECK_INT(d.n_forward, cases[i].n_forward);
		CHECK((d.reject_text == NULL) == (cases[i].reject == NULL));
		if (cases[i].reject && d.reject_text)
			CHECK_STR(d.reject_text, cases[i].reject);
		CHECK((d.subject_tag == NULL) == (cases[i].tag == NULL));
		if (cases[i].tag && d.subject_tag)
			CHECK_STR(d.subject_tag, cases[i].tag);
		CHECK(d.stopped == cases[i].stopped);
		rules_set_free(&set);
	}
	free(m);
}

static void test_loop(void)
{
	char text[1024];
	snprintf(text, sizeof text, "Delivered-To: Alice@example.test\r\n%s", MSG);
	struct rules_message *m = message(text);
	const char *rules[] = {
		"{\"then\":[{\"action\":\"redirect\",\"to\":[\"bob@remote.test\"]}]}",
		NULL};
	struct rules_set *set = set_of(rules);
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	test_state.label = "loop";
	CHECK(d.loop);
	CHECK_INT(d.n_forward, 0);
	CHECK(d.keep); /* never lost */
	CHECK_INT(rules_hop_count(m), 2);
	CHECK(rules_delivered_to(m, "alice@example.test"));
	CHECK(!rules_delivered_to(m, "bob@example.test"));
	rules_set_free(&set);
	free(m);
}

static void test_rcpt_reject(void)
{
	const char *env = "{\"if\":[{\"field\":\"envelope_from\",\"op\":\"matches\",\"value\":\"*@spam.test\"}],\"then\":[{\"action\":\"reject\",\"text\":\"no spam\"}]}";
	const char *hdr_stop = "{\"if\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"x\"}],\"then\":[{\"action\":\"stop\"}]}";
	const char *hdr_tag = "{\"if\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"x\"}],\"then\":[{\"action\":\"tag\",\"text\":\"t\"}]}";
	const char *a[] = {env, NULL};
	const char *b[] = {hdr_stop, env, NULL};
	const char *c[] = {hdr_tag, env, NULL};
	struct rules_set *s;

	test_state.label = "envelope reject";
	s = set_of(a);
	CHECK(rules_evaluate_rcpt(s, "x@spam.test", "alice@example.test") != NULL);
	CHECK(rules_evaluate_rcpt(s, "x@ok.test", "alice@example.test") == NULL);
	rules_set_free(&s);
	test_state.label = "header rule with stop before";
	s = set_of(b);
	CHECK(rules_evaluate_rcpt(s, "x@spam.test", "alice@example.test") == NULL);
	rules_set_free(&s);
	test_state.label = "header rule without stop before";
	s = set_of(c);
	CHECK(rules_evaluate_rcpt(s, "x@spam.test", "alice@example.test") != NULL);
	rules_set_free(&s);
}

static const char VAC[] =
	"{\"then\":[{\"action\":\"vacation\",\"start\":\"2026-11-01\",\"end\":\"2026-12-31\","
	"\"subject\":\"Away\",\"text\":\"I am away.\",\"days\":3}]}";

static void test_vacation_suppression(void)
{
	static const struct {
		const char *label, *extra_header, *from, *to_header;
		const char *why; /* NULL: reply */
	} cases[] = {
		{"replies", "", "renee@sender.test", NULL, NULL},
		{"null sender", "", "", NULL, "null sender"},
		{"mailer-daemon", "", "MAILER-DAEMON@sender.test", NULL, "sender is a list or daemon"},
		{"owner-", "", "owner-list@sender.test", NULL, "sender is a list or daemon"},
		{"-request", "", "list-request@sender.test", NULL, "sender is a list or daemon"},
		{"list-id", "List-Id: <x.sender.test>\r\n", "renee@sender.test", NULL, "mailing list"},
		{"list-unsubscribe", "List-Unsubscribe: <mailto:x@y.test>\r\n", "renee@sender.test", NULL, "mailing list"},
		{"precedence bulk", "Precedence: bulk\r\n", "renee@sender.test", NULL, "bulk mail"},
		{"precedence list", "Precedence: List\r\n", "renee@sender.test", NULL, "bulk mail"},
		{"precedence junk", "Precedence: junk\r\n", "renee@sender.test", NULL, "bulk mail"},
		{"auto-submitted", "Auto-Submitted: auto-replied\r\n", "renee@sender.test", NULL, "auto-submitted"},
		{"auto-submitted no", "Auto-Submitted: no\r\n", "renee@sender.test", NULL, NULL},
		{"bcc", "", "renee@sender.test", "To: other@example.test\r\n", "not in To/Cc"},
		{"self", "", "alice@example.test", NULL, "sender is the account itself"},
	};
	char text[2048];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		if (cases[i].to_header)
			snprintf(text, sizeof text, "%s%sSubject: hi\r\n\r\n",
				 cases[i].extra_header, cases[i].to_header);
		else
			snprintf(text, sizeof text, "%s%s", cases[i].extra_header, MSG);
		struct rules_message *m = message(text);
		m->envelope_from = cases[i].from;
		const char *r[] = {VAC, NULL};
		struct rules_set *set = set_of(r);
		struct rules_decision d;
		rules_evaluate(set, m, &d);
		if (cases[i].why == NULL) {
			CHECK(d.vacation != NULL);
			CHECK(d.vacation_skipped == NULL);
		} else {
			CHECK(d.vacation == NULL);
			CHECK_STR(d.vacation_skipped, cases[i].why);
		}
		CHECK(d.keep); /* vacation never changes delivery */
		rules_set_free(&set);
		free(m);
	}
	/* dates: before, inside, after (UTC days, inclusive) */
	struct rules_message *m = message(MSG);
	const char *r[] = {VAC, NULL};
	struct rules_set *set = set_of(r);
	struct rules_decision d;
	static const struct {
		time_t now;
		bool reply;
	} dates[] = {{1793491199, false}, /* 2026-10-31 23:59:59 */
		     {1793491200, true},  /* 2026-11-01 00:00:00 */
		     {1798761599, true},  /* 2026-12-31 23:59:59 */
		     {1798761600, false}}; /* 2027-01-01 */
	for (size_t i = 0; i < 4; i++) {
		test_state.label = "dates";
		m->now = dates[i].now;
		rules_evaluate(set, m, &d);
		CHECK((d.vacation != NULL) == dates[i].reply);
	}
	/* a reject cancels the reply */
	const char *rj[] = {VAC, "{\"then\":[{\"action\":\"reject\",\"text\":\"no\"}]}", NULL};
	struct rules_set *set2 = set_of(rj);
	m->now = 1796000000;
	rules_evaluate(set2, m, &d);
	CHECK(d.vacation == NULL);
	rules_set_free(&set2);
	rules_set_free(&set);
	free(m);
}

static const struct {
	const char *label, *json, *err;
} bad_specs[] = {
	{"not json", "{", "not JSON"},
	{"version", "{\"v\":2,\"then\":[{\"action\":\"keep\"}]}", "version"},
	{"no actions", "{\"then\":[]}", "at least one action"},
	{"unknown key", "{\"then\":[{\"action\":\"keep\"}],\"iff\":[]}", "unknown key 'iff'"},
	{"unknown field", "{\"if\":[{\"field\":\"bodytext\",\"op\":\"is\",\"value\":\"x\"}],\"then\":[{\"action\":\"keep\"}]}", "unknown field"},
	{"size op", "{\"if\":[{\"field\":\"size\",\"op\":\"is\",\"value\":3}],\"then\":[{\"action\":\"keep\"}]}", "over or under"},
	{"text op", "{\"if\":[{\"field\":\"subject\",\"op\":\"over\",\"value\":\"x\"}],\"then\":[{\"action\":\"keep\"}]}", "contains, is or matches"},
	{"bad address", "{\"then\":[{\"action\":\"forward\",\"to\":[\"not an address\"]}]}", "not a valid address"},
	{"no address", "{\"then\":[{\"action\":\"redirect\",\"to\":[]}]}", "at least one address"},
	{"reject no text", "{\"then\":[{\"action\":\"reject\"}]}", "'text' is missing"},
	{"vacation days", "{\"then\":[{\"action\":\"vacation\",\"text\":\"x\",\"days\":0}]}", "days must be"},
	{"vacation date", "{\"then\":[{\"action\":\"vacation\",\"text\":\"x\",\"start\":\"2026-02-30\"}]}", "must be a date"},
	{"vacation order", "{\"then\":[{\"action\":\"vacation\",\"text\":\"x\",\"start\":\"2026-02-03\",\"end\":\"2026-02-01\"}]}", "before it starts"},
	{"control chars", "{\"if\":[{\"field\":\"subject\",\"op\":\"is\",\"value\":\"a\\nb\"}],\"then\":[{\"action\":\"keep\"}]}", "control characters"},
	{"unknown action", "{\"then\":[{\"action\":\"fileinto\"}]}", "unknown action"},
	{"header received", "{\"then\":[{\"action\":\"header\",\"name\":\"Received\",\"text\":\"x\"}]}", "cannot be set"},
	{"header bad name", "{\"then\":[{\"action\":\"header\",\"name\":\"X Y\",\"text\":\"x\"}]}", "valid header name"},
	{"bad regex", "{\"if\":[{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"a(\"}],\"then\":[{\"action\":\"keep\"}]}", "regex 'a(':"},
	{"regex backref", "{\"if\":[{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"(a)\\\\1\"}],\"then\":[{\"action\":\"keep\"}]}", "back-references"},
	{"regex blowup", "{\"if\":[{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"((a{1,50}){1,100})\"}],\"then\":[{\"action\":\"keep\"}]}", "too much repetition"},
	{"regex stacked", "{\"if\":[{\"field\":\"subject\",\"op\":\"regex\",\"value\":\"a++\"}],\"then\":[{\"action\":\"keep\"}]}", "stacked quantifiers"},
	{"regex on body", "{\"if\":[{\"field\":\"body\",\"op\":\"regex\",\"value\":\"x\"}],\"then\":[{\"action\":\"keep\"}]}", "not regex"},
	{"regex on size", "{\"if\":[{\"field\":\"size\",\"op\":\"regex\",\"value\":1}],\"then\":[{\"action\":\"keep\"}]}", "over or under"},
};

static void test_spec_errors(void)
{
	char err[256];
	for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
		test_state.label = bad_specs[i].label;
		struct rules_rule *r = NULL;
		err[0] = '\0';
		CHECK(rules_rule_from_json(bad_specs[i].json, &r, err, sizeof err) != 0);
		CHECK(r == NULL);
		CHECK(strstr(err, bad_specs[i].err) != NULL);
		if (!strstr(err, bad_specs[i].err))
			fprintf(stderr, "  error was: %s\n", err);
	}
}

static void test_spec_round_trip(void)
{
	const char *json =
		"{\"match\":\"any\",\"if\":["
		"{\"field\":\"header\",\"name\":\"X-Prio\",\"op\":\"matches\",\"value\":\"1*\",\"not\":true},"
		"{\"field\":\"size\",\"op\":\"under\",\"value\":1024}],"
		"\"then\":[{\"action\":\"forward\",\"to\":[\"a@b.test\"]},"
		"{\"action\":\"vacation\",\"start\":\"2026-01-01\",\"days\":2,\"text\":\"x\\ny\",\"addresses\":[\"me@x.test\"]},"
		"{\"action\":\"tag\",\"text\":\"[t]\"},{\"action\":\"stop\"}]}";
	struct rules_rule *r = rule(json);
	char *spec = rules_spec_format(r);
	CHECK(spec != NULL);
	struct rules_rule *r2 = rules_rule_new();
	char err[256];
	CHECK_INT(rules_spec_parse(spec, r2, err, sizeof err), 0);
	char *spec2 = rules_spec_format(r2);
	CHECK_STR(spec2, spec);
	CHECK(strstr(spec, "\"v\":1") != NULL);
	/* the web admin form carries name/enabled/id too */
	snprintf(r->name, sizeof r->name, "Prio");
	r->enabled = false;
	char *full = rules_rule_to_json(r);
	CHECK(full && strstr(full, "\"name\":\"Prio\"") && strstr(full, "\"enabled\":false"));
	struct buf b;
	CHECK_INT(buf_init(&b, 4096), 0);
	CHECK_INT(rules_rule_describe(r, &b), 0);
	CHECK_STR(b.data, "if header:X-Prio not matches \"1*\" or size under 1K then "
			  "forward a@b.test; vacation 2026-01-01.. every 2 days; "
			  "tag \"[t]\"; stop");
	buf_free(&b);
	free(full);
	free(spec);
	free(spec2);
	rules_rule_free(&r);
	rules_rule_free(&r2);
}

static void test_decision_format(void)
{
	struct rules_message *m = message(MSG);
	const char *rs[] = {
		"{\"name\":\"boss\",\"then\":[{\"action\":\"forward\",\"to\":[\"x@remote.test\"]},{\"action\":\"tag\",\"text\":\"[B]\"},"
		"{\"action\":\"header\",\"name\":\"X-Boss\",\"text\":\"yes\"}]}",
		VAC, NULL};
	struct rules_set *set = set_of(rs);
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	struct buf b;
	CHECK_INT(buf_init(&b, 4096), 0);
	CHECK_INT(rules_decision_format(&d, &b), 0);
	CHECK_STR(b.data, "matched: boss, (unnamed)\nkeep: yes\ntag: [B]\n"
			  "header: X-Boss: yes\nforward: x@remote.test\nvacation: reply\n");
	buf_free(&b);
	rules_set_free(&set);
	free(m);
}

static void test_try(void)
{
	const char *rs[] = {
		"{\"name\":\"boss\",\"if\":[{\"field\":\"envelope_from\",\"op\":\"is\",\"value\":\"renee@sender.test\"}],"
		"\"then\":[{\"action\":\"tag\",\"text\":\"[B]\"}]}", NULL};
	struct rules_set *set = set_of(rs);
	struct buf b;
	CHECK_INT(buf_init(&b, 4096), 0);
	/* pasted with LF line ends; the sender comes from From: */
	const char pasted[] = "From: Renee <renee@sender.test>\nTo: alice@example.test\n"
			      "Subject: hi\n\nbody\n";
	CHECK_INT(rules_try(set, pasted, sizeof pasted - 1, NULL, "alice@example.test",
			    "mail.example.test", 1796000000, &b), 0);
	CHECK_STR(b.data, "matched: boss\nkeep: yes\ntag: [B]\n");
	buf_reset(&b);
	CHECK_INT(rules_try(set, pasted, sizeof pasted - 1, "x@other.test",
			    "alice@example.test", "mail.example.test", 1796000000, &b), 0);
	CHECK_STR(b.data, "matched: none\nkeep: yes\n");
	buf_free(&b);
	rules_set_free(&set);
}

TEST_SUITE(rules_eval, {"try", test_try}, {"conditions", test_conditions},
	   {"all_any", test_all_any}, {"actions", test_actions},
	   {"loop", test_loop}, {"rcpt_reject", test_rcpt_reject},
	   {"vacation_suppression", test_vacation_suppression},
	   {"spec_errors", test_spec_errors},
	   {"spec_round_trip", test_spec_round_trip},
	   {"decision_format", test_decision_format});
