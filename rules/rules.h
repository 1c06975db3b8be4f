/*
 * rules.h - librules, the server-side rules engine: what happens to a
 * message when it arrives (issue 7).
 *
 * A rule is a name, an enabled flag, conditions combined by all or any,
 * and actions. Server-wide rules (account_id 0 here, NULL in the store)
 * run first, then the account's, each list in position order.
 *
 * The pieces and who calls them:
 *   - rules_spec_parse / rules_spec_format: the rule as compact JSON
 *     ({"v":1,...}), the form kept in the store's rules.spec column and
 *     the form the web admin edits (rules_rule_to_json adds id, name,
 *     enabled and position).
 *   - rules_load (store -> set) and rules_cache (smtpd: reload only when
 *     the store's rules generation moved).
 *   - rules_message_parse: the header block of an arriving message parsed
 *     ONCE into a caller-owned struct (unfolded, RFC 2047 decoded to
 *     UTF-8); rules_evaluate then runs every rule against it without I/O
 *     and without allocating, and fills a struct rules_decision.
 *   - rules_vacation_*: RFC 3834 / RFC 5230 suppression, the per-sender
 *     rate (store) and the reply text.
 *   - rules_srs_*: SRS0 envelope senders for forwarded copies, and loop
 *     protection (hop count, Delivered-To).
 *   - rules_sieve_export / rules_sieve_import: an account's rules as an
 *     RFC 5228 Sieve script (with vacation, copy, reject, envelope,
 *     relational/date for vacation dates, editheader/variables for the
 *     subject tag). The importer is bounded and strict: what it does not
 *     support is refused with "line N: why".
 *
 * The spf, dkim and dmarc conditions test our own checks' results in
 * the Authentication-Results field smtpd writes (rules_message_auth).
 *
 * Matching is case-insensitive (ASCII, like Sieve's i;ascii-casemap) on
 * the decoded text. Ownership: a set owns its rules and their strings;
 * a decision points into the set and the message, so it is valid while
 * both are.
 */
#ifndef MAILROOM_RULES_H
#define MAILROOM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/limits.h"

struct store;

/* ---- caps (everything a rule or a message may make us hold) ---------- */
#define RULES_SPEC_VERSION 1
#define RULES_NAME_MAX 100        /* octets of a rule's name */
#define RULES_VALUE_MAX 1000      /* a condition's value */
#define RULES_HEADER_NAME_MAX 76  /* header:NAME */
#define RULES_TEXT_MAX 8000       /* vacation text */
#define RULES_SHORT_TEXT_MAX 500  /* reject text, vacation subject, tag */
#define RULES_CONDITIONS_MAX 32   /* per rule */
#define RULES_ACTIONS_MAX 32      /* per rule */
#define RULES_ADDRS_MAX 16        /* addresses in one forward/redirect */
#define RULES_PER_ACCOUNT_MAX 200 /* rules of one account (and server) */
#define RULES_SPEC_MAX 32768      /* JSON of one rule */
#define RULES_FORWARD_MAX 32      /* distinct forward targets per message */
#define RULES_MATCHED_MAX 64      /* matched rules recorded per message */
#define RULES_SET_HEADERS_MAX 8   /* header fields set per message */
#define RULES_VACATION_DAYS_MAX 365
#define RULES_VACATION_DAYS_DEFAULT 7
#define RULES_SIEVE_MAX (256 * 1024) /* a script to import */
#define RULES_HOPS_MAX 50         /* Received + Delivered-To lines */
#define RULES_MATCH_TEXT_MAX 8192 /* text a :matches or :regex looks at */
/* The message header block rules look at; a longer one is cut there. */
#define RULES_HEADER_BLOCK_MAX (64 * 1024)
#define RULES_HEADERS_MAX 256     /* header fields kept per message */
/* Room for unfolded + decoded header values of one message. */
#define RULES_MESSAGE_ARENA (2 * RULES_HEADER_BLOCK_MAX + 4096)
/*
 * The body condition looks at the first this many octets of the body
 * (decoded from quoted-printable or base64 for a single-part body; raw
 * octets for multipart). A bound, so a 25 MB message costs nothing extra:
 * text past it is not seen.
 */
#define RULES_BODY_SCAN_MAX (64 * 1024)

/* ---- rules ---------------------------------------------------------- */

enum rules_field {
	RULES_FIELD_FROM = 0,      /* From: header */
	RULES_FIELD_TO_CC,         /* To: and Cc: headers */
	RULES_FIELD_SUBJECT,       /* Subject: */
	RULES_FIELD_HEADER,        /* any header, by name */
	RULES_FIELD_SIZE,          /* message size in octets */
	RULES_FIELD_ENVELOPE_FROM, /* MAIL FROM ("" for <>) */
	RULES_FIELD_ENVELOPE_TO,   /* RCPT TO of this delivery */
	RULES_FIELD_BODY,          /* first RULES_BODY_SCAN_MAX of the body */
	/* our own checks' results, from our Authentication-Results (RFC
	 * 8601): op "is" only, value one of the method's result words
	 * (rules_auth_result_parse); see struct rules_auth */
	RULES_FIELD_SPF,
	RULES_FIELD_DKIM,
	RULES_FIELD_DMARC,
};

enum rules_op {
	RULES_OP_CONTAINS = 0,
	RULES_OP_IS,
	RULES_OP_MATCHES, /* '*' any run, '?' one character, '\' escapes */
	RULES_OP_OVER,    /* size only */
	RULES_OP_UNDER,   /* size only */
	RULES_OP_REGEX,   /* POSIX extended, case-insensitive (Sieve :regex);
			     on octets: '.' is one byte of a UTF-8 character;
			     no back-references, repetition counts bounded */
};

/*
 * The RFC 8601 result words, one bit each in struct rules_auth. Which
 * words a method may have: rules_auth_result_parse.
 */
enum rules_auth_result {
	RULES_AUTH_NONE = 0,
	RULES_AUTH_PASS,
	RULES_AUTH_FAIL,
	RULES_AUTH_SOFTFAIL, /* spf only */
	RULES_AUTH_NEUTRAL,  /* spf, dkim */
	RULES_AUTH_POLICY,   /* spf, dkim */
	RULES_AUTH_TEMPERROR,
	RULES_AUTH_PERMERROR,
};

/*
 * from / to_cc with "is" and "matches" compare each address (addr-spec) of
 * the header; with "contains" and "regex" the whole decoded header text. Every other
 * field compares its whole decoded value. A header present several times
 * matches when any instance does.
 */
struct rules_condition {
	enum rules_field field;
	enum rules_op op;
	bool negate;       /* "not": true when the test is false */
	char *header;      /* RULES_FIELD_HEADER: the name */
	char *value;       /* text fields */
	int64_t size;      /* RULES_FIELD_SIZE */
	void *re;          /* RULES_OP_REGEX: compiled value (regex_t), owned */
};

enum rules_action_type {
	RULES_ACTION_KEEP = 0, /* deliver to the mailbox (even after discard) */
	RULES_ACTION_FORWARD,  /* a copy to addrs, and keep */
	RULES_ACTION_REDIRECT, /* to addrs instead of the mailbox */
	RULES_ACTION_DISCARD,  /* drop silently */
	RULES_ACTION_REJECT,   /* refuse with text (550 when smtpd can) */
	RULES_ACTION_TAG,      /* put text in front of the Subject */
	RULES_ACTION_VACATION, /* out-of-office reply */
	RULES_ACTION_STOP,     /* no further rules */
	RULES_ACTION_HEADER,   /* set a header field (replace or add) */
};

struct rules_vacation {
	char start[11]; /* "YYYY-MM-DD" or "" (no start); inclusive, UTC */
	char end[11];   /* "YYYY-MM-DD" or "" (no end); inclusive, UTC */
	int days;       /* one reply per sender per this many days */
	char *subject;  /* NULL: "Auto: " + the original subject */
	char *text;
	char **addrs;   /* more addresses of ours (Sieve :addresses) */
	size_t n_addrs;
};

struct rules_action {
	enum rules_action_type type;
	char **addrs; /* forward / redirect */
	size_t n_addrs;
	char *text; /* reject text, tag prefix, header value */
	char *header; /* RULES_ACTION_HEADER: the field name */
	struct rules_vacation vacation;
};

struct rules_rule {
	int64_t id;         /* store row id, 0 when not stored */
	int64_t account_id; /* 0: server-wide */
	int position;
	bool enabled;
	char name[RULES_NAME_MAX + 1];
	bool match_any; /* false: all conditions must hold */
	struct rules_condition *conds;
	size_t n_conds; /* 0: always matches */
	struct rules_action *actions;
	size_t n_actions;
};

/* An ordered list of rules: server-wide first, then an account's. */
struct rules_set {
	struct rules_rule **rules;
	size_t n;
	size_t cap;
	/* some enabled rule has a body condition (kept by rules_set_append):
	 * only then does delivery read the body */
	bool needs_body;
};

struct rules_set *rules_set_new(void);
void rules_set_free(struct rules_set **setp);
/* Takes ownership of *rulep (set to NULL) on success; -1 at the cap. */
int rules_set_append(struct rules_set *set, struct rules_rule **rulep)
	__attribute__((warn_unused_result));

struct rules_rule *rules_rule_new(void);
void rules_rule_free(struct rules_rule **rulep);
/* Check limits and field/op combinations; 0 or -1 with a reason. */
int rules_rule_validate(const struct rules_rule *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* Compile what evaluation needs (regex conditions). The parsers call it;
 * a rule built by hand must too. 0 or -1 with a reason. */
int rules_rule_compile(struct rules_rule *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

const char *rules_field_name(enum rules_field f);
/* spf, dkim or dmarc: a result of our own checks. */
bool rules_field_is_auth(enum rules_field f);
/* The result word (any case) for auth field f: its enum rules_auth_result,
 * or -1 when f does not have that result (or is not an auth field). */
int rules_auth_result_parse(enum rules_field f, const char *word);
/* The words f allows, space-separated ("none neutral pass ..."), for
 * error messages and forms; "" for other fields. */
const char *rules_auth_words(enum rules_field f);
const char *rules_op_name(enum rules_op op);
const char *rules_action_name(enum rules_action_type t);
/* "subject", "to_cc", "header:X-Spam", ... -> field (and header name into
 * header_r, size RULES_HEADER_NAME_MAX + 1). 0 or -1. */
int rules_field_parse(const char *s, enum rules_field *f_r, char *header_r);
int rules_op_parse(const char *s, enum rules_op *op_r);
/* "YYYY-MM-DD" that is a real date. */
bool rules_date_valid(const char *s);

/* ---- the spec: JSON text kept in rules.spec ----------------------------
 * {"v":1,"match":"all"|"any",
 *  "if":[{"field":"subject","op":"contains","value":"x"},
 *        {"field":"header","name":"X-Spam","op":"is","value":"yes","not":true},
 *        {"field":"size","op":"over","value":1048576},
 *        {"field":"dkim","op":"is","value":"pass"}],
 *  "then":[{"action":"forward","to":["a@b.example"]},{"action":"stop"},
 *          {"action":"reject","text":"..."},{"action":"tag","text":"[x] "},
 *          {"action":"header","name":"X-Team","text":"sales"},
 *          {"action":"vacation","start":"2026-12-20","end":"2027-01-02",
 *           "days":7,"subject":"Away","text":"...","addresses":[...]}]}
 */
/* Parse spec into r (its conditions and actions; name/enabled untouched).
 * 0, or -1 with a one-line reason in err. */
int rules_spec_parse(const char *spec, struct rules_rule *r, char *err,
		     size_t errlen) __attribute__((warn_unused_result));
/* The compact spec of r (malloc'd, caller frees), NULL on ENOMEM. */
char *rules_spec_format(const struct rules_rule *r);
/* For the web admin: the spec plus "id", "name", "enabled", "position"
 * (malloc'd JSON). */
char *rules_rule_to_json(const struct rules_rule *r);
/* A rule from that same JSON form (name and enabled optional: "" and true).
 * 0 and *rule_r, or -1 with err. */
/*
 * The panel's and mailroomctl's "spam yes|no": the spec condition (a new
 * jansson object) on the field smtpd writes on mail its checks found to
 * be spam, "X-Spam-Flag: YES" (trust/spam.c). A sender's own X-Spam fields
 * are dropped at the MX (trust/arfilter.c), so it is the checks' verdict;
 * stored as the plain header condition it is. answer is "yes" or "no" in
 * any case, negate flips it (--if-not); NULL for any other answer.
 */
struct json_t;
struct json_t *rules_spam_condition(const char *answer, bool negate);
int rules_rule_from_json(const char *json, struct rules_rule **rule_r,
			 char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* One line for people: `if subject contains "x" then forward a@b; stop`. */
int rules_rule_describe(const struct rules_rule *r, struct buf *out)
	__attribute__((warn_unused_result));

/* ---- the arriving message --------------------------------------------- */

struct rules_header {
	struct slice name;  /* as written, into the caller's header block */
	uint32_t name_hash; /* rules_header_name_hash(name) */
	const char *raw;    /* unfolded, trimmed (arena) */
	const char *value;  /* raw with RFC 2047 words decoded to UTF-8 */
	size_t raw_len, value_len;
};

/*
 * Our own SPF, DKIM and DMARC results: per method, one bit
 * (1u << enum rules_auth_result) for each result our Authentication-
 * Results field(s) give it. Several DKIM signatures set several bits; a
 * condition "dkim is pass" holds when the pass bit is set (any instance,
 * like header conditions). A method without a result is RULES_AUTH_NONE.
 */
struct rules_auth {
	uint16_t spf, dkim, dmarc;
};

/*
 * Everything rules look at, filled once per message. Large (the arena):
 * make one per session or thread and reuse it; rules_message_parse does
 * not allocate. The envelope strings are the caller's and must outlive
 * the evaluation.
 */
struct rules_message {
	const char *envelope_from; /* "" for the null sender */
	const char *envelope_to;   /* the RCPT address for this delivery */
	const char *account;       /* the account's address (may equal it) */
	int64_t size;              /* octets of the whole message */
	time_t now;                /* for vacation dates */
	size_t n_headers;
	struct rules_header headers[RULES_HEADERS_MAX];
	bool truncated; /* header block or header count cut at a cap */
	/* set to "none" by rules_message_parse, filled by rules_message_auth */
	struct rules_auth auth;
	/* the body text the body condition sees (rules_body_decode's
	 * output, the caller's, NULL: empty); not touched by
	 * rules_message_parse */
	const char *body;
	size_t body_len;
	size_t arena_used;
	char arena[RULES_MESSAGE_ARENA];
};

/*
 * Parse the header block (the message's start; parsing ends at the first
 * empty line or at len, and looks at most at RULES_HEADER_BLOCK_MAX
 * octets). CRLF or bare LF. Lines without a colon are skipped. Keeps
 * pointers into data: it must outlive msg's use. Resets the header part
 * of msg, leaves the envelope fields as they are. Never fails.
 */
void rules_message_parse(struct rules_message *msg, const char *data,
			 size_t len);
/*
 * Fill msg->auth from the parsed headers: only Authentication-Results
 * fields whose authserv-id is authserv_id (our [server] hostname, the id
 * smtpd writes; the MX drops arriving fields that claim it, RFC 8601 5)
 * count, so another server's "dkim=pass" is ignored. Each field is parsed
 * as RFC 8601 says: the authserv-id, then ';'-separated "method=result"
 * resinfo; comments (nested, quoted-pairs) and quoted strings are
 * skipped, so "(spf=pass)" or header.b="..." never counts. Unknown
 * methods and result words are ignored. Call it after
 * rules_message_parse, before rules_evaluate (which only reads the bits:
 * no parsing or allocation there). Linear in the fields' length. NULL or
 * "" authserv_id: every result stays none.
 */
void rules_message_auth(struct rules_message *msg, const char *authserv_id);
/* First header named name (case-insensitive), or NULL. */
const struct rules_header *rules_message_header(const struct rules_message *msg,
						const char *name);
/* The first address of the From header into dst (size ADDR_MAX + 1): the
 * sender to assume when no envelope sender is given (rule tests, the CLI).
 * "" when there is none or it is too long. */
void rules_message_from_address(const struct rules_message *msg,
				char dst[ADDR_MAX + 1]);
/* Case-insensitive hash of a header name (FNV-1a of its lowercase). */
uint32_t rules_header_name_hash(const char *name, size_t len);
/* How many octets of data form the header block, with its empty line. */
size_t rules_header_block_len(const char *data, size_t len);

/*
 * Decode the RFC 2047 encoded words of src[0..len) into dst (size dstlen,
 * always NUL-terminated): B and Q, any charset iconv knows, to UTF-8;
 * whitespace between adjacent encoded words dropped; malformed words and
 * unknown charsets left as they are. Returns the decoded length, or
 * (size_t)-1 when dst is too small (dst then holds the text cut).
 */
size_t rules_decode_2047(const char *src, size_t len, char *dst,
			 size_t dstlen);
/*
 * The text a body condition sees: raw[0..len) is the start of the body
 * (at most RULES_BODY_SCAN_MAX octets are looked at). A non-multipart
 * body with Content-Transfer-Encoding quoted-printable or base64 (per
 * msg's parsed headers) is decoded; anything else is copied as it is.
 * dst has room for RULES_BODY_SCAN_MAX octets (decoding never grows the
 * text). Returns the length written (not NUL-terminated).
 */
size_t rules_body_decode(const struct rules_message *msg, const char *raw,
			 size_t len, char *dst);
/* Sieve :matches on ASCII case-folded text: '*', '?' (one UTF-8
 * character), '\' escapes the next character. */
bool rules_wildcard_match(const char *pattern, const char *text, size_t len);
/* Extract the addr-specs of an address-list header value (raw, unfolded)
 * into addrs (slices into value). Returns how many (at most max). */
size_t rules_address_list(const char *value, size_t len, struct slice *addrs,
			  size_t max);

/* ---- evaluation --------------------------------------------------------- */

struct rules_decision {
	bool keep;                 /* deliver to the account's mailbox */
	const char *reject_text;   /* non-NULL: refuse (nothing else happens) */
	const char *subject_tag;   /* non-NULL: tag the stored copy's Subject */
	/* header fields to set on the stored copy, in order */
	const struct rules_action *set_headers[RULES_SET_HEADERS_MAX];
	size_t n_set_headers;
	const char *forward[RULES_FORWARD_MAX]; /* copies to send */
	size_t n_forward;
	bool forward_cut;          /* more targets than RULES_FORWARD_MAX */
	bool loop;                 /* forwards dropped: Delivered-To loop */
	const struct rules_action *vacation; /* reply due (rate check left) */
	const struct rules_rule *vacation_rule;
	const char *vacation_skipped; /* why a vacation action did not reply */
	const struct rules_rule *matched[RULES_MATCHED_MAX];
	size_t n_matched;
	bool stopped;
};

/*
 * Run every enabled rule of set, in order, against msg. Never allocates
 * and never fails for a valid set: returns 0. Sieve semantics: keep is
 * implicit unless redirect, discard or reject cancels it; an explicit
 * keep always keeps; reject wins over everything; "stop" ends the run.
 * Forward targets are de-duplicated; a target equal to the account
 * itself is dropped; all forwards are dropped when msg carries a
 * Delivered-To of the account (loop).
 */
int rules_evaluate(const struct rules_set *set, const struct rules_message *msg,
		   struct rules_decision *out);
/*
 * RCPT time: when the rules certainly reject this envelope (every rule up
 * to the rejecting one decides on envelope fields alone, or cannot stop
 * the run), the reject text; else NULL. spf/dkim/dmarc are not envelope
 * fields: a rule with one is decided at delivery only.
 */
const char *rules_evaluate_rcpt(const struct rules_set *set,
				const char *envelope_from,
				const char *envelope_to);
/* The decision for people (CLI `rule test`, the web admin's try-it box),
 * one "key: value" per line. */
int rules_decision_format(const struct rules_decision *d, struct buf *out)
	__attribute__((warn_unused_result));

/*
 * The web admin's "try it" box: what set would do to a pasted message
 * (CRLF or LF; size taken as len) delivered to account, sent by
 * envelope_from (NULL: the From header's address), at now. authserv_id
 * is our hostname, whose Authentication-Results the spf/dkim/dmarc
 * conditions read (rules_message_auth). Appends the
 * rules_decision_format text to out. Stores nothing. 0, or -1 (ENOMEM).
 */
int rules_try(const struct rules_set *set, const char *message, size_t len,
	      const char *envelope_from, const char *account,
	      const char *authserv_id, time_t now, struct buf *out)
	__attribute__((warn_unused_result));

/* ---- loading (store) ----------------------------------------------------- */

/*
 * Load the server-wide rules and then account_id's (0: only the server's)
 * into a new set; disabled rules are kept (evaluation skips them). A spec
 * that does not parse is skipped with a warning in the log, never fatal
 * for delivery. 0 or a STORE_* code.
 */
int rules_load(struct store *st, int64_t account_id, struct rules_set **set_r)
	__attribute__((warn_unused_result));
/* Only account_id's own rules (0: the server-wide list), for editing. */
int rules_load_own(struct store *st, int64_t account_id,
		   struct rules_set **set_r) __attribute__((warn_unused_result));

/*
 * A per-process cache of loaded sets by account (smtpd): a lookup asks the
 * store for the rules generation (one indexed read) and drops every cached
 * set when it moved, so edits apply to the next message.
 */
struct rules_cache;
struct rules_cache *rules_cache_new(size_t max_accounts);
void rules_cache_free(struct rules_cache **cachep);
/* The set for account_id (owned by the cache, valid until the next call
 * on the cache). 0 or a STORE_* code. */
int rules_cache_get(struct rules_cache *cache, struct store *st,
		    int64_t account_id, const struct rules_set **set_r)
	__attribute__((warn_unused_result));

/* ---- vacation (RFC 3834, RFC 5230) ---------------------------------------- */

/*
 * The checks that need only the message: NULL when a reply may go, else
 * why not ("null sender", "mailing list", "auto-submitted", "not in
 * To/Cc", "outside dates", ...). rules_evaluate already applies them.
 */
const char *rules_vacation_suppressed(const struct rules_action *vac,
				      const struct rules_message *msg);
/*
 * The per-sender rate: 1 when a reply is due now (and records it), 0 when
 * one went to this sender within the action's days, <0 a STORE_* code.
 */
int rules_vacation_due(struct store *st, int64_t account_id,
		       const struct rules_action *vac,
		       const struct rules_message *msg)
	__attribute__((warn_unused_result));
/*
 * The whole reply message (CRLF), from the account to the envelope
 * sender: Auto-Submitted: auto-replied, In-Reply-To and References from
 * the original's Message-ID, a Subject (RFC 2047 encoded when not ASCII),
 * Date, a new Message-ID at hostname, text/plain UTF-8 quoted-printable.
 * Send it with the null envelope sender to msg->envelope_from.
 */
int rules_vacation_compose(const struct rules_action *vac,
			   const struct rules_message *msg,
			   const char *hostname, struct buf *out)
	__attribute__((warn_unused_result));

/* ---- forwarding: SRS and loops ---------------------------------------------- */

#define RULES_SRS_KEY_SETTING "srs_key"
#define RULES_SRS_KEY_MAX 64 /* octets of HMAC key */
#define RULES_SRS_MAX_AGE_DAYS 21
/*
 * The SRS secret from the settings table, made (32 random octets, hex)
 * on first use. key_r has RULES_SRS_KEY_MAX octets; *len_r set.
 */
int rules_srs_key(struct store *st, unsigned char *key_r, size_t *len_r)
	__attribute__((warn_unused_result));
/*
 * SRS0 rewrite of sender for a copy we forward from our_domain:
 * SRS0=HHHH=TT=domain=local@our_domain (HHHH: HMAC-SHA1, base64, 4
 * characters; TT: days mod 1024 in base32). An SRS0/SRS1 sender of another
 * forwarder becomes SRS1 (RFC-less but the libsrs2 convention). The null
 * sender stays "". 0, or -1 if it does not fit in out.
 */
int rules_srs_forward(const unsigned char *key, size_t keylen,
		      const char *sender, const char *our_domain, time_t now,
		      char *out, size_t outlen) __attribute__((warn_unused_result));
/*
 * Reverse an SRS address (a bounce coming back): 0 and the original
 * address in out; -1 with a reason (not SRS, bad hash, too old).
 */
int rules_srs_reverse(const unsigned char *key, size_t keylen,
		      const char *address, time_t now, char *out,
		      size_t outlen, const char **why_r)
	__attribute__((warn_unused_result));
/* True for an address whose local part starts SRS0= or SRS1=. */
bool rules_srs_is_srs(const char *address);

/* Received: plus Delivered-To: lines in msg. */
size_t rules_hop_count(const struct rules_message *msg);
/* True when msg has a Delivered-To: naming address (a forward loop). */
bool rules_delivered_to(const struct rules_message *msg, const char *address);
/* "Delivered-To: address\r\n", to prepend to a forwarded copy. */
int rules_forward_prefix(const char *address, struct buf *out)
	__attribute__((warn_unused_result));
/*
 * The header block with tag put in front of the Subject (added when there
 * is none; not doubled when the subject already starts with it). header
 * is the block rules_header_block_len measured; the body follows it
 * unchanged, so out + body is the tagged message.
 */
int rules_subject_tag_apply(const char *header, size_t len, const char *tag,
			    struct buf *out) __attribute__((warn_unused_result));

/*
 * The header block with every field called name removed and
 * "name: value" added at its end (value RFC 2047 encoded when it is not
 * ASCII). Same contract as rules_subject_tag_apply.
 */
int rules_header_set_apply(const char *header, size_t len, const char *name,
			   const char *value, struct buf *out)
	__attribute__((warn_unused_result));

/* ---- Sieve (RFC 5228 + vacation RFC 5230) -------------------------------- */

/* The set's rules as one script (every rule, disabled ones too). */
int rules_sieve_export(const struct rules_set *set, struct buf *out)
	__attribute__((warn_unused_result));
/*
 * A script (at most RULES_SIEVE_MAX octets) to a new set of rules (ids 0,
 * account_id 0, positions 1..n). 0, or -1 with "line N: why" in err.
 */
int rules_sieve_import(const char *script, size_t len,
		       struct rules_set **set_r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
