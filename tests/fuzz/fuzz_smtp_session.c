/*
 * fuzz_smtp_session.c - libFuzzer harness driving a whole SMTP session
 * through the I/O-free core on the in-memory host (smtpd/smtp_memhost.h).
 *
 * The first byte picks the port (MX, submission, smtps), whether the host
 * answers AUTH/delivery at once or later, and the split seed; a 0xff byte
 * in the input means "the TLS handshake finished here". Properties: no
 * crash or leak; every reply line is CRLF-terminated with a 2xx-5xx code;
 * nothing is delivered on the submission ports without a successful AUTH;
 * on the MX port no delivery has a remote recipient other than the one a
 * local alias forwards to (no open relay); after
 * the session closes it accepts no more input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../smtpd/smtp_memhost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_replies(const struct buf *out)
{
	const char *p = out->data, *end = out->data + out->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL || nl == p || nl[-1] != '\r')
			abort();
		if (nl - p < 5 || p[0] < '2' || p[0] > '5' || (p[3] != ' ' && p[3] != '-'))
			abort();
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_open("fuzz", false, LOG_LEVEL_ERROR);
		quiet = true;
	}
	if (size < 1)
		return 0;
	struct smtp_session_config cfg = {
		.hostname = "mail.example.test",
		.size_limit = 4096,
		.max_recipients = 5,
		.kind = (enum smtp_port_kind)(data[0] % 3),
		.tls_available = (data[0] & 0x10) == 0,
	};
	struct smtp_memhost h;
	if (smtp_memhost_init(&h, &cfg) < 0)
		abort();
	h.sync = (data[0] & 0x20) == 0;
	if (cfg.kind == SMTP_PORT_SMTPS)
		smtp_session_tls_started(h.sess, "TLSv1.3 FUZZ");
	smtp_session_greet(h.sess);
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	size_t i = 0;
	bool authed_ok = false;
	while (i < n && !h.closed) {
		const char *ff = memchr(p + i, '\xff', n - i);
		size_t seg = ff ? (size_t)(ff - (p + i)) : n - i;
		if (seg > 0)
			smtp_memhost_feed(&h, p + i, seg);
		i += seg;
		if (ff != NULL) {
			smtp_memhost_tls_up(&h);
			i++;
		}
		if (!h.sync) {
			if (h.auth_pending) {
				h.auth_pending = false;
				bool ok = strcmp(h.auth_user, "alice@example.test") == 0;
				authed_ok |= ok;
				smtp_session_auth_result(h.sess, ok ? STORE_OK : STORE_AUTHFAIL,
							 ok ? 1 : 0, h.auth_user);
			}
			if (h.deliver_pending) {
				h.deliver_pending = false;
				smtp_session_deliver_result(h.sess, (i & 1) ? STORE_OK : STORE_BUSY);
			}
		}
		if (strstr(h.out.data, "235 2.7.0") != NULL)
			authed_ok = true;
		if (h.n_delivered > 0 && cfg.kind != SMTP_PORT_MX && !authed_ok)
			abort();
		/* MX: remote recipients only through a local forwarding alias */
		if (cfg.kind == SMTP_PORT_MX && h.relayed > 0)
			abort();
	}
	check_replies(&h.out);
	if (h.closed && smtp_session_feed(h.sess, "NOOP\r\n", 6) != 6)
		abort();
	smtp_memhost_free(&h);
	return 0;
}
