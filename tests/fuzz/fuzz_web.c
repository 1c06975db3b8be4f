/*
 * fuzz_web.c - libFuzzer harness for the webadmin's request decoders:
 * form/query bodies, percent-decoding, the Cookie header, route patterns
 * CSV lines (bulk import) and the HTML escaper, all fed the same untrusted bytes.
 *
 * The first byte picks nothing: every decoder sees every input, so one
 * corpus covers all of them. Checks that must hold for any input:
 * decoded values are never longer than their source, a cookie value never
 * holds a separator, a route capture never holds a '/', and escaped HTML
 * never holds a raw '<'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../webadmin/html.h"
#include "../../webadmin/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	struct form f;
	if (form_parse(in, size, &f) == 0) {
		for (size_t i = 0; i < f.n; i++)
			if (strlen(f.fields[i].name) > size ||
			    strlen(f.fields[i].value) > size)
				abort();
		(void)form_get(&f, "csrf");
	}
	form_free(&f);

	char dst[256];
	long n = url_decode(in, size, true, dst, sizeof dst);
	if (n >= 0 && ((size_t)n > size || strlen(dst) != (size_t)n))
		abort();

	char val[128];
	static const char *const names[] = {"mr_sid", "mr_pre", "a"};
	for (size_t k = 0; k < 3; k++)
		if (cookie_get(in, size, names[k], val, sizeof val) == 0 &&
		    strpbrk(val, "; ,\"\\") != NULL)
			abort();

	static const char *const patterns[] = {
		"/", "/accounts", "/api/v1/accounts/{}", "/api/v1/queue/{}/retry",
		"/{}/{}/{}/{}",
	};
	for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
		struct route_cap caps[ROUTE_CAPTURES_MAX];
		size_t nc = 0;
		if (route_match(patterns[k], in, size, caps, &nc))
			for (size_t c = 0; c < nc; c++)
				if (caps[c].len == 0 ||
				    memchr(caps[c].ptr, '/', caps[c].len) != NULL)
					abort();
	}

	/* the escaper on a NUL-terminated copy */
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, in, size);
	s[size] = '\0';
	char *line = strdup(s);
	if (line != NULL) {
		char *fields[8];
		int nf = csv_split(line, fields, 8);
		for (int k = 0; k < nf; k++)
			if (strlen(fields[k]) > size)
				abort();
		free(line);
	}

	struct html h;
	if (html_init(&h) == 0) {
		html_fmt(&h, "%s|%u", s, s);
		if (!h.failed && h.b.len > 0 && memchr(h.b.data, '<', h.b.len))
			abort();
		html_free(&h);
	}
	free(s);
	return 0;
}
