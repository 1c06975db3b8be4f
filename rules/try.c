/*
 * try.c - the web admin's "try it" box (and anything else that wants to
 * show what rules would do to a message without delivering it): parse a
 * pasted message, fill the envelope, evaluate, describe the decision.
 * Nothing is stored and no vacation rate is touched.
 */
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int rules_try(const struct rules_set *set, const char *message, size_t len,
	      const char *envelope_from, const char *account,
	      const char *authserv_id, time_t now, struct buf *out)
{
	struct rules_message *m = calloc(1, sizeof *m);
	if (m == NULL)
		return -1;
	size_t hl = rules_header_block_len(message, len);
	rules_message_parse(m, message, hl);
	rules_message_auth(m, authserv_id); /* as delivery: our A-R only */
	char *body = NULL;
	if (set && set->needs_body) { /* like delivery: only when asked */
		body = malloc(RULES_BODY_SCAN_MAX);
		if (body == NULL) {
			free(m);
			return -1;
		}
		m->body_len = rules_body_decode(m, message + hl, len - hl, body);
		m->body = body;
	}
	char sender[ADDR_MAX + 1] = "";
	if (envelope_from == NULL) { /* the From header's address */
		rules_message_from_address(m, sender);
		envelope_from = sender;
	}
	m->envelope_from = envelope_from;
	m->envelope_to = m->account = account ? account : "";
	m->size = (int64_t)len;
	m->now = now;
	struct rules_decision d;
	rules_evaluate(set, m, &d);
	int rc = rules_decision_format(&d, out);
	free(body);
	free(m);
	return rc;
}
