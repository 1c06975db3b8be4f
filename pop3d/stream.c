/*
 * stream.c - long answers produced as the client drains them: LIST and
 * UIDL of a whole maildrop, RETR and TOP of a body of any size.
 *
 * Each pump step adds at most one stored body chunk (64 KiB, stuffed) or a
 * batch of listing lines, then checks io->pending() again, so unsent output
 * stays below POP3_OUTPUT_HIGH plus one chunk. Body bytes are visited in
 * place (the backend hands us the store's own copy) and dot-stuffed
 * straight into the output buffer: no buffer of the session's own, and an
 * idle session holds nothing. Even the first step waits for room, so a
 * client pipelining RETRs never has more than that queued.
 *
 * The "+OK" of a RETR/TOP goes out with the first bytes of the body: the
 * first visit is where the store finds the message (one statement for the
 * lookup and the first chunk), and if it fails the client gets "-ERR"
 * instead, exactly as if the message could not be opened.
 */
#include "pop3_int.h"

#include <stdio.h>
#include <stdlib.h>

/* Listing lines per pump step (about 20 octets each). */
#define LIST_BATCH 256

void pop3_uid_text(const struct pop3_session *s, size_t idx, char *dst,
		   size_t dstlen)
{
	/* uidvalidity never changes for an account and uids are never
	 * reused, and both live in the database, so this survives backup
	 * and restore (RFC 1939 7: unique and persistent). */
	snprintf(dst, dstlen, "%08x%08x", (unsigned)s->acct.uidvalidity,
		 (unsigned)s->entries[idx].uid);
}

void pop3_stream_start_list(struct pop3_session *s, enum pop3_stream_kind k)
{
	s->stream.kind = k;
	s->stream.next = 0;
	pop3_session_pump(s);
}

static void body_unreadable(struct pop3_session *s, size_t idx, int rc)
{
	pop3_log(s, LOG_LEVEL_ERROR, "event=body-open-failed msg=%zu rc=%d",
		 idx + 1, rc);
	pop3_reply(s, "-ERR [%s] cannot read message %zu now",
		   store_result_is_temporary(rc) ? "SYS/TEMP" : "SYS/PERM",
		   idx + 1);
}

int pop3_stream_start_body(struct pop3_session *s, size_t idx, bool top,
			   uint32_t lines)
{
	void *reader = NULL;
	int rc = s->be.body_open(s->be.ctx, s->acct.id, s->entries[idx].id,
				 &reader);
	if (rc != STORE_OK) {
		body_unreadable(s, idx, rc);
		return -1;
	}
	s->stream.kind = POP3_STREAM_BODY;
	s->stream.reader = reader;
	s->stream.next = idx;
	s->stream.ok_pending = true;
	s->stream.write_failed = false;
	pop3_stuffer_init(&s->stream.stuff, top, lines);
	pop3_session_pump(s);
	return 0;
}

void pop3_stream_stop(struct pop3_session *s)
{
	if (s->stream.reader != NULL)
		s->be.body_close(s->stream.reader);
	s->stream.reader = NULL;
	s->stream.ok_pending = false;
	s->stream.kind = POP3_STREAM_NONE;
}

static int emit(void *ctx, const char *p, size_t n)
{
	return pop3_write(ctx, p, n);
}

/* Output while the backend is inside a visit: a failure is only noted,
 * since ending the session here would close the reader under the backend. */
static int body_emit(void *ctx, const char *p, size_t n)
{
	struct pop3_session *s = ctx;
	if (s->stream.write_failed || s->io.write(s->io.ctx, p, n) < 0) {
		s->stream.write_failed = true;
		return -1;
	}
	return 0;
}

static int send_ok(struct pop3_session *s)
{
	char line[64];
	int n;
	s->stream.ok_pending = false;
	if (s->stream.stuff.top)
		n = snprintf(line, sizeof(line), "+OK top of message follows\r\n");
	else
		n = snprintf(line, sizeof(line), "+OK %lld octets\r\n",
			     (long long)s->entries[s->stream.next].size);
	return body_emit(s, line, (size_t)n);
}

/* The backend's bytes, in place: "+OK" first if not out yet, then
 * stuffed into the output (TOP: until its line count is reached). */
static int body_bytes(void *arg, const char *p, size_t n)
{
	struct pop3_session *s = arg;
	if (s->stream.ok_pending && send_ok(s) < 0)
		return -1;
	if (s->stream.stuff.done)
		return 0;
	return pop3_stuff(&s->stream.stuff, p, n, body_emit, s);
}

static void list_step(struct pop3_session *s)
{
	char line[64];
	size_t done = 0;
	while (s->stream.next < s->n_entries && done < LIST_BATCH) {
		size_t i = s->stream.next++;
		if (s->deleted[i])
			continue;
		int n;
		if (s->stream.kind == POP3_STREAM_LIST) {
			n = snprintf(line, sizeof(line), "%zu %lld\r\n", i + 1,
				     (long long)s->entries[i].size);
		} else {
			char uid[24];
			pop3_uid_text(s, i, uid, sizeof(uid));
			n = snprintf(line, sizeof(line), "%zu %s\r\n", i + 1, uid);
		}
		if (pop3_write(s, line, (size_t)n) < 0)
			return;
		done++;
	}
	if (s->stream.next >= s->n_entries) {
		pop3_stream_stop(s);
		(void)pop3_write(s, ".\r\n", 3);
	}
}

static void body_step(struct pop3_session *s)
{
	struct pop3_stream *st = &s->stream;
	bool done = false;
	int rc = s->be.body_visit(st->reader, body_bytes, s, &done);
	if (st->write_failed) {
		pop3_log(s, LOG_LEVEL_WARN, "event=write-failed");
		pop3_session_abort(s, NULL);
		return;
	}
	if (rc != STORE_OK && st->ok_pending) {
		size_t idx = st->next;
		pop3_stream_stop(s);
		body_unreadable(s, idx, rc);
		return;
	}
	if (rc != STORE_OK) {
		/* The "+OK" is out: the only honest signal left is to end the
		 * connection so the client does not take a cut message. */
		pop3_log(s, LOG_LEVEL_ERROR, "event=body-read-failed rc=%d", rc);
		pop3_session_abort(s, NULL);
		return;
	}
	if (done || st->stuff.done) {
		if (st->ok_pending && send_ok(s) < 0) { /* an empty body */
			pop3_session_abort(s, NULL);
			return;
		}
		if (pop3_stuff_finish(&st->stuff, emit, s) < 0)
			return;
		pop3_stream_stop(s);
	}
}

void pop3_session_pump(struct pop3_session *s)
{
	while (s->stream.kind != POP3_STREAM_NONE && !s->closing &&
	       s->io.pending(s->io.ctx) < POP3_OUTPUT_HIGH) {
		if (s->stream.kind == POP3_STREAM_BODY)
			body_step(s);
		else
			list_step(s);
	}
}
