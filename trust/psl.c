/*
 * psl.c - the Public Suffix List (publicsuffix.org, Debian package
 * publicsuffix: /usr/share/publicsuffix/public_suffix_list.dat) for DMARC
 * organizational domains (RFC 7489 3.2): the org domain is the public
 * suffix plus one label.
 *
 * The file is read once (at smtpd start) into one block of rule text and
 * an open-addressing hash of its rules; a lookup hashes each suffix of the
 * domain once, longest first. Rules follow the list's format: "a.b" (a
 * suffix), "*.b" (every label under b is a suffix), "!x.b" (an exception
 * to a wildcard: x.b is not a suffix, b is). A domain no rule matches has
 * its last label as its suffix (the implicit "*" rule). Both the ICANN and
 * the private sections are used (as OpenDMARC does). Rules in Unicode are
 * skipped: domains reach DMARC in their ASCII form (xn--), which those
 * rules would not match anyway without punycode.
 *
 * Limits: at most TRUST_PSL_FILE_MAX of file and TRUST_PSL_RULES_MAX
 * rules; a file over either is refused whole (the built-in short list in
 * dmarc.c is then used), never half read.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust_int.h"

enum { PSL_NORMAL = 1, PSL_WILDCARD = 2, PSL_EXCEPTION = 4 };

struct psl_slot {
	uint32_t off; /* rule text in text, NUL-terminated; 0 = empty slot */
	uint8_t flags;
};

struct trust_psl {
	char *text; /* text[0] is unused so that off 0 means empty */
	size_t text_len;
	struct psl_slot *slots;
	size_t n_slots; /* a power of two, at least twice the rules */
	size_t n_rules;
};

static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct psl_slot *find(const struct trust_psl *p, const char *s, size_t n)
{
	size_t mask = p->n_slots - 1;
	for (size_t i = hash(s, n) & mask;; i = (i + 1) & mask) {
		struct psl_slot *e = &p->slots[i];
		if (e->off == 0)
			return e;
		const char *t = p->text + e->off;
		if (strncmp(t, s, n) == 0 && t[n] == '\0')
			return e;
	}
}

/* Flags of the rule s[0..n), 0 when there is none. */
static unsigned flags_of(const struct trust_psl *p, const char *s, size_t n)
{
	const struct psl_slot *e = find(p, s, n);
	return e->off ? e->flags : 0;
}

/* The rule on line l (len n): its kind and its domain part, lowercased in
 * place; false for comments, blank lines and rules we do not use. */
static bool parse_rule(char *l, size_t n, unsigned *kind, char **dom, size_t *dlen)
{
	size_t e = 0;
	while (e < n && l[e] != ' ' && l[e] != '\t' && l[e] != '\r')
		e++; /* the rule ends at the first white space */
	if (e == 0 || (e >= 2 && l[0] == '/' && l[1] == '/'))
		return false;
	*kind = PSL_NORMAL;
	if (l[0] == '!') {
		*kind = PSL_EXCEPTION;
		l++, e--;
	} else if (e > 2 && l[0] == '*' && l[1] == '.') {
		*kind = PSL_WILDCARD;
		l += 2, e -= 2;
	}
	if (e == 0 || e > TRUST_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < e; i++) {
		unsigned char c = (unsigned char)l[i];
		if (c >= 0x80 || !(isalnum(c) || c == '-' || c == '.'))
			return false; /* Unicode (or junk): see the top */
		l[i] = (char)tolower(c);
	}
	*dom = l;
	*dlen = e;
	return true;
}

struct trust_psl *trust_psl_parse(const char *data, size_t len, char *err,
				  size_t errlen)
{
	if (len > TRUST_PSL_FILE_MAX) {
		snprintf(err, errlen, "list too big (%zu bytes)", len);
		return NULL;
	}
	struct trust_psl *p = calloc(1, sizeof *p);
	char *work = malloc(len + 1);
	if (p == NULL || work == NULL || (p->text = malloc(len + 2)) == NULL)
		goto oom;
	memcpy(work, data, len);
	work[len] = '\0';
	/* count the lines for the table size: an upper bound of the rules */
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += work[i] == '\n';
	if (lines > TRUST_PSL_RULES_MAX) {
		snprintf(err, errlen, "too many lines (%zu)", lines);
		goto fail;
	}
	p->n_slots = 16;
	while (p->n_slots < 2 * lines)
		p->n_slots *= 2;
	if ((p->slots = calloc(p->n_slots, sizeof *p->slots)) == NULL)
		goto oom;
	p->text_len = 1; /* offset 0 stands for "empty" */
	for (char *l = work; l < work + len;) {
		char *nl = memchr(l, '\n', (size_t)(work + len - l));
		size_t n = nl ? (size_t)(nl - l) : (size_t)(work + len - l);
		unsigned kind;
		char *dom;
		size_t dlen;
		if (parse_rule(l, n, &kind, &dom, &dlen)) {
			struct psl_slot *e = find(p, dom, dlen);
			if (e->off == 0) {
				memcpy(p->text + p->text_len, dom, dlen);
				p->text[p->text_len + dlen] = '\0';
				e->off = (uint32_t)p->text_len;
				p->text_len += dlen + 1;
				p->n_rules++;
			}
			e->flags |= (uint8_t)kind;
		}
		l += n + 1;
	}
	free(work);
	if (p->n_rules == 0) {
		snprintf(err, errlen, "no rules");
		trust_psl_free(&p);
		return NULL;
	}
	return p;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(work);
	trust_psl_free(&p);
	return NULL;
}

struct trust_psl *trust_psl_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *data = malloc(TRUST_PSL_FILE_MAX + 1);
	size_t n = data ? fread(data, 1, TRUST_PSL_FILE_MAX + 1, f) : 0;
	bool bad = data == NULL || ferror(f);
	fclose(f);
	struct trust_psl *p = NULL;
	if (bad)
		snprintf(err, errlen, "%s: read error", path);
	else
		p = trust_psl_parse(data, n, err, errlen);
	free(data);
	return p;
}

void trust_psl_free(struct trust_psl **pp)
{
	struct trust_psl *p = *pp;
	*pp = NULL;
	if (p == NULL)
		return;
	free(p->text);
	free(p->slots);
	free(p);
}

size_t trust_psl_rules(const struct trust_psl *p)
{
	return p ? p->n_rules : 0;
}

/*
 * Where the public suffix of d[0..n) starts (an index in d). Suffixes are
 * tried longest first, so the first match is the prevailing rule; an
 * exception names a suffix that is not public, its parent is.
 */
static size_t suffix_start(const struct trust_psl *p, const char *d, size_t n)
{
	size_t i = 0;
	for (;;) {
		const char *dot = memchr(d + i, '.', n - i);
		unsigned f = flags_of(p, d + i, n - i);
		if ((f & PSL_EXCEPTION) && dot != NULL)
			return (size_t)(dot - d) + 1;
		if ((f & PSL_NORMAL) || dot == NULL)
			return i; /* a rule, or the last label (implicit "*") */
		size_t parent = (size_t)(dot - d) + 1;
		if (flags_of(p, d + parent, n - parent) & PSL_WILDCARD)
			return i;
		i = parent;
	}
}

void trust_psl_org_domain(const struct trust_psl *p, const char *domain,
			  char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	char d[TRUST_DOMAIN_MAX + 1];
	size_t n = strlen(domain);
	while (n > 0 && domain[n - 1] == '.')
		n--;
	if (n >= sizeof d)
		n = sizeof d - 1;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)domain[i]);
	d[n] = '\0';
	size_t start = 0;
	if (n > 0 && d[0] != '.' && strstr(d, "..") == NULL) {
		size_t ps = suffix_start(p, d, n);
		/* one label more than the suffix, if the domain has it */
		if (ps >= 2) {
			size_t j = ps - 1; /* the dot before the suffix */
			while (j > 0 && d[j - 1] != '.')
				j--;
			start = j;
		}
	}
	size_t len = n - start;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, d + start, len);
	out[len] = '\0';
}
