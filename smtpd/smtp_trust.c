/*
 * smtp_trust.c - mailroom-smtpd's use of the trust library: the context and
 * settings per loop, and per connection the handles of the checks in
 * flight (see smtp_trust.h for which check runs when).
 *
 * SECURITY: the verdict's headers are built by trust/ from bounded copies;
 * arriving Authentication-Results fields that claim our hostname are
 * dropped before they reach the spool (RFC 8601 5). A store or DNS failure
 * never holds mail: greylisting lets the message through, a dead DNSBL
 * greets normally, SPF/DKIM/DMARC report temperror.
 */
/* copy_file_range: _GNU_SOURCE comes from the Makefile */
#include "smtp_trust.h"

#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "../rules/rules.h"
#include "../store/store.h"
#include "../store/trace.h"
#include "smtp_spool.h"

#define TRUST_RELOAD_SECONDS 60
#define TRUST_PRUNE_TICKS 60 /* greylist prune every hour */

static void load_settings(struct smtp_trust *t, bool log_ok)
{
	struct trust_settings fresh;
	const char *bad = NULL;
	if (trust_settings_load(t->st, &fresh, &bad) < 0)
		log_warn("event=trust-settings-bad key=%s (default used)",
			 bad ? bad : "?");
	bool changed = memcmp(&fresh, &t->set, sizeof(fresh)) != 0;
	t->set = fresh;
	if (changed || log_ok)
		log_info("event=trust-settings spf=%d dkim=%d dmarc=%d dnsbl=\"%s\" "
			 "greylist=\"%s\" greylist_delay=%d spamd=\"%s\" "
			 "spamd_timeout=%d",
			 t->set.spf, t->set.dkim, t->set.dmarc, t->set.dnsbl_zones,
			 t->set.greylist_domains, t->set.greylist_delay, t->set.spamd,
			 t->set.spamd_timeout);
}

static void reload_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_trust *t = arg;
	load_settings(t, false);
	if (++t->ticks % TRUST_PRUNE_TICKS == 0 && t->set.greylist_domains[0]) {
		int64_t n = store_greylist_prune(t->st, time(NULL));
		if (n < 0)
			log_warn("event=greylist-prune-failed result=%s",
				 store_result_text((int)n));
	}
}

void smtp_trust_init(struct smtp_trust *t, struct event_base *base,
		     struct store *st, const struct config *cfg)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->st = st;
	t->hostname = cfg->hostname;
	trust_settings_defaults(&t->set);
	if (getrandom(&t->draw, sizeof(t->draw), GRND_NONBLOCK) != sizeof(t->draw))
		t->draw = (uint64_t)time(NULL);
	t->draw |= 1; /* xorshift state must not be 0 */
	char err[256];
	t->ctx = trust_new(base, cfg->dns_servers, err, sizeof(err));
	if (t->ctx == NULL)
		log_error("event=trust-unavailable error=\"%s\" (SPF, DKIM, DMARC, "
			  "DNSBL and greylisting are off)", err);
	load_settings(t, true);
	if (t->ctx != NULL) {
		/* DMARC's organizational domains: the Public Suffix List when
		 * the system has it (Debian package publicsuffix) */
		struct trust_psl *psl = trust_psl_load(TRUST_PSL_PATH, err, sizeof(err));
		if (psl != NULL)
			log_info("event=trust-psl rules=%zu path=%s",
				 trust_psl_rules(psl), TRUST_PSL_PATH);
		else
			log_info("event=trust-psl-builtin reason=\"%s\" (short built-in "
				 "suffix list used)", err);
		trust_set_psl(t->ctx, psl);
		t->dkim_worker = trust_dkim_worker_start(base, err, sizeof(err));
		if (t->dkim_worker == NULL)
			log_warn("event=dkim-worker-unavailable error=\"%s\" (DKIM "
				 "signatures are verified on the event loop)", err);
	}
	char path[CONFIG_PATH_MAX];
	if (t->ctx != NULL &&
	    (config_db_path(cfg, path, sizeof(path)) < 0 ||
	     smtp_trace_start(&t->trace, base, path, 0, err, sizeof(err)) < 0))
		log_error("event=trace-unavailable error=\"%s\" (no message trace "
			  "rows)", err);
	t->reload = event_new(base, -1, EV_PERSIST, reload_cb, t);
	if (t->reload != NULL) {
		struct timeval tv = {TRUST_RELOAD_SECONDS, 0};
		event_add(t->reload, &tv);
	}
}

void smtp_trust_reload(struct smtp_trust *t)
{
	load_settings(t, true);
}

void smtp_trust_free(struct smtp_trust *t)
{
	if (t->reload != NULL)
		event_free(t->reload);
	t->reload = NULL;
	if (t->dkim_worker != NULL) {
		uint64_t jobs = trust_dkim_worker_jobs(t->dkim_worker);
		trust_dkim_worker_stop(&t->dkim_worker); /* before the context goes */
		log_info("event=dkim-worker-stopped jobs=%llu", (unsigned long long)jobs);
	}
	/* SPF checks still running for greylisted rows are answered now
	 * (cancelled): their rows go out without SPF, before the trace stops */
	t->closing = true;
	trust_free(&t->ctx);
	smtp_trace_stop(&t->trace);
}

void smtp_trust_conn_init(struct smtp_trust_conn *tc, struct smtp_trust *t,
			  const char *id, const char *ip)
{
	memset(tc, 0, sizeof(*tc));
	tc->t = t;
	tc->id = id;
	tc->ip = ip;
}

void smtp_trust_conn_free(struct smtp_trust_conn *tc)
{
	if (tc->t == NULL)
		return;
	trust_dnsbl_cancel(&tc->dnsbl);
	smtp_trust_reset(tc);
	buf_free(&tc->rcpts);
	buf_free(&tc->grey);
}

/* ---- the message trace (smtp_trace.h, store/trace.h) --------------------- */

/*
 * The SPF check's callback argument. While the transaction lives it points
 * to the connection. A transaction whose recipients were all greylisted
 * usually ends (451, then QUIT) before an uncached SPF lookup does; then
 * its trace row waits here with the check, which goes on without the
 * connection, and is queued when SPF answers, so the row shows why the
 * sender might be worth the wait.
 */
struct smtp_spf_wait {
	struct smtp_trust_conn *tc; /* NULL once detached */
	struct smtp_trust *t;
	struct store_trace *row;    /* detached: the greylisted row */
};

static void trace_spf(struct store_trace *r, const struct trust_spf_outcome *o)
{
	r->spf[0] = '\0';
	str_cat_cut(r->spf, sizeof(r->spf), trust_spf_result_name(o->result),
		    o->helo_identity ? " helo=" : " mailfrom=", o->domain, NULL);
}


#define TRACE_GREY_MAX 1024

static void trace_fill(const struct smtp_trust_conn *tc, struct store_trace *r)
{
	memset(r, 0, sizeof(*r));
	r->at = time(NULL);
	str_copy_cut(r->session, sizeof(r->session), tc->id);
	str_copy_cut(r->client_ip, sizeof(r->client_ip), tc->ip);
}

/* The whole row is queued or dropped (counted by the queue): the trace
 * never holds mail. */
static void trace_emit(struct smtp_trust_conn *tc, const struct store_trace *r)
{
	smtp_trace_add(&tc->t->trace, r);
}

static void trace_dnsbl(struct smtp_trust_conn *tc,
			const struct trust_dnsbl_outcome *o)
{
	struct store_trace r;
	trace_fill(tc, &r);
	str_copy_cut(r.outcome, sizeof(r.outcome), STORE_TRACE_REFUSED);
	str_copy_cut(r.reply, sizeof(r.reply), tc->reply);
	snprintf(r.dnsbl, sizeof(r.dnsbl), "listed %.70s %.47s", o->zone, o->answer);
	snprintf(r.details, sizeof(r.details), "stage=connect");
	trace_emit(tc, &r);
}

/* "a,b,c": addresses while they fit, then ",..." once. */
static void trace_list_add(struct buf *b, const char *addr)
{
	size_t n = strlen(addr), room = b->max - 4; /* ",..." */
	if (b->len >= 4 && memcmp(b->data + b->len - 4, ",...", 4) == 0)
		return;
	if (b->len + (b->len ? 1 : 0) + n <= room) {
		if ((b->len && buf_append(b, ",", 1) < 0) || buf_append(b, addr, n) < 0)
			return;
	} else if (buf_append_str(b, b->len ? ",..." : "...") < 0) {
		return;
	}
}

static void trace_begin(struct smtp_trust_conn *tc, const char *helo,
			const char *sender)
{
	if (tc->rcpts.data == NULL &&
	    (buf_init(&tc->rcpts, STORE_TRACE_RCPTS_MAX - 1) < 0 ||
	     buf_init(&tc->grey, TRACE_GREY_MAX) < 0)) {
		buf_free(&tc->rcpts);
		buf_free(&tc->grey);
		return; /* no memory: this transaction goes untraced */
	}
	if (!tc->t->trace.started)
		return;
	tc->traced = true;
	str_copy_cut(tc->helo, sizeof(tc->helo), helo ? helo : "");
	str_copy_cut(tc->sender, sizeof(tc->sender), sender ? sender : "");
	buf_reset(&tc->rcpts);
	buf_reset(&tc->grey);
}

static void trace_envelope(const struct smtp_trust_conn *tc, struct store_trace *r)
{
	trace_fill(tc, r);
	str_copy_cut(r->helo, sizeof(r->helo), tc->helo);
	str_copy_cut(r->sender, sizeof(r->sender), tc->sender);
	if (tc->spf_done)
		trace_spf(r, &tc->spf_out);
}

static void trace_dkim(const struct trust_dkim_outcome *d, char *out, size_t cap)
{
	out[0] = '\0';
	if (d->n_sigs == 0)
		str_cat_cut(out, cap, "none", NULL);
	for (size_t i = 0; i < d->n_sigs; i++)
		str_cat_cut(out, cap, i ? ", " : "", trust_auth_result_name(d->sigs[i].result),
		     " d=", d->sigs[i].domain, NULL);
}

static const char *policy_name(enum trust_dmarc_policy p)
{
	return p == TRUST_DMARC_P_REJECT ? "reject"
	       : p == TRUST_DMARC_P_QUARANTINE ? "quarantine" : "none";
}

/* The verdict: a refused message's row is complete now; an accepted one
 * waits in tc->row for the store's answer. */
static void trace_verdict(struct smtp_trust_conn *tc, const struct trust_verdict *v)
{
	if (!tc->traced)
		return;
	free(tc->row);
	tc->row = malloc(sizeof(*tc->row));
	if (tc->row == NULL)
		return;
	struct store_trace *r = tc->row;
	trace_envelope(tc, r);
	str_copy_cut(r->rcpts, sizeof(r->rcpts), tc->rcpts.len ? tc->rcpts.data : "");
	if (v->dkim != NULL) {
		str_copy_cut(r->message_id, sizeof(r->message_id), v->dkim->message_id);
		if (tc->t->set.dkim)
			trace_dkim(v->dkim, r->dkim, sizeof(r->dkim));
	}
	if (v->dmarc != NULL)
		str_cat_cut(r->dmarc, sizeof(r->dmarc), trust_auth_result_name(v->dmarc->result),
		     " p=", policy_name(v->dmarc->policy), " from=", v->dmarc->domain,
		     NULL);
	r->spam_score = v->spam.score_tenths;
	/* a reject with a 4xx (the held message could not be written) is
	 * temporary: the client will try again */
	const char *outcome = v->action == TRUST_REJECT
				      ? (v->reply[0] == '4' ? STORE_TRACE_TEMPFAIL
							    : STORE_TRACE_REFUSED)
			      : v->quarantine ? STORE_TRACE_QUARANTINED
			      : v->is_spam ? STORE_TRACE_TAGGED : STORE_TRACE_ACCEPTED;
	str_copy_cut(r->outcome, sizeof(r->outcome), outcome);
	str_cat_cut(r->details, sizeof(r->details), "tests=",
	     v->spam.tests[0] ? v->spam.tests : "none", NULL);
	if (tc->grey.len > 0)
		str_cat_cut(r->details, sizeof(r->details), " greylisted=", tc->grey.data, NULL);
	if (v->spam.spamd != 0) /* trust.spamd: its score/required or why not */
		str_cat_cut(r->details, sizeof(r->details), " spamd=", v->spam.spamd_summary,
			    NULL);
	buf_reset(&tc->grey); /* in this row, not a row of their own */
	if (v->action == TRUST_REJECT) {
		str_copy_cut(r->reply, sizeof(r->reply), v->reply);
		trace_emit(tc, r);
		free(tc->row);
		tc->row = NULL;
	}
}

void smtp_trust_delivered(struct smtp_trust_conn *tc, const char *queue_id,
			  int result, const char *reject)
{
	struct store_trace *r = tc->row;
	if (r == NULL)
		return;
	/* the texts smtp_session.c answers with */
	if (reject != NULL && reject[0] != '\0') {
		r->reply[0] = '\0';
		str_cat_cut(r->reply, sizeof(r->reply), "550 5.7.1 ", reject, NULL);
		str_copy_cut(r->outcome, sizeof(r->outcome), STORE_TRACE_REFUSED);
	} else if (result == STORE_OK) {
		r->reply[0] = '\0';
		str_cat_cut(r->reply, sizeof(r->reply), "250 2.0.0 Ok: queued as ",
		     queue_id ? queue_id : "", NULL);
	} else {
		str_copy_cut(r->reply, sizeof(r->reply),
			   result == STORE_OVERQUOTA
				   ? "452 4.2.2 Mailbox full, try again later"
				   : "451 4.3.0 Temporary local problem, try again later");
		str_copy_cut(r->outcome, sizeof(r->outcome), STORE_TRACE_TEMPFAIL);
	}
	str_cat_cut(r->details, sizeof(r->details), r->details[0] ? " queue_id=" : "queue_id=",
	     queue_id ? queue_id : "", reject && reject[0] ? " refused_by=rules" : "",
	     NULL);
	trace_emit(tc, r);
	free(tc->row);
	tc->row = NULL;
}

/* The transaction ends: a verdict row that never got the store's answer
 * (the headers could not be added: the session said 451), or recipients
 * greylisted in a transaction that never reached a verdict. */
static void trace_end(struct smtp_trust_conn *tc)
{
	if (tc->row != NULL) {
		struct store_trace *r = tc->row;
		snprintf(r->reply, sizeof(r->reply),
			 "451 4.3.0 Temporary local problem, try again later");
		str_copy_cut(r->outcome, sizeof(r->outcome), STORE_TRACE_TEMPFAIL);
		trace_emit(tc, r);
		free(tc->row);
		tc->row = NULL;
	} else if (tc->traced && tc->grey.len > 0) {
		struct store_trace *r = malloc(sizeof(*r));
		if (r != NULL) {
			trace_envelope(tc, r);
			str_copy_cut(r->rcpts, sizeof(r->rcpts), tc->grey.data);
			str_copy_cut(r->outcome, sizeof(r->outcome), STORE_TRACE_GREYLISTED);
			str_copy_cut(r->reply, sizeof(r->reply), tc->reply);
			snprintf(r->details, sizeof(r->details), "stage=rcpt%s%s",
				 tc->rcpts.len ? " accepted=" : "",
				 tc->rcpts.len ? tc->rcpts.data : "");
			if (tc->spf != NULL && tc->spf_wait != NULL) {
				/* SPF still running: the row goes out with
				 * its answer (on_spf) */
				tc->spf_wait->tc = NULL;
				tc->spf_wait->row = r;
				tc->spf_wait = NULL;
				tc->spf = NULL;
				tc->spf_started = false;
			} else {
				trace_emit(tc, r);
				free(r);
			}
		}
	}
	tc->traced = false;
	buf_reset(&tc->grey);
}

/* ---- connect: DNSBL ---------------------------------------------------- */

static void on_dnsbl(void *arg, const struct trust_dnsbl_outcome *o)
{
	struct smtp_trust_conn *tc = arg;
	tc->dnsbl = NULL; /* freed by trust/ once this returns */
	const char *reply = NULL;
	if (o->listed) {
		log_warn("session=%s ip=%s event=dnsbl-reject zone=%s answer=%s",
			 tc->id, tc->ip, o->zone, o->answer);
		snprintf(tc->reply, sizeof(tc->reply),
			 "554 5.7.1 Service unavailable; client [%s] blocked using %s",
			 tc->ip, o->zone);
		reply = tc->reply;
		trace_dnsbl(tc, o);
	} else if (o->errors > 0) {
		log_info("session=%s ip=%s event=dnsbl-errors zones=%d", tc->id,
			 tc->ip, o->errors);
	}
	tc->dnsbl_cb(tc->arg, reply);
}

bool smtp_trust_dnsbl_start(struct smtp_trust_conn *tc, smtp_trust_dnsbl_fn cb,
			    void *arg)
{
	struct smtp_trust *t = tc->t;
	if (t == NULL || t->ctx == NULL || t->set.dnsbl_zones[0] == '\0')
		return false;
	tc->dnsbl_cb = cb;
	tc->arg = arg;
	/* The callback may run before this returns (bad input): then the
	 * caller's answer has happened already, which is still "started". */
	tc->dnsbl = trust_dnsbl_check(t->ctx, tc->ip, t->set.dnsbl_zones,
				      on_dnsbl, tc);
	return true;
}

/* ---- MAIL: SPF --------------------------------------------------------- */

static void finish(struct smtp_trust_conn *tc);

static void on_spf(void *arg, const struct trust_spf_outcome *o)
{
	struct smtp_spf_wait *w = arg;
	struct smtp_trust_conn *tc = w->tc;
	if (tc == NULL) {
		if (!w->t->closing)
			trace_spf(w->row, o);
		smtp_trace_add(&w->t->trace, w->row);
		free(w->row);
		free(w);
		return;
	}
	free(w);
	tc->spf_wait = NULL;
	tc->spf = NULL;
	tc->spf_out = *o;
	tc->spf_done = true;
	if (tc->finish_waiting) {
		tc->finish_waiting = false;
		finish(tc);
	}
}

void smtp_trust_mail(struct smtp_trust_conn *tc, const char *helo,
		     const char *sender)
{
	struct smtp_trust *t = tc->t;
	smtp_trust_reset(tc);
	if (t == NULL || t->ctx == NULL)
		return;
	trace_begin(tc, helo, sender);
	if (!t->set.spf)
		return;
	struct smtp_spf_wait *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return; /* no SPF for this transaction (logged nowhere: rare) */
	w->tc = tc;
	w->t = t;
	tc->spf_wait = w;
	tc->spf_started = true;
	struct trust_spf *h = trust_spf_check(t->ctx, tc->ip, helo, sender,
					      on_spf, w);
	if (!tc->spf_done)
		tc->spf = h;
}

/* ---- RCPT: greylisting ------------------------------------------------- */

static uint32_t fnv(const char *s);

static struct smtp_grey_known *grey_slot(struct smtp_trust *t, const char *net)
{
	return &t->grey_known[fnv(net) % SMTP_GREY_KNOWN_SLOTS];
}

/*
 * Every store_greylist_check is a durable write on this (the loop) thread;
 * the store already passes every triple of a network that passed one, so
 * such networks are remembered here for an hour and their mail does not
 * wait for a commit (smtp-source 2000 x 10 KB over 20 persistent sessions
 * with greylisting on: 811 msg/s before this cache, 3,517 with it). New
 * triples from unknown networks still write on this thread.
 */
static const char *greylist(struct smtp_trust_conn *tc, const char *sender,
			    const char *rcpt)
{
	struct smtp_trust *t = tc->t;
	if (t == NULL || t->set.greylist_domains[0] == '\0')
		return NULL;
	const char *at = strrchr(rcpt, '@');
	if (at == NULL || !trust_domain_in_list(t->set.greylist_domains, at + 1))
		return NULL;
	char net[64];
	if (trust_greylist_net(tc->ip, net, sizeof(net)) < 0)
		return NULL;
	int64_t now = time(NULL);
	struct smtp_grey_known *k = grey_slot(t, net);
	if (k->until > now && strcmp(k->net, net) == 0)
		return NULL;
	int64_t retry = 0;
	int r = store_greylist_check(t->st, net, sender, rcpt, now,
				     t->set.greylist_delay, &retry);
	if (r == 1) {
		snprintf(k->net, sizeof(k->net), "%s", net);
		k->until = now + SMTP_GREY_KNOWN_SECONDS;
		return NULL;
	}
	if (r < 0) {
		log_warn("session=%s event=greylist-failed result=%s (passed)",
			 tc->id, store_result_text(r));
		return NULL;
	}
	log_info("session=%s ip=%s event=greylisted net=%s to=<%s> retry=%lld",
		 tc->id, tc->ip, net, rcpt, (long long)retry);
	snprintf(tc->reply, sizeof(tc->reply),
		 "451 4.7.1 Greylisted, please try again in %lld seconds",
		 (long long)retry);
	return tc->reply;
}

const char *smtp_trust_rcpt(struct smtp_trust_conn *tc, const char *sender,
			    const char *rcpt)
{
	const char *no = greylist(tc, sender, rcpt);
	if (tc->traced)
		trace_list_add(no ? &tc->grey : &tc->rcpts, rcpt);
	return no;
}

/* ---- DATA and its end -------------------------------------------------- */

static uint32_t fnv(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Store errors are not kept: asked again next time. */
static bool is_local(void *arg, const char *domain)
{
	struct smtp_trust *t = arg;
	int64_t now = time(NULL);
	struct smtp_local_answer *a = &t->local[fnv(domain) % SMTP_LOCAL_SLOTS];
	if (a->until > now && strcmp(a->domain, domain) == 0)
		return a->local;
	int r = store_domain_exists(t->st, domain);
	if (r >= 0 && strlen(domain) < sizeof(a->domain)) {
		snprintf(a->domain, sizeof(a->domain), "%s", domain);
		a->local = r == 1;
		a->until = now + TRUST_RELOAD_SECONDS;
	}
	return r == 1;
}

static int flush(struct smtp_trust_conn *tc)
{
	size_t n = tc->wlen;
	tc->wlen = 0;
	return n > 0 ? tc->sink(tc->sink_ctx, tc->wbuf, n) : 0;
}

/* Append to the hold/gather buffer, growing it (by doubling) up to
 * SMTP_TRUST_HOLD_MAX; -1 when that would pass the cap or memory is out. */
static int wbuf_add(struct smtp_trust_conn *tc, const char *p, size_t n)
{
	if (n > SMTP_TRUST_HOLD_MAX - tc->wlen)
		return -1;
	if (tc->wlen + n > tc->wcap) {
		size_t cap = tc->wcap ? tc->wcap : SMTP_TRUST_HOLD_FIRST;
		while (cap < tc->wlen + n)
			cap *= 2;
		if (cap > SMTP_TRUST_HOLD_MAX)
			cap = SMTP_TRUST_HOLD_MAX;
		char *nb = realloc(tc->wbuf, cap);
		if (nb == NULL)
			return -1;
		tc->wbuf = nb;
		tc->wcap = cap;
	}
	memcpy(tc->wbuf + tc->wlen, p, n);
	tc->wlen += n;
	return 0;
}

static void wbuf_free(struct smtp_trust_conn *tc)
{
	free(tc->wbuf);
	tc->wbuf = NULL;
	tc->wlen = tc->wcap = 0;
}

/* The filter's sink: the whole message held while it fits, then small
 * pieces gathered and big ones passed on. */
static int gather(void *ctx, const char *p, size_t n)
{
	struct smtp_trust_conn *tc = ctx;
	if (tc->holding) {
		if (wbuf_add(tc, p, n) == 0)
			return 0;
		tc->holding = false; /* too big to hold: stream from here */
	}
	if (tc->wlen + n > SMTP_TRUST_WBUF_SIZE && flush(tc) < 0)
		return -1;
	if (n >= SMTP_TRUST_WBUF_SIZE)
		return tc->sink(tc->sink_ctx, p, n);
	return wbuf_add(tc, p, n) == 0 ? 0 : tc->sink(tc->sink_ctx, p, n);
}

/*
 * trust.spamd set: spamd is asked too (trust_message_spamd), with a
 * Received field of this hop in front of the message so its relay checks
 * see the client's address and HELO (the spool's own Received field was
 * written before the message reached us).
 */
static void spamd_ask(struct smtp_trust_conn *tc)
{
	char helo[128], date[64], field[512];
	size_t o = 0;
	for (const char *p = tc->helo; *p && o + 1 < sizeof(helo); p++) {
		unsigned char c = (unsigned char)*p;
		helo[o++] = c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\'
				    ? (char)c : '?';
	}
	helo[o] = '\0';
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		date[0] = '\0';
	snprintf(field, sizeof(field),
		 "Received: from %s ([%s])\r\n\tby %s with ESMTP; %s\r\n",
		 helo[0] ? helo : "unknown", tc->ip, tc->t->hostname, date);
	trust_message_spamd(tc->msg, tc->t->base,
			    field);
}

int smtp_trust_message_begin(struct smtp_trust_conn *tc, bool authenticated,
			     trust_sink_fn sink, void *sink_ctx)
{
	struct smtp_trust *t = tc->t;
	if (t == NULL || t->ctx == NULL)
		return -1;
	/* pct= sampling needs no secrecy: xorshift64, seeded at start */
	t->draw ^= t->draw << 13;
	t->draw ^= t->draw >> 7;
	t->draw ^= t->draw << 17;
	uint32_t draw = (uint32_t)(t->draw >> 32);
	struct trust_message_params p = {
		.authserv_id = t->hostname,
		.settings = &t->set,
		.spf = NULL,
		.authenticated = authenticated,
		.is_local = is_local,
		.is_local_arg = t,
		.sample = draw % 100,
		.dkim_worker = t->dkim_worker,
	};
	tc->msg = trust_message_new(t->ctx, &p);
	if (tc->msg == NULL)
		return -1;
	if (t->set.spamd[0] != '\0') {
		if (t->spamd_inflight < SMTP_TRUST_SPAMD_MAX) {
			spamd_ask(tc);
			tc->spamd_asked = true;
			t->spamd_inflight++;
		} else if (time(NULL) != t->spamd_busy_logged) {
			t->spamd_busy_logged = time(NULL);
			log_warn("session=%s event=spamd-busy inflight=%u (this message is "
				 "checked without spamd)", tc->id, t->spamd_inflight);
		}
	}
	tc->sink = sink;
	tc->sink_ctx = sink_ctx;
	wbuf_free(tc);
	if (trust_arfilter_init(&tc->af, t->hostname, gather, tc) < 0) {
		trust_message_free(&tc->msg);
		return -1;
	}
	tc->holding = true;
	tc->af_live = true;
	return 0;
}

bool smtp_trust_message_live(const struct smtp_trust_conn *tc)
{
	return tc->msg != NULL;
}

int smtp_trust_filter_begin(struct smtp_trust_conn *tc, const char *authserv_id,
			    trust_sink_fn sink, void *sink_ctx)
{
	tc->sink = sink;
	tc->sink_ctx = sink_ctx;
	wbuf_free(tc);
	if (trust_arfilter_init(&tc->af, authserv_id, gather, tc) < 0)
		return -1;
	tc->holding = false; /* no verdict to wait for: stream */
	tc->af_live = true;
	return 0;
}

bool smtp_trust_filter_live(const struct smtp_trust_conn *tc)
{
	return tc->msg == NULL && tc->af_live;
}

int smtp_trust_filter_end(struct smtp_trust_conn *tc)
{
	return trust_arfilter_end(&tc->af) < 0 || flush(tc) < 0 ? -1 : 0;
}

int smtp_trust_message_write(struct smtp_trust_conn *tc, const char *p, size_t n)
{
	if (tc->msg != NULL)
		trust_message_feed(tc->msg, p, n);
	return trust_arfilter_feed(&tc->af, p, n);
}

/*
 * The message was held whole: an accepted one goes to the spool now, the
 * verdict's fields first (right below the trace block written at DATA, as
 * smtp_trust_prepend would put them), so the caller gets a verdict with no
 * headers left to add; a refused one is never written. A subject tag
 * rewrites the header section: that stays with smtp_trust_prepend.
 */
static void on_verdict(void *arg, const struct trust_verdict *v)
{
	struct smtp_trust_conn *tc = arg;
	struct trust_verdict held;
	if (v->spam.spamd < 0) /* trust.spamd: accepted on our own checks */
		log_warn("session=%s event=spamd-unavailable reason=\"%s\" "
			 "spamd_ms=%d (Mailroom's own checks only)",
			 tc->id, v->spam.spamd_reason, v->spam.spamd_ms);
	if (tc->holding) {
		tc->holding = false;
		held = *v;
		if (v->action != TRUST_ACCEPT) {
			tc->wlen = 0;
		} else if (((v->subject_tag != NULL ||
			     tc->sink(tc->sink_ctx, v->headers.data, v->headers.len) == 0) &&
			    flush(tc) == 0)) {
			if (v->subject_tag == NULL)
				held.headers.len = 0; /* written */
		} else {
			log_warn("session=%s event=spool-write-failed (verdict)", tc->id);
			held.action = TRUST_REJECT;
			snprintf(held.reply, sizeof(held.reply),
				 "451 4.3.0 Temporary local problem, try again later");
		}
		v = &held;
	}
	trace_verdict(tc, v);
	tc->verdict_cb(tc->arg, v);
}

static void finish(struct smtp_trust_conn *tc)
{
	if (tc->spf_done)
		trust_message_set_spf(tc->msg, &tc->spf_out);
	trust_message_finish(tc->msg, on_verdict, tc);
}

int smtp_trust_message_end(struct smtp_trust_conn *tc,
			   smtp_trust_verdict_fn cb, void *arg)
{
	tc->verdict_cb = cb;
	tc->arg = arg;
	if (tc->af_live && (trust_arfilter_end(&tc->af) < 0 ||
			    (!tc->holding && flush(tc) < 0))) {
		log_warn("session=%s event=spool-write-failed (end of DATA)", tc->id);
		return -1;
	}
	if (tc->spf_started && !tc->spf_done) {
		tc->finish_waiting = true; /* on_spf finishes */
		return 0;
	}
	finish(tc);
	return 0;
}

void smtp_trust_reset(struct smtp_trust_conn *tc)
{
	trace_end(tc);
	trust_spf_cancel(&tc->spf); /* on_spf will not run: its argument goes */
	free(tc->spf_wait);
	tc->spf_wait = NULL;
	trust_message_free(&tc->msg);
	if (tc->spamd_asked) {
		tc->spamd_asked = false;
		tc->t->spamd_inflight--;
	}
	if (tc->af_live)
		trust_arfilter_free(&tc->af);
	tc->af_live = false;
	wbuf_free(tc);
	tc->holding = false;
	tc->spf_started = false;
	tc->spf_done = false;
	tc->finish_waiting = false;
}

/* ---- the stored message: verdict headers in front ----------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_spool(int from, int to, int64_t start, int64_t size)
{
	loff_t off = start;
	while (off < size) {
		ssize_t c = copy_file_range(from, &off, to, NULL,
					    (size_t)(size - off), 0);
		if (c > 0)
			continue;
		if (c < 0 && errno == EINTR)
			continue;
		if (c == 0)
			return -1; /* the spool is shorter than its size */
		break; /* not supported here: copy by hand */
	}
	char buf[16384];
	while (off < size) {
		size_t want = size - off < (int64_t)sizeof(buf) ? (size_t)(size - off)
								 : sizeof(buf);
		ssize_t r = pread(from, buf, want, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || write_all(to, buf, (size_t)r) < 0)
			return -1;
		off += r;
	}
	return 0;
}

/* Octets of the leading "Return-Path:" line and the "Received:" field
 * after it (with its continuation lines) among the n read. */
static size_t trace_block_len(const char *p, size_t n)
{
	size_t pos = 0;
	bool in_received = false;
	while (pos < n) {
		const char *eol = memmem(p + pos, n - pos, "\r\n", 2);
		if (eol == NULL)
			break;
		size_t len = (size_t)(eol + 2 - (p + pos));
		const char *l = p + pos;
		bool take = (pos == 0 && len > 13 && memcmp(l, "Return-Path: ", 13) == 0) ||
			    (!in_received && len > 10 && memcmp(l, "Received: ", 10) == 0) ||
			    (in_received && (l[0] == '\t' || l[0] == ' '));
		if (!take)
			break;
		if (l[0] == 'R' && l[2] == 'c')
			in_received = true;
		pos += len;
	}
	return pos;
}

/*
 * The admin's spam tag in front of the Subject (rules_subject_tag_apply):
 * the message's header block is read back (at most the verdict's header
 * cap plus a little; bigger ones were refused) and written tagged; *skip_r
 * is how many spool octets it replaced. 0, or -1 (errno).
 */
static int write_tagged_header(int from, int to, int64_t start, int64_t size,
			       const char *tag, int64_t *skip_r, int64_t *wrote_r)
{
	*skip_r = 0;
	*wrote_r = 0;
	size_t cap = TRUST_DKIM_HEADERS_MAX + 8192;
	if ((int64_t)cap > size - start)
		cap = (size_t)(size - start);
	char *hdr = malloc(cap ? cap : 1);
	if (hdr == NULL)
		return -1;
	ssize_t got = pread(from, hdr, cap, start);
	int rc = 0;
	size_t hb = got > 0 ? rules_header_block_len(hdr, (size_t)got) : 0;
	struct buf out;
	if (hb > 0 && buf_init(&out, 2 * cap + 1024) == 0) {
		if (rules_subject_tag_apply(hdr, hb, tag, &out) == 0) {
			rc = write_all(to, out.data, out.len);
			*skip_r = (int64_t)hb;
			*wrote_r = (int64_t)out.len;
		}
		buf_free(&out);
	}
	free(hdr);
	return rc;
}

int smtp_trust_prepend(struct smtp_spool_pool *pool, int old_fd, int64_t size,
		       const char *headers, size_t hlen, const char *subject_tag,
		       int64_t *size_r)
{
	/* Our trace block (Return-Path, then our folded Received field) stays
	 * on top, the verdict's fields go right below it: where a milter's
	 * Authentication-Results lands under Postfix too. */
	char first[4096];
	ssize_t got = pread(old_fd, first, sizeof(first), 0);
	size_t keep = trace_block_len(first, got > 0 ? (size_t)got : 0);
	if ((int64_t)keep > size)
		keep = 0;
	int fd = smtp_spool_take(pool);
	if (fd < 0)
		return -1;
	int64_t skip = 0, tagged = 0;
	if (write_all(fd, first, (size_t)keep) < 0 ||
	    write_all(fd, headers, hlen) < 0 ||
	    (subject_tag != NULL && subject_tag[0] != '\0' &&
	     write_tagged_header(old_fd, fd, (int64_t)keep, size, subject_tag,
				 &skip, &tagged) < 0) ||
	    copy_spool(old_fd, fd, (int64_t)keep + skip, size) < 0) {
		int e = errno;
		smtp_spool_give(pool, fd, INT64_MAX);
		errno = e;
		return -1;
	}
	*size_r = size + (int64_t)hlen + tagged - skip;
	return fd;
}
