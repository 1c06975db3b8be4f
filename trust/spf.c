/*
 * spf.c - SPF check_host() (RFC 7208 4-6) as an asynchronous state machine
 * on the trust context's resolver: one DNS question in flight at a time,
 * include and redirect as a stack of frames, the 10 DNS-lookup and 2
 * void-lookup limits (4.6.4), MX and PTR name limits of 10, and exp= on a
 * final fail.
 *
 * Re-entrancy: a question can be answered before tdns_query() returns
 * (names DNS cannot carry); the handler then only records the answer and
 * run() carries on in its own loop, so the stack never grows with the
 * number of terms.
 *
 * %{p} expands to "unknown" (7.3 allows it; it costs a PTR round per
 * use and is deprecated). The HELO identity is used when MAIL FROM is null.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "spf_int.h"

#define FRAMES_MAX (SPF_LOOKUP_MAX + 2)
/* 4.6.4: an overall limit on check_host(), "at least 20 seconds"; each
 * question is bounded by the resolver's timeout and tries on top. */
#define SPF_TIME_LIMIT_SEC 20

struct frame {
	char domain[TRUST_DOMAIN_MAX + 1];
	char *text; /* the record (owned); terms point into it */
	size_t idx;
	bool loaded;
	bool via_redirect; /* result goes to the parent as its own */
	bool top_chain;    /* reached from the start by redirects only: exp applies */
	bool redirect_done;
	/* last, not zeroed by push_frame: read only once loaded, and
	 * trust_spf_record_parse sets all of it */
	struct trust_spf_record rec;
};

enum phase { PH_NONE, PH_RECORD, PH_A, PH_MX, PH_MX_ADDR, PH_PTR,
	     PH_PTR_ADDR, PH_EXISTS, PH_EXP, PH_P_PTR, PH_P_ADDR };

struct trust_spf {
	struct trust_ctx *ctx;
	trust_spf_cb cb;
	void *arg;
	bool cancelled, waiting, in_run, done;
	enum phase phase;
	struct in6_addr ip;
	int family;
	char local[128];
	char sender_domain[TRUST_DOMAIN_MAX + 1];
	char helo[TRUST_DOMAIN_MAX + 1];
	int lookups, voids;
	struct frame *frames[FRAMES_MAX];
	size_t depth;
	/* the mechanism in progress */
	bool matched;
	enum trust_spf_result pending_result; /* set: frame ends with it */
	bool have_pending;
	size_t n_names, name_idx;
	char target[TRUST_DOMAIN_MAX + 2]; /* ptr: the domain to match */
	bool exp_pending;
	/* %{p}: resolved once, on first use (7.3) */
	bool p_done, p_for_exp;
	char p_name[TRUST_DOMAIN_MAX + 1];
	size_t n_p, p_idx;
	struct timespec started; /* CLOCK_MONOTONIC */
	struct trust_spf_outcome out;
	/* Not zeroed by trust_spf_check (9 KiB of a check that mostly needs
	 * none of it): the name tables are read below n_names / n_p, the
	 * exp text once on_exp wrote it (set to "" at the start). */
	char names[SPF_MX_PTR_MAX][TRUST_DOMAIN_MAX + 1];
	char p_names[SPF_MX_PTR_MAX][TRUST_DOMAIN_MAX + 1];
	bool p_valid[SPF_MX_PTR_MAX];
	char exp_text[TDNS_TXT_MAX + 1];
};

const char *trust_spf_result_name(enum trust_spf_result r)
{
	switch (r) {
	case TRUST_SPF_NONE: return "none";
	case TRUST_SPF_NEUTRAL: return "neutral";
	case TRUST_SPF_PASS: return "pass";
	case TRUST_SPF_FAIL: return "fail";
	case TRUST_SPF_SOFTFAIL: return "softfail";
	case TRUST_SPF_TEMPERROR: return "temperror";
	case TRUST_SPF_PERMERROR: return "permerror";
	}
	return "none";
}

static bool run(struct trust_spf *s);

static void spf_free(struct trust_spf *s)
{
	for (size_t i = 0; i < s->depth; i++) {
		free(s->frames[i]->text);
		free(s->frames[i]);
	}
	free(s);
}

static void deliver(struct trust_spf *s)
{
	s->done = true;
	if (!s->cancelled)
		s->cb(s->arg, &s->out);
	spf_free(s);
}

static void env_of(const struct trust_spf *s, struct spf_macro_env *e)
{
	memset(e, 0, sizeof *e);
	e->local = s->local;
	e->sender_domain = s->sender_domain;
	e->domain = s->depth ? s->frames[s->depth - 1]->domain : s->sender_domain;
	e->helo = s->helo;
	e->receiver = "unknown";
	e->p = s->p_done && s->p_name[0] ? s->p_name : "unknown";
	e->ip = s->ip;
	e->family = s->family;
	e->now = trust_now(s->ctx);
}

static void reason(struct trust_spf *s, const char *why)
{
	if (s->out.reason[0] == '\0')
		str_copy_cut(s->out.reason, sizeof s->out.reason, why);
}

static void finish_frame(struct trust_spf *s, enum trust_spf_result r);

/* ---- DNS answers ---------------------------------------------------------- */

static bool addr_match(const struct trust_spf *s, const struct in6_addr *a,
		       int family, int cidr)
{
	if (family != s->family)
		return false;
	int bits = family == AF_INET ? cidr : cidr;
	int off = family == AF_INET ? 12 : 0;
	const unsigned char *x = s->ip.s6_addr + off, *y = a->s6_addr + off;
	for (int i = 0; i < bits; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((x[byte] >> bit) & 1) != ((y[byte] >> bit) & 1))
			return false;
	}
	return true;
}

static const struct trust_spf_term *cur_term(const struct trust_spf *s)
{
	const struct frame *f = s->frames[s->depth - 1];
	return &f->rec.terms[f->idx];
}

static int term_cidr(const struct trust_spf *s, const struct trust_spf_term *t)
{
	if (s->family == AF_INET)
		return t->cidr4 >= 0 ? t->cidr4 : 32;
	return t->cidr6 >= 0 ? t->cidr6 : 128;
}

/* A void lookup (4.6.4): NXDOMAIN or no answers. false: over the limit. */
static bool count_void(struct trust_spf *s, const struct tdns_answer *a)
{
	if (a->status == TDNS_NXDOMAIN || a->status == TDNS_NODATA) {
		if (++s->voids > SPF_VOID_MAX) {
			reason(s, "more than 2 void lookups");
			s->pending_result = TRUST_SPF_PERMERROR;
			s->have_pending = true;
			return false;
		}
	}
	return true;
}

static void temp(struct trust_spf *s, const char *why)
{
	reason(s, why);
	s->pending_result = TRUST_SPF_TEMPERROR;
	s->have_pending = true;
}

static void on_record(struct trust_spf *s, const struct tdns_answer *a)
{
	struct frame *f = s->frames[s->depth - 1];
	if (a->status == TDNS_TEMP) {
		temp(s, "DNS error fetching the record");
		return;
	}
	const char *found = NULL;
	size_t found_len = 0;
	int n_spf = 0;
	for (size_t i = 0; i < a->n; i++) {
		const char *t = a->text[i];
		size_t tl = a->text_len[i];
		if (tl >= 6 && strncasecmp(t, "v=spf1", 6) == 0 &&
		    (tl == 6 || t[6] == ' ')) {
			n_spf++;
			found = t;
			found_len = tl;
		}
	}
	if (n_spf == 0) {
		s->pending_result = TRUST_SPF_NONE;
		s->have_pending = true;
		if (s->depth == 1)
			reason(s, "no SPF record");
		return;
	}
	if (n_spf > 1) {
		reason(s, "more than one SPF record");
		s->pending_result = TRUST_SPF_PERMERROR;
		s->have_pending = true;
		return;
	}
	f->text = malloc(found_len + 1);
	if (f->text == NULL) {
		temp(s, "out of memory");
		return;
	}
	memcpy(f->text, found, found_len);
	f->text[found_len] = '\0';
	const char *err = "syntax error";
	if (trust_spf_record_parse(f->text, found_len, &f->rec, &err) != 1) {
		char why[TRUST_REASON_MAX];
		snprintf(why, sizeof why, "bad record at %.80s: %.60s", f->domain, err);
		reason(s, why);
		s->pending_result = TRUST_SPF_PERMERROR;
		s->have_pending = true;
		return;
	}
	f->loaded = true;
}

static void on_addrs(struct trust_spf *s, const struct tdns_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (addr_match(s, &a->addr[i], a->family[i], term_cidr(s, cur_term(s))))
			s->matched = true;
}

static void on_mx(struct trust_spf *s, const struct tdns_answer *a)
{
	if (a->n_total > SPF_MX_PTR_MAX) {
		reason(s, "more than 10 MX names");
		s->pending_result = TRUST_SPF_PERMERROR;
		s->have_pending = true;
		return;
	}
	s->n_names = 0;
	for (size_t i = 0; i < a->n && s->n_names < SPF_MX_PTR_MAX; i++)
		str_copy_cut(s->names[s->n_names++], sizeof s->names[0], a->text[i]);
	s->name_idx = 0;
}

static void on_ptr(struct trust_spf *s, const struct tdns_answer *a)
{
	s->n_names = 0;
	for (size_t i = 0; i < a->n && s->n_names < SPF_MX_PTR_MAX; i++)
		str_copy_cut(s->names[s->n_names++], sizeof s->names[0], a->text[i]);
	s->name_idx = 0;
}

/* Does name end in target (equal, or a subdomain of it)? */
static bool domain_under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (t > 0 && target[t - 1] == '.')
		t--;
	if (n < t || strncasecmp(name + n - t, target, t) != 0)
		return false;
	return n == t || name[n - t - 1] == '.';
}

static void on_ptr_addr(struct trust_spf *s, const struct tdns_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (addr_match(s, &a->addr[i], a->family[i],
			       s->family == AF_INET ? 32 : 128) &&
		    domain_under(s->names[s->name_idx], s->target))
			s->matched = true;
}

static bool needs_p(struct slice t)
{
	for (size_t i = 0; i + 2 < t.len; i++)
		if (t.ptr[i] == '%' && t.ptr[i + 1] == '{' &&
		    (t.ptr[i + 2] == 'p' || t.ptr[i + 2] == 'P'))
			return true;
	return false;
}

static void expand_exp(struct trust_spf *s)
{
	struct spf_macro_env e;
	env_of(s, &e);
	struct slice t = {s->exp_text, strlen(s->exp_text)};
	char buf[TRUST_REASON_MAX + 1];
	if (spf_macro_expand(&e, t, true, buf, sizeof buf) == 0)
		str_copy_cut(s->out.explanation, sizeof s->out.explanation, buf);
}

static void start_p(struct trust_spf *s, bool for_exp);

static void on_exp(struct trust_spf *s, const struct tdns_answer *a)
{
	if (a->status != TDNS_OK || a->n != 1)
		return;
	struct slice t = {a->text[0], a->text_len[0]};
	if (!trust_spf_macro_valid(t, true) || t.len >= sizeof s->exp_text)
		return;
	memcpy(s->exp_text, t.ptr, t.len);
	s->exp_text[t.len] = '\0';
	if (needs_p(t) && !s->p_done) {
		start_p(s, true); /* expanded once %{p} is known */
		return;
	}
	expand_exp(s);
}

static void on_p_ptr(struct trust_spf *s, const struct tdns_answer *a)
{
	s->n_p = 0;
	for (size_t i = 0; i < a->n && s->n_p < SPF_MX_PTR_MAX; i++) {
		str_copy_cut(s->p_names[s->n_p], sizeof s->p_names[0], a->text[i]);
		s->p_valid[s->n_p++] = false;
	}
	s->p_idx = 0;
}

static void on_p_addr(struct trust_spf *s, const struct tdns_answer *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (addr_match(s, &a->addr[i], a->family[i],
			       s->family == AF_INET ? 32 : 128))
			s->p_valid[s->p_idx] = true;
	s->p_idx++;
}

static void on_answer(void *arg, const struct tdns_answer *a)
{
	struct trust_spf *s = arg;
	s->waiting = false;
	if (s->cancelled && !s->in_run) {
		spf_free(s);
		return;
	}
	switch (s->phase) {
	case PH_RECORD:
		on_record(s, a);
		break;
	case PH_A:
		if (a->status == TDNS_TEMP)
			temp(s, "DNS error in a");
		else if (count_void(s, a))
			on_addrs(s, a);
		break;
	case PH_EXISTS:
		if (a->status == TDNS_TEMP)
			temp(s, "DNS error in exists");
		else if (count_void(s, a) && a->status == TDNS_OK)
			s->matched = true;
		break;
	case PH_MX:
		if (a->status == TDNS_TEMP)
			temp(s, "DNS error in mx");
		else if (count_void(s, a))
			on_mx(s, a);
		break;
	case PH_MX_ADDR:
		if (a->status == TDNS_TEMP)
			temp(s, "DNS error in mx");
		else
			on_addrs(s, a);
		s->name_idx++;
		break;
	case PH_PTR:
		/* 5.5: a PTR lookup error is no match, not an error */
		if (count_void(s, a))
			on_ptr(s, a);
		break;
	case PH_PTR_ADDR:
		if (a->status == TDNS_OK)
			on_ptr_addr(s, a);
		s->name_idx++;
		break;
	case PH_EXP:
		on_exp(s, a);
		s->exp_pending = false;
		break;
	case PH_P_PTR:
		on_p_ptr(s, a);
		break;
	case PH_P_ADDR:
		on_p_addr(s, a);
		break;
	case PH_NONE:
		break;
	}
	if (!s->in_run)
		(void)run(s);
}

static bool over_time(const struct trust_spf *s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - s->started.tv_sec > SPF_TIME_LIMIT_SEC;
}

static void ask(struct trust_spf *s, enum phase ph, const char *name,
		enum tdns_type type)
{
	if (over_time(s)) {
		s->phase = PH_NONE;
		/* the result stands without its explanation */
		if (ph != PH_EXP && !((ph == PH_P_PTR || ph == PH_P_ADDR) && s->p_for_exp))
			temp(s, "SPF evaluation took too long");
		return;
	}
	s->phase = ph;
	s->waiting = true;
	tdns_query(s->ctx, name, type, on_answer, s);
}

/* ---- frames --------------------------------------------------------------- */

static bool push_frame(struct trust_spf *s, const char *domain, bool via_redirect)
{
	if (s->depth >= FRAMES_MAX) {
		reason(s, "too deep");
		return false;
	}
	struct frame *f = malloc(sizeof *f);
	if (f == NULL)
		return false;
	memset(f, 0, offsetof(struct frame, rec));
	str_copy_cut(f->domain, sizeof f->domain, domain);
	f->via_redirect = via_redirect;
	f->top_chain = s->depth == 0 ||
		       (via_redirect && s->frames[s->depth - 1]->top_chain);
	s->frames[s->depth++] = f;
	ask(s, PH_RECORD, domain, TDNS_TXT);
	return true;
}

static enum trust_spf_result qual_result(char q)
{
	switch (q) {
	case '-': return TRUST_SPF_FAIL;
	case '~': return TRUST_SPF_SOFTFAIL;
	case '?': return TRUST_SPF_NEUTRAL;
	default: return TRUST_SPF_PASS;
	}
}

/* The frame on top ended with r: hand it to its parent. */
static void finish_frame(struct trust_spf *s, enum trust_spf_result r)
{
	for (;;) {
		struct frame *f = s->frames[s->depth - 1];
		bool via_redirect = f->via_redirect;
		free(f->text);
		free(f);
		s->frames[--s->depth] = NULL;
		if (s->depth == 0) {
			s->out.result = r;
			return;
		}
		struct frame *p = s->frames[s->depth - 1];
		if (via_redirect) {
			if (r == TRUST_SPF_NONE) {
				reason(s, "redirect target has no SPF record");
				r = TRUST_SPF_PERMERROR;
			}
			continue; /* the parent ends with it */
		}
		/* include (5.2) */
		const struct trust_spf_term *t = &p->rec.terms[p->idx];
		switch (r) {
		case TRUST_SPF_PASS:
			r = qual_result(t->qualifier);
			continue; /* match: the parent ends */
		case TRUST_SPF_FAIL:
		case TRUST_SPF_SOFTFAIL:
		case TRUST_SPF_NEUTRAL:
			p->idx++; /* no match: go on */
			return;
		case TRUST_SPF_TEMPERROR:
			continue;
		case TRUST_SPF_NONE:
			reason(s, "include target has no SPF record");
			/* fall through */
		case TRUST_SPF_PERMERROR:
			r = TRUST_SPF_PERMERROR;
			continue;
		}
	}
}

static bool count_lookup(struct trust_spf *s)
{
	s->out.lookups = ++s->lookups;
	if (s->lookups > SPF_LOOKUP_MAX) {
		reason(s, "more than 10 DNS lookups");
		return false;
	}
	return true;
}

/* Expand the term's domain-spec (empty: the current domain). */
static bool target_of(struct trust_spf *s, struct slice spec, char *out,
		      size_t cap)
{
	struct spf_macro_env e;
	env_of(s, &e);
	if (spec.len == 0) {
		str_copy_cut(out, cap, e.domain);
		return true;
	}
	if (spf_macro_expand(&e, spec, false, out, cap) < 0) {
		reason(s, "macro expansion failed");
		return false;
	}
	return true;
}

static void reverse_name(const struct trust_spf *s, char *out, size_t cap)
{
	const unsigned char *b = s->ip.s6_addr;
	if (s->family == AF_INET) {
		snprintf(out, cap, "%u.%u.%u.%u.in-addr.arpa", b[15], b[14],
			 b[13], b[12]);
		return;
	}
	size_t n = 0;
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0 && n + 4 < cap; i--) {
		out[n++] = hex[b[i] & 15];
		out[n++] = '.';
		out[n++] = hex[b[i] >> 4];
		out[n++] = '.';
	}
	snprintf(out + n, cap - n, "ip6.arpa");
}

static void start_p(struct trust_spf *s, bool for_exp)
{
	char rev[80];
	s->p_for_exp = for_exp;
	s->n_p = s->p_idx = 0;
	reverse_name(s, rev, sizeof rev);
	ask(s, PH_P_PTR, rev, TDNS_PTR);
}

/* After a %{p} answer: ask the next name's address, or pick the name (a
 * validated subdomain of the current domain first, 7.3) and return false. */
static bool p_step(struct trust_spf *s)
{
	if (s->p_idx < s->n_p) {
		ask(s, PH_P_ADDR, s->p_names[s->p_idx],
		    s->family == AF_INET ? TDNS_A : TDNS_AAAA);
		return true;
	}
	const char *dom = s->depth ? s->frames[s->depth - 1]->domain : "";
	s->p_name[0] = '\0';
	for (size_t i = 0; i < s->n_p && !s->p_name[0]; i++)
		if (s->p_valid[i] && domain_under(s->p_names[i], dom))
			str_copy_cut(s->p_name, sizeof s->p_name, s->p_names[i]);
	for (size_t i = 0; i < s->n_p && !s->p_name[0]; i++)
		if (s->p_valid[i])
			str_copy_cut(s->p_name, sizeof s->p_name, s->p_names[i]);
	s->p_done = true;
	s->phase = PH_NONE;
	if (s->p_for_exp)
		expand_exp(s);
	return false;
}

/* Start the term at idx. Returns false when the frame's result is decided
 * (s->have_pending) or a question is in flight. */
static void start_term(struct trust_spf *s)
{
	struct frame *f = s->frames[s->depth - 1];
	const struct trust_spf_term *t = &f->rec.terms[f->idx];
	char dom[TRUST_DOMAIN_MAX + 2];
	s->matched = false;
	s->phase = PH_NONE;
	switch (t->kind) {
	case SPF_T_ALL:
		s->matched = true;
		return;
	case SPF_T_IP4:
	case SPF_T_IP6: {
		struct in6_addr a;
		memset(&a, 0, sizeof a);
		if (t->kind == SPF_T_IP4) {
			a.s6_addr[10] = a.s6_addr[11] = 0xff;
			memcpy(&a.s6_addr[12], t->ip, 4);
		} else {
			memcpy(&a, t->ip, 16);
		}
		int fam = t->kind == SPF_T_IP4 ? AF_INET : AF_INET6;
		s->matched = addr_match(s, &a, fam, fam == AF_INET ? t->cidr4 : t->cidr6);
		return;
	}
	case SPF_T_REDIRECT:
	case SPF_T_EXP:
	case SPF_T_UNKNOWN_MOD:
		return;
	default:
		break;
	}
	if (!s->p_done && needs_p(t->domain)) {
		start_p(s, false); /* then this term starts again */
		return;
	}
	if (!count_lookup(s) || !target_of(s, t->domain, dom, sizeof dom)) {
		s->pending_result = TRUST_SPF_PERMERROR;
		s->have_pending = true;
		return;
	}
	switch (t->kind) {
	case SPF_T_A:
		ask(s, PH_A, dom, s->family == AF_INET ? TDNS_A : TDNS_AAAA);
		return;
	case SPF_T_MX:
		s->n_names = 0;
		ask(s, PH_MX, dom, TDNS_MX);
		return;
	case SPF_T_EXISTS:
		ask(s, PH_EXISTS, dom, TDNS_A);
		return;
	case SPF_T_PTR: {
		str_copy_cut(s->target, sizeof s->target, dom);
		char rev[80];
		reverse_name(s, rev, sizeof rev);
		s->n_names = 0;
		ask(s, PH_PTR, rev, TDNS_PTR);
		return;
	}
	case SPF_T_INCLUDE:
		if (!push_frame(s, dom, false)) {
			s->pending_result = TRUST_SPF_PERMERROR;
			s->have_pending = true;
		}
		return;
	default:
		return;
	}
}

/* After the answers of a multi-step term: ask the next address, if any. */
static bool next_step(struct trust_spf *s)
{
	if (s->matched || s->name_idx >= s->n_names)
		return false;
	enum tdns_type ty = s->family == AF_INET ? TDNS_A : TDNS_AAAA;
	if (s->phase == PH_MX || s->phase == PH_MX_ADDR) {
		ask(s, PH_MX_ADDR, s->names[s->name_idx], ty);
		return true;
	}
	if (s->phase == PH_PTR || s->phase == PH_PTR_ADDR) {
		ask(s, PH_PTR_ADDR, s->names[s->name_idx], ty);
		return true;
	}
	return false;
}

static void start_exp(struct trust_spf *s, struct frame *f)
{
	char dom[TRUST_DOMAIN_MAX + 2];
	const struct trust_spf_term *t = &f->rec.terms[f->rec.exp];
	struct spf_macro_env e;
	env_of(s, &e);
	if (spf_macro_expand(&e, t->domain, false, dom, sizeof dom) < 0)
		return;
	s->exp_pending = true;
	ask(s, PH_EXP, dom, TDNS_TXT);
}

/* Carry on until a question is in flight (true) or the check ended and
 * s is gone (false). */
static bool run(struct trust_spf *s)
{
	s->in_run = true;
	for (;;) {
		if (s->cancelled && !s->waiting) {
			spf_free(s);
			return false;
		}
		if (s->waiting) {
			s->in_run = false;
			return true;
		}
		if (s->phase == PH_P_PTR || s->phase == PH_P_ADDR) {
			if (p_step(s))
				continue;
			if (s->depth > 0 && !s->have_pending) {
				continue; /* the term that needed %{p} starts again */
			}
		}
		if (s->depth == 0) {
			deliver(s);
			return false;
		}
		struct frame *f = s->frames[s->depth - 1];
		if (s->have_pending) {
			s->have_pending = false;
			s->phase = PH_NONE;
			finish_frame(s, s->pending_result);
			continue;
		}
		if (!f->loaded) {
			/* answer processed without a record: none */
			s->pending_result = TRUST_SPF_NONE;
			s->have_pending = true;
			continue;
		}
		if (s->phase != PH_NONE && s->phase != PH_RECORD) {
			/* a DNS mechanism answered */
			if (next_step(s))
				continue;
			s->phase = PH_NONE;
			const struct trust_spf_term *t = &f->rec.terms[f->idx];
			if (s->matched) {
				enum trust_spf_result r = qual_result(t->qualifier);
				if (r == TRUST_SPF_FAIL && f->top_chain && f->rec.exp >= 0 &&
				    s->depth >= 1) {
					/* fetch the explanation, then end */
					s->pending_result = r;
					s->have_pending = true;
					start_exp(s, f);
					continue;
				}
				s->pending_result = r;
				s->have_pending = true;
				continue;
			}
			f->idx++;
			continue;
		}
		s->phase = PH_NONE;
		if (f->idx >= f->rec.n_terms) {
			if (f->rec.redirect >= 0 && !f->redirect_done) {
				f->redirect_done = true;
				char dom[TRUST_DOMAIN_MAX + 2];
				const struct trust_spf_term *t = &f->rec.terms[f->rec.redirect];
				if (!count_lookup(s) || !target_of(s, t->domain, dom, sizeof dom) ||
				    !push_frame(s, dom, true)) {
					s->pending_result = TRUST_SPF_PERMERROR;
					s->have_pending = true;
				}
				continue;
			}
			s->pending_result = TRUST_SPF_NEUTRAL;
			s->have_pending = true;
			continue;
		}
		start_term(s);
		if (s->have_pending || s->waiting || s->depth == 0)
			continue;
		if (s->phase == PH_NONE) {
			/* decided without DNS (all, ip4, ip6, modifiers) */
			const struct trust_spf_term *t = &f->rec.terms[f->idx];
			if (s->matched) {
				enum trust_spf_result r = qual_result(t->qualifier);
				s->pending_result = r;
				s->have_pending = true;
				if (r == TRUST_SPF_FAIL && f->top_chain && f->rec.exp >= 0)
					start_exp(s, f);
				continue;
			}
			f->idx++;
		}
	}
}

/* The identity's domain must be a name DNS can carry with at least two
 * labels (4.3): otherwise the result is none without a query. */
static bool identity_ok(const char *d)
{
	return d[0] != '\0' && d[0] != '[' && strchr(d, '.') != NULL &&
	       tdns_name_ok(d);
}

struct trust_spf *trust_spf_check(struct trust_ctx *ctx, const char *client_ip,
				  const char *helo, const char *mail_from,
				  trust_spf_cb cb, void *arg)
{
	struct trust_spf *s = malloc(sizeof *s);
	if (s != NULL) {
		memset(s, 0, offsetof(struct trust_spf, names));
		s->exp_text[0] = '\0';
	}
	if (s == NULL) {
		struct trust_spf_outcome o;
		memset(&o, 0, sizeof o);
		o.result = TRUST_SPF_TEMPERROR;
		snprintf(o.reason, sizeof o.reason, "out of memory");
		cb(arg, &o);
		return NULL;
	}
	s->ctx = ctx;
	s->cb = cb;
	s->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	str_copy_cut(s->helo, sizeof s->helo, helo ? helo : "");
	const char *at = mail_from ? strrchr(mail_from, '@') : NULL;
	if (mail_from == NULL || mail_from[0] == '\0') {
		s->out.helo_identity = true;
		snprintf(s->local, sizeof s->local, "postmaster");
		str_copy_cut(s->sender_domain, sizeof s->sender_domain, s->helo);
	} else if (at == NULL) {
		snprintf(s->local, sizeof s->local, "postmaster");
		str_copy_cut(s->sender_domain, sizeof s->sender_domain, mail_from);
	} else {
		size_t ll = (size_t)(at - mail_from);
		if (ll == 0 || ll >= sizeof s->local)
			snprintf(s->local, sizeof s->local, "postmaster");
		else {
			memcpy(s->local, mail_from, ll);
			s->local[ll] = '\0';
		}
		str_copy_cut(s->sender_domain, sizeof s->sender_domain, at + 1);
	}
	size_t dl = strlen(s->sender_domain);
	if (dl > 0 && s->sender_domain[dl - 1] == '.')
		s->sender_domain[dl - 1] = '\0';
	str_copy_cut(s->out.domain, sizeof s->out.domain, s->sender_domain);
	snprintf(s->out.identity, sizeof s->out.identity, "%s@%s", s->local,
		 s->sender_domain);
	if (tdns_parse_ip(client_ip ? client_ip : "", &s->ip, &s->family) < 0) {
		s->out.result = TRUST_SPF_PERMERROR;
		reason(s, "bad client address");
		deliver(s);
		return NULL;
	}
	if (!identity_ok(s->sender_domain)) {
		s->out.result = TRUST_SPF_NONE;
		reason(s, "no usable domain");
		deliver(s);
		return NULL;
	}
	s->in_run = true;
	if (!push_frame(s, s->sender_domain, false)) {
		s->out.result = TRUST_SPF_TEMPERROR;
		reason(s, "out of memory");
		deliver(s);
		return NULL;
	}
	return run(s) ? s : NULL;
}

void trust_spf_cancel(struct trust_spf **sp)
{
	struct trust_spf *s = *sp;
	*sp = NULL;
	if (s == NULL)
		return;
	s->cancelled = true;
	if (!s->waiting)
		spf_free(s);
}
