/*
 * arfilter.c - drops header fields that arrive at the MX claiming results
 * only Mailroom may write:
 * - Authentication-Results fields with our authserv-id (RFC 8601 5: a
 *   receiver must not trust, and should remove, such fields from outside,
 *   or a forger could write "dkim=pass" for us);
 * - every X-Spam and X-Spam-* field (X-Spam-Flag, -Status, -Score, -Level,
 *   ...), as SpamAssassin and rspamd do with the upstream ones: our verdict
 *   writes its own, and the rules' "X-Spam-Flag is yes" must see ours
 *   alone, not a sender's or another filter's (which would discard a
 *   message our checks found clean).
 *
 * Header lines are looked at one at a time (each up to the field cap);
 * only an Authentication-Results field is held back until its end is
 * known (the next line not starting with WSP), then dropped or passed; an
 * X-Spam field's lines are dropped as they come, continuation lines too.
 * An over-long ordinary line is passed through as it comes; an over-long
 * field of these names is dropped. The body is never held.
 */
#include <string.h>
#include <strings.h>

#include "trust_int.h"

int trust_arfilter_init(struct trust_arfilter *f, const char *authserv_id,
			trust_sink_fn sink, void *ctx)
{
	memset(f, 0, sizeof *f);
	size_t n = strlen(authserv_id);
	if (n >= sizeof f->authserv_id)
		return -1;
	memcpy(f->authserv_id, authserv_id, n + 1);
	f->sink = sink;
	f->ctx = ctx;
	if (buf_init_sized(&f->line, TRUST_ARFILTER_FIELD_MAX, TRUST_FIELD_FIRST) < 0)
		return -1;
	if (buf_init_sized(&f->field, TRUST_ARFILTER_FIELD_MAX, TRUST_FIELD_FIRST) < 0) {
		buf_free(&f->line);
		return -1;
	}
	return 0;
}

void trust_arfilter_free(struct trust_arfilter *f)
{
	buf_free(&f->line);
	buf_free(&f->field);
}

/* The length of the field name a header line starts with ("Name:", WSP
 * allowed before the colon), or 0 when the line does not start a field. */
static size_t field_name_len(const char *p, size_t n)
{
	size_t k = 0;
	while (k < n && p[k] != ':' && p[k] != ' ' && p[k] != '\t')
		k++;
	size_t name = k;
	while (k < n && (p[k] == ' ' || p[k] == '\t'))
		k++;
	return k < n && p[k] == ':' ? name : 0;
}

static bool is_ar_start(const char *p, size_t n)
{
	static const char ar[] = "authentication-results";
	return field_name_len(p, n) == sizeof ar - 1 &&
	       strncasecmp(p, ar, sizeof ar - 1) == 0;
}

/* "X-Spam" or "X-Spam-anything". */
static bool is_spam_start(const char *p, size_t n)
{
	size_t len = field_name_len(p, n);
	return len >= 6 && strncasecmp(p, "x-spam", 6) == 0 &&
	       (len == 6 || p[6] == '-');
}

/* The held field is complete: pass it or drop it. */
static int release(struct trust_arfilter *f)
{
	int rc = 0;
	if (f->field_too_long || f->field_spam ||
	    trust_auth_results_is_ours(f->field.data, f->field.len, f->authserv_id))
		f->dropped++;
	else
		rc = f->sink(f->ctx, f->field.data, f->field.len);
	buf_reset(&f->field);
	f->holding = f->field_too_long = f->field_spam = false;
	return rc;
}

/* A complete header line (with its LF) in f->line. */
static int line_done(struct trust_arfilter *f)
{
	const char *p = f->line.data;
	size_t n = f->line.len;
	int rc = 0;
	bool cont = n > 0 && (p[0] == ' ' || p[0] == '\t');
	if (f->holding && cont) {
		if (!f->field_spam && buf_append(&f->field, p, n) < 0)
			f->field_too_long = true;
		buf_reset(&f->line);
		return 0;
	}
	if (f->holding && (rc = release(f)) < 0)
		return rc;
	if ((n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n')) {
		f->in_body = true;
		rc = f->sink(f->ctx, p, n);
	} else if (is_spam_start(p, n) || is_ar_start(p, n)) {
		f->holding = true;
		f->field_spam = is_spam_start(p, n);
		if (!f->field_spam && buf_append(&f->field, p, n) < 0)
			f->field_too_long = true;
	} else {
		rc = f->sink(f->ctx, p, n);
	}
	buf_reset(&f->line);
	return rc;
}

/* The current line is over the cap: decide what its rest does. */
static int line_overflow(struct trust_arfilter *f)
{
	const char *p = f->line.data;
	size_t n = f->line.len;
	bool cont = n > 0 && (p[0] == ' ' || p[0] == '\t');
	int rc = 0;
	if (f->holding && cont) {
		f->field_too_long = true;
		f->line_drop = true;
	} else {
		if (f->holding && (rc = release(f)) < 0)
			return rc;
		if (is_ar_start(p, n) || is_spam_start(p, n)) {
			f->line_drop = true; /* counted when the field ends */
		} else {
			f->line_pass = true;
			rc = f->sink(f->ctx, p, n);
		}
	}
	buf_reset(&f->line);
	return rc;
}

int trust_arfilter_feed(struct trust_arfilter *f, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (f->in_body)
			return f->sink(f->ctx, p + i, n - i);
		const char *nl = memchr(p + i, '\n', n - i);
		size_t k = nl ? (size_t)(nl - (p + i)) + 1 : n - i;
		if (f->line_pass || f->line_drop) {
			int rc = f->line_pass ? f->sink(f->ctx, p + i, k) : 0;
			if (rc < 0)
				return rc;
			if (nl) {
				/* a dropped over-long A-R field may go on in
				 * continuation lines: keep holding it as dropped */
				if (f->line_drop && !f->holding) {
					f->holding = true;
					f->field_too_long = true;
				}
				f->line_pass = f->line_drop = false;
			}
			i += k;
			continue;
		}
		size_t room = TRUST_ARFILTER_FIELD_MAX - f->line.len;
		if (k > room) {
			if (buf_append(&f->line, p + i, room) < 0)
				return -1;
			i += room;
			int rc = line_overflow(f);
			if (rc < 0)
				return rc;
			continue;
		}
		if (buf_append(&f->line, p + i, k) < 0)
			return -1;
		i += k;
		if (nl) {
			int rc = line_done(f);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int trust_arfilter_end(struct trust_arfilter *f)
{
	int rc = 0;
	if (f->holding && (rc = release(f)) < 0)
		return rc;
	if (f->line.len > 0) {
		rc = f->sink(f->ctx, f->line.data, f->line.len);
		buf_reset(&f->line);
	}
	return rc;
}
