/*
 * auth.c - our own SPF, DKIM and DMARC results as rule conditions: the
 * result words each method may have, and the Authentication-Results
 * fields (RFC 8601) of an arriving message read into struct rules_auth.
 *
 * Trust: only a field with OUR authserv-id counts, and only in the exact
 * form smtpd writes and the MX filter recognises (trust/authres.c,
 * trust_auth_results_is_ours): the value starts with the id, followed at
 * once by ';'. A looser reading (a comment or a quoted string before or
 * around the id, "id 1;" with a version) could accept a forged field the
 * filter let through because it did not see our id in it. Other servers'
 * fields are never read. Inside our field, comments (nested, with
 * quoted-pairs) and quoted strings are skipped, so text in them - a
 * "(spf=pass)" reason or a header.b="..." value - is never a result.
 *
 * Bounded: one pass over each Authentication-Results field's unfolded
 * text, which rules_message_parse already holds; nothing is allocated.
 */
#include <string.h>
#include <strings.h>

#include "rules_int.h"

#define BIT(r) (1u << (r))

/* Indexed by enum rules_auth_result. */
static const char *const result_words[] = {
	[RULES_AUTH_NONE] = "none",
	[RULES_AUTH_PASS] = "pass",
	[RULES_AUTH_FAIL] = "fail",
	[RULES_AUTH_SOFTFAIL] = "softfail",
	[RULES_AUTH_NEUTRAL] = "neutral",
	[RULES_AUTH_POLICY] = "policy",
	[RULES_AUTH_TEMPERROR] = "temperror",
	[RULES_AUTH_PERMERROR] = "permerror",
};

/* Each method's RFC 8601 section 2.7 results, and the method name. */
static const struct {
	enum rules_field field;
	const char *method;
	unsigned allowed;
	const char *words; /* the same, in the RFC's order, for people */
} methods[] = {
	{RULES_FIELD_SPF, "spf",
	 BIT(RULES_AUTH_NONE) | BIT(RULES_AUTH_NEUTRAL) | BIT(RULES_AUTH_PASS) |
		 BIT(RULES_AUTH_FAIL) | BIT(RULES_AUTH_SOFTFAIL) |
		 BIT(RULES_AUTH_POLICY) | BIT(RULES_AUTH_TEMPERROR) |
		 BIT(RULES_AUTH_PERMERROR),
	 "none neutral pass fail softfail policy temperror permerror"},
	{RULES_FIELD_DKIM, "dkim",
	 BIT(RULES_AUTH_NONE) | BIT(RULES_AUTH_PASS) | BIT(RULES_AUTH_FAIL) |
		 BIT(RULES_AUTH_POLICY) | BIT(RULES_AUTH_NEUTRAL) |
		 BIT(RULES_AUTH_TEMPERROR) | BIT(RULES_AUTH_PERMERROR),
	 "none pass fail policy neutral temperror permerror"},
	{RULES_FIELD_DMARC, "dmarc",
	 BIT(RULES_AUTH_NONE) | BIT(RULES_AUTH_PASS) | BIT(RULES_AUTH_FAIL) |
		 BIT(RULES_AUTH_TEMPERROR) | BIT(RULES_AUTH_PERMERROR),
	 "none pass fail temperror permerror"},
};

static int method_index(enum rules_field f)
{
	for (size_t i = 0; i < COUNT(methods); i++)
		if (methods[i].field == f)
			return (int)i;
	return -1;
}

bool rules_field_is_auth(enum rules_field f)
{
	return method_index(f) >= 0;
}

const char *rules_auth_words(enum rules_field f)
{
	int m = method_index(f);
	return m < 0 ? "" : methods[m].words;
}

/* The result word s[0..n) (any case) allowed for method m, or -1. */
static int result_of(int m, const char *s, size_t n)
{
	for (size_t r = 0; r < COUNT(result_words); r++)
		if (strlen(result_words[r]) == n &&
		    strncasecmp(s, result_words[r], n) == 0)
			return (methods[m].allowed & BIT(r)) ? (int)r : -1;
	return -1;
}

int rules_auth_result_parse(enum rules_field f, const char *word)
{
	int m = method_index(f);
	return m < 0 || word == NULL ? -1 : result_of(m, word, strlen(word));
}

/* ---- reading our Authentication-Results ----------------------------------- */

struct scan {
	const char *s;
	size_t i, n;
};

/* RFC 2045 tspecials, space and controls end a token. */
static bool token_char(char c)
{
	unsigned char u = (unsigned char)c;
	return u > ' ' && u != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* CFWS (RFC 5322 3.2.2): white space and comments, which nest and may
 * hold quoted-pairs; an unclosed comment runs to the end. */
static void skip_cfws(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == ' ' || c == '\t') {
			sc->i++;
			continue;
		}
		if (c != '(')
			return;
		size_t depth = 0;
		while (sc->i < sc->n) {
			c = sc->s[sc->i++];
			if (c == '\\' && sc->i < sc->n)
				sc->i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

/* A quoted string starting at sc->i ('"'), quoted-pairs inside; an
 * unclosed one runs to the end. */
static void skip_quoted(struct scan *sc)
{
	sc->i++;
	while (sc->i < sc->n) {
		char c = sc->s[sc->i++];
		if (c == '\\' && sc->i < sc->n)
			sc->i++;
		else if (c == '"')
			return;
	}
}

/* A token at sc->i (CFWS before it skipped); its length, 0 for none. */
static size_t read_token(struct scan *sc, const char **start_r)
{
	skip_cfws(sc);
	*start_r = sc->s + sc->i;
	size_t st = sc->i;
	while (sc->i < sc->n && token_char(sc->s[sc->i]))
		sc->i++;
	return sc->i - st;
}

/* Past the next ';' that is not inside a comment or a quoted string;
 * false at the end of the field. */
static bool next_resinfo(struct scan *sc)
{
	while (sc->i < sc->n) {
		char c = sc->s[sc->i];
		if (c == '(')
			skip_cfws(sc);
		else if (c == '"')
			skip_quoted(sc);
		else if (c == ';') {
			sc->i++;
			return true;
		} else
			sc->i++;
	}
	return false;
}

/* The single character c (after CFWS) at sc->i, consumed; or false. */
static bool expect(struct scan *sc, char c)
{
	skip_cfws(sc);
	if (sc->i < sc->n && sc->s[sc->i] == c) {
		sc->i++;
		return true;
	}
	return false;
}

static uint16_t *method_bits(struct rules_auth *a, enum rules_field f)
{
	return f == RULES_FIELD_SPF ? &a->spf : f == RULES_FIELD_DKIM ? &a->dkim : &a->dmarc;
}

/*
 * One field's value (unfolded): when its authserv-id is ours, each
 * resinfo "method[/version]=result ..." sets the result's bit. A resinfo
 * that does not read that way ("none", garbage) is passed over.
 */
static void read_field(struct rules_auth *seen, const char *v, size_t n,
		       const char *id, size_t idlen)
{
	if (n <= idlen || strncasecmp(v, id, idlen) != 0 || v[idlen] != ';')
		return;
	struct scan sc = {v, idlen, n};
	while (next_resinfo(&sc)) {
		const char *name, *word;
		size_t nl = read_token(&sc, &name);
		if (nl == 0)
			continue;
		if (expect(&sc, '/')) { /* method-version */
			const char *ver;
			if (read_token(&sc, &ver) == 0)
				continue;
		}
		if (!expect(&sc, '='))
			continue;
		size_t wl = read_token(&sc, &word);
		for (size_t m = 0; wl > 0 && m < COUNT(methods); m++) {
			if (strlen(methods[m].method) != nl ||
			    strncasecmp(name, methods[m].method, nl) != 0)
				continue;
			int r = result_of((int)m, word, wl);
			if (r >= 0)
				*method_bits(seen, methods[m].field) |= (uint16_t)BIT(r);
		}
	}
}

void rules_message_auth(struct rules_message *msg, const char *authserv_id)
{
	struct rules_auth seen = {0, 0, 0};
	static const char ar[] = "authentication-results";
	uint32_t hash = rules_header_name_hash(ar, sizeof ar - 1);
	size_t idlen = authserv_id ? strlen(authserv_id) : 0;
	for (size_t i = 0; idlen > 0 && i < msg->n_headers; i++) {
		const struct rules_header *h = &msg->headers[i];
		if (h->name_hash == hash && h->name.len == sizeof ar - 1 &&
		    strncasecmp(h->name.ptr, ar, sizeof ar - 1) == 0)
			read_field(&seen, h->raw, h->raw_len, authserv_id, idlen);
	}
	/* a method our fields do not mention: none */
	msg->auth.spf = seen.spf ? seen.spf : (uint16_t)BIT(RULES_AUTH_NONE);
	msg->auth.dkim = seen.dkim ? seen.dkim : (uint16_t)BIT(RULES_AUTH_NONE);
	msg->auth.dmarc = seen.dmarc ? seen.dmarc : (uint16_t)BIT(RULES_AUTH_NONE);
}
