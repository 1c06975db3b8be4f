/*
 * test_pop3_session.c - whole POP3 dialogues against the I/O-free session
 * core with the in-memory backend: every command, every error path the
 * backend can produce, the limits, AUTH PLAIN, STLS and flow control.
 *
 * Each table case runs twice: the input fed whole, and fed one byte at a
 * time; the bytes the client receives must be identical.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../pop3d/pop3_backend.h"
#include "../../pop3d/pop3_penalty.h"
#include "../../pop3d/pop3_session.h"
#include "../../pop3d/pop3_testio.h"
#include "test.h"

#define MSG1 "Subject: one\r\n\r\nhello\r\n.dot\r\n"
#define MSG2 "Subject: two\r\n\r\nbody1\r\nbody2\r\nbody3\r\n"
#define GREET "+OK Mailroom POP3 server ready\r\n"
#define LOGIN "USER bob@example.test\r\nPASS secret\r\n"
#define LOGGED_IN "+OK send PASS\r\n+OK maildrop has 2 messages (66 octets)\r\n"
#define BAD_PW "-ERR [AUTH] invalid user name or password\r\n"
#define CAPA_HEAD                                                             \
	"+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"       \
	"AUTH-RESP-CODE\r\nPIPELINING\r\n"
#define CAPA_LOGIN "USER\r\nSASL PLAIN\r\n"
#define CAPA_TAIL "IMPLEMENTATION Mailroom\r\n.\r\n"
#define BYE "+OK Mailroom POP3 server signing off"
#define PLAIN_B64 "AGJvYkBleGFtcGxlLnRlc3QAc2VjcmV0"
#define NOT_NOW "-ERR command not valid in this state\r\n"

enum { SETUP_DEFAULT, SETUP_NO_PLAINTEXT, SETUP_LOCKED, SETUP_SNAPSHOT_FAILS,
       SETUP_REMOVE_FAILS, SETUP_AUTH_ERROR, SETUP_READ_FAILS,
       SETUP_LOCKED_OUT, SETUP_OPEN_FAILS, SETUP_FIRST_VISIT_FAILS };

struct dialogue {
	const char *label;
	int setup;
	const char *in;
	const char *want; /* after the greeting */
	bool closed;
	int removes; /* remove() calls expected */
};

static const struct dialogue dialogues[] = {
	{"capa and quit", SETUP_DEFAULT, "CAPA\r\nQUIT\r\n",
	 CAPA_HEAD CAPA_LOGIN CAPA_TAIL BYE "\r\n", true, 0},
	{"transaction commands", SETUP_DEFAULT,
	 LOGIN "STAT\r\nLIST\r\nLIST 2\r\nUIDL\r\nUIDL 1\r\nNOOP\r\nCAPA\r\nQUIT\r\n",
	 LOGGED_IN "+OK 2 66\r\n+OK 2 messages (66 octets)\r\n1 29\r\n2 37\r\n.\r\n"
		   "+OK 2 37\r\n+OK unique-id listing follows\r\n"
		   "1 00005eed00000001\r\n2 00005eed00000002\r\n.\r\n"
		   "+OK 1 00005eed00000001\r\n+OK\r\n" CAPA_HEAD CAPA_LOGIN CAPA_TAIL
		   BYE " (0 messages deleted)\r\n",
	 true, 0},
	{"retr and top", SETUP_DEFAULT, LOGIN "RETR 1\r\nTOP 2 1\r\nTOP 1 0\r\n",
	 LOGGED_IN "+OK 29 octets\r\nSubject: one\r\n\r\nhello\r\n..dot\r\n.\r\n"
		   "+OK top of message follows\r\nSubject: two\r\n\r\nbody1\r\n.\r\n"
		   "+OK top of message follows\r\nSubject: one\r\n\r\n.\r\n",
	 false, 0},
	{"dele rset quit", SETUP_DEFAULT,
	 LOGIN "DELE 1\r\nSTAT\r\nRETR 1\r\nLIST\r\nUIDL\r\nRSET\r\nDELE 2\r\nQUIT\r\n",
	 LOGGED_IN "+OK message 1 deleted\r\n+OK 1 37\r\n"
		   "-ERR message 1 already deleted\r\n"
		   "+OK 1 messages (37 octets)\r\n2 37\r\n.\r\n"
		   "+OK unique-id listing follows\r\n2 00005eed00000002\r\n.\r\n"
		   "+OK maildrop has 2 messages (66 octets)\r\n"
		   "+OK message 2 deleted\r\n" BYE " (1 messages deleted)\r\n",
	 true, 1},
	{"no such message", SETUP_DEFAULT, LOGIN "RETR 3\r\nDELE 9\r\nTOP 0 1\r\n",
	 LOGGED_IN "-ERR no such message, only 2 in maildrop\r\n"
		   "-ERR no such message, only 2 in maildrop\r\n"
		   "-ERR invalid message number\r\n",
	 false, 0},
	{"wrong password then right", SETUP_DEFAULT,
	 "USER bob@example.test\r\nPASS nope\r\n" LOGIN "STAT\r\n",
	 "+OK send PASS\r\n" BAD_PW LOGGED_IN "+OK 2 66\r\n", false, 0},
	{"user is case-insensitive", SETUP_DEFAULT,
	 "USER Bob@Example.TEST\r\nPASS secret\r\n", LOGGED_IN, false, 0},
	{"three failures close", SETUP_DEFAULT,
	 "USER a\r\nPASS b\r\nUSER a\r\nPASS b\r\nUSER a\r\nPASS b\r\nCAPA\r\n",
	 "+OK send PASS\r\n" BAD_PW "+OK send PASS\r\n" BAD_PW
	 "+OK send PASS\r\n" BAD_PW,
	 true, 0},
	{"ten bad commands close", SETUP_DEFAULT,
	 "X\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nX\r\nCAPA\r\n",
	 "-ERR unknown command\r\n-ERR unknown command\r\n-ERR unknown command\r\n"
	 "-ERR unknown command\r\n-ERR unknown command\r\n-ERR unknown command\r\n"
	 "-ERR unknown command\r\n-ERR unknown command\r\n-ERR unknown command\r\n"
	 "-ERR unknown command; too many bad commands, closing\r\n",
	 true, 0},
	{"out of state", SETUP_DEFAULT, "STAT\r\nRETR 1\r\nPASS x\r\nQUIT\r\n",
	 NOT_NOW NOT_NOW "-ERR give USER first\r\n" BYE "\r\n", true, 0},
	{"auth in transaction", SETUP_DEFAULT, LOGIN "USER x\r\nAUTH PLAIN\r\n",
	 LOGGED_IN NOT_NOW NOT_NOW, false, 0},
	{"auth plain initial", SETUP_DEFAULT,
	 "AUTH PLAIN " PLAIN_B64 "\r\nSTAT\r\n",
	 "+OK maildrop has 2 messages (66 octets)\r\n+OK 2 66\r\n", false, 0},
	{"auth plain continuation", SETUP_DEFAULT,
	 "AUTH plain\r\n" PLAIN_B64 "\r\nSTAT\r\n",
	 "+ \r\n+OK maildrop has 2 messages (66 octets)\r\n+OK 2 66\r\n", false, 0},
	{"auth cancel and list", SETUP_DEFAULT,
	 "AUTH PLAIN\r\n*\r\nAUTH\r\nAUTH CRAM-MD5\r\nAUTH PLAIN =\r\n",
	 "+ \r\n-ERR authentication cancelled\r\n+OK\r\nPLAIN\r\n.\r\n"
	 "-ERR unsupported authentication mechanism\r\n"
	 "-ERR [AUTH] malformed PLAIN response\r\n",
	 false, 0},
	{"auth plain bad password", SETUP_DEFAULT,
	 "AUTH PLAIN AGJvYkBleGFtcGxlLnRlc3QAbm9wZQ==\r\n", BAD_PW, false, 0},
	{"maildrop in use", SETUP_LOCKED, LOGIN "STAT\r\n",
	 "+OK send PASS\r\n-ERR [IN-USE] maildrop already in use by another "
	 "session\r\n" NOT_NOW,
	 false, 0},
	{"snapshot fails", SETUP_SNAPSHOT_FAILS, LOGIN,
	 "+OK send PASS\r\n-ERR [SYS/TEMP] cannot read the maildrop now\r\n",
	 false, 0},
	{"auth store error", SETUP_AUTH_ERROR, LOGIN,
	 "+OK send PASS\r\n-ERR [SYS/TEMP] cannot check the password now; try "
	 "again later\r\n",
	 false, 0},
	{"update fails", SETUP_REMOVE_FAILS, LOGIN "DELE 1\r\nQUIT\r\n",
	 LOGGED_IN "+OK message 1 deleted\r\n-ERR [SYS/TEMP] deleted messages "
		   "were not removed; they stay in the maildrop\r\n",
	 true, 0},
	{"body open fails", SETUP_OPEN_FAILS, LOGIN "RETR 1\r\nNOOP\r\n",
	 LOGGED_IN "-ERR [SYS/TEMP] cannot read message 1 now\r\n+OK\r\n", false,
	 0},
	/* The store backend finds a vanished message only at the first
	 * visit: still "-ERR" (no "+OK" went out), and the session goes on. */
	{"body gone at first visit", SETUP_FIRST_VISIT_FAILS,
	 LOGIN "RETR 1\r\nTOP 2 0\r\nNOOP\r\n",
	 LOGGED_IN "-ERR [SYS/PERM] cannot read message 1 now\r\n"
		   "+OK top of message follows\r\nSubject: two\r\n\r\n.\r\n"
		   "+OK\r\n",
	 false, 0},
	{"body read fails midway", SETUP_READ_FAILS, LOGIN "RETR 2\r\nNOOP\r\n",
	 LOGGED_IN "+OK 37 octets\r\nSubject:", true, 0},
	{"plaintext refused", SETUP_NO_PLAINTEXT,
	 "CAPA\r\nUSER bob@example.test\r\nAUTH PLAIN " PLAIN_B64 "\r\n",
	 CAPA_HEAD "STLS\r\n" CAPA_TAIL
	 "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
	 "connections; use STLS\r\n"
	 "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
	 "connections; use STLS\r\n",
	 false, 0},
	{"address locked out", SETUP_LOCKED_OUT, LOGIN,
	 "+OK send PASS\r\n-ERR [LOGIN-DELAY] too many failed logins from your "
	 "address; try again later\r\n",
	 false, 0},
};

struct rig {
	struct pop3_mem mem;
	struct pop3_backend be;
	struct pop3_penalty penalty;
	struct pop3_testio io;
	struct pop3_session *s;
};

static void rig_open_async(struct rig *r, int setup, bool async_auth)
{
	pop3_mem_init(&r->mem, "bob@example.test", "secret");
	pop3_mem_add(&r->mem, MSG1, strlen(MSG1));
	pop3_mem_add(&r->mem, MSG2, strlen(MSG2));
	pop3_penalty_init(&r->penalty);
	switch (setup) {
	case SETUP_LOCKED:
		r->mem.locked = true;
		r->mem.lock_token = 999;
		break;
	case SETUP_SNAPSHOT_FAILS:
		r->mem.snapshot_rc = STORE_BUSY;
		break;
	case SETUP_REMOVE_FAILS:
		r->mem.remove_rc = STORE_BUSY;
		break;
	case SETUP_AUTH_ERROR:
		r->mem.auth_rc = STORE_ERROR;
		break;
	case SETUP_OPEN_FAILS:
		r->mem.open_rc = STORE_BUSY;
		break;
	case SETUP_FIRST_VISIT_FAILS:
		r->mem.first_visit_rc = STORE_NOTFOUND;
		break;
	case SETUP_READ_FAILS:
		r->mem.read_max = 8;
		r->mem.read_fail_after = 1;
		break;
	case SETUP_LOCKED_OUT:
		for (int i = 0; i < POP3_PENALTY_LOCKOUT; i++) {
			uint32_t f;
			(void)pop3_penalty_fail(&r->penalty, "192.0.2.7",
						time(NULL), &f);
		}
		break;
	}
	pop3_backend_mem(&r->be, &r->mem);
	CHECK(pop3_testio_init(&r->io, 1 << 20) == 0);
	if (async_auth)
		pop3_testio_enable_async_auth(&r->io, &r->be);
	struct pop3_session_params p = {
		.io = &r->io.io,
		.backend = &r->be,
		.penalty = &r->penalty,
		.peer_ip = "192.0.2.7",
		.id = "test",
		.tls_offer = setup == SETUP_NO_PLAINTEXT,
		.plaintext_ok = setup != SETUP_NO_PLAINTEXT,
		.lock_token = 42,
	};
	r->s = pop3_session_new(&p);
	CHECK(r->s != NULL);
	pop3_session_start(r->s);
}

static void rig_open(struct rig *r, int setup)
{
	rig_open_async(r, setup, false);
}

static void rig_close(struct rig *r)
{
	pop3_session_free(&r->s);
	CHECK(r->s == NULL);
	/* whatever happened, the maildrop lock is not left behind */
	CHECK(!r->mem.locked || r->mem.lock_token != 42);
	pop3_testio_free(&r->io);
}

static void run_dialogue(const struct dialogue *d, size_t piece, bool async)
{
	static struct rig r; /* big: penalty table */
	rig_open_async(&r, d->setup, async);
	(void)pop3_testio_run(&r.io, r.s, d->in, strlen(d->in), piece);
	char want[8192];
	snprintf(want, sizeof(want), "%s%s", GREET, d->want);
	CHECK_STR(r.io.out.data, want);
	CHECK_INT(r.io.close_calls, d->closed ? 1 : 0);
	CHECK_INT(r.mem.removes, d->removes);
	rig_close(&r);
}

static void test_dialogues_whole(void)
{
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++) {
		test_state.label = dialogues[i].label;
		run_dialogue(&dialogues[i], 0, false);
	}
}

/* The same dialogues with the password check answered later, as the
 * daemon's auth threads do: nothing may run ahead of the answer. */
static void test_dialogues_async_auth(void)
{
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++) {
		test_state.label = dialogues[i].label;
		run_dialogue(&dialogues[i], 0, true);
		run_dialogue(&dialogues[i], 1, true);
	}
}

static void test_dialogues_bytewise(void)
{
	for (size_t i = 0; i < sizeof(dialogues) / sizeof(dialogues[0]); i++) {
		test_state.label = dialogues[i].label;
		run_dialogue(&dialogues[i], 1, false);
	}
}

static void test_wrong_password_waits_then_answers(void)
{
	static struct rig r;
	rig_open(&r, SETUP_DEFAULT);
	const char *in = "USER bob@example.test\r\nPASS bad\r\nNOOP\r\n";
	/* feed by hand: the session must stop at the delay */
	size_t used = pop3_session_feed(r.s, in, strlen(in));
	CHECK_INT(used, strlen("USER bob@example.test\r\nPASS bad\r\n"));
	CHECK(pop3_session_busy(r.s));
	CHECK_INT(r.io.delay_calls, 1);
	CHECK_INT(r.io.last_delay_ms, POP3_PENALTY_BASE_MS);
	CHECK_STR(r.io.out.data, GREET "+OK send PASS\r\n");
	pop3_session_resume(r.s);
	CHECK(!pop3_session_busy(r.s));
	CHECK_STR(r.io.out.data, GREET "+OK send PASS\r\n" BAD_PW);
	/* the next failure from the same address waits twice as long */
	(void)pop3_testio_run(&r.io, r.s, "USER x\r\nPASS y\r\n", 16, 0);
	CHECK_INT(r.io.last_delay_ms, 2 * POP3_PENALTY_BASE_MS);
	rig_close(&r);
}

static void test_line_too_long(void)
{
	static struct rig r;
	rig_open(&r, SETUP_DEFAULT);
	char in[600];
	memcpy(in, "USER ", 5);
	memset(in + 5, 'a', 300);
	memcpy(in + 305, "\r\nUSER ", 7);
	memset(in + 312, 'b', 248); /* 5 + 248 + 2 = 255: fits */
	memcpy(in + 560, "\r\n", 2);
	for (size_t piece = 0; piece <= 1; piece++) {
		buf_reset(&r.io.out);
		(void)pop3_testio_run(&r.io, r.s, in, 562, piece);
		CHECK_STR(r.io.out.data, "-ERR line too long\r\n+OK send PASS\r\n");
	}
	rig_close(&r);
}

static void test_stls_drops_pipelined_input(void)
{
	static struct rig r;
	rig_open(&r, SETUP_NO_PLAINTEXT);
	const char *in = "STLS\r\nUSER bob@example.test\r\n";
	(void)pop3_testio_run(&r.io, r.s, in, strlen(in), 0);
	CHECK_INT(r.io.start_tls_calls, 1);
	const char *after = "PASS secret\r\nCAPA\r\nSTLS\r\n" LOGIN;
	(void)pop3_testio_run(&r.io, r.s, after, strlen(after), 0);
	CHECK_STR(r.io.out.data,
		  GREET "+OK Begin TLS negotiation\r\n-ERR give USER first\r\n"
			CAPA_HEAD CAPA_LOGIN CAPA_TAIL
			"-ERR already using TLS\r\n" LOGGED_IN);
	rig_close(&r);
}

static void test_streaming_waits_for_output_to_drain(void)
{
	static struct rig r;
	rig_open(&r, SETUP_DEFAULT);
	(void)pop3_testio_run(&r.io, r.s, LOGIN, strlen(LOGIN), 0);
	buf_reset(&r.io.out);
	r.io.pending = POP3_OUTPUT_HIGH; /* the client is not reading */
	const char *in = "RETR 2\r\nNOOP\r\n";
	size_t used = pop3_session_feed(r.s, in, strlen(in));
	CHECK_INT(used, 8); /* NOOP waits behind the answer */
	/* Even the "+OK" waits: it goes out with the first body bytes. */
	CHECK_STR(r.io.out.data, "");
	CHECK(pop3_session_busy(r.s));
	pop3_session_pump(r.s); /* still full: nothing more */
	CHECK_STR(r.io.out.data, "");
	r.io.pending = 0;
	pop3_session_pump(r.s);
	CHECK(!pop3_session_busy(r.s));
	used = pop3_session_feed(r.s, in + 8, strlen(in) - 8);
	CHECK_INT(used, 6);
	CHECK_STR(r.io.out.data, "+OK 37 octets\r\n" MSG2 ".\r\n+OK\r\n");
	rig_close(&r);
}

static void test_drop_deletes_nothing(void)
{
	static struct rig r;
	rig_open(&r, SETUP_DEFAULT);
	const char *in = LOGIN "DELE 1\r\nDELE 2\r\n";
	(void)pop3_testio_run(&r.io, r.s, in, strlen(in), 0);
	CHECK(r.mem.locked);
	pop3_session_abort(r.s, NULL); /* the connection dropped */
	CHECK_INT(r.mem.removes, 0);
	CHECK(!r.mem.locked);
	CHECK(!r.mem.msgs[0].gone && !r.mem.msgs[1].gone);
	CHECK_INT(pop3_session_state(r.s), POP3_STATE_CLOSED);
	rig_close(&r);
}

TEST_SUITE(pop3_session, {"dialogues_whole", test_dialogues_whole},
	   {"dialogues_bytewise", test_dialogues_bytewise},
	   {"dialogues_async_auth", test_dialogues_async_auth},
	   {"wrong_password_waits", test_wrong_password_waits_then_answers},
	   {"line_too_long", test_line_too_long},
	   {"stls_drops_pipelined_input", test_stls_drops_pipelined_input},
	   {"streaming_waits_for_drain", test_streaming_waits_for_output_to_drain},
	   {"drop_deletes_nothing", test_drop_deletes_nothing});
