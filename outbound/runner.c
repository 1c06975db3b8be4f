/*
 * runner.c - the queue runner: finds due rows in the store's queue, groups
 * them into jobs (one destination, up to max_msgs_per_conn messages, each
 * with its recipients there), starts a bounded number of jobs at once, and
 * when a job ends writes every recipient's outcome back to the store.
 *
 * The store is the only state that matters: a row leaves the queue only
 * after the remote server's 2xx to the DATA dot (or after its bounce is
 * stored). Rows being worked on stay due in the database and are skipped
 * through an in-memory set, so a SIGKILL at any moment loses nothing; the
 * rows are simply sent again after a restart (at least once). A restart
 * with a long backlog does not storm: at most max_sessions connections are
 * open, at most max_per_dest to one destination, and deferred rows come
 * back spread by the jittered backoff.
 *
 * Outcomes: 2xx -> row deleted; 4xx or no connection -> deferred on the
 * backoff schedule until the lifetime passes, then failed (4.4.7); 5xx,
 * null MX, unknown domain -> failed. Failed recipients of one message get
 * one DSN to the sender (never for the null sender), stored into the
 * sender's mailbox when the sender is local, else queued back out with
 * the null sender.
 */
#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../store/queue_read.h"
#include "../store/sendlimit.h"
#include "outbound_int.h"

#define POLL_INTERVAL_MS 1000
#define POLL_LIMIT 2000
#define STORE_RETRY_DELAY 300 /* when the store itself failed us */

/* DKIM keys by sender domain, read from disk at most every
 * DKIM_CACHE_TTL seconds (not twice per message): a key made by
 * `mailroomctl dkim generate` is used within that time. */
#define DKIM_CACHE_SLOTS 16
#define DKIM_CACHE_TTL 10
struct dkim_cached {
	char domain[ADDR_DOMAIN_MAX + 1];
	EVP_PKEY *rsa, *ed;
	int64_t at; /* 0: empty */
};

struct idset {
	int64_t *v; /* open addressing; 0 empty, -1 deleted */
	size_t cap, used;
};

struct ob_runner {
	struct ob_runner_params p;
	struct ob_dns *dns;
	SSL_CTX *tls_mx, *tls_smart;
	struct event *poll_ev;
	struct ob_job *jobs;
	int n_jobs;
	uint64_t next_job_id;
	struct idset inflight;
	size_t n_inflight;
	struct dkim_cached dkc[DKIM_CACHE_SLOTS];
	struct store_queue_item *batch;
	int *batch_lim; /* each batch row's ob_limits_sender() */
	size_t n_batch;
	struct ob_limits *limits;
	bool smarthost;
	struct ob_smarthost sh; /* in force; re-read at every full poll */
	/* delivered rows waiting for the next batch delete */
	struct done_row *done;
	size_t n_done, cap_done;
	struct event *flush_ev;
	bool flush_armed;
	/* deletes go to the writer thread (writer.c); what waits for them */
	struct ob_writer *writer;
	uint64_t committed; /* the writer's last batch done */
	struct pend *pends, **pends_tail;
};

/* Waits for the writer's batch `ticket`: in-flight rows of a finished job
 * to release, sending-limit counts to settle. */
struct pend {
	struct pend *next;
	uint64_t ticket;
	int64_t *ids;
	size_t n_ids;
	int *lims;
	size_t n_lims;
};

/* A delivered row and what the sending limit needs to count it. */
struct done_row {
	int64_t id;
	int64_t created;
	int limit_idx;
};

/* Growable arrays of outcomes written in one transaction each. */
struct outcomes {
	int64_t *dels;
	size_t n_dels, cap_dels;
	struct store_queue_deferral *defers;
	size_t n_defers, cap_defers;
};

static int add_del(struct outcomes *o, int64_t id)
{
	if (o->n_dels == o->cap_dels) {
		size_t nc = o->cap_dels ? o->cap_dels * 2 : 16;
		int64_t *n = realloc(o->dels, nc * sizeof *n);
		if (n == NULL)
			return -1;
		o->dels = n;
		o->cap_dels = nc;
	}
	o->dels[o->n_dels++] = id;
	return 0;
}

static int add_defer(struct outcomes *o, int64_t id, int64_t next,
		     const char *error)
{
	if (o->n_defers == o->cap_defers) {
		size_t nc = o->cap_defers ? o->cap_defers * 2 : 16;
		struct store_queue_deferral *n = realloc(o->defers, nc * sizeof *n);
		if (n == NULL)
			return -1;
		o->defers = n;
		o->cap_defers = nc;
	}
	o->defers[o->n_defers].id = id;
	o->defers[o->n_defers].next_attempt = next;
	o->defers[o->n_defers].error = error;
	o->n_defers++;
	return 0;
}

/* ---- the in-flight set ------------------------------------------------------ */

static size_t id_slot(int64_t id, size_t cap)
{
	uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 17) & (cap - 1);
}

static bool idset_has(const struct idset *s, int64_t id)
{
	if (s->cap == 0)
		return false;
	for (size_t i = id_slot(id, s->cap), k = 0; k < s->cap;
	     i = (i + 1) & (s->cap - 1), k++) {
		if (s->v[i] == 0)
			return false;
		if (s->v[i] == id)
			return true;
	}
	return false;
}

static int idset_add(struct idset *s, int64_t id)
{
	if ((s->used + 1) * 2 > s->cap) {
		/* Rebuild without the deleted slots, sized for the live ids:
		 * a long-running daemon must not grow with every id it saw. */
		size_t live = 0;
		for (size_t i = 0; i < s->cap; i++)
			live += s->v[i] > 0;
		size_t ncap = 1024;
		while (ncap < (live + 1) * 4)
			ncap *= 2;
		int64_t *nv = calloc(ncap, sizeof *nv);
		if (nv == NULL)
			return -1;
		size_t used = 0;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i] > 0) {
				size_t j = id_slot(s->v[i], ncap);
				while (nv[j] != 0)
					j = (j + 1) & (ncap - 1);
				nv[j] = s->v[i];
				used++;
			}
		free(s->v);
		s->v = nv;
		s->cap = ncap;
		s->used = used;
	}
	size_t i = id_slot(id, s->cap);
	while (s->v[i] > 0)
		i = (i + 1) & (s->cap - 1);
	if (s->v[i] == 0)
		s->used++;
	s->v[i] = id;
	return 0;
}

static void idset_del(struct idset *s, int64_t id)
{
	if (s->cap == 0)
		return;
	for (size_t i = id_slot(id, s->cap), k = 0; k < s->cap;
	     i = (i + 1) & (s->cap - 1), k++) {
		if (s->v[i] == 0)
			return;
		if (s->v[i] == id) {
			s->v[i] = -1;
			return;
		}
	}
}

/* ---- accessors for the job modules ------------------------------------------ */

struct event_base *ob_runner_base(struct ob_runner *r) { return r->p.base; }
struct ob_dns *ob_runner_dns(struct ob_runner *r) { return r->dns; }
const struct config *ob_runner_cfg(struct ob_runner *r) { return r->p.cfg; }
struct store *ob_runner_store(struct ob_runner *r) { return r->p.store; }
/* The MX context is made at the first STARTTLS: loading the system
 * trust store takes tens of milliseconds, which every start paid before
 * the first message went out. (The smarthost's is made at start when
 * there is one, so a bad smarthost_ca stops the daemon there.) */
SSL_CTX *ob_runner_tls(struct ob_runner *r, bool smarthost)
{
	SSL_CTX **c = smarthost ? &r->tls_smart : &r->tls_mx;
	if (*c == NULL) {
		char err[256];
		*c = ob_tls_client_ctx(smarthost ? r->p.smarthost_ca : NULL, err,
				       sizeof err);
		if (*c == NULL)
			log_error("event=tls-setup-failed reason=\"%s\"", err);
	}
	return *c;
}

/* ---- bounces ---------------------------------------------------------------- */

/* The header section of a stored message, for the DSN. */
static int read_headers(struct ob_runner *r, int64_t body_id, struct buf *h)
{
	struct store_body_reader *rd = NULL;
	if (store_body_open_by_id(r->p.store, body_id, &rd) != STORE_OK)
		return -1;
	char chunk[8192];
	ssize_t n;
	while ((n = store_body_read(rd, chunk, sizeof chunk)) > 0) {
		size_t take = (size_t)n;
		if (h->len + take > OB_DSN_HEADERS_MAX)
			take = OB_DSN_HEADERS_MAX - h->len;
		if (buf_append(h, chunk, take) < 0)
			break;
		char *end = strstr(h->data, "\r\n\r\n");
		if (end) {
			h->len = (size_t)(end - h->data) + 2;
			h->data[h->len] = '\0';
			break;
		}
		if (h->len >= OB_DSN_HEADERS_MAX)
			break;
	}
	store_body_close(&rd);
	return 0;
}

/*
 * Store a DSN for sender: into local mailboxes (and alias targets) when
 * the sender's domain is ours, else queued out with the null sender.
 * STORE_OK, or a store error (temporary ones mean: try again later).
 */
static int inject_dsn(struct ob_runner *r, const char *sender,
		      const struct buf *dsn)
{
	int fd = memfd_create("mailroom-dsn", MFD_CLOEXEC);
	if (fd < 0)
		return STORE_ERROR;
	size_t off = 0;
	while (off < dsn->len) {
		ssize_t w = write(fd, dsn->data + off, dsn->len - off);
		if (w <= 0) {
			close(fd);
			return STORE_ERROR;
		}
		off += (size_t)w;
	}
	struct store_expansion e;
	memset(&e, 0, sizeof e);
	const char *one[1] = {sender};
	struct store_message m;
	memset(&m, 0, sizeof m);
	m.fd = fd;
	m.size = (int64_t)dsn->len;
	m.sender = "";
	int rc = store_expand(r->p.store, sender, m.size, &e);
	if (rc == STORE_OK) {
		m.local_ids = e.local_ids;
		m.n_local = e.n_local;
		m.remote = (const char *const *)e.remote;
		m.n_remote = e.n_remote;
	} else if (rc == STORE_INVALID) {
		m.remote = one; /* not a local domain */
		m.n_remote = 1;
	} else if (rc == STORE_NOTFOUND) {
		log_warn("event=bounce-dropped to=<%s> reason=\"no such local sender\"",
			 sender);
		close(fd);
		return STORE_OK;
	} else {
		close(fd);
		return rc;
	}
	rc = store_deliver(r->p.store, &m, 1);
	if (rc == STORE_OK)
		store_expansion_free(&e);
	else if (e.local_ids || e.remote)
		store_expansion_free(&e);
	close(fd);
	return rc;
}

/* Build and store one DSN to m's sender about rcpts. */
static int send_dsn(struct ob_runner *r, const struct ob_msg *m,
		    const struct ob_dsn_rcpt *rcpts, size_t n, int64_t now,
		    uint64_t job_id)
{
	struct buf headers, dsn;
	if (buf_init(&headers, OB_DSN_HEADERS_MAX + 16) < 0)
		return STORE_ERROR;
	if (buf_init(&dsn, OB_DSN_MAX) < 0) {
		buf_free(&headers);
		return STORE_ERROR;
	}
	(void)read_headers(r, m->body_id, &headers);
	char seed[64];
	snprintf(seed, sizeof seed, "%lld.%lld.%llu",
		 (long long)m->rcpts[0].queue_id, (long long)now,
		 (unsigned long long)job_id);
	struct ob_dsn_info info = {
		.reporting_host = r->p.cfg->hostname,
		.sender = m->sender,
		.arrival = m->created,
		.now = now,
		.boundary_seed = seed,
		.orig_headers = {headers.data, headers.len},
	};
	int ret = ob_dsn_build(&dsn, &info, rcpts, n) < 0
			  ? STORE_ERROR
			  : inject_dsn(r, m->sender, &dsn);
	buf_free(&headers);
	buf_free(&dsn);
	return ret;
}

/*
 * RFC 3464 "delayed": once per row, when a message has waited
 * delay_warning seconds and is still being retried, tell the sender.
 */
static void warn_delayed(struct ob_runner *r, struct ob_job *j,
			 struct ob_msg *m, int64_t now)
{
	if (r->p.delay_warning <= 0 || m->sender[0] == '\0' ||
	    now - m->created < r->p.delay_warning)
		return;
	struct ob_dsn_rcpt *late = calloc(m->n_rcpts, sizeof *late);
	size_t n = 0;
	for (size_t i = 0; late && i < m->n_rcpts; i++) {
		struct ob_rcpt *rc = &m->rcpts[i];
		if (rc->state != OB_RCPT_DEFER ||
		    store_queue_mark_warned(r->p.store, rc->queue_id) != 1)
			continue;
		late[n].recipient = rc->addr;
		late[n].status = rc->status;
		late[n].remote_mta = rc->mta[0] ? rc->mta : NULL;
		late[n].diagnostic = rc->reply;
		late[n].action = OB_DSN_DELAYED;
		n++;
	}
	if (n > 0) {
		if (send_dsn(r, m, late, n, now, j->id) == STORE_OK)
			log_info("job=%llu event=delay-warning from=<%s> recipients=%zu",
				 (unsigned long long)j->id, m->sender, n);
		else
			log_error("job=%llu event=delay-warning-failed from=<%s> reason=\"%s\"",
				  (unsigned long long)j->id, m->sender,
				  store_errmsg(r->p.store));
	}
	free(late);
}

static void apply_msg(struct ob_runner *r, struct ob_job *j, struct ob_msg *m,
		      int64_t now, struct outcomes *o)
{
	struct store *st = r->p.store;
	struct ob_dsn_rcpt *fails = calloc(m->n_rcpts, sizeof *fails);
	size_t n_fail = 0;
	char esc[LOG_ESCAPED_MAX];
	for (size_t i = 0; i < m->n_rcpts; i++) {
		struct ob_rcpt *rc = &m->rcpts[i];
		int ret = STORE_OK;
		if (rc->state == OB_RCPT_PENDING)
			ob_rcpt_set(rc, OB_RCPT_DEFER, "4.4.2", "no answer", NULL);
		if (rc->state == OB_RCPT_DEFER &&
		    ob_backoff_expired(m->created, now, r->p.lifetime)) {
			char why[sizeof rc->reply];
			bool hours = r->p.lifetime >= 3600;
			snprintf(why, sizeof why,
				 "gave up after %lld %s in the queue; last error: %.900s",
				 (long long)(hours ? r->p.lifetime / 3600 : r->p.lifetime),
				 hours ? "hours" : "seconds", rc->reply);
			ob_rcpt_set(rc, OB_RCPT_FAIL, "4.4.7", why, rc->mta);
		}
		switch (rc->state) {
		case OB_RCPT_DONE:
			break; /* deleted already (ob_runner_delivered) */
		case OB_RCPT_DEFER: {
			int64_t next = ob_backoff_next(now, rc->attempts + 1,
						       (uint32_t)(rc->queue_id * 2654435761u) ^
							       (uint32_t)now);
			ret = add_defer(o, rc->queue_id, next, rc->reply) == 0
				      ? STORE_OK
				      : STORE_ERROR;
			log_info("job=%llu event=deferred to=<%s> attempts=%d next_in=%llds reason=\"%s\"",
				 (unsigned long long)j->id, rc->addr,
				 rc->attempts + 1, (long long)(next - now),
				 log_escape(esc, sizeof esc, rc->reply, strlen(rc->reply)));
			break;
		}
		case OB_RCPT_FAIL:
			if (fails == NULL) /* no memory for the report: later */
				(void)add_defer(o, rc->queue_id,
						now + STORE_RETRY_DELAY, rc->reply);
			else {
				fails[n_fail].recipient = rc->addr;
				fails[n_fail].status = rc->status;
				fails[n_fail].remote_mta = rc->mta[0] ? rc->mta : NULL;
				fails[n_fail].diagnostic = rc->reply;
				fails[n_fail].action = OB_DSN_FAILED;
				n_fail++;
			}
			break;
		case OB_RCPT_PENDING:
			break;
		}
		if (ret != STORE_OK && ret != STORE_NOTFOUND)
			log_error("job=%llu event=store-error queue_id=%lld reason=\"%s\"",
				  (unsigned long long)j->id, (long long)rc->queue_id,
				  store_errmsg(st));
	}
	warn_delayed(r, j, m, now);
	if (n_fail == 0) {
		free(fails);
		return;
	}
	int ret = STORE_OK;
	if (m->sender[0] == '\0') {
		/* RFC 5321 4.5.5 / 6.1: never bounce a bounce. */
		log_info("job=%llu event=bounce-suppressed reason=null-sender recipients=%zu",
			 (unsigned long long)j->id, n_fail);
	} else {
		ret = send_dsn(r, m, fails, n_fail, now, j->id);
		if (ret == STORE_OK)
			log_info("job=%llu event=bounced from=<%s> recipients=%zu",
				 (unsigned long long)j->id, m->sender, n_fail);
		else
			log_error("job=%llu event=bounce-failed from=<%s> reason=\"%s\"",
				  (unsigned long long)j->id, m->sender,
				  store_errmsg(st));
	}
	for (size_t i = 0; i < m->n_rcpts; i++) {
		struct ob_rcpt *rc = &m->rcpts[i];
		if (rc->state != OB_RCPT_FAIL)
			continue;
		if (ret == STORE_OK) {
			log_info("job=%llu event=failed to=<%s> status=%s reason=\"%s\"",
				 (unsigned long long)j->id, rc->addr, rc->status,
				 log_escape(esc, sizeof esc, rc->reply, strlen(rc->reply)));
			(void)add_del(o, rc->queue_id);
		} else {
			/* The bounce could not be stored: keep the row and try
			 * the whole thing again later rather than lose it. */
			(void)add_defer(o, rc->queue_id, now + STORE_RETRY_DELAY,
					rc->reply);
		}
	}
	free(fails);
}

static void job_free(struct ob_job *j)
{
	ob_client_close(j);
	explicit_bzero(&j->sh, sizeof j->sh);
	for (size_t m = 0; m < j->n_msgs; m++) {
		free(j->msgs[m].rcpts);
		free(j->msgs[m].dkim);
	}
	free(j->msgs);
	free(j);
}

static void poll_queue(struct ob_runner *r, bool full);

/* Delete every delivered row reported since the last flush: one
 * transaction, one fsync. On a store error the rows stay and are sent
 * again later (at least once). */
static void pend_add(struct ob_runner *r, struct pend *p)
{
	p->next = NULL;
	*r->pends_tail = p;
	r->pends_tail = &p->next;
}

/* Delete every delivered row reported since the last flush: handed to the
 * writer thread (one transaction with whatever else waits there), or, if
 * that cannot take it, here. On a store error the rows stay and are sent
 * again later (at least once). */
static void flush_done(struct ob_runner *r)
{
	if (r->n_done == 0)
		return;
	int64_t now = (int64_t)time(NULL);
	int64_t *ids = malloc(r->n_done * sizeof *ids);
	struct pend *p = calloc(1, sizeof *p);
	int *lims = malloc(r->n_done * sizeof *lims);
	int rc = STORE_ERROR;
	if (ids != NULL && p != NULL && lims != NULL) {
		size_t n_lims = 0;
		for (size_t i = 0; i < r->n_done; i++) {
			ids[i] = r->done[i].id;
			if (ob_limits_left(r->limits, r->done[i].limit_idx,
					   r->done[i].created, now, true))
				lims[n_lims++] = r->done[i].limit_idx;
		}
		const struct store_sendlimit_note *notes;
		size_t n_notes = ob_limits_notes(r->limits, now, &notes);
		uint64_t t = r->writer ? ob_writer_submit(r->writer, ids, r->n_done,
							  notes, n_notes)
				       : 0;
		if (t != 0) {
			ob_limits_notes_done(r->limits, true);
			p->ticket = t;
			p->lims = lims;
			p->n_lims = n_lims;
			pend_add(r, p);
			p = NULL;
			lims = NULL;
			rc = STORE_OK;
		} else {
			rc = store_queue_del_many_noted(r->p.store, ids, r->n_done,
							notes, n_notes);
			ob_limits_notes_done(r->limits, rc == STORE_OK);
			for (size_t i = 0; i < n_lims; i++)
				ob_limits_settled(r->limits, lims[i]);
		}
	}
	if (rc != STORE_OK)
		log_error("event=store-error op=delete rows=%zu reason=\"%s\"",
			  r->n_done, ids ? store_errmsg(r->p.store) : "out of memory");
	free(ids);
	free(p);
	free(lims);
	r->n_done = 0;
}

/* Writer thread -> loop: batch `ticket` (and all before it) is committed
 * (ok) or failed. What waited for it goes on: counts settle, in-flight
 * rows of finished jobs are released, and the queue is polled again. */
static void on_committed(void *arg, uint64_t ticket, bool ok)
{
	struct ob_runner *r = arg;
	r->committed = ticket;
	if (!ok)
		ob_limits_resync(r->limits);
	bool released = false;
	while (r->pends && r->pends->ticket <= r->committed) {
		struct pend *p = r->pends;
		r->pends = p->next;
		if (r->pends == NULL)
			r->pends_tail = &r->pends;
		for (size_t i = 0; i < p->n_lims; i++)
			ob_limits_settled(r->limits, p->lims[i]);
		for (size_t i = 0; i < p->n_ids; i++) {
			idset_del(&r->inflight, p->ids[i]);
			r->n_inflight--;
			released = true;
		}
		free(p->ids);
		free(p->lims);
		free(p);
	}
	if (released)
		poll_queue(r, false);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct ob_runner *r = arg;
	(void)fd;
	(void)what;
	r->flush_armed = false;
	flush_done(r);
}

/* Deliveries of this long go to the writer together (it commits what
 * piled up while it was busy anyway); a crash re-sends at most this much
 * plus the commit in progress (at least once). */
#define FLUSH_DELAY_US 2000

void ob_runner_delivered(struct ob_runner *r, const struct ob_msg *m,
			 int64_t queue_id)
{
	if (r->n_done == r->cap_done) {
		size_t nc = r->cap_done ? r->cap_done * 2 : 256;
		struct done_row *n = realloc(r->done, nc * sizeof *n);
		if (n == NULL) {
			flush_done(r); /* no room: delete what we have now */
			if (r->cap_done == 0) {
				int64_t one = queue_id;
				if (store_queue_del_many(r->p.store, &one, 1) != STORE_OK)
					log_error("event=store-error op=delete");
				return;
			}
		} else {
			r->done = n;
			r->cap_done = nc;
		}
	}
	r->done[r->n_done++] = (struct done_row){queue_id, m->created, m->limit_idx};
	if (!r->flush_armed) {
		struct timeval tv = {0, FLUSH_DELAY_US};
		if (event_add(r->flush_ev, &tv) == 0)
			r->flush_armed = true;
	}
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ob_job *j = arg;
	struct ob_runner *r = j->runner;
	(void)fd;
	(void)what;
	int64_t now = (int64_t)time(NULL);
	/* Deliveries first: their rows must be gone before the ids leave
	 * the in-flight set, or the next poll would send them again. */
	flush_done(r);
	struct outcomes o;
	memset(&o, 0, sizeof o);
	for (size_t m = 0; m < j->n_msgs; m++) {
		size_t before = o.n_dels;
		apply_msg(r, j, &j->msgs[m], now, &o);
		for (size_t k = before; k < o.n_dels; k++)
			(void)ob_limits_left(r->limits, j->msgs[m].limit_idx,
					     j->msgs[m].created, now, false);
	}
	/* Bounced rows are deleted here, right after their DSN was stored
	 * (not through the writer: a crash in between would bounce twice);
	 * their senders' records go with the writer's next batch. */
	if (store_queue_defer_many(r->p.store, o.defers, o.n_defers) != STORE_OK ||
	    store_queue_del_many(r->p.store, o.dels, o.n_dels) != STORE_OK)
		log_error("job=%llu event=store-error reason=\"%s\"",
			  (unsigned long long)j->id, store_errmsg(r->p.store));
	free(o.defers);
	free(o.dels);
	size_t n_ids = 0;
	for (size_t m = 0; m < j->n_msgs; m++)
		n_ids += j->msgs[m].n_rcpts;
	struct pend *p = NULL;
	bool waiting = r->writer && r->committed < ob_writer_last_ticket(r->writer);
	if (waiting && (p = calloc(1, sizeof *p)) != NULL &&
	    (p->ids = malloc((n_ids ? n_ids : 1) * sizeof *p->ids)) != NULL) {
		/* The job's delivered rows are still being deleted: its ids
		 * stay in flight until that commit (on_committed). */
		for (size_t m = 0; m < j->n_msgs; m++)
			for (size_t i = 0; i < j->msgs[m].n_rcpts; i++)
				p->ids[p->n_ids++] = j->msgs[m].rcpts[i].queue_id;
		p->ticket = ob_writer_last_ticket(r->writer);
		pend_add(r, p);
	} else {
		if (waiting) { /* no memory to wait: keep them out of polls */
			log_error("job=%llu event=inflight-kept reason=\"out of memory\"",
				  (unsigned long long)j->id);
			free(p);
		} else {
			for (size_t m = 0; m < j->n_msgs; m++)
				for (size_t i = 0; i < j->msgs[m].n_rcpts; i++) {
					idset_del(&r->inflight,
						  j->msgs[m].rcpts[i].queue_id);
					r->n_inflight--;
				}
		}
	}
	for (struct ob_job **pp = &r->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	r->n_jobs--;
	log_debug("job=%llu event=job-done", (unsigned long long)j->id);
	job_free(j);
	poll_queue(r, false);
}

void ob_job_finish(struct ob_job *j)
{
	if (j->finished)
		return;
	j->finished = true;
	/* Later, from the loop: the caller may still be inside a callback of
	 * this job's connection. */
	struct timeval zero = {0, 0};
	if (event_base_once(j->runner->p.base, -1, EV_TIMEOUT, finish_cb, j,
			    &zero) < 0)
		log_error("job=%llu event=finish-failed", (unsigned long long)j->id);
}

/* ---- polling ---------------------------------------------------------------- */

static int collect(void *ctx, const struct store_queue_item *q)
{
	struct ob_runner *r = ctx;
	if (idset_has(&r->inflight, q->id))
		return 0;
	r->batch_lim[r->n_batch] = ob_limits_sender(r->limits, q->sender);
	ob_limits_seen(r->limits, r->batch_lim[r->n_batch], q->attempts == 0);
	r->batch[r->n_batch++] = *q;
	return 0;
}

static int dest_count(const struct ob_runner *r, const char *dest)
{
	int n = 0;
	for (const struct ob_job *j = r->jobs; j; j = j->next)
		if (strcmp(j->dest, dest) == 0)
			n++;
	return n;
}

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* A DKIM key of domain (suffix ".pem" or ".ed25519.pem"), when it has
 * one, read from disk. */
static EVP_PKEY *dkim_key_load(struct ob_runner *r, const char *domain,
			       const char *suffix)
{
	char path[CONFIG_PATH_MAX + ADDR_DOMAIN_MAX + 32];
	snprintf(path, sizeof path, "%s/dkim/%s%s", r->p.cfg->data_dir, domain,
		 suffix);
	EVP_PKEY *k = ob_dkim_load_key(path);
	if (k == NULL && access(path, F_OK) == 0)
		log_warn("event=dkim-key-unusable path=%s reason=\"%s\" (mail goes unsigned)",
			 path, access(path, R_OK) == 0 ? "not a PEM private key"
						       : strerror(errno));
	return k;
}

/* The sender domain's keys (new references, or NULL), from the cache. */
static void dkim_keys(struct ob_runner *r, const char *sender, EVP_PKEY **rsa_r,
		      EVP_PKEY **ed_r, const char **domain_r)
{
	*rsa_r = *ed_r = NULL;
	const char *at = strrchr(sender, '@');
	if (at == NULL || at[1] == '\0' || strchr(at + 1, '/') || at[1] == '.' ||
	    strlen(at + 1) > ADDR_DOMAIN_MAX)
		return;
	const char *domain = at + 1;
	*domain_r = domain;
	int64_t now = (int64_t)time(NULL);
	struct dkim_cached *c = NULL, *oldest = &r->dkc[0];
	for (size_t i = 0; i < DKIM_CACHE_SLOTS; i++) {
		if (r->dkc[i].at != 0 && strcmp(r->dkc[i].domain, domain) == 0)
			c = &r->dkc[i];
		if (r->dkc[i].at < oldest->at)
			oldest = &r->dkc[i];
	}
	if (c != NULL && now - c->at >= DKIM_CACHE_TTL) {
		EVP_PKEY_free(c->rsa);
		EVP_PKEY_free(c->ed);
		memset(c, 0, sizeof *c);
		c = NULL;
	}
	if (c == NULL) {
		c = oldest;
		EVP_PKEY_free(c->rsa);
		EVP_PKEY_free(c->ed);
		snprintf(c->domain, sizeof c->domain, "%s", domain);
		c->rsa = dkim_key_load(r, domain, ".pem");
		c->ed = dkim_key_load(r, domain, ".ed25519.pem");
		c->at = now;
	}
	if (c->rsa && EVP_PKEY_up_ref(c->rsa) == 1)
		*rsa_r = c->rsa;
	if (c->ed && EVP_PKEY_up_ref(c->ed) == 1)
		*ed_r = c->ed;
}

/*
 * One pass over a message before it is sent: does it need 8BITMIME or
 * SMTPUTF8, and (when the sender's domain has a key) its DKIM signature.
 */
static void scan_body(struct ob_runner *r, struct ob_msg *m)
{
	ob_scan_init(&m->scan);
	const char *domain = NULL;
	EVP_PKEY *key = NULL, *ed = NULL;
	if (m->sender[0])
		dkim_keys(r, m->sender, &key, &ed, &domain);
	struct ob_dkim *dk = key || ed ? ob_dkim_new() : NULL;
	struct store_body_reader *rd = NULL;
	if (store_body_open_by_id(r->p.store, m->body_id, &rd) == STORE_OK) {
		char chunk[16384];
		ssize_t n;
		while ((n = store_body_read(rd, chunk, sizeof chunk)) > 0) {
			ob_scan_feed(&m->scan, chunk, (size_t)n);
			if (dk)
				ob_dkim_feed(dk, chunk, (size_t)n);
			else if (m->scan.in_body && m->scan.body_8bit)
				break;
		}
		store_body_close(&rd);
		struct buf sig;
		char ed_selector[sizeof r->p.cfg->dkim_selector + 16];
		snprintf(ed_selector, sizeof ed_selector, "%s-ed25519",
			 r->p.cfg->dkim_selector);
		int64_t now = (int64_t)time(NULL);
		if (dk && buf_init(&sig, 8192) == 0) {
			int rc = 0;
			if (key)
				rc |= ob_dkim_sign(dk, key, domain,
						   r->p.cfg->dkim_selector, now, &sig);
			if (ed && rc == 0)
				rc |= ob_dkim_sign(dk, ed, domain, ed_selector, now, &sig);
			if (rc == 0) {
				m->dkim = sig.data; /* the message owns it now */
				m->dkim_len = sig.len;
			} else {
				log_warn("event=dkim-failed domain=%s", domain);
				buf_free(&sig);
			}
		}
	}
	ob_dkim_free(&dk);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ed);
}

static struct ob_msg *job_msg(struct ob_runner *r, struct ob_job *j,
			      const struct store_queue_item *q, int limit_idx)
{
	for (size_t i = 0; i < j->n_msgs; i++)
		if (j->msgs[i].body_id == q->body_id &&
		    strcmp(j->msgs[i].sender, q->sender) == 0)
			return &j->msgs[i];
	if ((int)j->n_msgs >= r->p.max_msgs_per_conn)
		return NULL;
	if (j->n_msgs == j->cap_msgs) {
		size_t nc = j->cap_msgs ? j->cap_msgs * 2 : 4;
		struct ob_msg *nm = realloc(j->msgs, nc * sizeof *nm);
		if (nm == NULL)
			return NULL;
		j->msgs = nm;
		j->cap_msgs = nc;
	}
	struct ob_msg *m = &j->msgs[j->n_msgs++];
	memset(m, 0, sizeof *m);
	m->body_id = q->body_id;
	m->size = q->size;
	m->created = q->created;
	m->limit_idx = limit_idx;
	snprintf(m->sender, sizeof m->sender, "%s", q->sender);
	m->utf8_addrs = has_8bit(q->sender);
	scan_body(r, m);
	return m;
}

static int job_add(struct ob_runner *r, struct ob_job *j,
		   const struct store_queue_item *q, int limit_idx)
{
	struct ob_msg *m = job_msg(r, j, q, limit_idx);
	if (m == NULL)
		return -1;
	if (m->n_rcpts == m->cap_rcpts) {
		size_t nc = m->cap_rcpts ? m->cap_rcpts * 2 : 4;
		struct ob_rcpt *nr = realloc(m->rcpts, nc * sizeof *nr);
		if (nr == NULL)
			return -1;
		m->rcpts = nr;
		m->cap_rcpts = nc;
	}
	struct ob_rcpt *rc = &m->rcpts[m->n_rcpts++];
	memset(rc, 0, sizeof *rc);
	rc->queue_id = q->id;
	rc->attempts = q->attempts;
	snprintf(rc->addr, sizeof rc->addr, "%s", q->recipient);
	/* A Unicode domain goes out as A-labels (RFC 6531 3.2 allows it), so
	 * only a UTF-8 local part needs SMTPUTF8. A domain that is no valid
	 * IDN is refused at the job's start (route.c). */
	if (ob_idna_addr(q->recipient, rc->wire, sizeof rc->wire) < 0)
		snprintf(rc->wire, sizeof rc->wire, "%s", q->recipient);
	if (has_8bit(rc->wire))
		m->utf8_addrs = true;
	if (idset_add(&r->inflight, q->id) < 0)
		return -1;
	r->n_inflight++;
	return 0;
}

static struct ob_job *job_new(struct ob_runner *r, const char *dest)
{
	struct ob_job *j = calloc(1, sizeof *j);
	if (j == NULL)
		return NULL;
	j->runner = r;
	j->id = ++r->next_job_id;
	j->smarthost = r->smarthost;
	j->sh = r->sh;
	snprintf(j->dest, sizeof j->dest, "%s", dest);
	j->next = r->jobs;
	r->jobs = j;
	r->n_jobs++;
	return j;
}

/*
 * full: read up to POLL_LIMIT due rows (the once-a-second tick); else,
 * after a job ended, only enough for a few new jobs: rows in flight are
 * still due and come back first, and re-reading thousands of them after
 * every job was most of a busy runner's store time.
 */
static void poll_queue(struct ob_runner *r, bool full)
{
	if (r->n_jobs >= r->p.max_sessions)
		return;
	r->n_batch = 0;
	int64_t now = (int64_t)time(NULL);
	size_t limit = r->n_inflight + 4 * (size_t)r->p.max_msgs_per_conn;
	if (full || limit > POLL_LIMIT)
		limit = POLL_LIMIT;
	int rc = store_queue_due(r->p.store, now, limit, collect, r);
	if (rc != STORE_OK) {
		if (!store_result_is_temporary(rc))
			log_error("event=store-error reason=\"%s\"",
				  store_errmsg(r->p.store));
		return;
	}
	/* The sending limit first: an account over it is suspended and its
	 * rows held before any of them starts. */
	ob_limits_check(r->limits, now);
	/* One read snapshot for the bodies scanned while jobs are made. */
	bool snap = r->n_batch > 0 && store_read_begin(r->p.store) == STORE_OK;
	struct ob_job *made[64];
	size_t n_made = 0;
	for (size_t i = 0; i < r->n_batch; i++) {
		const struct store_queue_item *q = &r->batch[i];
		int li = r->batch_lim[i];
		if (ob_limits_suspended(r->limits, li))
			continue;
		const char *at = strrchr(q->recipient, '@');
		const char *dest = r->smarthost ? "" : (at ? at + 1 : "");
		/* One job per destination in DNS terms: büro.example and
		 * xn--bro-hoa.example are the same place. */
		char alabel[ADDR_DOMAIN_MAX + 1];
		if (dest[0] != '\0' && has_8bit(dest) &&
		    ob_idna_domain(dest, alabel, sizeof alabel) == 0)
			dest = alabel;
		struct ob_job *j = NULL;
		for (size_t k = 0; k < n_made; k++)
			if (strcmp(made[k]->dest, dest) == 0 &&
			    (int)made[k]->n_msgs < r->p.max_msgs_per_conn)
				j = made[k];
		if (j != NULL && job_add(r, j, q, li) == 0)
			continue;
		if (r->n_jobs >= r->p.max_sessions || n_made >= 64 ||
		    dest_count(r, dest) >= r->p.max_per_dest)
			continue;
		if ((j = job_new(r, dest)) == NULL)
			break;
		made[n_made++] = j;
		if (job_add(r, j, q, li) < 0)
			break;
	}
	if (snap)
		store_read_end(r->p.store);
	for (size_t k = 0; k < n_made; k++) {
		struct ob_job *j = made[k];
		size_t n_rcpt = 0;
		for (size_t m = 0; m < j->n_msgs; m++)
			n_rcpt += j->msgs[m].n_rcpts;
		log_info("job=%llu event=job-start dest=%s messages=%zu recipients=%zu",
			 (unsigned long long)j->id,
			 j->smarthost ? "smarthost" : j->dest, j->n_msgs, n_rcpt);
		if (j->n_msgs == 0) {
			ob_job_finish(j);
			continue;
		}
		ob_job_start(j);
	}
}

/* The smarthost in force into r->sh. starting: the first read (its log
 * line says where it came from); later: a change is logged once, as
 * event=smarthost-changed, and applies to jobs made from now on (the
 * jobs in flight finish with the one they started with). -1 when the
 * store did not answer at start. */
static int load_smarthost(struct ob_runner *r, bool starting)
{
	if (!starting && r->sh.from_config)
		return 0; /* the config file's: only a restart changes it */
	struct ob_smarthost sh;
	if (ob_smarthost_load(r->p.cfg, r->p.store, &sh) != OB_SH_LOADED) {
		explicit_bzero(&sh, sizeof sh);
		return starting ? -1 : 0; /* busy now: the next run reads again */
	}
	if (!starting && ob_smarthost_same(&sh, &r->sh)) {
		explicit_bzero(&sh, sizeof sh);
		return 0;
	}
	if (sh.bad_settings && (starting || !r->sh.bad_settings))
		log_warn("event=smarthost-settings-ignored reason=\"unreadable "
			 "or too long\"");
	if (starting) {
		if (!sh.from_config && sh.host[0] != '\0')
			log_info("event=smarthost-from-settings smarthost=%s",
				 sh.host);
	} else {
		log_info("event=smarthost-changed smarthost=%s login=%s",
			 sh.host[0] ? sh.host : "-", sh.user[0] ? "yes" : "no");
	}
	explicit_bzero(&r->sh, sizeof r->sh);
	r->sh = sh;
	explicit_bzero(&sh, sizeof sh);
	r->smarthost = r->sh.host[0] != '\0';
	return 0;
}

const char *ob_runner_smarthost(const struct ob_runner *r)
{
	return r->sh.host;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct ob_runner *r = arg;
	(void)fd;
	(void)what;
	load_smarthost(r, false);
	ob_limits_tick(r->limits, (int64_t)time(NULL));
	poll_queue(r, true);
}

struct ob_runner *ob_runner_new(const struct ob_runner_params *p, char *err,
				size_t errlen)
{
	struct ob_runner *r = calloc(1, sizeof *r);
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->p = *p;
	if (r->p.max_sessions < 1)
		r->p.max_sessions = 1;
	if (r->p.max_per_dest < 1)
		r->p.max_per_dest = 1;
	if (r->p.max_msgs_per_conn < 1)
		r->p.max_msgs_per_conn = 1;
	if (load_smarthost(r, true) < 0) {
		snprintf(err, errlen, "cannot read the smarthost settings: %s",
			 store_errmsg(p->store));
		ob_runner_free(&r);
		return NULL;
	}
	r->batch = calloc(POLL_LIMIT, sizeof *r->batch);
	r->batch_lim = calloc(POLL_LIMIT, sizeof *r->batch_lim);
	if (r->batch == NULL || r->batch_lim == NULL) {
		snprintf(err, errlen, "out of memory");
		ob_runner_free(&r);
		return NULL;
	}
	if ((r->limits = ob_limits_new(p->store, p->cfg, err, errlen)) == NULL ||
	    (r->dns = ob_dns_new(p->base, p->cfg->dns_servers, err, errlen)) == NULL ||
	    (r->smarthost &&
	     (r->tls_smart = ob_tls_client_ctx(p->smarthost_ca, err, errlen)) == NULL)) {
		ob_runner_free(&r);
		return NULL;
	}
	r->poll_ev = event_new(p->base, -1, EV_PERSIST, on_poll, r);
	r->flush_ev = evtimer_new(p->base, on_flush, r);
	if (r->poll_ev == NULL || r->flush_ev == NULL) {
		snprintf(err, errlen, "event_new failed");
		ob_runner_free(&r);
		return NULL;
	}
	r->pends_tail = &r->pends;
	char db[CONFIG_PATH_MAX];
	if (config_db_path(p->cfg, db, sizeof db) != 0 ||
	    (r->writer = ob_writer_new(db, p->base, on_committed, r, err,
				       errlen)) == NULL) {
		if (r->writer == NULL && err[0] == '\0')
			snprintf(err, errlen, "data_dir too long");
		ob_runner_free(&r);
		return NULL;
	}
	return r;
}

int ob_runner_start(struct ob_runner *r)
{
	struct timeval tv = {POLL_INTERVAL_MS / 1000, (POLL_INTERVAL_MS % 1000) * 1000};
	if (event_add(r->poll_ev, &tv) < 0)
		return -1;
	ob_limits_tick(r->limits, (int64_t)time(NULL));
	poll_queue(r, true);
	return 0;
}

void ob_runner_free(struct ob_runner **rp)
{
	struct ob_runner *r = *rp;
	if (r == NULL)
		return;
	if (r->poll_ev)
		event_free(r->poll_ev);
	if (r->flush_ev) {
		flush_done(r); /* what was delivered is deleted, even at exit */
		event_free(r->flush_ev);
	}
	ob_writer_free(&r->writer); /* commits what it was given first */
	while (r->pends) {
		struct pend *pd = r->pends;
		r->pends = pd->next;
		free(pd->ids);
		free(pd->lims);
		free(pd);
	}
	/* DNS first: its pending callbacks see ARES_EDESTRUCTION and leave
	 * the jobs alone; then the jobs, whose rows simply stay due. */
	ob_dns_free(&r->dns);
	while (r->jobs) {
		struct ob_job *j = r->jobs;
		r->jobs = j->next;
		job_free(j);
	}
	if (r->tls_mx)
		SSL_CTX_free(r->tls_mx);
	if (r->tls_smart)
		SSL_CTX_free(r->tls_smart);
	free(r->inflight.v);
	for (size_t i = 0; i < DKIM_CACHE_SLOTS; i++) {
		EVP_PKEY_free(r->dkc[i].rsa);
		EVP_PKEY_free(r->dkc[i].ed);
	}
	free(r->done);
	free(r->batch);
	free(r->batch_lim);
	ob_limits_free(&r->limits);
	explicit_bzero(&r->sh, sizeof r->sh);
	free(r);
	*rp = NULL;
}
