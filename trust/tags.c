/*
 * tags.c - the tag=value list of RFC 6376 3.2, used by DKIM-Signature
 * fields, DKIM key records and DMARC records (RFC 7489 6.4). Pure and
 * bounded: at most TRUST_TAGS_MAX tags, slices into the caller's text.
 * Duplicate tag names are an error (3.2: "MUST NOT"); empty list entries
 * (";;" or a trailing ";") are skipped. Fuzzed by fuzz_trust_tags.c.
 */
#include <string.h>

#include "trust.h"

static bool wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static struct slice trim(const char *p, size_t n)
{
	while (n > 0 && wsp(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && wsp(p[n - 1]))
		n--;
	struct slice s = {p, n};
	return s;
}

int trust_tags_parse(const char *s, size_t len, struct trust_tags *out,
		     const char **error_r)
{
	out->n = 0;
	size_t i = 0;
	while (i <= len) {
		size_t st = i;
		while (i < len && s[i] != ';')
			i++;
		struct slice spec = trim(s + st, i - st);
		i++; /* past ';' (or the end) */
		if (spec.len == 0)
			continue;
		const char *eq = memchr(spec.ptr, '=', spec.len);
		if (eq == NULL) {
			*error_r = "tag without '='";
			return -1;
		}
		struct slice name = trim(spec.ptr, (size_t)(eq - spec.ptr));
		struct slice val = trim(eq + 1, spec.len - (size_t)(eq - spec.ptr) - 1);
		if (name.len == 0 || !((name.ptr[0] >= 'a' && name.ptr[0] <= 'z') ||
				       (name.ptr[0] >= 'A' && name.ptr[0] <= 'Z'))) {
			*error_r = "bad tag name";
			return -1;
		}
		for (size_t k = 0; k < name.len; k++) {
			char c = name.ptr[k];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '_')) {
				*error_r = "bad tag name";
				return -1;
			}
		}
		for (size_t k = 0; k < val.len; k++) {
			unsigned char c = (unsigned char)val.ptr[k];
			if ((c < 0x21 || c > 0x7e) && !wsp((char)c)) {
				*error_r = "bad character in tag value";
				return -1;
			}
		}
		for (size_t k = 0; k < out->n; k++)
			if (out->t[k].name.len == name.len &&
			    memcmp(out->t[k].name.ptr, name.ptr, name.len) == 0) {
				*error_r = "duplicate tag";
				return -1;
			}
		if (out->n >= TRUST_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		out->t[out->n].name = name;
		out->t[out->n].value = val;
		out->n++;
	}
	return 0;
}

const struct slice *trust_tags_get(const struct trust_tags *t, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].name.len == n && memcmp(t->t[i].name.ptr, name, n) == 0)
			return &t->t[i].value;
	return NULL;
}
