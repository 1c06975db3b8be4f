/*
 * commands.c - the POP3 command table, the one gate every command passes,
 * and the command handlers (RFC 1939, 2449 CAPA, 2595 STLS, 5034 AUTH).
 *
 * The gate checks, in order: syntax, a known keyword, the state, TLS, the
 * argument count, a message number that exists and is not deleted, and the
 * plaintext-login rule. Handlers run only after all of that, so none of
 * them re-checks. Unknown commands, commands out of state and syntax errors
 * count toward POP3_BAD_COMMANDS_MAX; a missing or deleted message does not
 * (that is a normal answer, clients race with their own DELE).
 *
 * SECURITY: PASS and AUTH lines carry secrets. They are never logged, the
 * line buffer and the decoded copy are wiped after use, and a wrong
 * password is answered only after a per-address growing delay
 * (pop3_penalty.c), with one fail2ban-readable warn line:
 *   session=ID ip=ADDR event=auth-failed user="NAME" fails=N
 */
#include "pop3_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pop3_parse.h"
#include "pop3_penalty.h"

#define AUTHZ (1u << POP3_STATE_AUTHORIZATION)
#define TRANS (1u << POP3_STATE_TRANSACTION)

static void cmd_capa(struct pop3_session *s, const struct pop3_call *c);
static void cmd_user(struct pop3_session *s, const struct pop3_call *c);
static void cmd_pass(struct pop3_session *s, const struct pop3_call *c);
static void cmd_auth(struct pop3_session *s, const struct pop3_call *c);
static void cmd_stls(struct pop3_session *s, const struct pop3_call *c);
static void cmd_quit(struct pop3_session *s, const struct pop3_call *c);
static void cmd_noop(struct pop3_session *s, const struct pop3_call *c);
static void cmd_stat(struct pop3_session *s, const struct pop3_call *c);
static void cmd_list(struct pop3_session *s, const struct pop3_call *c);
static void cmd_uidl(struct pop3_session *s, const struct pop3_call *c);
static void cmd_retr(struct pop3_session *s, const struct pop3_call *c);
static void cmd_top(struct pop3_session *s, const struct pop3_call *c);
static void cmd_dele(struct pop3_session *s, const struct pop3_call *c);
static void cmd_rset(struct pop3_session *s, const struct pop3_call *c);

static const struct pop3_command commands[] = {
	{.name = "CAPA", .run = cmd_capa, .states = AUTHZ | TRANS},
	{.name = "USER", .run = cmd_user, .states = AUTHZ, .min_args = 1,
	 .max_args = 1, .flags = POP3_CMD_REST | POP3_CMD_LOGIN},
	{.name = "PASS", .run = cmd_pass, .states = AUTHZ, .min_args = 1,
	 .max_args = 1,
	 .flags = POP3_CMD_REST | POP3_CMD_LOGIN | POP3_CMD_SECRET},
	{.name = "AUTH", .run = cmd_auth, .states = AUTHZ, .max_args = 2,
	 .flags = POP3_CMD_LOGIN | POP3_CMD_SECRET},
	{.name = "STLS", .run = cmd_stls, .states = AUTHZ,
	 .flags = POP3_CMD_BEFORE_TLS},
	{.name = "QUIT", .run = cmd_quit, .states = AUTHZ | TRANS},
	{.name = "NOOP", .run = cmd_noop, .states = TRANS},
	{.name = "STAT", .run = cmd_stat, .states = TRANS},
	{.name = "LIST", .run = cmd_list, .states = TRANS, .max_args = 1,
	 .flags = POP3_CMD_MSG},
	{.name = "UIDL", .run = cmd_uidl, .states = TRANS, .max_args = 1,
	 .flags = POP3_CMD_MSG},
	{.name = "RETR", .run = cmd_retr, .states = TRANS, .min_args = 1,
	 .max_args = 1, .flags = POP3_CMD_MSG},
	{.name = "TOP", .run = cmd_top, .states = TRANS, .min_args = 2,
	 .max_args = 2, .flags = POP3_CMD_MSG},
	{.name = "DELE", .run = cmd_dele, .states = TRANS, .min_args = 1,
	 .max_args = 1, .flags = POP3_CMD_MSG},
	{.name = "RSET", .run = cmd_rset, .states = TRANS},
};

const struct pop3_command *pop3_command_find(const char *keyword)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, keyword) == 0)
			return &commands[i];
	return NULL;
}

/* Plaintext login allowed on this connection (RFC 2595 / Dovecot rule). */
static bool login_allowed(const struct pop3_session *s)
{
	return s->tls_active || s->plaintext_ok;
}

/* The line buffers are ours (the line reader's pending buffer); the
 * const in struct slice is about parsing, not ownership. */
static void wipe(struct slice sl)
{
	if (sl.len > 0)
		explicit_bzero((void *)(uintptr_t)sl.ptr, sl.len);
}

void pop3_command_line(struct pop3_session *s, struct slice line)
{
	struct pop3_cmdline cl;
	const char *err;
	if (pop3_parse_line(line, &cl, &err) < 0) {
		pop3_bad_command(s, err);
		return;
	}
	const struct pop3_command *c = pop3_command_find(cl.keyword);
	if (c == NULL) {
		char esc[LOG_ESCAPED_MAX];
		pop3_log(s, LOG_LEVEL_DEBUG, "event=unknown-command cmd=\"%s\"",
			 log_escape(esc, sizeof(esc), cl.keyword,
				    strlen(cl.keyword)));
		pop3_bad_command(s, "unknown command");
		return;
	}
	pop3_log(s, LOG_LEVEL_DEBUG, "event=command cmd=%s", c->name);
	if (!(c->states & (1u << s->state))) {
		pop3_bad_command(s, "command not valid in this state");
		return;
	}
	if ((c->flags & POP3_CMD_BEFORE_TLS) && s->tls_active) {
		pop3_bad_command(s, "already using TLS");
		return;
	}
	struct pop3_call call;
	memset(&call, 0, sizeof(call));
	call.rest = cl.rest;
	if (c->flags & POP3_CMD_REST) {
		if (cl.rest.len == 0) {
			pop3_bad_command(s, "missing argument");
			return;
		}
		call.argc = 1;
		call.argv[0] = cl.rest;
	} else {
		int n = pop3_parse_args(cl.rest, call.argv, POP3_ARGS_MAX);
		if (n < c->min_args || n > c->max_args) {
			pop3_bad_command(s, "wrong number of arguments");
			return;
		}
		call.argc = n;
	}
	if ((c->flags & POP3_CMD_MSG) && call.argc >= 1) {
		uint32_t num;
		if (pop3_parse_msgnum(call.argv[0], &num) < 0) {
			pop3_bad_command(s, "invalid message number");
			return;
		}
		if (num > s->n_entries) {
			pop3_reply(s, "-ERR no such message, only %zu in maildrop",
				   s->n_entries);
			return;
		}
		if (s->deleted[num - 1]) {
			pop3_reply(s, "-ERR message %u already deleted", num);
			return;
		}
		call.msg = num - 1;
		call.has_msg = true;
	}
	if ((c->flags & POP3_CMD_LOGIN) && !login_allowed(s)) {
		pop3_log(s, LOG_LEVEL_INFO, "event=plaintext-login-refused");
		if (c->flags & POP3_CMD_SECRET)
			wipe(line);
		pop3_bad_command(s, "[AUTH] Plaintext authentication disallowed "
				    "on non-secure connections; use STLS");
		return;
	}
	c->run(s, &call);
	if (c->flags & POP3_CMD_SECRET)
		wipe(line);
}

/* ---- AUTHORIZATION ------------------------------------------------------ */

static void cmd_capa(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	char capa[256];
	snprintf(capa, sizeof(capa),
		 "+OK Capability list follows\r\n"
		 "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
		 "%s%s"
		 "IMPLEMENTATION Mailroom\r\n.\r\n",
		 login_allowed(s) ? "USER\r\nSASL PLAIN\r\n" : "",
		 s->tls_offer && !s->tls_active &&
				 s->state == POP3_STATE_AUTHORIZATION
			 ? "STLS\r\n"
			 : "");
	(void)pop3_write(s, capa, strlen(capa));
}

static void cmd_user(struct pop3_session *s, const struct pop3_call *c)
{
	if (slice_copy(c->argv[0], s->user, sizeof(s->user)) < 0) {
		s->have_user = false;
		pop3_bad_command(s, "[AUTH] user name too long");
		return;
	}
	s->have_user = true;
	pop3_reply(s, "+OK send PASS");
}

/* The end of a login once the password check answered (inline or from
 * the auth pool): the growing delay on failure, or the maildrop lock and
 * the snapshot. The lock comes before the snapshot, so the snapshot is
 * what this session alone will change. */
static void login_finish(struct pop3_session *s, int rc)
{
	char esc[LOG_ESCAPED_MAX];
	log_escape(esc, sizeof(esc), s->login_user, strlen(s->login_user));
	if (rc == STORE_AUTHFAIL) {
		uint32_t fails = 1;
		unsigned ms = POP3_PENALTY_BASE_MS;
		if (s->penalty != NULL)
			ms = pop3_penalty_fail(s->penalty, s->peer_ip,
					       (int64_t)time(NULL), &fails);
		s->auth_failures++;
		pop3_log(s, LOG_LEVEL_WARN,
			 "event=auth-failed user=\"%s\" method=%s fails=%u", esc,
			 s->login_method, (unsigned)fails);
		pop3_reply_delayed(s, ms, s->auth_failures >= POP3_AUTH_FAILS_MAX,
				   "-ERR [AUTH] invalid user name or password");
		return;
	}
	if (rc != STORE_OK) {
		pop3_log(s, LOG_LEVEL_ERROR, "event=auth-error user=\"%s\" rc=%d",
			 esc, rc);
		pop3_reply(s, "-ERR [SYS/TEMP] cannot check the password now; "
			      "try again later");
		return;
	}

	rc = s->be.lock(s->be.ctx, s->acct.id, s->lock_token);
	if (rc == STORE_LOCKED) {
		pop3_log(s, LOG_LEVEL_INFO, "event=maildrop-in-use user=\"%s\"",
			 esc);
		pop3_reply(s, "-ERR [IN-USE] maildrop already in use by another "
			      "session");
		return;
	}
	if (rc != STORE_OK) {
		pop3_log(s, LOG_LEVEL_ERROR, "event=lock-error user=\"%s\" rc=%d",
			 esc, rc);
		pop3_reply(s, "-ERR [SYS/TEMP] cannot lock the maildrop now");
		return;
	}
	s->locked = true;

	struct store_mailbox_entry *entries = NULL;
	size_t n = 0;
	rc = s->be.snapshot(s->be.ctx, s->acct.id, &entries, &n);
	if (rc != STORE_OK) {
		pop3_log(s, LOG_LEVEL_ERROR,
			 "event=snapshot-error user=\"%s\" rc=%d", esc, rc);
		free(entries);
		pop3_release_maildrop(s);
		pop3_reply(s, "-ERR [SYS/TEMP] cannot read the maildrop now");
		return;
	}
	if (n > POP3_MAILDROP_MAX)
		n = POP3_MAILDROP_MAX; /* the rest shows after deletions */
	s->deleted = calloc(n > 0 ? n : 1, 1);
	if (s->deleted == NULL) {
		free(entries);
		pop3_release_maildrop(s);
		pop3_reply(s, "-ERR [SYS/TEMP] out of memory");
		return;
	}
	s->entries = entries;
	s->n_entries = n;
	s->total_octets = 0;
	for (size_t i = 0; i < n; i++)
		s->total_octets += entries[i].size;
	if (s->penalty != NULL)
		pop3_penalty_clear(s->penalty, s->peer_ip);
	pop3_set_state(s, POP3_STATE_TRANSACTION);
	pop3_log(s, LOG_LEVEL_INFO,
		 "event=login user=\"%s\" method=%s tls=%s messages=%zu octets=%lld",
		 esc, s->login_method, s->tls_active ? "yes" : "no", n,
		 (long long)s->total_octets);
	pop3_reply(s, "+OK maildrop has %zu messages (%lld octets)", n,
		   (long long)s->total_octets);
}

void pop3_session_auth_done(struct pop3_session *s, int rc,
			    const struct pop3_account *acct)
{
	if (!s->auth_waiting)
		return;
	s->auth_waiting = false;
	if (s->closing)
		return;
	if (rc == STORE_OK)
		s->acct = *acct;
	login_finish(s, rc);
}

/* Start a login: the per-address lockout, then the password check,
 * inline or on the driver's auth pool. */
static void login(struct pop3_session *s, const char *user, size_t user_len,
		  struct slice password, const char *method)
{
	char pw[PASSWORD_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	bool valid = user_len <= ADDR_MAX && password.len <= PASSWORD_MAX &&
		     memchr(user, '\0', user_len) == NULL &&
		     memchr(password.ptr, '\0', password.len) == NULL;

	s->login_method = method;
	size_t keep = user_len <= ADDR_MAX ? user_len : ADDR_MAX;
	for (size_t i = 0; i < keep; i++) {
		char ch = user[i];
		s->login_user[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	s->login_user[keep] = '\0';

	if (s->penalty != NULL && pop3_penalty_locked(s->penalty, s->peer_ip, now)) {
		char esc[LOG_ESCAPED_MAX];
		log_escape(esc, sizeof(esc), s->login_user, keep);
		pop3_log(s, LOG_LEVEL_WARN,
			 "event=auth-failed user=\"%s\" reason=login-delay", esc);
		s->auth_failures++;
		pop3_reply(s, "-ERR [LOGIN-DELAY] too many failed logins from "
			      "your address; try again later");
		if (s->auth_failures >= POP3_AUTH_FAILS_MAX)
			pop3_close(s);
		return;
	}
	if (!valid) {
		login_finish(s, STORE_AUTHFAIL);
		return;
	}
	memcpy(pw, password.ptr, password.len);
	pw[password.len] = '\0';
	if (s->io.auth_start != NULL) {
		s->auth_waiting = true;
		int rc = s->io.auth_start(s->io.ctx, s->login_user, pw);
		explicit_bzero(pw, sizeof(pw));
		if (rc < 0) {
			s->auth_waiting = false;
			login_finish(s, STORE_ERROR);
		}
		return;
	}
	int rc = s->be.authenticate(s->be.ctx, s->login_user, pw, &s->acct);
	explicit_bzero(pw, sizeof(pw));
	login_finish(s, rc);
}

static void cmd_pass(struct pop3_session *s, const struct pop3_call *c)
{
	if (!s->have_user) {
		pop3_bad_command(s, "give USER first");
		return;
	}
	s->have_user = false;
	login(s, s->user, strlen(s->user), c->argv[0], "USER");
}

/* RFC 4616: [authzid] NUL authcid NUL passwd, base64 in RFC 5034. */
static void plain_response(struct pop3_session *s, struct slice b64)
{
	unsigned char raw[AUTH_LINE_MAX];
	int n = -1;
	if (!(b64.len == 1 && b64.ptr[0] == '='))
		n = base64_decode(b64, raw, sizeof(raw));
	const unsigned char *nul1 = n > 0 ? memchr(raw, '\0', (size_t)n) : NULL;
	const unsigned char *nul2 =
		nul1 ? memchr(nul1 + 1, '\0', (size_t)(raw + n - nul1 - 1))
		     : NULL;
	if (nul2 == NULL) {
		explicit_bzero(raw, sizeof(raw));
		pop3_bad_command(s, "[AUTH] malformed PLAIN response");
		return;
	}
	const char *authz = (const char *)raw;
	size_t authz_len = (size_t)(nul1 - raw);
	const char *user = (const char *)nul1 + 1;
	size_t user_len = (size_t)(nul2 - nul1 - 1);
	struct slice pw = {(const char *)nul2 + 1, (size_t)(raw + n - nul2 - 1)};
	if (authz_len != 0 &&
	    (authz_len != user_len || memcmp(authz, user, user_len) != 0)) {
		explicit_bzero(raw, sizeof(raw));
		pop3_reply(s, "-ERR [AUTH] acting as another user is not allowed");
		return;
	}
	login(s, user, user_len, pw, "PLAIN");
	explicit_bzero(raw, sizeof(raw));
}

static void cmd_auth(struct pop3_session *s, const struct pop3_call *c)
{
	if (c->argc == 0) {
		/* Not in RFC 5034, but clients written for RFC 1734 ask
		 * this way for the mechanism list. */
		static const char list[] = "+OK\r\nPLAIN\r\n.\r\n";
		(void)pop3_write(s, list, sizeof(list) - 1);
		return;
	}
	if (!slice_eq_nocase(c->argv[0], "PLAIN")) {
		pop3_bad_command(s, "unsupported authentication mechanism");
		return;
	}
	if (c->argc == 2) {
		plain_response(s, c->argv[1]);
		return;
	}
	s->auth_continuation = true;
	(void)pop3_write(s, "+ \r\n", 4);
}

void pop3_auth_response(struct pop3_session *s, struct slice line)
{
	s->auth_continuation = false;
	if (line.len == 1 && line.ptr[0] == '*')
		pop3_reply(s, "-ERR authentication cancelled");
	else
		plain_response(s, line);
	wipe(line);
}

static void cmd_stls(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	if (!s->tls_offer) {
		pop3_reply(s, "-ERR [SYS/PERM] TLS is not available");
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	if (s->closing)
		return;
	s->tls_switching = true;
	s->io.start_tls(s->io.ctx);
}

static void cmd_quit(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	if (s->state != POP3_STATE_TRANSACTION) {
		pop3_reply(s, "+OK Mailroom POP3 server signing off");
		pop3_close(s);
		return;
	}
	/* RFC 1939 6: the UPDATE state removes what DELE marked, here in
	 * one store transaction (all or nothing). */
	pop3_set_state(s, POP3_STATE_UPDATE);
	int rc = STORE_OK;
	if (s->n_deleted > 0) {
		int64_t *ids = malloc(s->n_deleted * sizeof(*ids));
		size_t k = 0;
		if (ids == NULL) {
			rc = STORE_ERROR;
		} else {
			for (size_t i = 0; i < s->n_entries; i++)
				if (s->deleted[i])
					ids[k++] = s->entries[i].id;
			rc = s->be.remove(s->be.ctx, s->acct.id, ids, k);
			free(ids);
		}
	}
	if (rc == STORE_OK) {
		pop3_log(s, LOG_LEVEL_INFO, "event=logout deleted=%zu",
			 s->n_deleted);
		pop3_reply(s, "+OK Mailroom POP3 server signing off (%zu "
			      "messages deleted)", s->n_deleted);
	} else {
		pop3_log(s, LOG_LEVEL_ERROR, "event=update-failed rc=%d", rc);
		pop3_reply(s, "-ERR [SYS/TEMP] deleted messages were not removed; "
			      "they stay in the maildrop");
	}
	pop3_close(s);
}

/* ---- TRANSACTION -------------------------------------------------------- */

static void cmd_noop(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	pop3_reply(s, "+OK");
}

static void cmd_stat(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	pop3_reply(s, "+OK %zu %lld", s->n_entries - s->n_deleted,
		   (long long)(s->total_octets - s->deleted_octets));
}

static void cmd_list(struct pop3_session *s, const struct pop3_call *c)
{
	if (c->has_msg) {
		pop3_reply(s, "+OK %zu %lld", c->msg + 1,
			   (long long)s->entries[c->msg].size);
		return;
	}
	pop3_reply(s, "+OK %zu messages (%lld octets)",
		   s->n_entries - s->n_deleted,
		   (long long)(s->total_octets - s->deleted_octets));
	pop3_stream_start_list(s, POP3_STREAM_LIST);
}

static void cmd_uidl(struct pop3_session *s, const struct pop3_call *c)
{
	if (c->has_msg) {
		char uid[24];
		pop3_uid_text(s, c->msg, uid, sizeof(uid));
		pop3_reply(s, "+OK %zu %s", c->msg + 1, uid);
		return;
	}
	pop3_reply(s, "+OK unique-id listing follows");
	pop3_stream_start_list(s, POP3_STREAM_UIDL);
}

static void cmd_retr(struct pop3_session *s, const struct pop3_call *c)
{
	(void)pop3_stream_start_body(s, c->msg, false, 0);
}

static void cmd_top(struct pop3_session *s, const struct pop3_call *c)
{
	uint32_t lines;
	if (pop3_parse_count(c->argv[1], &lines) < 0) {
		pop3_bad_command(s, "invalid line count");
		return;
	}
	(void)pop3_stream_start_body(s, c->msg, true, lines);
}

static void cmd_dele(struct pop3_session *s, const struct pop3_call *c)
{
	s->deleted[c->msg] = 1;
	s->n_deleted++;
	s->deleted_octets += s->entries[c->msg].size;
	pop3_reply(s, "+OK message %zu deleted", c->msg + 1);
}

static void cmd_rset(struct pop3_session *s, const struct pop3_call *c)
{
	(void)c;
	memset(s->deleted, 0, s->n_entries > 0 ? s->n_entries : 1);
	s->n_deleted = 0;
	s->deleted_octets = 0;
	pop3_reply(s, "+OK maildrop has %zu messages (%lld octets)",
		   s->n_entries, (long long)s->total_octets);
}
