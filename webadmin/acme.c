/*
 * acme.c - serve ACME http-01 key authorizations from
 * <data_dir>/acme/challenge/ on the plain-HTTP listener (contract in
 * acme.h). Everything else on that listener still redirects to HTTPS.
 *
 * SECURITY: the URL is attacker text. A token is used as a file name only
 * when it is 1..ACME_TOKEN_MAX base64url characters (no '.', no '/'), the
 * file is opened with O_NOFOLLOW, and at most ACME_KEYAUTH_MAX bytes are
 * read and sent. The body is served as text/plain, never interpreted.
 */
#include "acme.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool web_acme_is_challenge(const char *url)
{
	return strncmp(url, ACME_CHALLENGE_PREFIX,
		       sizeof ACME_CHALLENGE_PREFIX - 1) == 0;
}

static bool token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > ACME_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

int web_acme_read(const struct config *cfg, const char *url, char *dst,
		  size_t dstlen)
{
	if (!web_acme_is_challenge(url) || dstlen == 0)
		return -1;
	const char *token = url + sizeof ACME_CHALLENGE_PREFIX - 1;
	if (!token_ok(token))
		return -1;
	char path[CONFIG_PATH_MAX + ACME_TOKEN_MAX + 32];
	if (snprintf(path, sizeof path, "%s/acme/challenge/%s", cfg->data_dir,
		     token) >= (int)sizeof path)
		return -1;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		if (len + 1 >= dstlen) {
			close(fd);
			return -1; /* longer than any key authorization */
		}
		ssize_t r = read(fd, dst + len, dstlen - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	while (len > 0 && (dst[len - 1] == '\n' || dst[len - 1] == '\r'))
		len--;
	dst[len] = '\0';
	return len > 0 ? 0 : -1;
}

enum MHD_Result web_acme_answer(struct MHD_Connection *conn,
				const struct config *cfg, const char *url)
{
	char body[ACME_KEYAUTH_MAX + 1];
	int status = MHD_HTTP_OK;
	if (web_acme_read(cfg, url, body, sizeof body) != 0) {
		snprintf(body, sizeof body, "no such challenge\n");
		status = MHD_HTTP_NOT_FOUND;
	}
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}
