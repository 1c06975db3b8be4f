/*
 * dkim_canon.c - DKIM canonicalization (RFC 6376 3.4): the body as a
 * stream (simple and relaxed) and one header field at a time. The one
 * canonicalizer of Mailroom: the verifier (trust/dkim.c) and the signer
 * (outbound/dkim.c) both use it, so what we sign and what we check are
 * canonicalized by the same code.
 *
 * The body canonicalizers see the message body in pieces of any size and
 * emit canonical bytes through a small staging buffer; trailing empty
 * lines are held back as a count (never as bytes), so memory is constant
 * however many empty lines a sender appends. A bare CR is content; a bare
 * LF ends a line like CRLF (smtpd refuses bare LF in DATA anyway).
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "dkim_canon.h"

static void put(struct dkim_canon *c, const char *p, size_t n)
{
	c->emitted += n;
	while (n > 0) {
		if (c->n_stage == sizeof c->stage) {
			c->emit(c->ctx, c->stage, c->n_stage);
			c->n_stage = 0;
		}
		size_t k = sizeof c->stage - c->n_stage;
		if (k > n)
			k = n;
		memcpy(c->stage + c->n_stage, p, k);
		c->n_stage += k;
		p += k;
		n -= k;
	}
}

void dkim_canon_init(struct dkim_canon *c, bool relaxed, dkim_emit_fn emit,
		     void *ctx)
{
	/* every field but the stage (read only below n_stage): 8 KiB a
	 * message not zeroed */
	memset(c, 0, offsetof(struct dkim_canon, stage));
	c->n_stage = 0;
	c->relaxed = relaxed;
	c->emit = emit;
	c->ctx = ctx;
}

/* Content bytes (no CR, LF, and for relaxed no WSP) in one run. */
static void content_run(struct dkim_canon *c, const char *p, size_t n)
{
	if (!c->line_content) {
		for (; c->empty_lines > 0; c->empty_lines--)
			put(c, "\r\n", 2);
		c->line_content = true;
	}
	if (c->pending_ws) {
		put(c, " ", 1);
		c->pending_ws = false;
	}
	put(c, p, n);
}

static void content(struct dkim_canon *c, char ch)
{
	content_run(c, &ch, 1);
}

static void line_end(struct dkim_canon *c)
{
	c->pending_ws = false; /* relaxed: trailing whitespace goes */
	if (c->line_content)
		put(c, "\r\n", 2);
	else
		c->empty_lines++;
	c->line_content = false;
}

static bool plain(const struct dkim_canon *c, char ch)
{
	return ch != '\r' && ch != '\n' &&
	       !(c->relaxed && (ch == ' ' || ch == '\t'));
}

/*
 * How long the run of ordinary bytes starting at p (p[0] is plain) is.
 * Relaxed keeps a single SP between two content bytes as it is, so such
 * spaces stay inside the run: a line of text is one run, not one per word.
 */
static size_t run_len(const struct dkim_canon *c, const char *p, size_t n)
{
	size_t e = 1;
#if defined(__SSE2__)
	/* 16 bytes at a time while none is CR or LF (relaxed: nor a tab, nor
	 * a space whose next byte is not content); 17 bytes must be there */
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n'),
		      tab = _mm_set1_epi8('\t'), sp = _mm_set1_epi8(' ');
	while (n - e >= 17) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + e));
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
		if (c->relaxed) {
			__m128i nx = _mm_loadu_si128((const __m128i *)(const void *)(p + e + 1));
			__m128i nx_ws = _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(nx, sp), _mm_cmpeq_epi8(nx, tab)),
				_mm_or_si128(_mm_cmpeq_epi8(nx, cr), _mm_cmpeq_epi8(nx, lf)));
			bad = _mm_or_si128(_mm_or_si128(bad, _mm_cmpeq_epi8(v, tab)),
					   _mm_and_si128(_mm_cmpeq_epi8(v, sp), nx_ws));
		}
		if (_mm_movemask_epi8(bad) != 0)
			break;
		e += 16;
	}
#endif
	while (e < n) {
		char ch = p[e];
		if (plain(c, ch))
			e++;
		else if (ch == ' ' && e + 1 < n && plain(c, p[e + 1]))
			e += 2;
		else
			break;
	}
	return e;
}

void dkim_canon_feed(struct dkim_canon *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (!c->prev_cr && plain(c, ch)) {
			/* the common case: a run of ordinary bytes at once */
			size_t e = i + run_len(c, p + i, n - i);
			content_run(c, p + i, e - i);
			i = e - 1;
			continue;
		}
		if (c->prev_cr) {
			c->prev_cr = false;
			if (ch == '\n') {
				line_end(c);
				continue;
			}
			content(c, '\r');
		}
		if (ch == '\r')
			c->prev_cr = true;
		else if (ch == '\n')
			line_end(c);
		else if (c->relaxed && (ch == ' ' || ch == '\t'))
			c->pending_ws = true; /* a run becomes one SP, if content follows */
		else
			content(c, ch);
	}
}

void dkim_canon_end(struct dkim_canon *c)
{
	if (c->prev_cr) {
		c->prev_cr = false;
		content(c, '\r');
	}
	if (c->line_content)
		put(c, "\r\n", 2); /* a last line without CRLF gets one */
	c->line_content = false;
	if (!c->relaxed && c->emitted == 0)
		put(c, "\r\n", 2); /* simple: an empty body is one CRLF */
	if (c->n_stage)
		c->emit(c->ctx, c->stage, c->n_stage);
	c->n_stage = 0;
}

static bool ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Output of the relaxed header canonicalization, staged on the stack and
 * appended in blocks (a buf_append per octet was most of a header hash). */
struct hstage {
	struct buf *out;
	char b[512];
	size_t n;
	int rc;
};

static void hput(struct hstage *h, char c)
{
	if (h->n == sizeof h->b) {
		if (h->rc == 0 && buf_append(h->out, h->b, h->n) < 0)
			h->rc = -1;
		h->n = 0;
	}
	h->b[h->n++] = c;
}

int dkim_canon_header(const char *field, size_t len, bool relaxed, bool crlf,
		      struct buf *out)
{
	if (!relaxed) {
		while (!crlf && len > 0 && (field[len - 1] == '\n' || field[len - 1] == '\r'))
			len--;
		return buf_append(out, field, len);
	}
	const char *colon = memchr(field, ':', len);
	if (colon == NULL)
		return -1;
	size_t nl = (size_t)(colon - field);
	while (nl > 0 && ws(field[nl - 1]))
		nl--;
	struct hstage h = {.out = out};
	for (size_t i = 0; i < nl; i++)
		hput(&h, (char)tolower((unsigned char)field[i]));
	hput(&h, ':');
	bool pending = false, any = false;
	for (size_t i = (size_t)(colon - field) + 1; i < len; i++) {
		char c = field[i];
		if (c == '\r' || c == '\n')
			continue; /* unfold */
		if (c == ' ' || c == '\t') {
			pending = true;
			continue;
		}
		if (pending && any)
			hput(&h, ' ');
		pending = false;
		any = true;
		hput(&h, c);
	}
	if (crlf) {
		hput(&h, '\r');
		hput(&h, '\n');
	}
	if (h.rc == 0 && buf_append(out, h.b, h.n) < 0)
		h.rc = -1;
	return h.rc;
}
