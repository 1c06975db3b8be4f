/*
 * deliver.h - librules at delivery time, in one call for smtpd's writer
 * thread: a spooled message and its local accounts in, the messages to
 * hand to store_deliver out (the original with the accounts that still
 * get it untouched, plus tagged copies, forwarded copies and
 * out-of-office replies), and the reject text when the rules refused it.
 *
 * Intended use (one rules_env per writer thread, next to its store):
 *
 *   rules_env_begin(env, now);          once per batch: notices rule edits
 *   for each job:
 *       rules_deliver_prepare(env, &job->msg, &out);
 *       if (out.n_rejected == job->msg.n_local && job->msg.n_remote == 0
 *           && out.reject_text) -> answer 550 out.reject_text
 *       else append out.msgs[0..out.n) to the batch for store_deliver
 *   store_deliver(...); then rules_outcome_free(&out) for each job.
 *
 * Extra copies live in memfd files (closed by rules_outcome_free), so
 * nothing is written to the spool directory. A message whose accounts
 * have no rules costs one header parse and no store access besides the
 * per-batch generation read.
 */
#ifndef MAILROOM_RULES_DELIVER_H
#define MAILROOM_RULES_DELIVER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../store/store.h"
#include "rules.h"

#define RULES_OUTCOME_MAX 64 /* messages one delivery may turn into */

struct rules_env;

/* NULL on ENOMEM. hostname names our Message-IDs (vacation replies) and
 * is the authserv-id whose Authentication-Results the spf/dkim/dmarc
 * conditions read (smtpd's [server] hostname, copied). */
struct rules_env *rules_env_new(struct store *st, const char *hostname);
/* A new hostname (smtpd's SIGHUP), on the thread that uses env. */
void rules_env_set_hostname(struct rules_env *env, const char *hostname);
void rules_env_free(struct rules_env **envp);
/* Start a batch: reload rule sets if they changed. 0 or a STORE_* code. */
int rules_env_begin(struct rules_env *env, time_t now);

struct rules_outcome {
	/* msgs[0] is the original with the local ids that keep it unchanged
	 * (n_local may become 0; when it has no recipient left at all, n is 0
	 * and nothing of the original is stored). */
	struct store_message msgs[RULES_OUTCOME_MAX];
	size_t n;
	const char *reject_text; /* some account's rules refused it */
	size_t n_rejected;       /* local accounts that refused it */
	bool hop_limit;          /* refused: more than RULES_HOPS_MAX hops */
	/* owned storage behind msgs: ids, addresses, fds */
	int64_t *ids;
	size_t n_ids, cap_ids;
	char **strs;
	size_t n_strs, cap_strs;
	int fds[RULES_OUTCOME_MAX];
	size_t n_fds;
	void *owned[RULES_OUTCOME_MAX]; /* remote arrays */
	size_t n_owned;
	char reject_buf[RULES_SHORT_TEXT_MAX + 1];
};

/*
 * Run the rules of every local account of in (in->fd is read with pread,
 * never moved) and fill out. STORE_OK, or a STORE_* code for a store
 * failure (temporary ones: answer 451). On failure out holds nothing to
 * free beyond rules_outcome_free.
 */
int rules_deliver_prepare(struct rules_env *env, const struct store_message *in,
			  struct rules_outcome *out)
	__attribute__((warn_unused_result));
void rules_outcome_free(struct rules_outcome *out);

#endif
