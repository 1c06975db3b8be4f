/*
 * outbound_int.h - liboutbound's private header: the delivery job (one
 * destination, a few messages, their recipients), the DNS glue and the TLS
 * client contexts shared by runner.c, route.c, client.c, dns.c and tlsc.c.
 * Nothing outside outbound/ includes it.
 *
 * Ownership: the runner owns every job; a job owns its messages, its
 * connection (bufferevent) and its body reader. A job always ends through
 * ob_job_finish(), which hands it back to the runner exactly once.
 */
#ifndef MAILROOM_OUTBOUND_INT_H
#define MAILROOM_OUTBOUND_INT_H

#include <openssl/ssl.h>
#include <sys/socket.h>

#include "../common/config.h"
#include "../store/store.h"
#include "outbound.h"

struct bufferevent;
struct event;

/* ---- DNS (dns.c): c-ares driven by the libevent loop ------------------ */

struct ob_dns;

struct ob_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};
struct ob_addr_list {
	struct ob_addr a[OB_ADDRS_PER_HOST];
	size_t n;
};

/* status is an ARES_* code; on ARES_SUCCESS mx/list is valid for the call. */
typedef void (*ob_dns_mx_cb)(void *arg, int status, enum ob_mx_status mxst,
			     const struct ob_mx_list *list);
typedef void (*ob_dns_addr_cb)(void *arg, int status,
			       const struct ob_addr_list *list);

struct ob_dns *ob_dns_new(struct event_base *base, const char *servers,
			  char *err, size_t errlen);
/* Cancels every query: their callbacks run with ARES_EDESTRUCTION and must
 * not touch anything but their own arg. */
void ob_dns_free(struct ob_dns **dp);
void ob_dns_mx(struct ob_dns *d, const char *domain, ob_dns_mx_cb cb, void *arg);
void ob_dns_addrs(struct ob_dns *d, const char *host, int port,
		  ob_dns_addr_cb cb, void *arg);
/* True for a lookup status that means "this name does not exist". */
bool ob_dns_status_permanent(int status);

/* ---- TLS client contexts (tlsc.c) ---------------------------------------- */

/* TLS 1.2+, system trust store (plus extra_ca when non-empty). */
SSL_CTX *ob_tls_client_ctx(const char *extra_ca, char *err, size_t errlen);

/* ---- the smarthost in force (smarthost.c) -------------------------------- */

/* Where remote mail goes and the login for it. The runner holds the one in
 * force and re-reads it at every queue run; each job takes a copy when it
 * is made, so a change in the panel never mixes two smarthosts' host and
 * login in one session (the old host never sees the new password). */
struct ob_smarthost {
	char host[CONFIG_VALUE_MAX]; /* host:port; "" = deliver by MX */
	char user[ADDR_MAX + 1];
	char password[PASSWORD_MAX + 1];
	bool from_config; /* [smtp] smarthost in the config file: never re-read */
	bool bad_settings; /* stored values unusable: ignored, deliver by MX */
};

enum ob_smarthost_load {
	OB_SH_LOADED,     /* *out is what is in force now */
	OB_SH_UNREADABLE, /* the store did not answer: keep the old one */
};

/* The smarthost in force: [smtp] smarthost (with its user and password)
 * when the config file has one, else the panel's settings (smarthost.host,
 * .user, .password). Stored values too long for the config's buffers are
 * ignored (bad_settings), never cut. Three indexed SELECTs at most. */
enum ob_smarthost_load ob_smarthost_load(const struct config *cfg,
					 struct store *st,
					 struct ob_smarthost *out);
/* True when a and b send mail the same way (host, user and password). */
bool ob_smarthost_same(const struct ob_smarthost *a,
		       const struct ob_smarthost *b);

/* ---- jobs ---------------------------------------------------------------- */

enum ob_rcpt_state { OB_RCPT_PENDING, OB_RCPT_DONE, OB_RCPT_DEFER, OB_RCPT_FAIL };

struct ob_rcpt {
	int64_t queue_id;
	char addr[ADDR_MAX + 1];
	char wire[ADDR_MAX + 1]; /* addr as RCPT TO names it (A-label domain) */
	int attempts;
	enum ob_rcpt_state state;
	bool in_txn;   /* sent a RCPT in the current transaction */
	bool accepted; /* RCPT got 2xx in the current transaction */
	char status[16];                  /* RFC 3463 code for a DSN */
	char reply[OB_REPLY_TEXT_MAX + 8]; /* "550 5.1.1 ..." or our reason */
	char mta[HOSTNAME_MAX + 1];       /* who answered, "" for us */
};

struct ob_msg {
	int64_t body_id;
	int64_t size;
	int64_t created;
	char sender[ADDR_MAX + 1];
	struct ob_rcpt *rcpts;
	size_t n_rcpts, cap_rcpts;
	struct ob_scan scan;
	int limit_idx;   /* ob_limits_sender(sender), -1 untracked */
	bool utf8_addrs; /* an address needs SMTPUTF8 */
	char *dkim;      /* "DKIM-Signature: ..." to send first, or NULL */
	size_t dkim_len;
};

enum ob_conn_state {
	OB_C_IDLE = 0,
	OB_C_CONNECT,
	OB_C_GREETING,
	OB_C_EHLO,
	OB_C_HELO,
	OB_C_STARTTLS,
	OB_C_HANDSHAKE,
	OB_C_AUTH,
	OB_C_AUTH_USER,
	OB_C_AUTH_PASS,
	OB_C_MAIL,
	OB_C_RCPT,
	OB_C_DATA,
	OB_C_BODY,
	OB_C_DOT,
	OB_C_RSET,
	OB_C_QUIT,
	OB_C_DOT_EMPTY, /* "." after a 354 to a pipelined DATA with no recipient */
};

struct ob_runner;

struct ob_job {
	struct ob_runner *runner;
	struct ob_job *next; /* runner's list */
	uint64_t id;         /* for log lines */
	char dest[ADDR_DOMAIN_MAX + 1]; /* domain, or "" for the smarthost */
	bool smarthost;
	struct ob_smarthost sh; /* the runner's at job_new (smarthost.c) */
	struct ob_msg *msgs;
	size_t n_msgs, cap_msgs;

	/* route (route.c) */
	struct ob_mx_list mx;
	size_t mx_idx;
	struct ob_addr_list addrs;
	size_t addr_idx;
	bool plain_retry; /* TLS failed on this address: once more without */
	char host[HOSTNAME_MAX + 1]; /* the host being talked to */
	char last_error[OB_REPLY_TEXT_MAX + 64];
	bool last_error_permanent;

	/* connection (client.c) */
	struct bufferevent *bev;
	struct ob_reply_parser rp;
	enum ob_conn_state cstate;
	bool tls;            /* TLS is up */
	bool tls_verified;
	bool ext_pipelining, ext_starttls, ext_8bitmime, ext_smtputf8;
	bool ext_auth_plain, ext_auth_login;
	bool ext_size_kw;  /* SIZE advertised: the SIZE= parameter may be used */
	int64_t ext_size; /* its limit; 0 = none given */
	bool esmtp;
	size_t cur_msg;
	size_t rcpt_sent, rcpt_replied; /* in the current transaction */
	bool mail_ok;
	bool data_sent; /* DATA went pipelined with MAIL and RCPT (RFC 2920) */
	bool dot_pending; /* msgs[dot_msg]'s dot is unanswered (pipelined) */
	size_t dot_msg;
	int n_accepted;
	bool in_txn; /* MAIL was sent on this connection for cur_msg */
	struct store_body_reader *body;
	struct ob_stuffer stuffer;
	struct buf out; /* one chunk of stuffed DATA */
	bool body_started; /* the first chunk of this message was read */
	int msgs_this_conn;
	/* Commands (and the greeting, and each dot) whose reply has not come
	 * yet: a reply beyond them is a server out of step, whose later
	 * replies would be matched to the wrong commands (a message's text
	 * sent into another recipient's transaction). */
	unsigned replies_due;
	bool finished;
};

/* route.c: start a job (DNS, then connections) and move between hosts. */
void ob_job_start(struct ob_job *j);
/* client.c -> route.c: this connection is over. ok: the server spoke
 * (every message got its answers); else why names the failure and the
 * next address is tried. */
void ob_route_conn_done(struct ob_job *j, bool ok, bool tls_failed,
			const char *why);
/* client.c: talk SMTP over a new connection to a (host j->host). */
void ob_client_connect(struct ob_job *j, const struct ob_addr *a);
/* client.c: free the connection state, if any. */
void ob_client_close(struct ob_job *j);
/* runner.c: the job is done; apply outcomes, free it. Called once. */
void ob_job_finish(struct ob_job *j);

/* Runner facts the job needs (runner.c). */
struct event_base *ob_runner_base(struct ob_runner *r);
struct ob_dns *ob_runner_dns(struct ob_runner *r);
const struct config *ob_runner_cfg(struct ob_runner *r);
struct store *ob_runner_store(struct ob_runner *r);
SSL_CTX *ob_runner_tls(struct ob_runner *r, bool smarthost);

/* runner.c: a recipient got 2xx to the final dot: its row goes in the
 * next batch delete (within milliseconds, and before the job ends). */
void ob_runner_delivered(struct ob_runner *r, const struct ob_msg *m,
			 int64_t queue_id);

/* ---- per-account sending limit (limit.c) ------------------------------- */

/*
 * The compromised-password brake: counts each local account's rows queued
 * for remote delivery in the last hour (rows in the queue + the account's
 * record of rows that left it) and suspends an account past [queue]
 * account_hourly_limit: disabled in the store, its rows held, an audit
 * entry, a log line and a notice in the admin's mailbox. When the admin
 * enables the account again its held rows are released.
 */
struct ob_limits;
struct store_sendlimit_note;
struct ob_limits *ob_limits_new(struct store *st, const struct config *cfg,
				char *err, size_t errlen);
void ob_limits_free(struct ob_limits **lp);
/* The tracked account sending as sender (an index), or -1: not a local
 * account nor an address that delivers to one, or the limit is off. For
 * an alias (or catch-all) sender the index stands for the accounts it
 * delivers to: each function below applies to all of them. */
int ob_limits_sender(struct ob_limits *l, const char *sender);
bool ob_limits_suspended(const struct ob_limits *l, int idx);
/* A row of idx not counted before is about to be sent: count it at the
 * next ob_limits_check. A row of a suspended account: hold it there. */
void ob_limits_seen(struct ob_limits *l, int idx, bool new_row);
/* Check what ob_limits_seen flagged; suspends (and holds) accounts over
 * the limit. Afterwards ob_limits_suspended says which rows must wait. */
void ob_limits_check(struct ob_limits *l, int64_t now);
/* A row of idx created at created left the queue (delivered or bounced).
 * pending: its delete is not committed yet (the writer thread has it);
 * until ob_limits_settled the row is in the queue and in the record, and
 * must be counted once. True when the row counts (ob_limits_settled due
 * if pending). */
bool ob_limits_left(struct ob_limits *l, int idx, int64_t created, int64_t now,
		    bool pending);
void ob_limits_settled(struct ob_limits *l, int idx);
/* A write of the records failed: read them back from the store. */
void ob_limits_resync(struct ob_limits *l);
/* The changed records as notes for store_queue_del_many_noted (valid
 * until the next call); ob_limits_notes_done says whether they were
 * written (if not, the records are read back from the store). */
size_t ob_limits_notes(struct ob_limits *l, int64_t now,
		       const struct store_sendlimit_note **notes_r);
void ob_limits_notes_done(struct ob_limits *l, bool written);
/* Once a second: release accounts the admin enabled again. */
void ob_limits_tick(struct ob_limits *l, int64_t now);

/* ---- IDNA (idna.c, libidn2) -------------------------------------------- */

/* The A-label form of domain (ASCII input copied as is); -1 for a name
 * that is not a valid IDN or does not fit. */
int ob_idna_domain(const char *domain, char *out, size_t outlen);
/* local@domain with the domain as A-labels. */
int ob_idna_addr(const char *addr, char *out, size_t outlen);

/* ---- the store writer thread (writer.c) ------------------------------- */

struct ob_writer;
typedef void (*ob_writer_done_fn)(void *arg, uint64_t ticket, bool ok);
/* Its own store handle on db_path; fn runs on base's loop for each
 * committed batch, in ticket order. */
struct ob_writer *ob_writer_new(const char *db_path, struct event_base *base,
				ob_writer_done_fn fn, void *arg, char *err,
				size_t errlen);
/* Copy a batch of deletes (and records) for the thread; its ticket, or 0
 * when out of memory (then nothing was taken). */
uint64_t ob_writer_submit(struct ob_writer *w, const int64_t *ids, size_t n,
			  const struct store_sendlimit_note *notes,
			  size_t n_notes);
/* The last ticket handed out (0: none yet). */
uint64_t ob_writer_last_ticket(const struct ob_writer *w);
/* Commits everything submitted, stops the thread, frees. */
void ob_writer_free(struct ob_writer **wp);

/* Set one recipient's outcome from a reply (2xx done, 4xx defer, 5xx fail). */
void ob_rcpt_set(struct ob_rcpt *r, enum ob_rcpt_state st, const char *status,
		 const char *reply, const char *mta);
/* The smarthost's host and port from "host:port" or "[v6]:port". */
int ob_smarthost_split(const char *spec, char *host, size_t hostlen,
		       int *port_r);

#endif
