/*
 * smtp_session.c - the SMTP protocol core: states and their one transition
 * function, input framing (command lines vs. DATA), replies, the
 * transaction object, and the answers the host brings back (TLS up, AUTH
 * checked, message stored).
 *
 * SECURITY: network input arrives only through smtp_session_feed(). In
 * SMTP_S_TLS and SMTP_S_CLOSED every byte is discarded (nothing pipelined
 * after STARTTLS or QUIT is ever read as a command). Commands are framed by
 * the shared line reader (bare LF accepted for commands only; DATA is
 * strict, see smtp_data.h). The reader's cap is AUTH_LINE_MAX so an AUTH
 * initial response fits; other commands over 512 octets are refused in
 * smtp_cmd.c.
 */
#include "smtp_session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL) {
		log_error("event=out-of-memory");
		abort();
	}
	return p;
}

const char *smtp_port_kind_name(enum smtp_port_kind k)
{
	switch (k) {
	case SMTP_PORT_MX:
		return "mx";
	case SMTP_PORT_SUBMISSION:
		return "submission";
	case SMTP_PORT_SMTPS:
		return "smtps";
	}
	return "?";
}

const char *smtp_state_name(enum smtp_state st)
{
	static const char *const names[] = {
		"greeting", "helo", "ready", "mail", "rcpt", "data",
		"deliver", "auth", "auth-wait", "tls", "closed", "bdat"};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st]
							       : "?";
}

void smtp_set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("session=%s event=state from=%s to=%s", s->id,
			  smtp_state_name(s->state), smtp_state_name(st));
	s->state = st;
}

struct smtp_session *smtp_session_new(const struct smtp_session_config *cfg,
				      const struct smtp_host *host, void *ctx,
				      const char *id, const char *ip)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	s->host = host;
	s->ctx = ctx;
	snprintf(s->id, sizeof(s->id), "%s", id);
	snprintf(s->ip, sizeof(s->ip), "%s", ip);
	s->state = SMTP_S_GREETING;
	if (linereader_init(&s->lr, AUTH_LINE_MAX) < 0) {
		log_error("event=out-of-memory");
		abort();
	}
	return s;
}

void smtp_session_free(struct smtp_session **sp)
{
	struct smtp_session *s = *sp;
	if (s == NULL)
		return;
	smtp_txn_reset(s);
	linereader_free(&s->lr);
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	free(s);
	*sp = NULL;
}

static void write_raw(struct smtp_session *s, const char *p, size_t n)
{
	s->host->write(s->ctx, p, n);
}

static void __attribute__((format(printf, 2, 0)))
vreply(struct smtp_session *s, const char *fmt, va_list ap)
{
	char line[SMTP_REPLY_MAX];
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	write_raw(s, line, (size_t)n);
}

void smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
}

void smtp_close(struct smtp_session *s, const char *reply)
{
	if (s->state == SMTP_S_CLOSED)
		return;
	if (reply != NULL)
		smtp_reply(s, "%s", reply);
	if (s->txn.spooled)
		s->host->spool_discard(s->ctx);
	s->txn.spooled = false;
	smtp_set_state(s, SMTP_S_CLOSED);
	s->host->close(s->ctx);
}

void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreply(s, fmt, ap);
	va_end(ap);
	if (++s->errors >= SMTP_ERRORS_MAX) {
		log_warn("session=%s ip=%s event=too-many-errors errors=%d",
			 s->id, s->ip, s->errors);
		smtp_close(s, "421 4.7.0 Too many errors, closing connection");
	}
}

/* ---- the transaction --------------------------------------------------- */

void smtp_txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	if (t->spooled)
		s->host->spool_discard(s->ctx);
	if (s->host->txn_reset != NULL)
		s->host->txn_reset(s->ctx);
	for (size_t i = 0; i < t->n_remote; i++)
		free(t->remote[i]);
	free(t->remote);
	free(t->local_ids);
	memset(t, 0, sizeof(*t));
}

int smtp_txn_add(struct smtp_session *s, const struct store_expansion *e,
		 const char *remote_addr)
{
	struct smtp_txn *t = &s->txn;
	size_t extra = (e ? e->n_local + e->n_remote : 0) + (remote_addr ? 1 : 0);
	if (t->n_local + t->n_remote + extra > SMTP_EXPANDED_MAX)
		return -1;
	if (e != NULL) {
		for (size_t i = 0; i < e->n_local; i++) {
			bool seen = false;
			for (size_t j = 0; j < t->n_local && !seen; j++)
				seen = t->local_ids[j] == e->local_ids[i];
			if (seen)
				continue;
			if (t->n_local == t->cap_local) {
				size_t nc = t->cap_local ? t->cap_local * 2 : 4;
				int64_t *n = realloc(t->local_ids, nc * sizeof(*n));
				if (n == NULL)
					return -1;
				t->local_ids = n;
				t->cap_local = nc;
			}
			t->local_ids[t->n_local++] = e->local_ids[i];
		}
	}
	const char *const *rs = e ? (const char *const *)e->remote : NULL;
	size_t nr = e ? e->n_remote : 0;
	for (size_t i = 0; i < nr + (remote_addr ? 1 : 0); i++) {
		const char *r = i < nr ? rs[i] : remote_addr;
		bool seen = false;
		for (size_t j = 0; j < t->n_remote && !seen; j++)
			seen = strcmp(t->remote[j], r) == 0;
		if (seen)
			continue;
		if (t->n_remote == t->cap_remote) {
			size_t nc = t->cap_remote ? t->cap_remote * 2 : 4;
			char **n = realloc(t->remote, nc * sizeof(*n));
			if (n == NULL)
				return -1;
			t->remote = n;
			t->cap_remote = nc;
		}
		char *copy = strdup(r);
		if (copy == NULL)
			return -1;
		t->remote[t->n_remote++] = copy;
	}
	return 0;
}

/* ---- DATA -------------------------------------------------------------- */

static int spool_sink(void *ctx, const char *p, size_t n)
{
	struct smtp_session *s = ctx;
	if (s->txn.trust_feed)
		return s->host->message_write(s->ctx, p, n);
	return s->host->spool_write(s->ctx, p, n);
}

/* Copy client text into a header: printable ASCII, no comment breakers. */
static void header_safe(char *dst, size_t dstlen, const char *src)
{
	size_t o = 0;
	for (size_t i = 0; src[i] != '\0' && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c > 0x20 && c < 0x7f && c != '(' && c != ')' &&
			    c != '\\')
				   ? (char)c
				   : '?';
	}
	dst[o] = '\0';
}

/* RFC 3848 / RFC 6531 "with" keyword. */
static const char *with_protocol(const struct smtp_session *s)
{
	static const char *const esmtp[] = {"ESMTP", "ESMTPA", "ESMTPS",
					    "ESMTPSA"};
	static const char *const utf8[] = {"UTF8SMTP", "UTF8SMTPA",
					   "UTF8SMTPS", "UTF8SMTPSA"};
	if (!s->esmtp)
		return "SMTP";
	int i = (s->tls ? 2 : 0) + (s->authed ? 1 : 0);
	return s->txn.smtputf8 ? utf8[i] : esmtp[i];
}

int smtp_data_start(struct smtp_session *s, bool raw)
{
	struct smtp_txn *t = &s->txn;
	if (s->host->spool_open(s->ctx) < 0) {
		smtp_reply_error(s, "451 4.3.0 Temporary local problem, try again later");
		return -1;
	}
	t->spooled = true;
	snprintf(t->msgid, sizeof(t->msgid), "%s.%u", s->id, ++s->msg_seq);

	char helo[SMTP_HELO_MAX + 1];
	header_safe(helo, sizeof(helo), s->helo);
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	char tls[sizeof(s->tls_desc) + 16] = "";
	if (s->tls)
		snprintf(tls, sizeof(tls), "\r\n\t(%s)", s->tls_desc);

	/* RFC 5321 4.4 "for": only with a single recipient (several would
	 * show every Bcc recipient to all of them). */
	char rcpt_for[ADDR_MAX + 16] = "";
	if (t->n_rcpts == 1 && t->first_rcpt[0] != '\0')
		snprintf(rcpt_for, sizeof(rcpt_for), "\r\n\tfor <%s>",
			 t->first_rcpt);

	char hdr[3 * ADDR_MAX + 3 * SMTP_HELO_MAX + 512];
	int n = snprintf(hdr, sizeof(hdr),
			 "Return-Path: <%s>\r\n"
			 "Received: from %s ([%s])\r\n"
			 "\tby %s (Mailroom) with %s%s\r\n"
			 "\tid %s%s; %s\r\n",
			 t->sender, helo, s->ip, s->cfg.hostname,
			 with_protocol(s), tls, t->msgid, rcpt_for, date);
	if (n < 0 || (size_t)n >= sizeof(hdr) ||
	    s->host->spool_write(s->ctx, hdr, (size_t)n) < 0) {
		smtp_reply_error(s, "451 4.3.0 Temporary local problem, try again later");
		s->host->spool_discard(s->ctx);
		t->spooled = false;
		return -1;
	}
	t->env.size = n;
	/* The trust checks see the message itself, not our trace lines. */
	t->trust_feed = s->host->message_begin != NULL &&
			s->host->message_write != NULL &&
			s->host->message_begin(s->ctx, s->authed) == 0;
	if (raw)
		smtp_data_init_raw(&t->data, s->cfg.size_limit);
	else
		smtp_data_init(&t->data, s->cfg.size_limit);
	return 0;
}

/* CRLF.CRLF seen: refuse, or hand the message to the store. */
static void data_finished(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	if (t->data.error != SMTP_DATA_OK) {
		enum smtp_data_error e = t->data.error;
		log_info("session=%s ip=%s event=rejected msgid=%s reason=\"%s\" "
			 "size=%lld rcpts=%zu",
			 s->id, s->ip, t->msgid, smtp_data_error_text(e),
			 (long long)t->data.size, t->n_rcpts);
		smtp_txn_reset(s);
		smtp_set_state(s, SMTP_S_READY);
		if (e == SMTP_DATA_TOO_BIG)
			smtp_reply_error(s, "552 5.3.4 Message too big for system");
		else if (e == SMTP_DATA_SINK)
			smtp_reply_error(s, "451 4.3.0 Temporary local problem, try again later");
		else
			smtp_reply_error(s, "554 5.6.0 Message refused: %s",
					 smtp_data_error_text(e));
		return;
	}
	t->env.msgid = t->msgid;
	t->env.sender = t->sender;
	t->env.local_ids = t->local_ids;
	t->env.n_local = t->n_local;
	t->env.remote = (const char *const *)t->remote;
	t->env.n_remote = t->n_remote;
	t->env.n_rcpts = t->n_rcpts;
	t->env.size += t->data.size;
	t->spooled = false; /* the host owns the spool now */
	smtp_set_state(s, SMTP_S_DELIVER);
	s->host->deliver(s->ctx, &t->env);
}

void smtp_chunk_finished(struct smtp_session *s)
{
	struct smtp_txn *t = &s->txn;
	if (t->data.error == SMTP_DATA_OK && !s->chunk_last) {
		smtp_reply(s, "250 2.0.0 %lld octets received",
			   (long long)s->chunk_size);
		return;
	}
	if (t->data.error == SMTP_DATA_OK)
		smtp_data_finish_raw(&t->data, spool_sink, s);
	data_finished(s); /* refuses (and resets) or delivers */
}

void smtp_session_deliver_result(struct smtp_session *s, int result)
{
	if (s->state != SMTP_S_DELIVER)
		return;
	struct smtp_txn *t = &s->txn;
	char user[LOG_ESCAPED_MAX], from[LOG_ESCAPED_MAX];
	log_escape(user, sizeof(user), s->user, strlen(s->user));
	log_escape(from, sizeof(from), t->sender, strlen(t->sender));
	log_info("session=%s ip=%s event=%s msgid=%s from=<%s> size=%lld "
		 "rcpts=%zu local=%zu remote=%zu tls=%s user=\"%s\" result=%s%s%s",
		 s->id, s->ip, result == STORE_OK ? "delivered" : "deliver-failed",
		 t->msgid, from, (long long)t->env.size, t->n_rcpts,
		 t->n_local, t->n_remote, s->tls ? "yes" : "no", user,
		 store_result_text(result), t->trust_log[0] ? " " : "",
		 t->trust_log);
	char msgid[sizeof(t->msgid)];
	memcpy(msgid, t->msgid, sizeof(msgid));
	smtp_txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	if (result == STORE_OK)
		smtp_reply(s, "250 2.0.0 Ok: queued as %s", msgid);
	else if (result == STORE_OVERQUOTA)
		smtp_reply(s, "452 4.2.2 Mailbox full, try again later");
	else
		smtp_reply(s, "451 4.3.0 Temporary local problem, try again later");
	if (s->shutdown_pending)
		smtp_close(s, "421 4.3.2 Service shutting down, closing connection");
}

void smtp_session_deliver_rejected(struct smtp_session *s, const char *text)
{
	if (s->state != SMTP_S_DELIVER)
		return;
	struct smtp_txn *t = &s->txn;
	char why[LOG_ESCAPED_MAX];
	log_escape(why, sizeof(why), text, strlen(text));
	log_info("session=%s ip=%s event=rejected-by-rules msgid=%s from=<%s> "
		 "reason=\"%s\"", s->id, s->ip, t->msgid, t->sender, why);
	smtp_txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	smtp_reply(s, "550 5.7.1 %s", text);
	if (s->shutdown_pending)
		smtp_close(s, "421 4.3.2 Service shutting down, closing connection");
}

void smtp_session_deliver_refused(struct smtp_session *s, const char *reply)
{
	if (s->state != SMTP_S_DELIVER)
		return;
	struct smtp_txn *t = &s->txn;
	char why[LOG_ESCAPED_MAX], from[LOG_ESCAPED_MAX];
	log_escape(why, sizeof(why), reply, strlen(reply));
	log_escape(from, sizeof(from), t->sender, strlen(t->sender));
	log_info("session=%s ip=%s event=rejected-by-trust msgid=%s from=<%s> "
		 "reply=\"%s\" %s", s->id, s->ip, t->msgid, from, why, t->trust_log);
	smtp_txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	smtp_reply(s, "%s", reply);
	if (s->shutdown_pending)
		smtp_close(s, "421 4.3.2 Service shutting down, closing connection");
}

void smtp_session_set_trust_log(struct smtp_session *s, const char *text)
{
	snprintf(s->txn.trust_log, sizeof(s->txn.trust_log), "%s", text);
}

/* ---- the host's other answers -------------------------------------------- */

void smtp_session_tls_started(struct smtp_session *s, const char *desc)
{
	s->tls = true;
	snprintf(s->tls_desc, sizeof(s->tls_desc), "%s", desc ? desc : "TLS");
	log_info("session=%s ip=%s event=tls %s", s->id, s->ip, s->tls_desc);
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	smtp_txn_reset(s);
	linereader_reset(&s->lr);
	s->esmtp = false;
	s->helo[0] = '\0';
	if (s->state == SMTP_S_TLS)
		smtp_set_state(s, SMTP_S_HELO);
}

void smtp_session_greet(struct smtp_session *s)
{
	if (s->state != SMTP_S_GREETING)
		return;
	smtp_set_state(s, SMTP_S_HELO);
	smtp_reply(s, "220 %s ESMTP Mailroom", s->cfg.hostname);
}

void smtp_session_auth_result(struct smtp_session *s, int result,
			      int64_t account_id, const char *user)
{
	if (s->state != SMTP_S_AUTH_WAIT)
		return;
	smtp_set_state(s, SMTP_S_READY);
	char u[LOG_ESCAPED_MAX];
	log_escape(u, sizeof(u), user ? user : "", user ? strlen(user) : 0);
	if (result == STORE_OK) {
		s->authed = true;
		s->account_id = account_id;
		snprintf(s->user, sizeof(s->user), "%s", user);
		log_info("session=%s ip=%s event=auth user=\"%s\"", s->id, s->ip, u);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else if (result == STORE_AUTHFAIL) {
		s->auth_failures++;
		log_warn("session=%s ip=%s event=auth-failed user=\"%s\"", s->id,
			 s->ip, u);
		smtp_reply_error(s, "535 5.7.8 Authentication credentials invalid");
		if (s->auth_failures >= SMTP_AUTH_FAILURES_MAX)
			smtp_close(s, "421 4.7.0 Too many authentication failures");
	} else {
		log_warn("session=%s ip=%s event=auth-error result=%s", s->id,
			 s->ip, store_result_text(result));
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
	if (s->shutdown_pending)
		smtp_close(s, "421 4.3.2 Service shutting down, closing connection");
}

void smtp_session_timeout(struct smtp_session *s)
{
	log_info("session=%s ip=%s event=timeout state=%s", s->id, s->ip,
		 smtp_state_name(s->state));
	smtp_close(s, "421 4.4.2 Timeout, closing connection");
}

void smtp_session_reject(struct smtp_session *s, const char *reply)
{
	smtp_close(s, reply);
}

void smtp_session_shutdown(struct smtp_session *s)
{
	if (smtp_session_in_transaction(s) || s->state == SMTP_S_AUTH_WAIT) {
		s->shutdown_pending = true;
		return;
	}
	smtp_close(s, s->state == SMTP_S_GREETING || s->state == SMTP_S_TLS
			      ? NULL
			      : "421 4.3.2 Service shutting down, closing connection");
}

bool smtp_session_paused(const struct smtp_session *s)
{
	return s->state == SMTP_S_DELIVER || s->state == SMTP_S_AUTH_WAIT;
}

bool smtp_session_closing(const struct smtp_session *s)
{
	return s->state == SMTP_S_CLOSED;
}

bool smtp_session_in_data(const struct smtp_session *s)
{
	return s->state == SMTP_S_DATA || s->chunk_remaining > 0;
}

bool smtp_session_in_transaction(const struct smtp_session *s)
{
	return s->txn.active || s->state == SMTP_S_DATA ||
	       s->state == SMTP_S_DELIVER;
}

const char *smtp_session_id(const struct smtp_session *s)
{
	return s->id;
}

const char *smtp_session_user(const struct smtp_session *s)
{
	return s->user;
}

/* ---- input --------------------------------------------------------------- */

size_t smtp_session_feed(struct smtp_session *s, const char *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		if (s->chunk_remaining > 0 && s->state != SMTP_S_CLOSED &&
		    s->state != SMTP_S_TLS) {
			size_t take = n - off;
			if ((int64_t)take > s->chunk_remaining)
				take = (size_t)s->chunk_remaining;
			bool done;
			if (!s->chunk_discard)
				smtp_data_feed(&s->txn.data, p + off, take,
					       spool_sink, s, &done);
			off += take;
			s->chunk_remaining -= (int64_t)take;
			if (s->chunk_remaining == 0 && !s->chunk_discard)
				smtp_chunk_finished(s);
			continue;
		}
		switch (s->state) {
		case SMTP_S_GREETING:
			log_warn("session=%s ip=%s event=early-talker", s->id, s->ip);
			smtp_close(s, "554 5.5.0 Protocol error: talked before the greeting");
			return n;
		case SMTP_S_TLS:
		case SMTP_S_CLOSED:
			s->chunk_remaining = 0;
			return n; /* discarded on purpose */
		case SMTP_S_DELIVER:
		case SMTP_S_AUTH_WAIT:
			return off; /* paused until the host answers */
		case SMTP_S_DATA: {
			bool done;
			off += smtp_data_feed(&s->txn.data, p + off, n - off,
					      spool_sink, s, &done);
			if (done)
				data_finished(s);
			break;
		}
		default: {
			enum line_status st;
			struct line line;
			off += linereader_feed(&s->lr, p + off, n - off, &st,
					       &line);
			if (st == LINE_TOO_LONG) {
				if (s->state == SMTP_S_AUTH) {
					smtp_set_state(s, SMTP_S_READY);
					smtp_reply_error(s, "501 5.5.6 Authentication line too long");
				} else {
					smtp_reply_error(s, "500 5.5.6 Line too long");
				}
			} else if (st == LINE_OK) {
				if (s->state == SMTP_S_AUTH)
					smtp_auth_continue(s, line.text);
				else
					smtp_cmd_dispatch(s, line.text, off < n);
			}
			break;
		}
		}
	}
	return off;
}
