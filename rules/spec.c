/*
 * spec.c - a rule's conditions and actions as compact, versioned JSON (the
 * store's rules.spec column and the web admin's editing form), and one
 * line of text for people.
 *
 * The parser is strict: an unknown key, a wrong type or a version it does
 * not know is an error naming the problem, so a typo in the web admin or
 * an API client never silently becomes "match everything". Every parsed
 * rule passes rules_rule_validate before it is returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "rules.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

json_t *rules_spam_condition(const char *answer, bool negate)
{
	bool spam = strcasecmp(answer, "yes") == 0;
	if (!spam && strcasecmp(answer, "no") != 0)
		return NULL;
	json_t *c = json_pack("{s:s,s:s,s:s,s:s}", "field", "header", "name",
			      "X-Spam-Flag", "op", "is", "value", "YES");
	if (c != NULL && negate == spam)
		json_object_set_new(c, "not", json_true());
	return c;
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int only_keys(json_t *obj, const char *const *allowed, const char *what,
		     char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok)
			return FAIL("%s: unknown key '%.60s'", what, key);
	}
	return 0;
}

/* Optional string member: 0 with *out (NULL when absent and !need). */
static int get_str(json_t *obj, const char *key, bool need, size_t max,
		   char **out, const char *what, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL) {
		if (need)
			return FAIL("%s: '%s' is missing", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return FAIL("%s: '%s' must be a string", what, key);
	if (json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return FAIL("%s: '%s' is longer than %zu octets or has NUL", what,
			    key, max);
	*out = strdup(json_string_value(v));
	return *out ? 0 : FAIL("out of memory");
}

static int get_addrs(json_t *obj, const char *key, char ***addrs_r,
		     size_t *n_r, const char *what, char *err, size_t errlen)
{
	json_t *arr = json_object_get(obj, key);
	*addrs_r = NULL;
	*n_r = 0;
	if (arr == NULL)
		return 0;
	if (json_is_string(arr)) { /* "to": "a@b" is fine too */
		*addrs_r = calloc(1, sizeof(char *));
		if (*addrs_r == NULL || !((*addrs_r)[0] = strdup(json_string_value(arr))))
			return FAIL("out of memory");
		*n_r = 1;
		return 0;
	}
	if (!json_is_array(arr))
		return FAIL("%s: '%s' must be a list of addresses", what, key);
	size_t n = json_array_size(arr);
	if (n > RULES_ADDRS_MAX)
		return FAIL("%s: at most %d addresses", what, RULES_ADDRS_MAX);
	*addrs_r = calloc(n ? n : 1, sizeof(char *));
	if (*addrs_r == NULL)
		return FAIL("out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(arr, i);
		if (!json_is_string(s) || json_string_length(s) > ADDR_MAX)
			return FAIL("%s: '%s' entries must be addresses", what, key);
		(*addrs_r)[i] = strdup(json_string_value(s));
		if ((*addrs_r)[i] == NULL)
			return FAIL("out of memory");
		*n_r = i + 1;
	}
	return 0;
}

static int parse_cond(json_t *o, struct rules_condition *c, char *err,
		      size_t errlen)
{
	static const char *const keys[] = {"field", "name", "op", "value", "not",
					   NULL};
	if (!json_is_object(o))
		return FAIL("each condition must be an object");
	if (only_keys(o, keys, "condition", err, errlen) != 0)
		return -1;
	const char *field = json_string_value(json_object_get(o, "field"));
	const char *op = json_string_value(json_object_get(o, "op"));
	char hname[RULES_HEADER_NAME_MAX + 1];
	if (field == NULL)
		return FAIL("condition: 'field' is missing");
	if (op == NULL)
		return FAIL("condition: 'op' is missing");
	if (strcmp(field, "header") == 0) {
		c->field = RULES_FIELD_HEADER;
		if (get_str(o, "name", true, RULES_HEADER_NAME_MAX, &c->header,
			    "header condition", err, errlen) != 0)
			return -1;
	} else if (rules_field_parse(field, &c->field, hname) != 0) {
		return FAIL("condition: unknown field '%.60s'", field);
	} else if (c->field == RULES_FIELD_HEADER) {
		c->header = strdup(hname); /* "header:X-Spam" spelling */
		if (c->header == NULL)
			return FAIL("out of memory");
	}
	if (rules_op_parse(op, &c->op) != 0)
		return FAIL("condition: unknown op '%.60s'", op);
	json_t *neg = json_object_get(o, "not");
	if (neg && !json_is_boolean(neg))
		return FAIL("condition: 'not' must be true or false");
	c->negate = neg && json_is_true(neg);
	json_t *v = json_object_get(o, "value");
	if (c->field == RULES_FIELD_SIZE) {
		if (!json_is_integer(v))
			return FAIL("size condition: 'value' must be a number of "
				    "octets");
		c->size = json_integer_value(v);
		return 0;
	}
	if (get_str(o, "value", true, RULES_VALUE_MAX, &c->value, "condition",
		    err, errlen) != 0)
		return -1;
	if (rules_field_is_auth(c->field)) /* "PASS" is kept as "pass" */
		for (char *p = c->value; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
	return 0;
}

static int parse_date(json_t *o, const char *key, char dst[11], char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(o, key);
	dst[0] = '\0';
	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0))
		return 0;
	if (!json_is_string(v) || !rules_date_valid(json_string_value(v)))
		return FAIL("vacation: '%s' must be a date YYYY-MM-DD", key);
	memcpy(dst, json_string_value(v), 11);
	return 0;
}

static int parse_action(json_t *o, struct rules_action *a, char *err,
			size_t errlen)
{
	static const char *const bare[] = {"action", NULL};
	static const char *const addr_keys[] = {"action", "to", NULL};
	static const char *const text_keys[] = {"action", "text", NULL};
	static const char *const header_keys[] = {"action", "name", "text", NULL};
	static const char *const vac_keys[] = {"action", "start", "end", "days",
					       "subject", "text", "addresses",
					       NULL};
	if (!json_is_object(o))
		return FAIL("each action must be an object");
	const char *name = json_string_value(json_object_get(o, "action"));
	if (name == NULL)
		return FAIL("action: 'action' is missing");
	enum rules_action_type t;
	for (t = RULES_ACTION_KEEP; t <= RULES_ACTION_HEADER; t++)
		if (strcmp(name, rules_action_name(t)) == 0)
			break;
	if (t > RULES_ACTION_HEADER)
		return FAIL("unknown action '%.60s'", name);
	a->type = t;
	switch (t) {
	case RULES_ACTION_KEEP:
	case RULES_ACTION_DISCARD:
	case RULES_ACTION_STOP:
		return only_keys(o, bare, name, err, errlen);
	case RULES_ACTION_FORWARD:
	case RULES_ACTION_REDIRECT:
		if (only_keys(o, addr_keys, name, err, errlen) != 0)
			return -1;
		return get_addrs(o, "to", &a->addrs, &a->n_addrs, name, err, errlen);
	case RULES_ACTION_REJECT:
	case RULES_ACTION_TAG:
		if (only_keys(o, text_keys, name, err, errlen) != 0)
			return -1;
		return get_str(o, "text", true, RULES_SHORT_TEXT_MAX, &a->text, name,
			       err, errlen);
	case RULES_ACTION_HEADER:
		if (only_keys(o, header_keys, name, err, errlen) != 0 ||
		    get_str(o, "name", true, RULES_HEADER_NAME_MAX, &a->header, name,
			    err, errlen) != 0)
			return -1;
		return get_str(o, "text", true, RULES_SHORT_TEXT_MAX, &a->text, name,
			       err, errlen);
	case RULES_ACTION_VACATION: {
		struct rules_vacation *v = &a->vacation;
		if (only_keys(o, vac_keys, name, err, errlen) != 0 ||
		    parse_date(o, "start", v->start, err, errlen) != 0 ||
		    parse_date(o, "end", v->end, err, errlen) != 0 ||
		    get_str(o, "subject", false, RULES_SHORT_TEXT_MAX, &v->subject,
			    name, err, errlen) != 0 ||
		    get_str(o, "text", true, RULES_TEXT_MAX, &v->text, name, err,
			    errlen) != 0 ||
		    get_addrs(o, "addresses", &v->addrs, &v->n_addrs, name, err,
			      errlen) != 0)
			return -1;
		json_t *d = json_object_get(o, "days");
		if (d && !json_is_integer(d))
			return FAIL("vacation: 'days' must be a number");
		json_int_t days = d ? json_integer_value(d)
				    : RULES_VACATION_DAYS_DEFAULT;
		if (days < 1 || days > RULES_VACATION_DAYS_MAX)
			return FAIL("vacation days must be 1 to %d",
				    RULES_VACATION_DAYS_MAX);
		v->days = (int)days;
		return 0;
	}
	}
	return FAIL("unknown action");
}

/* Fill r's conditions and actions from a parsed object. */
static int spec_from_json(json_t *root, struct rules_rule *r, bool full,
			  char *err, size_t errlen)
{
	static const char *const spec_keys[] = {"v", "match", "if", "then", NULL};
	static const char *const full_keys[] = {"v", "match", "if", "then", "id",
						"name", "enabled", "position",
						NULL};
	if (!json_is_object(root))
		return FAIL("a rule must be a JSON object");
	if (only_keys(root, full ? full_keys : spec_keys, "rule", err, errlen) != 0)
		return -1;
	json_t *v = json_object_get(root, "v");
	if (v && (!json_is_integer(v) || json_integer_value(v) != RULES_SPEC_VERSION))
		return FAIL("rule spec version must be %d", RULES_SPEC_VERSION);
	json_t *m = json_object_get(root, "match");
	if (m && !json_is_string(m))
		return FAIL("'match' must be \"all\" or \"any\"");
	const char *ms = m ? json_string_value(m) : "all";
	if (strcmp(ms, "all") != 0 && strcmp(ms, "any") != 0)
		return FAIL("'match' must be \"all\" or \"any\"");
	r->match_any = strcmp(ms, "any") == 0;

	json_t *conds = json_object_get(root, "if");
	json_t *acts = json_object_get(root, "then");
	if (conds && !json_is_array(conds))
		return FAIL("'if' must be a list of conditions");
	if (!json_is_array(acts))
		return FAIL("'then' must be a list of actions");
	size_t nc = conds ? json_array_size(conds) : 0;
	size_t na = json_array_size(acts);
	if (nc > RULES_CONDITIONS_MAX)
		return FAIL("at most %d conditions per rule", RULES_CONDITIONS_MAX);
	if (na > RULES_ACTIONS_MAX)
		return FAIL("at most %d actions per rule", RULES_ACTIONS_MAX);
	r->conds = calloc(nc ? nc : 1, sizeof *r->conds);
	r->actions = calloc(na ? na : 1, sizeof *r->actions);
	if (r->conds == NULL || r->actions == NULL)
		return FAIL("out of memory");
	for (size_t i = 0; i < nc; i++) {
		r->n_conds = i + 1; /* counted before filling: freed either way */
		if (parse_cond(json_array_get(conds, i), &r->conds[i], err,
			       errlen) != 0)
			return -1;
	}
	for (size_t i = 0; i < na; i++) {
		r->n_actions = i + 1;
		if (parse_action(json_array_get(acts, i), &r->actions[i], err,
				 errlen) != 0)
			return -1;
	}
	if (rules_rule_validate(r, err, errlen) != 0)
		return -1;
	return rules_rule_compile(r, err, errlen);
}

/* Drop any conditions/actions r has (a failed parse leaves none). */
static void clear_body(struct rules_rule *r)
{
	struct rules_rule *tmp = rules_rule_new();
	if (tmp == NULL)
		return;
	tmp->conds = r->conds;
	tmp->n_conds = r->n_conds;
	tmp->actions = r->actions;
	tmp->n_actions = r->n_actions;
	rules_rule_free(&tmp);
	r->conds = NULL;
	r->actions = NULL;
	r->n_conds = r->n_actions = 0;
}

static json_t *load(const char *text, char *err, size_t errlen)
{
	json_error_t je;
	if (text == NULL || strlen(text) > RULES_SPEC_MAX) {
		snprintf(err, errlen, "rule spec is missing or longer than %d octets",
			 RULES_SPEC_MAX);
		return NULL;
	}
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		snprintf(err, errlen, "rule spec is not JSON (column %d: %.100s)",
			 je.column, je.text);
	return root;
}

int rules_spec_parse(const char *spec, struct rules_rule *r, char *err,
		     size_t errlen)
{
	clear_body(r);
	json_t *root = load(spec, err, errlen);
	if (root == NULL)
		return -1;
	int rc = spec_from_json(root, r, false, err, errlen);
	json_decref(root);
	if (rc != 0)
		clear_body(r);
	return rc;
}

int rules_rule_from_json(const char *json, struct rules_rule **rule_r,
			 char *err, size_t errlen)
{
	*rule_r = NULL;
	json_t *root = load(json, err, errlen);
	if (root == NULL)
		return -1;
	struct rules_rule *r = rules_rule_new();
	int rc = r ? 0 : FAIL("out of memory");
	if (rc == 0)
		rc = spec_from_json(root, r, true, err, errlen);
	json_t *name = json_object_get(root, "name");
	json_t *en = json_object_get(root, "enabled");
	json_t *id = json_object_get(root, "id");
	json_t *pos = json_object_get(root, "position");
	if (rc == 0 && name) {
		if (!json_is_string(name) ||
		    json_string_length(name) > RULES_NAME_MAX)
			rc = FAIL("'name' must be a string of at most %d octets",
				  RULES_NAME_MAX);
		else
			memcpy(r->name, json_string_value(name),
			       json_string_length(name) + 1);
	}
	if (rc == 0 && en) {
		if (!json_is_boolean(en))
			rc = FAIL("'enabled' must be true or false");
		else
			r->enabled = json_is_true(en);
	}
	if (rc == 0 && id && json_is_integer(id))
		r->id = json_integer_value(id);
	if (rc == 0 && pos && json_is_integer(pos))
		r->position = (int)json_integer_value(pos);
	if (rc == 0)
		rc = rules_rule_validate(r, err, errlen);
	json_decref(root);
	if (rc != 0) {
		rules_rule_free(&r);
		return -1;
	}
	*rule_r = r;
	return 0;
}

/* ---- formatting --------------------------------------------------------- */

static json_t *addrs_json(char *const *addrs, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(addrs[i]));
	return arr;
}

/* The spec object; NULL on ENOMEM. jansson's *_new calls accept NULL
 * values and fail, so one check of the result at the end is enough only
 * for the containers: we check each set for safety. */
static json_t *spec_to_json(const struct rules_rule *r)
{
	json_t *root = json_object(), *conds = json_array(), *acts = json_array();
	if (!root || !conds || !acts)
		goto fail;
	int bad = 0;
	bad |= json_object_set_new(root, "v", json_integer(RULES_SPEC_VERSION));
	bad |= json_object_set_new(root, "match",
				   json_string(r->match_any ? "any" : "all"));
	for (size_t i = 0; i < r->n_conds; i++) {
		const struct rules_condition *c = &r->conds[i];
		json_t *o = json_object();
		if (o == NULL)
			goto fail;
		bad |= json_array_append_new(conds, o);
		bad |= json_object_set_new(o, "field",
					   json_string(rules_field_name(c->field)));
		if (c->field == RULES_FIELD_HEADER)
			bad |= json_object_set_new(o, "name", json_string(c->header));
		bad |= json_object_set_new(o, "op", json_string(rules_op_name(c->op)));
		bad |= json_object_set_new(o, "value",
					   c->field == RULES_FIELD_SIZE
						   ? json_integer(c->size)
						   : json_string(c->value));
		if (c->negate)
			bad |= json_object_set_new(o, "not", json_true());
	}
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct rules_action *a = &r->actions[i];
		json_t *o = json_object();
		if (o == NULL)
			goto fail;
		bad |= json_array_append_new(acts, o);
		bad |= json_object_set_new(o, "action",
					   json_string(rules_action_name(a->type)));
		switch (a->type) {
		case RULES_ACTION_FORWARD:
		case RULES_ACTION_REDIRECT:
			bad |= json_object_set_new(o, "to",
						   addrs_json(a->addrs, a->n_addrs));
			break;
		case RULES_ACTION_REJECT:
		case RULES_ACTION_TAG:
			bad |= json_object_set_new(o, "text", json_string(a->text));
			break;
		case RULES_ACTION_HEADER:
			bad |= json_object_set_new(o, "name", json_string(a->header));
			bad |= json_object_set_new(o, "text", json_string(a->text));
			break;
		case RULES_ACTION_VACATION: {
			const struct rules_vacation *v = &a->vacation;
			if (v->start[0])
				bad |= json_object_set_new(o, "start",
							   json_string(v->start));
			if (v->end[0])
				bad |= json_object_set_new(o, "end",
							   json_string(v->end));
			bad |= json_object_set_new(o, "days", json_integer(v->days));
			if (v->subject)
				bad |= json_object_set_new(o, "subject",
							   json_string(v->subject));
			bad |= json_object_set_new(o, "text", json_string(v->text));
			if (v->n_addrs)
				bad |= json_object_set_new(
					o, "addresses",
					addrs_json(v->addrs, v->n_addrs));
			break;
		}
		default:
			break;
		}
	}
	if (r->n_conds)
		bad |= json_object_set_new(root, "if", conds);
	else
		json_decref(conds);
	conds = NULL;
	bad |= json_object_set_new(root, "then", acts);
	acts = NULL;
	if (bad)
		goto fail;
	return root;
fail:
	json_decref(root);
	json_decref(conds);
	json_decref(acts);
	return NULL;
}

char *rules_spec_format(const struct rules_rule *r)
{
	json_t *root = spec_to_json(r);
	if (root == NULL)
		return NULL;
	char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

char *rules_rule_to_json(const struct rules_rule *r)
{
	json_t *root = spec_to_json(r);
	if (root == NULL)
		return NULL;
	int bad = json_object_set_new(root, "id", json_integer(r->id));
	bad |= json_object_set_new(root, "name", json_string(r->name));
	bad |= json_object_set_new(root, "enabled", json_boolean(r->enabled));
	bad |= json_object_set_new(root, "position", json_integer(r->position));
	char *s = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

/* ---- one line for people ---------------------------------------------- */

static int size_text(int64_t n, char *dst, size_t len)
{
	if (n >= 1024LL * 1024 && n % (1024LL * 1024) == 0)
		return snprintf(dst, len, "%lldM", (long long)(n / (1024 * 1024)));
	if (n >= 1024 && n % 1024 == 0)
		return snprintf(dst, len, "%lldK", (long long)(n / 1024));
	return snprintf(dst, len, "%lld", (long long)n);
}

int rules_rule_describe(const struct rules_rule *r, struct buf *out)
{
	int bad = 0;
	if (r->n_conds == 0)
		bad |= buf_append_str(out, "always");
	else
		bad |= buf_append_str(out, "if ");
	for (size_t i = 0; i < r->n_conds; i++) {
		const struct rules_condition *c = &r->conds[i];
		if (i)
			bad |= buf_append_str(out, r->match_any ? " or " : " and ");
		if (c->field == RULES_FIELD_HEADER)
			bad |= buf_printf(out, "header:%s", c->header);
		else
			bad |= buf_append_str(out, rules_field_name(c->field));
		bad |= buf_printf(out, " %s%s ", c->negate ? "not " : "",
				  rules_op_name(c->op));
		if (c->field == RULES_FIELD_SIZE) {
			char sz[32];
			size_text(c->size, sz, sizeof sz);
			bad |= buf_append_str(out, sz);
		} else if (rules_field_is_auth(c->field)) {
			bad |= buf_append_str(out, c->value); /* a result word */
		} else {
			bad |= buf_printf(out, "\"%s\"", c->value);
		}
	}
	bad |= buf_append_str(out, " then ");
	for (size_t i = 0; i < r->n_actions; i++) {
		const struct rules_action *a = &r->actions[i];
		if (i)
			bad |= buf_append_str(out, "; ");
		bad |= buf_append_str(out, rules_action_name(a->type));
		for (size_t j = 0; j < a->n_addrs; j++)
			bad |= buf_printf(out, "%s%s", j ? "," : " ", a->addrs[j]);
		if (a->type == RULES_ACTION_REJECT || a->type == RULES_ACTION_TAG)
			bad |= buf_printf(out, " \"%s\"", a->text);
		if (a->type == RULES_ACTION_HEADER)
			bad |= buf_printf(out, " %s: \"%s\"", a->header, a->text);
		if (a->type == RULES_ACTION_VACATION) {
			const struct rules_vacation *v = &a->vacation;
			bad |= buf_printf(out, " %s..%s every %d days",
					  v->start[0] ? v->start : "",
					  v->end[0] ? v->end : "", v->days);
			if (v->subject)
				bad |= buf_printf(out, " subject \"%s\"", v->subject);
		}
	}
	return bad ? -1 : 0;
}
