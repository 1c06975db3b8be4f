/*
 * fuzz_pop3_session.c - a whole POP3 session driven from bytes: the
 * session core (pop3d/session.c, commands.c, stream.c) over the in-memory
 * backend and the recording I/O (pop3d/pop3_testio.c).
 *
 * The first byte picks the connection (plaintext allowed, STLS offered,
 * implicit TLS), a backend failure to inject and how the input is split
 * (whole, 1, 2, 3 or 7 bytes per piece); an odd length answers password
 * checks asynchronously (the daemon's auth threads); the rest is what
 * the client sends. Invariants beyond the sanitizers: the password never appears in
 * the output, every answer line starts with "+OK", "-ERR", "+ " or is part
 * of a multi-line answer (checked loosely: the output is CRLF-terminated
 * unless a body read failure cut it), and when the session is freed the
 * maildrop lock is released.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../pop3d/pop3_backend.h"
#include "../../pop3d/pop3_penalty.h"
#include "../../pop3d/pop3_session.h"
#include "../../pop3d/pop3_testio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "s3cr3tPW"

static const char m1[] = "Subject: one\r\n\r\nhello\r\n.dot\r\n..two\r\n";
static const char m2[] = "Subject: two\r\nX: y\r\n\r\nno final crlf";
static const char m3[] = "";

static struct pop3_penalty penalty; /* big: static, reset per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_open("fuzz", false, LOG_LEVEL_ERROR); /* errors only */
		quiet = true;
	}
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	static const size_t pieces[] = {0, 1, 2, 3, 7, 0, 0, 0};

	struct pop3_mem mem;
	pop3_mem_init(&mem, "bob@example.test", PASSWORD);
	pop3_mem_add(&mem, m1, sizeof(m1) - 1);
	pop3_mem_add(&mem, m2, sizeof(m2) - 1);
	pop3_mem_add(&mem, m3, 0);
	switch ((mode >> 3) & 7) {
	case 1: mem.lock_rc = STORE_LOCKED; break;
	case 2: mem.snapshot_rc = STORE_BUSY; break;
	case 3: mem.remove_rc = STORE_ERROR; break;
	case 4: mem.read_max = 3; mem.read_fail_after = 2; break;
	case 5: mem.open_rc = STORE_NOTFOUND; break;
	case 6: mem.read_max = 1; break;
	default: break;
	}
	struct pop3_backend be;
	pop3_backend_mem(&be, &mem);
	pop3_penalty_init(&penalty);
	struct pop3_testio io;
	if (pop3_testio_init(&io, 1 << 20) < 0)
		return 0;
	if (size % 2 == 1) /* password checks answered later, as in the daemon */
		pop3_testio_enable_async_auth(&io, &be);
	struct pop3_session_params p = {
		.io = &io.io,
		.backend = &be,
		.penalty = &penalty,
		.peer_ip = "198.51.100.1",
		.id = "fuzz",
		.tls_active = (mode & 4) != 0,
		.tls_offer = (mode & 2) != 0,
		.plaintext_ok = (mode & 1) != 0,
		.lock_token = 7,
	};
	struct pop3_session *s = pop3_session_new(&p);
	if (s == NULL) {
		pop3_testio_free(&io);
		return 0;
	}
	pop3_session_start(s);
	(void)pop3_testio_run(&io, s, (const char *)data + 1, size - 1,
			      pieces[mode >> 6 & 7]);
	if (io.out.len >= strlen(PASSWORD) &&
	    memmem(io.out.data, io.out.len, PASSWORD, strlen(PASSWORD)) != NULL)
		abort();
	if (mem.read_fail_after == 0 && io.out.len > 0 &&
	    io.out.data[io.out.len - 1] != '\n')
		abort(); /* an answer was cut without a failure to cut it */
	pop3_session_free(&s);
	if (mem.locked)
		abort(); /* the maildrop lock outlived the session */
	pop3_testio_free(&io);
	return 0;
}
