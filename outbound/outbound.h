/*
 * outbound.h - liboutbound, the public face of mailroom-queued: the parts
 * of outbound delivery that have no I/O (SMTP reply parser, MX answer
 * handling, retry schedule, DSN builder, DATA dot-stuffer, message scan)
 * and the queue runner that ties them to the event loop.
 *
 * The pure parts take bytes and give values so unit tests and fuzzers call
 * them directly; everything that touches sockets, DNS or the store lives
 * behind ob_runner_*. Every buffer is bounded by a cap named here or in
 * common/limits.h; names are ob_<module>_*.
 */
#ifndef MAILROOM_OUTBOUND_H
#define MAILROOM_OUTBOUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/limits.h"

/* ---- caps ---------------------------------------------------------------- */

/* RFC 5321 4.5.3.1.5 says 512 octets a reply line; real servers send
 * longer banners, so accept up to a text line and no more. */
#define OB_REPLY_LINE_MAX SMTP_TEXT_LINE_MAX
/* Lines in one multi-line reply (EHLO lists ~20 keywords). */
#define OB_REPLY_LINES_MAX 100
/* Text kept of one reply (for logs, last_error and DSNs); the rest is
 * parsed and dropped, and `truncated` says so. */
#define OB_REPLY_TEXT_MAX 1024
/* MX hosts tried per destination, and addresses per host. */
#define OB_MX_MAX 10
#define OB_ADDRS_PER_HOST 4
/* Original headers quoted in a DSN (text/rfc822-headers). */
#define OB_DSN_HEADERS_MAX (64 * 1024)
/* A whole DSN: headers quoted plus our text per recipient. */
#define OB_DSN_MAX (OB_DSN_HEADERS_MAX + 256 * 1024)

/* ---- SMTP replies (reply.c) ---------------------------------------------- */

struct ob_reply {
	int code;         /* 200..599 */
	char enhanced[16]; /* "5.1.1" when the reply carries one (RFC 3463), else "" */
	/* Lines joined with "\n" without their codes, NUL-terminated;
	 * cut at OB_REPLY_TEXT_MAX - 1 bytes. */
	char text[OB_REPLY_TEXT_MAX];
	size_t text_len;
	int lines;
	bool truncated;
};

enum ob_reply_status {
	OB_REPLY_AGAIN = 0, /* feed more bytes */
	OB_REPLY_DONE,      /* *reply_r holds one complete reply */
	OB_REPLY_ERROR,     /* the peer broke the grammar: drop the connection */
};

struct ob_reply_parser {
	struct linereader lr;
	struct ob_reply cur;
	bool in_reply; /* a "NNN-" line was seen */
	const char *error;
};

int ob_reply_parser_init(struct ob_reply_parser *p)
	__attribute__((warn_unused_result));
void ob_reply_parser_free(struct ob_reply_parser *p);
/* Forget partial input (after STARTTLS nothing read before may count). */
void ob_reply_parser_reset(struct ob_reply_parser *p);
/* True when bytes of an unfinished reply are held. */
bool ob_reply_parser_pending(const struct ob_reply_parser *p);
/*
 * Consume bytes from data[0..len) and stop at the end of the first complete
 * reply. Returns how many bytes were used (*used_r) and the status; on DONE
 * the reply is copied to *reply_r and the parser is ready for the next.
 * On ERROR, p->error says why (static text); the parser stays in error.
 * Bare LF ends a line as well as CRLF (servers in the wild send both).
 */
enum ob_reply_status ob_reply_feed(struct ob_reply_parser *p, const char *data,
				   size_t len, size_t *used_r,
				   struct ob_reply *reply_r);

/* ---- retry schedule (backoff.c) ------------------------------------------ */

/* Seconds to wait after the given number of failed attempts (1 = after
 * the first failure): 1m, 5m, 15m, 30m, 1h, 2h, then 4h each time. */
int64_t ob_backoff_delay(int attempts);
/*
 * When to try next: now + delay +/- 10% jitter from seed, so messages
 * deferred together do not come back together (no retry storm).
 */
int64_t ob_backoff_next(int64_t now, int attempts, uint32_t seed);
/* True when a message queued at created has passed lifetime seconds. */
bool ob_backoff_expired(int64_t created, int64_t now, int64_t lifetime);

#define OB_LIFETIME_DEFAULT (5 * 24 * 3600)
#define OB_DELAY_WARNING_DEFAULT (4 * 3600)

/* ---- MX answers (mx.c) --------------------------------------------------- */

struct ob_mx_host {
	char name[HOSTNAME_MAX + 1];
	int preference;
};

struct ob_mx_list {
	struct ob_mx_host hosts[OB_MX_MAX];
	size_t n;
};

enum ob_mx_status {
	OB_MX_OK = 0, /* hosts[] by preference */
	OB_MX_NONE,   /* no MX records: use the domain itself (implicit MX) */
	OB_MX_NULL,   /* RFC 7505 null MX: the domain takes no mail */
	OB_MX_BAD,    /* an answer we could not parse */
};

/*
 * Parse a raw DNS answer to an MX query (the bytes c-ares hands back) with
 * ares_parse_mx_reply and sort it: lowest preference first, equal ones
 * shuffled by seed (RFC 5321 5.1), duplicates and names that are not host
 * names dropped, at most OB_MX_MAX kept. A single "." MX is a null MX; a
 * "." among real hosts is ignored.
 */
enum ob_mx_status ob_mx_parse(const unsigned char *answer, int len,
			      uint32_t seed, struct ob_mx_list *out);
/* Sort hosts[0..n) as above (exposed for tests). */
void ob_mx_sort(struct ob_mx_host *hosts, size_t n, uint32_t seed);

/* ---- DATA (stuff.c) ------------------------------------------------------ */

/* Dot-stuffing across chunk boundaries (RFC 5321 4.5.2). */
struct ob_stuffer {
	bool at_line_start;
	bool last_cr; /* the previous byte was CR */
	bool any;     /* any byte seen */
	bool last_lf;
};
void ob_stuffer_init(struct ob_stuffer *s);
/* Append in[0..len) to out with a '.' doubled at each line start. */
int ob_stuff(struct ob_stuffer *s, const char *in, size_t len, struct buf *out)
	__attribute__((warn_unused_result));
/* Append the end: CRLF when the message did not end with one, then ".\r\n". */
int ob_stuff_end(struct ob_stuffer *s, struct buf *out)
	__attribute__((warn_unused_result));

/* What a message needs from the server, found by one pass over it. */
struct ob_scan {
	bool body_8bit;    /* an octet >= 0x80 anywhere */
	bool header_8bit;  /* ... in the header section (needs SMTPUTF8) */
	bool in_body;      /* scanner state: past the blank line */
	int line_pos;      /* scanner state: bytes in the current line */
	bool line_cr;
};
void ob_scan_init(struct ob_scan *sc);
void ob_scan_feed(struct ob_scan *sc, const char *p, size_t len);

/* ---- DSN (dsn.c) --------------------------------------------------------- */

enum ob_dsn_action { OB_DSN_FAILED, OB_DSN_DELAYED };

struct ob_dsn_rcpt {
	const char *recipient;  /* original recipient address */
	const char *status;     /* "5.1.1" (RFC 3463) */
	const char *remote_mta; /* host that answered, or NULL */
	const char *diagnostic; /* the remote server's words ("550 5.1.1 ..."),
	                           or our own reason; may hold newlines */
	enum ob_dsn_action action;
};

struct ob_dsn_info {
	const char *reporting_host; /* our hostname */
	const char *sender;         /* who gets the DSN */
	int64_t arrival;            /* when we accepted the message */
	int64_t now;
	const char *boundary_seed;  /* unique text for the MIME boundary */
	struct slice orig_headers;  /* header section of the message */
};

/*
 * Build an RFC 3464 report (multipart/report; report-type=delivery-status:
 * a text part, message/delivery-status, text/rfc822-headers) with CRLF
 * line ends into out (cap OB_DSN_MAX). Text from the remote server is
 * folded into lines of at most 998 octets and stripped of control bytes,
 * so a hostile reply cannot break the report's structure.
 */
int ob_dsn_build(struct buf *out, const struct ob_dsn_info *info,
		 const struct ob_dsn_rcpt *rcpts, size_t n)
	__attribute__((warn_unused_result));

/* ---- DKIM signing (dkim.c) ----------------------------------------------- */

/* Header section kept for signing; a bigger one is sent unsigned. */
#define OB_DKIM_HEADERS_MAX (64 * 1024)

typedef struct evp_pkey_st EVP_PKEY;
struct ob_dkim;
struct ob_dkim *ob_dkim_new(void);
void ob_dkim_free(struct ob_dkim **dp);
/* Feed the message (CRLF lines) in pieces of any size. */
void ob_dkim_feed(struct ob_dkim *d, const char *p, size_t n);
/*
 * Append a complete "DKIM-Signature: ..." field (folded, ending in CRLF)
 * for the message fed so far, signed by key (RSA: rsa-sha256; Ed25519:
 * ed25519-sha256, RFC 8463), relaxed/relaxed, for d=domain, s=selector,
 * t=now. May be called again with another key (the body hash is kept).
 * -1 when the header section was too big or signing failed.
 */
int ob_dkim_sign(struct ob_dkim *d, EVP_PKEY *key, const char *domain,
		 const char *selector, int64_t now, struct buf *out)
	__attribute__((warn_unused_result));
/* A private key from a PEM file, or NULL. */
EVP_PKEY *ob_dkim_load_key(const char *path);

/* ---- per-account sending limit record (sendlimit.c) ---------------------- */

/*
 * What an account already sent in the last hour (rows that left the queue:
 * delivered or bounced), in one-minute buckets; kept as text in the store
 * (store/sendlimit.h) so the count survives a restart. Rows still queued
 * are counted from the queue itself, so the two never overlap.
 */
#define OB_SENDLIMIT_WINDOW 3600
#define OB_SENDLIMIT_BUCKETS 60
/* Marks a held row's last_error; releasing looks for it. */
#define OB_SENDLIMIT_HELD "held: account suspended"

struct ob_sendlimit_rec {
	int64_t reset_at;     /* nothing before this counts (re-enabled then) */
	int64_t suspended_at; /* 0: not suspended */
	int64_t minute[OB_SENDLIMIT_BUCKETS]; /* unix minute of each bucket */
	uint32_t count[OB_SENDLIMIT_BUCKETS];
};
void ob_sendlimit_init(struct ob_sendlimit_rec *r);
/* -1 for text that is not a record (the caller starts afresh). */
int ob_sendlimit_parse(const char *text, struct ob_sendlimit_rec *r);
/* The record as text, buckets older than the window left out; -1 when dst
 * is too small (STORE_SENDLIMIT_RECORD_MAX always fits). */
int ob_sendlimit_format(const struct ob_sendlimit_rec *r, int64_t now,
			char *dst, size_t dstlen);
/* n rows left the queue at now. */
void ob_sendlimit_add(struct ob_sendlimit_rec *r, int64_t now, uint32_t n);
/* Rows counted in the window ending at now. */
int64_t ob_sendlimit_sum(const struct ob_sendlimit_rec *r, int64_t now);
/* Start counting afresh at now and lift the suspension (the admin
 * re-enabled the account). */
void ob_sendlimit_reset(struct ob_sendlimit_rec *r, int64_t now);

/* ---- the runner (runner.c) ----------------------------------------------- */

struct config;
struct event_base;
struct store;
struct ob_runner;

struct ob_runner_params {
	const struct config *cfg;
	struct event_base *base;
	struct store *store;
	int64_t lifetime;      /* seconds a message may stay queued */
	int64_t delay_warning; /* seconds; 0 = no delay warnings */
	int max_sessions;      /* connections at once, all destinations */
	int max_per_dest;      /* connections at once to one destination */
	int max_msgs_per_conn; /* messages sent over one connection */
	const char *smarthost_ca; /* extra CA file for the smarthost, or "" */
};

/* NULL with the reason in err (DNS or TLS setup failed). */
struct ob_runner *ob_runner_new(const struct ob_runner_params *p, char *err,
				size_t errlen);
/* Start polling the queue. */
int ob_runner_start(struct ob_runner *r);
/* The smarthost (host:port) in force now, "" for delivery by MX: the
 * config file's, else the panel's, re-read at every queue run. */
const char *ob_runner_smarthost(const struct ob_runner *r);
/* Stop taking new work; sessions in flight are dropped (their rows stay
 * due, so they are sent again after a restart: at least once). */
void ob_runner_free(struct ob_runner **rp);

#endif
