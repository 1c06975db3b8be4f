/*
 * dkim_canon.h - DKIM canonicalization (RFC 6376 3.4.2 headers, 3.4.4
 * bodies; simple and relaxed), shared by the verifier (trust/) and the
 * signer (outbound/) so both see a message's canonical bytes alike.
 */
#ifndef MAILROOM_DKIM_CANON_H
#define MAILROOM_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Where canonical body bytes go (a digest update, usually). */
typedef void (*dkim_emit_fn)(void *ctx, const char *p, size_t n);

/* The body canonicalizer: a stream, fed in pieces of any size, in
 * constant memory (trailing empty lines are held back as a count). */
struct dkim_canon {
	bool relaxed;
	bool pending_ws, line_content, prev_cr;
	unsigned long long empty_lines; /* held back: empty lines at the end go */
	unsigned long long emitted;
	dkim_emit_fn emit;
	void *ctx;
	char stage[4096];
	size_t n_stage;
};
void dkim_canon_init(struct dkim_canon *c, bool relaxed, dkim_emit_fn emit,
		     void *ctx);
void dkim_canon_feed(struct dkim_canon *c, const char *p, size_t n);
/* Flush: the last line gets its CRLF, held-back empty lines go, and the
 * staged bytes are emitted. */
void dkim_canon_end(struct dkim_canon *c);
/* One header field (folded, with or without its CRLF) canonicalized into
 * out; crlf: end it with CRLF (every field but the signature itself). */
int dkim_canon_header(const char *field, size_t len, bool relaxed, bool crlf,
		      struct buf *out) __attribute__((warn_unused_result));

#endif
