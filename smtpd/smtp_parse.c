/*
 * smtp_parse.c - SMTP command line, path and parameter parsing, base64.
 *
 * SECURITY: network input. Only slices of the caller's line are kept; the
 * mailbox is copied into struct addr by addr_parse(), which enforces the
 * RFC 5321 sizes. The path grammar is RFC 5321 4.1.2 with one policy
 * decision: relay forms are recognised and reported as SMTP_PATH_RELAY
 * (never normalised into something deliverable).
 */
#include "smtp_parse.h"

#include <string.h>

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

enum smtp_cmdline_result smtp_cmdline_parse(struct slice line,
					     struct smtp_cmdline *out)
{
	const unsigned char *p = (const unsigned char *)line.ptr;
	size_t n = line.len;

	for (size_t i = 0; i < n; i++) {
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
			return SMTP_CMDLINE_CONTROL;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0)
		return SMTP_CMDLINE_EMPTY;
	size_t v = 0;
	while (v < n && is_alpha(p[v]))
		v++;
	if (v == 0 || v > SMTP_VERB_MAX || (v < n && p[v] != ' '))
		return SMTP_CMDLINE_BAD_VERB;
	out->verb.ptr = line.ptr;
	out->verb.len = v;
	size_t a = v < n ? v + 1 : n;
	out->args.ptr = line.ptr + a;
	out->args.len = n - a;
	return SMTP_CMDLINE_OK;
}

int smtp_parse_decimal(struct slice s, int64_t *v_r)
{
	if (s.len == 0 || s.len > 18)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (!is_digit((unsigned char)s.ptr[i]))
			return -1;
		v = v * 10 + (s.ptr[i] - '0');
	}
	*v_r = v;
	return 0;
}

/* RFC 5321 esmtp-keyword: ALPHA / DIGIT then ALPHA / DIGIT / "-". */
static bool keyword_valid(struct slice k)
{
	if (k.len == 0 || k.len > 32)
		return false;
	for (size_t i = 0; i < k.len; i++) {
		unsigned char c = (unsigned char)k.ptr[i];
		if (!is_alpha(c) && !is_digit(c) && !(i > 0 && c == '-'))
			return false;
	}
	return true;
}

/* esmtp-value: %d33-60 / %d62-126 (plus UTF-8 per RFC 6531). */
static bool value_valid(struct slice v)
{
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];
		if (c < 33 || c == '=' || c == 127)
			return false;
	}
	return true;
}

static int params_parse(const char *p, size_t n, struct smtp_path *out)
{
	size_t i = 0;
	out->n_params = 0;
	while (i < n) {
		if (p[i] == ' ') {
			i++;
			continue;
		}
		size_t start = i;
		while (i < n && p[i] != ' ')
			i++;
		if (out->n_params == SMTP_PARAMS_MAX) {
			out->error = "too many parameters";
			return -1;
		}
		struct smtp_param *prm = &out->params[out->n_params];
		const char *eq = memchr(p + start, '=', i - start);
		prm->key.ptr = p + start;
		prm->key.len = eq ? (size_t)(eq - (p + start)) : i - start;
		prm->has_value = eq != NULL;
		prm->value.ptr = eq ? eq + 1 : p + i;
		prm->value.len = eq ? (size_t)(p + i - (eq + 1)) : 0;
		if (!keyword_valid(prm->key) ||
		    (prm->has_value && !value_valid(prm->value))) {
			out->error = "bad parameter syntax";
			return -1;
		}
		out->n_params++;
	}
	return 0;
}

/*
 * Find the '>' that closes the path starting after '<' at p[0..n), skipping
 * quoted strings (a quoted local part may hold '>'). Returns its index or -1.
 */
static long find_close(const char *p, size_t n)
{
	bool quoted = false;
	for (size_t i = 0; i < n; i++) {
		if (quoted) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				quoted = false;
		} else if (p[i] == '"') {
			quoted = true;
		} else if (p[i] == '>') {
			return (long)i;
		} else if (p[i] == '<') {
			return -1;
		}
	}
	return -1;
}

static bool prefix_match(struct slice s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (s.len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = s.ptr[i], b = prefix[i];
		if (a >= 'a' && a <= 'z')
			a = (char)(a - 'a' + 'A');
		if (a != b)
			return false;
	}
	return true;
}

/* Classify a mailbox that addr_parse refused: relay form or plain junk. */
static bool is_relay_form(const char *m, size_t n)
{
	if (n > 0 && (m[0] == '@' || m[0] == '"'))
		return true; /* source route, quoted local part */
	const char *at = NULL;
	for (size_t i = 0; i < n; i++) {
		if (m[i] == '%' || m[i] == '!' || m[i] == '"' || m[i] == ':')
			return true;
		if (m[i] == '@') {
			if (at != NULL)
				return true; /* double @ */
			at = m + i;
		}
	}
	if (at != NULL && at + 1 < m + n && at[1] == '[')
		return true; /* address literal */
	return false;
}

enum smtp_path_result smtp_path_parse(struct slice args, const char *prefix,
				      int addr_flags, struct smtp_path *out)
{
	out->n_params = 0;
	out->error = NULL;
	out->non_ascii = false;
	out->addr.full[0] = '\0';
	if (!prefix_match(args, prefix)) {
		out->error = "syntax: expected FROM:<address> or TO:<address>";
		return SMTP_PATH_SYNTAX;
	}
	size_t plen = strlen(prefix);
	const char *p = args.ptr + plen;
	size_t n = args.len - plen;
	while (n > 0 && *p == ' ') {
		p++;
		n--;
	}
	if (n == 0 || *p != '<') {
		out->error = "syntax: the address must be in angle brackets";
		return SMTP_PATH_SYNTAX;
	}
	long close = find_close(p + 1, n - 1);
	if (close < 0) {
		out->error = "syntax: missing '>'";
		return SMTP_PATH_SYNTAX;
	}
	const char *m = p + 1;
	size_t mlen = (size_t)close;
	const char *rest = m + mlen + 1;
	size_t rlen = n - 1 - mlen - 1;
	if (rlen > 0 && rest[0] != ' ') {
		out->error = "syntax: text after '>'";
		return SMTP_PATH_SYNTAX;
	}
	if (params_parse(rest, rlen, out) < 0)
		return SMTP_PATH_PARAMS;
	if (mlen == 0)
		return SMTP_PATH_NULL;
	if (mlen == 10 && prefix_match((struct slice){m, mlen}, "POSTMASTER"))
		return SMTP_PATH_POSTMASTER;
	if (is_relay_form(m, mlen)) {
		out->error = "source routes, '%', '!', quoted local parts and "
			     "address literals are not accepted";
		return SMTP_PATH_RELAY;
	}
	out->non_ascii = addr_has_non_ascii(m, mlen);
	const char *err = NULL;
	if (addr_parse(m, mlen, addr_flags, &out->addr, &err) < 0) {
		out->error = err ? err : "bad address";
		return SMTP_PATH_BAD_ADDR;
	}
	return SMTP_PATH_OK;
}


