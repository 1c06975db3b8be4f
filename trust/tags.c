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

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && ((c >= '0' && c <= '9') || c == '_'));
}

/*
 * One pass over the text (it is read for every signed message): each
 * "name = value" entry up to its ';' is checked as it is read. The errors
 * are the same, in the same order, as checking each trimmed entry whole: an
 * entry without '=' first, then its name, then its value's characters.
 */
int trust_tags_parse(const char *s, size_t len, struct trust_tags *out,
		     const char **error_r)
{
	out->n = 0;
	size_t i = 0;
	while (i <= len) {
		while (i < len && wsp(s[i]))
			i++;
		if (i >= len || s[i] == ';') { /* an empty entry */
			i++;
			continue;
		}
		/* the name: up to '=' (or the entry's end: no '=') */
		size_t name_at = i, name_end = i;
		bool name_ok = true;
		for (; i < len && s[i] != '=' && s[i] != ';'; i++) {
			if (wsp(s[i]))
				continue;
			/* white space inside the name (not at its end) is bad */
			if (name_end != i && name_end != name_at)
				name_ok = false;
			if (!name_char(s[i], i == name_at))
				name_ok = false;
			name_end = i + 1;
		}
		if (i >= len || s[i] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		if (!name_ok || name_end == name_at) {
			*error_r = "bad tag name";
			return -1;
		}
		size_t eq = i++; /* past '=' */
		while (i < len && s[i] != ';' && wsp(s[i]))
			i++;
		size_t val_at = i, val_end = i;
		for (; i < len && s[i] != ';'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c >= 0x21 && c <= 0x7e) {
				val_end = i + 1;
				continue;
			}
			if (!wsp((char)c)) {
				*error_r = "bad character in tag value";
				return -1;
			}
		}
		i++; /* past ';' (or the end) */
		struct slice name = {s + name_at, name_end - name_at};
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
		if (val_end == val_at) /* empty: points right after '=' */
			val_at = val_end = eq + 1;
		out->t[out->n].value.ptr = s + val_at;
		out->t[out->n].value.len = val_end - val_at;
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
