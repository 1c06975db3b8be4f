/*
 * smtp_cmd.c - the SMTP command table, the one gate in front of it, and the
 * command handlers (RFC 5321 4.1.1, 3207, 4954, 1870, 6152, 6531).
 *
 * SECURITY: smtp_cmd_dispatch() is the only way a command runs. The gate
 * checks, in this order: syntax and length, the table entry, the states it
 * is allowed in, TLS (submission ports), AUTH (submission ports), the junk
 * count. Handlers therefore never re-check state, TLS or login. Relay
 * policy lives in cmd_rcpt: a domain that is not local is accepted only
 * from an authenticated session; relay forms are refused outright.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/log.h"
#include "smtp_parse.h"
#include "smtp_session_int.h"

enum {
	CMD_BEFORE_TLS = 1 << 0,  /* allowed before STARTTLS on 587 */
	CMD_BEFORE_AUTH = 1 << 1, /* allowed before AUTH on 587/465 */
	CMD_JUNK = 1 << 2,        /* counts toward SMTP_JUNK_MAX */
	CMD_ENDS_GROUP = 1 << 3,  /* RFC 2920: last command of a group */
	CMD_NO_MX = 1 << 4,       /* not offered on the MX port */
	CMD_NEEDS_TLS_CTX = 1 << 5, /* only when a certificate is loaded */
	CMD_NOT_UNDER_TLS = 1 << 6, /* STARTTLS twice */
	CMD_LONG_LINE = 1 << 7,   /* may exceed 512 octets (AUTH IR) */
};

struct smtp_cmd {
	const char *name;
	void (*run)(struct smtp_session *s, struct slice args);
	unsigned states; /* SMTP_STATE_BIT() mask */
	unsigned flags;
	const char *need_tls_reply; /* NULL: the default 530 */
};

/* ---- helpers ------------------------------------------------------------- */

static bool needs_tls(const struct smtp_session *s)
{
	return s->cfg.kind != SMTP_PORT_MX && !s->tls;
}

static bool needs_auth(const struct smtp_session *s)
{
	return s->cfg.kind != SMTP_PORT_MX && !s->authed;
}

static void log_client_text(struct smtp_session *s, const char *event,
			    struct slice text)
{
	char esc[LOG_ESCAPED_MAX];
	log_escape(esc, sizeof(esc), text.ptr, text.len);
	log_info("session=%s ip=%s event=%s text=\"%s\"", s->id, s->ip, event,
		 esc);
}

/* ---- EHLO / HELO ----------------------------------------------------------- */

static bool helo_arg_ok(struct slice a)
{
	if (a.len == 0 || a.len > SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (a.ptr[i] == ' ' || a.ptr[i] == '\t')
			return false;
	return true;
}

static void greet_common(struct smtp_session *s, struct slice args, bool esmtp)
{
	if (!helo_arg_ok(args)) {
		smtp_reply_error(s, "501 5.5.4 Syntax: %s hostname",
				 esmtp ? "EHLO" : "HELO");
		return;
	}
	memcpy(s->helo, args.ptr, args.len);
	s->helo[args.len] = '\0';
	s->esmtp = esmtp;
	smtp_txn_reset(s);
	smtp_set_state(s, SMTP_S_READY);
	char esc[LOG_ESCAPED_MAX];
	log_escape(esc, sizeof(esc), args.ptr, args.len);
	log_debug("session=%s ip=%s event=%s name=\"%s\"", s->id, s->ip,
		  esmtp ? "ehlo" : "helo", esc);
}

static void cmd_helo(struct smtp_session *s, struct slice args)
{
	greet_common(s, args, false);
	if (s->state == SMTP_S_READY)
		smtp_reply(s, "250 %s", s->cfg.hostname);
}

static void cmd_ehlo(struct smtp_session *s, struct slice args)
{
	greet_common(s, args, true);
	if (s->state != SMTP_S_READY)
		return;
	char esc[SMTP_HELO_MAX + 1];
	size_t o = 0;
	for (size_t i = 0; i < args.len && o + 1 < sizeof(esc); i++) {
		unsigned char c = (unsigned char)args.ptr[i];
		esc[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	esc[o] = '\0';
	smtp_reply(s, "250-%s Hello %s [%s]", s->cfg.hostname, esc, s->ip);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %lld", (long long)s->cfg.size_limit);
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250-SMTPUTF8");
	smtp_reply(s, "250-CHUNKING");
	if (s->cfg.tls_available && !s->tls)
		smtp_reply(s, "250-STARTTLS");
	if (s->cfg.kind != SMTP_PORT_MX && s->tls && !s->authed)
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250 ENHANCEDSTATUSCODES");
}

/* ---- MAIL ------------------------------------------------------------------ */

static bool has_non_ascii(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return true;
	return false;
}

static void cmd_mail(struct smtp_session *s, struct slice args)
{
	struct smtp_path path;
	enum smtp_path_result r =
		smtp_path_parse(args, "FROM:", ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL,
				&path);
	switch (r) {
	case SMTP_PATH_OK:
	case SMTP_PATH_NULL:
		break;
	case SMTP_PATH_PARAMS:
		smtp_reply_error(s, "501 5.5.4 Syntax error in parameters: %s",
				 path.error);
		return;
	case SMTP_PATH_SYNTAX:
		smtp_reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	default:
		smtp_reply_error(s, "553 5.1.7 Bad sender address syntax");
		return;
	}
	if (!s->esmtp && path.n_params > 0) {
		smtp_reply_error(s, "555 5.5.4 Parameters need EHLO");
		return;
	}
	bool size_seen = false, body_seen = false, utf8 = false;
	int64_t size = 0;
	for (size_t i = 0; i < path.n_params; i++) {
		const struct smtp_param *p = &path.params[i];
		if (slice_eq_nocase(p->key, "SIZE")) {
			if (size_seen || !p->has_value ||
			    smtp_parse_decimal(p->value, &size) < 0) {
				smtp_reply_error(s, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			size_seen = true;
		} else if (slice_eq_nocase(p->key, "BODY")) {
			if (body_seen || !p->has_value ||
			    (!slice_eq_nocase(p->value, "7BIT") &&
			     !slice_eq_nocase(p->value, "8BITMIME"))) {
				smtp_reply_error(s, "555 5.5.4 Unsupported BODY parameter");
				return;
			}
			body_seen = true;
			s->txn.body_8bit = slice_eq_nocase(p->value, "8BITMIME");
		} else if (slice_eq_nocase(p->key, "SMTPUTF8")) {
			if (utf8 || p->has_value) {
				smtp_reply_error(s, "501 5.5.4 Bad SMTPUTF8 parameter");
				return;
			}
			utf8 = true;
		} else if (slice_eq_nocase(p->key, "AUTH")) {
			/* RFC 4954 5: accepted, not trusted, not kept. */
		} else {
			char esc[LOG_ESCAPED_MAX];
			log_escape(esc, sizeof(esc), p->key.ptr, p->key.len);
			smtp_reply_error(s, "555 5.5.4 Unsupported parameter %s", esc);
			return;
		}
	}
	if (size > s->cfg.size_limit) {
		smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	const char *sender = r == SMTP_PATH_NULL ? "" : path.addr.full;
	/* path.non_ascii: a U-label domain is ASCII in sender by now. */
	if (!utf8 && (has_non_ascii(sender) || path.non_ascii)) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	if (s->authed && sender[0] != '\0') {
		/* RFC 6409 6.1: the sender must be the user's own address or
		 * one of the aliases that deliver to them. */
		struct store_expansion e;
		memset(&e, 0, sizeof(e));
		int er = s->host->expand(s->ctx, sender, 0, &e);
		bool owned = false;
		if (er == STORE_OK)
			for (size_t i = 0; i < e.n_local && !owned; i++)
				owned = e.local_ids[i] == s->account_id;
		if (er == STORE_OK)
			store_expansion_free(&e);
		if (!owned && store_result_is_temporary(er)) {
			smtp_reply(s, "451 4.3.0 Temporary local problem, try again later");
			return;
		}
		if (!owned) {
			char esc[LOG_ESCAPED_MAX];
			log_escape(esc, sizeof(esc), sender, strlen(sender));
			log_warn("session=%s ip=%s event=sender-denied from=<%s> user=\"%s\"",
				 s->id, s->ip, esc, s->user);
			smtp_reply_error(s, "553 5.7.1 Sender address not owned by the authenticated user");
			return;
		}
	}
	struct smtp_txn *t = &s->txn;
	smtp_txn_reset(s);
	t->active = true;
	snprintf(t->sender, sizeof(t->sender), "%s", sender);
	t->declared_size = size;
	t->smtputf8 = utf8;
	t->body_8bit = body_seen && t->body_8bit;
	smtp_set_state(s, SMTP_S_MAIL);
	if (s->host->mail_from != NULL) /* SPF runs while RCPT/DATA arrive */
		s->host->mail_from(s->ctx, s->helo, t->sender, s->authed);
	smtp_reply(s, "250 2.1.0 Ok");
}

/* ---- RCPT ------------------------------------------------------------------ */

/* <postmaster>: postmaster@ the domain of our hostname (mail.x.y -> x.y). */
static void postmaster_address(const struct smtp_session *s, char *dst,
			       size_t dstlen)
{
	const char *h = s->cfg.hostname;
	const char *dot = strchr(h, '.');
	if (dot != NULL && strchr(dot + 1, '.') != NULL)
		h = dot + 1;
	snprintf(dst, dstlen, "postmaster@%s", h);
	for (char *p = dst; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

static void cmd_rcpt(struct smtp_session *s, struct slice args)
{
	struct smtp_txn *t = &s->txn;
	if (t->n_rcpts >= (size_t)s->cfg.max_recipients) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	struct smtp_path path;
	enum smtp_path_result r =
		smtp_path_parse(args, "TO:", ADDR_ALLOW_UTF8 | ADDR_ALLOW_ULABEL,
				&path);
	char pm[ADDR_MAX + 1];
	const char *rcpt = path.addr.full;
	switch (r) {
	case SMTP_PATH_OK:
		break;
	case SMTP_PATH_POSTMASTER:
		postmaster_address(s, pm, sizeof(pm));
		rcpt = pm;
		break;
	case SMTP_PATH_RELAY:
		log_client_text(s, "relay-denied", args);
		smtp_reply_error(s, "554 5.7.1 Relay access denied: %s", path.error);
		return;
	case SMTP_PATH_SYNTAX:
		smtp_reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	case SMTP_PATH_PARAMS:
		smtp_reply_error(s, "501 5.5.4 Syntax error in parameters: %s",
				 path.error);
		return;
	default:
		smtp_reply_error(s, "501 5.1.3 Bad recipient address syntax");
		return;
	}
	if (path.n_params > 0) {
		smtp_reply_error(s, "555 5.5.4 Unsupported RCPT parameter");
		return;
	}
	if (!t->smtputf8 && (has_non_ascii(rcpt) || path.non_ascii)) {
		smtp_reply_error(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		return;
	}
	struct store_expansion e;
	memset(&e, 0, sizeof(e));
	int er = s->host->expand(s->ctx, rcpt, t->declared_size, &e);
	int added = 0;
	switch (er) {
	case STORE_OK:
		if (e.over_quota) {
			store_expansion_free(&e);
			smtp_reply(s, "452 4.2.2 Mailbox full");
			return;
		}
		if (s->host->rcpt_check != NULL) {
			const char *no = s->host->rcpt_check(s->ctx, t->sender,
							     rcpt, s->authed);
			if (no != NULL) { /* greylisting: temporary, not an error */
				store_expansion_free(&e);
				smtp_reply(s, "%s", no);
				return;
			}
		}
		if (s->host->rules_rcpt != NULL) {
			const char *no = s->host->rules_rcpt(s->ctx, t->sender, rcpt, &e);
			if (no != NULL) {
				store_expansion_free(&e);
				log_info("session=%s ip=%s event=rcpt-rejected-by-rules "
					 "to=<%s>", s->id, s->ip, rcpt);
				smtp_reply_error(s, "550 5.7.1 %s", no);
				return;
			}
		}
		added = smtp_txn_add(s, &e, NULL);
		store_expansion_free(&e);
		break;
	case STORE_NOTFOUND: {
		char esc[LOG_ESCAPED_MAX];
		log_escape(esc, sizeof(esc), rcpt, strlen(rcpt));
		log_info("session=%s ip=%s event=rcpt-unknown to=<%s>", s->id,
			 s->ip, esc);
		smtp_reply_error(s, "550 5.1.1 <%s>: Recipient address rejected: "
				    "User unknown", rcpt);
		return;
	}
	case STORE_INVALID:
		if (!s->authed) {
			char esc[LOG_ESCAPED_MAX];
			log_escape(esc, sizeof(esc), rcpt, strlen(rcpt));
			log_warn("session=%s ip=%s event=relay-denied to=<%s>",
				 s->id, s->ip, esc);
			smtp_reply_error(s, "554 5.7.1 <%s>: Relay access denied", rcpt);
			return;
		}
		added = smtp_txn_add(s, NULL, rcpt);
		break;
	case STORE_TOOMANY:
		smtp_reply(s, "452 4.5.3 Too many recipients (alias expansion)");
		return;
	default:
		smtp_reply(s, "451 4.3.0 Temporary local problem, try again later");
		return;
	}
	if (added < 0) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (t->n_rcpts == 0)
		snprintf(t->first_rcpt, sizeof(t->first_rcpt), "%s", rcpt);
	t->n_rcpts++;
	smtp_set_state(s, SMTP_S_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
}

/* ---- DATA, RSET, NOOP, QUIT, VRFY, EXPN, HELP --------------------------------- */

static void cmd_data(struct smtp_session *s, struct slice args)
{
	if (args.len > 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: DATA takes no arguments");
		return;
	}
	if (s->state != SMTP_S_RCPT) {
		smtp_reply_error(s, "554 5.5.1 No valid recipients");
		return;
	}
	if (smtp_data_start(s, false) < 0)
		return;
	smtp_set_state(s, SMTP_S_DATA);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/*
 * BDAT size [LAST] (RFC 3030). The size was parsed and the chunk set up to
 * be discarded before the gate ran (smtp_cmd_dispatch); accepting the
 * chunk is this handler's job.
 */
static void cmd_bdat(struct smtp_session *s, struct slice args)
{
	(void)args;
	if (s->state == SMTP_S_MAIL) {
		smtp_reply_error(s, "554 5.5.1 No valid recipients");
		return;
	}
	if (s->state == SMTP_S_RCPT) {
		if (smtp_data_start(s, true) < 0)
			return;
		smtp_set_state(s, SMTP_S_BDAT);
	}
	s->chunk_discard = false;
	if (s->chunk_remaining == 0)
		smtp_chunk_finished(s);
}

/* "size" or "size LAST"; -1 when it cannot be read (then nothing can be
 * known about where the chunk ends). */
static int bdat_args(struct slice args, int64_t *size_r, bool *last_r)
{
	const char *sp = memchr(args.ptr, ' ', args.len);
	struct slice num = {args.ptr, sp ? (size_t)(sp - args.ptr) : args.len};
	*last_r = false;
	if (sp != NULL) {
		struct slice rest = {sp + 1, args.len - num.len - 1};
		if (!slice_eq_nocase(rest, "LAST"))
			return -1;
		*last_r = true;
	}
	return smtp_parse_decimal(num, size_r);
}

static void cmd_rset(struct smtp_session *s, struct slice args)
{
	(void)args;
	smtp_txn_reset(s);
	if (s->state != SMTP_S_HELO)
		smtp_set_state(s, SMTP_S_READY);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s, struct slice args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s, struct slice args)
{
	(void)args;
	smtp_txn_reset(s);
	smtp_close(s, "221 2.0.0 Bye");
}

static void cmd_vrfy(struct smtp_session *s, struct slice args)
{
	(void)args;
	/* RFC 5321 3.5.3: never confirm or deny an account. */
	smtp_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtp_session *s, struct slice args)
{
	(void)args;
	smtp_reply_error(s, "502 5.5.1 EXPN not available");
}

static void cmd_help(struct smtp_session *s, struct slice args)
{
	(void)args;
	smtp_reply(s, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT");
	smtp_reply(s, "214 2.0.0 VRFY HELP STARTTLS AUTH; see RFC 5321");
}

/* ---- STARTTLS ---------------------------------------------------------------- */

static void cmd_starttls(struct smtp_session *s, struct slice args)
{
	if (args.len > 0) {
		smtp_reply_error(s, "501 5.5.4 Syntax: STARTTLS takes no arguments");
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	smtp_txn_reset(s);
	/* From here every byte until the handshake is thrown away. */
	linereader_reset(&s->lr);
	smtp_set_state(s, SMTP_S_TLS);
	s->host->starttls(s->ctx);
}

/* ---- AUTH (RFC 4954: PLAIN RFC 4616, LOGIN) ------------------------------------ */

/* Hand user/password to the host; wipes nothing itself (callers do). */
static void auth_submit(struct smtp_session *s, const char *user,
			size_t ulen, const char *pass)
{
	struct addr a;
	const char *err;
	char raw[ADDR_MAX + 1];
	const char *u;
	if (addr_parse(user, ulen, ADDR_ALLOW_UTF8, &a, &err) == 0) {
		u = a.full;
	} else {
		size_t n = ulen < ADDR_MAX ? ulen : ADDR_MAX;
		memcpy(raw, user, n);
		raw[n] = '\0';
		u = raw;
	}
	smtp_set_state(s, SMTP_S_AUTH_WAIT);
	s->host->auth(s->ctx, u, pass);
}

static void auth_fail_syntax(struct smtp_session *s, const char *reply)
{
	smtp_set_state(s, SMTP_S_READY);
	explicit_bzero(s->auth_user, sizeof(s->auth_user));
	smtp_reply_error(s, "%s", reply);
}

/* PLAIN message: [authzid] NUL authcid NUL passwd. */
static void auth_plain(struct smtp_session *s, const unsigned char *m, size_t n)
{
	const unsigned char *nul1 = memchr(m, '\0', n);
	const unsigned char *nul2 =
		nul1 ? memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - m)) : NULL;
	if (nul2 == NULL || memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - m))) {
		auth_fail_syntax(s, "501 5.5.2 Malformed PLAIN response");
		return;
	}
	size_t zlen = (size_t)(nul1 - m);
	const char *user = (const char *)nul1 + 1;
	size_t ulen = (size_t)(nul2 - nul1 - 1);
	size_t plen = n - (size_t)(nul2 + 1 - m);
	if (ulen == 0 || ulen > ADDR_MAX || plen > PASSWORD_MAX ||
	    (zlen > 0 && (zlen != ulen || memcmp(m, user, ulen) != 0))) {
		auth_fail_syntax(s, "535 5.7.8 Authentication credentials invalid");
		return;
	}
	char pass[PASSWORD_MAX + 1];
	memcpy(pass, nul2 + 1, plen);
	pass[plen] = '\0';
	auth_submit(s, user, ulen, pass);
	explicit_bzero(pass, sizeof(pass));
}

/* Decode one client response; -1 (reply sent) on '*' or bad base64. */
static long auth_decode(struct smtp_session *s, struct slice line,
			unsigned char *dst, size_t dstlen)
{
	if (line.len == 1 && line.ptr[0] == '*') {
		auth_fail_syntax(s, "501 5.0.0 Authentication cancelled");
		return -1;
	}
	if (line.len == 1 && line.ptr[0] == '=')
		return 0;
	long n = base64_decode(line, dst, dstlen);
	if (n < 0)
		auth_fail_syntax(s, "501 5.5.2 Cannot decode response");
	return n;
}

void smtp_auth_continue(struct smtp_session *s, struct slice line)
{
	unsigned char dec[AUTH_LINE_MAX];
	long n = auth_decode(s, line, dec, sizeof(dec));
	if (n < 0)
		return;
	switch (s->auth_step) {
	case SMTP_AUTH_PLAIN:
		auth_plain(s, dec, (size_t)n);
		break;
	case SMTP_AUTH_LOGIN_USER:
		if (n == 0 || (size_t)n > ADDR_MAX || memchr(dec, '\0', (size_t)n)) {
			auth_fail_syntax(s, "535 5.7.8 Authentication credentials invalid");
			break;
		}
		memcpy(s->auth_user, dec, (size_t)n);
		s->auth_user[n] = '\0';
		s->auth_step = SMTP_AUTH_LOGIN_PASS;
		smtp_reply(s, "334 UGFzc3dvcmQ6");
		break;
	case SMTP_AUTH_LOGIN_PASS: {
		if ((size_t)n > PASSWORD_MAX || memchr(dec, '\0', (size_t)n)) {
			auth_fail_syntax(s, "535 5.7.8 Authentication credentials invalid");
			break;
		}
		char pass[PASSWORD_MAX + 1];
		memcpy(pass, dec, (size_t)n);
		pass[n] = '\0';
		char user[ADDR_MAX + 1];
		memcpy(user, s->auth_user, sizeof(user));
		explicit_bzero(s->auth_user, sizeof(s->auth_user));
		auth_submit(s, user, strlen(user), pass);
		explicit_bzero(pass, sizeof(pass));
		break;
	}
	}
	explicit_bzero(dec, sizeof(dec));
}

static void cmd_auth(struct smtp_session *s, struct slice args)
{
	if (s->authed) {
		smtp_reply_error(s, "503 5.5.1 Already authenticated");
		return;
	}
	const char *sp = memchr(args.ptr, ' ', args.len);
	struct slice mech = {args.ptr, sp ? (size_t)(sp - args.ptr) : args.len};
	struct slice ir = {sp ? sp + 1 : args.ptr + args.len,
			   sp ? args.len - mech.len - 1 : 0};
	if (slice_eq_nocase(mech, "PLAIN")) {
		s->auth_step = SMTP_AUTH_PLAIN;
	} else if (slice_eq_nocase(mech, "LOGIN")) {
		s->auth_step = SMTP_AUTH_LOGIN_USER;
	} else {
		smtp_reply_error(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	smtp_set_state(s, SMTP_S_AUTH);
	if (ir.len > 0) {
		smtp_auth_continue(s, ir);
		return;
	}
	smtp_reply(s, s->auth_step == SMTP_AUTH_PLAIN ? "334 " : "334 VXNlcm5hbWU6");
}

/* ---- the table and the gate -------------------------------------------------- */

#define LINE SMTP_LINE_STATES
#define BIT SMTP_STATE_BIT
#define AFTER_HELO (BIT(SMTP_S_READY) | BIT(SMTP_S_MAIL) | BIT(SMTP_S_RCPT))

static const struct smtp_cmd smtp_commands[] = {
	{.name = "EHLO", .run = cmd_ehlo, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_ENDS_GROUP},
	{.name = "HELO", .run = cmd_helo, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_ENDS_GROUP},
	{.name = "MAIL", .run = cmd_mail, .states = BIT(SMTP_S_READY)},
	{.name = "RCPT", .run = cmd_rcpt,
	 .states = BIT(SMTP_S_MAIL) | BIT(SMTP_S_RCPT)},
	{.name = "DATA", .run = cmd_data,
	 .states = BIT(SMTP_S_MAIL) | BIT(SMTP_S_RCPT), .flags = CMD_ENDS_GROUP},
	{.name = "BDAT", .run = cmd_bdat,
	 .states = BIT(SMTP_S_MAIL) | BIT(SMTP_S_RCPT) | BIT(SMTP_S_BDAT)},
	{.name = "RSET", .run = cmd_rset, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_JUNK},
	{.name = "NOOP", .run = cmd_noop, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_JUNK | CMD_ENDS_GROUP},
	{.name = "QUIT", .run = cmd_quit, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_ENDS_GROUP},
	{.name = "VRFY", .run = cmd_vrfy, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_JUNK | CMD_ENDS_GROUP},
	{.name = "EXPN", .run = cmd_expn, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_JUNK | CMD_ENDS_GROUP},
	{.name = "HELP", .run = cmd_help, .states = LINE,
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_JUNK | CMD_ENDS_GROUP},
	{.name = "STARTTLS", .run = cmd_starttls, .states = BIT(SMTP_S_READY),
	 .flags = CMD_BEFORE_TLS | CMD_BEFORE_AUTH | CMD_ENDS_GROUP |
		  CMD_NEEDS_TLS_CTX | CMD_NOT_UNDER_TLS},
	{.name = "AUTH", .run = cmd_auth, .states = BIT(SMTP_S_READY),
	 .flags = CMD_BEFORE_AUTH | CMD_ENDS_GROUP | CMD_NO_MX | CMD_LONG_LINE,
	 .need_tls_reply = "538 5.7.11 Encryption required for requested "
			   "authentication mechanism"},
};

static const struct smtp_cmd *cmd_find(struct slice verb)
{
	for (size_t i = 0; i < sizeof(smtp_commands) / sizeof(smtp_commands[0]); i++)
		if (slice_eq_nocase(verb, smtp_commands[i].name))
			return &smtp_commands[i];
	return NULL;
}

void smtp_cmd_dispatch(struct smtp_session *s, struct slice line, bool more)
{
	struct smtp_cmdline cl;
	switch (smtp_cmdline_parse(line, &cl)) {
	case SMTP_CMDLINE_OK:
		break;
	case SMTP_CMDLINE_CONTROL:
		if (line.len >= 4 && slice_eq_nocase((struct slice){line.ptr, 4}, "BDAT")) {
			/* cannot tell where its chunk ends: do not guess */
			smtp_close(s, "421 4.5.0 Malformed BDAT command, closing connection");
			return;
		}
		smtp_reply_error(s, "500 5.5.2 Syntax error: control character in command");
		return;
	case SMTP_CMDLINE_EMPTY:
	case SMTP_CMDLINE_BAD_VERB:
		smtp_reply_error(s, "500 5.5.2 Syntax error: command not recognized");
		return;
	}
	const struct smtp_cmd *c = cmd_find(cl.verb);
	if (c == NULL) {
		log_client_text(s, "unknown-command", cl.verb);
		smtp_reply_error(s, "500 5.5.2 Syntax error: command not recognized");
		return;
	}
	if (line.len + 2 > SMTP_COMMAND_LINE_MAX && !(c->flags & CMD_LONG_LINE)) {
		if (c->run == cmd_bdat) {
			smtp_close(s, "421 4.5.0 BDAT command too long, closing connection");
			return;
		}
		smtp_reply_error(s, "500 5.5.6 Line too long");
		return;
	}
	if (c->run == cmd_bdat) {
		/* The chunk follows whatever we answer: read it in any case. */
		int64_t size;
		bool last;
		if (bdat_args(cl.args, &size, &last) < 0) {
			smtp_close(s, "501 5.5.4 Syntax: BDAT size [LAST]; closing connection");
			return;
		}
		s->chunk_remaining = size;
		s->chunk_size = size;
		s->chunk_last = last;
		s->chunk_discard = true;
	}
	if ((c->flags & CMD_NO_MX) && s->cfg.kind == SMTP_PORT_MX) {
		smtp_reply_error(s, "502 5.5.1 %s is not available on this port", c->name);
		return;
	}
	if ((c->flags & CMD_NEEDS_TLS_CTX) && !s->cfg.tls_available) {
		smtp_reply_error(s, "502 5.5.1 %s is not available", c->name);
		return;
	}
	if ((c->flags & CMD_NOT_UNDER_TLS) && s->tls) {
		smtp_reply_error(s, "503 5.5.1 TLS already active");
		return;
	}
	if (!(c->states & SMTP_STATE_BIT(s->state))) {
		if (s->state == SMTP_S_HELO)
			smtp_reply_error(s, "503 5.5.1 Send EHLO or HELO first");
		else if (s->state == SMTP_S_BDAT)
			smtp_reply_error(s, "503 5.5.1 Bad sequence of commands (BDAT in progress)");
		else if (c->run == cmd_mail)
			smtp_reply_error(s, "503 5.5.1 Nested MAIL command");
		else if (c->run == cmd_rcpt || c->run == cmd_data)
			smtp_reply_error(s, "503 5.5.1 Need MAIL command first");
		else
			smtp_reply_error(s, "503 5.5.1 Bad sequence of commands");
		return;
	}
	if (needs_tls(s) && !(c->flags & CMD_BEFORE_TLS)) {
		smtp_reply_error(s, "%s", c->need_tls_reply ? c->need_tls_reply
			       : "530 5.7.0 Must issue a STARTTLS command first");
		return;
	}
	if (needs_auth(s) && !(c->flags & CMD_BEFORE_AUTH)) {
		smtp_reply_error(s, "530 5.7.0 Authentication required");
		return;
	}
	if ((c->flags & CMD_JUNK) && ++s->junk > SMTP_JUNK_MAX) {
		log_warn("session=%s ip=%s event=too-many-junk-commands", s->id, s->ip);
		smtp_close(s, "421 4.7.0 Too many commands, closing connection");
		return;
	}
	if ((c->flags & CMD_ENDS_GROUP) && more) {
		if (c->run == cmd_starttls)
			log_warn("session=%s ip=%s event=starttls-pipelined "
				 "(input after STARTTLS discarded)", s->id, s->ip);
		else
			log_info("session=%s ip=%s event=improper-pipelining command=%s",
				 s->id, s->ip, c->name);
	}
	c->run(s, cl.args);
}
