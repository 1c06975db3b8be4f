/*
 * authres.c - the Authentication-Results header field (RFC 8601) that
 * smtpd prepends, and the test for one an outsider forged with our
 * authserv-id (5: such fields must be removed before ours is added).
 *
 * Values that came from the message or DNS (domains, selectors) are
 * reduced to the characters a domain or token may hold, so a hostile
 * d= cannot inject a "; dmarc=pass" of its own into our header.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "trust.h"

/* Copy s keeping only characters safe in a pvalue token. */
static void token(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr(".-_@+=/", c))
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

/* A reason as a comment: printable ASCII without ( ) or backslash. */
static void comment_text(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 1 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '(' && c != ')' && c != '\\')
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

/* Append the NULL-terminated list of strings: 0 or -1. (No printf: this
 * runs for every message, and the format machinery cost more than the
 * rest of the header.) */
static int cat(struct buf *out, ...)
{
	va_list ap;
	va_start(ap, out);
	int rc = 0;
	for (const char *s; rc == 0 && (s = va_arg(ap, const char *)) != NULL;)
		rc = buf_append_str(out, s);
	va_end(ap);
	return rc;
}

/* " (why)" when there is a reason, else "". */
static int reason(struct buf *out, const char *why)
{
	return why[0] ? cat(out, " (", why, ")", NULL) : 0;
}

int trust_auth_results_header(const char *authserv_id,
			      const struct trust_results *r, struct buf *out)
{
	char id[TRUST_DOMAIN_MAX + 1], a[128 + TRUST_DOMAIN_MAX + 2],
		b[TRUST_DOMAIN_MAX + 1], why[TRUST_REASON_MAX + 1];
	token(authserv_id, id, sizeof id);
	if (cat(out, "Authentication-Results: ", id, NULL) < 0)
		return -1;
	int methods = 0;
	if (r->spf) {
		const struct trust_spf_outcome *s = r->spf;
		token(s->identity, a, sizeof a);
		comment_text(s->reason, why, sizeof why);
		if (cat(out, ";\r\n\tspf=", trust_spf_result_name(s->result), NULL) < 0 ||
		    reason(out, why) < 0 ||
		    cat(out, s->helo_identity ? " smtp.helo=" : " smtp.mailfrom=",
			s->helo_identity ? s->domain : a, NULL) < 0)
			return -1;
		methods++;
	}
	if (r->dkim) {
		const struct trust_dkim_outcome *d = r->dkim;
		if (d->n_sigs == 0 &&
		    cat(out, ";\r\n\tdkim=",
			d->headers_too_big ? "permerror (header section too big)" : "none",
			NULL) < 0)
			return -1;
		for (size_t i = 0; i < d->n_sigs; i++) {
			const struct trust_dkim_sig *s = &d->sigs[i];
			token(s->domain, a, sizeof a);
			token(s->selector, b, sizeof b);
			comment_text(s->reason, why, sizeof why);
			char bp[sizeof s->b_prefix];
			token(s->b_prefix, bp, sizeof bp);
			bp[strnlen(bp, 8)] = '\0'; /* at most 8 characters */
			if (cat(out, ";\r\n\tdkim=", trust_auth_result_name(s->result),
				NULL) < 0 ||
			    reason(out, why) < 0 ||
			    cat(out, " header.d=", a, " header.s=", b, NULL) < 0)
				return -1;
			if (bp[0] && cat(out, " header.b=\"", bp, "\"", NULL) < 0)
				return -1;
		}
		methods++;
	}
	if (r->dmarc) {
		const struct trust_dmarc_outcome *m = r->dmarc;
		static const char *const pol[] = {"none", "quarantine", "reject"};
		token(m->domain, a, sizeof a);
		if (cat(out, ";\r\n\tdmarc=", trust_auth_result_name(m->result),
			" (p=", pol[m->policy], " dis=", pol[m->disposition],
			") header.from=", a[0] ? a : "unknown", NULL) < 0)
			return -1;
		methods++;
	}
	if (methods == 0 && buf_append_str(out, "; none") < 0)
		return -1;
	return buf_append_str(out, "\r\n");
}

bool trust_auth_results_is_ours(const char *field, size_t len,
				const char *authserv_id)
{
	static const char name[] = "authentication-results";
	size_t nl = sizeof name - 1;
	if (len < nl || strncasecmp(field, name, nl) != 0)
		return false;
	size_t i = nl;
	while (i < len && (field[i] == ' ' || field[i] == '\t'))
		i++;
	if (i >= len || field[i] != ':')
		return false;
	i++;
	/* skip CFWS: whitespace, folding and (comments) */
	for (;;) {
		while (i < len && isspace((unsigned char)field[i]))
			i++;
		if (i < len && field[i] == '(') {
			int depth = 0;
			for (; i < len; i++) {
				if (field[i] == '(')
					depth++;
				else if (field[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		break;
	}
	size_t st = i;
	while (i < len && !isspace((unsigned char)field[i]) && field[i] != ';' &&
	       field[i] != '(')
		i++;
	size_t idl = strlen(authserv_id);
	return i - st == idl && strncasecmp(field + st, authserv_id, idl) == 0;
}
