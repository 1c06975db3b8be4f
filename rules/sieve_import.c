/*
 * sieve_import.c - a Sieve script (as sieve_parse.c reads it) to rules.
 *
 * What is understood is exactly what sieve_export.c writes plus the
 * common hand-written forms: top-level `if TEST { ACTIONS }` (one rule
 * each, named by a preceding "# rule:[Name]"), top-level actions (a rule
 * without conditions), tests header / address / envelope with :is
 * :contains :matches (comparator i;ascii-casemap), size :over/:under,
 * not, allof/anyof one level deep, true/false, and the actions keep,
 * discard, stop, redirect [:copy], reject, vacation (:days :subject
 * :addresses :handle), the editheader subject-tag idiom and currentdate
 * around vacation, and our own test mailroom_authres (the spf, dkim and
 * dmarc conditions; require "vnd.mailroom.authres"). Anything else -
 * elsif/else, fileinto, :regex, :localpart, nested allof, unknown
 * extensions - is refused with its line number: silently dropping part
 * of someone's filter would be worse than refusing it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules.h"
#include "sieve_int.h"

struct imp {
	char *err;
	size_t errlen;
	int failed;
};

__attribute__((format(printf, 3, 4))) static int bad(struct imp *im, int line,
						     const char *fmt, ...)
{
	if (im->failed)
		return -1;
	im->failed = 1;
	int n = snprintf(im->err, im->errlen, "line %d: ", line);
	if (n >= 0 && (size_t)n < im->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(im->err + n, im->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *const supported_caps[] = {
	"copy",      "reject",     "vacation", "envelope",
	"relational", "date",      "editheader", "variables",
	"comparator-i;ascii-casemap", "regex", "body",
	"vnd.mailroom.authres", /* ours: sieve_export.c writes it */
	NULL,
};

static int check_require(struct imp *im, const struct sieve_node *n)
{
	if (n->nargs != 1 || n->args[0].kind != SIEVE_ARG_STRINGS || n->ntests ||
	    n->has_block)
		return bad(im, n->line, "require takes one string list");
	for (size_t i = 0; i < n->args[0].n; i++) {
		const char *cap = n->args[0].strs[i];
		bool ok = false;
		for (size_t j = 0; supported_caps[j]; j++)
			ok = ok || strcmp(cap, supported_caps[j]) == 0;
		if (!ok)
			return bad(im, n->line, "extension \"%.60s\" is not supported",
				   cap);
	}
	return 0;
}

static char *dup(struct imp *im, int line, const char *s)
{
	char *d = strdup(s);
	if (d == NULL)
		bad(im, line, "out of memory");
	return d;
}

/* ---- tests ------------------------------------------------------------- */

struct test_args {
	const char *match;      /* "is", "contains", "matches", "over", ... */
	const char *comparator; /* or NULL */
	const char *addrpart;   /* "all" or NULL */
	const char *transform;  /* body: "text" or "raw", or NULL */
	const struct sieve_arg *strs[2];
	size_t nstrs;
	int64_t num;
	bool has_num;
};

static int read_test_args(struct imp *im, const struct sieve_node *t,
			  struct test_args *ta)
{
	memset(ta, 0, sizeof *ta);
	for (size_t i = 0; i < t->nargs; i++) {
		const struct sieve_arg *a = &t->args[i];
		if (a->kind == SIEVE_ARG_TAG) {
			const char *tag = a->tag;
			if (!strcmp(tag, "is") || !strcmp(tag, "contains") ||
			    !strcmp(tag, "matches") || !strcmp(tag, "over") ||
			    !strcmp(tag, "under") || !strcmp(tag, "regex")) {
				if (ta->match)
					return bad(im, a->line, "two match types");
				ta->match = tag;
			} else if (!strcmp(tag, "comparator")) {
				if (i + 1 >= t->nargs ||
				    t->args[i + 1].kind != SIEVE_ARG_STRINGS ||
				    t->args[i + 1].n != 1)
					return bad(im, a->line,
						   ":comparator needs a string");
				ta->comparator = t->args[++i].strs[0];
			} else if (!strcmp(tag, "all")) {
				ta->addrpart = tag;
			} else if (!strcmp(tag, "text") || !strcmp(tag, "raw")) {
				if (strcmp(t->name, "body") != 0)
					return bad(im, a->line, ":%s belongs to "
						   "body", tag);
				ta->transform = tag;
			} else if (!strcmp(tag, "content") &&
				   !strcmp(t->name, "body")) {
				return bad(im, a->line, "body :content is not "
					   "supported (only :text or :raw: the "
					   "body is matched as a whole)");
			} else {
				return bad(im, a->line, ":%.40s is not supported in "
					   "%s", tag, t->name);
			}
		} else if (a->kind == SIEVE_ARG_NUMBER) {
			if (ta->has_num)
				return bad(im, a->line, "unexpected number");
			ta->num = a->num;
			ta->has_num = true;
		} else {
			if (ta->nstrs >= 2)
				return bad(im, a->line, "too many arguments to %s",
					   t->name);
			ta->strs[ta->nstrs++] = a;
		}
	}
	if (ta->comparator && strcmp(ta->comparator, "i;ascii-casemap") != 0)
		return bad(im, t->line, "comparator \"%.40s\" is not supported "
			   "(only i;ascii-casemap)", ta->comparator);
	return 0;
}

static bool names_are(const struct sieve_arg *a, const char *x, const char *y)
{
	if (y == NULL)
		return a->n == 1 && strcasecmp(a->strs[0], x) == 0;
	return a->n == 2 &&
	       ((strcasecmp(a->strs[0], x) == 0 && strcasecmp(a->strs[1], y) == 0) ||
		(strcasecmp(a->strs[0], y) == 0 && strcasecmp(a->strs[1], x) == 0));
}

static int cond_from_test(struct imp *im, const struct sieve_node *t,
			  struct rules_condition *c)
{
	bool neg = false;
	if (strcmp(t->name, "not") == 0) {
		if (t->ntests != 1 || t->test_list || t->nargs)
			return bad(im, t->line, "not takes one test");
		t = t->tests[0];
		neg = true;
		if (strcmp(t->name, "not") == 0)
			return bad(im, t->line, "not not is not supported");
	}
	c->negate = neg;
	if (t->ntests || t->has_block)
		return bad(im, t->line, "%.40s inside allof/anyof is not supported",
			   t->name);
	struct test_args ta;
	if (read_test_args(im, t, &ta) != 0)
		return -1;
	const char *m = ta.match ? ta.match : "is";
	if (strcmp(t->name, "size") == 0) {
		if (!ta.has_num || ta.nstrs ||
		    (strcmp(m, "over") != 0 && strcmp(m, "under") != 0))
			return bad(im, t->line, "size takes :over or :under and a "
				   "number");
		c->field = RULES_FIELD_SIZE;
		c->op = strcmp(m, "over") == 0 ? RULES_OP_OVER : RULES_OP_UNDER;
		c->size = ta.num;
		return 0;
	}
	if (strcmp(t->name, "body") == 0) {
		/* RFC 5173: :text (the default) and :raw both mean our body
		 * condition (the decoded or raw scanned prefix) */
		if (ta.has_num || ta.nstrs != 1 || ta.addrpart)
			return bad(im, t->line, "body takes one key");
		if (rules_op_parse(m, &c->op) != 0 || c->op == RULES_OP_OVER ||
		    c->op == RULES_OP_UNDER || c->op == RULES_OP_REGEX)
			return bad(im, t->line, ":%s does not fit body", m);
		if (ta.strs[0]->n != 1)
			return bad(im, ta.strs[0]->line, "several keys in one "
				   "test are not supported (use anyof)");
		c->field = RULES_FIELD_BODY;
		c->value = dup(im, t->line, ta.strs[0]->strs[0]);
		return c->value ? 0 : -1;
	}
	if (strcmp(t->name, "mailroom_authres") == 0) {
		/* mailroom_authres [:is] "spf"|"dkim"|"dmarc" "RESULT":
		 * validation judges the word */
		char hname[RULES_HEADER_NAME_MAX + 1];
		if (ta.has_num || ta.nstrs != 2 || ta.addrpart ||
		    strcmp(m, "is") != 0 || ta.strs[0]->n != 1 ||
		    ta.strs[1]->n != 1)
			return bad(im, t->line, "mailroom_authres takes a method "
				   "and one result");
		if (rules_field_parse(ta.strs[0]->strs[0], &c->field, hname) != 0 ||
		    !rules_field_is_auth(c->field))
			return bad(im, t->line, "mailroom_authres takes \"spf\", "
				   "\"dkim\" or \"dmarc\"");
		c->op = RULES_OP_IS;
		c->value = dup(im, t->line, ta.strs[1]->strs[0]);
		return c->value ? 0 : -1;
	}
	bool hdr = strcmp(t->name, "header") == 0;
	bool adr = strcmp(t->name, "address") == 0;
	bool env = strcmp(t->name, "envelope") == 0;
	if (!hdr && !adr && !env)
		return bad(im, t->line, "test \"%.40s\" is not supported", t->name);
	if (ta.has_num || ta.nstrs != 2)
		return bad(im, t->line, "%s takes a header list and a key", t->name);
	if (rules_op_parse(m, &c->op) != 0 || c->op == RULES_OP_OVER ||
	    c->op == RULES_OP_UNDER)
		return bad(im, t->line, ":%s does not fit %s", m, t->name);
	if (ta.addrpart && hdr)
		return bad(im, t->line, ":all belongs to address and envelope");
	const struct sieve_arg *names = ta.strs[0], *keys = ta.strs[1];
	if (keys->n != 1)
		return bad(im, keys->line, "several keys in one test are not "
			   "supported (use anyof)");
	if (env) {
		if (names_are(names, "from", NULL))
			c->field = RULES_FIELD_ENVELOPE_FROM;
		else if (names_are(names, "to", NULL))
			c->field = RULES_FIELD_ENVELOPE_TO;
		else
			return bad(im, names->line, "envelope takes \"from\" or "
				   "\"to\"");
	} else if (names_are(names, "to", "cc")) {
		c->field = RULES_FIELD_TO_CC;
	} else if (names_are(names, "from", NULL) &&
		   (adr || c->op == RULES_OP_CONTAINS || c->op == RULES_OP_REGEX)) {
		c->field = RULES_FIELD_FROM;
	} else if (adr && (names_are(names, "to", NULL) ||
			   names_are(names, "cc", NULL))) {
		c->field = RULES_FIELD_TO_CC;
	} else if (adr) {
		return bad(im, names->line, "address tests work on from, to and "
			   "cc here");
	} else if (names_are(names, "subject", NULL)) {
		c->field = RULES_FIELD_SUBJECT;
	} else if (names->n == 1) {
		c->field = RULES_FIELD_HEADER;
		if ((c->header = dup(im, names->line, names->strs[0])) == NULL)
			return -1;
	} else {
		return bad(im, names->line, "several header names in one test are "
			   "not supported (use anyof)");
	}
	c->value = dup(im, keys->line, keys->strs[0]);
	return c->value ? 0 : -1;
}

/* The rule's test: enabled flag, all/any, conditions. */
static int rule_test(struct imp *im, const struct sieve_node *t,
		     struct rules_rule *r)
{
	if (strcmp(t->name, "false") == 0 && !t->nargs && !t->ntests) {
		r->enabled = false;
		return 0;
	}
	if (strcmp(t->name, "true") == 0 && !t->nargs && !t->ntests)
		return 0;
	/* allof (false, T): a disabled rule */
	if (strcmp(t->name, "allof") == 0 && t->ntests == 2 &&
	    strcmp(t->tests[0]->name, "false") == 0) {
		r->enabled = false;
		t = t->tests[1];
		if (strcmp(t->name, "true") == 0)
			return 0;
	}
	const struct sieve_node *const *list = &t;
	size_t n = 1;
	if (strcmp(t->name, "allof") == 0 || strcmp(t->name, "anyof") == 0) {
		if (t->nargs || !t->test_list)
			return bad(im, t->line, "%s takes a list of tests", t->name);
		r->match_any = t->name[1] == 'n';
		list = (const struct sieve_node *const *)t->tests;
		n = t->ntests;
	}
	if (n > RULES_CONDITIONS_MAX)
		return bad(im, t->line, "more than %d conditions in one rule",
			   RULES_CONDITIONS_MAX);
	r->conds = calloc(n, sizeof *r->conds);
	if (r->conds == NULL)
		return bad(im, t->line, "out of memory");
	for (size_t i = 0; i < n; i++) {
		r->n_conds = i + 1;
		const char *nm = list[i]->name;
		if (!strcmp(nm, "allof") || !strcmp(nm, "anyof"))
			return bad(im, list[i]->line,
				   "nested allof/anyof is not supported");
		if (cond_from_test(im, list[i], &r->conds[i]) != 0)
			return -1;
	}
	return 0;
}

/* ---- actions --------------------------------------------------------------- */

static struct rules_action *new_action(struct imp *im, struct rules_rule *r,
				       int line, enum rules_action_type type)
{
	if (r->n_actions >= RULES_ACTIONS_MAX) {
		bad(im, line, "more than %d actions in one rule", RULES_ACTIONS_MAX);
		return NULL;
	}
	struct rules_action *a = &r->actions[r->n_actions++];
	memset(a, 0, sizeof *a);
	a->type = type;
	return a;
}

static int add_addr(struct imp *im, int line, char ***addrs, size_t *n,
		    const char *addr)
{
	if (*n >= RULES_ADDRS_MAX)
		return bad(im, line, "more than %d addresses in one action",
			   RULES_ADDRS_MAX);
	char **p = realloc(*addrs, (*n + 1) * sizeof *p);
	if (p == NULL)
		return bad(im, line, "out of memory");
	*addrs = p;
	if ((p[*n] = dup(im, line, addr)) == NULL)
		return -1;
	(*n)++;
	return 0;
}

static int one_string(struct imp *im, const struct sieve_node *c,
		      const struct sieve_arg *a, const char **s_r)
{
	if (a->kind != SIEVE_ARG_STRINGS || a->n != 1 || a->is_list)
		return bad(im, c->line, "%s takes one string", c->name);
	*s_r = a->strs[0];
	return 0;
}

static int vacation(struct imp *im, const struct sieve_node *c,
		    struct rules_rule *r, const char *start, const char *end)
{
	if (c->ntests || c->has_block)
		return bad(im, c->line, "vacation takes no test or block");
	struct rules_action *a = new_action(im, r, c->line, RULES_ACTION_VACATION);
	if (a == NULL)
		return -1;
	struct rules_vacation *v = &a->vacation;
	v->days = RULES_VACATION_DAYS_DEFAULT;
	snprintf(v->start, sizeof v->start, "%s", start ? start : "");
	snprintf(v->end, sizeof v->end, "%s", end ? end : "");
	const char *reason = NULL;
	for (size_t i = 0; i < c->nargs; i++) {
		const struct sieve_arg *x = &c->args[i];
		const struct sieve_arg *val = i + 1 < c->nargs ? &c->args[i + 1] : NULL;
		if (x->kind == SIEVE_ARG_TAG) {
			if (!strcmp(x->tag, "days")) {
				if (!val || val->kind != SIEVE_ARG_NUMBER)
					return bad(im, x->line, ":days needs a number");
				if (val->num < 1 || val->num > RULES_VACATION_DAYS_MAX)
					return bad(im, x->line, ":days must be 1 to %d",
						   RULES_VACATION_DAYS_MAX);
				v->days = (int)val->num;
			} else if (!strcmp(x->tag, "subject") ||
				   !strcmp(x->tag, "handle")) {
				const char *s = NULL;
				if (!val || one_string(im, c, val, &s) != 0)
					return bad(im, x->line, ":%s needs a string",
						   x->tag);
				if (x->tag[0] == 's') {
					/* a second one would drop (and leak) the
					 * first: refused (found by fuzz_rules_sieve) */
					if (v->subject != NULL)
						return bad(im, x->line,
							   "vacation :subject given twice");
					if ((v->subject = dup(im, x->line, s)) == NULL)
						return -1;
				}
			} else if (!strcmp(x->tag, "addresses")) {
				if (!val || val->kind != SIEVE_ARG_STRINGS)
					return bad(im, x->line,
						   ":addresses needs a string list");
				for (size_t k = 0; k < val->n; k++)
					if (add_addr(im, x->line, &v->addrs, &v->n_addrs,
						     val->strs[k]) != 0)
						return -1;
			} else {
				return bad(im, x->line, "vacation :%.40s is not "
					   "supported", x->tag);
			}
			i++;
			continue;
		}
		if (reason != NULL || one_string(im, c, x, &reason) != 0)
			return bad(im, x->line, "vacation takes one reason string");
	}
	if (reason == NULL)
		return bad(im, c->line, "vacation needs a reason text");
	v->text = dup(im, c->line, reason);
	return v->text ? 0 : -1;
}

/* `currentdate :value "ge"|"le" "date" "YYYY-MM-DD"` */
static int date_test(struct imp *im, const struct sieve_node *t,
		     const char **start, const char **end)
{
	if (strcmp(t->name, "currentdate") != 0 || t->nargs != 4 || t->ntests ||
	    t->args[0].kind != SIEVE_ARG_TAG || strcmp(t->args[0].tag, "value") ||
	    t->args[1].kind != SIEVE_ARG_STRINGS || t->args[1].n != 1 ||
	    t->args[2].kind != SIEVE_ARG_STRINGS || t->args[2].n != 1 ||
	    strcmp(t->args[2].strs[0], "date") ||
	    t->args[3].kind != SIEVE_ARG_STRINGS || t->args[3].n != 1)
		return bad(im, t->line, "only currentdate :value \"ge\"/\"le\" "
			   "\"date\" tests may guard a vacation");
	const char *rel = t->args[1].strs[0], *d = t->args[3].strs[0];
	if (!rules_date_valid(d))
		return bad(im, t->line, "\"%.20s\" is not a date (YYYY-MM-DD)", d);
	if (!strcmp(rel, "ge") && !*start)
		*start = d;
	else if (!strcmp(rel, "le") && !*end)
		*end = d;
	else
		return bad(im, t->line, "currentdate needs one \"ge\" and/or one "
			   "\"le\"");
	return 0;
}

static int dated_vacation(struct imp *im, const struct sieve_node *c,
			  struct rules_rule *r)
{
	const char *start = NULL, *end = NULL;
	const struct sieve_node *t = c->tests[0];
	if (strcmp(t->name, "allof") == 0) {
		if (t->ntests < 1 || t->ntests > 2)
			return bad(im, t->line, "a vacation date range is one or two "
				   "currentdate tests");
		for (size_t i = 0; i < t->ntests; i++)
			if (date_test(im, t->tests[i], &start, &end) != 0)
				return -1;
	} else if (date_test(im, t, &start, &end) != 0) {
		return -1;
	}
	if (c->nblock != 1 || strcmp(c->block[0]->name, "vacation") != 0)
		return bad(im, c->line, "a currentdate block may hold only a "
			   "vacation");
	return vacation(im, c->block[0], r, start, end);
}

/* `if header :matches "subject" "*" { set "subject" "${1}"; }` */
static bool is_subject_capture(const struct sieve_node *c)
{
	if (strcmp(c->name, "if") || c->ntests != 1 || c->nblock != 1)
		return false;
	const struct sieve_node *t = c->tests[0], *s = c->block[0];
	return !strcmp(t->name, "header") && t->nargs == 3 &&
	       t->args[0].kind == SIEVE_ARG_TAG &&
	       !strcmp(t->args[0].tag, "matches") &&
	       t->args[1].kind == SIEVE_ARG_STRINGS && t->args[1].n == 1 &&
	       !strcasecmp(t->args[1].strs[0], "subject") &&
	       t->args[2].kind == SIEVE_ARG_STRINGS && t->args[2].n == 1 &&
	       !strcmp(t->args[2].strs[0], "*") && !strcmp(s->name, "set") &&
	       s->nargs == 2 && s->args[0].kind == SIEVE_ARG_STRINGS &&
	       s->args[0].n == 1 && !strcmp(s->args[0].strs[0], "subject") &&
	       s->args[1].kind == SIEVE_ARG_STRINGS && s->args[1].n == 1 &&
	       !strcmp(s->args[1].strs[0], "${1}");
}

struct tag_state {
	bool captured; /* the subject capture idiom was seen */
	char deleted[RULES_HEADER_NAME_MAX + 1]; /* deleteheader waiting */
};

static int action(struct imp *im, const struct sieve_node *c,
		  struct rules_rule *r, struct tag_state *ts)
{
	const char *nm = c->name;
	if (!strcmp(nm, "if")) {
		if (is_subject_capture(c)) {
			ts->captured = true;
			return 0;
		}
		if (c->ntests == 1)
			return dated_vacation(im, c, r);
		return bad(im, c->line, "nested if is not supported");
	}
	if (!strcmp(nm, "elsif") || !strcmp(nm, "else"))
		return bad(im, c->line, "%s is not supported (write one if per "
			   "rule)", nm);
	if (c->ntests || c->has_block)
		return bad(im, c->line, "%.40s takes no test or block", nm);
	if (!strcmp(nm, "keep") || !strcmp(nm, "discard") || !strcmp(nm, "stop")) {
		if (c->nargs)
			return bad(im, c->line, "%s takes no arguments", nm);
		enum rules_action_type t = nm[0] == 'k'   ? RULES_ACTION_KEEP
					   : nm[0] == 'd' ? RULES_ACTION_DISCARD
							  : RULES_ACTION_STOP;
		return new_action(im, r, c->line, t) ? 0 : -1;
	}
	if (!strcmp(nm, "redirect")) {
		bool copy = false;
		const char *to = NULL;
		for (size_t i = 0; i < c->nargs; i++) {
			const struct sieve_arg *a = &c->args[i];
			if (a->kind == SIEVE_ARG_TAG && !strcmp(a->tag, "copy"))
				copy = true;
			else if (to == NULL && one_string(im, c, a, &to) == 0)
				continue;
			else
				return bad(im, a->line, "redirect takes [:copy] and "
					   "one address");
		}
		if (to == NULL)
			return bad(im, c->line, "redirect needs an address");
		enum rules_action_type t = copy ? RULES_ACTION_FORWARD
						: RULES_ACTION_REDIRECT;
		/* consecutive redirects of one kind are one action */
		struct rules_action *a = r->n_actions &&
						 r->actions[r->n_actions - 1].type == t
					 ? &r->actions[r->n_actions - 1]
					 : new_action(im, r, c->line, t);
		if (a == NULL)
			return -1;
		return add_addr(im, c->line, &a->addrs, &a->n_addrs, to);
	}
	if (!strcmp(nm, "reject")) {
		const char *text = NULL;
		if (c->nargs != 1 || one_string(im, c, &c->args[0], &text) != 0)
			return bad(im, c->line, "reject takes one string");
		struct rules_action *a = new_action(im, r, c->line,
						    RULES_ACTION_REJECT);
		if (a == NULL || (a->text = dup(im, c->line, text)) == NULL)
			return -1;
		return 0;
	}
	if (!strcmp(nm, "vacation"))
		return vacation(im, c, r, NULL, NULL);
	if (!strcmp(nm, "deleteheader")) {
		/* half of "set a header" (deleteheader N; addheader N V) or of
		 * the subject tag (capture; deleteheader; addheader) */
		const char *h = NULL;
		if (c->nargs != 1 || one_string(im, c, &c->args[0], &h) != 0 ||
		    ts->deleted[0] != '\0' || strlen(h) > RULES_HEADER_NAME_MAX)
			return bad(im, c->line, "deleteheader is supported only as "
				   "deleteheader NAME; addheader NAME VALUE");
		memcpy(ts->deleted, h, strlen(h) + 1);
		return 0;
	}
	if (!strcmp(nm, "addheader")) {
		const char *h = NULL, *v = NULL;
		static const char var[] = " ${subject}";
		if (c->nargs != 2 || one_string(im, c, &c->args[0], &h) != 0 ||
		    one_string(im, c, &c->args[1], &v) != 0 ||
		    strcasecmp(h, ts->deleted) != 0)
			return bad(im, c->line, "addheader is supported only right "
				   "after deleteheader of the same name");
		size_t n = strlen(v);
		bool tag = ts->captured && strcasecmp(h, "subject") == 0;
		if (tag && (n <= sizeof var - 1 ||
			    strcmp(v + n - (sizeof var - 1), var) != 0))
			return bad(im, c->line, "the subject tag must be "
				   "\"TAG ${subject}\"");
		struct rules_action *a = new_action(im, r, c->line,
						    tag ? RULES_ACTION_TAG
							: RULES_ACTION_HEADER);
		if (a == NULL)
			return -1;
		a->text = tag ? strndup(v, n - (sizeof var - 1)) : strdup(v);
		if (!tag)
			a->header = strdup(h);
		ts->captured = false;
		ts->deleted[0] = '\0';
		return a->text && (tag || a->header) ? 0
						    : bad(im, c->line, "out of memory");
	}
	return bad(im, c->line, "command \"%.40s\" is not supported", nm);
}

static int rule_actions(struct imp *im, struct sieve_node *const *cmds,
			size_t n, struct rules_rule *r)
{
	struct tag_state ts = {false, ""};
	r->actions = calloc(RULES_ACTIONS_MAX, sizeof *r->actions);
	if (r->actions == NULL)
		return bad(im, n ? cmds[0]->line : 0, "out of memory");
	char why[200];
	for (size_t i = 0; i < n; i++) {
		if (action(im, cmds[i], r, &ts) != 0)
			return -1;
		/* check as we go, so an error names the command's own line */
		if (r->n_actions && rules_rule_validate(r, why, sizeof why) != 0)
			return bad(im, cmds[i]->line, "%s", why);
	}
	if (ts.captured || ts.deleted[0])
		return bad(im, n ? cmds[n - 1]->line : 0,
			   "incomplete subject tag or header change (deleteheader "
			   "needs its addheader)");
	return 0;
}

static int finish_rule(struct imp *im, struct rules_set *set,
		       struct rules_rule **rp, int line)
{
	struct rules_rule *r = *rp;
	char why[200];
	r->position = (int)set->n + 1;
	if (r->name[0] == '\0')
		snprintf(r->name, sizeof r->name, "rule %d", r->position);
	if (rules_rule_validate(r, why, sizeof why) != 0 ||
	    rules_rule_compile(r, why, sizeof why) != 0)
		return bad(im, line, "%s", why);
	if (set->n >= RULES_PER_ACCOUNT_MAX || rules_set_append(set, rp) != 0)
		return bad(im, line, "more than %d rules", RULES_PER_ACCOUNT_MAX);
	return 0;
}

int rules_sieve_import(const char *script, size_t len,
		       struct rules_set **set_r, char *err, size_t errlen)
{
	struct imp im = {err, errlen, 0};
	struct sieve_script s;
	*set_r = NULL;
	if (len > RULES_SIEVE_MAX) {
		snprintf(err, errlen, "script longer than %d octets", RULES_SIEVE_MAX);
		return -1;
	}
	if (memchr(script, '\0', len) != NULL) {
		snprintf(err, errlen, "script contains a NUL byte");
		return -1;
	}
	if (sieve_parse(script, len, &s, err, errlen) != 0) {
		sieve_script_free(&s);
		return -1;
	}
	struct rules_set *set = rules_set_new();
	struct rules_rule *r = NULL;
	int rc = set ? 0 : bad(&im, 1, "out of memory");
	bool seen_other = false;
	size_t i = 0;
	while (rc == 0 && i < s.ncmds) {
		const struct sieve_node *c = s.cmds[i];
		if (!strcmp(c->name, "require")) {
			if (seen_other)
				rc = bad(&im, c->line, "require must come first");
			else
				rc = check_require(&im, c);
			i++;
			continue;
		}
		seen_other = true;
		r = rules_rule_new();
		if (r == NULL) {
			rc = bad(&im, c->line, "out of memory");
			break;
		}
		if (c->comment)
			snprintf(r->name, sizeof r->name, "%s", c->comment);
		if (!strcmp(c->name, "if") && !is_subject_capture(c)) {
			if (c->ntests != 1 || c->test_list || c->nargs ||
			    !c->has_block)
				rc = bad(&im, c->line, "if takes one test and a block");
			if (rc == 0)
				rc = rule_test(&im, c->tests[0], r);
			if (rc == 0)
				rc = rule_actions(&im, c->block, c->nblock, r);
			if (rc == 0 && i + 1 < s.ncmds &&
			    (!strcmp(s.cmds[i + 1]->name, "elsif") ||
			     !strcmp(s.cmds[i + 1]->name, "else")))
				rc = bad(&im, s.cmds[i + 1]->line, "%s is not "
					 "supported (write one if per rule)",
					 s.cmds[i + 1]->name);
			i++;
		} else {
			/* a run of top-level actions: one rule, always */
			size_t j = i;
			while (j < s.ncmds && strcmp(s.cmds[j]->name, "require") &&
			       (strcmp(s.cmds[j]->name, "if") ||
				is_subject_capture(s.cmds[j])))
				j++;
			rc = rule_actions(&im, s.cmds + i, j - i, r);
			i = j;
		}
		if (rc == 0)
			rc = finish_rule(&im, set, &r, c->line);
		rules_rule_free(&r);
	}
	sieve_script_free(&s);
	if (rc != 0) {
		rules_set_free(&set);
		return -1;
	}
	*set_r = set;
	return 0;
}
