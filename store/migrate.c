/*
 * migrate.c - the schema, as a list of steps keyed on PRAGMA user_version.
 *
 * Step N takes a database at version N-1 to version N inside one
 * BEGIN IMMEDIATE transaction, and re-reads user_version once it holds the
 * write lock, so two processes opening a fresh database at once migrate it
 * once. A database newer than this code is refused, never touched. Steps
 * are only ever appended: a released step's SQL never changes, because a
 * database somewhere has already run it.
 *
 * v1: the core (domains, accounts, aliases, bodies, mailbox entries, the
 *     outbound queue, settings, audit log).
 * v2: rules, api_tokens, maildrop_locks.
 * v3: vacation_replies (when an account last auto-replied to a sender).
 * v4: body data moves to body_chunks, rows of at most STORE_BLOB_CHUNK
 *     bytes: reading a byte range of one big blob makes SQLite walk its
 *     overflow-page chain from the start on every blob_open, so streaming
 *     a 25 MB body in 16 KiB reads was quadratic (4.5 s of CPU); a chunk
 *     is one index lookup. Bodies already stored become one chunk each.
 */
#include <stdio.h>

#include "store_int.h"

static const char STEP1[] =
	"CREATE TABLE domains ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL);"
	/* uidvalidity is set once at creation; uidnext only ever grows, so a
	 * (uidvalidity, uid) pair names one message forever (POP3 UIDL). */
	"CREATE TABLE accounts ("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL UNIQUE,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id),"
	"  password_hash TEXT NOT NULL,"
	"  display_name TEXT NOT NULL DEFAULT '',"
	"  quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),"
	"  used_bytes INTEGER NOT NULL DEFAULT 0,"
	"  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
	"  role TEXT NOT NULL DEFAULT 'user'"
	"    CHECK (role IN ('user', 'domain-admin', 'admin')),"
	"  uidvalidity INTEGER NOT NULL CHECK (uidvalidity > 0),"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX accounts_domain ON accounts(domain_id);"
	/* "@domain" is the domain's catch-all. */
	"CREATE TABLE aliases ("
	"  id INTEGER PRIMARY KEY,"
	"  address TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  domain_id INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,"
	"  UNIQUE (address, target));"
	"CREATE INDEX aliases_domain ON aliases(domain_id);"
	/* A body is stored once however many entries and queue rows use it;
	 * data last so the small columns sit on the row's first page. */
	"CREATE TABLE bodies ("
	"  id INTEGER PRIMARY KEY,"
	"  size INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  data BLOB NOT NULL);"
	"CREATE TABLE mailbox ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  uid INTEGER NOT NULL,"
	"  body_id INTEGER NOT NULL REFERENCES bodies(id),"
	"  size INTEGER NOT NULL,"
	"  received INTEGER NOT NULL,"
	"  UNIQUE (account_id, uid));"
	/* Covers the POP3 snapshot (STAT, LIST, UIDL never touch a body). */
	"CREATE INDEX mailbox_snapshot ON mailbox(account_id, uid, size, received);"
	"CREATE INDEX mailbox_body ON mailbox(body_id);"
	"CREATE TABLE queue ("
	"  id INTEGER PRIMARY KEY,"
	"  body_id INTEGER NOT NULL REFERENCES bodies(id),"
	"  sender TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  next_attempt INTEGER NOT NULL,"
	"  last_error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX queue_next ON queue(next_attempt);"
	"CREATE INDEX queue_body ON queue(body_id);"
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE audit_log ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT NOT NULL);"
	"PRAGMA user_version = 1;";

static const char STEP2[] =
	/* account_id NULL: a server-wide rule. spec is filled by the rules
	 * issue (Sieve-like text). */
	"CREATE TABLE rules ("
	"  id INTEGER PRIMARY KEY,"
	"  account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),"
	"  name TEXT NOT NULL DEFAULT '',"
	"  spec TEXT NOT NULL);"
	"CREATE INDEX rules_account ON rules(account_id, position);"
	"CREATE TABLE api_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  token_hash TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE maildrop_locks ("
	"  account_id INTEGER PRIMARY KEY"
	"    REFERENCES accounts(id) ON DELETE CASCADE,"
	"  pid INTEGER NOT NULL,"
	"  token INTEGER NOT NULL,"
	"  since INTEGER NOT NULL);"
	"PRAGMA user_version = 2;";

static const char STEP3[] =
	/* RFC 3834 / 5230: one out-of-office reply per sender per N days. */
	"CREATE TABLE vacation_replies ("
	"  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	"  sender TEXT NOT NULL,"
	"  last_sent INTEGER NOT NULL,"
	"  PRIMARY KEY (account_id, sender)) WITHOUT ROWID;"
	"PRAGMA user_version = 3;";

static const char STEP4[] =
	"CREATE TABLE body_chunks ("
	"  id INTEGER PRIMARY KEY,"
	"  body_id INTEGER NOT NULL REFERENCES bodies(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  UNIQUE (body_id, seq));"
	"INSERT INTO body_chunks (body_id, seq, data)"
	"  SELECT id, 0, data FROM bodies WHERE size > 0;"
	"ALTER TABLE bodies DROP COLUMN data;"
	"PRAGMA user_version = 4;";

/* v5 (outbound): a queue row remembers that its sender was told of the
 * delay (RFC 3464 "delayed" DSN), so the warning goes once. */
static const char STEP5[] =
	"ALTER TABLE queue ADD COLUMN warned INTEGER NOT NULL DEFAULT 0"
	"  CHECK (warned IN (0, 1));"
	"PRAGMA user_version = 5;";

/* v6 (trust): greylisting triples, (client network, sender, recipient),
 * with when they were first and last seen and whether a retry passed. */
static const char STEP6[] =
	"CREATE TABLE greylist ("
	"  net TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  rcpt TEXT NOT NULL,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  passed INTEGER NOT NULL DEFAULT 0 CHECK (passed IN (0, 1)),"
	"  PRIMARY KEY (net, sender, rcpt)) WITHOUT ROWID;"
	"CREATE INDEX greylist_last_seen ON greylist(last_seen);"
	"PRAGMA user_version = 6;";

/* v7 (webadmin): browser sessions survive a restart of the panel. The
 * cookie's id is stored only as its SHA-256 (hex), so a copy of the
 * database hands nobody a live session. */
static const char STEP7[] =
	"CREATE TABLE web_sessions ("
	"  id_hash TEXT PRIMARY KEY,"
	"  address TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX web_sessions_address ON web_sessions(address);"
	"PRAGMA user_version = 7;";

/* v8 (trust): what the inbound checks found for each message offered to
 * the MX, accepted or refused, so the panel can say why. Old rows are
 * pruned by age. */
static const char STEP8[] =
	"CREATE TABLE message_trace ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"
	"  session TEXT NOT NULL DEFAULT '',"
	"  client_ip TEXT NOT NULL DEFAULT '',"
	"  helo TEXT NOT NULL DEFAULT '',"
	"  sender TEXT NOT NULL DEFAULT '',"
	"  rcpts TEXT NOT NULL DEFAULT '',"
	"  message_id TEXT NOT NULL DEFAULT '',"
	"  outcome TEXT NOT NULL,"
	"  reply TEXT NOT NULL DEFAULT '',"
	"  spf TEXT NOT NULL DEFAULT '',"
	"  dkim TEXT NOT NULL DEFAULT '',"
	"  dmarc TEXT NOT NULL DEFAULT '',"
	"  dnsbl TEXT NOT NULL DEFAULT '',"
	"  spam_score INTEGER NOT NULL DEFAULT 0,"
	"  details TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX message_trace_at ON message_trace(at);"
	"PRAGMA user_version = 8;";

/* steps[i] takes version i to i + 1. */
static const char *const steps[] = {STEP1, STEP2, STEP3, STEP4, STEP5, STEP6,
				    STEP7, STEP8};

_Static_assert(sizeof steps / sizeof steps[0] == STORE_SCHEMA_VERSION,
	       "one migration step per schema version");

int store_migrate(struct store *st, int target)
{
	int v = store_schema_version(st);
	if (v < 0)
		return v;
	if (v > STORE_SCHEMA_VERSION)
		return store_failf(st, STORE_INVALID,
				   "database schema version %d is newer than "
				   "this Mailroom's (%d): refusing to open it",
				   v, STORE_SCHEMA_VERSION);
	while (v < target) {
		int ret = store_tx_begin(st);
		if (ret != STORE_OK)
			return ret;
		/* Someone else may have migrated while we waited. */
		v = store_schema_version(st);
		if (v < 0 || v >= target) {
			store_tx_rollback(st);
			return v < 0 ? v : STORE_OK;
		}
		ret = store_exec_static(st, steps[v]);
		if (ret == STORE_OK)
			ret = store_tx_commit(st);
		else
			store_tx_rollback(st);
		if (ret != STORE_OK) {
			char msg[STORE_ERRMSG_MAX];
			snprintf(msg, sizeof msg, "%s", st->errmsg);
			return store_failf(st, ret,
					   "migrating schema %d -> %d: %.400s",
					   v, v + 1, msg);
		}
		v++;
	}
	return STORE_OK;
}
