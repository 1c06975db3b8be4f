/*
 * sendlimit.c - the per-account sending-limit record (outbound.h): what an
 * account sent in the last hour, in 60 one-minute buckets, and whether it
 * is suspended, as a short line of text the store keeps
 * ("v1 reset=T suspended=T minute:count ..."). Pure functions: limit.c
 * applies them, unit tests call them directly.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outbound.h"

void ob_sendlimit_init(struct ob_sendlimit_rec *r)
{
	memset(r, 0, sizeof *r);
}

static bool live(int64_t minute, int64_t now)
{
	int64_t cur = now / 60;
	return minute > cur - OB_SENDLIMIT_BUCKETS && minute <= cur;
}

void ob_sendlimit_add(struct ob_sendlimit_rec *r, int64_t now, uint32_t n)
{
	int64_t cur = now / 60;
	size_t i = (size_t)(cur % OB_SENDLIMIT_BUCKETS);
	if (r->minute[i] != cur) {
		r->minute[i] = cur;
		r->count[i] = 0;
	}
	r->count[i] = r->count[i] > UINT32_MAX - n ? UINT32_MAX : r->count[i] + n;
}

int64_t ob_sendlimit_sum(const struct ob_sendlimit_rec *r, int64_t now)
{
	int64_t sum = 0;
	for (size_t i = 0; i < OB_SENDLIMIT_BUCKETS; i++)
		if (r->count[i] && live(r->minute[i], now))
			sum += r->count[i];
	return sum;
}

void ob_sendlimit_reset(struct ob_sendlimit_rec *r, int64_t now)
{
	ob_sendlimit_init(r);
	r->reset_at = now;
}

static bool parse_i64(const char *s, char **end, int64_t *v)
{
	if (*s < '0' || *s > '9')
		return false;
	long long x = strtoll(s, end, 10);
	if (x < 0 || x == LLONG_MAX)
		return false;
	*v = x;
	return true;
}

int ob_sendlimit_parse(const char *text, struct ob_sendlimit_rec *r)
{
	ob_sendlimit_init(r);
	char *p;
	if (strncmp(text, "v1 reset=", 9) != 0 ||
	    !parse_i64(text + 9, &p, &r->reset_at) ||
	    strncmp(p, " suspended=", 11) != 0 ||
	    !parse_i64(p + 11, &p, &r->suspended_at))
		goto bad;
	while (*p == ' ') {
		int64_t m, c;
		if (!parse_i64(p + 1, &p, &m) || *p != ':' ||
		    !parse_i64(p + 1, &p, &c) || c > UINT32_MAX)
			goto bad;
		size_t i = (size_t)(m % OB_SENDLIMIT_BUCKETS);
		r->minute[i] = m;
		r->count[i] = (uint32_t)c;
	}
	if (*p != '\0')
		goto bad;
	return 0;
bad:
	ob_sendlimit_init(r);
	return -1;
}

int ob_sendlimit_format(const struct ob_sendlimit_rec *r, int64_t now,
			char *dst, size_t dstlen)
{
	int n = snprintf(dst, dstlen, "v1 reset=%" PRId64 " suspended=%" PRId64,
			 r->reset_at, r->suspended_at);
	if (n < 0 || (size_t)n >= dstlen)
		return -1;
	size_t len = (size_t)n;
	for (size_t i = 0; i < OB_SENDLIMIT_BUCKETS; i++) {
		if (r->count[i] == 0 || !live(r->minute[i], now))
			continue;
		n = snprintf(dst + len, dstlen - len, " %" PRId64 ":%" PRIu32,
			     r->minute[i], r->count[i]);
		if (n < 0 || (size_t)n >= dstlen - len)
			return -1;
		len += (size_t)n;
	}
	return 0;
}
