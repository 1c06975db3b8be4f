/*
 * smtp_sizelimit.c - which message size limit applies (smtp_sizelimit.h):
 * the web panel's store setting over the config file. Read on the loop
 * thread: one primary-key row read, which a WAL reader does without
 * waiting for the writer thread.
 */
#include "smtp_sizelimit.h"

#include <errno.h>
#include <stdlib.h>

int smtp_sizelimit_parse(const char *text, int64_t *out)
{
	if (text == NULL || text[0] < '0' || text[0] > '9')
		return -1;
	char *end;
	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || n < SMTP_SIZELIMIT_MIN ||
	    n > SMTP_SIZELIMIT_MAX)
		return -1;
	*out = n;
	return 0;
}

enum smtp_sizelimit_source smtp_sizelimit_effective(struct store *st,
						    int64_t config_limit,
						    int64_t *limit_r,
						    char *text)
{
	text[0] = '\0';
	*limit_r = config_limit;
	int r = store_setting_get(st, SMTP_SIZELIMIT_SETTING, text,
				  SMTP_SIZELIMIT_TEXT_MAX);
	if (r == STORE_NOTFOUND || (r == STORE_OK && text[0] == '\0'))
		return SMTP_SIZELIMIT_CONFIG;
	if (r == STORE_INVALID) { /* longer than any number we take */
		text[0] = '\0';
		return SMTP_SIZELIMIT_BAD;
	}
	if (r != STORE_OK) {
		text[0] = '\0';
		return SMTP_SIZELIMIT_UNREAD;
	}
	int64_t n;
	if (smtp_sizelimit_parse(text, &n) < 0)
		return SMTP_SIZELIMIT_BAD;
	*limit_r = n;
	return SMTP_SIZELIMIT_STORE;
}
