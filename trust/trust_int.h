/*
 * trust_int.h - what the trust/ files share and smtpd never sees: the
 * c-ares resolver on the libevent loop and its parsed answers.
 */
#ifndef MAILROOM_TRUST_INT_H
#define MAILROOM_TRUST_INT_H

#include <netinet/in.h>

#include <string.h>

#include "../common/buf.h"
#include "trust.h"

/* Status of one DNS question, as SPF and DMARC need to tell them apart. */
enum tdns_status {
	TDNS_OK = 0,   /* at least one answer of the type asked */
	TDNS_NODATA,   /* the name exists without such records */
	TDNS_NXDOMAIN, /* no such name (or a name DNS cannot carry) */
	TDNS_TEMP,     /* timeout, SERVFAIL, ... */
};

/* First sizes of the per-message buffers (they grow to their caps when a
 * message needs it): what most mail needs at once, so a message costs one
 * malloc per buffer instead of a chain of doubling reallocs from 64 bytes. */
#define TRUST_HEADERS_FIRST (4 * 1024)    /* a header section */
#define TRUST_FIELD_FIRST 1024            /* one header field */

#define TDNS_ANSWERS_MAX 32
#define TDNS_TXT_MAX 4096

struct tdns_answer {
	enum tdns_status status;
	size_t n;              /* answers below (capped) */
	size_t n_total;        /* answers in the reply, for SPF's MX/PTR limits */
	/* A / AAAA */
	struct in6_addr addr[TDNS_ANSWERS_MAX];
	int family[TDNS_ANSWERS_MAX];
	/* TXT (strings of one record joined), MX and PTR names */
	char *text[TDNS_ANSWERS_MAX];
	size_t text_len[TDNS_ANSWERS_MAX];
};

typedef void (*tdns_cb)(void *arg, const struct tdns_answer *a);

enum tdns_type { TDNS_A = 1, TDNS_AAAA = 28, TDNS_TXT = 16, TDNS_MX = 15,
		 TDNS_PTR = 12 };

/* Ask; cb runs once from the loop (or before return for names DNS cannot
 * carry: labels over 63, empty labels, over 253 octets -> NXDOMAIN). The
 * answer and its strings are valid only during cb. */
void tdns_query(struct trust_ctx *ctx, const char *name, enum tdns_type type,
		tdns_cb cb, void *arg);
/* True when name can be sent as a DNS question. */
bool tdns_name_ok(const char *name);

/* DKIM public keys decoded recently, by their p= text: OpenSSL 3's
 * d2i_PUBKEY costs ~1M instructions, and most mail comes from few
 * signers. Returns a new reference (EVP_PKEY_free it) or NULL. */
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_st EVP_MD;
/* SHA-256 for digests and signatures, fetched once per context (any
 * thread may use it). */
const EVP_MD *trust_ctx_sha256(const struct trust_ctx *ctx);
/* Loop thread: the context's verification cache (dkim_verify.c), made on
 * first use; NULL when out of memory. */
struct dkim_verify_cache;
struct dkim_verify_cache *trust_ctx_verify_cache(struct trust_ctx *ctx);
/* Loop thread: the context's DNS answer cache (NULL when out of memory);
 * tests put answers in it to check callers that find them there. */
struct tdns_cache *trust_ctx_dns_cache(struct trust_ctx *ctx);
/* The Public Suffix List DMARC uses, or NULL for the built-in list. */
const struct trust_psl *trust_ctx_psl(const struct trust_ctx *ctx);
EVP_PKEY *trust_key_cache_get(struct trust_ctx *ctx, int alg, const char *p,
			      size_t len);
/* Remember key (takes its own reference). */
void trust_key_cache_put(struct trust_ctx *ctx, int alg, const char *p,
			 size_t len, EVP_PKEY *key);

/* The answer cache (dnscache.c); one per context, loop thread only. */
struct tdns_cache;
struct tdns_cache *tdns_cache_new(void);
void tdns_cache_free(struct tdns_cache **cp);
/* A hit fills *out with its own copy: tdns_answer_release(out) after use. */
bool tdns_cache_get(struct tdns_cache *c, int type, const char *name,
		    struct tdns_answer *out);
void tdns_cache_put(struct tdns_cache *c, int type, const char *name,
		    const struct tdns_answer *a, uint32_t ttl);
void tdns_cache_stats(const struct tdns_cache *c, uint64_t *hits_r,
		      uint64_t *misses_r);
void tdns_answer_release(struct tdns_answer *a);
/* The smallest TTL of a reply's answers (negative: of its authority SOA);
 * 0 when there is none or the reply does not parse. */
uint32_t tdns_reply_ttl(const unsigned char *buf, int len, bool negative);

/* Parse "1.2.3.4" or "::1" into a v6 address (v4 as v4-mapped). */
int tdns_parse_ip(const char *s, struct in6_addr *out, int *family_r);

#endif
