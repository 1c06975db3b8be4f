/*
 * deliver.c - one arriving message through every local recipient's rules
 * (see deliver.h): which accounts keep the original, who gets a tagged
 * copy, which forwarded copies go out (SRS sender, Delivered-To line,
 * local targets delivered locally), which out-of-office replies are due,
 * and whether the rules refused the message.
 *
 * The header block is read once (pread, at most RULES_HEADER_BLOCK_MAX
 * octets) and parsed once; each account's decision is made on that parse.
 * Copies are memfd files: the original spool file is never changed, so a
 * failure anywhere leaves the plain delivery possible. Everything is
 * bounded: RULES_OUTCOME_MAX messages, RULES_FORWARD_MAX targets each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/log.h"
#include "deliver.h"
#include "rules_int.h"

#define COPY_CHUNK (64 * 1024)

struct rules_env {
	struct store *st;
	struct rules_cache *cache;
	struct rules_message *msg;
	char hostname[HOSTNAME_MAX + 1];
	unsigned char srs_key[RULES_SRS_KEY_MAX];
	size_t srs_keylen;
	time_t now;
	char *hdr; /* RULES_HEADER_BLOCK_MAX */
	bool header_complete; /* hdr holds the whole header block */
	/* the body prefix a body condition sees, read only when some
	 * account's set has one (RULES_BODY_SCAN_MAX each, made then) */
	char *body_raw, *body_text;
};

struct rules_env *rules_env_new(struct store *st, const char *hostname)
{
	struct rules_env *e = calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	e->st = st;
	e->cache = rules_cache_new(256);
	e->msg = calloc(1, sizeof *e->msg);
	e->hdr = malloc(RULES_HEADER_BLOCK_MAX);
	rules_env_set_hostname(e, hostname);
	if (e->cache == NULL || e->msg == NULL || e->hdr == NULL)
		rules_env_free(&e);
	return e;
}

void rules_env_set_hostname(struct rules_env *env, const char *hostname)
{
	snprintf(env->hostname, sizeof env->hostname, "%s",
		 hostname ? hostname : "");
}

void rules_env_free(struct rules_env **envp)
{
	struct rules_env *e = *envp;
	if (e == NULL)
		return;
	rules_cache_free(&e->cache);
	free(e->msg);
	free(e->hdr);
	free(e->body_raw);
	free(e->body_text);
	explicit_bzero(e->srs_key, sizeof e->srs_key);
	free(e);
	*envp = NULL;
}

int rules_env_begin(struct rules_env *env, time_t now)
{
	env->now = now;
	return rules_cache_refresh(env->cache, env->st);
}

/*
 * Read the first RULES_BODY_SCAN_MAX octets after the header block (hl
 * octets) and decode them into msg->body: called once per message, and
 * only when a set needs it, so rules without a body condition never
 * touch the body. 0, or -1 (ENOMEM, read error: the body is then empty).
 */
static int load_body(struct rules_env *env, const struct store_message *in,
		     size_t hl)
{
	struct rules_message *msg = env->msg;
	msg->body = "";
	msg->body_len = 0;
	if (env->body_raw == NULL)
		env->body_raw = malloc(RULES_BODY_SCAN_MAX);
	if (env->body_text == NULL)
		env->body_text = malloc(RULES_BODY_SCAN_MAX);
	if (env->body_raw == NULL || env->body_text == NULL)
		return -1;
	if ((int64_t)hl >= in->size)
		return 0;
	int64_t left = in->size - (int64_t)hl;
	size_t want = left < RULES_BODY_SCAN_MAX ? (size_t)left
						 : RULES_BODY_SCAN_MAX;
	ssize_t got;
	do
		got = pread(in->fd, env->body_raw, want, (off_t)hl);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return -1;
	msg->body_len = rules_body_decode(msg, env->body_raw, (size_t)got,
					  env->body_text);
	msg->body = env->body_text;
	return 0;
}

/* ---- outcome storage ------------------------------------------------------ */

static int64_t *ids_alloc(struct rules_outcome *o, size_t n)
{
	/* one array for every message's ids: pointers into it stay valid
	 * because its size is fixed before any is handed out (see prepare) */
	if (o->n_ids + n > o->cap_ids)
		return NULL;
	int64_t *p = o->ids + o->n_ids;
	o->n_ids += n;
	return p;
}

static const char *str_keep(struct rules_outcome *o, const char *s)
{
	if (o->n_strs == o->cap_strs) {
		size_t cap = o->cap_strs ? o->cap_strs * 2 : 16;
		char **p = realloc(o->strs, cap * sizeof *p);
		if (p == NULL)
			return NULL;
		o->strs = p;
		o->cap_strs = cap;
	}
	char *d = strdup(s);
	if (d)
		o->strs[o->n_strs++] = d;
	return d;
}

void rules_outcome_free(struct rules_outcome *o)
{
	for (size_t i = 0; i < o->n_fds; i++)
		if (o->fds[i] >= 0)
			close(o->fds[i]);
	for (size_t i = 0; i < o->n_strs; i++)
		free(o->strs[i]);
	free(o->strs);
	free(o->ids);
	for (size_t i = 0; i < o->n_owned; i++)
		free(o->owned[i]);
	memset(o, 0, sizeof *o);
}

/* A memfd holding prefix then src[skip..size). -1 on failure. */
static int copy_fd(const void *prefix, size_t plen, int src, int64_t skip,
		   int64_t size, int64_t *size_r)
{
	int fd = memfd_create("mailroom-rules", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	char *buf = malloc(COPY_CHUNK);
	bool ok = buf != NULL;
	const char *p = prefix;
	size_t left = plen;
	while (ok && left > 0) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		if (ok) {
			p += w;
			left -= (size_t)w;
		}
	}
	for (int64_t off = skip; ok && off < size;) {
		size_t want = (size_t)(size - off < COPY_CHUNK ? size - off : COPY_CHUNK);
		ssize_t r = pread(src, buf, want, off);
		if (r < 0 && errno == EINTR)
			continue;
		ok = r > 0;
		for (ssize_t done = 0; ok && done < r;) {
			ssize_t w = write(fd, buf + done, (size_t)(r - done));
			if (w < 0 && errno == EINTR)
				continue;
			ok = w > 0;
			done += w > 0 ? w : 0;
		}
		off += r > 0 ? r : 0;
	}
	free(buf);
	if (!ok) {
		close(fd);
		return -1;
	}
	*size_r = (int64_t)plen + (size - skip);
	return fd;
}

/* A new message in out (fd owned by out). NULL when out is full. */
static struct store_message *add_msg(struct rules_outcome *o, int fd,
				     int64_t size, const char *sender)
{
	if (o->n >= RULES_OUTCOME_MAX || o->n_fds >= RULES_OUTCOME_MAX) {
		close(fd);
		return NULL;
	}
	o->fds[o->n_fds++] = fd;
	struct store_message *m = &o->msgs[o->n++];
	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->size = size;
	m->sender = sender;
	return m;
}

/*
 * Resolve targets (forward addresses, a vacation recipient) to local
 * accounts and remote addresses for m. Local ones go through store_expand
 * (aliases included); anything not local is remote.
 */
static int route(struct rules_env *env, struct rules_outcome *o,
		 struct store_message *m, const char *const *targets, size_t n)
{
	if (o->n_owned >= RULES_OUTCOME_MAX)
		return STORE_TOOMANY;
	const char **remote = calloc(n * 4 + 1, sizeof *remote);
	int64_t *ids = NULL;
	size_t n_local = 0, n_remote = 0, cap_local = 0;
	if (remote == NULL)
		return STORE_ERROR;
	o->owned[o->n_owned++] = remote;
	m->remote = remote;
	for (size_t i = 0; i < n; i++) {
		struct store_expansion ex;
		memset(&ex, 0, sizeof ex);
		int rc = store_expand(env->st, targets[i], 0, &ex);
		if (rc == STORE_INVALID) { /* not a local domain */
			/* a copy: targets point into a cached rule set that a
			 * later lookup in this batch may evict */
			const char *t = str_keep(o, targets[i]);
			if (t && n_remote < n * 4)
				remote[n_remote++] = t;
			continue;
		}
		if (rc == STORE_NOTFOUND) {
			log_warn("rules: event=forward-unknown-local to=%s", targets[i]);
			continue;
		}
		if (rc != STORE_OK) {
			if (rc == STORE_TOOMANY)
				continue;
			return rc;
		}
		for (size_t j = 0; j < ex.n_local; j++) {
			if (n_local == cap_local) {
				/* the shared id array was sized for this */
				int64_t *more = ids_alloc(o, 8);
				if (more == NULL) {
					log_warn("rules: event=forward-cut to=%s "
						 "(too many local accounts)",
						 targets[i]);
					break;
				}
				if (ids == NULL)
					ids = more;
				cap_local += 8;
			}
			ids[n_local++] = ex.local_ids[j];
		}
		for (size_t j = 0; j < ex.n_remote && n_remote < n * 4; j++) {
			const char *s = str_keep(o, ex.remote[j]);
			if (s)
				remote[n_remote++] = s;
		}
		store_expansion_free(&ex);
	}
	m->local_ids = ids;
	m->n_local = n_local;
	m->n_remote = n_remote;
	return STORE_OK;
}

/* Our envelope sender for a forwarded copy from account's domain. */
static const char *forward_sender(struct rules_env *env, struct rules_outcome *o,
				  const char *sender, const char *account)
{
	if (sender == NULL || sender[0] == '\0')
		return "";
	const char *at = strrchr(sender, '@');
	/* a sender in one of our domains passes SPF as it is */
	if (at && store_domain_exists(env->st, at + 1) == 1)
		return sender;
	if (env->srs_keylen == 0 &&
	    rules_srs_key(env->st, env->srs_key, &env->srs_keylen) != STORE_OK) {
		env->srs_keylen = 0;
		return sender; /* better unrewritten than not forwarded */
	}
	const char *our = strrchr(account, '@');
	char srs[2 * ADDR_MAX];
	if (our == NULL || rules_srs_forward(env->srs_key, env->srs_keylen, sender,
					     our + 1, env->now, srs, sizeof srs) != 0)
		return sender;
	const char *kept = str_keep(o, srs);
	return kept ? kept : sender;
}

/* The stored copy's header block: tag, then each header set, in order. */
static int rewrite_header(const char *hdr, size_t hl,
			  const struct rules_decision *d, struct buf *out)
{
	struct buf tmp;
	if (buf_init(&tmp, 2 * RULES_HEADER_BLOCK_MAX) != 0)
		return -1;
	int bad = buf_append(out, hdr, hl);
	if (!bad && d->subject_tag) {
		bad = rules_subject_tag_apply(out->data, out->len, d->subject_tag,
					      &tmp);
		buf_reset(out);
		bad |= bad ? 0 : buf_append(out, tmp.data, tmp.len);
	}
	for (size_t i = 0; !bad && i < d->n_set_headers; i++) {
		buf_reset(&tmp);
		bad = rules_header_set_apply(out->data, out->len,
					     d->set_headers[i]->header,
					     d->set_headers[i]->text, &tmp);
		buf_reset(out);
		bad |= bad ? 0 : buf_append(out, tmp.data, tmp.len);
	}
	buf_free(&tmp);
	return bad ? -1 : 0;
}

static int account_actions(struct rules_env *env, const struct store_message *in,
			   struct rules_outcome *o, const char *account,
			   const struct rules_decision *d, size_t hl,
			   int64_t account_id, bool *keeps_original)
{
	struct rules_message *msg = env->msg;
	struct buf b;
	int rc = STORE_OK;
	/* a header block longer than we read cannot be rewritten safely: its
	 * last line would be cut in two; that account keeps the original */
	bool rewrite = (d->subject_tag != NULL || d->n_set_headers > 0) &&
		       env->header_complete;
	*keeps_original = d->keep && !rewrite;
	if (buf_init(&b, 2 * RULES_HEADER_BLOCK_MAX) != 0)
		return STORE_ERROR;
	if (d->keep && rewrite) {
		int64_t size = 0;
		int fd = -1;
		if (rewrite_header(env->hdr, hl, d, &b) == 0)
			fd = copy_fd(b.data, b.len, in->fd, (int64_t)hl, in->size, &size);
		struct store_message *m = fd >= 0 ? add_msg(o, fd, size, in->sender) : NULL;
		int64_t *id = m ? ids_alloc(o, 1) : NULL;
		if (id) {
			*id = account_id;
			m->local_ids = id;
			m->n_local = 1;
		} else {
			if (m)
				o->n--; /* fd stays in fds: closed at free */
			*keeps_original = true; /* untagged beats lost */
		}
	}
	if (d->n_forward > 0) {
		buf_reset(&b);
		int64_t size = 0;
		int fd = -1;
		if (rules_forward_prefix(account, &b) == 0)
			fd = copy_fd(b.data, b.len, in->fd, 0, in->size, &size);
		const char *sender = forward_sender(env, o, in->sender, account);
		struct store_message *m = fd >= 0 ? add_msg(o, fd, size, sender) : NULL;
		if (m == NULL) {
			log_warn("rules: event=forward-failed account=%s", account);
		} else if ((rc = route(env, o, m, d->forward, d->n_forward)) != STORE_OK) {
			goto out;
		} else if (m->n_local == 0 && m->n_remote == 0) {
			o->n--; /* nobody left to send it to */
		}
	}
	if (d->vacation) {
		rc = rules_vacation_due(env->st, account_id, d->vacation, msg);
		if (rc == 1) {
			buf_reset(&b);
			rc = STORE_OK;
			int64_t size = 0;
			int fd = -1;
			if (rules_vacation_compose(d->vacation, msg, env->hostname, &b) == 0)
				fd = copy_fd(b.data, b.len, -1, 0, 0, &size);
			struct store_message *m = fd >= 0 ? add_msg(o, fd, size, "") : NULL;
			const char *to = in->sender;
			if (m && (rc = route(env, o, m, &to, 1)) == STORE_OK &&
			    m->n_local == 0 && m->n_remote == 0)
				o->n--;
		} else if (rc == 0) {
			rc = STORE_OK; /* replied recently */
		}
	}
out:
	buf_free(&b);
	return rc;
}

int rules_deliver_prepare(struct rules_env *env, const struct store_message *in,
			  struct rules_outcome *out)
{
	memset(out, 0, sizeof *out);
	out->msgs[0] = *in;
	out->n = 1;
	if (in->n_local == 0)
		return STORE_OK; /* rules belong to local accounts */
	/* room for the kept ids, one per tagged copy, and forward/vacation
	 * targets (8 per route block) */
	out->cap_ids = in->n_local * 2 + RULES_OUTCOME_MAX * 8;
	out->ids = calloc(out->cap_ids, sizeof *out->ids);
	if (out->ids == NULL)
		return STORE_ERROR;
	int64_t *kept = ids_alloc(out, in->n_local);
	size_t n_kept = 0;

	size_t want = in->size < RULES_HEADER_BLOCK_MAX ? (size_t)in->size
						       : RULES_HEADER_BLOCK_MAX;
	ssize_t got = pread(in->fd, env->hdr, want, 0);
	if (got < 0)
		return STORE_ERROR;
	size_t hl = rules_header_block_len(env->hdr, (size_t)got);
	env->header_complete = hl < (size_t)got || (int64_t)got == in->size;
	struct rules_message *msg = env->msg;
	rules_message_parse(msg, env->hdr, hl);
	msg->envelope_from = in->sender ? in->sender : "";
	msg->body = NULL;
	msg->body_len = 0;
	bool body_loaded = false, auth_read = false;
	msg->size = in->size;
	msg->now = env->now ? env->now : time(NULL);
	if (rules_hop_count(msg) > RULES_HOPS_MAX) {
		out->hop_limit = true;
		out->reject_text = "mail loop: too many hops";
		out->n_rejected = in->n_local;
		out->msgs[0].n_local = 0;
		out->msgs[0].local_ids = kept;
		if (in->n_remote == 0)
			out->n = 0;
		return STORE_OK;
	}
	for (size_t i = 0; i < in->n_local; i++) {
		const struct rules_set *set = NULL;
		const char *account = NULL;
		int rc = rules_cache_lookup(env->cache, env->st, in->local_ids[i],
					    &set, &account);
		if (rc != STORE_OK)
			return rc;
		if (set->n == 0) {
			kept[n_kept++] = in->local_ids[i];
			continue;
		}
		if (set->needs_body && !body_loaded) {
			body_loaded = true;
			if (load_body(env, in, hl) != 0)
				log_warn("rules: body not read for rules; "
					 "body conditions see it empty");
		}
		if (!auth_read) { /* once, and only when some set has rules */
			auth_read = true;
			/* spf/dkim/dmarc: smtpd's Authentication-Results, whose
			 * authserv-id is our hostname */
			rules_message_auth(msg, env->hostname);
		}
		msg->envelope_to = msg->account = account;
		struct rules_decision d;
		rules_evaluate(set, msg, &d);
		if (d.reject_text) {
			snprintf(out->reject_buf, sizeof out->reject_buf, "%s",
				 d.reject_text);
			out->reject_text = out->reject_buf;
			out->n_rejected++;
			continue;
		}
		bool keeps = false;
		rc = account_actions(env, in, out, account, &d, hl, in->local_ids[i],
				     &keeps);
		if (rc != STORE_OK)
			return rc;
		if (keeps)
			kept[n_kept++] = in->local_ids[i];
	}
	out->msgs[0].local_ids = kept;
	out->msgs[0].n_local = n_kept;
	if (n_kept == 0 && in->n_remote == 0) {
		/* the original goes nowhere: drop it from the list */
		memmove(&out->msgs[0], &out->msgs[1],
			(out->n - 1) * sizeof out->msgs[0]);
		out->n--;
	}
	return STORE_OK;
}
