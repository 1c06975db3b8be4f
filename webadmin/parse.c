/*
 * parse.c - form, query, cookie and path decoding for the webadmin.
 *
 * SECURITY: every byte here comes from the network before any login check.
 * Lengths are always explicit, copies are bounded by the input size (a
 * decoded value is never longer than its encoding), and anything odd is
 * refused whole. See parse.h for the contracts.
 */
#include "parse.h"

#include <stdlib.h>
#include <string.h>

#include "../common/base64.h"

long url_decode(const char *src, size_t len, bool plus_is_space, char *dst,
		size_t dstlen)
{
	size_t o = 0;

	if (dstlen == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c == '%') {
			if (len - i < 3)
				return -1;
			int hi = base16_value((unsigned char)src[i + 1]);
			int lo = base16_value((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			if (c == 0)
				return -1;
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		} else if (c == 0) {
			return -1;
		}
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return (long)o;
}

void form_free(struct form *f)
{
	if (f->store != NULL)
		explicit_bzero(f->store, f->store_len);
	free(f->store);
	f->store_len = 0;
	f->store = NULL;
	f->n = 0;
}

int form_parse(const char *data, size_t len, struct form *f)
{
	f->n = 0;
	/* Decoded text is never longer than its source; +1 NUL per byte bound. */
	f->store = malloc(len * 2 + 2);
	if (f->store == NULL)
		return -1;
	f->store_len = len * 2 + 2;
	char *out = f->store;
	size_t room = len * 2 + 2;
	size_t i = 0;

	while (i < len) {
		size_t end = i;
		while (end < len && data[end] != '&')
			end++;
		if (end > i) {
			size_t eq = i;
			while (eq < end && data[eq] != '=')
				eq++;
			if (f->n == FORM_FIELDS_MAX)
				goto bad;
			long nl = url_decode(data + i, eq - i, true, out, room);
			if (nl < 0)
				goto bad;
			f->fields[f->n].name = out;
			out += nl + 1;
			room -= (size_t)nl + 1;
			size_t vstart = eq < end ? eq + 1 : end;
			long vl = url_decode(data + vstart, end - vstart, true,
					     out, room);
			if (vl < 0)
				goto bad;
			f->fields[f->n].value = out;
			out += vl + 1;
			room -= (size_t)vl + 1;
			f->n++;
		}
		i = end + 1;
	}
	return 0;
bad:
	f->n = 0;
	return -1;
}

const char *form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

int cookie_get(const char *header, size_t len, const char *name, char *dst,
	       size_t dstlen)
{
	size_t nlen = strlen(name);
	size_t i = 0;

	while (i < len) {
		while (i < len && (is_ows(header[i]) || header[i] == ';'))
			i++;
		size_t start = i;
		while (i < len && header[i] != ';')
			i++;
		/* one "name=value" pair in header[start..i) */
		size_t end = i;
		while (end > start && is_ows(header[end - 1]))
			end--;
		size_t eq = start;
		while (eq < end && header[eq] != '=')
			eq++;
		if (eq == end)
			continue;
		size_t ne = eq;
		while (ne > start && is_ows(header[ne - 1]))
			ne--;
		if (ne - start != nlen || memcmp(header + start, name, nlen) != 0)
			continue;
		size_t vs = eq + 1;
		while (vs < end && is_ows(header[vs]))
			vs++;
		if (end - vs >= 2 && header[vs] == '"' && header[end - 1] == '"') {
			vs++;
			end--;
		}
		size_t vlen = end - vs;
		if (vlen + 1 > dstlen)
			return -1;
		for (size_t k = vs; k < end; k++) {
			unsigned char c = (unsigned char)header[k];
			if (c < 0x21 || c == 0x7f || c == '"' || c == ',' ||
			    c == '\\')
				return -1;
		}
		memcpy(dst, header + vs, vlen);
		dst[vlen] = '\0';
		return 0;
	}
	return -1;
}

bool route_match(const char *pattern, const char *path, size_t len,
		 struct route_cap *caps, size_t *ncaps_r)
{
	size_t pi = 0, si = 0, nc = 0;
	size_t plen = strlen(pattern);

	/* a trailing slash is not a different page (but "/" stays "/") */
	if (len > 1 && path[len - 1] == '/')
		len--;
	while (pi < plen && si < len) {
		if (pattern[pi] != '/' || path[si] != '/')
			return false;
		pi++;
		si++;
		size_t pe = pi, se = si;
		while (pe < plen && pattern[pe] != '/')
			pe++;
		while (se < len && path[se] != '/')
			se++;
		if (pe - pi == 2 && pattern[pi] == '{' && pattern[pi + 1] == '}') {
			if (se == si || nc == ROUTE_CAPTURES_MAX)
				return false;
			caps[nc].ptr = path + si;
			caps[nc].len = se - si;
			nc++;
		} else if (pe - pi != se - si ||
			   memcmp(pattern + pi, path + si, pe - pi) != 0) {
			return false;
		}
		pi = pe;
		si = se;
	}
	if (pi != plen || si != len)
		return false;
	*ncaps_r = nc;
	return true;
}

int csv_split(char *line, char **fields, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (n == max)
			return -1;
		char *out = p;
		fields[n++] = out;
		if (*p == '"') {
			p++;
			for (;;) {
				if (*p == '\0')
					return -1;
				if (*p == '"' && p[1] == '"') {
					*out++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*out++ = *p++;
				}
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != ',' && *p != '\0')
				return -1;
		} else {
			while (*p != ',' && *p != '\0')
				*out++ = *p++;
			while (out > fields[n - 1] &&
			       (out[-1] == ' ' || out[-1] == '\t'))
				out--;
		}
		bool more = *p == ',';
		/* out never passes p, so terminating at out is safe */
		if (more)
			p++;
		*out = '\0';
		if (!more)
			return (int)n;
	}
}

void hex_encode(const unsigned char *src, size_t n, char *dst)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 15];
	}
	dst[2 * n] = '\0';
}

bool list_next(const char **p, const char **item, size_t *n)
{
	static const char sep[] = ", ;\t";
	const char *s = *p + strspn(*p, sep);
	*item = s;
	*n = strcspn(s, sep);
	*p = s + *n;
	return *n > 0;
}
