/*
 * rule.c - `mailroomctl rule`: an account's (or the server-wide) rules.
 *
 *   rule list   ADDRESS|--server
 *   rule show   ADDRESS|--server ID          the rule as JSON
 *   rule add    ADDRESS|--server NAME [--any] [--disabled] [--position N]
 *               [--if FIELD OP VALUE]... [--if-not FIELD OP VALUE]...
 *               ACTION... | --json SPEC
 *       ACTION: --keep --discard --stop --forward A[,B] --redirect A[,B]
 *               --reject TEXT --tag TEXT --header NAME VALUE
 *               --vacation TEXT [--subject S]
 *               [--days N] [--start YYYY-MM-DD] [--end YYYY-MM-DD]
 *               [--addresses A[,B]]
 *       FIELD: from to_cc subject header:NAME size envelope_from
 *              envelope_to body; OP: contains is matches regex (over under
 *              for size)
 *              spam is yes|no: the mail checks' verdict (rules.h)
 *              spf|dkim|dmarc is RESULT: this server's own check results
 *              (pass fail none ...; --if-not dkim is pass)
 *   rule del     ADDRESS|--server ID
 *   rule enable|disable ADDRESS|--server ID
 *   rule move    ADDRESS|--server ID POSITION
 *   rule test    ADDRESS FILE|- [--from SENDER] [--to RCPT] [--date DAY]
 *                (spf/dkim/dmarc read the file's Authentication-Results
 *                with the config's [server] hostname, as smtpd does)
 *   rule import  ADDRESS|--server FILE|-      replaces the list (Sieve)
 *   rule export  ADDRESS|--server             Sieve on stdout
 *
 * Every rule is built as JSON and goes through rules_rule_from_json, the
 * same gate the web admin's API uses, so the CLI cannot store a rule the
 * engine would refuse. `rule test` changes nothing: it shows what the
 * server-wide and the account's rules would do to a message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../rules/rules.h"
#include "cli.h"

int cli_rule_main(struct cli *cli, int argc, char **argv);

static const char USAGE[] =
	"usage: mailroomctl rule list|show|add|del|enable|disable|move|test|"
	"import|export ADDRESS|--server ...";

/* The list a command works on: an account's id, or 0 for --server. */
static int target(struct cli *cli, const char *arg, int64_t *id_r,
		  char *addr, size_t addrlen)
{
	if (strcmp(arg, "--server") == 0) {
		*id_r = 0;
		snprintf(addr, addrlen, "server-wide");
		return 0;
	}
	if (cli_address(arg, addr, addrlen) != 0)
		return -1;
	struct store *st = cli_store(cli);
	if (st == NULL)
		return -1;
	struct store_account a;
	int rc = store_account_get(st, addr, &a);
	if (rc != STORE_OK) {
		char what[ADDR_MAX + 16];
		snprintf(what, sizeof what, "account %s", addr);
		cli_store_fail(cli, rc, what);
		return -1;
	}
	*id_r = a.id;
	return 0;
}

static int parse_id(const char *s, int64_t *id_r)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0)
		return cli_fail("'%s' is not a rule id (see: mailroomctl rule list)", s);
	*id_r = v;
	return 0;
}

/* ---- list / show ------------------------------------------------------ */

static int print_rule(void *ctx, const struct store_rule *row)
{
	(void)ctx;
	struct rules_rule *r = rules_rule_new();
	char err[256];
	struct buf b;
	if (r == NULL || buf_init(&b, RULES_SPEC_MAX) != 0) {
		rules_rule_free(&r);
		return -1;
	}
	if (rules_spec_parse(row->spec, r, err, sizeof err) != 0 ||
	    rules_rule_describe(r, &b) != 0) {
		buf_reset(&b);
		if (buf_printf(&b, "(unreadable: %s)", err) != 0)
			b.len = 0;
	}
	printf("%lld\t%d\t%s\t%s\t%s\n", (long long)row->id, row->position,
	       row->enabled ? "on" : "off", row->name, b.data ? b.data : "");
	buf_free(&b);
	rules_rule_free(&r);
	return 0;
}

struct show_ctx {
	int64_t id;
	bool found;
};

static int show_rule(void *vctx, const struct store_rule *row)
{
	struct show_ctx *ctx = vctx;
	if (row->id != ctx->id)
		return 0;
	ctx->found = true;
	struct rules_rule *r = rules_rule_new();
	char err[256];
	if (r == NULL || rules_spec_parse(row->spec, r, err, sizeof err) != 0) {
		printf("%s\n", row->spec); /* as stored */
		rules_rule_free(&r);
		return 1;
	}
	r->id = row->id;
	r->position = row->position;
	r->enabled = row->enabled;
	snprintf(r->name, sizeof r->name, "%s", row->name);
	char *json = rules_rule_to_json(r);
	printf("%s\n", json ? json : row->spec);
	free(json);
	rules_rule_free(&r);
	return 1;
}

/* ---- add ----------------------------------------------------------------- */

static json_t *addr_list(const char *csv)
{
	json_t *arr = json_array();
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", csv);
	char *save = NULL;
	for (char *p = strtok_r(buf, ",", &save); p && arr;
	     p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ')
			p++;
		json_array_append_new(arr, json_string(p));
	}
	return arr;
}

static json_t *condition(const char *field, const char *op, const char *value,
			 bool negate, char *err, size_t errlen)
{
	enum rules_field f;
	enum rules_op o;
	char hname[RULES_HEADER_NAME_MAX + 1];
	if (strcmp(field, "spam") == 0) {
		json_t *c = strcmp(op, "is") == 0 ? rules_spam_condition(value, negate)
						  : NULL;
		if (c == NULL)
			snprintf(err, errlen, "spam takes 'is yes' or 'is no'");
		return c;
	}
	if (rules_field_parse(field, &f, hname) != 0) {
		snprintf(err, errlen, "unknown field '%s' (from, to_cc, subject, "
			 "header:NAME, size, envelope_from, envelope_to, body, "
			 "spam, spf, dkim, dmarc)", field);
		return NULL;
	}
	if (rules_op_parse(op, &o) != 0) {
		snprintf(err, errlen, "unknown operator '%s' (contains, is, "
			 "matches, regex, over, under)", op);
		return NULL;
	}
	json_t *c = json_object();
	json_object_set_new(c, "field", json_string(rules_field_name(f)));
	if (f == RULES_FIELD_HEADER)
		json_object_set_new(c, "name", json_string(hname));
	json_object_set_new(c, "op", json_string(rules_op_name(o)));
	if (f == RULES_FIELD_SIZE) {
		int64_t n = cli_parse_size(value);
		if (n < 0) {
			snprintf(err, errlen, "'%s' is not a size (e.g. 500K, 10M)",
				 value);
			json_decref(c);
			return NULL;
		}
		json_object_set_new(c, "value", json_integer(n));
	} else {
		json_object_set_new(c, "value", json_string(value));
	}
	if (negate)
		json_object_set_new(c, "not", json_true());
	return c;
}

/* Build the rule's JSON from options; NULL after cli_fail. */
static json_t *rule_from_options(int argc, char **argv, int *position_r)
{
	json_t *root = json_object(), *conds = json_array(), *acts = json_array();
	json_t *vac = NULL;
	char err[256];
	const char *json_spec = NULL;
	json_object_set_new(root, "v", json_integer(RULES_SPEC_VERSION));
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		int left = argc - i - 1;
#define NEED(n)                                                                \
	do {                                                                   \
		if (left < (n)) {                                              \
			cli_fail("%s needs %d value%s", o, (n), (n) > 1 ? "s" : ""); \
			goto fail;                                             \
		}                                                              \
	} while (0)
		if (!strcmp(o, "--any")) {
			json_object_set_new(root, "match", json_string("any"));
		} else if (!strcmp(o, "--disabled")) {
			json_object_set_new(root, "enabled", json_false());
		} else if (!strcmp(o, "--position")) {
			NEED(1);
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > STORE_RULES_PER_LIST_MAX) {
				cli_fail("--position needs a number from 1");
				goto fail;
			}
			*position_r = (int)v;
		} else if (!strcmp(o, "--if") || !strcmp(o, "--if-not")) {
			NEED(3);
			json_t *c = condition(argv[i + 1], argv[i + 2], argv[i + 3],
					      o[4] == '-', err, sizeof err);
			if (c == NULL) {
				cli_fail("%s", err);
				goto fail;
			}
			json_array_append_new(conds, c);
			i += 3;
		} else if (!strcmp(o, "--keep") || !strcmp(o, "--discard") ||
			   !strcmp(o, "--stop")) {
			json_t *a = json_object();
			json_object_set_new(a, "action", json_string(o + 2));
			json_array_append_new(acts, a);
		} else if (!strcmp(o, "--forward") || !strcmp(o, "--redirect")) {
			NEED(1);
			json_t *a = json_object();
			json_object_set_new(a, "action", json_string(o + 2));
			json_object_set_new(a, "to", addr_list(argv[++i]));
			json_array_append_new(acts, a);
		} else if (!strcmp(o, "--reject") || !strcmp(o, "--tag")) {
			NEED(1);
			json_t *a = json_object();
			json_object_set_new(a, "action", json_string(o + 2));
			json_object_set_new(a, "text", json_string(argv[++i]));
			json_array_append_new(acts, a);
		} else if (!strcmp(o, "--header")) {
			NEED(2);
			json_t *a = json_object();
			json_object_set_new(a, "action", json_string("header"));
			json_object_set_new(a, "name", json_string(argv[i + 1]));
			json_object_set_new(a, "text", json_string(argv[i + 2]));
			json_array_append_new(acts, a);
			i += 2;
		} else if (!strcmp(o, "--vacation")) {
			NEED(1);
			if (vac) {
				cli_fail("one --vacation per rule");
				goto fail;
			}
			vac = json_object();
			json_object_set_new(vac, "action", json_string("vacation"));
			json_object_set_new(vac, "text", json_string(argv[++i]));
			json_array_append(acts, vac);
		} else if (!strcmp(o, "--subject") || !strcmp(o, "--start") ||
			   !strcmp(o, "--end") || !strcmp(o, "--days") ||
			   !strcmp(o, "--addresses")) {
			NEED(1);
			if (vac == NULL) {
				cli_fail("%s belongs after --vacation", o);
				goto fail;
			}
			const char *v = argv[++i];
			if (!strcmp(o, "--days")) {
				char *end;
				long d = strtol(v, &end, 10);
				if (*end || end == v) {
					cli_fail("--days needs a number");
					goto fail;
				}
				json_object_set_new(vac, "days", json_integer(d));
			} else if (!strcmp(o, "--addresses")) {
				json_object_set_new(vac, "addresses", addr_list(v));
			} else {
				json_object_set_new(vac, o + 2, json_string(v));
			}
		} else if (!strcmp(o, "--json")) {
			NEED(1);
			json_spec = argv[++i];
		} else {
			cli_fail("unknown option '%s' (%s)", o, USAGE);
			goto fail;
		}
#undef NEED
	}
	json_decref(vac);
	vac = NULL;
	if (json_spec) {
		if (json_array_size(conds) || json_array_size(acts)) {
			cli_fail("--json replaces --if and the action options");
			goto fail;
		}
		json_error_t je;
		json_t *spec = json_loads(json_spec, 0, &je);
		if (!json_is_object(spec)) {
			json_decref(spec);
			cli_fail("--json: not a JSON object (%s)", je.text);
			goto fail;
		}
		json_object_update_missing(spec, root); /* enabled etc. */
		json_decref(root);
		json_decref(conds);
		json_decref(acts);
		return spec;
	}
	if (json_array_size(conds))
		json_object_set_new(root, "if", conds);
	else
		json_decref(conds);
	json_object_set_new(root, "then", acts);
	return root;
fail:
	json_decref(vac);
	json_decref(root);
	json_decref(conds);
	json_decref(acts);
	return NULL;
}

static int rule_add(struct cli *cli, int64_t account_id, const char *who,
		    int argc, char **argv)
{
	if (argc < 1 || argv[0][0] == '-')
		return cli_fail("usage: mailroomctl rule add ADDRESS|--server NAME "
				"[--if|--if-not FIELD OP VALUE]... ACTION... (FIELD: "
				"from to_cc subject header:NAME size envelope_from "
				"envelope_to body spam spf dkim dmarc)");
	const char *name = argv[0];
	int position = 0;
	json_t *root = rule_from_options(argc - 1, argv + 1, &position);
	if (root == NULL)
		return 1;
	json_object_set_new(root, "name", json_string(name));
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	struct rules_rule *r = NULL;
	char err[256];
	int rc = text ? rules_rule_from_json(text, &r, err, sizeof err) : -1;
	free(text);
	if (rc != 0)
		return cli_fail("rule refused: %s", err);
	char *spec = rules_spec_format(r);
	int64_t id = 0;
	rc = spec ? store_rule_add(cli->store, account_id, position, r->name,
				   r->enabled, spec, &id)
		  : STORE_ERROR;
	free(spec);
	if (rc != STORE_OK) {
		rules_rule_free(&r);
		return cli_store_fail(cli, rc, "rule");
	}
	char detail[512];
	snprintf(detail, sizeof detail, "%s rule %lld %.200s", who, (long long)id,
		 r->name);
	cli_audit(cli, "rule-add", detail);
	printf("rule %lld added for %s\n", (long long)id, who);
	rules_rule_free(&r);
	return 0;
}

/* ---- test -------------------------------------------------------------- */

/* Read a whole file (or stdin for "-") up to max bytes into a buf. */
static int read_input(const char *path, size_t max, struct buf *out,
		      int64_t *size_r)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return cli_fail("cannot open %s: %s", path, strerror(errno));
	char chunk[8192];
	size_t n;
	int64_t total = 0;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		size_t take = out->len + n > max ? max - out->len : n;
		if (take && buf_append(out, chunk, take) != 0) {
			if (f != stdin)
				fclose(f);
			return cli_fail("%s: out of memory", path);
		}
		total += (int64_t)n;
		if (size_r == NULL && total > (int64_t)max) {
			if (f != stdin)
				fclose(f);
			return cli_fail("%s is larger than %zu octets", path, max);
		}
	}
	bool err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err)
		return cli_fail("cannot read %s", path);
	if (size_r)
		*size_r = total;
	return 0;
}

static int rule_test(struct cli *cli, int64_t account_id, const char *addr,
		     int argc, char **argv)
{
	if (argc < 1)
		return cli_fail("usage: mailroomctl rule test ADDRESS FILE|- "
				"[--from SENDER] [--to RCPT] [--date YYYY-MM-DD]");
	const char *from = NULL, *to = addr, *date = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			return cli_fail("%s needs a value", argv[i]);
		if (!strcmp(argv[i], "--from"))
			from = argv[++i];
		else if (!strcmp(argv[i], "--to"))
			to = argv[++i];
		else if (!strcmp(argv[i], "--date"))
			date = argv[++i];
		else
			return cli_fail("unknown option '%s'", argv[i]);
	}
	time_t now = time(NULL);
	if (date) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		if (!rules_date_valid(date) || !strptime(date, "%Y-%m-%d", &tm))
			return cli_fail("--date '%s' is not a date (YYYY-MM-DD)", date);
		tm.tm_hour = 12;
		now = timegm(&tm);
	}
	struct buf msg;
	if (buf_init(&msg, RULES_HEADER_BLOCK_MAX) != 0)
		return cli_fail("out of memory");
	int64_t size = 0;
	if (read_input(argv[0], RULES_HEADER_BLOCK_MAX, &msg, &size) != 0) {
		buf_free(&msg);
		return 1;
	}
	struct rules_message *m = calloc(1, sizeof *m);
	struct rules_set *set = NULL;
	struct buf out;
	int ret = 1;
	if (m == NULL || buf_init(&out, 65536) != 0) {
		free(m);
		buf_free(&msg);
		return cli_fail("out of memory");
	}
	rules_message_parse(m, msg.data, rules_header_block_len(msg.data, msg.len));
	rules_message_auth(m, cli->cfg.hostname); /* our A-R, as smtpd */
	char sender[ADDR_MAX + 1] = "";
	if (from == NULL) { /* default: the From header's address */
		rules_message_from_address(m, sender);
		from = sender;
	}
	m->envelope_from = from;
	m->envelope_to = to;
	m->account = account_id ? addr : to;
	m->size = size;
	m->now = now;
	int rc = rules_load(cli->store, account_id, &set);
	if (rc != STORE_OK) {
		cli_store_fail(cli, rc, "rules");
		goto out;
	}
	char *body = NULL; /* what a body condition sees, as delivery does */
	if (set->needs_body) {
		size_t hl = rules_header_block_len(msg.data, msg.len);
		body = malloc(RULES_BODY_SCAN_MAX);
		if (body == NULL) {
			cli_fail("out of memory");
			goto out;
		}
		m->body_len = rules_body_decode(m, msg.data + hl, msg.len - hl,
						body);
		m->body = body;
	}
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	int frc = rules_decision_format(&d, &out);
	free(body);
	if (frc != 0) {
		cli_fail("out of memory");
		goto out;
	}
	fputs(out.data, stdout);
	ret = 0;
out:
	rules_set_free(&set);
	buf_free(&out);
	buf_free(&msg);
	free(m);
	return ret;
}

/* ---- import / export ------------------------------------------------------- */

static int rule_import(struct cli *cli, int64_t account_id, const char *who,
		       const char *path)
{
	struct buf script;
	if (buf_init(&script, RULES_SIEVE_MAX) != 0)
		return cli_fail("out of memory");
	if (read_input(path, RULES_SIEVE_MAX, &script, NULL) != 0) {
		buf_free(&script);
		return 1;
	}
	struct rules_set *set = NULL;
	char err[256];
	if (rules_sieve_import(script.data ? script.data : "", script.len, &set,
			       err, sizeof err) != 0) {
		buf_free(&script);
		return cli_fail("%s: %s", strcmp(path, "-") ? path : "stdin", err);
	}
	buf_free(&script);
	struct store_rule_in *in = calloc(set->n ? set->n : 1, sizeof *in);
	char **specs = calloc(set->n ? set->n : 1, sizeof *specs);
	int rc = (in && specs) ? STORE_OK : STORE_ERROR;
	for (size_t i = 0; rc == STORE_OK && i < set->n; i++) {
		specs[i] = rules_spec_format(set->rules[i]);
		in[i].name = set->rules[i]->name;
		in[i].enabled = set->rules[i]->enabled;
		in[i].spec = specs[i];
		if (specs[i] == NULL)
			rc = STORE_ERROR;
	}
	if (rc == STORE_OK)
		rc = store_rule_replace(cli->store, account_id, in, set->n);
	size_t n = set->n;
	for (size_t i = 0; specs && i < n; i++)
		free(specs[i]);
	free(specs);
	free(in);
	rules_set_free(&set);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, "rule import");
	char detail[512];
	snprintf(detail, sizeof detail, "%s: %zu rules from Sieve", who, n);
	cli_audit(cli, "rule-import", detail);
	printf("imported %zu rule%s for %s\n", n, n == 1 ? "" : "s", who);
	return 0;
}

static int rule_export(struct cli *cli, int64_t account_id)
{
	struct rules_set *set = NULL;
	int rc = rules_load_own(cli->store, account_id, &set);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, "rules");
	struct buf out;
	if (buf_init(&out, 4 * RULES_SIEVE_MAX) != 0) {
		rules_set_free(&set);
		return cli_fail("out of memory");
	}
	rc = rules_sieve_export(set, &out);
	rules_set_free(&set);
	if (rc != 0) {
		buf_free(&out);
		return cli_fail("export: the rules do not fit in %d octets",
				4 * RULES_SIEVE_MAX);
	}
	fputs(out.data, stdout);
	buf_free(&out);
	return 0;
}

/* ---- the verb ------------------------------------------------------------- */

int cli_rule_main(struct cli *cli, int argc, char **argv)
{
	if (argc < 3)
		return cli_fail("%s", USAGE);
	const char *sub = argv[1];
	static const char *const subs[] = {"list", "show", "add", "del",
					   "enable", "disable", "move", "test",
					   "import", "export", NULL};
	bool known = false;
	for (size_t i = 0; subs[i]; i++)
		known = known || strcmp(sub, subs[i]) == 0;
	if (!known)
		return cli_fail("unknown rule command '%s' (%s)", sub, USAGE);
	int64_t account_id = 0;
	char addr[ADDR_MAX + 1];
	if (target(cli, argv[2], &account_id, addr, sizeof addr) != 0)
		return 1;
	if (cli_store(cli) == NULL)
		return 1;
	int nargs = argc - 3;
	char **args = argv + 3;

	if (!strcmp(sub, "list") || !strcmp(sub, "export")) {
		if (nargs)
			return cli_fail("usage: mailroomctl rule %s ADDRESS|--server", sub);
		if (sub[0] == 'e')
			return rule_export(cli, account_id);
		int rc = store_rule_list(cli->store, account_id, print_rule, NULL);
		return rc == STORE_OK ? 0 : cli_store_fail(cli, rc, "rules");
	}
	if (!strcmp(sub, "add"))
		return rule_add(cli, account_id, addr, nargs, args);
	if (!strcmp(sub, "test"))
		return rule_test(cli, account_id, addr, nargs, args);
	if (!strcmp(sub, "import")) {
		if (nargs != 1)
			return cli_fail("usage: mailroomctl rule import "
					"ADDRESS|--server FILE|-");
		return rule_import(cli, account_id, addr, args[0]);
	}
	/* show, del, enable, disable, move: by id */
	bool move = !strcmp(sub, "move");
	if (nargs != (move ? 2 : 1))
		return cli_fail("usage: mailroomctl rule %s ADDRESS|--server ID%s",
				sub, move ? " POSITION" : "");
	int64_t id = 0;
	if (parse_id(args[0], &id) != 0)
		return 1;
	char what[64];
	snprintf(what, sizeof what, "rule %lld", (long long)id);
	int rc;
	if (!strcmp(sub, "show")) {
		struct show_ctx ctx = {id, false};
		rc = store_rule_list(cli->store, account_id, show_rule, &ctx);
		if (rc != STORE_OK && rc != 1)
			return cli_store_fail(cli, rc, what);
		return ctx.found ? 0 : cli_fail("%s of %s does not exist", what, addr);
	}
	if (move) {
		char *end;
		long pos = strtol(args[1], &end, 10);
		if (*end || end == args[1] || pos < 1)
			return cli_fail("'%s' is not a position (1 is first)", args[1]);
		rc = store_rule_move(cli->store, account_id, id, (int)pos);
	} else if (!strcmp(sub, "del")) {
		rc = store_rule_del(cli->store, account_id, id);
	} else {
		rc = store_rule_update(cli->store, account_id, id, NULL,
				       sub[0] == 'e' ? 1 : 0, NULL);
	}
	if (rc == STORE_NOTFOUND)
		return cli_fail("%s of %s does not exist", what, addr);
	if (rc != STORE_OK)
		return cli_store_fail(cli, rc, what);
	char detail[512];
	snprintf(detail, sizeof detail, "%s %s", addr, what);
	char action[32];
	snprintf(action, sizeof action, "rule-%s", sub);
	cli_audit(cli, action, detail);
	printf("%s %s for %s\n", what,
	       move ? "moved" : !strcmp(sub, "del") ? "deleted" : sub[0] == 'e' ? "enabled" : "disabled",
	       addr);
	return 0;
}
