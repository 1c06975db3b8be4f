/*
 * dkim_int.h - DKIM verifier internals: streaming canonicalizers.
 */
#ifndef MAILROOM_DKIM_INT_H
#define MAILROOM_DKIM_INT_H

#include "trust_int.h"

typedef void (*dkim_emit_fn)(void *ctx, const char *p, size_t n);

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
void dkim_canon_end(struct dkim_canon *c);
/* One header field (folded, with or without its CRLF) canonicalized into
 * out; crlf: end it with CRLF (every field but the signature itself). */
int dkim_canon_header(const char *field, size_t len, bool relaxed, bool crlf,
		      struct buf *out) __attribute__((warn_unused_result));

/* The verifier's job and the worker thread (dkim.c, dkim_worker.c). */
struct trust_dkim;
/* Prepared RSA verification contexts, one cache per verifying thread
 * (dkim_verify.c). */
struct dkim_verify_cache;
struct dkim_verify_cache *dkim_verify_cache_new(void);
void dkim_verify_cache_free(struct dkim_verify_cache **c);
/* true when sig is key's PKCS#1 v1.5 signature of hash (digest md); c may
 * be NULL. */
bool dkim_verify_rsa(struct dkim_verify_cache *c, EVP_PKEY *key,
		     const EVP_MD *md, const unsigned char *sig, size_t sig_len,
		     const unsigned char *hash, size_t hash_len);

/* Any thread: hash the held body, then check every signature, with that
 * thread's verification cache vc (may be NULL). */
void dkim_job_run(struct trust_dkim *d, struct dkim_verify_cache *vc);
/* Loop thread: the job is back; deliver (or free, if freed meanwhile). */
void dkim_job_done(struct trust_dkim *d);
/* The link the worker's queues use. */
struct trust_dkim **dkim_job_next(struct trust_dkim *d);
/* Loop thread: queue d's job on w. */
void dkim_worker_submit(struct trust_dkim_worker *w, struct trust_dkim *d);

#endif
