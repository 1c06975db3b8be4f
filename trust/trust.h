/*
 * trust.h - inbound trust checks for mailroom-smtpd: SPF (RFC 7208), DKIM
 * verification (RFC 6376, RFC 8463), DMARC (RFC 7489), DNS blocklists
 * (RFC 5782), the Authentication-Results header (RFC 8601), greylisting
 * keys and a spam score.
 *
 * Everything that needs DNS is asynchronous on the caller's libevent loop:
 * one trust_ctx owns a c-ares channel driven by that loop (dns_servers as
 * in [smtp] dns_servers, so tests use a loopback dnsmasq). A check returns
 * a handle and later calls its callback exactly once, from the loop, unless
 * the caller cancels it first (then never). SPF, DMARC and DNSBL handles
 * free themselves once their callback has run (forget the pointer in the
 * callback; never cancel after it); DKIM verifiers and trust_message
 * objects belong to the caller, who frees them, also from inside their
 * callback. No callback may free the trust_ctx.
 *
 * Memory is bounded: SPF follows the RFC's 10-lookup / 2-void-lookup
 * limits, the DKIM verifier keeps at most TRUST_DKIM_HEADERS_MAX of header
 * section and TRUST_DKIM_SIGS_MAX signatures, and hashes the body as it
 * streams.
 *
 * Security: every input (records, headers, addresses) is hostile. Parsers
 * never read past their length, and results hold only copies cut to fixed
 * sizes.
 */
#ifndef MAILROOM_TRUST_H
#define MAILROOM_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

#define TRUST_DOMAIN_MAX 255
#define TRUST_REASON_MAX 160
#define TRUST_DKIM_HEADERS_MAX (256 * 1024)
#define TRUST_DKIM_SIGS_MAX 8
#define TRUST_DNSBL_ZONES_MAX 8
#define TRUST_SPF_RECORD_MAX 4096 /* joined TXT strings of one record */
#define TRUST_MSGID_MAX 255

struct event_base;
struct trust_ctx;

/* ---- context (ctx.c) ------------------------------------------------------ */

/* NULL with a reason in err. servers: "ADDR:PORT,..." or NULL/"" for the
 * system resolvers. */
struct trust_ctx *trust_new(struct event_base *base, const char *servers,
			    char *err, size_t errlen);
/* Pending checks are answered with temperror first (c-ares destruction),
 * then the context goes. */
void trust_free(struct trust_ctx **ctxp);
/* Per-try timeout and tries (defaults 3000 ms, 2). Tests shorten them. */
void trust_set_dns_timeout(struct trust_ctx *ctx, int timeout_ms, int tries);
/* The clock used for DKIM x= and SPF %{t} (default time(NULL)); tests. */
void trust_set_now(struct trust_ctx *ctx, int64_t now);
int64_t trust_now(const struct trust_ctx *ctx);

/* ---- SPF (spf.c) ---------------------------------------------------------- */

enum trust_spf_result {
	TRUST_SPF_NONE = 0,
	TRUST_SPF_NEUTRAL,
	TRUST_SPF_PASS,
	TRUST_SPF_FAIL,
	TRUST_SPF_SOFTFAIL,
	TRUST_SPF_TEMPERROR,
	TRUST_SPF_PERMERROR,
};
const char *trust_spf_result_name(enum trust_spf_result r);

struct trust_spf_outcome {
	enum trust_spf_result result;
	char domain[TRUST_DOMAIN_MAX + 1];   /* the identity's domain */
	char identity[128 + 1 + TRUST_DOMAIN_MAX + 1]; /* local@domain checked */
	bool helo_identity;                  /* mailfrom was null: HELO checked */
	char explanation[TRUST_REASON_MAX + 1]; /* exp= text on fail, else "" */
	char reason[TRUST_REASON_MAX + 1];      /* why, for logs and A-R */
	int lookups;                            /* DNS-querying terms used */
};
typedef void (*trust_spf_cb)(void *arg, const struct trust_spf_outcome *o);

struct trust_spf;
/*
 * check_host() for the MAIL FROM identity (mail_from "" or NULL: the HELO
 * identity "postmaster@helo", RFC 7208 2.4). client_ip is text (v4 or v6).
 * Returns the handle, or NULL when the callback already ran (bad input,
 * out of memory): either way cb runs once unless cancelled.
 */
struct trust_spf *trust_spf_check(struct trust_ctx *ctx, const char *client_ip,
				  const char *helo, const char *mail_from,
				  trust_spf_cb cb, void *arg);
/* Stop caring: cb never runs; memory is freed once DNS answers arrive. */
void trust_spf_cancel(struct trust_spf **sp);

/* ---- SPF record syntax (spf_record.c), pure: fuzzed ------------------------ */

enum trust_spf_term_kind {
	SPF_T_ALL, SPF_T_INCLUDE, SPF_T_A, SPF_T_MX, SPF_T_PTR, SPF_T_IP4,
	SPF_T_IP6, SPF_T_EXISTS, SPF_T_REDIRECT, SPF_T_EXP, SPF_T_UNKNOWN_MOD,
};
struct trust_spf_term {
	enum trust_spf_term_kind kind;
	char qualifier;          /* '+', '-', '~', '?' */
	struct slice domain;     /* domain-spec (macros unexpanded), may be empty */
	int cidr4, cidr6;        /* -1 when not given */
	unsigned char ip[16];    /* ip4 (first 4) / ip6 */
};
#define TRUST_SPF_TERMS_MAX 64
struct trust_spf_record {
	struct trust_spf_term terms[TRUST_SPF_TERMS_MAX];
	size_t n_terms;
	int redirect; /* index in terms, or -1 */
	int exp;      /* index in terms, or -1 */
};
/* 1: "v=spf1" record; 0: not an SPF record; -1: permerror (*error_r). The
 * slices point into rec, which must outlive out. */
int trust_spf_record_parse(const char *rec, size_t len,
			   struct trust_spf_record *out, const char **error_r);
/* Check macro-string syntax (RFC 7208 7.1). exp_ok: c, r, t allowed. */
bool trust_spf_macro_valid(struct slice s, bool exp_ok);

/* ---- tag=value lists (tags.c): DKIM-Signature, DKIM keys, DMARC ---------- */

#define TRUST_TAGS_MAX 32
struct trust_tag {
	struct slice name, value; /* value with FWS around it trimmed */
};
struct trust_tags {
	struct trust_tag t[TRUST_TAGS_MAX];
	size_t n;
};
/* RFC 6376 3.2. 0, or -1 (*error_r): bad syntax, duplicate tag, too many. */
int trust_tags_parse(const char *s, size_t len, struct trust_tags *out,
		     const char **error_r);
/* The value of tag name, or NULL. */
const struct slice *trust_tags_get(const struct trust_tags *t, const char *name);

/* ---- DKIM verification (dkim.c) -------------------------------------------- */

enum trust_auth_result {
	TRUST_AUTH_NONE = 0,
	TRUST_AUTH_PASS,
	TRUST_AUTH_FAIL,
	TRUST_AUTH_POLICY, /* valid, but not acceptable (l= leaves content unsigned) */
	TRUST_AUTH_NEUTRAL,
	TRUST_AUTH_TEMPERROR,
	TRUST_AUTH_PERMERROR,
};
const char *trust_auth_result_name(enum trust_auth_result r);

struct trust_dkim_sig {
	enum trust_auth_result result;
	char domain[TRUST_DOMAIN_MAX + 1];   /* d= */
	char selector[64];                   /* s= */
	char algorithm[24];                  /* a= */
	char b_prefix[12];                   /* first 8 chars of b= (RFC 6008) */
	long long body_length;               /* l=, or -1 */
	long long unsigned_bytes;            /* canonical body bytes after l= */
	char reason[TRUST_REASON_MAX + 1];
};
struct trust_dkim_outcome {
	struct trust_dkim_sig sigs[TRUST_DKIM_SIGS_MAX];
	size_t n_sigs;               /* 0: no signature (dkim=none) */
	size_t n_ignored;            /* signatures past TRUST_DKIM_SIGS_MAX */
	char from_domain[TRUST_DOMAIN_MAX + 1]; /* RFC5322.From domain, or "" */
	int from_count;              /* From addresses seen (DMARC wants 1) */
	bool headers_too_big;        /* header section over the cap */
	/* The first Message-ID field's value, unfolded, control characters
	 * as '?', cut: for the message trace, never trusted. */
	char message_id[TRUST_MSGID_MAX + 1];
};
typedef void (*trust_dkim_cb)(void *arg, const struct trust_dkim_outcome *o);

struct trust_dkim;
struct trust_dkim *trust_dkim_new(struct trust_ctx *ctx);
/* Feed the message as received (CRLF lines, no dot-stuffing) in pieces of
 * any size. Memory stays bounded whatever the size. */
void trust_dkim_feed(struct trust_dkim *d, const char *p, size_t n);
/* End of message (the keys were asked for when the header section ended,
 * and the signatures checked as soon as they came): cb runs once, before
 * this returns when every key is in, else from the loop when the last
 * lookup answers. */
void trust_dkim_finish(struct trust_dkim *d, trust_dkim_cb cb, void *arg);
/* Free (cancels a pending finish: cb never runs). */
void trust_dkim_free(struct trust_dkim **dp);

/*
 * The DKIM worker: a thread that does the verifier's signature checks (the
 * header hash and RSA / Ed25519 verification, about 20 us of a signed
 * message) while the caller's loop goes on serving sessions and receiving
 * the body, which the loop hashes as it comes. The job starts as soon as
 * the header section and the keys are in; its result is given back on the
 * loop (through an eventfd the loop watches; the thread never calls into
 * libevent), or taken back at the end of the body (dkim.c).
 */
struct trust_dkim_worker;
struct trust_dkim_worker *trust_dkim_worker_start(struct event_base *base,
						  char *err, size_t errlen);
/* Run every queued job (their callbacks run, on this thread), join, free.
 * Before trust_free: callbacks may still use the context. */
void trust_dkim_worker_stop(struct trust_dkim_worker **wp);
/* Jobs run so far (loop thread), for logs and tests. */
uint64_t trust_dkim_worker_jobs(const struct trust_dkim_worker *w);
/* Use w for d (NULL: on the loop). Before the first trust_dkim_feed. */
void trust_dkim_use_worker(struct trust_dkim *d, struct trust_dkim_worker *w);

/* ---- DMARC (dmarc.c) ------------------------------------------------------- */

enum trust_dmarc_policy { TRUST_DMARC_P_NONE = 0, TRUST_DMARC_P_QUARANTINE,
			  TRUST_DMARC_P_REJECT };
struct trust_dmarc_record {
	enum trust_dmarc_policy p, sp;
	bool has_sp;
	bool adkim_strict, aspf_strict;
	int pct; /* 0..100 */
};
/* 1: valid record; 0: not a DMARC record (no v=DMARC1 first); -1 invalid. */
int trust_dmarc_record_parse(const char *s, size_t len,
			     struct trust_dmarc_record *out,
			     const char **error_r);
/* Organizational domain (RFC 7489 3.2) by a built-in short suffix list, not
 * the full Public Suffix List: known two-level suffixes (co.uk, com.au...)
 * keep three labels, everything else two. The fallback when no list file
 * was loaded (trust_set_psl). */
void trust_org_domain(const char *domain, char *out, size_t outlen);

/* ---- Public Suffix List (psl.c) ------------------------------------------- */

#define TRUST_PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"
/* Caps of a list: bytes, and lines (an upper bound of its rules). */
#define TRUST_PSL_FILE_MAX (4 * 1024 * 1024)
#define TRUST_PSL_RULES_MAX 65536
struct trust_psl;
/* The list in the publicsuffix.org format, from memory or a file. NULL
 * with a reason in err (missing file, over the caps, no rules). */
struct trust_psl *trust_psl_parse(const char *data, size_t len, char *err,
				  size_t errlen);
struct trust_psl *trust_psl_load(const char *path, char *err, size_t errlen);
void trust_psl_free(struct trust_psl **pp);
size_t trust_psl_rules(const struct trust_psl *p);
/* Organizational domain of domain by the list: its public suffix and one
 * more label (the domain itself when it has no more), lowercased. */
void trust_psl_org_domain(const struct trust_psl *p, const char *domain,
			  char *out, size_t outlen);
/* DMARC uses psl from now on (the context owns it and frees it; NULL goes
 * back to the built-in list). */
void trust_set_psl(struct trust_ctx *ctx, struct trust_psl *psl);

struct trust_dmarc_input {
	const char *from_domain;      /* RFC5322.From domain */
	int from_count;               /* must be 1 */
	enum trust_spf_result spf;    /* for the MAIL FROM (or HELO) identity */
	const char *spf_domain;
	const struct trust_dkim_outcome *dkim; /* may be NULL */
	unsigned sample;              /* 0..99, the pct= draw (arc4random) */
};
struct trust_dmarc_outcome {
	enum trust_auth_result result; /* none, pass, fail, temperror, permerror */
	enum trust_dmarc_policy policy;   /* published (p or sp) */
	enum trust_dmarc_policy disposition; /* what to do after pct= */
	bool spf_aligned, dkim_aligned;
	char domain[TRUST_DOMAIN_MAX + 1];   /* From domain */
	char reason[TRUST_REASON_MAX + 1];
};
typedef void (*trust_dmarc_cb)(void *arg, const struct trust_dmarc_outcome *o);
struct trust_dmarc;
struct trust_dmarc *trust_dmarc_evaluate(struct trust_ctx *ctx,
					 const struct trust_dmarc_input *in,
					 trust_dmarc_cb cb, void *arg);
void trust_dmarc_cancel(struct trust_dmarc **dp);

/* ---- DNS blocklists (dnsbl.c) ---------------------------------------------- */

struct trust_dnsbl_outcome {
	bool listed;
	char zone[TRUST_DOMAIN_MAX + 1]; /* first listing zone, in list order */
	char answer[48];                 /* e.g. 127.0.0.2 */
	int errors;                      /* zones that did not answer */
};
typedef void (*trust_dnsbl_cb)(void *arg, const struct trust_dnsbl_outcome *o);
struct trust_dnsbl;
/* zones: comma or space separated (at most TRUST_DNSBL_ZONES_MAX). All
 * zones are asked at once; an answer in 127.0.0.0/8 (except 127.255.255.x,
 * which lists use for errors) means listed. */
struct trust_dnsbl *trust_dnsbl_check(struct trust_ctx *ctx,
				      const char *client_ip, const char *zones,
				      trust_dnsbl_cb cb, void *arg);
void trust_dnsbl_cancel(struct trust_dnsbl **dp);
/* The query name for ip in zone (reversed octets / nibbles); 0 or -1. */
int trust_dnsbl_name(const char *ip, const char *zone, char *out, size_t outlen);

/* ---- Authentication-Results (authres.c) ------------------------------------ */

struct trust_results {
	const struct trust_spf_outcome *spf;     /* NULL: not checked */
	const struct trust_dkim_outcome *dkim;   /* NULL: not checked */
	const struct trust_dmarc_outcome *dmarc; /* NULL: not checked */
};
/* Append "Authentication-Results: authserv; spf=...; dkim=...; dmarc=...\r\n"
 * (folded, ASCII, values quoted when needed) to out. */
int trust_auth_results_header(const char *authserv_id,
			      const struct trust_results *r, struct buf *out)
	__attribute__((warn_unused_result));
/* True when field (one header field, possibly folded) is an
 * Authentication-Results header whose authserv-id is ours (case-insensitive):
 * the caller drops such fields from arriving mail (RFC 8601 5). */
bool trust_auth_results_is_ours(const char *field, size_t len,
				const char *authserv_id);

/* ---- SpamAssassin's spamd (spamd.c): the SPAMC/1.5 protocol ------------------ */

/*
 * A client of spamd's protocol (SpamAssassin's spamd/PROTOCOL; our code,
 * not theirs): one TCP connection per message, "SYMBOLS SPAMC/1.5" with a
 * Content-length, the message, then the reply "SPAMD/1.1 0 EX_OK",
 * "Spam: True ; 15.3 / 5.0" and the names of the rules that hit. On the
 * caller's libevent loop, never blocking it: a connect timeout and a
 * total timeout, the message sent from memory as the socket drains.
 *
 * Memory: the message is copied as it is fed, up to TRUST_SPAMD_SEND_MAX
 * (spamc's default max-size, 500 KiB, rounded up); a longer message is
 * cut at the last line end before it and only that part is asked about
 * (outcome.cut). At most TRUST_SPAMD_REPLY_MAX of the reply is read.
 */
#define TRUST_SPAMD_SEND_MAX (512 * 1024)
#define TRUST_SPAMD_HEAD_MAX 4096           /* reply status line + headers */
#define TRUST_SPAMD_REPLY_MAX (8 * 1024)    /* head + the rule names read */
#define TRUST_SPAMD_SYMBOLS_MAX 256
#define TRUST_SPAMD_DEFAULT_PORT 783
#define TRUST_SPAMD_CONNECT_MS_MAX 3000     /* connect within this (or the total) */

/* The daemon's address: an IP literal with a port ("127.0.0.1:783",
 * "[::1]:783"), or "localhost:783"; a bare address gets port 783. Names
 * are refused: resolving them would block the loop. */
struct trust_spamd_addr {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char ip[16];
	unsigned port;
};
/* 0, or -1 with *error_r (words for the admin). */
int trust_spamd_addr_parse(const char *s, struct trust_spamd_addr *out,
			   const char **error_r);
/* "127.0.0.1:783", "[::1]:783" */
void trust_spamd_addr_text(const struct trust_spamd_addr *a, char *out,
			   size_t cap);

/* The reply's status line and header section, parsed (pure: fuzzed). */
struct trust_spamd_reply {
	int code;                 /* 0 = EX_OK; the sysexits numbers */
	char message[32];         /* "EX_OK", printable ASCII, cut */
	bool have_spam;           /* a Spam: header was there */
	bool spam;                /* True / Yes */
	int score_tenths, required_tenths; /* rounded half away from zero */
	long long content_length; /* -1 when absent */
	size_t head_len;          /* octets up to and with the empty line */
};
/*
 * p[0..n) is the start of a reply. 1: the header section is complete
 * (out filled, head_len set); 0: need more bytes; -1: not a valid reply
 * (*error_r): not "SPAMD/x.y CODE MSG", a header line without a colon, a
 * bad Spam or Content-length value, two of either, or no empty line
 * within TRUST_SPAMD_HEAD_MAX. Lines end in CRLF or a bare LF. Scores
 * beyond +-1,000,000 points are refused.
 */
int trust_spamd_reply_parse(const char *p, size_t n,
			    struct trust_spamd_reply *out, const char **error_r);
/* spamd's rule names (the SYMBOLS body) as "A,B,C": only [A-Za-z0-9_]
 * names, anything else separates them, cut at a name that does not fit.
 * The number of names kept. */
size_t trust_spamd_symbols(const char *p, size_t n, char *out, size_t cap);

struct trust_spamd_outcome {
	bool answered;            /* false: reason says why */
	bool spam;                /* spamd's verdict */
	int score_tenths, required_tenths;
	bool cut;                 /* only the first part of the message was sent */
	char symbols[TRUST_SPAMD_SYMBOLS_MAX];
	char reason[TRUST_REASON_MAX + 1];
	int64_t elapsed_us;
};
typedef void (*trust_spamd_cb)(void *arg, const struct trust_spamd_outcome *o);

struct trust_spamd;
/* A question for the daemon at addr (the trust.spamd text; a bad one is
 * reported as unavailable at finish). timeout_ms covers connect, send and
 * answer. NULL only when out of memory. */
struct trust_spamd *trust_spamd_new(struct event_base *base, const char *addr,
				    int timeout_ms);
/* Header fields (CRLF-terminated) sent in front of the message, e.g. the
 * Received field of this hop, so spamd's relay checks see the client.
 * Copied; counted in the TRUST_SPAMD_SEND_MAX budget. */
void trust_spamd_prefix(struct trust_spamd *s, const char *p, size_t n);
/* The message as received (CRLF lines, dot-unstuffed), in pieces. */
void trust_spamd_feed(struct trust_spamd *s, const char *p, size_t n);
/* Connect and ask; cb runs exactly once, always from the loop (never
 * before this returns), unless trust_spamd_free comes first. */
void trust_spamd_finish(struct trust_spamd *s, trust_spamd_cb cb, void *arg);
/* Close and free; cb never runs after this. Allowed inside cb. */
void trust_spamd_free(struct trust_spamd **sp);

/* ---- spam score (spam.c) ---------------------------------------------------- */

struct trust_spam {
	int score_tenths;  /* 10 = 1.0 */
	int threshold_tenths;
	bool is_spam;
	char tests[TRUST_REASON_MAX + 1]; /* "SPF_FAIL,DKIM_NONE,..." */
	/* spamd's part (trust_spam_add_spamd): 0 not asked, 1 answered (then
	 * score_tenths is spamd's score), -1 unavailable */
	int spamd;
	int spamd_score_tenths, spamd_required_tenths;
	bool spamd_spam;                     /* spamd's own verdict */
	char spamd_tests[TRUST_SPAMD_SYMBOLS_MAX]; /* its rule names, "A,B" */
	char spamd_summary[48];              /* "15.3/5.0" or "unavailable" */
	char spamd_reason[TRUST_REASON_MAX + 1]; /* why unavailable */
	int spamd_ms;                        /* how long the exchange took */
};
/* Score the results (any may be NULL). threshold_tenths: e.g. 50. */
void trust_spam_score(const struct trust_results *r, bool quarantine,
		      int threshold_tenths, struct trust_spam *out);
/* Append "X-Spam-Flag: YES\r\n" (when spam), "X-Spam-Score: 5.5\r\n" and
 * "X-Spam-Status: Yes, score=5.5 required=5.0 tests=...\r\n". */
int trust_spam_headers(const struct trust_spam *s, struct buf *out)
	__attribute__((warn_unused_result));
/*
 * spamd's answer joins the score made by trust_spam_score: when spamd
 * answered, the score becomes spamd's (it weighs far more evidence than
 * ours), SPAMD joins the tests and spamd's rule names follow them in
 * X-Spam-Status, and the message is spam when spamd's score or our own
 * reaches our threshold (spamd's own required score is only reported).
 * When it did not answer: SPAMD_UNAVAILABLE, our score stands.
 */
void trust_spam_add_spamd(struct trust_spam *s,
			  const struct trust_spamd_outcome *o);

/* ---- greylisting keys (greylist.c) ------------------------------------------ */

/* The client network of a triple: a.b.c.0/24 for IPv4, the /64 for IPv6
 * (senders retry from another address of the same pool). 0 or -1. */
int trust_greylist_net(const char *client_ip, char *out, size_t outlen);
/* True when domain is in the comma/space separated list (case-insensitive);
 * "*" matches every domain. */
bool trust_domain_in_list(const char *list, const char *domain);

/* ---- settings (settings.c): the store's settings table ------------------ */

/*
 * Keys (set from the web panel or `mailroomctl`; unset = default):
 *   trust.spf, trust.dkim, trust.dmarc     yes|no (yes)
 *   trust.dnsbl_zones                      "zen.spamhaus.org, ..." ("")
 *   trust.greylist_domains                 "example.com, ..." or "*" ("")
 *   trust.greylist_delay                   seconds (300)
 *   trust.spam_threshold                   points, e.g. 5 or 5.5 (5.0)
 *   trust.spam_subject_tag                 e.g. "[SPAM]" ("" = off)
 *   trust.reject_forged_own_domain         yes|no (yes)
 *   trust.spamd                            "127.0.0.1:783" ("" = off)
 *   trust.spamd_timeout                    seconds, 1..300 (10)
 */
struct store;
struct trust_settings {
	bool spf, dkim, dmarc;
	char dnsbl_zones[512];
	char greylist_domains[1024];
	int greylist_delay;
	int spam_threshold_tenths;
	char spam_subject_tag[64];
	bool reject_forged_own_domain;
	/* SpamAssassin's spamd (spamd.c): "ADDR:PORT", "" = off */
	char spamd[64];
	int spamd_timeout; /* seconds for the whole exchange */
};
void trust_settings_defaults(struct trust_settings *s);
/* Defaults, then every key the store has. 0, or -1 with *error_r naming
 * the bad key (the defaults stay for it). */
int trust_settings_load(struct store *st, struct trust_settings *s,
			const char **error_r);

/* ---- one message at end of DATA (message.c): DKIM, DMARC, verdict -------- */

enum trust_action { TRUST_ACCEPT = 0, TRUST_REJECT };
struct trust_verdict {
	enum trust_action action;
	char reply[256];          /* "550 5.7.1 ..." when action is REJECT */
	bool quarantine;          /* DMARC p=quarantine applied */
	bool is_spam;
	const char *subject_tag;  /* settings' tag when spam, else NULL */
	struct buf headers;       /* Authentication-Results + X-Spam-*, CRLF */
	/* NULL when not checked; both live as long as the trust_message */
	const struct trust_dkim_outcome *dkim;
	const struct trust_dmarc_outcome *dmarc;
	struct trust_spam spam;
	char log[512];            /* key=value summary for the log line */
};
typedef void (*trust_verdict_cb)(void *arg, const struct trust_verdict *v);
/* Is domain one of ours (the store's domains)? */
typedef bool (*trust_is_local_fn)(void *arg, const char *domain);

struct trust_message_params {
	const char *authserv_id;             /* [server] hostname */
	const struct trust_settings *settings;
	const struct trust_spf_outcome *spf; /* copied; NULL: not checked */
	bool authenticated;                  /* AUTH session: never refused here */
	trust_is_local_fn is_local;          /* may be NULL */
	void *is_local_arg;
	unsigned sample;                     /* 0..99 for pct=; arc4random */
	struct trust_dkim_worker *dkim_worker; /* NULL: verify on the loop */
};
struct trust_message;
struct trust_message *trust_message_new(struct trust_ctx *ctx,
					const struct trust_message_params *p);
/* The message as the client sent it (dot-unstuffed), in pieces. */
void trust_message_feed(struct trust_message *m, const char *p, size_t n);
/* The SPF outcome, when it arrives after trust_message_new (copied). */
void trust_message_set_spf(struct trust_message *m,
			   const struct trust_spf_outcome *spf);
/* DKIM keys, DMARC policy, verdict: cb once from the loop (or before this
 * returns). The verdict lives until trust_message_free. */
void trust_message_finish(struct trust_message *m, trust_verdict_cb cb, void *arg);
/* Free; cancels a pending finish (cb never runs). */
void trust_message_free(struct trust_message **mp);
/*
 * Ask spamd too (settings' trust.spamd set, the session not
 * authenticated), on base's loop, in parallel with the DKIM key lookups;
 * the verdict waits for its answer or its timeout. received (may be NULL):
 * a header field with CRLF sent to spamd only, in front of the message.
 * Call before the first trust_message_feed. Without this call (or with
 * trust.spamd empty) nothing changes.
 */
void trust_message_spamd(struct trust_message *m, struct event_base *base,
			 const char *received);

/* ---- arriving Authentication-Results and X-Spam-* removed (arfilter.c) ---- */

/*
 * A stream filter for DATA: passes the message through, except header
 * fields "Authentication-Results:" whose authserv-id is ours (forged by
 * the sender, RFC 8601 5) and every "X-Spam:" / "X-Spam-*:" field (only
 * our verdict's may reach the mailbox and the rules), which it drops.
 * Only an Authentication-Results field is held back while it is read (at
 * most TRUST_ARFILTER_FIELD_MAX; a longer one is dropped too); the body
 * passes straight through.
 */
#define TRUST_ARFILTER_FIELD_MAX (16 * 1024)
typedef int (*trust_sink_fn)(void *ctx, const char *p, size_t n);
struct trust_arfilter {
	char authserv_id[TRUST_DOMAIN_MAX + 1];
	trust_sink_fn sink;
	void *ctx;
	bool in_body;
	bool holding;       /* inside an A-R field (held) or X-Spam field */
	bool field_too_long;
	bool field_spam;    /* the held field is X-Spam(-*): dropped, not kept */
	bool line_pass;     /* rest of an over-long line goes straight out */
	bool line_drop;     /* rest of an over-long line is dropped */
	struct buf line;    /* the current header line */
	struct buf field;   /* the held field */
	size_t dropped;     /* fields dropped */
};
int trust_arfilter_init(struct trust_arfilter *f, const char *authserv_id,
			trust_sink_fn sink, void *ctx)
	__attribute__((warn_unused_result));
/* The sink's -1 is passed back. */
int trust_arfilter_feed(struct trust_arfilter *f, const char *p, size_t n);
int trust_arfilter_end(struct trust_arfilter *f);
void trust_arfilter_free(struct trust_arfilter *f);

#endif
