/*
 * dkim_int.h - DKIM verifier internals: the job, the worker thread and
 * the RSA verification cache. The canonicalizers are shared with the
 * signer and live in common/dkim_canon.h.
 */
#ifndef MAILROOM_DKIM_INT_H
#define MAILROOM_DKIM_INT_H

#include "../common/dkim_canon.h"
#include "trust_int.h"

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

/* Any thread: the header check of every signature that has its key,
 * with that thread's verification cache vc (may be NULL). */
void dkim_job_run(struct trust_dkim *d, struct dkim_verify_cache *vc);
/* Loop thread: the job is back; deliver (or free, if freed meanwhile). */
void dkim_job_done(struct trust_dkim *d);
/* The link the worker's queues use. */
struct trust_dkim **dkim_job_next(struct trust_dkim *d);
/* Loop thread: queue d's job on w. */
void dkim_worker_submit(struct trust_dkim_worker *w, struct trust_dkim *d);
/* Loop thread, d's job submitted and not yet given back by dkim_job_done:
 * take it out of w's queues now. true: the worker ran it (waits while it
 * is running); false: it had not started, the caller runs it. Either way
 * dkim_job_done will not be called for it. */
bool dkim_worker_take_back(struct trust_dkim_worker *w, struct trust_dkim *d);

#endif
