/*
 * spam.c - a small score from the authentication results, for messages
 * that fail checks but are not refused, and the X-Spam-* header text
 * (SpamAssassin's field names, so mail clients' filters already know
 * them). Weights in tenths of a point; 5.0 is the usual threshold.
 *
 * With spamd (trust.spamd) its answer joins: the score becomes spamd's,
 * SPAMD joins our tests and spamd's rule names follow ours in
 * X-Spam-Status (folded); spam is spamd's score or ours at our
 * threshold. Without spamd the headers are byte for byte what they were.
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

/* spamd's rule names after ours: ",NAME" each, a new folded line
 * ("\r\n\t") before a name that would pass 78 columns. line is the
 * length of the current line so far. */
static int append_folded(struct buf *out, const char *names, size_t line)
{
	const char *p = names;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (line + 1 + n > 78) {
			if (buf_append(out, ",\r\n\t", 4) < 0)
				return -1;
			line = 1;
		} else {
			if (buf_append(out, ",", 1) < 0)
				return -1;
			line++;
		}
		if (buf_append(out, p, n) < 0)
			return -1;
		line += n;
		p += n + (comma ? 1 : 0);
	}
	return 0;
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
			       s->tests[0] ? s->tests : "none"};
	size_t start = out->len;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (buf_append_str(out, parts[i]) < 0)
			return -1;
	if (s->spamd == 1 && s->spamd_tests[0]) {
		const char *line = memchr(out->data + start, '\n', out->len - start);
		size_t col = line ? out->len - (size_t)(line + 1 - out->data) : 0;
		if (append_folded(out, s->spamd_tests, col) < 0)
			return -1;
	}
	return buf_append_str(out, "\r\n");
}

void trust_spam_add_spamd(struct trust_spam *s,
			  const struct trust_spamd_outcome *o)
{
	s->spamd_ms = (int)(o->elapsed_us / 1000);
	if (!o->answered) {
		s->spamd = -1;
		snprintf(s->spamd_summary, sizeof s->spamd_summary, "unavailable");
		snprintf(s->spamd_reason, sizeof s->spamd_reason, "%s",
			 o->reason[0] ? o->reason : "not asked");
		add(s, 0, "SPAMD_UNAVAILABLE");
		return;
	}
	char a[16], b[16];
	tenths(o->score_tenths, a, sizeof a);
	tenths(o->required_tenths, b, sizeof b);
	s->spamd = 1;
	s->spamd_score_tenths = o->score_tenths;
	s->spamd_required_tenths = o->required_tenths;
	s->spamd_spam = o->spam;
	snprintf(s->spamd_summary, sizeof s->spamd_summary, "%s/%s%s", a, b,
		 o->cut ? " (first 512 KiB)" : "");
	snprintf(s->spamd_tests, sizeof s->spamd_tests, "%s", o->symbols);
	add(s, 0, "SPAMD");
	bool ours = s->score_tenths >= s->threshold_tenths;
	s->score_tenths = o->score_tenths;
	s->is_spam = ours || s->score_tenths >= s->threshold_tenths;
}
