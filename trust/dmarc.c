/*
 * dmarc.c - DMARC (RFC 7489): the record parser, organizational domains,
 * identifier alignment and the policy to apply, with the record fetched
 * asynchronously from _dmarc.<From domain>, then _dmarc.<org domain>.
 *
 * Organizational domains come from the Public Suffix List when smtpd
 * loaded one (psl.c, trust_set_psl), else from a short built-in suffix
 * list (trust_org_domain): good enough for alignment between a domain and
 * its own subdomains, which is what forged-From protection needs, but a
 * subdomain of an unusual multi-label public suffix is grouped too widely.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "trust_int.h"

static bool slice_is(struct slice s, const char *w)
{
	return s.len == strlen(w) && strncasecmp(s.ptr, w, s.len) == 0;
}

static int policy_of(struct slice s, enum trust_dmarc_policy *p)
{
	if (slice_is(s, "none"))
		*p = TRUST_DMARC_P_NONE;
	else if (slice_is(s, "quarantine"))
		*p = TRUST_DMARC_P_QUARANTINE;
	else if (slice_is(s, "reject"))
		*p = TRUST_DMARC_P_REJECT;
	else
		return -1;
	return 0;
}

int trust_dmarc_record_parse(const char *s, size_t len,
			     struct trust_dmarc_record *out, const char **error_r)
{
	memset(out, 0, sizeof *out);
	out->pct = 100;
	struct trust_tags t;
	/* "v=DMARC1" must come first (6.4) */
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (len - i < 8 || strncmp(s + i, "v=DMARC1", 8) != 0)
		return 0;
	if (trust_tags_parse(s, len, &t, error_r) < 0)
		return -1;
	const struct slice *v = trust_tags_get(&t, "v");
	if (v == NULL || !slice_is(*v, "DMARC1") || t.n == 0 ||
	    !slice_is(t.t[0].name, "v"))
		return 0;
	const struct slice *p = trust_tags_get(&t, "p"), *sp = trust_tags_get(&t, "sp"),
			   *adkim = trust_tags_get(&t, "adkim"),
			   *aspf = trust_tags_get(&t, "aspf"), *pct = trust_tags_get(&t, "pct"),
			   *rua = trust_tags_get(&t, "rua");
	if (p == NULL || policy_of(*p, &out->p) < 0) {
		/* 6.6.3: no valid p= but rua= present: act as p=none */
		if (rua == NULL) {
			*error_r = "missing or bad p=";
			return -1;
		}
		out->p = TRUST_DMARC_P_NONE;
	}
	out->sp = out->p;
	if (sp && policy_of(*sp, &out->sp) == 0)
		out->has_sp = true;
	if (adkim && slice_is(*adkim, "s"))
		out->adkim_strict = true;
	if (aspf && slice_is(*aspf, "s"))
		out->aspf_strict = true;
	if (pct) {
		int v2 = 0;
		bool ok = pct->len > 0 && pct->len <= 3;
		for (size_t k = 0; ok && k < pct->len; k++) {
			if (!isdigit((unsigned char)pct->ptr[k]))
				ok = false;
			else
				v2 = v2 * 10 + (pct->ptr[k] - '0');
		}
		if (ok && v2 <= 100)
			out->pct = v2;
	}
	return 1;
}

/* Public suffixes of two labels, kept short on purpose (see the top). */
static const char *const two_level[] = {
	"co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk",
	"com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz",
	"co.jp", "ne.jp", "or.jp", "co.za", "com.br", "com.cn", "com.mx",
	"co.in", "co.kr", "com.tr", "com.sg", "com.hk", "co.il", "com.ar",
};

void trust_org_domain(const char *domain, char *out, size_t outlen)
{
	size_t n = strlen(domain);
	while (n > 0 && domain[n - 1] == '.')
		n--;
	/* positions of the last three dots */
	int dots = 0;
	size_t cut2 = 0, cut3 = 0;
	bool have2 = false, have3 = false;
	for (size_t i = n; i-- > 0;)
		if (domain[i] == '.') {
			dots++;
			if (dots == 1)
				continue;
			if (dots == 2) {
				cut2 = i + 1;
				have2 = true;
			} else if (dots == 3) {
				cut3 = i + 1;
				have3 = true;
				break;
			}
		}
	size_t start = have2 ? cut2 : 0;
	if (have2) {
		/* the last two labels: domain[after first dot of them..] */
		const char *last2 = NULL;
		int seen = 0;
		for (size_t i = n; i-- > 0;)
			if (domain[i] == '.' && ++seen == 1) {
				size_t j = i;
				while (j > 0 && domain[j - 1] != '.')
					j--;
				last2 = domain + j;
				break;
			}
		for (size_t k = 0; last2 && k < sizeof two_level / sizeof two_level[0]; k++)
			if ((size_t)(domain + n - last2) == strlen(two_level[k]) &&
			    strncasecmp(last2, two_level[k], strlen(two_level[k])) == 0)
				start = have3 ? cut3 : 0;
	}
	size_t len = n - start;
	if (len >= outlen)
		len = outlen - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)domain[start + i]);
	out[len] = '\0';
}

static void org_domain(const struct trust_psl *psl, const char *domain,
		       char *out, size_t outlen)
{
	if (psl != NULL)
		trust_psl_org_domain(psl, domain, out, outlen);
	else
		trust_org_domain(domain, out, outlen);
}

static bool aligned(const struct trust_psl *psl, const char *a, const char *b,
		    bool strict)
{
	if (a == NULL || b == NULL || a[0] == '\0' || b[0] == '\0')
		return false;
	if (strict)
		return strcasecmp(a, b) == 0;
	char oa[TRUST_DOMAIN_MAX + 1], ob[TRUST_DOMAIN_MAX + 1];
	org_domain(psl, a, oa, sizeof oa);
	org_domain(psl, b, ob, sizeof ob);
	return strcmp(oa, ob) == 0;
}

/* ---- evaluation ------------------------------------------------------------ */

struct trust_dmarc {
	struct trust_ctx *ctx;
	trust_dmarc_cb cb;
	void *arg;
	bool cancelled, waiting, at_org;
	bool in_eval;  /* inside trust_dmarc_evaluate: answers may come now */
	bool finished; /* outcome ready, delivered when evaluate returns */
	char org[TRUST_DOMAIN_MAX + 1];
	struct trust_dmarc_input in;
	char spf_domain[TRUST_DOMAIN_MAX + 1];
	struct trust_dmarc_outcome out;
	/* last: a copy of the caller's (which may go), written whole by
	 * trust_dmarc_evaluate rather than zeroed and then overwritten */
	struct trust_dkim_outcome dkim;
};

static void deliver(struct trust_dmarc *m)
{
	if (m->in_eval) {
		m->finished = true; /* the answer came from the cache */
		return;
	}
	if (!m->cancelled)
		m->cb(m->arg, &m->out);
	free(m);
}

static void apply(struct trust_dmarc *m, const struct trust_dmarc_record *r)
{
	const char *from = m->out.domain;
	const struct trust_psl *psl = trust_ctx_psl(m->ctx);
	m->out.spf_aligned = m->in.spf == TRUST_SPF_PASS &&
			     aligned(psl, m->spf_domain, from, r->aspf_strict);
	for (size_t i = 0; i < m->dkim.n_sigs; i++)
		if (m->dkim.sigs[i].result == TRUST_AUTH_PASS &&
		    aligned(psl, m->dkim.sigs[i].domain, from, r->adkim_strict))
			m->out.dkim_aligned = true;
	/* sp= applies when the policy came from the organizational domain */
	m->out.policy = m->at_org && r->has_sp ? r->sp : r->p;
	if (m->out.spf_aligned || m->out.dkim_aligned) {
		m->out.result = TRUST_AUTH_PASS;
		m->out.disposition = TRUST_DMARC_P_NONE;
		snprintf(m->out.reason, sizeof m->out.reason, "%s aligned",
			 m->out.dkim_aligned ? "DKIM" : "SPF");
		return;
	}
	m->out.result = TRUST_AUTH_FAIL;
	m->out.disposition = m->out.policy;
	/* 6.6.4: outside the pct= sample, reject becomes quarantine and
	 * quarantine becomes none */
	if ((int)m->in.sample >= r->pct && m->out.disposition != TRUST_DMARC_P_NONE)
		m->out.disposition--;
	snprintf(m->out.reason, sizeof m->out.reason,
		 "neither SPF nor DKIM aligned with the From domain");
}

static void ask(struct trust_dmarc *m, const char *domain);

static void on_record(void *arg, const struct tdns_answer *a)
{
	struct trust_dmarc *m = arg;
	m->waiting = false;
	if (m->cancelled) {
		free(m);
		return;
	}
	if (a->status == TDNS_TEMP) {
		m->out.result = TRUST_AUTH_TEMPERROR;
		snprintf(m->out.reason, sizeof m->out.reason, "DNS error");
		deliver(m);
		return;
	}
	struct trust_dmarc_record rec;
	int found = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct trust_dmarc_record r;
		const char *err = "";
		int rc = trust_dmarc_record_parse(a->text[i], a->text_len[i], &r, &err);
		if (rc == 1) {
			rec = r;
			found++;
		}
	}
	if (found == 1) {
		apply(m, &rec);
		deliver(m);
		return;
	}
	/* none (or several: 6.6.3 says discard them all) */
	if (!m->at_org && strcasecmp(m->org, m->out.domain) != 0) {
		m->at_org = true;
		ask(m, m->org);
		return;
	}
	/* no policy: alignment is still worked out (relaxed), because smtpd
	 * refuses unauthenticated mail claiming one of its own domains */
	struct trust_dmarc_record none;
	memset(&none, 0, sizeof none);
	none.pct = 100;
	apply(m, &none);
	m->out.result = TRUST_AUTH_NONE;
	m->out.policy = m->out.disposition = TRUST_DMARC_P_NONE;
	snprintf(m->out.reason, sizeof m->out.reason, "no DMARC record");
	deliver(m);
}

static void ask(struct trust_dmarc *m, const char *domain)
{
	char name[TRUST_DOMAIN_MAX + 16];
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	m->waiting = true;
	tdns_query(m->ctx, name, TDNS_TXT, on_record, m);
}

struct trust_dmarc *trust_dmarc_evaluate(struct trust_ctx *ctx,
					 const struct trust_dmarc_input *in,
					 trust_dmarc_cb cb, void *arg)
{
	struct trust_dmarc *m = malloc(sizeof *m);
	if (m != NULL) {
		memset(m, 0, offsetof(struct trust_dmarc, dkim));
		if (in->dkim)
			m->dkim = *in->dkim;
		else
			memset(&m->dkim, 0, sizeof m->dkim);
	}
	if (m == NULL) {
		struct trust_dmarc_outcome o;
		memset(&o, 0, sizeof o);
		o.result = TRUST_AUTH_TEMPERROR;
		snprintf(o.reason, sizeof o.reason, "out of memory");
		cb(arg, &o);
		return NULL;
	}
	m->ctx = ctx;
	m->cb = cb;
	m->arg = arg;
	m->in = *in;
	str_copy_cut(m->spf_domain, sizeof m->spf_domain, in->spf_domain ? in->spf_domain : "");
	str_copy_cut(m->out.domain, sizeof m->out.domain, in->from_domain ? in->from_domain : "");
	if (in->from_count != 1 || !tdns_name_ok(m->out.domain) ||
	    strlen(m->out.domain) > 240 || /* room for "_dmarc.": asked async */
	    strchr(m->out.domain, '.') == NULL) {
		/* 6.6.1: no single usable From domain */
		m->out.result = TRUST_AUTH_PERMERROR;
		str_copy_cut(m->out.reason, sizeof m->out.reason, in->from_count != 1 ? "not exactly one From field"
					     : "no usable From domain");
		deliver(m);
		return NULL;
	}
	org_domain(trust_ctx_psl(ctx), m->out.domain, m->org, sizeof m->org);
	m->in_eval = true;
	ask(m, m->out.domain);
	m->in_eval = false;
	if (m->finished) {
		deliver(m); /* answered from the cache: m is gone */
		return NULL;
	}
	return m;
}

void trust_dmarc_cancel(struct trust_dmarc **mp)
{
	struct trust_dmarc *m = *mp;
	*mp = NULL;
	if (m == NULL)
		return;
	m->cancelled = true;
	if (!m->waiting)
		free(m);
}
