/*
 * server.c - the libevent driver of mailroom-pop3d: it accepts
 * connections, moves bytes between sockets and session cores, switches a
 * connection to TLS for STLS, runs the delays and the idle timeout, and
 * handles SIGTERM (end every session without deleting) and SIGHUP
 * (reload the certificate).
 *
 * Memory per connection is bounded by three windows: at most READ_WINDOW
 * unprocessed input bytes (libevent stops reading the socket above it),
 * about POP3_OUTPUT_HIGH of unsent output (the session streams only when
 * output drains below it), and the session's own line buffers.
 *
 * Plaintext logins: a connection may log in without TLS when the config
 * allows it, or when its source address is the very address it reached
 * (Dovecot's rule for "secured": the bytes never left this host's stack,
 * e.g. webmail on the box talking to 127.0.0.1). A client at 127.0.0.2
 * talking to a listener on 127.0.0.1 is treated like any LAN client; the
 * tests use exactly that to check the refusal over real sockets.
 *
 * Plain output is staged in a buffer of our own and written from here
 * straight after the command that produced it; only what the socket does
 * not take moves (by reference) to the bufferevent, which then waits for
 * EPOLLOUT. Adding to the bufferevent's own buffer would arm EPOLLOUT for
 * every answer (epoll_ctl), wake the loop once more when the socket is
 * writable though there is nothing left, and disarm it (epoll_ctl again):
 * four of the eleven syscalls of a one-at-a-time RETR.
 *
 * STLS: the "+OK" is flushed with reading stopped, then the plain
 * bufferevent (and any bytes the client pipelined after STLS) is dropped
 * and a TLS bufferevent takes over the same socket.
 */
#include "server.h"

#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "../common/listen.h"
#include "../common/log.h"
#include "../common/tls.h"
#include "../store/auth_pool.h"
#include "../store/store.h"
#include "pop3_backend.h"
#include "pop3_penalty.h"
#include "pop3_session.h"

/* Unprocessed input a connection may hold (pipelined commands). */
#define READ_WINDOW (16 * 1024)
/* Output level at which a streaming answer is resumed. */
#define WRITE_RESUME (POP3_OUTPUT_HIGH / 2)
/* Write-and-pump rounds one connection gets per loop turn. */
#define RUN_ROUNDS_MAX 16
/* How long SIGTERM waits for goodbye lines to drain. */
#define SHUTDOWN_GRACE_SECONDS 2
#define LISTENERS_MAX (2 * LISTEN_ADDRS_MAX)

struct conn;

struct server {
	const struct config *cfg;
	struct event_base *base;
	SSL_CTX *tls; /* NULL: no certificate, no STLS */
	struct store *st;
	char db_path[CONFIG_PATH_MAX];
	struct pop3_store_backend store_ctx;
	struct pop3_backend backend;
	struct pop3_penalty *penalty;
	struct auth_pool *auth;
	struct evconnlistener *listeners[LISTENERS_MAX];
	size_t n_listeners;
	struct event *sig_term, *sig_int, *sig_hup;
	struct conn *conns;
	size_t n_conns;
	uint64_t next_id;
	bool stopping;
};

struct conn {
	struct server *srv;
	struct conn *prev, *next;
	evutil_socket_t fd;
	struct bufferevent *bev;
	/* Plain connections: output not yet offered to the socket (see the
	 * top); empty outside conn_drive/conn_after, and whenever the
	 * bufferevent's own output buffer holds anything. */
	struct evbuffer *staged;
	bool bev_owns_fd;
	bool tls;
	bool closing;
	bool starting_tls;
	struct event *delay_ev;
	struct event *kick_ev; /* continue a stream next loop turn */
	struct auth_job *job; /* password check in flight */
	struct pop3_session *s;
	char id[20];
};

static void conn_drive(struct conn *c);

/* ---- connection lifetime ----------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct server *srv = c->srv;
	auth_pool_cancel(c->job);
	c->job = NULL;
	pop3_session_free(&c->s);
	if (c->delay_ev != NULL)
		event_free(c->delay_ev);
	if (c->kick_ev != NULL)
		event_free(c->kick_ev);
	if (c->staged != NULL)
		evbuffer_free(c->staged);
	if (c->bev != NULL) {
		if (c->tls) {
			SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
			if (ssl != NULL) {
				SSL_shutdown(ssl); /* best effort close_notify */
				ERR_clear_error();
			}
		}
		bufferevent_free(c->bev);
	}
	if (!c->bev_owns_fd && c->fd >= 0)
		evutil_closesocket(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	free(c);
	if (srv->stopping && srv->n_conns == 0)
		event_base_loopexit(srv->base, NULL);
}

static size_t out_len(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	       (c->staged != NULL ? evbuffer_get_length(c->staged) : 0);
}

/* Offer staged output to the socket; what it does not take goes to the
 * bufferevent, which writes it when the socket drains. The STLS "+OK"
 * always goes through libevent: its write_cb starts the handshake. */
static void conn_flush_staged(struct conn *c)
{
	if (c->staged == NULL || evbuffer_get_length(c->staged) == 0)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) == 0 && !c->starting_tls)
		(void)evbuffer_write(c->staged, c->fd);
	if (evbuffer_get_length(c->staged) > 0)
		evbuffer_add_buffer(out, c->staged);
}

/*
 * After every call into the session: free a closed connection once its
 * output is flushed, or arrange to be called back when output drains.
 * Returns false when c was freed.
 */
static bool conn_after(struct conn *c)
{
	conn_flush_staged(c);
	if (c->closing) {
		if (out_len(c) == 0) {
			conn_free(c);
			return false;
		}
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		return true;
	}
	if (c->starting_tls)
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	else
		bufferevent_setwatermark(c->bev, EV_WRITE, WRITE_RESUME, 0);
	return true;
}

/* ---- the session's I/O interface ---------------------------------------- */

static int io_write(void *ctx, const void *p, size_t n)
{
	struct conn *c = ctx;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (c->staged != NULL && !c->tls && evbuffer_get_length(out) == 0)
		out = c->staged; /* keeps the order: out is empty */
	return evbuffer_add(out, p, n);
}

static size_t io_pending(void *ctx)
{
	return out_len(ctx);
}

static void io_start_tls(void *ctx)
{
	struct conn *c = ctx;
	c->starting_tls = true;
	bufferevent_disable(c->bev, EV_READ);
}

static int io_auth_start(void *ctx, const char *user, const char *password)
{
	struct conn *c = ctx;
	c->job = auth_pool_submit(c->srv->auth, c, user, password);
	return c->job != NULL ? 0 : -1;
}

static void io_delay(void *ctx, unsigned ms)
{
	struct conn *c = ctx;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(c->delay_ev, &tv);
}

static void io_close(void *ctx)
{
	struct conn *c = ctx;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

static const struct pop3_io conn_io = {
	.write = io_write,
	.pending = io_pending,
	.start_tls = io_start_tls,
	.auth_start = io_auth_start,
	.delay = io_delay,
	.close = io_close,
};

/* ---- libevent callbacks ------------------------------------------------- */

static void set_callbacks(struct conn *c);

/*
 * Feed the client's input to the session, and on a plain connection write
 * the answers at once (staged, see the top) instead of waiting a loop turn
 * for EPOLLOUT. Because libevent only calls write_cb after writing
 * something itself, a streaming answer whose output we drained here is
 * pumped here too; after RUN_ROUNDS_MAX rounds the rest waits for a kick
 * on the next loop turn, so one fast client cannot starve the others. TLS
 * output goes through OpenSSL: libevent.
 */
static void conn_drive(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	for (int round = 0;; round++) {
		while (!c->closing && !c->starting_tls &&
		       !pop3_session_busy(c->s)) {
			struct evbuffer_iovec v;
			if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 ||
			    v.iov_len == 0)
				break;
			size_t used =
				pop3_session_feed(c->s, v.iov_base, v.iov_len);
			if (c->starting_tls) {
				evbuffer_drain(in, evbuffer_get_length(in));
				break;
			}
			evbuffer_drain(in, used);
			if (used == 0)
				break;
		}
		if (c->starting_tls || c->staged == NULL ||
		    evbuffer_get_length(c->staged) == 0 ||
		    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			break;
		(void)evbuffer_write(c->staged, c->fd);
		if (c->closing || !pop3_session_streaming(c->s) ||
		    evbuffer_get_length(c->staged) >= WRITE_RESUME)
			break;
		if (round == RUN_ROUNDS_MAX) {
			struct timeval now = {0, 0};
			evtimer_add(c->kick_ev, &now);
			break;
		}
		pop3_session_pump(c->s);
	}
	conn_after(c);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_drive(arg);
}

static void switch_to_tls(struct conn *c)
{
	struct server *srv = c->srv;
	c->starting_tls = false;
	/* Drops the plain input buffer: nothing pipelined after STLS. */
	bufferevent_free(c->bev);
	c->bev = NULL;
	SSL *ssl = SSL_new(srv->tls);
	if (ssl != NULL)
		c->bev = bufferevent_openssl_socket_new(
			srv->base, c->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
			BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		if (ssl != NULL)
			SSL_free(ssl);
		log_error("session=%s event=tls-setup-failed", c->id);
		pop3_session_abort(c->s, NULL);
		conn_free(c);
		return;
	}
	c->bev_owns_fd = true;
	c->tls = true;
	set_callbacks(c);
	pop3_session_tls_started(c->s);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (c->closing) {
		conn_after(c);
		return;
	}
	if (c->starting_tls) {
		if (out_len(c) == 0)
			switch_to_tls(c);
		return;
	}
	pop3_session_pump(c->s);
	conn_drive(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		char desc[128];
		tls_describe(bufferevent_openssl_get_ssl(c->bev), desc,
			     sizeof(desc));
		log_debug("session=%s event=tls-established tls=\"%s\"", c->id,
			  desc);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (c->closing || (what & BEV_EVENT_WRITING)) {
			/* Nothing we sent was read for the whole timeout: the
			 * client is gone or stuck; drop it (deleting nothing). */
			log_info("session=%s event=write-timeout", c->id);
			pop3_session_abort(c->s, NULL);
			conn_free(c);
			return;
		}
		if (pop3_session_busy(c->s)) {
			/* A client receiving a long RETR sends nothing
			 * meanwhile; that is not idleness. */
			bufferevent_enable(c->bev, EV_READ);
			return;
		}
		log_info("session=%s event=idle-timeout", c->id);
		pop3_session_abort(c->s, "autologout; idle for too long");
		conn_after(c);
		return;
	}
	/* EOF or error: the peer is gone, nothing to flush, delete nothing. */
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = c->tls ? bufferevent_get_openssl_error(c->bev) : 0;
		const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;
		log_debug("session=%s event=connection-error error=\"%s\"", c->id,
			  why != NULL ? why
				      : evutil_socket_error_to_string(
						EVUTIL_SOCKET_ERROR()));
		while (c->tls && bufferevent_get_openssl_error(c->bev) != 0)
			;
	}
	pop3_session_abort(c->s, NULL);
	conn_free(c);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->closing) {
		conn_after(c);
		return;
	}
	pop3_session_pump(c->s);
	conn_drive(c);
}

static void delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	pop3_session_resume(c->s);
	conn_drive(c);
}

/* A password check finished on the auth pool (event loop thread). */
static void auth_done(void *owner, int rc, const struct store_account *a)
{
	struct conn *c = owner;
	c->job = NULL;
	struct pop3_account acct = {0};
	if (rc == STORE_OK) {
		acct.id = a->id;
		acct.uidvalidity = a->uidvalidity;
		memcpy(acct.address, a->address, sizeof acct.address);
	}
	pop3_session_auth_done(c->s, rc, &acct);
	conn_drive(c);
}

static void set_callbacks(struct conn *c)
{
	int64_t ms = c->srv->cfg->pop3_idle_timeout_ms;
	/* The read timeout is the autologout; the write timeout (nothing we
	 * sent was taken by the client) uses the same span. */
	struct timeval idle = {(time_t)(ms / 1000),
			       (suseconds_t)((ms % 1000) * 1000)};
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	/* libevent writes at most 16 KB per wakeup by default; a streaming
	 * answer wants the whole window in one writev. */
	bufferevent_set_max_single_write(c->bev, POP3_OUTPUT_HIGH * 2);
	bufferevent_setwatermark(c->bev, EV_READ, 0, READ_WINDOW);
	bufferevent_setwatermark(c->bev, EV_WRITE, WRITE_RESUME, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Same IP on both ends: the connection never left this host. */
static bool same_address(const struct sockaddr_storage *a,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return false;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg, bool tls)
{
	struct server *srv = arg;
	(void)l;
	(void)salen;
	if (srv->stopping) {
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	snprintf(c->id, sizeof(c->id), "%08llx",
		 (unsigned long long)(srv->next_id++ & 0xffffffffu));
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->n_conns++;

	struct sockaddr_storage local, peer;
	socklen_t llen = sizeof(local);
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa, (size_t)salen < sizeof(peer) ? (size_t)salen
						       : sizeof(peer));
	bool same = getsockname(fd, (struct sockaddr *)&local, &llen) == 0 &&
		    same_address(&local, &peer);
	char ip[64];
	sockaddr_ip_text(sa, ip, sizeof(ip));

	/* Answers are written whole, so Nagle only adds the peer's delayed
	 * ACK (40 ms) to the tail of each pipelined answer. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->delay_ev = evtimer_new(srv->base, delay_cb, c);
	c->kick_ev = evtimer_new(srv->base, kick_cb, c);
	if (tls) {
		SSL *ssl = SSL_new(srv->tls);
		if (ssl != NULL)
			c->bev = bufferevent_openssl_socket_new(
				srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
				BEV_OPT_CLOSE_ON_FREE);
		if (ssl != NULL && c->bev == NULL)
			SSL_free(ssl);
		c->bev_owns_fd = c->bev != NULL;
		c->tls = true;
	} else {
		c->bev = bufferevent_socket_new(srv->base, fd, 0);
		c->staged = evbuffer_new();
		if (c->staged == NULL && c->bev != NULL) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
	}
	struct pop3_io io = conn_io;
	io.ctx = c;
	struct pop3_session_params p = {
		.io = &io,
		.backend = &srv->backend,
		.penalty = srv->penalty,
		.peer_ip = ip,
		.id = c->id,
		.tls_active = tls,
		.tls_offer = srv->tls != NULL,
		.plaintext_ok = srv->cfg->pop3_allow_plaintext_auth || same,
		.lock_token = (int64_t)(srv->next_id * 2654435761u) ^ fd,
	};
	if (c->bev == NULL || c->delay_ev == NULL || c->kick_ev == NULL ||
	    (c->s = pop3_session_new(&p)) == NULL) {
		log_error("session=%s ip=%s event=setup-failed", c->id, ip);
		conn_free(c);
		return;
	}
	if (tls)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	set_callbacks(c);
	pop3_session_start(c->s);
	conn_drive(c);
}

static void accept_plain(struct evconnlistener *l, evutil_socket_t fd,
			 struct sockaddr *sa, int salen, void *arg)
{
	accept_cb(l, fd, sa, salen, arg, false);
}

static void accept_tls(struct evconnlistener *l, evutil_socket_t fd,
		       struct sockaddr *sa, int salen, void *arg)
{
	accept_cb(l, fd, sa, salen, arg, true);
}

/* ---- signals ------------------------------------------------------------ */

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)what;
	if (srv->stopping)
		return;
	log_info("event=shutdown signal=%d sessions=%zu", (int)sig,
		 srv->n_conns);
	srv->stopping = true;
	for (size_t i = 0; i < srv->n_listeners; i++) {
		evconnlistener_free(srv->listeners[i]);
		srv->listeners[i] = NULL;
	}
	/* End every session as if its connection dropped: the maildrop
	 * lock goes, nothing marked with DELE is deleted. */
	struct conn *next;
	for (struct conn *c = srv->conns; c != NULL; c = next) {
		next = c->next;
		pop3_session_abort(c->s, "[SYS/TEMP] server shutting down");
		conn_after(c);
	}
	if (srv->n_conns == 0) {
		event_base_loopexit(srv->base, NULL);
	} else {
		struct timeval grace = {SHUTDOWN_GRACE_SECONDS, 0};
		event_base_loopexit(srv->base, &grace);
	}
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	(void)sig;
	(void)what;
	char err[512];
	SSL_CTX *ctx = tls_server_ctx_new(srv->cfg->tls_cert, srv->cfg->tls_key,
					  err, sizeof(err));
	if (ctx == NULL) {
		log_error("event=tls-reload-failed error=\"%s\" (keeping the old "
			  "certificate)", err);
		return;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	/* Running sessions hold their own reference to the old context. */
	if (srv->tls != NULL)
		SSL_CTX_free(srv->tls);
	srv->tls = ctx;
	log_info("event=tls-reloaded cert=\"%s\"", srv->cfg->tls_cert);
}

/* ---- startup ------------------------------------------------------------ */

static int open_listeners(struct server *srv, const char *spec, bool tls)
{
	struct listen_addr addrs[LISTEN_ADDRS_MAX];
	size_t n = 0;
	char err[256];
	if (listen_parse(spec, addrs, LISTEN_ADDRS_MAX, &n, err, sizeof(err)) < 0) {
		log_error("event=startup-failed error=\"%s\"", err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int fd = listen_open(&addrs[i], err, sizeof(err));
		if (fd < 0) {
			log_error("cannot listen on %s", err);
			return -1;
		}
		struct evconnlistener *l = evconnlistener_new(
			srv->base, tls ? accept_tls : accept_plain, srv,
			LEV_OPT_CLOSE_ON_FREE, -1, fd);
		if (l == NULL) {
			close(fd);
			log_error("cannot listen on %s: libevent failed",
				  addrs[i].text);
			return -1;
		}
		srv->listeners[srv->n_listeners++] = l;
		log_info("event=listening addr=%s tls=%s", addrs[i].text,
			 tls ? "implicit" : "stls");
	}
	return 0;
}

static int drop_privileges(const struct config *cfg)
{
	if (geteuid() != 0 || cfg->user[0] == '\0')
		return 0;
	const struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		log_error("event=startup-failed error=\"no such user '%s'\"",
			  cfg->user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_error("event=startup-failed error=\"cannot become %s: %s\"",
			  cfg->user, strerror(errno));
		return -1;
	}
	return 0;
}

static void server_free(struct server *srv)
{
	while (srv->conns != NULL) {
		pop3_session_abort(srv->conns->s, NULL);
		conn_free(srv->conns);
	}
	for (size_t i = 0; i < srv->n_listeners; i++)
		if (srv->listeners[i] != NULL)
			evconnlistener_free(srv->listeners[i]);
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->sig_hup)
		event_free(srv->sig_hup);
	if (srv->tls)
		SSL_CTX_free(srv->tls);
	auth_pool_free(&srv->auth);
	if (srv->st != NULL)
		pop3_backend_store_retry_unlocks(&srv->store_ctx);
	store_close(&srv->st);
	free(srv->penalty);
	if (srv->base)
		event_base_free(srv->base);
}

int pop3_server_run(const struct config *cfg)
{
	struct server srv;
	memset(&srv, 0, sizeof(srv));
	srv.cfg = cfg;
	int status = 1;
	char err[512];

	signal(SIGPIPE, SIG_IGN);
	uint32_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint32_t)getpid();
	srv.next_id = seed;

	srv.base = event_base_new();
	srv.penalty = calloc(1, sizeof(*srv.penalty));
	if (srv.base == NULL || srv.penalty == NULL) {
		log_error("event=startup-failed error=\"out of memory\"");
		goto out;
	}
	pop3_penalty_init(srv.penalty);

	srv.tls = tls_server_ctx_new(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (srv.tls == NULL) {
		if (cfg->pop3s_listen[0] != '\0') {
			log_error("POP3S needs a certificate: %s", err);
			goto out;
		}
		log_warn("event=no-tls error=\"%s\" (STLS not offered)", err);
	} else {
		SSL_CTX_set_mode(srv.tls, SSL_MODE_RELEASE_BUFFERS);
	}

	if (open_listeners(&srv, cfg->pop3_listen, false) < 0 ||
	    open_listeners(&srv, cfg->pop3s_listen, true) < 0)
		goto out;
	if (srv.n_listeners == 0) {
		log_error("event=startup-failed error=\"no listener configured "
			  "([pop3] listen and pop3s_listen are empty)\"");
		goto out;
	}
	if (drop_privileges(cfg) < 0)
		goto out;

	if (config_db_path(cfg, srv.db_path, sizeof(srv.db_path)) != 0) {
		log_error("event=startup-failed error=\"data_dir too long\"");
		goto out;
	}
	if (store_open(srv.db_path, &srv.st, err, sizeof(err)) != STORE_OK) {
		log_error("cannot open the store: %s", err);
		goto out;
	}
	srv.store_ctx.st = srv.st;
	srv.store_ctx.pid = getpid();
	pop3_backend_store(&srv.backend, &srv.store_ctx);
	srv.auth = auth_pool_new(srv.base, srv.db_path,
				 auth_pool_default_threads(), auth_done, err,
				 sizeof(err));
	if (srv.auth == NULL) {
		log_error("cannot start password checkers: %s", err);
		goto out;
	}

	srv.sig_term = evsignal_new(srv.base, SIGTERM, on_term, &srv);
	srv.sig_int = evsignal_new(srv.base, SIGINT, on_term, &srv);
	srv.sig_hup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
	if (!srv.sig_term || !srv.sig_int || !srv.sig_hup ||
	    evsignal_add(srv.sig_term, NULL) || evsignal_add(srv.sig_int, NULL) ||
	    evsignal_add(srv.sig_hup, NULL)) {
		log_error("event=startup-failed error=\"signal setup\"");
		goto out;
	}
	if (cfg->pop3_idle_timeout_ms < POP3_RFC_IDLE_MIN_MS)
		log_warn("event=short-idle-timeout idle_timeout=%lldms "
			 "(RFC 1939 asks for at least 10 minutes; clients that "
			 "stay quiet longer are logged out)",
			 (long long)cfg->pop3_idle_timeout_ms);
	log_info("event=started pid=%ld idle_timeout=%lldms", (long)getpid(),
		 (long long)cfg->pop3_idle_timeout_ms);
	event_base_dispatch(srv.base);
	log_info("event=stopped");
	status = 0;
out:
	server_free(&srv);
	return status;
}
