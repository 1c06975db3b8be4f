/*
 * backoff.c - when a deferred message is tried again, and when it is given
 * up. The schedule grows fast at first (most temporary failures are
 * greylisting and short outages) and then settles at 4 hours, like
 * Postfix's maximal_backoff_time; jitter keeps a batch deferred together
 * from coming back as one burst.
 */
#include "outbound.h"

static const int64_t schedule[] = {
	60, 5 * 60, 15 * 60, 30 * 60, 3600, 2 * 3600, 4 * 3600,
};
#define N_SCHEDULE (sizeof schedule / sizeof schedule[0])

int64_t ob_backoff_delay(int attempts)
{
	if (attempts < 1)
		attempts = 1;
	if ((size_t)attempts > N_SCHEDULE)
		return schedule[N_SCHEDULE - 1];
	return schedule[attempts - 1];
}

/* A small integer hash (xorshift-multiply) for the jitter. */
static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

int64_t ob_backoff_next(int64_t now, int attempts, uint32_t seed)
{
	int64_t d = ob_backoff_delay(attempts);
	int64_t span = d / 5; /* +/- 10% */
	int64_t j = span > 0 ? (int64_t)(mix(seed) % (uint32_t)(span + 1)) - span / 2 : 0;
	return now + d + j;
}

bool ob_backoff_expired(int64_t created, int64_t now, int64_t lifetime)
{
	return now - created >= lifetime;
}
