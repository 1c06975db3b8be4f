/*
 * header.c - the arriving message's header block, parsed once for rules:
 * fields split, RFC 5322 folding undone (CRLF before WSP removed), values
 * trimmed, RFC 2047 words decoded, and address lists cut into addr-specs.
 *
 * Limits: at most RULES_HEADER_BLOCK_MAX octets are looked at and at most
 * RULES_HEADERS_MAX fields kept; past either the message is flagged
 * truncated and rules see what came before (a sender cannot make us spend
 * more). Everything lands in the message's own arena: no allocation.
 * Lines without a colon and a header starting with a continuation line
 * are skipped, like most MTAs do. Bare LF is accepted as a line end.
 */
#include <string.h>
#include <strings.h>

#include "rules.h"

#include "../common/rfc5322_scan.h"

size_t rules_header_block_len(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		/* an empty line follows? */
		if (i + 1 < len && data[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return i + 3;
	}
	/* also a message that starts with its empty line */
	if (len >= 2 && data[0] == '\r' && data[1] == '\n')
		return 2;
	if (len >= 1 && data[0] == '\n')
		return 1;
	return len;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Copy the unfolded value src[0..n) into the arena (dropping CR and LF
 * and trimming); returns its start or NULL when the arena is full. */
static char *arena_unfold(struct rules_message *m, const char *src, size_t n,
			  size_t *len_r)
{
	size_t room = sizeof m->arena - m->arena_used;
	char *dst = m->arena + m->arena_used;
	size_t o = 0;
	while (n > 0 && (is_wsp(src[0]) || src[0] == '\r' || src[0] == '\n')) {
		src++;
		n--;
	}
	if (n + 1 > room)
		return NULL;
	/* copy whole runs between line ends (most values are one run) */
	size_t i = 0;
	while (i < n) {
		const char *lf = memchr(src + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - src) : n;
		size_t run = end - i;
		if (run > 0 && src[end - 1] == '\r')
			run--;
		memcpy(dst + o, src + i, run);
		o += run;
		i = end + 1;
	}
	/* a NUL would end the C string; a stray CR is not text either */
	for (char *p = memchr(dst, '\0', o); p; p = memchr(p, '\0', (size_t)(dst + o - p)))
		*p = ' ';
	for (char *p = memchr(dst, '\r', o); p; p = memchr(p, '\r', (size_t)(dst + o - p)))
		*p = ' ';
	while (o > 0 && is_wsp(dst[o - 1]))
		o--;
	dst[o] = '\0';
	m->arena_used += o + 1;
	*len_r = o;
	return dst;
}

/* "=?" anywhere: memchr is much cheaper than memmem for two octets. */
static bool has_encoded_word(const char *s, size_t n)
{
	const char *p = s, *end = s + n;
	while ((p = memchr(p, '=', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '?')
			return true;
		p++;
	}
	return false;
}

/* FNV-1a of the lowercased name: lets a rule skip other headers with one
 * integer compare (rules_header_name_hash is the same function). */
uint32_t rules_header_name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c + 32);
		h = (h ^ c) * 16777619u;
	}
	return h;
}

static void add_field(struct rules_message *m, const char *line, size_t n)
{
	const char *colon = memchr(line, ':', n);
	if (colon == NULL || colon == line)
		return;
	size_t nlen = (size_t)(colon - line);
	while (nlen > 0 && is_wsp(line[nlen - 1])) /* "Subject :" (obsolete) */
		nlen--;
	if (nlen == 0)
		return;
	for (size_t i = 0; i < nlen; i++)
		if ((unsigned char)line[i] <= 32 || (unsigned char)line[i] >= 127)
			return;
	if (m->n_headers >= RULES_HEADERS_MAX) {
		m->truncated = true;
		return;
	}
	struct rules_header *h = &m->headers[m->n_headers];
	const char *v = colon + 1;
	size_t vn = n - (size_t)(v - line);
	char *raw = arena_unfold(m, v, vn, &h->raw_len);
	if (raw == NULL) {
		m->truncated = true;
		return;
	}
	h->name.ptr = line;
	h->name.len = nlen;
	h->name_hash = rules_header_name_hash(line, nlen);
	h->raw = raw;
	h->value = raw;
	h->value_len = h->raw_len;
	/* Decode only when there is something to decode: most headers have
	 * no encoded word and share the raw text. */
	if (has_encoded_word(raw, h->raw_len)) {
		size_t room = sizeof m->arena - m->arena_used;
		char *dst = m->arena + m->arena_used;
		size_t dn = rules_decode_2047(raw, h->raw_len, dst, room);
		if (dn != (size_t)-1) {
			h->value = dst;
			h->value_len = dn;
			m->arena_used += dn + 1;
		} else {
			m->truncated = true; /* keep the raw text */
		}
	}
	m->n_headers++;
}

void rules_message_parse(struct rules_message *msg, const char *data,
			 size_t len)
{
	msg->n_headers = 0;
	msg->arena_used = 0;
	msg->truncated = false;
	/* results come from rules_message_auth; until then, none */
	msg->auth.spf = msg->auth.dkim = msg->auth.dmarc = 1u << RULES_AUTH_NONE;
	if (len > RULES_HEADER_BLOCK_MAX) {
		len = RULES_HEADER_BLOCK_MAX;
		msg->truncated = true;
	}
	size_t i = 0;
	const char *field = NULL; /* start of the field being collected */
	while (i < len) {
		const char *line = data + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t linelen = nl ? (size_t)(nl - line) + 1 : len - i;
		size_t textlen = linelen;
		while (textlen > 0 && (line[textlen - 1] == '\n' ||
				       line[textlen - 1] == '\r'))
			textlen--;
		if (textlen == 0 && nl) { /* the empty line: body follows */
			break;
		}
		if (!is_wsp(line[0])) {
			if (field)
				add_field(msg, field, (size_t)(line - field));
			field = line;
		}
		/* a continuation line extends field; one before any field is
		 * dropped */
		i += linelen;
	}
	if (field)
		add_field(msg, field, (size_t)(data + i - field));
}

const struct rules_header *rules_message_header(const struct rules_message *msg,
						const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct rules_header *h = &msg->headers[i];
		if (h->name.len == n && strncasecmp(h->name.ptr, name, n) == 0)
			return h;
	}
	return NULL;
}

void rules_message_from_address(const struct rules_message *msg,
				char dst[ADDR_MAX + 1])
{
	const struct rules_header *h = rules_message_header(msg, "from");
	struct slice a[1];
	dst[0] = '\0';
	if (h && rules_address_list(h->raw, h->raw_len, a, 1) == 1 &&
	    a[0].len <= ADDR_MAX) {
		memcpy(dst, a[0].ptr, a[0].len);
		dst[a[0].len] = '\0';
	}
}

/* ---- address lists -------------------------------------------------------
 * Enough of RFC 5322 3.4 to find the addr-specs in From/To/Cc: quoted
 * strings, comments (nested), angle brackets, groups ("name: a, b;"). A
 * piece with <...> gives what is inside; one without gives itself minus
 * comments and surrounding space. Pieces without '@' are dropped.
 */

static void trim(const char **p, size_t *n)
{
	while (*n > 0 && (is_wsp(**p)))
		(*p)++, (*n)--;
	while (*n > 0 && is_wsp((*p)[*n - 1]))
		(*n)--;
}

static bool add_addr(const char *p, size_t n, struct slice *addrs, size_t max,
		     size_t *count)
{
	trim(&p, &n);
	if (n == 0 || memchr(p, '@', n) == NULL)
		return true;
	if (*count >= max)
		return false;
	addrs[*count].ptr = p;
	addrs[*count].len = n;
	(*count)++;
	return true;
}

size_t rules_address_list(const char *value, size_t len, struct slice *addrs,
			  size_t max)
{
	size_t count = 0;
	size_t i = 0;
	while (i < len && count < max) {
		/* one mailbox: up to ',' or ';' at top level */
		const char *angle = NULL, *angle_end = NULL;
		const char *plain = NULL; /* start of a bare addr-spec run */
		const char *plain_end = NULL;
		struct rfc5322_scan scan = {false, 0};
		for (; i < len; i++) {
			if (rfc5322_hidden(&scan, value, len, &i))
				continue;
			char c = value[i];
			if (c == '<' && angle == NULL) {
				angle = value + i + 1;
			} else if (c == '>' && angle && angle_end == NULL) {
				angle_end = value + i;
			} else if (c == ':' && angle == NULL) {
				plain = NULL; /* a group's display name */
				plain_end = NULL;
			} else if (c == ',' || c == ';') {
				break;
			} else if (!is_wsp(c) && angle == NULL) {
				if (plain == NULL || (plain_end && plain_end != value + i))
					plain = value + i; /* new word */
				plain_end = value + i + 1;
			}
		}
		i++; /* past the separator */
		if (angle && angle_end) {
			if (!add_addr(angle, (size_t)(angle_end - angle), addrs, max,
				      &count))
				break;
		} else if (plain) {
			if (!add_addr(plain, (size_t)(plain_end - plain), addrs, max,
				      &count))
				break;
		}
	}
	return count;
}
