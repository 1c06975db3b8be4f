/*
 * test_rules_store.c - rules in the store and what rides on them: rows
 * kept in order through add/move/del/replace, server-wide rules first at
 * delivery, a bad spec skipped rather than stopping mail, the cache
 * reloading when rules change, the vacation rate per sender, the SRS key
 * made once; SRS forward/reverse; the vacation reply's text; the subject
 * tag rewrite and the Delivered-To prefix.
 */
#include <stdlib.h>
#include <string.h>

#include "../../rules/rules.h"
#include "../../store/store.h"
#include "test.h"
#include "test_store_util.h"

static const char KEEP[] = "{\"v\":1,\"then\":[{\"action\":\"keep\"}]}";

struct names {
	char text[512];
};

static int collect(void *ctx, const struct store_rule *r)
{
	struct names *n = ctx;
	size_t len = strlen(n->text);
	snprintf(n->text + len, sizeof n->text - len, "%s%d:%s", len ? " " : "",
		 r->position, r->name);
	return 0;
}

static const char *list(struct store *st, int64_t account)
{
	static struct names n;
	n.text[0] = '\0';
	CHECK_INT(store_rule_list(st, account, collect, &n), STORE_OK);
	return n.text;
}

static void test_rows(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	int64_t id[4], gen0 = -1, gen1 = -1;
	CHECK_INT(store_rule_generation(t.st, &gen0), STORE_OK);
	CHECK_INT(store_rule_add(t.st, alice, 0, "a", true, KEEP, &id[0]), STORE_OK);
	CHECK_INT(store_rule_add(t.st, alice, 0, "b", true, KEEP, &id[1]), STORE_OK);
	CHECK_INT(store_rule_add(t.st, alice, 1, "c", true, KEEP, &id[2]), STORE_OK);
	CHECK_INT(store_rule_add(t.st, 0, 0, "server", true, KEEP, &id[3]), STORE_OK);
	CHECK_INT(store_rule_generation(t.st, &gen1), STORE_OK);
	CHECK(gen1 > gen0);
	CHECK_STR(list(t.st, alice), "1:c 2:a 3:b");
	CHECK_STR(list(t.st, 0), "1:server");
	CHECK_INT(store_rule_move(t.st, alice, id[0], 1), STORE_OK);
	CHECK_STR(list(t.st, alice), "1:a 2:c 3:b");
	CHECK_INT(store_rule_move(t.st, alice, id[0], 3), STORE_OK);
	CHECK_STR(list(t.st, alice), "1:c 2:b 3:a");
	CHECK_INT(store_rule_del(t.st, alice, id[1]), STORE_OK);
	CHECK_STR(list(t.st, alice), "1:c 2:a");
	/* another list's id is not found in this one */
	CHECK_INT(store_rule_del(t.st, 0, id[0]), STORE_NOTFOUND);
	CHECK_INT(store_rule_del(t.st, alice, id[3]), STORE_NOTFOUND);
	CHECK_INT(store_rule_update(t.st, alice, id[0], "renamed", 0, NULL), STORE_OK);
	CHECK_STR(list(t.st, alice), "1:c 2:renamed");
	CHECK_INT(store_rule_update(t.st, alice, 999, "x", -1, NULL), STORE_NOTFOUND);
	CHECK_INT(store_rule_add(t.st, alice, 0, "x", true, "", NULL), STORE_INVALID);

	struct store_rule_in in[] = {{"one", true, KEEP}, {"two", false, KEEP}};
	CHECK_INT(store_rule_replace(t.st, alice, in, 2), STORE_OK);
	CHECK_STR(list(t.st, alice), "1:one 2:two");
	CHECK_STR(list(t.st, 0), "1:server");

	/* delivery order: server-wide first; disabled rules are loaded */
	struct rules_set *set = NULL;
	CHECK_INT(rules_load(t.st, alice, &set), STORE_OK);
	CHECK(set && set->n == 3);
	if (set && set->n == 3) {
		CHECK_STR(set->rules[0]->name, "server");
		CHECK_STR(set->rules[1]->name, "one");
		CHECK(!set->rules[2]->enabled);
		CHECK_INT(set->rules[0]->account_id, 0);
		CHECK_INT(set->rules[1]->account_id, alice);
	}
	rules_set_free(&set);
	/* a spec that does not parse is skipped, not fatal */
	CHECK_INT(store_rule_add(t.st, alice, 1, "broken", true, "{nope", NULL),
		  STORE_OK);
	CHECK_INT(rules_load(t.st, alice, &set), STORE_OK);
	CHECK(set && set->n == 3);
	rules_set_free(&set);
	/* deleting the account deletes its rules */
	CHECK_INT(store_account_del(t.st, "alice@example.test"), STORE_OK);
	CHECK_STR(list(t.st, alice), "");
	tstore_done(&t);
}

static void test_cache(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	struct rules_cache *c = rules_cache_new(2);
	const struct rules_set *s1 = NULL, *s2 = NULL;
	CHECK_INT(rules_cache_get(c, t.st, alice, &s1), STORE_OK);
	CHECK(s1 && s1->n == 0);
	CHECK_INT(rules_cache_get(c, t.st, alice, &s2), STORE_OK);
	CHECK(s1 == s2); /* cached */
	CHECK_INT(store_rule_add(t.st, alice, 0, "new", true, KEEP, NULL), STORE_OK);
	CHECK_INT(rules_cache_get(c, t.st, alice, &s2), STORE_OK);
	CHECK(s2 && s2->n == 1); /* reloaded after the change */
	/* more accounts than slots: still right */
	const char *more[] = {"b@example.test", "c@example.test", "d@example.test"};
	for (size_t i = 0; i < 3; i++)
		CHECK_INT(rules_cache_get(c, t.st, tstore_account(t.st, more[i], 0), &s1),
			  STORE_OK);
	CHECK_INT(rules_cache_get(c, t.st, 999, &s1), STORE_NOTFOUND);
	CHECK_INT(rules_cache_get(c, t.st, alice, &s2), STORE_OK);
	CHECK(s2 && s2->n == 1);
	rules_cache_free(&c);
	CHECK(c == NULL);
	tstore_done(&t);
}

static void test_vacation_rate(void)
{
	struct tstore t;
	tstore_open(&t);
	int64_t alice = tstore_account(t.st, "alice@example.test", 0);
	struct rules_rule *r = NULL;
	char err[256];
	CHECK_INT(rules_rule_from_json("{\"then\":[{\"action\":\"vacation\","
				       "\"days\":2,\"text\":\"away\"}]}",
				       &r, err, sizeof err), 0);
	struct rules_message *m = calloc(1, sizeof *m);
	m->envelope_from = "Bob@Remote.test";
	m->now = 1000000;
	const struct rules_action *vac = &r->actions[0];
	CHECK_INT(rules_vacation_due(t.st, alice, vac, m), 1);
	CHECK_INT(rules_vacation_due(t.st, alice, vac, m), 0);
	m->envelope_from = "bob@remote.test"; /* same sender, other case */
	m->now += 2 * 86400 - 1;
	CHECK_INT(rules_vacation_due(t.st, alice, vac, m), 0);
	m->envelope_from = "carol@remote.test"; /* per sender */
	CHECK_INT(rules_vacation_due(t.st, alice, vac, m), 1);
	m->envelope_from = "bob@remote.test";
	m->now += 1; /* 2 days after the first reply */
	CHECK_INT(rules_vacation_due(t.st, alice, vac, m), 1);
	m->envelope_from = "";
	CHECK(rules_vacation_due(t.st, alice, vac, m) < 0);
	free(m);
	rules_rule_free(&r);
	tstore_done(&t);
}

static void test_srs(void)
{
	struct tstore t;
	tstore_open(&t);
	unsigned char key[RULES_SRS_KEY_MAX], key2[RULES_SRS_KEY_MAX];
	size_t klen = 0, klen2 = 0;
	CHECK_INT(rules_srs_key(t.st, key, &klen), STORE_OK);
	CHECK_INT(rules_srs_key(t.st, key2, &klen2), STORE_OK);
	CHECK(klen == 32 && klen2 == 32 && memcmp(key, key2, klen) == 0);

	char out[ADDR_MAX + 1], back[ADDR_MAX + 1];
	const char *why = NULL;
	time_t now = 1796000000;
	CHECK_INT(rules_srs_forward(key, klen, "bob@remote.test", "example.test",
				    now, out, sizeof out), 0);
	CHECK(strncmp(out, "SRS0=", 5) == 0);
	CHECK(strstr(out, "=remote.test=bob@example.test") != NULL);
	CHECK(rules_srs_is_srs(out));
	CHECK_INT(rules_srs_reverse(key, klen, out, now, back, sizeof back, &why), 0);
	CHECK_STR(back, "bob@remote.test");
	/* a lowercased SRS address still reverses */
	char lower[ADDR_MAX + 1];
	for (size_t i = 0; i <= strlen(out); i++)
		lower[i] = (char)((out[i] >= 'A' && out[i] <= 'Z') ? out[i] + 32 : out[i]);
	CHECK_INT(rules_srs_reverse(key, klen, lower, now, back, sizeof back, &why), 0);
	/* tampered, too old, wrong key, not SRS */
	char bad[ADDR_MAX + 1];
	snprintf(bad, sizeof bad, "%s", out);
	bad[strlen(bad) - strlen("bob@example.test") - 1] = 'x'; /* domain */
	CHECK(rules_srs_reverse(key, klen, bad, now, back, sizeof back, &why) != 0);
	CHECK(rules_srs_reverse(key, klen, out, now + 30 * 86400, back, sizeof back,
				&why) != 0);
	CHECK_STR(why, "SRS address too old");
	unsigned char other[RULES_SRS_KEY_MAX];
	memcpy(other, key, klen);
	other[0] ^= 1; /* (a shorter key is not "other": HMAC pads with zeros) */
	CHECK(rules_srs_reverse(other, klen, out, now, back, sizeof back, &why) != 0);
	CHECK_STR(why, "SRS hash does not match");
	CHECK(rules_srs_reverse(key, klen, "bob@example.test", now, back,
				sizeof back, &why) != 0);
	/* forwarding an SRS0 address again gives SRS1, which reverses to it */
	char srs1[ADDR_MAX + 1];
	CHECK_INT(rules_srs_forward(key, klen, out, "other.test", now, srs1,
				    sizeof srs1), 0);
	CHECK(strncmp(srs1, "SRS1=", 5) == 0);
	CHECK(strstr(srs1, "=example.test==") != NULL);
	CHECK_INT(rules_srs_reverse(key, klen, srs1, now, back, sizeof back, &why), 0);
	CHECK_STR(back, out);
	/* the null sender stays null */
	CHECK_INT(rules_srs_forward(key, klen, "", "example.test", now, out,
				    sizeof out), 0);
	CHECK_STR(out, "");
	tstore_done(&t);
}

static void test_compose(void)
{
	const char hdr[] = "From: Bob <bob@remote.test>\r\n"
			   "To: alice@example.test\r\n"
			   "Subject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n"
			   "Message-ID: <abc@remote.test>\r\n"
			   "References: <r1@x.test> <r2@x.test>\r\n\r\n";
	struct rules_message *m = calloc(1, sizeof *m);
	rules_message_parse(m, hdr, sizeof hdr - 1);
	m->envelope_from = "bob@remote.test";
	m->envelope_to = m->account = "alice@example.test";
	m->now = 1796000000;
	struct rules_rule *r = NULL;
	char err[256];
	CHECK_INT(rules_rule_from_json("{\"then\":[{\"action\":\"vacation\","
				       "\"text\":\"Away = gone.\\nBack soon \xc3\xa9t\xc3\xa9 \"}]}",
				       &r, err, sizeof err), 0);
	struct buf b;
	CHECK_INT(buf_init(&b, 65536), 0);
	CHECK_INT(rules_vacation_compose(&r->actions[0], m, "mail.example.test", &b), 0);
	const char *s = b.data;
	CHECK(strstr(s, "From: <alice@example.test>\r\n") == s);
	CHECK(strstr(s, "\r\nTo: <bob@remote.test>\r\n") != NULL);
	/* "Auto: Café plans" as one UTF-8 B word */
	CHECK(strstr(s, "\r\nSubject: =?UTF-8?B?QXV0bzogQ2Fmw6kgcGxhbnM=?=\r\n") != NULL);
	CHECK(strstr(s, "\r\nIn-Reply-To: <abc@remote.test>\r\n") != NULL);
	CHECK(strstr(s, "\r\nReferences: <r1@x.test> <r2@x.test> <abc@remote.test>\r\n") != NULL);
	CHECK(strstr(s, "\r\nAuto-Submitted: auto-replied (vacation)\r\n") != NULL);
	CHECK(strstr(s, "\r\nDate: Mon, 30 Nov 2026 00:53:20 +0000\r\n") != NULL);
	CHECK(strstr(s, "@mail.example.test>\r\n") != NULL);
	CHECK(strstr(s, "\r\n\r\nAway =3D gone.\r\nBack soon =C3=A9t=C3=A9=20\r\n") != NULL);
	/* no bare LF anywhere */
	for (size_t i = 0; i < b.len; i++)
		if (s[i] == '\n')
			CHECK(i > 0 && s[i - 1] == '\r');
	/* never to the null sender */
	buf_reset(&b);
	m->envelope_from = "";
	CHECK(rules_vacation_compose(&r->actions[0], m, "h", &b) != 0);
	buf_free(&b);
	rules_rule_free(&r);
	free(m);
}

static void test_tag_and_prefix(void)
{
	struct buf b;
	CHECK_INT(buf_init(&b, 65536), 0);
	static const struct {
		const char *label, *in, *tag, *want;
	} cases[] = {
		{"plain", "From: a\r\nSubject: hello\r\n\r\n", "[SPAM]",
		 "From: a\r\nSubject: [SPAM] hello\r\n\r\n"},
		{"trailing space kept single", "Subject: hello\r\n\r\n", "[X] ",
		 "Subject: [X] hello\r\n\r\n"},
		{"not doubled", "Subject: [SPAM] hello\r\n\r\n", "[SPAM]",
		 "Subject: [SPAM] hello\r\n\r\n"},
		{"missing subject", "From: a\r\n\r\n", "[T]",
		 "From: a\r\nSubject: [T]\r\n\r\n"},
		{"folded subject", "Subject: a\r\n b\r\nX: y\r\n\r\n", "[T]",
		 "Subject: [T] a\r\n b\r\nX: y\r\n\r\n"},
		{"non-ascii tag", "Subject: hi\r\n\r\n", "[Wichtig\xc3\xbc]",
		 "Subject: =?UTF-8?Q?[Wichtig=C3=BC]?= hi\r\n\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_state.label = cases[i].label;
		buf_reset(&b);
		CHECK_INT(rules_subject_tag_apply(cases[i].in, strlen(cases[i].in),
						  cases[i].tag, &b), 0);
		CHECK_STR(b.data, cases[i].want);
	}
	static const struct {
		const char *label, *in, *name, *value, *want;
	} sets[] = {
		{"add", "From: a\r\n\r\n", "X-Team", "sales",
		 "From: a\r\nX-Team: sales\r\n\r\n"},
		{"replace all, folded too", "X-Team: a\r\n b\r\nFrom: a\r\nx-team : c\r\n\r\n",
		 "X-Team", "sales", "From: a\r\nX-Team: sales\r\n\r\n"},
		{"non-ascii", "From: a\r\n\r\n", "X-Note", "\xc3\xa9t\xc3\xa9",
		 "From: a\r\nX-Note: =?UTF-8?B?w6l0w6k=?=\r\n\r\n"},
		{"no final LF", "From: a", "X-A", "b", "From: a\r\nX-A: b\r\n"},
	};
	for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
		test_state.label = sets[i].label;
		buf_reset(&b);
		CHECK_INT(rules_header_set_apply(sets[i].in, strlen(sets[i].in),
						 sets[i].name, sets[i].value, &b), 0);
		CHECK_STR(b.data, sets[i].want);
	}
	test_state.label = "prefix";
	buf_reset(&b);
	CHECK_INT(rules_forward_prefix("alice@example.test", &b), 0);
	CHECK_STR(b.data, "Delivered-To: alice@example.test\r\n");
	CHECK(rules_forward_prefix("a\r\nX: y@z", &b) != 0);
	buf_free(&b);
}

TEST_SUITE(rules_store, {"rows", test_rows}, {"cache", test_cache},
	   {"vacation_rate", test_vacation_rate}, {"srs", test_srs},
	   {"compose", test_compose}, {"tag_and_prefix", test_tag_and_prefix});
