/*
 * spam.c - a small score from the authentication results, for messages
 * that fail checks but are not refused, and the X-Spam-* header text
 * (SpamAssassin's field names, so mail clients' filters already know
 * them). Weights in tenths of a point; 5.0 is the usual threshold.
 */
#include <stdio.h>
#include <string.h>

#include "trust.h"

static void add(struct trust_spam *s, int tenths, const char *name)
{
	s->score_tenths += tenths;
	size_t n = strlen(s->tests);
	snprintf(s->tests + n, sizeof s->tests - n, "%s%s", n ? "," : "", name);
}

void trust_spam_score(const struct trust_results *r, bool quarantine,
		      int threshold_tenths, struct trust_spam *out)
{
	memset(out, 0, sizeof *out);
	out->threshold_tenths = threshold_tenths;
	if (r->spf) {
		switch (r->spf->result) {
		case TRUST_SPF_FAIL: add(out, 35, "SPF_FAIL"); break;
		case TRUST_SPF_SOFTFAIL: add(out, 15, "SPF_SOFTFAIL"); break;
		case TRUST_SPF_PERMERROR: add(out, 5, "SPF_PERMERROR"); break;
		case TRUST_SPF_NONE: add(out, 3, "SPF_NONE"); break;
		case TRUST_SPF_PASS: add(out, -1, "SPF_PASS"); break;
		default: break;
		}
	}
	if (r->dkim) {
		bool pass = false, fail = false, partial = false;
		for (size_t i = 0; i < r->dkim->n_sigs; i++) {
			enum trust_auth_result x = r->dkim->sigs[i].result;
			pass |= x == TRUST_AUTH_PASS;
			fail |= x == TRUST_AUTH_FAIL;
			partial |= x == TRUST_AUTH_POLICY;
		}
		if (pass)
			add(out, -1, "DKIM_VALID");
		else if (fail)
			add(out, 20, "DKIM_INVALID");
		else if (r->dkim->n_sigs == 0)
			add(out, 3, "DKIM_NONE");
		if (partial)
			add(out, 15, "DKIM_LENGTH_UNSIGNED");
	}
	if (r->dmarc) {
		if (r->dmarc->result == TRUST_AUTH_FAIL)
			add(out, 20, "DMARC_FAIL");
		if (quarantine)
			add(out, 50, "DMARC_QUARANTINE");
	}
	out->is_spam = out->score_tenths >= threshold_tenths;
}

/* "5.5", "-0.2" (no printf: once per message, see authres.c) */
static void tenths(int v, char *out, size_t cap)
{
	char tmp[16];
	size_t n = 0;
	unsigned a = v < 0 ? (unsigned)-(long)v : (unsigned)v;
	tmp[n++] = (char)('0' + a % 10);
	tmp[n++] = '.';
	a /= 10;
	do {
		tmp[n++] = (char)('0' + a % 10);
		a /= 10;
	} while (a > 0 && n < sizeof tmp - 1);
	if (v < 0)
		tmp[n++] = '-';
	size_t k = 0;
	while (n > 0 && k + 1 < cap)
		out[k++] = tmp[--n];
	out[k] = '\0';
}

int trust_spam_headers(const struct trust_spam *s, struct buf *out)
{
	char sc[16], th[16];
	tenths(s->score_tenths, sc, sizeof sc);
	tenths(s->threshold_tenths, th, sizeof th);
	if (s->is_spam && buf_append_str(out, "X-Spam-Flag: YES\r\n") < 0)
		return -1;
	const char *parts[] = {"X-Spam-Score: ", sc, "\r\nX-Spam-Status: ",
			       s->is_spam ? "Yes" : "No", ", score=", sc,
			       " required=", th, " tests=",
			       s->tests[0] ? s->tests : "none", "\r\n"};
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (buf_append_str(out, parts[i]) < 0)
			return -1;
	return 0;
}
