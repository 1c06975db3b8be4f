/*
 * rfc5322_scan.h - stepping over the parts of an RFC 5322 address header
 * value that hide characters: quoted strings ("...", with \-pairs) and
 * comments ((...), nested, with \-pairs). The rule engine's address lists
 * (rules/header.c) and DKIM/DMARC's From domain (trust/dkim.c) both scan a
 * value byte by byte and must agree on what is hidden, or an address
 * inside a comment could be read by one and not the other
 * ("From: boss@ours.test (<x@evil.test>)").
 *
 * Inline because it runs once per byte of the value.
 */
#ifndef MAILROOM_RFC5322_SCAN_H
#define MAILROOM_RFC5322_SCAN_H

#include <stdbool.h>
#include <stddef.h>

struct rfc5322_scan {
	bool quoted; /* inside a quoted string */
	int depth;   /* comment nesting, 0 outside */
};

/*
 * Looks at v[*i] (of len bytes) in the state s. True when the byte is
 * hidden from the caller: inside a quoted string or a comment, or the '"'
 * or '(' that opens one; a backslash there also hides the byte after it
 * (*i is moved onto it). False for a byte outside both, which the caller
 * handles itself.
 */
static inline bool rfc5322_hidden(struct rfc5322_scan *s, const char *v,
				  size_t len, size_t *i)
{
	char c = v[*i];
	if (s->quoted) {
		if (c == '\\' && *i + 1 < len)
			(*i)++;
		else if (c == '"')
			s->quoted = false;
		return true;
	}
	if (s->depth > 0) {
		if (c == '\\' && *i + 1 < len)
			(*i)++;
		else if (c == '(')
			s->depth++;
		else if (c == ')')
			s->depth--;
		return true;
	}
	if (c == '"') {
		s->quoted = true;
		return true;
	}
	if (c == '(') {
		s->depth = 1;
		return true;
	}
	return false;
}

#endif
