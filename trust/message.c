/*
 * message.c - the end-of-DATA decision in one object, so smtpd makes three
 * calls (new, feed while DATA streams, finish) and gets back what to
 * answer and which header fields to prepend:
 *
 *   header section over 256 KiB         -> 552 5.3.4
 *   more than one From address          -> 550 5.7.1
 *   DMARC disposition reject            -> 550 5.7.1 (the domain's policy)
 *   From is one of our domains, the
 *   session is not authenticated and
 *   neither SPF nor DKIM aligns         -> 550 5.7.1 (forged own domain)
 *   DMARC quarantine                    -> accepted, tagged as spam
 *   otherwise                           -> accepted with a score
 *
 * Authenticated sessions (our own users) are never refused here; their
 * messages still get Authentication-Results. Checks the settings turn off
 * are simply left out of the header.
 *
 * spamd (trust.spamd, trust_message_spamd): asked in parallel with the
 * DKIM key lookups; the verdict waits for its answer (or its timeout) and
 * its score joins ours (trust_spam_add_spamd). A spamd that is down, slow
 * or confused costs at most the timeout and never refuses mail: the
 * verdict is then Mailroom's own, with SPAMD_UNAVAILABLE in the tests.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust_int.h"

struct trust_message {
	struct trust_ctx *ctx;
	struct trust_message_params p;
	struct trust_settings settings;
	struct trust_spf_outcome spf;
	bool have_spf;
	char authserv_id[TRUST_DOMAIN_MAX + 1];
	struct trust_dkim *dkim;
	/* the verifier's own outcome (set by on_dkim; it lives in m->dkim,
	 * which only trust_message_free frees): not copied, ~5 KB */
	const struct trust_dkim_outcome *dkim_out;
	struct trust_dmarc *dmarc;
	struct trust_dmarc_outcome dmarc_out;
	bool have_dmarc;
	struct trust_verdict v;
	trust_verdict_cb cb;
	void *arg;
	int in_call;       /* inside trust_dmarc_evaluate: free later */
	bool free_pending;
	/* spamd (trust_message_spamd): NULL when not asked */
	struct trust_spamd *spamd;
	struct trust_spamd_outcome spamd_out;
	bool spamd_asked;   /* a verdict without spamd_out says unavailable */
	bool spamd_waiting; /* asked, no answer yet */
	bool verdict_waiting; /* DKIM/DMARC done, waiting for spamd */
};

struct trust_message *trust_message_new(struct trust_ctx *ctx,
					const struct trust_message_params *p)
{
	struct trust_message *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->ctx = ctx;
	m->p = *p;
	if (p->settings)
		m->settings = *p->settings;
	else
		trust_settings_defaults(&m->settings);
	m->p.settings = &m->settings;
	str_copy_cut(m->authserv_id, sizeof m->authserv_id, p->authserv_id ? p->authserv_id : "localhost");
	if (p->spf) {
		m->spf = *p->spf;
		m->have_spf = true;
	}
	m->p.spf = NULL;
	if (buf_init_sized(&m->v.headers, 16 * 1024, TRUST_FIELD_FIRST) < 0) {
		free(m);
		return NULL;
	}
	if (m->settings.dkim || m->settings.dmarc) {
		m->dkim = trust_dkim_new(ctx);
		if (m->dkim == NULL) {
			buf_free(&m->v.headers);
			free(m);
			return NULL;
		}
		trust_dkim_use_worker(m->dkim, p->dkim_worker);
	}
	return m;
}

void trust_message_feed(struct trust_message *m, const char *p, size_t n)
{
	if (m && m->dkim)
		trust_dkim_feed(m->dkim, p, n);
	if (m && m->spamd)
		trust_spamd_feed(m->spamd, p, n);
}

void trust_message_spamd(struct trust_message *m, struct event_base *base,
			 const char *received)
{
	if (m == NULL || m->settings.spamd[0] == '\0' || m->p.authenticated ||
	    m->spamd_asked)
		return;
	m->spamd_asked = true;
	if (base != NULL)
		m->spamd = trust_spamd_new(base, m->settings.spamd,
					   m->settings.spamd_timeout * 1000);
	if (m->spamd == NULL) {
		snprintf(m->spamd_out.reason, sizeof m->spamd_out.reason, "%s",
			 base ? "out of memory" : "no event loop");
		return;
	}
	if (received != NULL)
		trust_spamd_prefix(m->spamd, received, strlen(received));
}

void trust_message_set_spf(struct trust_message *m,
			   const struct trust_spf_outcome *spf)
{
	if (m && spf) {
		m->spf = *spf;
		m->have_spf = true;
	}
}

static bool from_is_local(const struct trust_message *m)
{
	return m->p.is_local && m->dkim_out && m->dkim_out->from_domain[0] &&
	       m->p.is_local(m->p.is_local_arg, m->dkim_out->from_domain);
}

static void uint_text(size_t v, char *out, size_t cap)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && n < sizeof tmp);
	size_t k = 0;
	while (n > 0 && k + 1 < cap)
		out[k++] = tmp[--n];
	out[k] = '\0';
}

/* "5.5", "-0.2" */
static void tenths_text(int v, char *out, size_t cap)
{
	char num[24];
	long a = v < 0 ? -(long)v : v;
	uint_text((size_t)(a / 10), num, sizeof num);
	char frac[2] = {(char)('0' + a % 10), '\0'};
	out[0] = '\0';
	str_cat_cut(out, cap, v < 0 ? "-" : "", num, ".", frac, NULL);
}

static void decide(struct trust_message *m)
{
	struct trust_verdict *v = &m->v;
	const struct trust_settings *s = &m->settings;
	struct trust_results r = {
		m->have_spf ? &m->spf : NULL,
		s->dkim ? m->dkim_out : NULL,
		m->have_dmarc ? &m->dmarc_out : NULL,
	};
	v->dkim = m->dkim_out;
	v->dmarc = m->have_dmarc ? &m->dmarc_out : NULL;
	const struct trust_dmarc_outcome *d = v->dmarc;
	if (!m->p.authenticated && m->dkim_out && m->dkim_out->headers_too_big) {
		/* who sent it cannot be told: no one needs 256 KiB of header */
		v->action = TRUST_REJECT;
		snprintf(v->reply, sizeof v->reply,
			 "552 5.3.4 Message header section too big");
	} else if (!m->p.authenticated && m->dkim_out && m->dkim_out->from_count > 1) {
		/* RFC 5322 3.6: one From field; with two, a mail client may
		 * show the one nobody checked (RFC 7489 6.6.1) */
		v->action = TRUST_REJECT;
		snprintf(v->reply, sizeof v->reply,
			 "550 5.7.1 Message refused: more than one From address");
	} else if (!m->p.authenticated && d) {
		if (d->disposition == TRUST_DMARC_P_REJECT) {
			v->action = TRUST_REJECT;
			snprintf(v->reply, sizeof v->reply,
				 "550 5.7.1 Message refused: the DMARC policy of %.100s "
				 "rejects mail that fails authentication",
				 d->domain);
		} else if (s->reject_forged_own_domain && from_is_local(m) &&
			   !d->spf_aligned && !d->dkim_aligned &&
			   d->result != TRUST_AUTH_TEMPERROR) {
			v->action = TRUST_REJECT;
			snprintf(v->reply, sizeof v->reply,
				 "550 5.7.1 Message refused: it claims to come from "
				 "%.100s but was not sent by it",
				 d->domain);
		} else if (d->disposition == TRUST_DMARC_P_QUARANTINE) {
			v->quarantine = true;
		}
	}
	trust_spam_score(&r, v->quarantine, s->spam_threshold_tenths, &v->spam);
	if (m->spamd_asked)
		trust_spam_add_spamd(&v->spam, &m->spamd_out);
	v->is_spam = v->spam.is_spam && !m->p.authenticated;
	v->subject_tag = v->is_spam && s->spam_subject_tag[0] ? s->spam_subject_tag
							       : NULL;
	buf_reset(&v->headers);
	if (trust_auth_results_header(m->authserv_id, &r, &v->headers) < 0 ||
	    (!m->p.authenticated && trust_spam_headers(&v->spam, &v->headers) < 0))
		buf_reset(&v->headers); /* cannot happen with the cap above */
	/* the log summary, built without printf (once per message) */
	char dk[48] = "off", sc[16];
	if (r.dkim) {
		size_t pass = 0;
		for (size_t i = 0; i < r.dkim->n_sigs; i++)
			pass += r.dkim->sigs[i].result == TRUST_AUTH_PASS;
		char a[24], b[24];
		uint_text(pass, a, sizeof a);
		uint_text(r.dkim->n_sigs, b, sizeof b);
		dk[0] = '\0';
		str_cat_cut(dk, sizeof dk, a, "/", b, NULL);
	}
	tenths_text(v->spam.score_tenths, sc, sizeof sc);
	static const char *const dis[] = {"none", "quarantine", "reject"};
	v->log[0] = '\0';
	str_cat_cut(v->log, sizeof v->log,
		"spf=", r.spf ? trust_spf_result_name(r.spf->result) : "off",
		" dkim_pass=", dk,
		" dmarc=", d ? trust_auth_result_name(d->result) : "off",
		" dmarc_dis=", d ? dis[d->disposition] : "none",
		" from_domain=", m->dkim_out ? m->dkim_out->from_domain : "",
		" spam_score=", sc,
		" action=", v->action == TRUST_REJECT ? "reject"
			    : v->quarantine ? "quarantine" : "accept",
		NULL);
	if (v->spam.spamd != 0) {
		char ms[24];
		uint_text((size_t)(v->spam.spamd_ms > 0 ? v->spam.spamd_ms : 0), ms,
			  sizeof ms);
		str_cat_cut(v->log, sizeof v->log, " spamd=", v->spam.spamd_summary,
			    " spamd_ms=", ms, NULL);
	}
}

static void done(struct trust_message *m)
{
	if (m->spamd_waiting) {
		m->verdict_waiting = true; /* on_spamd decides */
		return;
	}
	decide(m);
	trust_verdict_cb cb = m->cb;
	m->cb = NULL;
	if (cb)
		cb(m->arg, &m->v);
}

/* spamd answered or gave up (never inside trust_message_finish). */
static void on_spamd(void *arg, const struct trust_spamd_outcome *o)
{
	struct trust_message *m = arg;
	m->spamd_out = *o;
	m->spamd_waiting = false;
	if (m->verdict_waiting) {
		m->verdict_waiting = false;
		done(m); /* the verdict callback may free m */
	}
}

static void on_dmarc(void *arg, const struct trust_dmarc_outcome *o)
{
	struct trust_message *m = arg;
	m->dmarc = NULL; /* done: the handle is gone */
	m->dmarc_out = *o;
	m->have_dmarc = true;
	done(m);
}

static void on_dkim(void *arg, const struct trust_dkim_outcome *o)
{
	struct trust_message *m = arg;
	m->dkim_out = o;
	if (!m->settings.dmarc) {
		done(m);
		return;
	}
	struct trust_dmarc_input in = {
		.from_domain = o->from_domain,
		.from_count = o->from_count,
		.spf = m->have_spf ? m->spf.result : TRUST_SPF_NONE,
		.spf_domain = m->have_spf ? m->spf.domain : "",
		.dkim = m->settings.dkim ? o : NULL,
		.sample = m->p.sample,
	};
	/* the verdict callback may run inside (and free m) */
	m->in_call++;
	struct trust_dmarc *h = trust_dmarc_evaluate(m->ctx, &in, on_dmarc, m);
	m->in_call--;
	if (m->free_pending) {
		trust_message_free(&m);
		return;
	}
	m->dmarc = h;
}

void trust_message_finish(struct trust_message *m, trust_verdict_cb cb, void *arg)
{
	m->cb = cb;
	m->arg = arg;
	if (m->spamd != NULL) {
		m->spamd_waiting = true;
		trust_spamd_finish(m->spamd, on_spamd, m); /* answers later */
	}
	if (m->dkim == NULL) {
		done(m);
		return;
	}
	trust_dkim_finish(m->dkim, on_dkim, m);
}

void trust_message_free(struct trust_message **mp)
{
	struct trust_message *m = *mp;
	*mp = NULL;
	if (m == NULL)
		return;
	if (m->in_call) {
		m->free_pending = true;
		return;
	}
	trust_dmarc_cancel(&m->dmarc);
	trust_dkim_free(&m->dkim);
	trust_spamd_free(&m->spamd);
	buf_free(&m->v.headers);
	free(m);
}
