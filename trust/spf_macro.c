/*
 * spf_macro.c - SPF macro expansion (RFC 7208 7): %{s l o d i p h v} in
 * domain-specs and c, r, t in explanations, with the digit / reverse /
 * delimiter transformers and URL escaping for upper-case letters.
 * Output is bounded by the caller's buffer; an expansion that does not fit
 * is an error, never silently cut (domain-specs are then left-truncated to
 * 253 octets as 7.3 says).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "spf_int.h"

static int put(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len >= cap)
		return -1;
	memcpy(out + *n, s, len);
	*n += len;
	out[*n] = '\0';
	return 0;
}

static void ip_dotted(const struct spf_macro_env *e, char *out, size_t cap,
		      bool readable)
{
	if (e->family == AF_INET) {
		inet_ntop(AF_INET, &e->ip.s6_addr[12], out, (socklen_t)cap);
		return;
	}
	if (readable) {
		inet_ntop(AF_INET6, &e->ip, out, (socklen_t)cap);
		return;
	}
	size_t n = 0;
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16 && n + 4 < cap; i++) {
		unsigned char b = e->ip.s6_addr[i];
		out[n++] = hex[b >> 4];
		out[n++] = '.';
		out[n++] = hex[b & 15];
		out[n++] = '.';
	}
	out[n ? n - 1 : 0] = '\0';
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* One %{...} body (after "%{", up to '}'), appended to out. */
static int expand_one(const struct spf_macro_env *e, const char *p, size_t len,
		      bool exp, char *out, size_t cap, size_t *n)
{
	char letter = p[0];
	bool upper = isupper((unsigned char)letter);
	char l = (char)tolower((unsigned char)letter);
	char val[SPF_MACRO_VALUE_MAX];
	val[0] = '\0';
	switch (l) {
	case 's': snprintf(val, sizeof val, "%s@%s", e->local, e->sender_domain); break;
	case 'l': str_copy_cut(val, sizeof val, e->local); break;
	case 'o': str_copy_cut(val, sizeof val, e->sender_domain); break;
	case 'd': str_copy_cut(val, sizeof val, e->domain); break;
	case 'h': str_copy_cut(val, sizeof val, e->helo); break;
	case 'i': ip_dotted(e, val, sizeof val, false); break;
	case 'c': if (!exp) return -1; ip_dotted(e, val, sizeof val, true); break;
	case 'p': str_copy_cut(val, sizeof val, e->p ? e->p : "unknown"); break;
	case 'v': str_copy_cut(val, sizeof val, e->family == AF_INET ? "in-addr" : "ip6"); break;
	case 'r': if (!exp) return -1; snprintf(val, sizeof val, "%s", e->receiver); break;
	case 't': if (!exp) return -1; snprintf(val, sizeof val, "%lld", (long long)e->now); break;
	default: return -1;
	}
	size_t i = 1;
	int keep = 0;
	bool has_digits = false;
	while (i < len && isdigit((unsigned char)p[i])) {
		keep = keep * 10 + (p[i] - '0');
		if (keep > 128)
			keep = 128;
		has_digits = true;
		i++;
	}
	if (has_digits && keep == 0)
		return -1;
	bool rev = false;
	if (i < len && (p[i] == 'r' || p[i] == 'R')) {
		rev = true;
		i++;
	}
	char delims[16] = "";
	size_t nd = 0;
	for (; i < len && nd + 1 < sizeof delims; i++)
		delims[nd++] = p[i];
	delims[nd] = '\0';
	if (nd == 0) {
		delims[0] = '.';
		delims[1] = '\0';
	}
	/* split val on delims */
	const char *part[128];
	size_t plen[128], np = 0;
	size_t vl = strlen(val), st = 0;
	for (size_t k = 0; k <= vl && np < 128; k++)
		if (k == vl || strchr(delims, val[k])) {
			part[np] = val + st;
			plen[np++] = k - st;
			st = k + 1;
		}
	size_t from = 0;
	if (rev) {
		for (size_t a = 0, b = np ? np - 1 : 0; a < b; a++, b--) {
			const char *tp = part[a];
			part[a] = part[b];
			part[b] = tp;
			size_t tl = plen[a];
			plen[a] = plen[b];
			plen[b] = tl;
		}
	}
	if (has_digits && (size_t)keep < np)
		from = np - (size_t)keep;
	for (size_t k = from; k < np; k++) {
		if (k > from && put(out, cap, n, ".", 1) < 0)
			return -1;
		if (!upper) {
			if (put(out, cap, n, part[k], plen[k]) < 0)
				return -1;
			continue;
		}
		for (size_t m = 0; m < plen[k]; m++) {
			unsigned char c = (unsigned char)part[k][m];
			char esc[4];
			if (unreserved(c)) {
				esc[0] = (char)c;
				if (put(out, cap, n, esc, 1) < 0)
					return -1;
			} else {
				snprintf(esc, sizeof esc, "%%%02X", c);
				if (put(out, cap, n, esc, 3) < 0)
					return -1;
			}
		}
	}
	return 0;
}

static int expand(const struct spf_macro_env *e, struct slice s, bool exp,
		  char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		if (c != '%') {
			if (put(out, cap, &n, &c, 1) < 0)
				return -1;
			continue;
		}
		if (++i >= s.len)
			return -1;
		c = s.ptr[i];
		if (c == '%' || c == '_' || c == '-') {
			const char *lit = c == '%' ? "%" : c == '_' ? " " : "%20";
			if (put(out, cap, &n, lit, strlen(lit)) < 0)
				return -1;
			continue;
		}
		if (c != '{')
			return -1;
		const char *close = memchr(s.ptr + i, '}', s.len - i);
		if (close == NULL || close == s.ptr + i + 1)
			return -1;
		if (expand_one(e, s.ptr + i + 1, (size_t)(close - s.ptr) - i - 1,
			       exp, out, cap, &n) < 0)
			return -1;
		i = (size_t)(close - s.ptr);
	}
	if (!exp) {
		/* 7.3: over 253 octets, labels go from the left */
		if (n > 0 && out[n - 1] == '.')
			out[--n] = '\0';
		size_t off = 0;
		while (n - off > 253) {
			const char *dot = memchr(out + off, '.', n - off);
			if (dot == NULL)
				return -1;
			off = (size_t)(dot - out) + 1;
		}
		if (off)
			memmove(out, out + off, n - off + 1);
	}
	return 0;
}

int spf_macro_expand(const struct spf_macro_env *e, struct slice s, bool exp,
		     char *out, size_t cap)
{
	/* a domain may be longer than 253 before its left side is cut */
	char big[2048];
	if (expand(e, s, exp, big, sizeof big) < 0 || strlen(big) >= cap)
		return -1;
	memcpy(out, big, strlen(big) + 1);
	return 0;
}
