/*
 * pop3_int.h - pop3d's private header: the session struct behind the
 * opaque handle and the helpers session.c, commands.c and stream.c share.
 * Nothing outside pop3d/ includes it except pop3d's unit tests.
 */
#ifndef MAILROOM_POP3_INT_H
#define MAILROOM_POP3_INT_H

#include "../common/buf.h"
#include "../common/log.h"
#include "pop3_session.h"
#include "pop3_stuff.h"

enum pop3_stream_kind {
	POP3_STREAM_NONE = 0,
	POP3_STREAM_LIST, /* "n size" lines */
	POP3_STREAM_UIDL, /* "n uid" lines */
	POP3_STREAM_BODY, /* RETR / TOP */
};

/* One long answer in progress; produced by pop3_session_pump(). */
struct pop3_stream {
	enum pop3_stream_kind kind;
	size_t next;  /* LIST/UIDL: next entry index; BODY: the message */
	void *reader; /* BODY: the backend's reader */
	/* BODY: the "+OK" is not out yet; it goes out with the first bytes
	 * (or the end), and a first visit that fails answers "-ERR". */
	bool ok_pending;
	/* BODY: a write failed during a visit; handled once the backend has
	 * returned (the reader must not be closed under it). */
	bool write_failed;
	struct pop3_stuffer stuff;
};

struct pop3_session {
	struct pop3_io io;
	struct pop3_backend be;
	struct pop3_penalty *penalty;
	char peer_ip[64];
	char id[32];
	bool tls_active;
	bool tls_offer;
	bool plaintext_ok;
	int64_t lock_token;

	enum pop3_state state;
	struct linereader cmd_lr;  /* commands: 255 octets */
	struct linereader auth_lr; /* SASL responses: AUTH_LINE_MAX */
	bool auth_continuation;    /* "+ " sent, waiting for the response */
	bool have_user;
	char user[ADDR_MAX + 1];
	int bad_commands;
	int auth_failures;

	bool closing;       /* io->close() called */
	bool tls_switching; /* STLS answered, handshake not done */
	bool delayed;       /* waiting for pop3_session_resume() */
	bool auth_waiting;  /* waiting for pop3_session_auth_done() */
	const char *login_method;   /* "USER" or "PLAIN", for logs */
	char login_user[ADDR_MAX + 1]; /* lowercased, for logs */
	bool delayed_close; /* close after the delayed reply */
	char delayed_reply[160];

	struct pop3_account acct;
	bool locked;
	struct store_mailbox_entry *entries;
	size_t n_entries;
	uint8_t *deleted; /* one flag per entry */
	size_t n_deleted;
	int64_t total_octets;
	int64_t deleted_octets;

	struct pop3_stream stream;
};

#define pop3_log(s, level, fmt, ...)                                          \
	log_msg(level, "session=%s ip=%s " fmt, (s)->id, (s)->peer_ip,         \
		##__VA_ARGS__)

/* session.c */
int pop3_write(struct pop3_session *s, const void *p, size_t n);
void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The one place the session changes state; logs "old -> new". */
void pop3_set_state(struct pop3_session *s, enum pop3_state to);
/* "-ERR text", counted toward POP3_BAD_COMMANDS_MAX (ends the session). */
void pop3_bad_command(struct pop3_session *s, const char *text);
/* Queue the reply, then flush and close. */
void pop3_close(struct pop3_session *s);
/* Let go of the maildrop without deleting anything. */
void pop3_release_maildrop(struct pop3_session *s);
/* Answer later (failed login): text after ms milliseconds. */
void pop3_reply_delayed(struct pop3_session *s, unsigned ms, bool then_close,
			const char *text);

/* stream.c */
void pop3_stream_start_list(struct pop3_session *s, enum pop3_stream_kind k);
/* idx is 0-based; the "+OK" is already sent. 0, or -1 (-ERR sent). */
int pop3_stream_start_body(struct pop3_session *s, size_t idx, bool top,
			   uint32_t lines);
void pop3_stream_stop(struct pop3_session *s);
/* The UIDL text of entry idx into dst (size >= 24). */
void pop3_uid_text(const struct pop3_session *s, size_t idx, char *dst,
		   size_t dstlen);

/* commands.c: the command table, its gate and the handlers */
enum pop3_cmd_flags {
	POP3_CMD_REST = 1 << 0,       /* one argument: the rest of the line */
	POP3_CMD_MSG = 1 << 1,        /* argv[0] (if any) is a live message */
	POP3_CMD_LOGIN = 1 << 2,      /* refused on plaintext unless allowed */
	POP3_CMD_SECRET = 1 << 3,     /* the line holds a secret: wipe, never log */
	POP3_CMD_BEFORE_TLS = 1 << 4, /* only while the connection is plain */
};

struct pop3_call {
	int argc;
	struct slice argv[2];
	struct slice rest; /* the whole argument text */
	size_t msg;        /* POP3_CMD_MSG with argc >= 1: 0-based index */
	bool has_msg;
};

struct pop3_command {
	const char *name;
	void (*run)(struct pop3_session *s, const struct pop3_call *c);
	unsigned states; /* bit (1 << enum pop3_state) per allowed state */
	int min_args, max_args;
	unsigned flags;
};

/* The table entry for an uppercase keyword, or NULL. */
const struct pop3_command *pop3_command_find(const char *keyword);

/* Run one complete command line (without its line end) through the gate. */
void pop3_command_line(struct pop3_session *s, struct slice line);
/* The SASL response to "+ " after AUTH PLAIN. */
void pop3_auth_response(struct pop3_session *s, struct slice line);

#endif
