/*
 * client.c - the outbound SMTP client (RFC 5321) for one connection of a
 * job: EHLO (HELO fallback), opportunistic STARTTLS (RFC 3207), AUTH
 * PLAIN/LOGIN to the smarthost (RFC 4954), PIPELINING (RFC 2920) of MAIL
 * and RCPT, SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), then
 * the body streamed from the store with dot-stuffing, as the socket drains.
 *
 * SECURITY: the peer is an untrusted remote server. Its replies go through
 * the bounded parser in reply.c; anything it says only ever sets a
 * recipient's outcome or ends the connection. After our STARTTLS and its
 * 220, every byte already received is thrown away before the handshake
 * (the plaintext command-injection attack, CVE-2011-0411 and kin), and
 * the parser starts afresh. Credentials go out only over TLS with a
 * verified certificate (the smarthost), and are never logged. This whole
 * program runs in its own process (mailroom-queued) so a bug here cannot
 * reach the MX's memory.
 *
 * One state per command in flight; a reply is matched to the state that
 * sent its command. Every recipient stays PENDING until the server's
 * final answer to the DATA dot, so a connection lost at any point leaves
 * it to be sent again (at least once).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/listen.h"
#include "../common/log.h"
#include "outbound_int.h"

#define CONNECT_TIMEOUT 30 /* seconds */
#define REPLY_TIMEOUT 300  /* RFC 5321 4.5.3.2: 5 minutes for most replies */
#define DOT_TIMEOUT 600    /* ... and 10 minutes after the final dot */
#define BODY_CHUNK (64 * 1024)
#define OUT_HIGH (256 * 1024) /* bytes queued to the socket before we wait */

static const char *const state_names[] = {
	"idle", "connect", "greeting", "ehlo", "helo", "starttls",
	"handshake", "auth", "auth-user", "auth-pass", "mail", "rcpt", "data",
	"body", "dot", "rset", "quit", "dot-empty",
};

static void set_state(struct ob_job *j, enum ob_conn_state st)
{
	log_debug("job=%llu host=%s state=%s->%s",
		  (unsigned long long)j->id, j->host, state_names[j->cstate],
		  state_names[st]);
	j->cstate = st;
}

static void set_timeout(struct ob_job *j, int seconds)
{
	struct timeval tv = {seconds, 0};
	bufferevent_set_timeouts(j->bev, &tv, &tv);
}

static void fmt_reply(const struct ob_reply *r, char *dst, size_t len)
{
	snprintf(dst, len, "%d %s", r->code, r->text);
	for (char *p = dst; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static void reply_status(const struct ob_reply *r, char *dst, size_t len)
{
	if (r->enhanced[0])
		snprintf(dst, len, "%s", r->enhanced);
	else
		snprintf(dst, len, "%d.0.0", r->code / 100);
}

/*
 * A recipient's outcome from reply r: 5xx fails, 4xx defers, and 2xx is
 * done only for the reply to the final dot (final). A 2xx or 3xx where a
 * failure was expected (MAIL, RCPT, DATA) is a server out of step: defer.
 */
static void set_from_reply(struct ob_job *j, struct ob_msg *m,
			   struct ob_rcpt *rc, const struct ob_reply *r,
			   bool final)
{
	char text[OB_REPLY_TEXT_MAX + 8], status[16];
	fmt_reply(r, text, sizeof text);
	reply_status(r, status, sizeof status);
	enum ob_rcpt_state st = r->code >= 500 ? OB_RCPT_FAIL
			      : r->code >= 400 || !final || r->code >= 300
				      ? OB_RCPT_DEFER
				      : OB_RCPT_DONE;
	if (st == OB_RCPT_DEFER && r->code < 400)
		snprintf(status, sizeof status, "4.5.0");
	ob_rcpt_set(rc, st, status, text, j->host);
	char esc[LOG_ESCAPED_MAX];
	log_info("job=%llu event=%s host=%s from=<%s> to=<%s> tls=%s reply=\"%s\"",
		 (unsigned long long)j->id,
		 st == OB_RCPT_DONE ? "delivered" : st == OB_RCPT_DEFER ? "remote-4xx" : "remote-5xx",
		 j->host, m->sender, rc->addr,
		 j->tls ? (j->tls_verified ? "verified" : "unverified") : "none",
		 log_escape(esc, sizeof esc, text, strlen(text)));
	if (st == OB_RCPT_DONE)
		ob_runner_delivered(j->runner, m, rc->queue_id);
}

static void conn_fail(struct ob_job *j, bool tls_failed, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_fail(struct ob_job *j, bool tls_failed, const char *fmt, ...)
{
	char why[OB_REPLY_TEXT_MAX + 64], esc[LOG_ESCAPED_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_info("job=%llu event=conn-failed host=%s state=%s reason=\"%s\"",
		 (unsigned long long)j->id, j->host, state_names[j->cstate],
		 log_escape(esc, sizeof esc, why, strlen(why)));
	ob_route_conn_done(j, false, tls_failed, why);
}

static void send_text(struct ob_job *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void send_text(struct ob_job *j, const char *fmt, ...)
{
	char line[SMTP_COMMAND_LINE_MAX * 2 + AUTH_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0; /* cannot happen with our bounded fields */
	if (log_enabled(LOG_LEVEL_DEBUG) && strncmp(line, "AUTH", 4) != 0 &&
	    j->cstate != OB_C_AUTH_USER) {
		char esc[LOG_ESCAPED_MAX];
		log_debug("job=%llu host=%s send=\"%s\"", (unsigned long long)j->id,
			  j->host, log_escape(esc, sizeof esc, line, (size_t)n));
	}
	bufferevent_write(j->bev, line, (size_t)n);
	j->replies_due++; /* every line we send asks for one reply */
}

void ob_client_close(struct ob_job *j)
{
	store_body_close(&j->body);
	if (j->bev) {
		bufferevent_free(j->bev);
		j->bev = NULL;
	}
	ob_reply_parser_free(&j->rp);
	buf_free(&j->out);
	for (size_t m = 0; m < j->n_msgs; m++)
		for (size_t i = 0; i < j->msgs[m].n_rcpts; i++)
			j->msgs[m].rcpts[i].accepted = false;
	j->in_txn = false;
	j->replies_due = 0;
	j->cstate = OB_C_IDLE;
	for (size_t m = 0; m < j->n_msgs; m++)
		for (size_t i = 0; i < j->msgs[m].n_rcpts; i++)
			j->msgs[m].rcpts[i].in_txn = false;
}

static bool is_ip_literal(const char *h)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, h, tmp) == 1 || inet_pton(AF_INET6, h, tmp) == 1;
}

static SSL *new_ssl(struct ob_job *j)
{
	SSL *ssl = SSL_new(ob_runner_tls(j->runner, j->smarthost));
	if (ssl == NULL)
		return NULL;
	if (is_ip_literal(j->host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), j->host);
	} else {
		SSL_set_tlsext_host_name(ssl, j->host);
		SSL_set1_host(ssl, j->host);
	}
	/* The smarthost gets our password: its certificate must verify. */
	if (j->smarthost)
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return ssl;
}

static void tls_error_text(struct ob_job *j, char *dst, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(j->bev);
	SSL *ssl = bufferevent_openssl_get_ssl(j->bev);
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK)
		snprintf(dst, len, "certificate not verified: %s",
			 X509_verify_cert_error_string(v));
	else if (e)
		ERR_error_string_n(e, dst, len);
	else
		snprintf(dst, len, "handshake failed");
}

/* ---- transactions ---------------------------------------------------------- */

static size_t txn_rcpt(const struct ob_job *j, size_t k)
{
	/* The k-th recipient of the current message sent in this
	 * transaction: those PENDING when it began, in order. */
	const struct ob_msg *m = &j->msgs[j->cur_msg];
	size_t seen = 0;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		if (!m->rcpts[i].in_txn)
			continue;
		if (seen++ == k)
			return i;
	}
	return m->n_rcpts;
}

static void send_rcpt(struct ob_job *j, size_t k)
{
	const struct ob_msg *m = &j->msgs[j->cur_msg];
	size_t i = txn_rcpt(j, k);
	if (i < m->n_rcpts)
		send_text(j, "RCPT TO:<%s>\r\n", m->rcpts[i].wire);
}

static void next_txn(struct ob_job *j);
static void client_setcb(struct ob_job *j);

static void fail_msg(struct ob_job *j, struct ob_msg *m, const char *status,
		     const char *why, bool permanent)
{
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].state == OB_RCPT_PENDING)
			ob_rcpt_set(&m->rcpts[i],
				    permanent ? OB_RCPT_FAIL : OB_RCPT_DEFER,
				    status, why, j->host);
}

static bool msg_pending(const struct ob_msg *m)
{
	for (size_t i = 0; i < m->n_rcpts; i++)
		if (m->rcpts[i].state == OB_RCPT_PENDING)
			return true;
	return false;
}

static void start_txn(struct ob_job *j)
{
	struct ob_msg *m = &j->msgs[j->cur_msg];
	char why[400];
	/* What goes out: the stored message plus our DKIM fields (the
	 * Return-Path cut makes it a slight overestimate, as SIZE allows). */
	int64_t size = m->size + (int64_t)m->dkim_len;
	if (j->ext_size > 0 && size > j->ext_size) {
		snprintf(why, sizeof why,
			 "message of %lld bytes is larger than %s accepts (%lld)",
			 (long long)size, j->host, (long long)j->ext_size);
		fail_msg(j, m, "5.3.4", why, true);
		j->cur_msg++;
		next_txn(j);
		return;
	}
	if (m->utf8_addrs && !j->ext_smtputf8) {
		snprintf(why, sizeof why,
			 "%s does not support SMTPUTF8, needed for these addresses",
			 j->host);
		fail_msg(j, m, "5.6.7", why, true);
		j->cur_msg++;
		next_txn(j);
		return;
	}
	int rc = store_body_open_by_id(ob_runner_store(j->runner), m->body_id,
				       &j->body);
	if (rc != STORE_OK) {
		fail_msg(j, m, "4.3.0", "cannot read the message from the store",
			 false);
		j->cur_msg++;
		next_txn(j);
		return;
	}
	/* Mark this transaction's recipients so replies map to them even
	 * after some get outcomes. */
	size_t n = 0;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		m->rcpts[i].accepted = false;
		m->rcpts[i].in_txn = m->rcpts[i].state == OB_RCPT_PENDING;
		n += m->rcpts[i].in_txn;
	}
	j->rcpt_sent = n;
	j->rcpt_replied = 0;
	j->n_accepted = 0;
	j->mail_ok = false;
	j->in_txn = true;
	char params[96] = "";
	size_t pl = 0;
	/* RFC 1870: SIZE= only to a server that advertised SIZE. */
	if (j->esmtp && j->ext_size_kw)
		pl += (size_t)snprintf(params + pl, sizeof params - pl,
				       " SIZE=%lld", (long long)size);
	if (j->esmtp && m->scan.body_8bit && j->ext_8bitmime && pl < sizeof params)
		pl += (size_t)snprintf(params + pl, sizeof params - pl,
				       " BODY=8BITMIME");
	if (j->esmtp && (m->utf8_addrs || m->scan.header_8bit) &&
	    j->ext_smtputf8 && pl < sizeof params)
		snprintf(params + pl, sizeof params - pl, " SMTPUTF8");
	send_text(j, "MAIL FROM:<%s>%s\r\n", m->sender, params);
	/* RFC 2920: MAIL, every RCPT and DATA in one group, one round trip
	 * instead of two. */
	j->data_sent = j->ext_pipelining;
	if (j->ext_pipelining) {
		for (size_t k = 0; k < n; k++)
			send_rcpt(j, k);
		send_text(j, "DATA\r\n");
	}
	set_state(j, OB_C_MAIL);
	/* A dot still unanswered in this group gets its own longer wait. */
	set_timeout(j, j->dot_pending ? DOT_TIMEOUT : REPLY_TIMEOUT);
}

static void next_txn(struct ob_job *j)
{
	store_body_close(&j->body);
	j->in_txn = false;
	while (j->cur_msg < j->n_msgs && !msg_pending(&j->msgs[j->cur_msg]))
		j->cur_msg++;
	if (j->cur_msg >= j->n_msgs) {
		send_text(j, "QUIT\r\n");
		set_state(j, OB_C_QUIT);
		set_timeout(j, 30);
		return;
	}
	start_txn(j);
}

static void end_txn_status(struct ob_job *j)
{
	struct ob_msg *m = &j->msgs[j->cur_msg];
	for (size_t i = 0; i < m->n_rcpts; i++)
		m->rcpts[i].in_txn = false;
}

/*
 * smtpd stores each message with a Return-Path: field first; RFC 5321
 * 4.4 says a relay must not send one on, so it is cut here. Its length,
 * or 0 (a field longer than the first chunk is left alone).
 */
static size_t return_path_len(const char *p, size_t n)
{
	static const char name[] = "return-path:";
	if (n < sizeof name - 1 || strncasecmp(p, name, sizeof name - 1) != 0)
		return 0;
	for (size_t i = sizeof name - 1; i + 1 < n; i++)
		if (p[i] == '\n' && p[i + 1] != ' ' && p[i + 1] != '\t')
			return i + 1;
	return 0;
}

/* Send as much body as fits; at the end, the dot. false if it failed. */
/* A message after the current one still has recipients to send to. */
static bool more_after(const struct ob_job *j)
{
	for (size_t k = j->cur_msg + 1; k < j->n_msgs; k++)
		if (msg_pending(&j->msgs[k]))
			return true;
	return false;
}

/* The final reply to message m's dot: its accepted recipients are done
 * (2xx), deferred or failed, and its transaction is over. */
static void dot_reply(struct ob_job *j, struct ob_msg *m, const struct ob_reply *r)
{
	for (size_t i = 0; i < m->n_rcpts; i++) {
		if (m->rcpts[i].accepted) {
			m->rcpts[i].accepted = false;
			set_from_reply(j, m, &m->rcpts[i], r, true);
		}
		m->rcpts[i].in_txn = false;
	}
	j->msgs_this_conn++;
}

static bool fill_body(struct ob_job *j)
{
	char chunk[BODY_CHUNK];
	struct evbuffer *out = bufferevent_get_output(j->bev);
	while (j->cstate == OB_C_BODY && evbuffer_get_length(out) < OUT_HIGH) {
		ssize_t n = store_body_read(j->body, chunk, sizeof chunk);
		buf_reset(&j->out);
		if (n < 0) {
			conn_fail(j, false, "cannot read the message from the store");
			return false;
		}
		if (n == 0) {
			if (ob_stuff_end(&j->stuffer, &j->out) < 0) {
				conn_fail(j, false, "out of memory");
				return false;
			}
			bufferevent_write(j->bev, j->out.data, j->out.len);
			j->replies_due++; /* the dot's */
			store_body_close(&j->body);
			set_timeout(j, DOT_TIMEOUT);
			bufferevent_enable(j->bev, EV_READ);
			if (j->ext_pipelining && more_after(j)) {
				/* RFC 2920 3.1: the message text may begin a
				 * group, so the next MAIL, RCPT and DATA go right
				 * behind the dot: one round trip per message.
				 * The dot's reply comes first (on_reply). */
				j->dot_pending = true;
				j->dot_msg = j->cur_msg;
				j->in_txn = false;
				j->cur_msg++;
				next_txn(j);
				return true;
			}
			set_state(j, OB_C_DOT);
			return true;
		}
		size_t skip = 0;
		if (!j->body_started) {
			j->body_started = true;
			skip = return_path_len(chunk, (size_t)n);
		}
		if (ob_stuff(&j->stuffer, chunk + skip, (size_t)n - skip, &j->out) < 0) {
			conn_fail(j, false, "out of memory");
			return false;
		}
		bufferevent_write(j->bev, j->out.data, j->out.len);
	}
	return true;
}

/* ---- replies ----------------------------------------------------------------- */

static void parse_ehlo(struct ob_job *j, const struct ob_reply *r)
{
	j->esmtp = true;
	j->ext_pipelining = j->ext_starttls = j->ext_8bitmime = false;
	j->ext_smtputf8 = j->ext_auth_plain = j->ext_auth_login = false;
	j->ext_size = 0;
	j->ext_size_kw = false;
	const char *p = strchr(r->text, '\n');
	while (p != NULL) {
		const char *line = p + 1;
		p = strchr(line, '\n');
		size_t len = p ? (size_t)(p - line) : strlen(line);
		char kw[128];
		if (len >= sizeof kw)
			continue;
		memcpy(kw, line, len);
		kw[len] = '\0';
		for (char *c = kw; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 32);
		if (strcmp(kw, "PIPELINING") == 0)
			j->ext_pipelining = true;
		else if (strcmp(kw, "STARTTLS") == 0)
			j->ext_starttls = true;
		else if (strcmp(kw, "8BITMIME") == 0)
			j->ext_8bitmime = true;
		else if (strcmp(kw, "SMTPUTF8") == 0)
			j->ext_smtputf8 = true;
		else if (strncmp(kw, "SIZE", 4) == 0 && (kw[4] == ' ' || kw[4] == '\0')) {
			long long v = kw[4] ? strtoll(kw + 5, NULL, 10) : 0;
			j->ext_size = v > 0 ? v : 0;
			j->ext_size_kw = true;
		} else if (strncmp(kw, "AUTH", 4) == 0 && (kw[4] == ' ' || kw[4] == '=')) {
			if (strstr(kw, " PLAIN") || strstr(kw, "=PLAIN"))
				j->ext_auth_plain = true;
			if (strstr(kw, " LOGIN") || strstr(kw, "=LOGIN"))
				j->ext_auth_login = true;
		}
	}
}

static void b64(const char *in, size_t len, char *out, size_t outlen)
{
	if ((len + 2) / 3 * 4 + 1 > outlen) {
		out[0] = '\0';
		return;
	}
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

static void start_auth(struct ob_job *j)
{
	const struct ob_smarthost *sh = &j->sh;
	char enc[AUTH_LINE_MAX];
	if (j->ext_auth_plain) {
		char raw[ADDR_MAX + PASSWORD_MAX + 4];
		size_t ul = strlen(sh->user);
		size_t pwl = strlen(sh->password);
		raw[0] = '\0';
		memcpy(raw + 1, sh->user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, sh->password, pwl);
		b64(raw, 2 + ul + pwl, enc, sizeof enc);
		explicit_bzero(raw, sizeof raw);
		send_text(j, "AUTH PLAIN %s\r\n", enc);
		explicit_bzero(enc, sizeof enc);
		set_state(j, OB_C_AUTH);
		return;
	}
	if (j->ext_auth_login) {
		send_text(j, "AUTH LOGIN\r\n");
		set_state(j, OB_C_AUTH_USER);
		return;
	}
	conn_fail(j, false, "smarthost %s offers neither AUTH PLAIN nor AUTH LOGIN",
		  j->host);
}

static void after_ehlo(struct ob_job *j)
{
	if (!j->tls && j->ext_starttls && !j->plain_retry) {
		send_text(j, "STARTTLS\r\n");
		set_state(j, OB_C_STARTTLS);
		return;
	}
	if (!j->tls && j->smarthost) {
		conn_fail(j, false,
			  "smarthost %s does not offer STARTTLS: refusing to send without TLS",
			  j->host);
		return;
	}
	if (j->smarthost && j->sh.user[0]) {
		start_auth(j);
		return;
	}
	next_txn(j);
}

static void start_tls(struct ob_job *j)
{
	struct evbuffer *in = bufferevent_get_input(j->bev);
	size_t extra = evbuffer_get_length(in);
	if (extra > 0 || ob_reply_parser_pending(&j->rp)) {
		/* Bytes after the 220 were sent in plain text and would be
		 * read as replies inside TLS: a man in the middle's attack. */
		log_warn("job=%llu event=starttls-injection host=%s bytes=%zu action=discarded",
			 (unsigned long long)j->id, j->host, extra);
		evbuffer_drain(in, extra);
	}
	ob_reply_parser_reset(&j->rp);
	j->replies_due = 0;
	SSL *ssl = new_ssl(j);
	struct bufferevent *tb = ssl ? bufferevent_openssl_filter_new(
					       ob_runner_base(j->runner), j->bev, ssl,
					       BUFFEREVENT_SSL_CONNECTING,
					       BEV_OPT_CLOSE_ON_FREE |
						       BEV_OPT_DEFER_CALLBACKS)
				     : NULL;
	if (tb == NULL) {
		if (ssl)
			SSL_free(ssl);
		conn_fail(j, true, "cannot start TLS");
		return;
	}
	j->bev = tb;
	client_setcb(j);
	set_state(j, OB_C_HANDSHAKE);
	set_timeout(j, CONNECT_TIMEOUT);
}

/* Act on one reply. It may replace or close the connection or finish the
 * job; the caller checks before reading on. */
static void on_reply(struct ob_job *j, const struct ob_reply *r)
{
	char text[OB_REPLY_TEXT_MAX + 8];
	const struct config *cfg = ob_runner_cfg(j->runner);
	fmt_reply(r, text, sizeof text);
	log_debug("job=%llu host=%s state=%s reply-code=%d",
		  (unsigned long long)j->id, j->host, state_names[j->cstate],
		  r->code);
	if (r->code == 421 && j->cstate != OB_C_QUIT) {
		conn_fail(j, false, "%s", text);
		return;
	}
	if (j->dot_pending) {
		/* The reply to the previous message's dot, sent in one group
		 * with this transaction's commands (fill_body). */
		j->dot_pending = false;
		dot_reply(j, &j->msgs[j->dot_msg], r);
		set_timeout(j, REPLY_TIMEOUT);
		return;
	}
	struct ob_msg *m = j->cur_msg < j->n_msgs ? &j->msgs[j->cur_msg] : NULL;
	switch (j->cstate) {
	case OB_C_GREETING:
		if (r->code != 220) {
			conn_fail(j, false, "greeting: %s", text);
			return;
		}
		send_text(j, "EHLO %s\r\n", cfg->hostname);
		set_state(j, OB_C_EHLO);
		return;
	case OB_C_EHLO:
		if (r->code == 250) {
			parse_ehlo(j, r);
			after_ehlo(j);
			return;
		}
		send_text(j, "HELO %s\r\n", cfg->hostname);
		set_state(j, OB_C_HELO);
		return;
	case OB_C_HELO:
		if (r->code != 250) {
			conn_fail(j, false, "HELO: %s", text);
			return;
		}
		j->esmtp = false;
		after_ehlo(j);
		return;
	case OB_C_STARTTLS:
		if (r->code == 220) {
			start_tls(j);
			return;
		}
		if (j->smarthost) {
			conn_fail(j, false, "STARTTLS refused: %s", text);
			return;
		}
		j->ext_starttls = false;
		after_ehlo(j);
		return;
	case OB_C_AUTH:
	case OB_C_AUTH_PASS:
		if (r->code != 235) {
			log_error("job=%llu event=smarthost-auth-failed host=%s code=%d",
				  (unsigned long long)j->id, j->host, r->code);
			conn_fail(j, false, "smarthost refused our login: %s", text);
			return;
		}
		log_info("job=%llu event=smarthost-auth host=%s",
			 (unsigned long long)j->id, j->host);
		next_txn(j);
		return;
	case OB_C_AUTH_USER: {
		if (r->code != 334) {
			conn_fail(j, false, "AUTH LOGIN: %s", text);
			return;
		}
		char enc[AUTH_LINE_MAX];
		/* The first 334 asks for the user, the second for the password. */
		if (!j->mail_ok) {
			b64(j->sh.user, strlen(j->sh.user), enc, sizeof enc);
			j->mail_ok = true; /* reused as "user sent" */
			send_text(j, "%s\r\n", enc);
			return;
		}
		j->mail_ok = false;
		b64(j->sh.password, strlen(j->sh.password), enc, sizeof enc);
		send_text(j, "%s\r\n", enc);
		explicit_bzero(enc, sizeof enc);
		set_state(j, OB_C_AUTH_PASS);
		return;
	}
	case OB_C_MAIL:
		j->mail_ok = r->code >= 200 && r->code < 300;
		if (!j->mail_ok) {
			char status[16];
			reply_status(r, status, sizeof status);
			for (size_t k = 0; k < j->rcpt_sent; k++) {
				size_t i = txn_rcpt(j, k);
				if (i < m->n_rcpts)
					set_from_reply(j, m, &m->rcpts[i], r, false);
			}
		}
		set_state(j, OB_C_RCPT);
		if (!j->ext_pipelining) {
			if (!j->mail_ok) {
				end_txn_status(j);
				send_text(j, "RSET\r\n");
				set_state(j, OB_C_RSET);
				return;
			}
			send_rcpt(j, 0);
		}
		return;
	case OB_C_RCPT: {
		size_t i = txn_rcpt(j, j->rcpt_replied);
		if (j->mail_ok && i < m->n_rcpts) {
			if (r->code >= 200 && r->code < 300) {
				m->rcpts[i].accepted = true;
				j->n_accepted++;
			} else {
				set_from_reply(j, m, &m->rcpts[i], r, false);
			}
		}
		j->rcpt_replied++;
		if (j->rcpt_replied < j->rcpt_sent) {
			if (!j->ext_pipelining)
				send_rcpt(j, j->rcpt_replied);
			return;
		}
		if (j->data_sent) { /* its reply comes next */
			set_state(j, OB_C_DATA);
			return;
		}
		if (j->n_accepted > 0) {
			send_text(j, "DATA\r\n");
			set_state(j, OB_C_DATA);
		} else {
			end_txn_status(j);
			send_text(j, "RSET\r\n");
			set_state(j, OB_C_RSET);
		}
		return;
	}
	case OB_C_DATA:
		if (r->code == 354 && j->n_accepted == 0) {
			/* A pipelined DATA the server took although no
			 * recipient was: RFC 2920 3.1 says end it with a
			 * lone dot (nothing is delivered). */
			send_text(j, ".\r\n");
			set_state(j, OB_C_DOT_EMPTY);
			return;
		}
		if (r->code != 354) {
			for (size_t i = 0; i < m->n_rcpts; i++)
				if (m->rcpts[i].accepted) {
					m->rcpts[i].accepted = false;
					set_from_reply(j, m, &m->rcpts[i], r, false);
				}
			end_txn_status(j);
			send_text(j, "RSET\r\n");
			set_state(j, OB_C_RSET);
			return;
		}
		ob_stuffer_init(&j->stuffer);
		j->body_started = false;
		if (m->dkim) /* a header of ours: no line starts with '.' */
			bufferevent_write(j->bev, m->dkim, m->dkim_len);
		set_state(j, OB_C_BODY);
		bufferevent_disable(j->bev, EV_READ);
		set_timeout(j, DOT_TIMEOUT);
		fill_body(j);
		return;
	case OB_C_DOT:
		dot_reply(j, m, r);
		j->cur_msg++;
		set_timeout(j, REPLY_TIMEOUT);
		next_txn(j);
		return;
	case OB_C_DOT_EMPTY:
	case OB_C_RSET:
		end_txn_status(j);
		j->cur_msg++;
		next_txn(j);
		return;
	case OB_C_QUIT:
		ob_route_conn_done(j, true, false, "");
		return;
	default:
		conn_fail(j, false, "unexpected reply in state %s: %s",
			  state_names[j->cstate], text);
		return;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct ob_job *j = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (evbuffer_get_length(in) > 0) {
		size_t n = evbuffer_get_contiguous_space(in);
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		size_t used = 0;
		struct ob_reply r;
		if (log_enabled(LOG_LEVEL_DEBUG)) {
			char esc[LOG_ESCAPED_MAX];
			log_debug("job=%llu host=%s read=\"%s\"",
				  (unsigned long long)j->id, j->host,
				  log_escape(esc, sizeof esc, p, n));
		}
		enum ob_reply_status st = ob_reply_feed(&j->rp, p, n, &used, &r);
		evbuffer_drain(in, used);
		if (st == OB_REPLY_ERROR) {
			conn_fail(j, false, "bad reply from %s: %s", j->host,
				  j->rp.error);
			return;
		}
		if (st == OB_REPLY_DONE) {
			/* RFC 5321 4.2 / RFC 2920: one reply per command, in
			 * order. One more (an extra 250) would shift every
			 * later reply onto the wrong command; a 421 may come
			 * unasked (the server closing) and ends it anyway. */
			if (j->replies_due == 0 && r.code != 421) {
				conn_fail(j, false, "%s sent a reply to no command: %d",
					  j->host, r.code);
				return;
			}
			if (j->replies_due > 0)
				j->replies_due--;
			/* Every command sent is answered: until we send
			 * more, the server has nothing to say. Bytes already
			 * here (an extra 250 after a 354, or behind the EHLO
			 * reply) would be taken as replies to the commands
			 * on_reply is about to send, or to a dot the server
			 * never saw. This reply was due and is acted on; what
			 * on_reply queues is never written (the connection is
			 * freed before the loop turns). */
			bool out_of_step = j->replies_due == 0 &&
					   j->cstate != OB_C_QUIT && r.code != 421 &&
					   (evbuffer_get_length(in) > 0 ||
					    ob_reply_parser_pending(&j->rp));
			on_reply(j, &r);
			/* Connection replaced (STARTTLS: it drops what
			 * followed the 220 itself), closed, or job done:
			 * nothing more may be read from this buffer. */
			if (j->finished || j->bev != bev)
				return;
			if (out_of_step) {
				conn_fail(j, false, "%s sent more replies than commands",
					  j->host);
				return;
			}
			if (j->cstate == OB_C_BODY)
				return;
		}
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ob_job *j = arg;
	(void)bev;
	if (j->cstate == OB_C_BODY)
		fill_body(j);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ob_job *j = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (j->cstate == OB_C_HANDSHAKE || (j->cstate == OB_C_CONNECT && j->tls)) {
			SSL *ssl = bufferevent_openssl_get_ssl(j->bev);
			j->tls = true;
			j->tls_verified = ssl && SSL_get_verify_result(ssl) == X509_V_OK;
			log_info("job=%llu event=tls host=%s verified=%s version=%s cipher=%s",
				 (unsigned long long)j->id, j->host,
				 j->tls_verified ? "yes" : "no",
				 ssl ? SSL_get_version(ssl) : "-",
				 ssl ? SSL_get_cipher_name(ssl) : "-");
		}
		set_timeout(j, REPLY_TIMEOUT);
		if (j->cstate == OB_C_HANDSHAKE) {
			send_text(j, "EHLO %s\r\n", ob_runner_cfg(j->runner)->hostname);
			set_state(j, OB_C_EHLO);
		} else {
			set_state(j, OB_C_GREETING);
		}
		return;
	}
	if (j->cstate == OB_C_QUIT) {
		ob_route_conn_done(j, true, false, "");
		return;
	}
	bool tls_phase = j->cstate == OB_C_HANDSHAKE ||
			 (j->cstate == OB_C_CONNECT && j->tls);
	char why[256];
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof why, "timed out in state %s",
			 state_names[j->cstate]);
	else if (tls_phase)
		tls_error_text(j, why, sizeof why);
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof why, "connection closed in state %s",
			 state_names[j->cstate]);
	else
		snprintf(why, sizeof why, "%s in state %s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
			 state_names[j->cstate]);
	conn_fail(j, tls_phase, "%s: %s", j->host, why);
}

static void client_setcb(struct ob_job *j)
{
	bufferevent_setcb(j->bev, on_read, on_write, on_event, j);
	bufferevent_setwatermark(j->bev, EV_WRITE, OUT_HIGH / 4, 0);
	bufferevent_enable(j->bev, EV_READ | EV_WRITE);
}

void ob_client_connect(struct ob_job *j, const struct ob_addr *a)
{
	char ip[INET6_ADDRSTRLEN + 8];
	sockaddr_ip_text((const struct sockaddr *)&a->ss, ip, sizeof ip);
	/* Nothing learnt from an earlier host may carry over. */
	j->tls = j->tls_verified = false;
	j->esmtp = false;
	j->ext_pipelining = j->ext_starttls = j->ext_8bitmime = false;
	j->ext_smtputf8 = j->ext_auth_plain = j->ext_auth_login = false;
	j->ext_size_kw = false;
	j->ext_size = 0;
	j->cur_msg = 0;
	j->dot_pending = false;
	j->msgs_this_conn = 0;
	j->replies_due = 1; /* the greeting */
	j->mail_ok = false;
	j->cstate = OB_C_CONNECT;
	if (ob_reply_parser_init(&j->rp) < 0 || buf_init(&j->out, 4 * BODY_CHUNK) < 0) {
		conn_fail(j, false, "out of memory");
		return;
	}
	log_info("job=%llu event=connect host=%s ip=%s",
		 (unsigned long long)j->id, j->host, ip);
	struct event_base *base = ob_runner_base(j->runner);
	int port = 0;
	char h[HOSTNAME_MAX + 1];
	bool implicit_tls = j->smarthost &&
			    ob_smarthost_split(j->sh.host, h, sizeof h, &port) == 0 &&
			    port == 465;
	if (implicit_tls) {
		SSL *ssl = new_ssl(j);
		j->bev = ssl ? bufferevent_openssl_socket_new(
				       base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
				       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
			     : NULL;
		if (j->bev == NULL && ssl)
			SSL_free(ssl);
		j->tls = true; /* marks the connect phase as TLS */
	} else {
		j->bev = bufferevent_socket_new(base, -1,
						BEV_OPT_CLOSE_ON_FREE |
							BEV_OPT_DEFER_CALLBACKS);
	}
	if (j->bev == NULL) {
		conn_fail(j, false, "cannot make a socket");
		return;
	}
	client_setcb(j);
	set_timeout(j, CONNECT_TIMEOUT);
	if (bufferevent_socket_connect(j->bev, (const struct sockaddr *)&a->ss,
				       (int)a->len) < 0) {
		conn_fail(j, false, "%s: connect failed: %s", j->host,
			  strerror(errno));
		return;
	}
}
