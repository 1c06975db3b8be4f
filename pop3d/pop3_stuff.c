/*
 * pop3_stuff.c - dot-stuffing and the TOP cut over a streamed body.
 *
 * Output is handed to emit() in the longest runs possible (a run only
 * breaks where a dot is inserted or TOP stops), because RETR throughput is
 * bounded by the per-call cost of the output buffer, not by scanning.
 */
#include "pop3_stuff.h"

#include <string.h>

void pop3_stuffer_init(struct pop3_stuffer *st, bool top, uint32_t lines)
{
	memset(st, 0, sizeof(*st));
	st->top = top;
	st->in_header = top;
	st->lines_left = lines;
	st->line_start = true;
}

/* The line that just ended (its LF was the last byte) was empty. */
static bool line_was_empty(const struct pop3_stuffer *st)
{
	return st->line_len == 1 || (st->line_len == 2 && st->first == '\r');
}

/* RETR: only "\n." needs work, so jump between those with memmem
 * instead of visiting every line (a 10 KB message has ~150 lines). */
static int stuff_all(struct pop3_stuffer *st, const char *in, size_t len,
		     pop3_emit_fn emit, void *ctx)
{
	size_t run = 0; /* in[run..) is not yet emitted */
	if (len == 0)
		return 0;
	if (st->line_start && in[0] == '.' && emit(ctx, ".", 1) < 0)
		return -1;
	for (;;) {
		const char *p = memmem(in + run, len - run, "\n.", 2);
		if (p == NULL)
			break;
		size_t dot = (size_t)(p - in) + 1;
		if (emit(ctx, in + run, dot - run) < 0 || emit(ctx, ".", 1) < 0)
			return -1;
		run = dot; /* the original dot goes out with the next run */
	}
	if (emit(ctx, in + run, len - run) < 0)
		return -1;
	st->line_start = in[len - 1] == '\n';
	return 0;
}

int pop3_stuff(struct pop3_stuffer *st, const char *in, size_t len,
	       pop3_emit_fn emit, void *ctx)
{
	if (!st->top)
		return stuff_all(st, in, len, emit, ctx);
	size_t pos = 0, run = 0; /* in[run..pos) is not yet emitted */

	while (pos < len && !st->done) {
		if (st->line_start) {
			if (st->top && !st->in_header && st->lines_left == 0) {
				st->done = true;
				break;
			}
			st->line_start = false;
			st->first = in[pos];
			st->line_len = 0;
			if (in[pos] == '.') {
				if (pos > run && emit(ctx, in + run, pos - run) < 0)
					return -1;
				if (emit(ctx, ".", 1) < 0)
					return -1;
				run = pos;
			}
		}
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - in) + 1 : len;
		st->line_len += end - pos;
		pos = end;
		if (lf == NULL)
			break;
		st->line_start = true;
		if (st->in_header) {
			if (line_was_empty(st))
				st->in_header = false;
		} else if (st->top) {
			st->lines_left--;
		}
	}
	if (pos > run && emit(ctx, in + run, pos - run) < 0)
		return -1;
	return 0;
}

int pop3_stuff_finish(struct pop3_stuffer *st, pop3_emit_fn emit, void *ctx)
{
	if (!st->line_start && emit(ctx, "\r\n", 2) < 0)
		return -1;
	st->line_start = true;
	st->done = true;
	return emit(ctx, ".\r\n", 3);
}
