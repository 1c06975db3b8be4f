/*
 * rfc2047.c - decode RFC 2047 encoded words ("=?charset?B|Q?text?=") in a
 * header value to UTF-8, for matching on what a person reads.
 *
 * Rules followed: encoded-text has no space or '?'; '_' is a space in Q;
 * linear white space between two adjacent encoded words is dropped (6.2);
 * a charset may carry an RFC 2231 language ("utf-8*en"). Adjacent words
 * in the same charset are converted together, so a multi-byte character
 * split across two words (common in B) still decodes. Anything malformed
 * (bad base64, unknown charset, bytes the charset refuses) is copied
 * as written: matching then sees the raw text rather than nothing. A
 * word that decodes to NUL, CR or LF is malformed too: decoded values
 * stay C strings and can never smuggle a line break into a header we
 * build from them (the vacation reply's subject).
 * UTF-8 and US-ASCII are validated in place, ISO-8859-1 mapped directly,
 * everything else goes through iconv(3) (one iconv_open per run of
 * words). Output is bounded by dstlen.
 */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "../common/base64.h"
#include "rules.h"

#define CHARSET_MAX 40
#define WORD_BYTES_MAX 1024 /* decoded octets of one run of words */

struct word {
	char charset[CHARSET_MAX + 1];
	const char *end; /* just past "?=" */
	unsigned char bytes[WORD_BYTES_MAX];
	size_t n;
};

/* Decode the encoded text into w->bytes + w->n (appending). -1 if bad. */
static int decode_text(char enc, const char *t, size_t n, struct word *w)
{
	if (enc == 'Q' || enc == 'q') {
		for (size_t i = 0; i < n; i++) {
			int c = (unsigned char)t[i];
			if (c == '_') {
				c = ' ';
			} else if (c == '=') {
				if (i + 2 >= n)
					return -1;
				int hi = base16_value((unsigned char)t[i + 1]), lo = base16_value((unsigned char)t[i + 2]);
				if (hi < 0 || lo < 0)
					return -1;
				c = hi * 16 + lo;
				i += 2;
			}
			if (w->n >= WORD_BYTES_MAX || c == 0 || c == '\r' || c == '\n')
				return -1; /* see the file comment */
			w->bytes[w->n++] = (unsigned char)c;
		}
		return 0;
	}
	if (enc != 'B' && enc != 'b')
		return -1;
	unsigned acc = 0;
	int bits = 0;
	size_t i = 0;
	for (; i < n && t[i] != '='; i++) {
		int v = base64_value((unsigned char)t[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (w->n >= WORD_BYTES_MAX)
				return -1;
			unsigned char c = (unsigned char)(acc >> bits);
			if (c == 0 || c == '\r' || c == '\n')
				return -1;
			w->bytes[w->n++] = c;
			acc &= (1u << bits) - 1;
		}
	}
	for (; i < n; i++) /* only padding may follow */
		if (t[i] != '=')
			return -1;
	return 0;
}

/*
 * Parse one encoded word at s (which starts "=?") within [s, lim).
 * Fills charset and appends the octets; -1 when it is not a valid word.
 */
static int parse_word(const char *s, const char *lim, struct word *w)
{
	const char *p = s + 2;
	const char *q = memchr(p, '?', (size_t)(lim - p));
	if (q == NULL || q == p)
		return -1;
	size_t cl = (size_t)(q - p);
	const char *star = memchr(p, '*', cl); /* RFC 2231 language */
	if (star)
		cl = (size_t)(star - p);
	if (cl == 0 || cl > CHARSET_MAX)
		return -1;
	for (size_t i = 0; i < cl; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c >= 127 || c == '?' || c == '=')
			return -1;
	}
	char cs[CHARSET_MAX + 1];
	memcpy(cs, p, cl);
	cs[cl] = '\0';
	if (w->n > 0 && strcasecmp(cs, w->charset) != 0)
		return -1;
	if (q + 3 > lim || q[2] != '?')
		return -1;
	char enc = q[1];
	const char *t = q + 3;
	const char *e = t;
	while (e + 1 < lim && !(e[0] == '?' && e[1] == '=')) {
		if (*e == ' ' || *e == '\t' || *e == '?')
			return -1;
		e++;
	}
	if (e + 1 >= lim)
		return -1;
	size_t saved = w->n;
	if (decode_text(enc, t, (size_t)(e - t), w) != 0) {
		w->n = saved;
		return -1;
	}
	memcpy(w->charset, cs, cl + 1);
	w->end = e + 2;
	return 0;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		unsigned min;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			k = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/*
 * Convert w's octets from its charset to UTF-8 at dst (room octets).
 * Returns octets written, or (size_t)-1 when the charset is unknown or the
 * octets are invalid in it (the caller then copies the words raw), or
 * (size_t)-2 when room is too small.
 */
static size_t convert(const struct word *w, char *dst, size_t room)
{
	const char *cs = w->charset;
	if (strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	    strcasecmp(cs, "us-ascii") == 0) {
		if (!utf8_valid(w->bytes, w->n))
			return (size_t)-1;
		if (w->n > room)
			return (size_t)-2;
		memcpy(dst, w->bytes, w->n);
		return w->n;
	}
	if (strcasecmp(cs, "iso-8859-1") == 0 || strcasecmp(cs, "latin1") == 0) {
		size_t o = 0;
		for (size_t i = 0; i < w->n; i++) {
			unsigned char c = w->bytes[i];
			if (o + 2 > room)
				return (size_t)-2;
			if (c < 0x80) {
				dst[o++] = (char)c;
			} else {
				dst[o++] = (char)(0xc0 | (c >> 6));
				dst[o++] = (char)(0x80 | (c & 0x3f));
			}
		}
		return o;
	}
	iconv_t cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return (size_t)-1;
	char *in = (char *)(uintptr_t)w->bytes;
	size_t inleft = w->n;
	char *out = dst;
	size_t outleft = room;
	size_t rc = iconv(cd, &in, &inleft, &out, &outleft);
	int e = errno;
	if (rc != (size_t)-1)
		rc = iconv(cd, NULL, NULL, &out, &outleft); /* flush state */
	iconv_close(cd);
	if (rc == (size_t)-1)
		return e == E2BIG ? (size_t)-2 : (size_t)-1;
	return room - outleft;
}

size_t rules_decode_2047(const char *src, size_t len, char *dst, size_t dstlen)
{
	if (dstlen == 0)
		return (size_t)-1;
	const char *lim = src + len;
	size_t o = 0;
	bool cut = false;
	struct word w;
	const char *p = src;
	while (p < lim && !cut) {
		const char *hit = memmem(p, (size_t)(lim - p), "=?", 2);
		const char *copy_end = hit ? hit : lim;
		/* plain text before the word */
		size_t n = (size_t)(copy_end - p);
		if (n > dstlen - 1 - o) {
			n = dstlen - 1 - o;
			cut = true;
		}
		memcpy(dst + o, p, n);
		o += n;
		if (hit == NULL || cut)
			break;
		/* a run of words in one charset, separated by white space only */
		w.n = 0;
		w.charset[0] = '\0';
		const char *run_end = NULL;
		const char *q = hit;
		while (q < lim && q + 1 < lim && q[0] == '=' && q[1] == '?' &&
		       parse_word(q, lim, &w) == 0) {
			run_end = w.end;
			const char *s = run_end;
			while (s < lim && (*s == ' ' || *s == '\t'))
				s++;
			q = s;
		}
		if (run_end == NULL) { /* not a word: copy "=?" and go on */
			if (o + 2 > dstlen - 1) {
				cut = true;
				break;
			}
			memcpy(dst + o, hit, 2);
			o += 2;
			p = hit + 2;
			continue;
		}
		size_t got = convert(&w, dst + o, dstlen - 1 - o);
		if (got == (size_t)-2) {
			cut = true;
			break;
		}
		if (got == (size_t)-1) { /* leave the words as written */
			size_t raw = (size_t)(run_end - hit);
			if (raw > dstlen - 1 - o) {
				cut = true;
				break;
			}
			memcpy(dst + o, hit, raw);
			got = raw;
		}
		o += got;
		p = run_end;
		/* A word in another charset may follow after white space: that
		 * space is dropped too (6.2), so skip it if a valid word comes. */
		const char *s = p;
		while (s < lim && (*s == ' ' || *s == '\t'))
			s++;
		if (s != p && s + 1 < lim && s[0] == '=' && s[1] == '?') {
			struct word probe;
			probe.n = 0;
			if (parse_word(s, lim, &probe) == 0)
				p = s;
		}
	}
	dst[o] = '\0';
	return cut ? (size_t)-1 : o;
}
