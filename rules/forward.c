/*
 * forward.c - what a forwarded or tagged copy needs: loop protection (a
 * hop count over Received/Delivered-To, and our own Delivered-To seen
 * again), the Delivered-To line a forwarded copy carries, and the Subject
 * rewrite of the subject-tag action.
 *
 * A forwarded copy is the original message, byte for byte, with one
 * Delivered-To line in front: that line is how the next pass through any
 * server that honours Delivered-To (Postfix, us) sees the loop.
 */
#include <string.h>
#include <strings.h>

#include "rules.h"

size_t rules_hop_count(const struct rules_message *msg)
{
	size_t n = 0;
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct slice *name = &msg->headers[i].name;
		if ((name->len == 8 && strncasecmp(name->ptr, "received", 8) == 0) ||
		    (name->len == 12 &&
		     strncasecmp(name->ptr, "delivered-to", 12) == 0))
			n++;
	}
	return n;
}

bool rules_delivered_to(const struct rules_message *msg, const char *address)
{
	size_t alen = strlen(address);
	for (size_t i = 0; i < msg->n_headers; i++) {
		const struct rules_header *h = &msg->headers[i];
		if (h->name.len != 12 ||
		    strncasecmp(h->name.ptr, "delivered-to", 12) != 0)
			continue;
		const char *v = h->raw;
		size_t n = h->raw_len;
		if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
			v++;
			n -= 2;
		}
		if (n == alen && strncasecmp(v, address, n) == 0)
			return true;
	}
	return false;
}

int rules_forward_prefix(const char *address, struct buf *out)
{
	for (const char *p = address; *p; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
			return -1; /* no header injection through an address */
	return buf_printf(out, "Delivered-To: %s\r\n", address);
}

/* Is the text ASCII-only printable (then it goes into the header as is)? */
static bool plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || (unsigned char)s[i] > 126)
			return false;
	return true;
}

/* The tag and one space as header text: as is, or one RFC 2047 Q word
 * (UTF-8) when it has non-ASCII characters. The tag's own trailing
 * spaces fold into that one space. Tags are short (RULES_SHORT_TEXT_MAX). */
static int put_tag(struct buf *out, const char *tag)
{
	size_t n = strlen(tag);
	while (n > 0 && tag[n - 1] == ' ')
		n--;
	if (plain(tag, n))
		return buf_append(out, tag, n) || buf_append_str(out, " ") ? -1 : 0;
	static const char hex[] = "0123456789ABCDEF";
	int bad = buf_append_str(out, "=?UTF-8?Q?");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '[' || c == ']' || c == '-' ||
		    c == '!' || c == '*' || c == '+' || c == '/')
			bad |= buf_append(out, &c, 1);
		else if (c == ' ')
			bad |= buf_append_str(out, "_");
		else {
			char e[3] = {'=', hex[c >> 4], hex[c & 15]};
			bad |= buf_append(out, e, 3);
		}
	}
	bad |= buf_append_str(out, "?= ");
	return bad ? -1 : 0;
}

int rules_subject_tag_apply(const char *header, size_t len, const char *tag,
			    struct buf *out)
{
	size_t i = 0;
	bool done = false;
	int bad = 0;
	/* the header part, without its empty line */
	size_t body_at = len;
	while (i < len) {
		const char *line = header + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t linelen = nl ? (size_t)(nl - line) + 1 : len - i;
		bool empty = linelen <= 2 && (line[0] == '\n' || line[0] == '\r');
		if (empty) {
			body_at = i;
			break;
		}
		if (!done && linelen > 8 && strncasecmp(line, "subject:", 8) == 0) {
			size_t v = 8;
			while (v < linelen && (line[v] == ' ' || line[v] == '\t'))
				v++;
			size_t tl = strlen(tag);
			while (tl > 0 && tag[tl - 1] == ' ')
				tl--;
			bool already = linelen - v >= tl &&
				       strncasecmp(line + v, tag, tl) == 0;
			if (!already) {
				bad |= buf_append_str(out, "Subject: ");
				bad |= put_tag(out, tag);
				bad |= buf_append(out, line + v, linelen - v);
			} else {
				bad |= buf_append(out, line, linelen);
			}
			done = true;
		} else {
			bad |= buf_append(out, line, linelen);
		}
		i += linelen;
	}
	if (!done) {
		bad |= buf_append_str(out, "Subject: ");
		bad |= put_tag(out, tag);
		if (!bad && out->len > 0) { /* no space before the line end */
			out->len--;
			out->data[out->len] = '\0';
		}
		bad |= buf_append_str(out, "\r\n");
	}
	if (body_at < len)
		bad |= buf_append(out, header + body_at, len - body_at);
	return bad ? -1 : 0;
}

/* The value as header text: as is when printable ASCII, else RFC 2047 B
 * words of whole UTF-8 characters. */
static int put_value(struct buf *out, const char *v)
{
	size_t n = strlen(v);
	if (plain(v, n))
		return buf_append(out, v, n);
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int bad = 0;
	const unsigned char *p = (const unsigned char *)v;
	while (n > 0) {
		size_t chunk = 0;
		while (chunk < n && chunk < 45) {
			size_t k = p[chunk] >= 0xf0 ? 4 : p[chunk] >= 0xe0 ? 3
				 : p[chunk] >= 0xc0 ? 2 : 1;
			if (chunk + k > 45 || chunk + k > n)
				break;
			chunk += k;
		}
		if (chunk == 0)
			chunk = 1;
		bad |= buf_append_str(out, p == (const unsigned char *)v ? "=?UTF-8?B?"
									: "\r\n =?UTF-8?B?");
		for (size_t i = 0; i < chunk; i += 3) {
			unsigned x = (unsigned)p[i] << 16;
			if (i + 1 < chunk)
				x |= (unsigned)p[i + 1] << 8;
			if (i + 2 < chunk)
				x |= p[i + 2];
			char q[4] = {tab[(x >> 18) & 63], tab[(x >> 12) & 63],
				     i + 1 < chunk ? tab[(x >> 6) & 63] : '=',
				     i + 2 < chunk ? tab[x & 63] : '='};
			bad |= buf_append(out, q, 4);
		}
		bad |= buf_append_str(out, "?=");
		p += chunk;
		n -= chunk;
	}
	return bad ? -1 : 0;
}

int rules_header_set_apply(const char *header, size_t len, const char *name,
			   const char *value, struct buf *out)
{
	size_t nlen = strlen(name);
	size_t i = 0, body_at = len;
	bool skipping = false;
	int bad = 0;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127 || *p == ':')
			return -1;
	while (i < len) {
		const char *line = header + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t linelen = nl ? (size_t)(nl - line) + 1 : len - i;
		if (linelen <= 2 && (line[0] == '\n' || line[0] == '\r')) {
			body_at = i;
			break;
		}
		bool cont = line[0] == ' ' || line[0] == '\t';
		if (!cont) {
			size_t k = 0;
			while (k < linelen && line[k] != ':')
				k++;
			size_t e = k;
			while (e > 0 && (line[e - 1] == ' ' || line[e - 1] == '\t'))
				e--;
			skipping = k < linelen && e == nlen &&
				   strncasecmp(line, name, nlen) == 0;
		}
		if (!skipping)
			bad |= buf_append(out, line, linelen);
		i += linelen;
	}
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		bad |= buf_append_str(out, "\r\n"); /* a block without its LF */
	bad |= buf_printf(out, "%s: ", name);
	bad |= put_value(out, value);
	bad |= buf_append_str(out, "\r\n");
	if (body_at < len)
		bad |= buf_append(out, header + body_at, len - body_at);
	return bad ? -1 : 0;
}
