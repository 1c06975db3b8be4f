/*
 * store.h - libstore, the one SQLite database that holds Mailroom's
 * accounts and messages, and the only code in the tree that speaks SQL.
 *
 * One file (<data_dir>/mailroom.db) in WAL mode with synchronous=FULL,
 * foreign keys on and a busy timeout, opened by each process (and by each
 * thread that writes: a struct store is not shared between threads). The
 * schema migrates itself in store_open(), one transaction per step, keyed
 * on PRAGMA user_version. Every statement is prepared; no SQL is ever built
 * from strings.
 *
 * Conventions: functions return STORE_OK (0) or a negative STORE_E* code
 * and never abort; store_errmsg() says more about the last error. Strings
 * passed in are copied; results come back in caller-owned structs or
 * through callbacks whose arguments are valid only during the call.
 * Addresses and domains are expected already normalised (addr.h): lowercase.
 */
#ifndef MAILROOM_STORE_H
#define MAILROOM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/limits.h"

#define STORE_SCHEMA_VERSION 8
#define STORE_DB_NAME "mailroom.db"

enum store_result {
	STORE_OK = 0,
	STORE_ERROR = -1,     /* SQLite or I/O error: see store_errmsg() */
	STORE_NOTFOUND = -2,  /* no such domain/account/alias/row */
	STORE_EXISTS = -3,    /* already there */
	STORE_BUSY = -4,      /* locked past the busy timeout: retry later */
	STORE_FULL = -5,      /* disk or database full: retry later */
	STORE_NOTEMPTY = -6,  /* domain still has accounts (use force) */
	STORE_INVALID = -7,   /* argument refused (e.g. unknown domain) */
	STORE_AUTHFAIL = -8,  /* wrong password, unknown or disabled user */
	STORE_OVERQUOTA = -9, /* delivery would pass the quota */
	STORE_LOCKED = -10,   /* maildrop held by a live session */
	STORE_TOOMANY = -11,  /* alias expansion past ALIAS_EXPANSION_MAX */
};

/* True for the codes a client should retry (4xx in SMTP, SYS/TEMP in POP3). */
bool store_result_is_temporary(int result);
const char *store_result_text(int result);

struct store;

/*
 * Open (creating if missing) the database at path and migrate it to
 * STORE_SCHEMA_VERSION. 0 and *st_r, or an error code with a message in
 * err. A database from a newer Mailroom is refused (STORE_INVALID).
 */
int store_open(const char *path, struct store **st_r, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void store_close(struct store **stp);
const char *store_errmsg(const struct store *st);
int store_schema_version(struct store *st);
/* Run PRAGMA integrity_check: STORE_OK when the answer is "ok". */
int store_integrity_check(struct store *st);

/* ---- passwords (libcrypt) -------------------------------------------- */

/* Hash with yescrypt ($y$) and a fresh random salt into dst. */
int store_password_hash(const char *password, char *dst, size_t dstlen)
	__attribute__((warn_unused_result));
/* true when password matches hash ($y$, $6$, $2b$, $5$...); constant time. */
bool store_password_verify(const char *password, const char *hash);
/* true when hash has a form store_password_verify() understands. */
bool store_password_hash_valid(const char *hash);

/* ---- domains ----------------------------------------------------------- */

struct store_domain {
	int64_t id;
	char name[ADDR_DOMAIN_MAX + 1];
	int64_t accounts; /* how many accounts it has */
	int64_t created;  /* unix time */
};
typedef int (*store_domain_cb)(void *ctx, const struct store_domain *d);

int store_domain_add(struct store *st, const char *name);
/* STORE_NOTEMPTY when it has accounts or aliases and force is false; with
 * force its accounts, their mail and its aliases go too. */
int store_domain_del(struct store *st, const char *name, bool force);
/* 1 if the domain is local, 0 if not, <0 on error. */
int store_domain_exists(struct store *st, const char *name);
/* Calls cb for each domain by name; a non-zero cb return stops and is returned. */
int store_domain_list(struct store *st, store_domain_cb cb, void *ctx);

/* ---- accounts ---------------------------------------------------------- */

enum store_role {
	STORE_ROLE_USER = 0,
	STORE_ROLE_DOMAIN_ADMIN = 1,
	STORE_ROLE_ADMIN = 2,
};
/* "user", "domain-admin", "admin" */
const char *store_role_name(enum store_role role);
int store_role_parse(const char *s, enum store_role *role_r);

struct store_account {
	int64_t id;
	char address[ADDR_MAX + 1];
	char domain[ADDR_DOMAIN_MAX + 1];
	char display_name[DISPLAY_NAME_MAX + 1];
	int64_t quota_bytes; /* 0 = no limit */
	int64_t used_bytes;
	bool enabled;
	enum store_role role;
	uint32_t uidvalidity; /* with the per-mailbox uid: POP3 UIDL */
	int64_t messages;     /* entries in the mailbox */
	int64_t created;
};
typedef int (*store_account_cb)(void *ctx, const struct store_account *a);

/* The domain must exist (STORE_INVALID otherwise); password_hash from
 * store_password_hash() or imported as is (validated). */
int store_account_add(struct store *st, const char *address,
		      const char *password_hash, enum store_role role,
		      const char *display_name, int64_t quota_bytes);
/* Deletes the account, its mailbox entries and bodies nobody else uses. */
int store_account_del(struct store *st, const char *address);
int store_account_get(struct store *st, const char *address,
		      struct store_account *out);
int store_account_get_by_id(struct store *st, int64_t id,
			    struct store_account *out);
/* domain NULL lists all accounts, by address. */
int store_account_list(struct store *st, const char *domain,
		       store_account_cb cb, void *ctx);
int store_account_set_password(struct store *st, const char *address,
			       const char *password_hash);
/* Set fields; NULL/negative leaves a field as is. */
struct store_account_change {
	const char *display_name; /* NULL: unchanged */
	int64_t quota_bytes;      /* <0: unchanged */
	int enabled;              /* <0: unchanged, else 0/1 */
	int role;                 /* <0: unchanged, else enum store_role */
};
int store_account_update(struct store *st, const char *address,
			 const struct store_account_change *change);
/*
 * Check a login. STORE_OK with *out filled, or STORE_AUTHFAIL for an
 * unknown, disabled or wrong-password account (the same code for all three,
 * and a hash is computed even for an unknown user so timing tells nothing).
 */
int store_account_authenticate(struct store *st, const char *address,
			       const char *password, struct store_account *out);
int store_account_count(struct store *st, enum store_role min_role,
			int64_t *n_r);

/* ---- aliases ----------------------------------------------------------- */

/*
 * An alias maps an address to one or more targets (each a call to add);
 * targets may be local accounts, other aliases or external addresses. The
 * address "@domain" is that domain's catch-all. The alias's domain must be
 * local.
 */
struct store_alias {
	int64_t id;
	char address[ADDR_MAX + 1];
	char target[ADDR_MAX + 1];
};
typedef int (*store_alias_cb)(void *ctx, const struct store_alias *a);

int store_alias_add(struct store *st, const char *address, const char *target);
/* target NULL removes every target of address. */
int store_alias_del(struct store *st, const char *address, const char *target);
int store_alias_list(struct store *st, const char *domain, store_alias_cb cb,
		     void *ctx);

/* ---- recipient expansion (RCPT time) ----------------------------------- */

struct store_expansion {
	int64_t *local_ids; /* distinct accounts: enabled ones (store_expand_owners: all) */
	size_t n_local;
	char **remote; /* distinct external addresses */
	size_t n_remote;
	bool over_quota; /* some local account in the set is at its quota */
};
/*
 * Resolve one recipient: account, alias (recursively, ALIAS_DEPTH_MAX deep,
 * loops ignored) or the domain's catch-all. STORE_OK and *out (free it with
 * store_expansion_free); STORE_NOTFOUND when the domain is local but nothing
 * matches; STORE_INVALID when the domain is not local; STORE_TOOMANY.
 * incoming_size (>= 0) is used for the quota check.
 */
int store_expand(struct store *st, const char *address, int64_t incoming_size,
		 struct store_expansion *out);
/*
 * The same walk, disabled accounts included and no quota flag: whose mail
 * an address is (mailroom-queued's sending limit counts an alias sender
 * against its owners, and a suspended owner is disabled), not who would
 * receive it now.
 */
int store_expand_owners(struct store *st, const char *address,
			struct store_expansion *out);
void store_expansion_free(struct store_expansion *e);

/* ---- delivery ---------------------------------------------------------- */

struct store_message {
	int fd;       /* the message, read with pread from 0 to size */
	int64_t size; /* octets, CRLF line ends, no dot-stuffing */
	const char *sender;           /* envelope sender, "" for <> */
	const int64_t *local_ids;     /* accounts to get a mailbox entry */
	size_t n_local;
	const char *const *remote;    /* addresses for the outbound queue */
	size_t n_remote;
	int64_t body_id_r;            /* out: the stored body */
};
/*
 * Store each message's body once, add a mailbox entry for each local
 * account (charging its quota) and a queue row for each remote address,
 * all of msgs in ONE transaction (group commit). Nothing is half stored:
 * on failure no message of the batch is. Returns when the commit is on
 * disk. STORE_FULL / STORE_BUSY are temporary failures.
 * The quota is not checked again here (store_expand did at RCPT time); an
 * account deleted since RCPT is skipped; repeated local ids get one entry;
 * a message with no recipients at all stores nothing (body_id_r 0).
 */
int store_deliver(struct store *st, struct store_message *msgs, size_t n)
	__attribute__((warn_unused_result));

/* ---- mailboxes (POP3) -------------------------------------------------- */

struct store_mailbox_entry {
	int64_t id;     /* entry id (stable) */
	uint32_t uid;   /* never reused within the mailbox */
	int64_t size;   /* exact octets RETR sends before dot-stuffing */
	int64_t received;
};
/* A snapshot of an account's mailbox in arrival order; free(*entries_r). */
int store_mailbox_snapshot(struct store *st, int64_t account_id,
			   struct store_mailbox_entry **entries_r, size_t *n_r);
/* Delete these entries of the account in one transaction; frees quota and
 * bodies no other entry or queue row uses. Ids not in the mailbox are
 * ignored. */
int store_mailbox_delete(struct store *st, int64_t account_id,
			 const int64_t *entry_ids, size_t n);

/* Incremental reader of one message body (bounded memory for any size).
 * It holds no read transaction between calls, so the same struct store
 * may be used meanwhile; it must be closed before its store. */
struct store_body_reader;
int store_body_open(struct store *st, int64_t account_id, int64_t entry_id,
		    struct store_body_reader **r_r);
/* Read up to len bytes; returns bytes read, 0 at the end, -1 on error. */
ssize_t store_body_read(struct store_body_reader *r, void *dst, size_t len);
int64_t store_body_size(const struct store_body_reader *r);
void store_body_close(struct store_body_reader **rp);

/*
 * One POP3 session per mailbox across all processes. Takes the lock for
 * (owner_pid, owner_token); STORE_LOCKED when another live owner holds it.
 * A lock whose pid is dead, or older than max_age seconds, is taken over
 * (max_age <= 0: never by age). Taking it again as the same owner
 * refreshes it. STORE_INVALID for an unknown account.
 */
int store_maildrop_lock(struct store *st, int64_t account_id, pid_t owner_pid,
			int64_t owner_token, int64_t max_age);
int store_maildrop_unlock(struct store *st, int64_t account_id,
			  pid_t owner_pid, int64_t owner_token);

/* ---- outbound queue ---------------------------------------------------- */

struct store_queue_item {
	int64_t id;
	int64_t body_id;
	int64_t size;
	char sender[ADDR_MAX + 1];
	char recipient[ADDR_MAX + 1];
	int attempts;
	int64_t created;
	int64_t next_attempt;
	char last_error[512];
};
typedef int (*store_queue_cb)(void *ctx, const struct store_queue_item *q);

int store_queue_list(struct store *st, store_queue_cb cb, void *ctx);
/* Rows with next_attempt <= now, oldest first, at most limit. */
int store_queue_due(struct store *st, int64_t now, size_t limit,
		    store_queue_cb cb, void *ctx);
int store_queue_get(struct store *st, int64_t id, struct store_queue_item *out);
int store_queue_retry_now(struct store *st, int64_t id);
/* Every row not yet due becomes due now, in one statement (mailroomctl
 * queue flush): no row is updated under an open read, which SQLite would
 * refuse at once with SQLITE_BUSY after another connection's commit.
 * The number of rows made due goes to n_r (may be NULL). */
int store_queue_retry_all_now(struct store *st, int64_t *n_r);
/* Delivered or given up: the row goes, and its body if unused. */
int store_queue_del(struct store *st, int64_t id);
int store_queue_defer(struct store *st, int64_t id, int64_t next_attempt,
		      const char *error);
int64_t store_queue_length(struct store *st);
/* A body by id (queue runner): same reader as mailboxes. */
int store_body_open_by_id(struct store *st, int64_t body_id,
			  struct store_body_reader **r_r);

/* ---- settings and audit log -------------------------------------------- */

/* STORE_NOTFOUND when unset. */
int store_setting_get(struct store *st, const char *key, char *dst,
		      size_t dstlen);
int store_setting_set(struct store *st, const char *key, const char *value);

struct store_audit_entry {
	int64_t id;
	int64_t ts;
	char actor[ADDR_MAX + 1];
	char action[64];
	char detail[512];
};
typedef int (*store_audit_cb)(void *ctx, const struct store_audit_entry *e);
int store_audit_add(struct store *st, const char *actor, const char *action,
		    const char *detail);
/* Newest first, at most limit. */
int store_audit_list(struct store *st, size_t limit, store_audit_cb cb,
		     void *ctx);

/* ---- backup ------------------------------------------------------------ */

/* SQLite online backup of the open database to path (consistent while
 * other processes write). The file is fsynced before returning. */
int store_backup(struct store *st, const char *path);
/* Replace the database at db_path with the backup at path, after checking
 * the backup opens and passes integrity_check. Daemons must be stopped. */
int store_restore(const char *backup_path, const char *db_path, char *err,
		  size_t errlen);

/* ---- webadmin: tokens, stats ---- */

/*
 * API tokens (table api_tokens): "mrt_" + 64 hex digits, 256 random bits;
 * only their SHA-256 is stored, so a token is shown once, at creation.
 */
#define STORE_TOKEN_NAME_MAX 64
#define STORE_TOKEN_TEXT_MAX 80 /* a token's text with its NUL fits */
struct store_token {
	int64_t id;
	char name[STORE_TOKEN_NAME_MAX + 1];
	int64_t created;
	int64_t last_used; /* 0 = never; updated at most once a minute */
};
typedef int (*store_token_cb)(void *ctx, const struct store_token *t);
/* A new token called name (unique, printable, no spaces): its text into
 * token_r (len >= STORE_TOKEN_TEXT_MAX). STORE_EXISTS for a taken name. */
int store_token_create(struct store *st, const char *name, char *token_r,
		       size_t len) __attribute__((warn_unused_result));
int store_token_del(struct store *st, const char *name);
int store_token_list(struct store *st, store_token_cb cb, void *ctx);
/* STORE_OK and *out when token is valid, else STORE_AUTHFAIL. */
int store_token_check(struct store *st, const char *token,
		      struct store_token *out);

/* Dashboard counts for the whole box (domain NULL) or one domain. */
#define STORE_NEAR_QUOTA_PERCENT 90
struct store_stats {
	int64_t domains;
	int64_t accounts;
	int64_t disabled_accounts;
	int64_t aliases; /* alias rows (address -> target) */
	int64_t used_bytes;
	int64_t messages;       /* in mailboxes */
	int64_t messages_today; /* received at or after since */
	int64_t queue;          /* outbound queue rows (whole box only) */
	int64_t near_quota;     /* accounts at STORE_NEAR_QUOTA_PERCENT+ */
};
int store_stats_get(struct store *st, const char *domain, int64_t since,
		    struct store_stats *out);

/* ---- rules ---- */

/*
 * Rule rows (table rules): account_id 0 here is NULL in the table, the
 * server-wide list. spec is librules' JSON (rules/rules.h); the store
 * keeps it opaque. Each list is ordered by position 1..n, kept dense.
 * Every change bumps a generation counter (store_rule_generation) so a
 * daemon's cache of parsed rules knows when to reload.
 */
#define STORE_RULE_NAME_MAX 100
#define STORE_RULE_SPEC_MAX 32768
#define STORE_RULES_PER_LIST_MAX 200
struct store_rule {
	int64_t id;
	int64_t account_id; /* 0: server-wide */
	int position;       /* 1..n within its list */
	bool enabled;
	char name[STORE_RULE_NAME_MAX + 1];
	const char *spec; /* valid during the callback only */
};
typedef int (*store_rule_cb)(void *ctx, const struct store_rule *r);
/* One list (account_id 0: server-wide), in position order. */
int store_rule_list(struct store *st, int64_t account_id, store_rule_cb cb,
		    void *ctx);
/* Delivery order: the server-wide list, then account_id's. */
int store_rule_list_delivery(struct store *st, int64_t account_id,
			     store_rule_cb cb, void *ctx);
/* Insert at position (1 = first; <= 0 or past the end: last), later rules
 * move down. STORE_TOOMANY past STORE_RULES_PER_LIST_MAX. id_r may be NULL. */
int store_rule_add(struct store *st, int64_t account_id, int position,
		   const char *name, bool enabled, const char *spec,
		   int64_t *id_r);
/* name/spec NULL and enabled < 0 leave that column. STORE_NOTFOUND when id
 * is not in account_id's list. */
int store_rule_update(struct store *st, int64_t account_id, int64_t id,
		      const char *name, int enabled, const char *spec);
int store_rule_del(struct store *st, int64_t account_id, int64_t id);
/* Move rule id to position (1-based; out of range: last). */
int store_rule_move(struct store *st, int64_t account_id, int64_t id,
		    int position);
/* Replace account_id's whole list in one transaction (Sieve import). */
struct store_rule_in {
	const char *name;
	bool enabled;
	const char *spec;
};
int store_rule_replace(struct store *st, int64_t account_id,
		       const struct store_rule_in *rules, size_t n);
/* The counter every rule change bumps (0 before the first change). */
int store_rule_generation(struct store *st, int64_t *gen_r);

/*
 * Vacation replies (table vacation_replies, schema v3): 1 when no reply
 * went from account_id to sender within interval seconds (and now is
 * recorded as the last reply), 0 when one did, or a STORE_* error.
 * Rows older than STORE_VACATION_KEEP_SECONDS are purged as it goes.
 */
#define STORE_VACATION_KEEP_SECONDS (400LL * 86400)
int store_vacation_note(struct store *st, int64_t account_id,
			const char *sender, int64_t now, int64_t interval);

/* ---- outbound additions ---- */

/* Delete these queue rows (delivered, or bounced) and bodies nothing else
 * uses, in ONE transaction (one fsync for the batch). Ids already gone are
 * skipped. All or nothing. */
int store_queue_del_many(struct store *st, const int64_t *ids, size_t n)
	__attribute__((warn_unused_result));
struct store_queue_deferral {
	int64_t id;
	int64_t next_attempt;
	const char *error; /* cut to last_error's size */
};
/* store_queue_defer for many rows in ONE transaction (attempts + 1 each). */
int store_queue_defer_many(struct store *st,
			   const struct store_queue_deferral *d, size_t n)
	__attribute__((warn_unused_result));
/* Mark a row's sender as warned of the delay (schema v5). 1 when this call
 * set the mark (send the warning now), 0 when it was set already or the
 * row is gone, <0 on error. */
int store_queue_mark_warned(struct store *st, int64_t id)
	__attribute__((warn_unused_result));

/* ---- trust: greylisting ---- */

/*
 * Greylisting (table greylist, schema v6). A triple (client network,
 * sender, recipient) seen for the first time is deferred; a retry at least
 * delay seconds after the first sight passes, and so does every later
 * message with that triple. A network that passed any triple within
 * STORE_GREYLIST_KEEP_SECONDS is a known retrying MTA: its new triples pass
 * at once. A deferred triple not retried within
 * STORE_GREYLIST_RETRY_SECONDS starts over.
 * Returns 1 (pass), 0 (defer: *retry_after_r = seconds left), or a STORE_*
 * error (callers should then let the message through: 4xx on a broken
 * store would hold all mail).
 */
#define STORE_GREYLIST_KEEP_SECONDS (36LL * 86400)
#define STORE_GREYLIST_RETRY_SECONDS (2LL * 86400)
int store_greylist_check(struct store *st, const char *net, const char *sender,
			 const char *rcpt, int64_t now, int64_t delay,
			 int64_t *retry_after_r);
/* Delete expired triples; the number deleted or a STORE_* error. */
int64_t store_greylist_prune(struct store *st, int64_t now);

/* ---- WAL checkpoints off the committing thread (smtpd) ---- */

/*
 * Turn off this handle's automatic checkpoint (SQLite runs it inside the
 * COMMIT that passes 1000 WAL pages, stalling that commit for as long as
 * copying the WAL into the database and an fsync take) and instead call
 * w->fn(w->arg, wal_pages) after each commit of this handle, on the
 * committing thread, with the WAL's size in pages. The caller then runs
 * store_wal_checkpoint() somewhere else. w must outlive the handle.
 */
struct store_wal_watch {
	void (*fn)(void *arg, int wal_pages);
	void *arg;
};
int store_wal_watch(struct store *st, struct store_wal_watch *w);
/*
 * A PASSIVE checkpoint: copy into the database what it can of the WAL
 * without waiting for or blocking readers and writers, and fsync it. A
 * commit is durable in the WAL before this; checkpoints only let the WAL
 * start over. *wal_pages_r and *done_pages_r (NULL: not wanted) get the
 * WAL's size and how much of it is now in the database. STORE_OK,
 * STORE_BUSY (another checkpoint is running) or an error.
 */
int store_wal_checkpoint(struct store *st, int *wal_pages_r, int *done_pages_r);
/*
 * For a handle whose commits others wait on (smtpd's group commit): when
 * another connection holds the write lock, retry every 100 us for the
 * first 5 ms, then every millisecond, up to STORE_BUSY_TIMEOUT_MS. SQLite's
 * own handler sleeps 1, 2, 5, 10 ... 100 ms, so after losing the lock to a
 * 2 ms transaction the handle kept sleeping for up to 25 ms more.
 */
void store_busy_retry_fast(struct store *st);

#endif
