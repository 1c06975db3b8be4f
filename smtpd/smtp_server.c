/*
 * smtp_server.c - the libevent host around the protocol core.
 *
 * One thread runs the loop: accept, read, feed the core, write replies,
 * timeouts, signals. Two worker threads (smtp_worker.h) do the store work
 * that may block: the group commit and the AUTH password check. RCPT
 * expansion is a short indexed read on the loop thread's own store handle
 * (WAL readers never wait for the writer).
 *
 * SECURITY: every byte from a client goes through smtp_session_feed().
 * STARTTLS: when the core accepts it, whatever the client pipelined after
 * the command is discarded twice over - the core ignores the rest of the
 * chunk and this file drains the socket buffer - before the TLS filter is
 * put on the connection (CVE-2011-0411 class). Memory per connection is
 * bounded: input is consumed as it arrives (DATA goes to a spool file in
 * <data_dir>/spool, mode 0700, unnamed O_TMPFILE files so a crash leaves
 * nothing behind; reused through smtp_spool.h), reading stops while a reply backlog passes
 * SMTP_OUTPUT_HIGH_WATER or while the session waits for a worker.
 *
 * Lifetime: a connection whose socket dies while a worker holds its job
 * becomes "dead": the socket is closed at once, the struct lives until the
 * job comes back (the job points into the session's transaction).
 */
#include "smtp_server.h"
#include "../rules/rules.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/listen.h"
#include "../common/log.h"
#include "../common/tls.h"
#include "../store/auth_pool.h"
#include "smtp_ckpt.h"
#include "smtp_limits.h"
#include "smtp_peers.h"
#include "smtp_session.h"
#include "smtp_sizelimit.h"
#include "smtp_spool.h"
#include "smtp_trust.h"
#include "smtp_tuning.h"
#include "smtp_worker.h"

#define MAX_LISTENERS (3 * LISTEN_ADDRS_MAX)

struct smtp_server;

struct listener_ctx {
	struct smtp_server *srv;
	enum smtp_port_kind kind;
	struct evconnlistener *lev;
	char text[64];
};

enum timeout_mode { TMO_NONE = 0, TMO_COMMAND, TMO_DATA, TMO_TLS };

struct conn {
	struct smtp_server *srv;
	struct conn *prev, *next;
	struct bufferevent *bev;
	struct smtp_session *sess;
	struct smtp_peer *peer;
	enum smtp_port_kind kind;
	struct event *timer;   /* greeting delay, AUTH delay, close flush */
	struct smtp_job *job;  /* a message with the writer */
	struct auth_job *auth; /* a password check with the pool */
	/* a failed AUTH's answer, held back for its delay (timer_cb) */
	bool auth_held;
	int auth_rc;
	char auth_user[ADDR_MAX + 1]; /* the name being checked */
	int spool_fd;
	int64_t spool_used;
	enum timeout_mode tmo;
	bool handshaking;
	bool tls_pending;
	bool closing;
	bool dead;
	bool direct;       /* plain TCP: replies sent by conn_flush() */
	char id[24];
	char ip[64];
	/* inbound trust checks (MX port only) */
	struct smtp_trust_conn trust;
	bool dnsbl_wait;  /* the 220 waits for the DNSBL answer */
	bool greet_due;   /* the greeting delay is over meanwhile */
	bool in_host_call; /* an answer arriving now must not re-enter conn_run */
	int64_t t_end_us;  /* end of DATA seen, for the latency counters */
	const struct smtp_envelope *pending_env; /* DATA done, verdict pending */
};

struct smtp_server {
	struct config *cfg;
	struct event_base *base;
	struct smtp_tuning tun;
	SSL_CTX *tls;
	struct store *st;
	struct rules_cache *rules; /* loop thread: RCPT-time rejects */
	unsigned char srs_key[RULES_SRS_KEY_MAX]; /* bounces to SRS addresses */
	size_t srs_keylen;
	struct smtp_worker writer;
	struct auth_pool *auths; /* password checks (store/auth_pool.c) */
	struct smtp_ckpt ckpt; /* WAL checkpoints off the writer's commits */
	struct smtp_ckpt_watch watch[2]; /* loop and writer handles (the
					    password checks only read) */
	struct smtp_peers peers;
	struct smtp_trust trust;
	struct listener_ctx listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct conn *conns;
	size_t n_conns;
	bool stopping;
	struct event *sig_term, *sig_int, *sig_hup, *grace, *relisten;
	struct event *size_poll; /* re-reads the panel's size limit */
	int64_t size_limit;      /* in force for new sessions */
	enum smtp_sizelimit_source size_src;
	char size_bad[SMTP_SIZELIMIT_TEXT_MAX]; /* last bad setting logged */
	struct smtp_spool_pool spool;
	char db_path[CONFIG_PATH_MAX];
	uint32_t id_base;
	uint64_t id_counter;
	uint64_t sessions_total;
	/* where a message's time goes between its final dot and the 250 */
	uint64_t verdict_us, commit_us, lat_n, commit_max_us;
	struct smtp_session_config scfg[3];
};

static void conn_run(struct conn *c);
static void conn_after(struct conn *c);
static void conn_free(struct conn *c);
static void server_check_done(struct smtp_server *srv);

/* ---- small helpers ----------------------------------------------------- */

static struct timeval ms_tv(long ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		log_error("event=out-of-memory");
		abort();
	}
	return p;
}

static size_t output_pending(const struct conn *c)
{
	if (c->bev == NULL)
		return 0;
	size_t n = evbuffer_get_length(bufferevent_get_output(c->bev));
	struct bufferevent *u = bufferevent_get_underlying(c->bev);
	if (u != NULL)
		n += evbuffer_get_length(bufferevent_get_output(u));
	return n;
}

/* Replies not yet taken by the socket (or by the TLS layer): the
 * backpressure signal. The TLS layer's own buffer is left out on purpose:
 * write_cb only fires for the top buffer draining. */
static size_t output_backlog(const struct conn *c)
{
	return c->bev ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

/* ---- host callbacks for the core ------------------------------------------ */

static void host_write(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	if (c->bev != NULL && !c->dead)
		bufferevent_write(c->bev, p, n);
}

static void host_close(void *ctx)
{
	struct conn *c = ctx;
	c->closing = true;
}

static void host_starttls(void *ctx)
{
	struct conn *c = ctx;
	c->tls_pending = true;
}

/*
 * A bounce to an SRS address we made for a forwarded copy: the original
 * sender, as one remote recipient. STORE_NOTFOUND when it is not ours or
 * its hash or age is wrong.
 */
static int srs_expand(struct conn *c, const char *address,
		      struct store_expansion *out)
{
	struct smtp_server *srv = c->srv;
	char orig[ADDR_MAX + 1];
	const char *why = NULL;
	if (srv->srs_keylen == 0 &&
	    rules_srs_key(srv->st, srv->srs_key, &srv->srs_keylen) != STORE_OK) {
		srv->srs_keylen = 0;
		return STORE_NOTFOUND;
	}
	if (rules_srs_reverse(srv->srs_key, srv->srs_keylen, address, time(NULL),
			      orig, sizeof(orig), &why) != 0) {
		log_info("session=%s event=srs-refused to=<%s> why=\"%s\"", c->id,
			 address, why);
		return STORE_NOTFOUND;
	}
	memset(out, 0, sizeof(*out));
	out->remote = calloc(1, sizeof(char *));
	if (out->remote == NULL || (out->remote[0] = strdup(orig)) == NULL) {
		free(out->remote);
		out->remote = NULL;
		return STORE_ERROR;
	}
	out->n_remote = 1;
	return STORE_OK;
}

static int host_expand(void *ctx, const char *address, int64_t size,
		       struct store_expansion *out)
{
	struct conn *c = ctx;
	int r = store_expand(c->srv->st, address, size, out);
	if (r == STORE_NOTFOUND && rules_srs_is_srs(address))
		r = srs_expand(c, address, out);
	if (r != STORE_OK && r != STORE_NOTFOUND && r != STORE_INVALID)
		log_warn("session=%s event=expand-failed result=%s (%s)", c->id,
			 store_result_text(r), store_errmsg(c->srv->st));
	return r;
}

/* RCPT: a reject the recipients' rules decide on the envelope alone. */
static const char *host_rules_rcpt(void *ctx, const char *sender,
				   const char *rcpt,
				   const struct store_expansion *e)
{
	struct conn *c = ctx;
	struct smtp_server *srv = c->srv;
	if (srv->rules == NULL && (srv->rules = rules_cache_new(256)) == NULL)
		return NULL;
	for (size_t i = 0; i < e->n_local; i++) {
		const struct rules_set *set = NULL;
		if (rules_cache_get(srv->rules, srv->st, e->local_ids[i], &set) !=
		    STORE_OK)
			return NULL; /* decide at DATA */
		const char *text = rules_evaluate_rcpt(set, sender, rcpt);
		if (text != NULL)
			return text;
	}
	return NULL;
}

static void host_auth(void *ctx, const char *user, const char *password)
{
	struct conn *c = ctx;
	snprintf(c->auth_user, sizeof(c->auth_user), "%s", user);
	c->auth = auth_pool_submit(c->srv->auths, c, user, password);
	if (c->auth == NULL) { /* 454, try again; conn_run goes on after us */
		log_error("event=out-of-memory");
		smtp_session_auth_result(c->sess, STORE_ERROR, 0, user);
	}
}

static int host_spool_open(void *ctx)
{
	struct conn *c = ctx;
	if (c->spool_fd >= 0)
		smtp_spool_give(&c->srv->spool, c->spool_fd, INT64_MAX);
	c->spool_used = 0;
	c->spool_fd = smtp_spool_take(&c->srv->spool);
	if (c->spool_fd < 0) {
		log_error("session=%s event=spool-failed error=\"%s\"", c->id,
			  strerror(errno));
		return -1;
	}
	return 0;
}

static int host_spool_write(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	while (n > 0) {
		ssize_t w = write(c->spool_fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("session=%s event=spool-write-failed error=\"%s\"",
				  c->id, strerror(errno));
			return -1;
		}
		p += w;
		n -= (size_t)w;
		c->spool_used += w;
	}
	return 0;
}

static void host_spool_discard(void *ctx)
{
	struct conn *c = ctx;
	smtp_spool_give(&c->srv->spool, c->spool_fd, c->spool_used);
	c->spool_fd = -1;
}

static void submit_deliver(struct conn *c, const struct smtp_envelope *env,
			   int64_t size)
{
	struct smtp_job *job = xcalloc(1, sizeof(*job));
	job->owner = c;
	job->t_end_us = c->t_end_us;
	job->t_submit_us = mono_us();
	job->msg.fd = c->spool_fd;
	c->spool_fd = -1;
	job->msg.size = size;
	job->msg.sender = env->sender;
	job->msg.local_ids = env->local_ids;
	job->msg.n_local = env->n_local;
	job->msg.remote = env->remote;
	job->msg.n_remote = env->n_remote;
	c->job = job;
	smtp_worker_submit(&c->srv->writer, job);
}

/* ---- inbound trust checks (smtp_trust.h), MX port only ----------------------- */

static bool trust_applies(const struct conn *c, bool authenticated)
{
	return c->kind == SMTP_PORT_MX && !authenticated;
}

static void host_mail_from(void *ctx, const char *helo, const char *sender,
			   bool authenticated)
{
	struct conn *c = ctx;
	if (trust_applies(c, authenticated))
		smtp_trust_mail(&c->trust, helo, sender);
}

static const char *host_rcpt_check(void *ctx, const char *sender,
				   const char *rcpt, bool authenticated)
{
	struct conn *c = ctx;
	return trust_applies(c, authenticated)
		       ? smtp_trust_rcpt(&c->trust, sender, rcpt)
		       : NULL;
}

static int host_spool_write(void *ctx, const char *p, size_t n);

/* The checks on the MX port; everywhere else (and if they cannot start)
 * the filter of forged Authentication-Results / X-Spam-* fields alone. */
static int host_message_begin(void *ctx, bool authenticated)
{
	struct conn *c = ctx;
	if (trust_applies(c, authenticated) &&
	    smtp_trust_message_begin(&c->trust, authenticated, host_spool_write,
				     c) == 0)
		return 0;
	return smtp_trust_filter_begin(&c->trust, c->srv->cfg->hostname,
				       host_spool_write, c);
}

static int host_message_write(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	return smtp_trust_message_write(&c->trust, p, n);
}

static void host_txn_reset(void *ctx)
{
	struct conn *c = ctx;
	c->pending_env = NULL;
	smtp_trust_reset(&c->trust);
}

/* Refused by the verdict (or the headers could not be added): nothing is
 * stored, the session answers and reads on. */
static void trust_refuse(struct conn *c, const char *reply)
{
	/* reply may live in the verdict, which the transaction reset frees */
	char line[SMTP_REPLY_MAX];
	snprintf(line, sizeof(line), "%s", reply);
	smtp_spool_give(&c->srv->spool, c->spool_fd, c->spool_used);
	c->spool_fd = -1;
	smtp_session_deliver_refused(c->sess, line);
	if (!c->in_host_call)
		conn_run(c);
}

static void on_trust_verdict(void *arg, const struct trust_verdict *v)
{
	struct conn *c = arg;
	const struct smtp_envelope *env = c->pending_env;
	smtp_session_set_trust_log(c->sess, v->log);
	if (v->action == TRUST_REJECT) {
		trust_refuse(c, v->reply);
		return;
	}
	int64_t size = c->spool_used; /* the A-R filter may have dropped fields */
	if (v->headers.len > 0 || v->subject_tag != NULL) {
		int64_t stored = 0;
		int fd = smtp_trust_prepend(&c->srv->spool, c->spool_fd, size,
					    v->headers.data, v->headers.len,
					    v->subject_tag, &stored);
		if (fd < 0) {
			log_error("session=%s event=spool-write-failed error=\"%s\"",
				  c->id, strerror(errno));
			trust_refuse(c, "451 4.3.0 Temporary local problem, try again later");
			return;
		}
		smtp_spool_give(&c->srv->spool, c->spool_fd, size);
		c->spool_fd = fd;
		size = stored;
		c->spool_used = size;
	}
	submit_deliver(c, env, size); /* the session stays paused until 250 */
}

static void host_deliver(void *ctx, const struct smtp_envelope *env)
{
	struct conn *c = ctx;
	c->t_end_us = mono_us();
	if (smtp_trust_filter_live(&c->trust)) {
		if (smtp_trust_filter_end(&c->trust) == 0) {
			/* the filter may have dropped fields */
			submit_deliver(c, env, c->spool_used);
			return;
		}
		c->in_host_call = true;
		trust_refuse(c, "451 4.3.0 Temporary local problem, try again later");
		c->in_host_call = false;
		return;
	}
	if (!smtp_trust_message_live(&c->trust)) {
		submit_deliver(c, env, env->size);
		return;
	}
	c->pending_env = env;
	c->in_host_call = true;
	if (smtp_trust_message_end(&c->trust, on_trust_verdict, c) < 0)
		trust_refuse(c, "451 4.3.0 Temporary local problem, try again later");
	c->in_host_call = false;
}

/* The DNSBL answer: 554 and close when listed, else greet (now, or when
 * the greeting delay ends). */
static void on_dnsbl_answer(void *arg, const char *reply)
{
	struct conn *c = arg;
	c->dnsbl_wait = false;
	if (reply != NULL)
		smtp_session_reject(c->sess, reply);
	else if (c->greet_due)
		smtp_session_greet(c->sess);
	if (!c->in_host_call)
		conn_run(c);
}

static const struct smtp_host host_ops = {
	.write = host_write,
	.close = host_close,
	.starttls = host_starttls,
	.expand = host_expand,
	.rules_rcpt = host_rules_rcpt,
	.auth = host_auth,
	.spool_open = host_spool_open,
	.spool_write = host_spool_write,
	.spool_discard = host_spool_discard,
	.deliver = host_deliver,
	.mail_from = host_mail_from,
	.rcpt_check = host_rcpt_check,
	.message_begin = host_message_begin,
	.message_write = host_message_write,
	.txn_reset = host_txn_reset,
};

/* ---- worker answers --------------------------------------------------------- */

static void on_delivered(void *arg, struct smtp_job *job)
{
	struct smtp_server *srv = arg;
	struct conn *c = job->owner;
	c->job = NULL;
	uint64_t commit = (uint64_t)(mono_us() - job->t_submit_us);
	srv->verdict_us += (uint64_t)(job->t_submit_us - job->t_end_us);
	srv->commit_us += commit;
	srv->lat_n++;
	if (commit > srv->commit_max_us)
		srv->commit_max_us = commit;
	smtp_trust_delivered(&c->trust, c->pending_env ? c->pending_env->msgid : NULL,
			     job->result, job->reject); /* trace row: the reply */
	smtp_spool_give(&srv->spool, job->msg.fd, job->msg.size);
	job->msg.fd = -1;
	if (c->dead) {
		smtp_job_free(job);
		conn_free(c);
	} else {
		if (job->reject[0] != '\0')
			smtp_session_deliver_rejected(c->sess, job->reject);
		else
			smtp_session_deliver_result(c->sess, job->result);
		smtp_job_free(job);
		conn_run(c);
	}
	server_check_done(srv);
}

static void auth_answer(struct conn *c, int rc, int64_t account_id)
{
	c->auth_held = false;
	smtp_session_auth_result(c->sess, rc, account_id, c->auth_user);
	explicit_bzero(c->auth_user, sizeof(c->auth_user));
	conn_run(c);
}

/* The pool's answer (never for a connection that went away: conn_free
 * cancels). A failure is held back for the peer's growing delay. */
static void on_authed(void *owner, int rc, const struct store_account *acct)
{
	struct conn *c = owner;
	struct smtp_server *srv = c->srv;
	c->auth = NULL;
	long delay = 0;
	if (rc == STORE_AUTHFAIL && c->peer != NULL)
		delay = smtp_peers_auth_failed(c->peer, time(NULL),
					       srv->tun.auth_delay_ms,
					       srv->tun.auth_delay_max_ms);
	if (delay > 0) {
		struct timeval tv = ms_tv(delay);
		c->auth_held = true;
		c->auth_rc = rc;
		evtimer_add(c->timer, &tv); /* timer_cb answers */
		return;
	}
	auth_answer(c, rc, rc == STORE_OK ? acct->id : 0);
}

/* ---- TLS -------------------------------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

static int conn_start_tls(struct conn *c)
{
	/* Nothing the client sent before the handshake may survive. */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* From here on the TLS filter writes through the socket's buffer:
	 * libevent's own write event sends it. */
	c->direct = false;
	bufferevent_enable(c->bev, EV_WRITE);
	SSL *ssl = SSL_new(c->srv->tls);
	if (ssl == NULL)
		return -1;
	struct bufferevent *f = bufferevent_openssl_filter_new(
		c->srv->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING,
		BEV_OPT_CLOSE_ON_FREE);
	if (f == NULL) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(f, 1);
	c->bev = f;
	c->handshaking = true;
	c->tmo = TMO_NONE;
	bufferevent_setcb(f, read_cb, write_cb, event_cb, c);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	return 0;
}

/* ---- the connection ------------------------------------------------------------ */

static void conn_set_timeouts(struct conn *c)
{
	enum timeout_mode m = c->handshaking ? TMO_TLS
			      : smtp_session_in_data(c->sess) ? TMO_DATA
							      : TMO_COMMAND;
	if (m == c->tmo)
		return;
	c->tmo = m;
	const struct smtp_tuning *t = &c->srv->tun;
	struct timeval tv = ms_tv(m == TMO_TLS    ? t->tls_handshake_timeout_ms
				  : m == TMO_DATA ? t->data_timeout_ms
						  : t->command_timeout_ms);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
}

/* Feed what is buffered to the core while it can take it, then settle. */
static void conn_run(struct conn *c)
{
	if (c->dead || c->bev == NULL)
		return;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (!c->closing && !c->tls_pending && !c->handshaking &&
	       !smtp_session_paused(c->sess) &&
	       output_backlog(c) < SMTP_OUTPUT_HIGH_WATER) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		size_t used = smtp_session_feed(c->sess, v.iov_base, v.iov_len);
		evbuffer_drain(in, used);
		if (smtp_session_closing(c->sess))
			c->closing = true;
		if (used == 0)
			break;
	}
	conn_after(c);
}

/*
 * Plain TCP: send the replies queued by this turn's work now. Left to the
 * bufferevent, each reply armed the write event (epoll_ctl), waited for
 * the next epoll_wait to say "writable", was sent, and disarmed it again
 * (epoll_ctl): three more syscalls and a loop turn per reply. Whatever the
 * socket does not take (a client that does not read) goes the usual way:
 * the write event is armed until write_cb sees the buffer drained.
 */
static void conn_flush(struct conn *c)
{
	if (!c->direct || c->bev == NULL || c->dead)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	/* A bufferevent keeps its output's front frozen against draining
	 * from outside; its own write callback thaws it the same way. */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, bufferevent_getfd(c->bev));
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(c->bev, EV_WRITE); /* errors surface there too */
}

static void conn_after(struct conn *c)
{
	if (c->dead || c->bev == NULL)
		return;
	conn_flush(c);
	if (smtp_session_closing(c->sess))
		c->closing = true;
	if (c->tls_pending && !c->closing) {
		c->tls_pending = false;
		if (conn_start_tls(c) < 0) {
			log_error("session=%s event=tls-failed reason=setup", c->id);
			conn_free(c);
			return;
		}
	}
	if (c->closing) {
		bufferevent_disable(c->bev, EV_READ);
		if (output_pending(c) == 0) {
			conn_free(c);
		} else {
			/* write_cb frees once drained; the timer covers the
			 * TLS case where the bytes sit in the lower layer. */
			struct timeval tv = ms_tv(50);
			evtimer_add(c->timer, &tv);
		}
		return;
	}
	bool want_read = !smtp_session_paused(c->sess) &&
			 output_backlog(c) < SMTP_OUTPUT_HIGH_WATER;
	if (want_read)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
	conn_set_timeouts(c);
}

static void conn_destroy(struct conn *c)
{
	struct smtp_server *srv = c->srv;
	smtp_spool_give(&srv->spool, c->spool_fd, INT64_MAX);
	if (c->timer != NULL)
		event_free(c->timer);
	smtp_session_free(&c->sess);
	free(c);
	server_check_done(srv);
}

/* Close the socket now; free the rest unless a worker holds our job. */
static void conn_free(struct conn *c)
{
	struct smtp_server *srv = c->srv;
	if (!c->dead) {
		log_info("session=%s ip=%s event=disconnect", c->id, c->ip);
		c->dead = true;
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		c->bev = NULL;
		if (c->timer != NULL)
			evtimer_del(c->timer);
		if (c->peer != NULL)
			smtp_peers_release(&srv->peers, c->peer);
		c->peer = NULL;
		smtp_trust_conn_free(&c->trust); /* no callback runs after this */
		if (c->prev)
			c->prev->next = c->next;
		else
			srv->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		srv->n_conns--;
	}
	auth_pool_cancel(c->auth); /* nobody waits for its answer now */
	c->auth = NULL;
	c->auth_held = false;
	explicit_bzero(c->auth_user, sizeof(c->auth_user));
	if (c->job != NULL)
		return; /* the writer hands it back: on_delivered */
	conn_destroy(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (c->dead)
		return;
	if (c->closing) {
		if (output_pending(c) == 0) {
			conn_free(c);
		} else {
			struct timeval tv = ms_tv(50);
			evtimer_add(c->timer, &tv);
		}
		return;
	}
	if (c->auth_held) {
		auth_answer(c, c->auth_rc, 0); /* the delayed 535 */
		return;
	}
	if (c->dnsbl_wait) {
		c->greet_due = true; /* on_dnsbl_answer greets */
		return;
	}
	smtp_session_greet(c->sess);
	conn_run(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_run(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->direct) /* drained: conn_flush() sends the next replies */
		bufferevent_disable(bev, EV_WRITE);
	if (c->closing) {
		if (output_pending(c) == 0)
			conn_free(c);
		return;
	}
	conn_run(c); /* output drained: maybe read again */
}

static void log_tls_error(struct conn *c, struct bufferevent *bev)
{
	unsigned long e;
	char buf[256];
	bool any = false;
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_info("session=%s ip=%s event=tls-error error=\"%s\"", c->id,
			 c->ip, buf);
		any = true;
	}
	(void)any;
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		char desc[128];
		tls_describe(bufferevent_openssl_get_ssl(bev), desc, sizeof(desc));
		c->handshaking = false;
		smtp_session_tls_started(c->sess, desc);
		if (c->kind == SMTP_PORT_SMTPS)
			smtp_session_greet(c->sess);
		conn_run(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing || c->handshaking) {
			conn_free(c);
			return;
		}
		smtp_session_timeout(c->sess);
		conn_after(c);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (bufferevent_get_underlying(bev) != NULL ||
		    c->kind == SMTP_PORT_SMTPS)
			log_tls_error(c, bev);
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);
}

/* ---- accepting ---------------------------------------------------------------- */

static void refuse(evutil_socket_t fd, const char *line)
{
	ssize_t w = send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)w;
	evutil_closesocket(fd);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	(void)lev;
	(void)salen;
	struct listener_ctx *lc = arg;
	struct smtp_server *srv = lc->srv;
	char ip[64];
	sockaddr_ip_text(sa, ip, sizeof(ip));
	if (srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	if (lc->kind == SMTP_PORT_SMTPS && srv->tls == NULL) {
		evutil_closesocket(fd);
		return;
	}
	if ((long)srv->n_conns >= srv->tun.max_sessions) {
		log_warn("ip=%s event=too-many-sessions", ip);
		refuse(fd, "421 4.7.0 Too many sessions, try again later\r\n");
		return;
	}
	struct smtp_peer *peer = smtp_peers_get(&srv->peers, ip, time(NULL));
	bool limited = srv->tun.limit_loopback || !sockaddr_is_loopback(sa);
	if (peer == NULL ||
	    (limited && peer->sessions >= srv->tun.max_per_ip)) {
		log_warn("ip=%s event=per-ip-limit sessions=%d", ip,
			 peer ? peer->sessions : -1);
		if (lc->kind == SMTP_PORT_SMTPS)
			evutil_closesocket(fd);
		else
			refuse(fd, "421 4.7.0 Too many connections from your address\r\n");
		return;
	}

	/* Replies are small and each one is awaited: never hold one back for
	 * Nagle while the client's delayed ACK is pending. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct conn *c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->kind = lc->kind;
	c->spool_fd = -1;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	snprintf(c->id, sizeof(c->id), "%08x%06llx", srv->id_base,
		 (unsigned long long)(++srv->id_counter & 0xffffff));
	c->timer = evtimer_new(srv->base, timer_cb, c);
	if (lc->kind == SMTP_PORT_SMTPS) {
		SSL *ssl = SSL_new(srv->tls);
		c->bev = ssl ? bufferevent_openssl_socket_new(
				       srv->base, fd, ssl,
				       BUFFEREVENT_SSL_ACCEPTING,
				       BEV_OPT_CLOSE_ON_FREE)
			     : NULL;
		if (c->bev == NULL && ssl != NULL)
			SSL_free(ssl);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->handshaking = true;
	} else {
		c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL || c->timer == NULL) {
		log_error("ip=%s event=accept-failed", ip);
		if (c->bev == NULL)
			evutil_closesocket(fd);
		else
			bufferevent_free(c->bev);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	peer->sessions++;
	c->peer = peer;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;
	srv->sessions_total++;
	bufferevent_set_max_single_read(c->bev, SMTP_READ_CHUNK);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* Port 465 speaks TLS from the first byte: libevent writes for it. */
	c->direct = lc->kind != SMTP_PORT_SMTPS;
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->direct) /* a new socket bufferevent starts write-enabled */
		bufferevent_disable(c->bev, EV_WRITE);
	c->sess = smtp_session_new(&srv->scfg[lc->kind], &host_ops, c, c->id, ip);
	log_info("session=%s ip=%s event=connect port=%s", c->id, ip,
		 smtp_port_kind_name(lc->kind));
	smtp_trust_conn_init(&c->trust, &srv->trust, c->id, c->ip);
	if (lc->kind == SMTP_PORT_MX) {
		/* The blocklist answer and the greeting delay overlap. */
		c->dnsbl_wait = true;
		c->in_host_call = true;
		if (!smtp_trust_dnsbl_start(&c->trust, on_dnsbl_answer, c))
			c->dnsbl_wait = false;
		c->in_host_call = false;
	}
	if (lc->kind == SMTP_PORT_MX && srv->tun.greeting_delay_ms > 0) {
		struct timeval tv = ms_tv(srv->tun.greeting_delay_ms);
		evtimer_add(c->timer, &tv);
	} else if (lc->kind != SMTP_PORT_SMTPS) {
		if (c->dnsbl_wait)
			c->greet_due = true;
		else
			smtp_session_greet(c->sess);
	}
	conn_after(c);
}

static void relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_server *srv = arg;
	if (srv->stopping)
		return;
	for (size_t i = 0; i < srv->n_listeners; i++)
		if (srv->listeners[i].lev)
			evconnlistener_enable(srv->listeners[i].lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct listener_ctx *lc = arg;
	int e = EVUTIL_SOCKET_ERROR();
	log_error("listen=%s event=accept-error error=\"%s\"", lc->text,
		  evutil_socket_error_to_string(e));
	/* Out of descriptors: pause accepting for a moment, do not spin. */
	evconnlistener_disable(lev);
	struct timeval tv = ms_tv(200);
	evtimer_add(lc->srv->relisten, &tv);
}

/* ---- signals and shutdown ---------------------------------------------------------- */

static void server_check_done(struct smtp_server *srv)
{
	if (srv->stopping && srv->n_conns == 0 && srv->writer.in_flight == 0)
		event_base_loopexit(srv->base, NULL);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_server *srv = arg;
	log_warn("event=shutdown-grace-over sessions=%zu", srv->n_conns);
	event_base_loopexit(srv->base, NULL);
}

static void begin_shutdown(struct smtp_server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	log_info("event=stopping sessions=%zu", srv->n_conns);
	for (size_t i = 0; i < srv->n_listeners; i++) {
		if (srv->listeners[i].lev)
			evconnlistener_free(srv->listeners[i].lev);
		srv->listeners[i].lev = NULL;
	}
	struct conn *c = srv->conns;
	while (c != NULL) {
		struct conn *next = c->next;
		smtp_session_shutdown(c->sess);
		conn_after(c);
		c = next;
	}
	struct timeval tv = ms_tv(SMTP_SHUTDOWN_GRACE_MS);
	evtimer_add(srv->grace, &tv);
	server_check_done(srv);
}

static void reload_tls(struct smtp_server *srv)
{
	char err[512];
	SSL_CTX *ctx = tls_server_ctx_new(srv->cfg->tls_cert, srv->cfg->tls_key,
					  err, sizeof(err));
	if (ctx == NULL) {
		log_error("event=tls-reload-failed error=\"%s\"", err);
		return;
	}
	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls); /* live sessions hold their own reference */
	srv->tls = ctx;
	for (int k = 0; k < 3; k++)
		srv->scfg[k].tls_available = true;
	log_info("event=tls-reloaded cert=%s", srv->cfg->tls_cert);
}

/* SIGHUP: the keys that can change without new sockets or threads. */
static void reload_config(struct smtp_server *srv)
{
	struct config *fresh = malloc(sizeof(*fresh));
	char err[CONFIG_ERROR_MAX];
	if (fresh == NULL)
		return;
	config_defaults(fresh);
	if (config_load(fresh, srv->cfg->path, err, sizeof(err)) < 0) {
		log_error("event=reload-failed error=\"%s\" (old config kept)", err);
		free(fresh);
		return;
	}
	struct config *cur = srv->cfg;
	if (strcmp(fresh->smtp_listen, cur->smtp_listen) != 0 ||
	    strcmp(fresh->submission_listen, cur->submission_listen) != 0 ||
	    strcmp(fresh->smtps_listen, cur->smtps_listen) != 0 ||
	    strcmp(fresh->data_dir, cur->data_dir) != 0)
		log_warn("event=reload listen addresses and data_dir change only on restart");
	memcpy(cur->hostname, fresh->hostname, sizeof(cur->hostname));
	smtp_worker_set_hostname(&srv->writer, cur->hostname);
	memcpy(cur->tls_cert, fresh->tls_cert, sizeof(cur->tls_cert));
	memcpy(cur->tls_key, fresh->tls_key, sizeof(cur->tls_key));
	cur->message_size_limit = fresh->message_size_limit;
	cur->max_recipients = fresh->max_recipients;
	/* Timeouts and limits apply to what happens next (a live session's
	 * timeout changes at its next state change). */
	smtp_tuning_load(&srv->tun, fresh);
	/* the size limit: apply_size_limit(), the panel's setting may win */
	for (int k = 0; k < 3; k++)
		srv->scfg[k].max_recipients = cur->max_recipients;
	free(fresh);
	log_info("event=config-reloaded hostname=%s config_size_limit=%lld "
		 "max_recipients=%d", cur->hostname,
		 (long long)cur->message_size_limit, cur->max_recipients);
}

/*
 * The size limit for new sessions (SIZE in EHLO, the DATA/BDAT bound):
 * the web panel's store setting over the config's. Called at startup,
 * at SIGHUP and every SMTP_SIZELIMIT_POLL_MS; logs only changes.
 */
static void apply_size_limit(struct smtp_server *srv)
{
	char text[SMTP_SIZELIMIT_TEXT_MAX];
	int64_t limit;
	enum smtp_sizelimit_source src = smtp_sizelimit_effective(
		srv->st, srv->cfg->message_size_limit, &limit, text);
	if (src == SMTP_SIZELIMIT_UNREAD) {
		log_warn("event=size-limit-unread error=\"%s\" (kept %lld)",
			 store_errmsg(srv->st), (long long)srv->size_limit);
		return;
	}
	if (src == SMTP_SIZELIMIT_BAD &&
	    (srv->size_src != SMTP_SIZELIMIT_BAD ||
	     strcmp(text, srv->size_bad) != 0)) {
		char esc[LOG_ESCAPED_MAX];
		log_escape(esc, sizeof(esc), text, strlen(text));
		log_warn("event=bad-setting key=%s value=\"%s\" (the config's "
			 "%lld applies)", SMTP_SIZELIMIT_SETTING, esc,
			 (long long)limit);
	}
	snprintf(srv->size_bad, sizeof(srv->size_bad), "%s",
		 src == SMTP_SIZELIMIT_BAD ? text : "");
	if (limit != srv->size_limit || src != srv->size_src)
		log_info("event=size-limit size_limit=%lld from=%s",
			 (long long)limit,
			 src == SMTP_SIZELIMIT_STORE ? "settings" : "config");
	srv->size_limit = limit;
	srv->size_src = src;
	for (int k = 0; k < 3; k++)
		srv->scfg[k].size_limit = limit;
}

static void size_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct smtp_server *srv = arg;
	if (!srv->stopping)
		apply_size_limit(srv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct smtp_server *srv = arg;
	if (sig == SIGHUP) {
		reload_config(srv);
		apply_size_limit(srv);
		reload_tls(srv);
		smtp_trust_reload(&srv->trust);
	}
	else
		begin_shutdown(srv);
}

/* ---- startup ---------------------------------------------------------------------- */

static int open_listeners(struct smtp_server *srv, const char *spec,
			  enum smtp_port_kind kind, char *err, size_t errlen)
{
	struct listen_addr addrs[LISTEN_ADDRS_MAX];
	size_t n = 0;
	if (listen_parse(spec, addrs, LISTEN_ADDRS_MAX, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (kind == SMTP_PORT_SMTPS && srv->tls == NULL) {
			log_error("listen=%s event=smtps-disabled reason=no-certificate",
				  addrs[i].text);
			continue;
		}
		int fd = listen_open(&addrs[i], err, errlen);
		if (fd < 0)
			return -1;
		struct listener_ctx *lc = &srv->listeners[srv->n_listeners++];
		lc->srv = srv;
		lc->kind = kind;
		snprintf(lc->text, sizeof(lc->text), "%s", addrs[i].text);
		lc->lev = evconnlistener_new(srv->base, accept_cb, lc,
					     LEV_OPT_CLOSE_ON_FREE, 0, fd);
		if (lc->lev == NULL) {
			close(fd);
			snprintf(err, errlen, "%s: cannot listen", addrs[i].text);
			return -1;
		}
		evconnlistener_set_error_cb(lc->lev, accept_error_cb);
		log_info("listen=%s port=%s", addrs[i].text, smtp_port_kind_name(kind));
	}
	return 0;
}

/*
 * Started as root with [server] user set: bind first (ports below 1024),
 * then become that user before reading a byte from the network, and check
 * that root cannot be regained. The store and spool are opened after this,
 * as the user.
 */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;
	if (user[0] == '\0') {
		log_warn("event=running-as-root (set [server] user to drop privileges)");
		return 0;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "unknown user '%s' in [server] user", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, errlen, "still root after dropping to %s", user);
		return -1;
	}
	log_info("event=privileges-dropped user=%s uid=%ld", user, (long)pw->pw_uid);
	return 0;
}

static void server_free(struct smtp_server *srv)
{
	while (srv->conns != NULL) {
		struct conn *c = srv->conns;
		conn_free(c); /* unlinks */
	}
	smtp_worker_stop(&srv->writer);
	auth_pool_free(&srv->auths);
	smtp_trust_free(&srv->trust);
	for (size_t i = 0; i < srv->n_listeners; i++)
		if (srv->listeners[i].lev)
			evconnlistener_free(srv->listeners[i].lev);
	struct event *evs[] = {srv->sig_term, srv->sig_int, srv->sig_hup,
			       srv->grace, srv->relisten, srv->size_poll};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	smtp_peers_free(&srv->peers);
	smtp_spool_close_all(&srv->spool);
	rules_cache_free(&srv->rules);
	store_close(&srv->st);
	smtp_ckpt_stop(&srv->ckpt); /* after every handle it watches */
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	if (srv->base)
		event_base_free(srv->base);
}

int smtp_server_run(struct config *cfg, char *err, size_t errlen)
{
	static struct smtp_server srv_storage; /* big (peer table): not on the stack */
	struct smtp_server *srv = &srv_storage;
	memset(srv, 0, sizeof(*srv));
	srv->cfg = cfg;
	smtp_tuning_load(&srv->tun, cfg);
	smtp_peers_init(&srv->peers);
	if (getrandom(&srv->id_base, sizeof(srv->id_base), 0) < 0)
		srv->id_base = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	signal(SIGPIPE, SIG_IGN);

	int rc = 1;
	if (evthread_use_pthreads() < 0) {
		snprintf(err, errlen, "libevent without thread support");
		return 1;
	}
	/* Changelist: a session's read/write interest flips several times per
	 * message (reply queued, written, read paused for the commit); epoll
	 * then gets only the net change once per loop turn instead of an
	 * epoll_ctl per flip. No socket of ours is dup()ed, the flag's one
	 * caveat. */
	struct event_config *ecfg = event_config_new();
	if (ecfg != NULL) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		srv->base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (srv->base == NULL)
		srv->base = event_base_new();
	if (srv->base == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		return 1;
	}
	char tlserr[512];
	srv->tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, tlserr,
				      sizeof(tlserr));
	if (srv->tls == NULL)
		log_error("event=tls-unavailable error=\"%s\" (STARTTLS, AUTH and "
			  "port 465 are off)", tlserr);
	for (int k = 0; k < 3; k++) {
		srv->scfg[k].hostname = cfg->hostname;
		srv->scfg[k].size_limit = cfg->message_size_limit;
		srv->scfg[k].max_recipients = cfg->max_recipients;
		srv->scfg[k].kind = (enum smtp_port_kind)k;
		srv->scfg[k].tls_available = srv->tls != NULL;
	}
	if (config_db_path(cfg, srv->db_path, sizeof(srv->db_path)) < 0) {
		snprintf(err, errlen, "data_dir too long");
		goto out;
	}
	if (open_listeners(srv, cfg->smtp_listen, SMTP_PORT_MX, err, errlen) < 0 ||
	    open_listeners(srv, cfg->submission_listen, SMTP_PORT_SUBMISSION, err,
			   errlen) < 0 ||
	    open_listeners(srv, cfg->smtps_listen, SMTP_PORT_SMTPS, err, errlen) < 0)
		goto out;
	if (drop_privileges(cfg->user, err, errlen) < 0)
		goto out;
	if (smtp_spool_init(&srv->spool, cfg->data_dir, err, errlen) < 0)
		goto out;
	if (store_open(srv->db_path, &srv->st, err, errlen) != STORE_OK)
		goto out;
	smtp_trust_init(&srv->trust, srv->base, srv->st, cfg);
	if (smtp_worker_start(&srv->writer, srv->base, srv->db_path,
			      on_delivered, srv, cfg->hostname, err, errlen) < 0)
		goto out;
	srv->auths = auth_pool_new(srv->base, srv->db_path,
				   auth_pool_default_threads(), on_authed, err,
				   errlen);
	if (srv->auths == NULL)
		goto out;
	char cerr[512];
	if (smtp_ckpt_start(&srv->ckpt, srv->db_path, cerr, sizeof(cerr)) < 0)
		log_warn("event=checkpoint-thread-failed error=\"%s\" (SQLite "
			 "checkpoints inside commits)", cerr);
	/* The watch hooks run on each handle's own thread, at its commits;
	 * the workers are idle here (no job before the loop runs). */
	smtp_ckpt_watch(&srv->ckpt, &srv->watch[0], srv->st);
	smtp_ckpt_watch(&srv->ckpt, &srv->watch[1], srv->writer.st);
	/* Every waiting session's 250 hangs on the writer getting the lock. */
	store_busy_retry_fast(srv->writer.st);
	srv->sig_term = evsignal_new(srv->base, SIGTERM, signal_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, signal_cb, srv);
	srv->sig_hup = evsignal_new(srv->base, SIGHUP, signal_cb, srv);
	srv->grace = evtimer_new(srv->base, grace_cb, srv);
	srv->relisten = evtimer_new(srv->base, relisten_cb, srv);
	srv->size_poll = event_new(srv->base, -1, EV_PERSIST, size_poll_cb, srv);
	if (!srv->sig_term || !srv->sig_int || !srv->sig_hup || !srv->grace ||
	    !srv->relisten || !srv->size_poll) {
		snprintf(err, errlen, "cannot set up signals");
		goto out;
	}
	evsignal_add(srv->sig_term, NULL);
	evsignal_add(srv->sig_int, NULL);
	evsignal_add(srv->sig_hup, NULL);
	srv->size_limit = cfg->message_size_limit;
	srv->size_src = SMTP_SIZELIMIT_CONFIG;
	apply_size_limit(srv);
	struct timeval poll_tv = ms_tv(SMTP_SIZELIMIT_POLL_MS);
	evtimer_add(srv->size_poll, &poll_tv);
	log_info("event=started hostname=%s size_limit=%lld", cfg->hostname,
		 (long long)srv->size_limit);

	event_base_dispatch(srv->base);
	uint64_t n = srv->lat_n ? srv->lat_n : 1;
	log_info("event=stopped sessions=%llu messages=%llu commits=%llu "
		 "verdict_ms_avg=%.2f commit_wait_ms_avg=%.2f commit_wait_ms_max=%.1f",
		 (unsigned long long)srv->sessions_total,
		 (unsigned long long)srv->writer.jobs,
		 (unsigned long long)srv->writer.batches,
		 (double)srv->verdict_us / (double)n / 1e3,
		 (double)srv->commit_us / (double)n / 1e3,
		 (double)srv->commit_max_us / 1e3);
	rc = 0;
out:
	server_free(srv);
	return rc;
}
