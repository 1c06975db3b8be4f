/*
 * sieve_export.c - a rule set as one RFC 5228 Sieve script, in the shape
 * sieve_import.c reads back (and other Sieve servers run):
 *
 *   # rule:[Name]                         <- Roundcube's naming comment
 *   if allof (header :contains "subject" "x", size :over 1048576) {
 *       redirect :copy "a@b.example";     <- forward (RFC 3894)
 *       stop;
 *   }
 *
 * A disabled rule keeps its test behind "false": `if allof (false, T)`,
 * so no server runs it and the import knows it is off. Conditions: from
 * and to/cc with contains use `header`, with is/matches `address`;
 * envelope fields use `envelope`; size `size :over/:under`; body
 * `body :contains "x"` (RFC 5173, require "body"). The subject
 * tag is the editheader + variables idiom (capture, deleteheader,
 * addheader); vacation dates are a `currentdate` (RFC 5260) test around
 * the vacation action.
 *
 * Our own SPF/DKIM/DMARC results have no Sieve test: header :contains
 * on Authentication-Results would also match another server's field or
 * a comment, so it is not written. They are the vendor test
 * `mailroom_authres "dkim" "pass"` under require "vnd.mailroom.authres",
 * which sieve_import.c reads back; any other Sieve server refuses the
 * script at its require (RFC 5228 3.2) instead of running a rule that
 * matches differently. A comment at the top says so.
 */
#include <string.h>

#include "rules.h"

enum {
	NEED_COPY = 1 << 0,
	NEED_REJECT = 1 << 1,
	NEED_VACATION = 1 << 2,
	NEED_ENVELOPE = 1 << 3,
	NEED_DATE = 1 << 4, /* date + relational */
	NEED_EDIT = 1 << 5, /* editheader + variables */
	NEED_REGEX = 1 << 6,
	NEED_EDITHEADER = 1 << 7, /* editheader alone (set a header) */
	NEED_BODY = 1 << 8,       /* RFC 5173 */
	NEED_AUTHRES = 1 << 9,    /* ours: vnd.mailroom.authres */
};

static int put_string(struct buf *out, const char *s)
{
	int bad = buf_append_str(out, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			bad |= buf_append(out, "\\", 1);
		bad |= buf_append(out, p, 1);
	}
	bad |= buf_append_str(out, "\"");
	return bad ? -1 : 0;
}

static unsigned needs(const struct rules_set *set)
{
	unsigned need = 0;
	for (size_t i = 0; i < set->n; i++) {
		const struct rules_rule *r = set->rules[i];
		for (size_t j = 0; j < r->n_conds; j++) {
			if (r->conds[j].field == RULES_FIELD_ENVELOPE_FROM ||
			    r->conds[j].field == RULES_FIELD_ENVELOPE_TO)
				need |= NEED_ENVELOPE;
			if (r->conds[j].op == RULES_OP_REGEX)
				need |= NEED_REGEX;
			if (r->conds[j].field == RULES_FIELD_BODY)
				need |= NEED_BODY;
			if (rules_field_is_auth(r->conds[j].field))
				need |= NEED_AUTHRES;
		}
		for (size_t j = 0; j < r->n_actions; j++) {
			const struct rules_action *a = &r->actions[j];
			if (a->type == RULES_ACTION_FORWARD)
				need |= NEED_COPY;
			if (a->type == RULES_ACTION_REJECT)
				need |= NEED_REJECT;
			if (a->type == RULES_ACTION_TAG)
				need |= NEED_EDIT;
			if (a->type == RULES_ACTION_HEADER)
				need |= NEED_EDITHEADER;
			if (a->type == RULES_ACTION_VACATION) {
				need |= NEED_VACATION;
				if (a->vacation.start[0] || a->vacation.end[0])
					need |= NEED_DATE;
			}
		}
	}
	return need;
}

static int put_cond(struct buf *out, const struct rules_condition *c)
{
	int bad = 0;
	if (c->negate)
		bad |= buf_append_str(out, "not ");
	if (c->field == RULES_FIELD_SIZE)
		return bad | buf_printf(out, "size :%s %lld", rules_op_name(c->op),
					(long long)c->size);
	const char *op = rules_op_name(c->op);
	bool whole = c->op == RULES_OP_CONTAINS || c->op == RULES_OP_REGEX;
	switch (c->field) {
	case RULES_FIELD_FROM:
		bad |= buf_printf(out, "%s :%s \"from\" ",
				  whole ? "header" : "address", op);
		break;
	case RULES_FIELD_TO_CC:
		bad |= buf_printf(out, "%s :%s [\"to\", \"cc\"] ",
				  whole ? "header" : "address", op);
		break;
	case RULES_FIELD_SUBJECT:
		bad |= buf_printf(out, "header :%s \"subject\" ", op);
		break;
	case RULES_FIELD_HEADER:
		bad |= buf_printf(out, "header :%s ", op);
		bad |= put_string(out, c->header);
		bad |= buf_append_str(out, " ");
		break;
	case RULES_FIELD_ENVELOPE_FROM:
		bad |= buf_printf(out, "envelope :%s \"from\" ", op);
		break;
	case RULES_FIELD_ENVELOPE_TO:
		bad |= buf_printf(out, "envelope :%s \"to\" ", op);
		break;
	case RULES_FIELD_BODY: /* RFC 5173; :text, our default, left out */
		bad |= buf_printf(out, "body :%s ", op);
		break;
	case RULES_FIELD_SPF:
	case RULES_FIELD_DKIM:
	case RULES_FIELD_DMARC: /* op is "is" (validated) */
		bad |= buf_printf(out, "mailroom_authres \"%s\" ",
				  rules_field_name(c->field));
		break;
	default:
		return -1;
	}
	bad |= put_string(out, c->value);
	return bad ? -1 : 0;
}

static int put_test(struct buf *out, const struct rules_rule *r)
{
	int bad = 0;
	if (!r->enabled)
		bad |= buf_append_str(out, r->n_conds ? "allof (false, " : "false");
	if (r->n_conds == 0) {
		if (r->enabled)
			bad |= buf_append_str(out, "true");
	} else if (r->n_conds == 1) {
		bad |= put_cond(out, &r->conds[0]);
	} else {
		bad |= buf_append_str(out, r->match_any ? "anyof (" : "allof (");
		for (size_t i = 0; i < r->n_conds; i++) {
			if (i)
				bad |= buf_append_str(out, ",\n        ");
			bad |= put_cond(out, &r->conds[i]);
		}
		bad |= buf_append_str(out, ")");
	}
	if (!r->enabled && r->n_conds)
		bad |= buf_append_str(out, ")");
	return bad ? -1 : 0;
}

static int put_vacation(struct buf *out, const struct rules_vacation *v,
			const char *indent)
{
	int bad = buf_printf(out, "%svacation :days %d", indent, v->days);
	if (v->subject) {
		bad |= buf_append_str(out, " :subject ");
		bad |= put_string(out, v->subject);
	}
	if (v->n_addrs) {
		bad |= buf_append_str(out, " :addresses ");
		bad |= buf_append_str(out, "[");
		for (size_t i = 0; i < v->n_addrs; i++) {
			if (i)
				bad |= buf_append_str(out, ", ");
			bad |= put_string(out, v->addrs[i]);
		}
		bad |= buf_append_str(out, "]");
	}
	bad |= buf_append_str(out, " ");
	bad |= put_string(out, v->text);
	bad |= buf_append_str(out, ";\n");
	return bad ? -1 : 0;
}

static int put_action(struct buf *out, const struct rules_action *a)
{
	int bad = 0;
	switch (a->type) {
	case RULES_ACTION_KEEP:
	case RULES_ACTION_DISCARD:
	case RULES_ACTION_STOP:
		return buf_printf(out, "    %s;\n", rules_action_name(a->type));
	case RULES_ACTION_FORWARD:
	case RULES_ACTION_REDIRECT:
		for (size_t i = 0; i < a->n_addrs; i++) {
			bad |= buf_append_str(out, a->type == RULES_ACTION_FORWARD
							   ? "    redirect :copy "
							   : "    redirect ");
			bad |= put_string(out, a->addrs[i]);
			bad |= buf_append_str(out, ";\n");
		}
		return bad ? -1 : 0;
	case RULES_ACTION_REJECT:
		bad |= buf_append_str(out, "    reject ");
		bad |= put_string(out, a->text);
		bad |= buf_append_str(out, ";\n");
		return bad ? -1 : 0;
	case RULES_ACTION_TAG: {
		/* a tag is its text and one space (forward.c) */
		size_t n = strlen(a->text);
		while (n > 0 && a->text[n - 1] == ' ')
			n--;
		char tagged[RULES_SHORT_TEXT_MAX + 16];
		memcpy(tagged, a->text, n);
		memcpy(tagged + n, " ${subject}", sizeof " ${subject}");
		bad |= buf_append_str(out,
				      "    if header :matches \"subject\" \"*\" "
				      "{ set \"subject\" \"${1}\"; }\n"
				      "    deleteheader \"subject\";\n"
				      "    addheader \"Subject\" ");
		bad |= put_string(out, tagged);
		bad |= buf_append_str(out, ";\n");
		return bad ? -1 : 0;
	}
	case RULES_ACTION_HEADER:
		bad |= buf_append_str(out, "    deleteheader ");
		bad |= put_string(out, a->header);
		bad |= buf_append_str(out, ";\n    addheader ");
		bad |= put_string(out, a->header);
		bad |= buf_append_str(out, " ");
		bad |= put_string(out, a->text);
		bad |= buf_append_str(out, ";\n");
		return bad ? -1 : 0;
	case RULES_ACTION_VACATION: {
		const struct rules_vacation *v = &a->vacation;
		if (!v->start[0] && !v->end[0])
			return put_vacation(out, v, "    ");
		bad |= buf_append_str(out, "    if ");
		if (v->start[0] && v->end[0])
			bad |= buf_append_str(out, "allof (");
		if (v->start[0])
			bad |= buf_printf(out, "currentdate :value \"ge\" \"date\" "
					       "\"%s\"", v->start);
		if (v->start[0] && v->end[0])
			bad |= buf_append_str(out, ", ");
		if (v->end[0])
			bad |= buf_printf(out, "currentdate :value \"le\" \"date\" "
					       "\"%s\"", v->end);
		if (v->start[0] && v->end[0])
			bad |= buf_append_str(out, ")");
		bad |= buf_append_str(out, " {\n");
		bad |= put_vacation(out, v, "        ");
		bad |= buf_append_str(out, "    }\n");
		return bad ? -1 : 0;
	}
	}
	return -1;
}

int rules_sieve_export(const struct rules_set *set, struct buf *out)
{
	static const struct {
		unsigned bit;
		const char *names;
	} caps[] = {
		{NEED_COPY, "\"copy\""},
		{NEED_DATE, "\"date\""},
		{NEED_EDIT | NEED_EDITHEADER, "\"editheader\""},
		{NEED_ENVELOPE, "\"envelope\""},
		{NEED_REGEX, "\"regex\""},
		{NEED_BODY, "\"body\""},
		{NEED_REJECT, "\"reject\""},
		{NEED_DATE, "\"relational\""},
		{NEED_VACATION, "\"vacation\""},
		{NEED_EDIT, "\"variables\""},
		{NEED_AUTHRES, "\"vnd.mailroom.authres\""},
	};
	int bad = buf_append_str(out, "# Mailroom rules (Sieve, RFC 5228)\n");
	unsigned need = needs(set);
	if (need & NEED_AUTHRES)
		bad |= buf_append_str(
			out, "# mailroom_authres \"spf\"|\"dkim\"|\"dmarc\" \"RESULT\" is "
			     "Mailroom's own test:\n# the result of this server's "
			     "checks (its Authentication-Results).\n# Other Sieve "
			     "servers refuse this script; remove those rules to "
			     "use it there.\n");
	if (need) {
		bool first = true;
		bad |= buf_append_str(out, "require [");
		for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
			if (!(need & caps[i].bit))
				continue;
			bad |= buf_printf(out, "%s%s", first ? "" : ", ",
					  caps[i].names);
			first = false;
		}
		bad |= buf_append_str(out, "];\n");
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct rules_rule *r = set->rules[i];
		bad |= buf_append_str(out, "\n# rule:[");
		/* the name sits in a comment: no line break may end it early */
		for (const char *p = r->name; *p; p++)
			bad |= buf_append(out, (*p == '\n' || *p == '\r') ? " " : p, 1);
		bad |= buf_append_str(out, "]\nif ");
		bad |= put_test(out, r);
		bad |= buf_append_str(out, " {\n");
		for (size_t j = 0; j < r->n_actions; j++)
			bad |= put_action(out, &r->actions[j]);
		bad |= buf_append_str(out, "}\n");
	}
	return bad ? -1 : 0;
}
