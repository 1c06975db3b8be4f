/*
 * parse.h - the webadmin's decoders for what a browser or script sends:
 * application/x-www-form-urlencoded bodies and query strings, the Cookie
 * header, and request paths matched against route patterns.
 *
 * Everything here is pure (no MHD, no store) so the unit tests and the
 * libFuzzer harness drive it directly. Inputs are untrusted bytes with a
 * length; nothing reads past len or relies on a NUL in the input. Decoding
 * is strict: a bad %-escape, a %00 or a field past FORM_FIELDS_MAX refuses
 * the whole input rather than guessing, so a handler never sees a value
 * that was silently cut.
 */
#ifndef MAILROOM_WEB_PARSE_H
#define MAILROOM_WEB_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define FORM_FIELDS_MAX 64
#define ROUTE_CAPTURES_MAX 4
#define ROUTE_SEGMENTS_MAX 16

struct form_field {
	const char *name;  /* NUL-terminated, decoded, inside form.store */
	const char *value; /* same */
};

/* A decoded form: owns a private copy of the bytes (form_free). */
struct form {
	char *store;
	size_t store_len; /* wiped on free: forms carry passwords */
	size_t n;
	struct form_field fields[FORM_FIELDS_MAX];
};

/*
 * Decode data[0..len) ("a=1&b=x%40y+z") into f. '+' is a space, %XX a
 * byte; empty pairs ("&&") are skipped; a pair without '=' has value "".
 * 0, or -1 (bad escape, %00, too many fields, out of memory); f is then
 * empty but still safe to free.
 */
int form_parse(const char *data, size_t len, struct form *f)
	__attribute__((warn_unused_result));
void form_free(struct form *f);
/* The first value named name, or NULL. */
const char *form_get(const struct form *f, const char *name);

/*
 * Percent-decode src[0..len) into dst (size dstlen, NUL-terminated). '+'
 * becomes a space only when plus_is_space. Returns the decoded length, or
 * -1 for a bad escape, a %00 or a result that does not fit.
 */
long url_decode(const char *src, size_t len, bool plus_is_space, char *dst,
		size_t dstlen);

/*
 * Find cookie name in a Cookie header value ("a=1; b=2") and copy its value
 * into dst (NUL-terminated). Surrounding double quotes are removed. 0 when
 * found and it fits; -1 when absent, malformed or too long.
 */
int cookie_get(const char *header, size_t len, const char *name, char *dst,
	       size_t dstlen);

/*
 * Match path against pattern, segment by segment: "/api/v1/accounts/{}"
 * matches "/api/v1/accounts/bob@example.test" with caps[0] the segment.
 * A "{}" captures one non-empty segment; no '/' ever enters a capture.
 * A trailing slash on path is ignored. caps must hold ROUTE_CAPTURES_MAX
 * slices of path (ptr, len). Returns true on a match.
 */
struct route_cap {
	const char *ptr;
	size_t len;
};
bool route_match(const char *pattern, const char *path, size_t len,
		 struct route_cap *caps, size_t *ncaps_r);

/*
 * Split one CSV line in place (RFC 4180 style: fields separated by commas,
 * a field may be "quoted" with "" for a quote inside; spaces around
 * unquoted fields are trimmed). fields[] get pointers into line. Returns
 * the number of fields, or -1 for an unterminated quote or more than max.
 */
int csv_split(char *line, char **fields, size_t max);

/* Lowercase hex of n bytes into dst (size >= 2n+1). */
void hex_encode(const unsigned char *src, size_t n, char *dst);

/* The next item of a list typed into a form field (addresses, domains),
 * separated by commas, semicolons, spaces or tabs: *item and *n get it and
 * *p moves past it. False when no item is left. */
bool list_next(const char **p, const char **item, size_t *n);

#endif
