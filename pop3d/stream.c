/*
 * stream.c - long answers produced as the client drains them: LIST and
 * UIDL of a whole maildrop, RETR and TOP of a body of any size.
 *
 * Each pump step adds at most one body chunk (POP3_BODY_CHUNK, stuffed) or
 * a batch of listing lines, then checks io->pending() again, so unsent
 * output stays near POP3_OUTPUT_HIGH. The chunk buffer exists only while a
 * body streams; an idle session holds none.
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

int pop3_stream_start_body(struct pop3_session *s, size_t idx, bool top,
			   uint32_t lines)
{
	void *reader = NULL;
	int rc = s->be.body_open(s->be.ctx, s->acct.id, s->entries[idx].id,
				 &reader);
	if (rc != STORE_OK) {
		pop3_log(s, LOG_LEVEL_ERROR, "event=body-open-failed msg=%zu rc=%d",
			 idx + 1, rc);
		pop3_reply(s, "-ERR [%s] cannot read message %zu now",
			   store_result_is_temporary(rc) ? "SYS/TEMP" : "SYS/PERM",
			   idx + 1);
		return -1;
	}
	char *chunk = malloc(POP3_BODY_CHUNK);
	if (chunk == NULL) {
		s->be.body_close(reader);
		pop3_reply(s, "-ERR [SYS/TEMP] out of memory");
		return -1;
	}
	if (top)
		pop3_reply(s, "+OK top of message follows");
	else
		pop3_reply(s, "+OK %lld octets", (long long)s->entries[idx].size);
	s->stream.kind = POP3_STREAM_BODY;
	s->stream.reader = reader;
	s->stream.chunk = chunk;
	pop3_stuffer_init(&s->stream.stuff, top, lines);
	pop3_session_pump(s);
	return 0;
}

void pop3_stream_stop(struct pop3_session *s)
{
	if (s->stream.reader != NULL)
		s->be.body_close(s->stream.reader);
	s->stream.reader = NULL;
	free(s->stream.chunk);
	s->stream.chunk = NULL;
	s->stream.kind = POP3_STREAM_NONE;
}

static int emit(void *ctx, const char *p, size_t n)
{
	return pop3_write(ctx, p, n);
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
	ssize_t n = s->be.body_read(st->reader, st->chunk, POP3_BODY_CHUNK);
	if (n < 0) {
		/* The "+OK" is out: the only honest signal left is to end the
		 * connection so the client does not take a cut message. */
		pop3_log(s, LOG_LEVEL_ERROR, "event=body-read-failed");
		pop3_session_abort(s, NULL);
		return;
	}
	if (n > 0 && pop3_stuff(&st->stuff, st->chunk, (size_t)n, emit, s) < 0)
		return;
	if (n == 0 || st->stuff.done) {
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
