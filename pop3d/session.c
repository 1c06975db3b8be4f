/*
 * session.c - the POP3 session core: lifecycle, input framing, the state
 * transition, replies and the flow control of long answers (see
 * pop3_session.h for the contract with drivers).
 *
 * SECURITY: input is framed by the shared bounded line reader; a line over
 * the cap is answered with -ERR and counts as a bad command, and
 * POP3_BAD_COMMANDS_MAX of those end the session. While the session is
 * busy it consumes no input at all, so a client that pipelines without
 * reading can only fill its own socket buffers and the driver's small
 * read window, never our memory.
 */
#include "pop3_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3_penalty.h"

static const char *const state_names[] = {"AUTHORIZATION", "TRANSACTION",
					  "UPDATE", "CLOSED"};

const char *pop3_state_name(enum pop3_state st)
{
	return (unsigned)st < 4 ? state_names[st] : "?";
}

struct pop3_session *pop3_session_new(const struct pop3_session_params *p)
{
	struct pop3_session *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->io = *p->io;
	s->be = *p->backend;
	s->penalty = p->penalty;
	snprintf(s->peer_ip, sizeof(s->peer_ip), "%s",
		 p->peer_ip ? p->peer_ip : "?");
	snprintf(s->id, sizeof(s->id), "%s", p->id ? p->id : "-");
	s->tls_active = p->tls_active;
	s->tls_offer = p->tls_offer;
	s->plaintext_ok = p->plaintext_ok;
	s->lock_token = p->lock_token;
	s->state = POP3_STATE_AUTHORIZATION;
	if (linereader_init(&s->cmd_lr, POP3_COMMAND_LINE_MAX) < 0) {
		free(s);
		return NULL;
	}
	if (linereader_init(&s->auth_lr, AUTH_LINE_MAX) < 0) {
		linereader_free(&s->cmd_lr);
		free(s);
		return NULL;
	}
	return s;
}

void pop3_session_start(struct pop3_session *s)
{
	pop3_log(s, LOG_LEVEL_INFO, "event=connect tls=%s",
		 s->tls_active ? "yes" : "no");
	pop3_reply(s, "+OK Mailroom POP3 server ready");
}

int pop3_write(struct pop3_session *s, const void *p, size_t n)
{
	if (s->closing)
		return -1;
	if (s->io.write(s->io.ctx, p, n) < 0) {
		pop3_log(s, LOG_LEVEL_WARN, "event=write-failed");
		pop3_session_abort(s, NULL);
		return -1;
	}
	return 0;
}

void pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)pop3_write(s, line, (size_t)n);
}

void pop3_set_state(struct pop3_session *s, enum pop3_state to)
{
	if (s->state == to)
		return;
	pop3_log(s, LOG_LEVEL_DEBUG, "event=state from=%s to=%s",
		 pop3_state_name(s->state), pop3_state_name(to));
	s->state = to;
}

void pop3_close(struct pop3_session *s)
{
	if (s->closing)
		return;
	s->closing = true;
	pop3_stream_stop(s);
	pop3_release_maildrop(s);
	pop3_set_state(s, POP3_STATE_CLOSED);
	pop3_log(s, LOG_LEVEL_INFO, "event=disconnect");
	s->io.close(s->io.ctx);
}

void pop3_bad_command(struct pop3_session *s, const char *text)
{
	s->bad_commands++;
	if (s->bad_commands >= POP3_BAD_COMMANDS_MAX) {
		pop3_log(s, LOG_LEVEL_WARN, "event=too-many-bad-commands");
		pop3_reply(s, "-ERR %s; too many bad commands, closing", text);
		pop3_close(s);
		return;
	}
	pop3_reply(s, "-ERR %s", text);
}

void pop3_release_maildrop(struct pop3_session *s)
{
	if (s->locked) {
		s->be.unlock(s->be.ctx, s->acct.id, s->lock_token);
		s->locked = false;
	}
	free(s->entries);
	s->entries = NULL;
	free(s->deleted);
	s->deleted = NULL;
	s->n_entries = 0;
	s->n_deleted = 0;
}

void pop3_reply_delayed(struct pop3_session *s, unsigned ms, bool then_close,
			const char *text)
{
	snprintf(s->delayed_reply, sizeof(s->delayed_reply), "%s", text);
	s->delayed = true;
	s->delayed_close = then_close;
	s->io.delay(s->io.ctx, ms);
}

void pop3_session_resume(struct pop3_session *s)
{
	if (!s->delayed)
		return;
	s->delayed = false;
	pop3_reply(s, "%s", s->delayed_reply);
	if (s->delayed_close)
		pop3_close(s);
}

bool pop3_session_busy(const struct pop3_session *s)
{
	return s->closing || s->delayed || s->auth_waiting || s->tls_switching ||
	       s->stream.kind != POP3_STREAM_NONE ||
	       s->state == POP3_STATE_CLOSED;
}

bool pop3_session_streaming(const struct pop3_session *s)
{
	return !s->closing && s->stream.kind != POP3_STREAM_NONE;
}

size_t pop3_session_feed(struct pop3_session *s, const char *data, size_t len)
{
	size_t used = 0;

	while (used < len && !pop3_session_busy(s)) {
		bool sasl = s->auth_continuation;
		struct linereader *lr = sasl ? &s->auth_lr : &s->cmd_lr;
		enum line_status st;
		struct line line;
		used += linereader_feed(lr, data + used, len - used, &st, &line);
		if (st == LINE_AGAIN)
			continue;
		if (st == LINE_TOO_LONG) {
			if (sasl) {
				s->auth_continuation = false;
				pop3_bad_command(s, "[AUTH] response too long");
			} else {
				pop3_bad_command(s, "line too long");
			}
			continue;
		}
		if (sasl)
			pop3_auth_response(s, line.text);
		else
			pop3_command_line(s, line.text);
		if (s->tls_switching) {
			/* RFC 2595 4: whatever the client pipelined after STLS
			 * is dropped, never read as a command. */
			used = len;
			linereader_reset(&s->cmd_lr);
			linereader_reset(&s->auth_lr);
			break;
		}
	}
	return used;
}

void pop3_session_tls_started(struct pop3_session *s)
{
	s->tls_switching = false;
	s->tls_active = true;
	s->have_user = false;
	linereader_reset(&s->cmd_lr);
	linereader_reset(&s->auth_lr);
	pop3_log(s, LOG_LEVEL_DEBUG, "event=starttls");
}

void pop3_session_abort(struct pop3_session *s, const char *why)
{
	if (s->closing)
		return;
	/* Mid-answer an -ERR would read as message text: just close. */
	if (why != NULL && s->stream.kind == POP3_STREAM_NONE)
		pop3_reply(s, "-ERR %s", why);
	pop3_close(s);
}

enum pop3_state pop3_session_state(const struct pop3_session *s)
{
	return s->state;
}

void pop3_session_free(struct pop3_session **sp)
{
	struct pop3_session *s = *sp;
	if (s == NULL)
		return;
	pop3_stream_stop(s);
	pop3_release_maildrop(s);
	linereader_free(&s->cmd_lr);
	linereader_free(&s->auth_lr);
	explicit_bzero(s->user, sizeof(s->user));
	free(s);
	*sp = NULL;
}
