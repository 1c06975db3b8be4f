/*
 * test_store.c - domains, accounts, aliases, settings and the audit log:
 * every function, with its error codes.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../store/store_int.h"
#include "test.h"
#include "test_store_util.h"

static int count_cb(void *ctx, const void *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static int domain_cb(void *ctx, const struct store_domain *d)
{
	return count_cb(ctx, d);
}

struct name_list {
	char names[8][ADDR_MAX + 1];
	int64_t counts[8];
	int n;
};

static int domain_names_cb(void *ctx, const struct store_domain *d)
{
	struct name_list *l = ctx;
	if (l->n < 8) {
		snprintf(l->names[l->n], sizeof l->names[0], "%s", d->name);
		l->counts[l->n] = d->accounts;
		l->n++;
	}
	return 0;
}

static int stop_cb(void *ctx, const struct store_domain *d)
{
	(void)d;
	(*(int *)ctx)++;
	return 42;
}

static void test_domains(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	static const struct {
		const char *name;
		int want;
	} adds[] = {
		{"example.test", STORE_OK},
		{"b.example.test", STORE_OK},
		{"example.test", STORE_EXISTS},
		{"", STORE_INVALID},
		{"user@example.test", STORE_INVALID},
		{"a.test", STORE_OK},
	};
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
		test_state.label = adds[i].name;
		CHECK_INT(store_domain_add(st, adds[i].name), adds[i].want);
	}
	test_state.label = NULL;
	CHECK_INT(store_domain_exists(st, "example.test"), 1);
	CHECK_INT(store_domain_exists(st, "nope.test"), 0);
	CHECK_INT(store_domain_exists(st, ""), 0);

	tstore_account(st, "u1@example.test", 0);
	tstore_account(st, "u2@example.test", 0);
	struct name_list l = {0};
	CHECK_INT(store_domain_list(st, domain_names_cb, &l), 0);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.names[0], "a.test"); /* by name */
	CHECK_STR(l.names[1], "b.example.test");
	CHECK_STR(l.names[2], "example.test");
	CHECK_INT(l.counts[2], 2);
	CHECK_INT(l.counts[0], 0);
	int n = 0;
	CHECK_INT(store_domain_list(st, stop_cb, &n), 42);
	CHECK_INT(n, 1);

	CHECK_INT(store_domain_del(st, "nope.test", false), STORE_NOTFOUND);
	CHECK_INT(store_domain_del(st, "example.test", false), STORE_NOTEMPTY);
	CHECK_INT(store_domain_exists(st, "example.test"), 1);
	CHECK_INT(store_domain_del(st, "a.test", false), STORE_OK);
	/* an alias alone also makes a domain non-empty */
	CHECK_INT(store_alias_add(st, "x@b.example.test", "y@else.test"), 0);
	CHECK_INT(store_domain_del(st, "b.example.test", false), STORE_NOTEMPTY);
	CHECK_INT(store_domain_del(st, "b.example.test", true), STORE_OK);
	CHECK_INT(tstore_count(st, "aliases"), 0);
	/* force takes the accounts and their mail */
	int64_t id = 0;
	struct store_account a;
	CHECK_INT(store_account_get(st, "u1@example.test", &a), 0);
	id = a.id;
	CHECK_INT(tstore_deliver(st, t.dir, 100, &id, 1, NULL, 0, NULL), 0);
	CHECK_INT(tstore_count(st, "bodies"), 1);
	CHECK_INT(store_domain_del(st, "example.test", true), STORE_OK);
	CHECK_INT(store_domain_exists(st, "example.test"), 0);
	CHECK_INT(tstore_count(st, "accounts"), 0);
	CHECK_INT(tstore_count(st, "mailbox"), 0);
	CHECK_INT(tstore_count(st, "bodies"), 0);
	n = 0;
	CHECK_INT(store_domain_list(st, domain_cb, &n), 0);
	CHECK_INT(n, 0);
	tstore_done(&t);
}

struct acct_list {
	char addr[8][ADDR_MAX + 1];
	int n;
};

static int acct_cb(void *ctx, const struct store_account *a)
{
	struct acct_list *l = ctx;
	if (l->n < 8)
		snprintf(l->addr[l->n], sizeof l->addr[0], "%s", a->address);
	l->n++;
	return 0;
}

static void test_accounts(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	CHECK_INT(store_domain_add(st, "example.test"), 0);
	CHECK_INT(store_domain_add(st, "other.test"), 0);
	static const struct {
		const char *label, *addr, *hash;
		int role;
		int64_t quota;
		int want;
	} adds[] = {
		{"ok", "alice@example.test", tstore_hash, STORE_ROLE_ADMIN, 0, STORE_OK},
		{"ok2", "bob@example.test", tstore_hash, STORE_ROLE_USER, 5000, STORE_OK},
		{"ok3", "carol@other.test", tstore_hash, STORE_ROLE_DOMAIN_ADMIN, 0, STORE_OK},
		{"dup", "alice@example.test", tstore_hash, STORE_ROLE_USER, 0, STORE_EXISTS},
		{"unknown domain", "dan@nowhere.test", tstore_hash, STORE_ROLE_USER, 0, STORE_INVALID},
		{"no at", "dan", tstore_hash, STORE_ROLE_USER, 0, STORE_INVALID},
		{"empty local", "@example.test", tstore_hash, STORE_ROLE_USER, 0, STORE_INVALID},
		{"bad hash", "dan@example.test", "plain", STORE_ROLE_USER, 0, STORE_INVALID},
		{"md5 hash", "dan@example.test", "$1$abcdefgh$0123456789abcdefghij..", STORE_ROLE_USER, 0, STORE_INVALID},
		{"bad role", "dan@example.test", tstore_hash, 7, 0, STORE_INVALID},
		{"bad quota", "dan@example.test", tstore_hash, STORE_ROLE_USER, -5, STORE_INVALID},
	};
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
		test_state.label = adds[i].label;
		CHECK_INT(store_account_add(st, adds[i].addr, adds[i].hash,
					    (enum store_role)adds[i].role,
					    "Display", adds[i].quota),
			  adds[i].want);
	}
	test_state.label = NULL;
	struct store_account a, b;
	CHECK_INT(store_account_get(st, "alice@example.test", &a), 0);
	CHECK_STR(a.address, "alice@example.test");
	CHECK_STR(a.domain, "example.test");
	CHECK_STR(a.display_name, "Display");
	CHECK_INT(a.role, STORE_ROLE_ADMIN);
	CHECK(a.enabled);
	CHECK(a.uidvalidity != 0);
	CHECK_INT(a.messages, 0);
	CHECK(a.created > 0);
	CHECK_INT(store_account_get_by_id(st, a.id, &b), 0);
	CHECK_STR(b.address, a.address);
	CHECK_INT(store_account_get(st, "zed@example.test", &b), STORE_NOTFOUND);
	CHECK_INT(store_account_get_by_id(st, 99999, &b), STORE_NOTFOUND);
	CHECK_INT(store_account_get(st, "bob@example.test", &b), 0);
	CHECK(a.uidvalidity != b.uidvalidity);

	struct acct_list l = {0};
	CHECK_INT(store_account_list(st, NULL, acct_cb, &l), 0);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.addr[0], "alice@example.test");
	CHECK_STR(l.addr[2], "carol@other.test");
	memset(&l, 0, sizeof l);
	CHECK_INT(store_account_list(st, "other.test", acct_cb, &l), 0);
	CHECK_INT(l.n, 1);
	memset(&l, 0, sizeof l);
	CHECK_INT(store_account_list(st, "nowhere.test", acct_cb, &l), 0);
	CHECK_INT(l.n, 0);

	int64_t n = -1;
	CHECK_INT(store_account_count(st, STORE_ROLE_USER, &n), 0);
	CHECK_INT(n, 3);
	CHECK_INT(store_account_count(st, STORE_ROLE_DOMAIN_ADMIN, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(store_account_count(st, STORE_ROLE_ADMIN, &n), 0);
	CHECK_INT(n, 1);

	/* update: only the fields given change */
	struct store_account_change ch = {.display_name = NULL,
					  .quota_bytes = 1234,
					  .enabled = -1,
					  .role = -1};
	CHECK_INT(store_account_update(st, "bob@example.test", &ch), 0);
	CHECK_INT(store_account_get(st, "bob@example.test", &b), 0);
	CHECK_INT(b.quota_bytes, 1234);
	CHECK_STR(b.display_name, "Display");
	CHECK(b.enabled);
	ch = (struct store_account_change){"Bob B.", -1, 0, STORE_ROLE_DOMAIN_ADMIN};
	CHECK_INT(store_account_update(st, "bob@example.test", &ch), 0);
	CHECK_INT(store_account_get(st, "bob@example.test", &b), 0);
	CHECK_INT(b.quota_bytes, 1234);
	CHECK_STR(b.display_name, "Bob B.");
	CHECK(!b.enabled);
	CHECK_INT(b.role, STORE_ROLE_DOMAIN_ADMIN);
	CHECK_INT(store_account_update(st, "zed@example.test", &ch), STORE_NOTFOUND);
	ch.role = 9;
	CHECK_INT(store_account_update(st, "bob@example.test", &ch), STORE_INVALID);
	ch = (struct store_account_change){NULL, -1, 7, -1};
	CHECK_INT(store_account_update(st, "bob@example.test", &ch), STORE_INVALID);

	CHECK_INT(store_account_set_password(st, "zed@example.test", tstore_hash),
		  STORE_NOTFOUND);
	CHECK_INT(store_account_set_password(st, "bob@example.test", "junk"),
		  STORE_INVALID);

	CHECK_INT(store_account_del(st, "zed@example.test"), STORE_NOTFOUND);
	CHECK_INT(store_account_del(st, "bob@example.test"), STORE_OK);
	CHECK_INT(store_account_get(st, "bob@example.test", &b), STORE_NOTFOUND);
	/* created again: a new uidvalidity, so old UIDLs never match */
	CHECK_INT(store_account_add(st, "bob@example.test", tstore_hash,
				    STORE_ROLE_USER, NULL, 0),
		  0);
	struct store_account b2;
	CHECK_INT(store_account_get(st, "bob@example.test", &b2), 0);
	CHECK(b2.uidvalidity != b.uidvalidity);
	CHECK_STR(b2.display_name, "");
	tstore_done(&t);
}

static void test_roles(void)
{
	static const struct {
		const char *name;
		int role;
	} cases[] = {{"user", STORE_ROLE_USER},
		     {"domain-admin", STORE_ROLE_DOMAIN_ADMIN},
		     {"admin", STORE_ROLE_ADMIN}};
	for (size_t i = 0; i < 3; i++) {
		enum store_role r;
		test_state.label = cases[i].name;
		CHECK_STR(store_role_name((enum store_role)cases[i].role), cases[i].name);
		CHECK_INT(store_role_parse(cases[i].name, &r), 0);
		CHECK_INT(r, cases[i].role);
	}
	enum store_role r;
	CHECK_INT(store_role_parse("Admin", &r), STORE_INVALID);
	CHECK_INT(store_role_parse("", &r), STORE_INVALID);
	CHECK_INT(store_role_parse(NULL, &r), STORE_INVALID);
}

static void test_authenticate(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	char hash[PASSWORD_HASH_MAX + 1];
	CHECK_INT(store_password_hash("right pw", hash, sizeof hash), 0);
	CHECK_INT(store_domain_add(st, "example.test"), 0);
	CHECK_INT(store_account_add(st, "alice@example.test", hash,
				    STORE_ROLE_USER, "Alice", 0),
		  0);
	struct store_account a;
	memset(&a, 0, sizeof a);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "right pw", &a), 0);
	CHECK_STR(a.address, "alice@example.test");
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "wrong", &a),
		  STORE_AUTHFAIL);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "", &a),
		  STORE_AUTHFAIL);
	CHECK_INT(store_account_authenticate(st, "nobody@example.test", "right pw", &a),
		  STORE_AUTHFAIL);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", NULL, &a),
		  STORE_AUTHFAIL);
	/* the message never says which of the three it was */
	char msg1[STORE_ERRMSG_MAX], msg2[STORE_ERRMSG_MAX];
	store_account_authenticate(st, "nobody@example.test", "x", &a);
	snprintf(msg1, sizeof msg1, "%s", store_errmsg(st));
	store_account_authenticate(st, "alice@example.test", "x", &a);
	snprintf(msg2, sizeof msg2, "%s", store_errmsg(st));
	CHECK_STR(msg1, msg2);
	CHECK(strstr(msg1, "x") == NULL || strstr(msg1, "right") == NULL);
	struct store_account_change ch = {NULL, -1, 0, -1};
	CHECK_INT(store_account_update(st, "alice@example.test", &ch), 0);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "right pw", &a),
		  STORE_AUTHFAIL);
	ch.enabled = 1;
	CHECK_INT(store_account_update(st, "alice@example.test", &ch), 0);
	/* a new password replaces the old one */
	char hash2[PASSWORD_HASH_MAX + 1];
	CHECK_INT(store_password_hash("new pw", hash2, sizeof hash2), 0);
	CHECK_INT(store_account_set_password(st, "alice@example.test", hash2), 0);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "right pw", &a),
		  STORE_AUTHFAIL);
	CHECK_INT(store_account_authenticate(st, "alice@example.test", "new pw", &a), 0);
	tstore_done(&t);
}

struct alias_list {
	char rows[16][1024];
	int n;
};

static int alias_cb(void *ctx, const struct store_alias *a)
{
	struct alias_list *l = ctx;
	if (l->n < 16)
		snprintf(l->rows[l->n], sizeof l->rows[0], "%s>%s", a->address,
			 a->target);
	l->n++;
	return 0;
}

static void test_aliases(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	CHECK_INT(store_domain_add(st, "example.test"), 0);
	CHECK_INT(store_domain_add(st, "b.test"), 0);
	static const struct {
		const char *addr, *target;
		int want;
	} adds[] = {
		{"sales@example.test", "alice@example.test", STORE_OK},
		{"sales@example.test", "bob@example.test", STORE_OK},
		{"sales@example.test", "alice@example.test", STORE_EXISTS},
		{"sales@example.test", "partner@remote.test", STORE_OK},
		{"@example.test", "alice@example.test", STORE_OK},
		{"info@b.test", "sales@example.test", STORE_OK},
		{"x@nowhere.test", "alice@example.test", STORE_INVALID},
		{"noat", "alice@example.test", STORE_INVALID},
		{"a@example.test", "noat", STORE_INVALID},
		{"a@example.test", "@example.test", STORE_INVALID},
		{"a@example.test", "a@example.test", STORE_INVALID},
		{"a@b@example.test", "x@y.test", STORE_INVALID},
	};
	for (size_t i = 0; i < sizeof adds / sizeof adds[0]; i++) {
		test_state.label = adds[i].addr;
		CHECK_INT(store_alias_add(st, adds[i].addr, adds[i].target),
			  adds[i].want);
	}
	test_state.label = NULL;
	struct alias_list l = {0};
	CHECK_INT(store_alias_list(st, NULL, alias_cb, &l), 0);
	CHECK_INT(l.n, 5);
	CHECK_STR(l.rows[0], "@example.test>alice@example.test");
	CHECK_STR(l.rows[1], "info@b.test>sales@example.test");
	memset(&l, 0, sizeof l);
	CHECK_INT(store_alias_list(st, "example.test", alias_cb, &l), 0);
	CHECK_INT(l.n, 4);
	CHECK_INT(store_alias_del(st, "sales@example.test", "nobody@x.test"),
		  STORE_NOTFOUND);
	CHECK_INT(store_alias_del(st, "sales@example.test", "bob@example.test"), 0);
	CHECK_INT(store_alias_del(st, "sales@example.test", NULL), 0);
	CHECK_INT(store_alias_del(st, "sales@example.test", NULL), STORE_NOTFOUND);
	memset(&l, 0, sizeof l);
	CHECK_INT(store_alias_list(st, NULL, alias_cb, &l), 0);
	CHECK_INT(l.n, 2);
	tstore_done(&t);
}

static int audit_cb(void *ctx, const struct store_audit_entry *e)
{
	struct alias_list *l = ctx;
	if (l->n < 16)
		snprintf(l->rows[l->n], sizeof l->rows[0], "%s %s %s", e->actor,
			 e->action, e->detail);
	l->n++;
	return 0;
}

static void test_settings_audit(void)
{
	struct tstore t;
	tstore_open(&t);
	struct store *st = t.st;
	char v[64];
	CHECK_INT(store_setting_get(st, "hostname", v, sizeof v), STORE_NOTFOUND);
	CHECK_INT(store_setting_set(st, "hostname", "mx.example.test"), 0);
	CHECK_INT(store_setting_get(st, "hostname", v, sizeof v), 0);
	CHECK_STR(v, "mx.example.test");
	CHECK_INT(store_setting_set(st, "hostname", "mx2.example.test"), 0);
	CHECK_INT(store_setting_get(st, "hostname", v, sizeof v), 0);
	CHECK_STR(v, "mx2.example.test");
	char small[4];
	CHECK_INT(store_setting_get(st, "hostname", small, sizeof small),
		  STORE_INVALID);
	CHECK_INT(store_setting_set(st, "", "x"), STORE_INVALID);
	CHECK_INT(store_setting_set(st, "k", ""), 0);
	CHECK_INT(store_setting_get(st, "k", v, sizeof v), 0);
	CHECK_STR(v, "");

	CHECK_INT(store_audit_add(st, "admin@example.test", "domain-add", "example.test"), 0);
	CHECK_INT(store_audit_add(st, "cli", "user-add", "bob@example.test"), 0);
	CHECK_INT(store_audit_add(st, "cli", "user-del", "bob@example.test"), 0);
	CHECK_INT(store_audit_add(st, "cli", "", "x"), STORE_INVALID);
	struct alias_list l = {0};
	CHECK_INT(store_audit_list(st, 2, audit_cb, &l), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.rows[0], "cli user-del bob@example.test"); /* newest first */
	CHECK_STR(l.rows[1], "cli user-add bob@example.test");
	memset(&l, 0, sizeof l);
	CHECK_INT(store_audit_list(st, 100, audit_cb, &l), 0);
	CHECK_INT(l.n, 3);
	tstore_done(&t);
}

static void test_result_text(void)
{
	for (int r = STORE_TOOMANY; r <= STORE_OK; r++) {
		test_state.label = store_result_text(r);
		CHECK(strcmp(store_result_text(r), "unknown store result") != 0);
	}
	CHECK(store_result_is_temporary(STORE_BUSY));
	CHECK(store_result_is_temporary(STORE_FULL));
	CHECK(!store_result_is_temporary(STORE_NOTFOUND));
	CHECK(!store_result_is_temporary(STORE_AUTHFAIL));
	CHECK(!store_result_is_temporary(STORE_OK));
}

/* A callback may use the store while a list is being stepped. */
static int reenter_cb(void *ctx, const struct store_domain *d)
{
	struct store *st = ctx;
	return store_domain_exists(st, d->name) == 1 ? 0 : 1;
}

static void test_reentrant_callback(void)
{
	struct tstore t;
	tstore_open(&t);
	CHECK_INT(store_domain_add(t.st, "a.test"), 0);
	CHECK_INT(store_domain_add(t.st, "b.test"), 0);
	CHECK_INT(store_domain_list(t.st, reenter_cb, t.st), 0);
	tstore_done(&t);
}

TEST_SUITE(store, {"domains", test_domains}, {"accounts", test_accounts},
	   {"roles", test_roles}, {"authenticate", test_authenticate},
	   {"aliases", test_aliases}, {"settings_audit", test_settings_audit},
	   {"result_text", test_result_text},
	   {"reentrant_callback", test_reentrant_callback});
