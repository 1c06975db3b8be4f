/*
 * rule.c - the rule and rule-set objects: lifetime, names of fields, ops
 * and actions, and validation (caps and which op fits which field).
 *
 * A rule owns every string hanging off it; rules_rule_free releases all.
 * Validation is the one gate every way in passes (JSON spec, Sieve import,
 * CLI), so evaluation can trust a rule: no NULL value where one is needed,
 * no size op on a text field, every address short enough.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <regex.h>
#include <strings.h>

#include "rules_int.h"

static const char *const field_names[] = {
	[RULES_FIELD_FROM] = "from",
	[RULES_FIELD_TO_CC] = "to_cc",
	[RULES_FIELD_SUBJECT] = "subject",
	[RULES_FIELD_HEADER] = "header",
	[RULES_FIELD_SIZE] = "size",
	[RULES_FIELD_ENVELOPE_FROM] = "envelope_from",
	[RULES_FIELD_ENVELOPE_TO] = "envelope_to",
	[RULES_FIELD_BODY] = "body",
	[RULES_FIELD_SPF] = "spf",
	[RULES_FIELD_DKIM] = "dkim",
	[RULES_FIELD_DMARC] = "dmarc",
};

static const char *const op_names[] = {
	[RULES_OP_CONTAINS] = "contains",
	[RULES_OP_IS] = "is",
	[RULES_OP_MATCHES] = "matches",
	[RULES_OP_OVER] = "over",
	[RULES_OP_UNDER] = "under",
	[RULES_OP_REGEX] = "regex",
};

static const char *const action_names[] = {
	[RULES_ACTION_KEEP] = "keep",
	[RULES_ACTION_FORWARD] = "forward",
	[RULES_ACTION_REDIRECT] = "redirect",
	[RULES_ACTION_DISCARD] = "discard",
	[RULES_ACTION_REJECT] = "reject",
	[RULES_ACTION_TAG] = "tag",
	[RULES_ACTION_VACATION] = "vacation",
	[RULES_ACTION_STOP] = "stop",
	[RULES_ACTION_HEADER] = "header",
};


const char *rules_field_name(enum rules_field f)
{
	return (size_t)f < COUNT(field_names) ? field_names[f] : "?";
}

const char *rules_op_name(enum rules_op op)
{
	return (size_t)op < COUNT(op_names) ? op_names[op] : "?";
}

const char *rules_action_name(enum rules_action_type t)
{
	return (size_t)t < COUNT(action_names) ? action_names[t] : "?";
}

/* A header field name: printable ASCII without ':' (RFC 5322 ftext). */
static bool header_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > RULES_HEADER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

int rules_field_parse(const char *s, enum rules_field *f_r, char *header_r)
{
	if (header_r)
		header_r[0] = '\0';
	if (strncasecmp(s, "header:", 7) == 0) {
		size_t n = strlen(s + 7);
		if (!header_name_ok(s + 7, n) || header_r == NULL)
			return -1;
		memcpy(header_r, s + 7, n + 1);
		*f_r = RULES_FIELD_HEADER;
		return 0;
	}
	/* a few spellings people type */
	static const struct {
		const char *name;
		enum rules_field f;
	} alias[] = {
		{"to", RULES_FIELD_TO_CC},
		{"cc", RULES_FIELD_TO_CC},
		{"to/cc", RULES_FIELD_TO_CC},
		{"envelope-from", RULES_FIELD_ENVELOPE_FROM},
		{"envelope-to", RULES_FIELD_ENVELOPE_TO},
	};
	for (size_t i = 0; i < COUNT(field_names); i++)
		if (strcasecmp(s, field_names[i]) == 0 &&
		    i != RULES_FIELD_HEADER) {
			*f_r = (enum rules_field)i;
			return 0;
		}
	for (size_t i = 0; i < COUNT(alias); i++)
		if (strcasecmp(s, alias[i].name) == 0) {
			*f_r = alias[i].f;
			return 0;
		}
	return -1;
}

int rules_op_parse(const char *s, enum rules_op *op_r)
{
	for (size_t i = 0; i < COUNT(op_names); i++)
		if (strcasecmp(s, op_names[i]) == 0) {
			*op_r = (enum rules_op)i;
			return 0;
		}
	return -1;
}

bool rules_date_valid(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
		(s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && d == 29 && !leap);
}

struct rules_rule *rules_rule_new(void)
{
	struct rules_rule *r = calloc(1, sizeof *r);
	if (r)
		r->enabled = true;
	return r;
}

static void free_addrs(char **addrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(addrs[i]);
	free(addrs);
}

void rules_rule_free(struct rules_rule **rulep)
{
	struct rules_rule *r = *rulep;
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_conds; i++) {
		free(r->conds[i].header);
		free(r->conds[i].value);
		if (r->conds[i].re) {
			regfree(r->conds[i].re);
			free(r->conds[i].re);
		}
	}
	free(r->conds);
	for (size_t i = 0; i < r->n_actions; i++) {
		struct rules_action *a = &r->actions[i];
		free_addrs(a->addrs, a->n_addrs);
		free(a->text);
		free(a->header);
		free(a->vacation.subject);
		free(a->vacation.text);
		free_addrs(a->vacation.addrs, a->vacation.n_addrs);
	}
	free(r->actions);
	free(r);
	*rulep = NULL;
}

struct rules_set *rules_set_new(void)
{
	return calloc(1, sizeof(struct rules_set));
}

void rules_set_free(struct rules_set **setp)
{
	struct rules_set *set = *setp;
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		rules_rule_free(&set->rules[i]);
	free(set->rules);
	free(set);
	*setp = NULL;
}

int rules_set_append(struct rules_set *set, struct rules_rule **rulep)
{
	/* server-wide plus one account's rules */
	if (set->n >= 2 * RULES_PER_ACCOUNT_MAX)
		return -1;
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 8;
		struct rules_rule **p = realloc(set->rules, cap * sizeof *p);
		if (p == NULL)
			return -1;
		set->rules = p;
		set->cap = cap;
	}
	struct rules_rule *r = *rulep;
	for (size_t i = 0; r->enabled && i < r->n_conds; i++)
		if (r->conds[i].field == RULES_FIELD_BODY)
			set->needs_body = true;
	set->rules[set->n++] = r;
	*rulep = NULL;
	return 0;
}

/* A mail address as rules keep it: local@domain, no spaces or controls,
 * within RFC 5321 lengths. Deliberately looser than addr_parse: forward
 * targets may be any address a remote server accepts. */
static bool address_ok(const char *a)
{
	size_t n = strlen(a);
	const char *at = strrchr(a, '@');
	if (n == 0 || n > ADDR_MAX || at == NULL || at == a || at[1] == '\0' ||
	    (size_t)(at - a) > ADDR_LOCAL_MAX || strchr(at + 1, '.') == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == ',' ||
		    c == '"' || c == '(' || c == ')' || c == ';' || c == '\\')
			return false;
	}
	return true;
}

/* No control characters except tab (and CR LF when lines are allowed). */
static bool text_ok(const char *s, size_t max, bool lines)
{
	size_t n = strlen(s);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 32 && c != '\t' && !(lines && (c == '\n' || c == '\r')))
			return false;
		if (c == 0x7f)
			return false;
	}
	return true;
}

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int validate_addrs(char *const *addrs, size_t n, bool need_one,
			  const char *what, char *err, size_t errlen)
{
	if (need_one && n == 0)
		return FAIL("%s needs at least one address", what);
	if (n > RULES_ADDRS_MAX)
		return FAIL("%s: at most %d addresses", what, RULES_ADDRS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!address_ok(addrs[i]))
			return FAIL("%s: '%.100s' is not a valid address", what,
				    addrs[i]);
	return 0;
}

/*
 * Patterns come from users (Sieve import) and run inside smtpd, so refuse
 * the ones glibc would make expensive: back-references (exponential
 * matching), stacked quantifiers ("a++", undefined in POSIX anyway), and
 * too much duplication: regcomp copies the operand of '+' once and of
 * a{n,m} up to m times, and nested copies multiply, so the product of
 * those factors is capped at 4096.
 */
static const char *regex_unsafe(const char *p)
{
	long product = 1;
	bool after_quantifier = false;
	for (; *p; p++) {
		if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9')
			return "back-references are not supported";
		if (p[0] == '\\' && p[1] != '\0') {
			p++;
			after_quantifier = false;
			continue;
		}
		bool interval = p[0] == '{' && p[1] >= '0' && p[1] <= '9';
		bool quant = interval || *p == '+' || *p == '*' || *p == '?';
		if (quant && after_quantifier)
			return "stacked quantifiers are not supported";
		after_quantifier = quant;
		long n = 1;
		if (*p == '+')
			n = 2;
		if (interval) {
			const char *q = p + 1;
			n = 0;
			while (*q >= '0' && *q <= '9' && n < 100000)
				n = n * 10 + (*q++ - '0');
			if (*q == ',' && q[1] >= '0' && q[1] <= '9') {
				q++;
				n = 0;
				while (*q >= '0' && *q <= '9' && n < 100000)
					n = n * 10 + (*q++ - '0');
			}
			while (*q && *q != '}')
				q++;
			if (*q == '}')
				p = q;
		}
		product *= n > 1 ? n : 1;
		if (product > 4096)
			return "too much repetition (counts and '+' multiply; at "
			       "most 4096)";
	}
	return NULL;
}

static int validate_cond(const struct rules_condition *c, char *err,
			 size_t errlen)
{
	if ((size_t)c->field >= COUNT(field_names))
		return FAIL("unknown field");
	if ((size_t)c->op >= COUNT(op_names))
		return FAIL("unknown operator");
	bool size_op = c->op == RULES_OP_OVER || c->op == RULES_OP_UNDER;
	if (c->field == RULES_FIELD_SIZE) {
		if (!size_op)
			return FAIL("size takes over or under, not %s",
				    rules_op_name(c->op));
		if (c->size < 0)
			return FAIL("size must not be negative");
		return 0;
	}
	if (rules_field_is_auth(c->field)) {
		/* one of a few words: contains or matches would only hide a
		 * typo that never matches */
		if (c->op != RULES_OP_IS)
			return FAIL("%s takes is (or not is), not %s",
				    rules_field_name(c->field), rules_op_name(c->op));
		if (c->value == NULL ||
		    rules_auth_result_parse(c->field, c->value) < 0) {
			/* echo the value only when it is one printable line */
			bool show = c->value && text_ok(c->value, 40, false);
			return FAIL("%s result%s%s%s is not one of: %s",
				    rules_field_name(c->field), show ? " '" : "",
				    show ? c->value : "", show ? "'" : "",
				    rules_auth_words(c->field));
		}
		return 0;
	}
	if (size_op)
		return FAIL("%s takes contains, is or matches, not %s",
			    rules_field_name(c->field), rules_op_name(c->op));
	if (c->field == RULES_FIELD_BODY && c->op == RULES_OP_REGEX)
		return FAIL("body takes contains, is or matches, not regex");
	if (c->field == RULES_FIELD_HEADER &&
	    (c->header == NULL || !header_name_ok(c->header, strlen(c->header))))
		return FAIL("header condition needs a valid header name");
	if (c->value == NULL)
		return FAIL("%s condition needs a value", rules_field_name(c->field));
	if (!text_ok(c->value, RULES_VALUE_MAX, false))
		return FAIL("condition value is longer than %d octets or has "
			    "control characters", RULES_VALUE_MAX);
	if (c->op == RULES_OP_REGEX && regex_unsafe(c->value))
		return FAIL("regex '%.100s': %s", c->value, regex_unsafe(c->value));
	if (c->op == RULES_OP_REGEX && c->re == NULL) {
		regex_t re;
		int rc = regcomp(&re, c->value, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char why[128];
			regerror(rc, &re, why, sizeof why);
			return FAIL("regex '%.100s': %s", c->value, why);
		}
		regfree(&re);
	}
	return 0;
}

int rules_rule_compile(struct rules_rule *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->n_conds; i++) {
		struct rules_condition *c = &r->conds[i];
		if (c->op != RULES_OP_REGEX || c->re != NULL || c->value == NULL)
			continue;
		regex_t *re = malloc(sizeof *re);
		if (re == NULL)
			return FAIL("out of memory");
		int rc = regcomp(re, c->value, REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			char why[128];
			regerror(rc, re, why, sizeof why);
			free(re);
			return FAIL("regex '%.100s': %s", c->value, why);
		}
		c->re = re;
	}
	return 0;
}

static int validate_action(const struct rules_action *a, char *err,
			   size_t errlen)
{
	switch (a->type) {
	case RULES_ACTION_KEEP:
	case RULES_ACTION_DISCARD:
	case RULES_ACTION_STOP:
		return 0;
	case RULES_ACTION_FORWARD:
	case RULES_ACTION_REDIRECT:
		return validate_addrs(a->addrs, a->n_addrs, true,
				      rules_action_name(a->type), err, errlen);
	case RULES_ACTION_REJECT:
	case RULES_ACTION_TAG:
		if (a->text == NULL || a->text[0] == '\0')
			return FAIL("%s needs a text", rules_action_name(a->type));
		if (!text_ok(a->text, RULES_SHORT_TEXT_MAX, false))
			return FAIL("%s text is longer than %d octets or has "
				    "control characters",
				    rules_action_name(a->type), RULES_SHORT_TEXT_MAX);
		return 0;
	case RULES_ACTION_HEADER: {
		/* fields that carry trace, routing or MIME structure stay ours */
		static const char *const fixed[] = {"received", "delivered-to",
						    "return-path", "mime-version",
						    "content-type",
						    "content-transfer-encoding",
						    NULL};
		if (a->header == NULL || !header_name_ok(a->header, strlen(a->header)))
			return FAIL("header action needs a valid header name");
		for (size_t i = 0; fixed[i]; i++)
			if (strcasecmp(a->header, fixed[i]) == 0)
				return FAIL("the %s header cannot be set by a rule",
					    a->header);
		if (a->text == NULL || !text_ok(a->text, RULES_SHORT_TEXT_MAX, false))
			return FAIL("header value missing, longer than %d octets or "
				    "with control characters", RULES_SHORT_TEXT_MAX);
		return 0;
	}
	case RULES_ACTION_VACATION: {
		const struct rules_vacation *v = &a->vacation;
		if (v->text == NULL || v->text[0] == '\0')
			return FAIL("vacation needs a text");
		if (!text_ok(v->text, RULES_TEXT_MAX, true))
			return FAIL("vacation text is longer than %d octets or "
				    "has control characters", RULES_TEXT_MAX);
		if (v->subject && !text_ok(v->subject, RULES_SHORT_TEXT_MAX, false))
			return FAIL("vacation subject is longer than %d octets "
				    "or has control characters",
				    RULES_SHORT_TEXT_MAX);
		if (v->days < 1 || v->days > RULES_VACATION_DAYS_MAX)
			return FAIL("vacation days must be 1 to %d",
				    RULES_VACATION_DAYS_MAX);
		if (v->start[0] && !rules_date_valid(v->start))
			return FAIL("vacation start '%s' is not a date "
				    "(YYYY-MM-DD)", v->start);
		if (v->end[0] && !rules_date_valid(v->end))
			return FAIL("vacation end '%s' is not a date (YYYY-MM-DD)",
				    v->end);
		if (v->start[0] && v->end[0] && strcmp(v->start, v->end) > 0)
			return FAIL("vacation ends (%s) before it starts (%s)",
				    v->end, v->start);
		return validate_addrs(v->addrs, v->n_addrs, false,
				      "vacation addresses", err, errlen);
	}
	}
	return FAIL("unknown action");
}

int rules_rule_validate(const struct rules_rule *r, char *err, size_t errlen)
{
	if (!text_ok(r->name, RULES_NAME_MAX, false))
		return FAIL("rule name has control characters");
	if (r->n_conds > RULES_CONDITIONS_MAX)
		return FAIL("at most %d conditions per rule", RULES_CONDITIONS_MAX);
	if (r->n_actions > RULES_ACTIONS_MAX)
		return FAIL("at most %d actions per rule", RULES_ACTIONS_MAX);
	if (r->n_actions == 0)
		return FAIL("a rule needs at least one action");
	for (size_t i = 0; i < r->n_conds; i++)
		if (validate_cond(&r->conds[i], err, errlen) != 0)
			return -1;
	for (size_t i = 0; i < r->n_actions; i++)
		if (validate_action(&r->actions[i], err, errlen) != 0)
			return -1;
	return 0;
}
