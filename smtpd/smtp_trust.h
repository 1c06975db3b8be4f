/*
 * smtp_trust.h - the inbound trust checks (trust/trust.h) as mailroom-smtpd
 * uses them: one context per event loop, and per connection the DNSBL check
 * before the greeting, SPF started at MAIL and running while RCPT and DATA
 * arrive, greylisting at RCPT, the message streamed through the DKIM/DMARC
 * verdict and the forged Authentication-Results filter during DATA, and the
 * verdict at the end of DATA. A message of up to SMTP_TRUST_HOLD_MAX is
 * held in memory until its verdict and then written once; every verdict
 * (and a DNSBL refusal, greylisted recipients) becomes a message trace row
 * (smtp_trace.h) with the reply the client got.
 *
 * Which port and session a check applies to (MX only, never after AUTH) is
 * decided by the caller (smtp_server.c); this file only runs the checks and
 * keeps their handles, so a reset or a disconnect cancels every pending one
 * (their callbacks then never run). Loop thread only.
 */
#ifndef MAILROOM_SMTP_TRUST_H
#define MAILROOM_SMTP_TRUST_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../store/trace.h"
#include "../trust/trust.h"
#include "smtp_trace.h"

struct event_base;
struct event;
struct store;
struct smtp_spool_pool;

/* Networks that passed greylisting lately: their mail skips the store's
 * write (the store keeps them known for STORE_GREYLIST_KEEP_SECONDS, far
 * longer than this). Direct-mapped by a hash of the network. */
#define SMTP_GREY_KNOWN_SLOTS 512
#define SMTP_GREY_KNOWN_SECONDS 3600
struct smtp_grey_known {
	char net[64];
	int64_t until;
};

/* "Is this From domain ours?" asked for every message: answers kept for
 * the settings period (domains change rarely; a minute late is fine). */
#define SMTP_LOCAL_SLOTS 64
struct smtp_local_answer {
	char domain[TRUST_DOMAIN_MAX + 1];
	bool local;
	int64_t until;
};

#define SMTP_TRUST_HOLD_MAX (64 * 1024)
#define SMTP_TRUST_HOLD_FIRST (16 * 1024) /* most mail fits at once */
#define SMTP_TRUST_WBUF_SIZE 8192

/* One per event loop. */
struct smtp_trust {
	struct smtp_local_answer local[SMTP_LOCAL_SLOTS];
	struct smtp_grey_known grey_known[SMTP_GREY_KNOWN_SLOTS];
	struct trust_ctx *ctx; /* NULL: DNS unusable, every check is skipped */
	struct event_base *base; /* the loop (spamd connections) */
	struct trust_settings set;
	struct store *st;      /* the loop thread's handle (settings, greylist) */
	const char *hostname;  /* authserv-id; points into the live config */
	struct event *reload;  /* settings once a minute, greylist prune hourly */
	uint64_t draw;         /* xorshift state for DMARC pct= (seeded once) */
	unsigned ticks;
	struct smtp_trace trace; /* message trace rows to the store */
	/* DKIM arithmetic off the loop; NULL: verified on the loop */
	struct trust_dkim_worker *dkim_worker;
	bool closing; /* smtp_trust_free: SPF answers now are cancellations */
	/* messages being checked by spamd now (each holds a copy of up to
	 * 512 KiB for it): at most SMTP_TRUST_SPAMD_MAX, so a slow spamd and
	 * many sessions cannot grow smtpd without bound */
	unsigned spamd_inflight;
	time_t spamd_busy_logged;
};

#define SMTP_TRUST_SPAMD_MAX 64

/* Never fails hard: without DNS the checks are off (logged). */
void smtp_trust_init(struct smtp_trust *t, struct event_base *base,
		     struct store *st, const struct config *cfg);
/* Read the trust.* settings now (SIGHUP) instead of within a minute. */
void smtp_trust_reload(struct smtp_trust *t);
/* After every connection is gone. */
void smtp_trust_free(struct smtp_trust *t);

/* Answers of the asynchronous steps to the connection. */
typedef void (*smtp_trust_dnsbl_fn)(void *arg, const char *reply_or_null);
typedef void (*smtp_trust_verdict_fn)(void *arg, const struct trust_verdict *v);

/* One per connection (zeroed, then smtp_trust_conn_init). */
struct smtp_trust_conn {
	struct smtp_trust *t;
	const char *id, *ip; /* the connection's, outlive this */
	struct trust_dnsbl *dnsbl;
	smtp_trust_dnsbl_fn dnsbl_cb;
	void *arg;
	/* the transaction */
	struct trust_spf *spf;
	struct smtp_spf_wait *spf_wait; /* the SPF check's callback argument */
	bool spamd_asked; /* counted in t->spamd_inflight until the reset */
	bool spf_started, spf_done;
	struct trust_spf_outcome spf_out;
	struct trust_message *msg;
	struct trust_arfilter af;
	bool af_live;
	/* What the filter passes on is held here while the whole message
	 * fits SMTP_TRUST_HOLD_MAX: at the verdict, the verdict's header
	 * fields and then the message go to the spool behind the trace block
	 * in one or two writes (no copy into a second spool file), and a
	 * refused message is never written. A bigger message streams out,
	 * gathered into writes of SMTP_TRUST_WBUF_SIZE. */
	trust_sink_fn sink;
	void *sink_ctx;
	char *wbuf;        /* SMTP_TRUST_HOLD_FIRST, grown to HOLD_MAX */
	size_t wlen, wcap;
	bool holding;
	bool finish_waiting; /* end of DATA came before the SPF answer */
	smtp_trust_verdict_fn verdict_cb;
	char reply[384];
	/* the message trace of the transaction: who offered it to whom, and
	 * the row made at the verdict, waiting for the reply the store's
	 * answer gives (smtp_trust_delivered) */
	bool traced;          /* MAIL seen with the checks on */
	char helo[STORE_TRACE_HELO_MAX];
	char sender[STORE_TRACE_ADDR_MAX];
	struct buf rcpts;     /* "a@x,b@y": recipients that passed RCPT checks */
	struct buf grey;      /* greylisted recipients */
	struct store_trace *row; /* verdict given, reply not yet known */
};

void smtp_trust_conn_init(struct smtp_trust_conn *tc, struct smtp_trust *t,
			  const char *id, const char *ip);
/* Cancel everything pending (disconnect). */
void smtp_trust_conn_free(struct smtp_trust_conn *tc);

/* Connect: true when a DNSBL lookup started (cb answers: NULL = greet,
 * else the 554 line to close with); false when no list is set. */
bool smtp_trust_dnsbl_start(struct smtp_trust_conn *tc, smtp_trust_dnsbl_fn cb,
			    void *arg);
/* MAIL accepted: start SPF for sender ("" for <>). */
void smtp_trust_mail(struct smtp_trust_conn *tc, const char *helo,
		     const char *sender);
/* RCPT for a local recipient: NULL, or the 451 greylisting reply. */
const char *smtp_trust_rcpt(struct smtp_trust_conn *tc, const char *sender,
			    const char *rcpt);
/* DATA starts (after the trace headers): message bytes then go through
 * smtp_trust_message_write to sink. 0, or -1 (checks skipped). */
int smtp_trust_message_begin(struct smtp_trust_conn *tc, bool authenticated,
			     trust_sink_fn sink, void *sink_ctx);
bool smtp_trust_message_live(const struct smtp_trust_conn *tc);
/*
 * DATA starts where the checks do not run (authenticated submission, or
 * the checks could not start): only the filter, so an Authentication-
 * Results field claiming our hostname, or an X-Spam-* field, from a
 * logged-in user's client never reaches a mailbox or the rules, which
 * trust both as our own checks' word (RFC 8601 5 asks this of every
 * arriving message). Message bytes then go through
 * smtp_trust_message_write to sink; smtp_trust_filter_end at the end of
 * DATA. 0, or -1 (out of memory: written unfiltered).
 */
int smtp_trust_filter_begin(struct smtp_trust_conn *tc, const char *authserv_id,
			    trust_sink_fn sink, void *sink_ctx);
bool smtp_trust_filter_live(const struct smtp_trust_conn *tc);
/* End of DATA on the filter alone: 0, or -1 when the last bytes could
 * not reach the spool. */
int smtp_trust_filter_end(struct smtp_trust_conn *tc);
int smtp_trust_message_write(struct smtp_trust_conn *tc, const char *p, size_t n);
/* End of DATA: cb runs once with the verdict (maybe before this returns).
 * -1 (cb never runs) when the last bytes could not reach the spool. */
int smtp_trust_message_end(struct smtp_trust_conn *tc,
			   smtp_trust_verdict_fn cb, void *arg);
/* The transaction is over (RSET, MAIL, delivered, refused). */
void smtp_trust_reset(struct smtp_trust_conn *tc);
/*
 * The store answered a message that passed the verdict (call before the
 * session answers and resets): its trace row gets the reply the session
 * is about to send - 250 with queue_id, the rules' 550 when reject is
 * not "", else 452/451 by result - and is queued. No-op for messages that
 * had no verdict.
 */
void smtp_trust_delivered(struct smtp_trust_conn *tc, const char *queue_id,
			  int result, const char *reject);

/*
 * The stored message is the spool's first size octets with headers put
 * below its trace block (our Return-Path and Received). Spool
 * files are read from offset 0, so this takes a fresh pooled file, writes
 * the headers and copies the spool behind them in the kernel
 * (copy_file_range; read/write as a fallback), with bounded memory. A
 * subject_tag (spam, trust.spam_subject_tag) goes in front of the Subject.
 * The new fd with its size in *size_r, or -1 (errno) with the old one
 * untouched.
 */
int smtp_trust_prepend(struct smtp_spool_pool *pool, int old_fd, int64_t size,
		       const char *headers, size_t hlen, const char *subject_tag,
		       int64_t *size_r);

#endif
