/*
 * pop3_penalty.h - failed logins per client address, and the growing delay
 * before a failed login is answered.
 *
 * Each failure from an address doubles the delay its next failure waits
 * (POP3_PENALTY_BASE_MS, then twice that, ... up to POP3_PENALTY_MAX_MS);
 * after POP3_PENALTY_LOCKOUT failures the address gets "-ERR [LOGIN-DELAY]"
 * without a password check until POP3_PENALTY_WINDOW seconds pass without
 * a failure. A successful login clears the address (Dovecot's rule). The
 * table is fixed-size: when full, the entry with the oldest failure goes,
 * so a flood of addresses costs no memory, only forgetfulness.
 *
 * One table per daemon (owned by the server context, never global);
 * times are passed in so tests control the clock.
 */
#ifndef MAILROOM_POP3_PENALTY_H
#define MAILROOM_POP3_PENALTY_H

#include <stdbool.h>
#include <stdint.h>

#define POP3_PENALTY_SLOTS 1024
#define POP3_PENALTY_BASE_MS 500
#define POP3_PENALTY_MAX_MS 15000
#define POP3_PENALTY_LOCKOUT 10
#define POP3_PENALTY_WINDOW 900 /* seconds */
#define POP3_PENALTY_IP_MAX 64

struct pop3_penalty_slot {
	char ip[POP3_PENALTY_IP_MAX];
	uint32_t fails;
	int64_t last; /* time of the last failure */
};

struct pop3_penalty {
	struct pop3_penalty_slot slots[POP3_PENALTY_SLOTS];
};

void pop3_penalty_init(struct pop3_penalty *p);
/* Record a failure; returns the delay in ms before answering it, and the
 * failure count of the address in *fails_r. */
unsigned pop3_penalty_fail(struct pop3_penalty *p, const char *ip,
			   int64_t now, uint32_t *fails_r);
/* True when the address is locked out right now. */
bool pop3_penalty_locked(struct pop3_penalty *p, const char *ip, int64_t now);
void pop3_penalty_clear(struct pop3_penalty *p, const char *ip);

#endif
