/*
 * limit.c - the per-account sending limit of mailroom-queued (issue 6 item
 * 6): an account whose password was stolen suddenly sends hundreds of
 * messages; past [queue] account_hourly_limit rows in an hour the account
 * is suspended before more of them leave.
 *
 * What counts: every queue row (one per remote recipient) whose sender is
 * a local account's own address and that was queued in the last hour:
 * rows still in the queue are counted there (store_sendlimit_queued), rows
 * that left it (delivered or bounced) in the account's record, which is
 * written in the same transaction as their delete. Nothing lives only in
 * memory, so a restart neither forgets nor doubles the count.
 *
 * Suspending: the account is disabled in the store (smtpd and pop3d then
 * refuse its logins), its queue rows are held (due far in the future, with
 * OB_SENDLIMIT_HELD as their last error, still listed and deletable with
 * mailroomctl queue), an audit entry and an `event=account-suspended` log
 * line are written, and a notice goes into the postmaster's (else the
 * first admin's) mailbox. Enabling the account again (mailroomctl user set
 * ADDR --enable, or the web admin) is seen within a second: the held rows
 * are due again and the count starts afresh.
 *
 * Mail sent from an alias address (or through the domain's catch-all) is
 * counted against the account(s) that address delivers to: the same
 * expansion smtpd uses to let a logged-in user send as it (RFC 6409 6.1).
 * The queue row knows the address, not who logged in, so an alias shared
 * by several accounts counts toward each of them (at most
 * ALIAS_OWNERS_MAX); a flood through it suspends them all rather than
 * none. Such an address is an entry of its own (alias = true) that only
 * points at its owners; suspending an owner holds the alias's rows too,
 * and enabling it releases them unless another owner is still suspended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../store/sendlimit.h"
#include "outbound_int.h"

#define ACTOR "mailroom-queued"
#define NEG_SLOTS 256   /* senders known not to be local accounts */
#define NEG_TTL 60      /* ... for this long (an account may be added) */
#define NOTICE_MAX 8192
#define ALIAS_OWNERS_MAX 8 /* accounts one alias sender counts toward */
#define ALIAS_TTL 60       /* seconds before an alias's owners are re-read */
#define HELD_SENDERS_MAX 256 /* distinct held senders looked at per release */

struct lim_ent {
	char sender[ADDR_MAX + 1];
	int64_t account_id;
	struct ob_sendlimit_rec rec;
	bool check, hold;    /* flagged by ob_limits_seen */
	int64_t pending;     /* counted in rec, delete not yet committed */
	bool touched, dirty; /* on the touched / dirty list */
	char text[STORE_SENDLIMIT_RECORD_MAX];
	/* An alias sender: no record of its own, counts go to owners[]. */
	bool alias;
	int owners[ALIAS_OWNERS_MAX];
	size_t n_owners;
	int64_t resolved_at;
};

struct neg_slot {
	char sender[ADDR_MAX + 1];
	int64_t at;
};

struct ob_limits {
	struct store *st;
	const struct config *cfg;
	int limit;
	struct lim_ent *e;
	size_t n, cap;
	int *index; /* open addressing over e[]; -1 empty */
	size_t index_cap;
	int *touched, *dirty;
	size_t n_touched, n_dirty;
	struct store_sendlimit_note *notes;
	struct neg_slot neg[NEG_SLOTS];
	int last_idx; /* the last hit (rows come in runs of one sender) */
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int find(const struct ob_limits *l, const char *sender)
{
	if (l->index_cap == 0)
		return -1;
	size_t mask = l->index_cap - 1;
	for (size_t i = hash_str(sender) & mask;; i = (i + 1) & mask) {
		int k = l->index[i];
		if (k < 0)
			return -1;
		if (strcmp(l->e[k].sender, sender) == 0)
			return k;
	}
}

static int reindex(struct ob_limits *l, size_t cap)
{
	int *ix = malloc(cap * sizeof *ix);
	if (ix == NULL)
		return -1;
	for (size_t i = 0; i < cap; i++)
		ix[i] = -1;
	for (size_t k = 0; k < l->n; k++) {
		size_t i = hash_str(l->e[k].sender) & (cap - 1);
		while (ix[i] >= 0)
			i = (i + 1) & (cap - 1);
		ix[i] = (int)k;
	}
	free(l->index);
	l->index = ix;
	l->index_cap = cap;
	return 0;
}

/* A new tracked account; -1 when out of memory. */
static int add_ent(struct ob_limits *l, const char *sender, int64_t account_id,
		   const char *record)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct lim_ent *ne = realloc(l->e, nc * sizeof *ne);
		int *nt = realloc(l->touched, nc * sizeof *nt);
		if (nt)
			l->touched = nt;
		int *nd = nt ? realloc(l->dirty, nc * sizeof *nd) : NULL;
		if (nd)
			l->dirty = nd;
		struct store_sendlimit_note *nn =
			nd ? realloc(l->notes, nc * sizeof *nn) : NULL;
		if (nn)
			l->notes = nn;
		if (ne)
			l->e = ne;
		if (!ne || !nt || !nd || !nn)
			return -1;
		l->cap = nc;
	}
	if ((l->n + 1) * 2 > l->index_cap &&
	    reindex(l, l->index_cap ? l->index_cap * 2 : 64) < 0)
		return -1;
	struct lim_ent *x = &l->e[l->n];
	memset(x, 0, sizeof *x);
	snprintf(x->sender, sizeof x->sender, "%s", sender);
	x->account_id = account_id;
	if (record == NULL || ob_sendlimit_parse(record, &x->rec) < 0)
		ob_sendlimit_init(&x->rec);
	size_t i = hash_str(sender) & (l->index_cap - 1);
	while (l->index[i] >= 0)
		i = (i + 1) & (l->index_cap - 1);
	l->index[i] = (int)l->n;
	return (int)l->n++;
}

static int load_one(void *ctx, const char *sender, const char *value)
{
	struct ob_limits *l = ctx;
	struct store_account a;
	if (store_account_get(l->st, sender, &a) != STORE_OK)
		return 0; /* the account is gone; its record is harmless */
	if (find(l, sender) < 0 && add_ent(l, sender, a.id, value) < 0)
		return -1;
	return 0;
}

struct ob_limits *ob_limits_new(struct store *st, const struct config *cfg,
				char *err, size_t errlen)
{
	struct ob_limits *l = calloc(1, sizeof *l);
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->st = st;
	l->cfg = cfg;
	l->limit = cfg->queue_account_hourly_limit;
	l->last_idx = -1;
	/* Accounts suspended before a restart stay suspended (their rows
	 * stay held) even with the limit off now: only the admin lifts it. */
	int rc = store_sendlimit_record_list(st, load_one, l);
	if (rc != STORE_OK) {
		snprintf(err, errlen, "sending-limit records: %s",
			 rc == -1 ? "out of memory" : store_errmsg(st));
		ob_limits_free(&l);
		return NULL;
	}
	return l;
}

void ob_limits_free(struct ob_limits **lp)
{
	struct ob_limits *l = *lp;
	if (l == NULL)
		return;
	free(l->e);
	free(l->index);
	free(l->touched);
	free(l->dirty);
	free(l->notes);
	free(l);
	*lp = NULL;
}

/* The entry of account address (tracked from now on), or -1. */
static int account_ent(struct ob_limits *l, const char *address, int64_t id)
{
	int k = find(l, address);
	if (k >= 0)
		return k;
	char rec[STORE_SENDLIMIT_RECORD_MAX];
	int rc = store_sendlimit_record_get(l->st, address, rec, sizeof rec);
	k = add_ent(l, address, id, rc == STORE_OK ? rec : NULL);
	if (k < 0)
		log_error("event=sendlimit-untracked account=%s reason=\"out of memory\"",
			  address);
	return k;
}

/* The accounts sender delivers to (store_expand_owners: aliases,
 * recursively, and the catch-all; disabled accounts too, so an alias first
 * seen after its owner was suspended is still the owner's and held), as
 * entries, into owners. The number found (0 when
 * none or on a store error). Entries may be added: pointers into l->e
 * are stale afterwards. */
static size_t alias_owners(struct ob_limits *l, const char *sender,
			   int owners[ALIAS_OWNERS_MAX])
{
	struct store_expansion e;
	memset(&e, 0, sizeof e);
	if (store_expand_owners(l->st, sender, &e) != STORE_OK)
		return 0;
	size_t n = 0;
	for (size_t i = 0; i < e.n_local && n < ALIAS_OWNERS_MAX; i++) {
		struct store_account a;
		if (store_account_get_by_id(l->st, e.local_ids[i], &a) != STORE_OK)
			continue;
		int k = account_ent(l, a.address, a.id);
		if (k >= 0)
			owners[n++] = k;
	}
	store_expansion_free(&e);
	return n;
}

/* Read an alias entry's owners again (an admin may have changed the
 * alias). An empty answer (the alias was removed, or a store error) keeps
 * the old owners: rows already queued under it stay theirs. */
static void alias_refresh(struct ob_limits *l, int k, int64_t now)
{
	int owners[ALIAS_OWNERS_MAX];
	char sender[ADDR_MAX + 1];
	memcpy(sender, l->e[k].sender, sizeof sender);
	size_t n = alias_owners(l, sender, owners);
	struct lim_ent *x = &l->e[k];
	x->resolved_at = now;
	if (n > 0) {
		memcpy(x->owners, owners, n * sizeof owners[0]);
		x->n_owners = n;
	}
}

/* A new alias entry for sender when it delivers to local accounts; -1
 * when it does not (or out of memory). */
static int alias_ent(struct ob_limits *l, const char *sender, int64_t now)
{
	int owners[ALIAS_OWNERS_MAX];
	size_t n = alias_owners(l, sender, owners);
	if (n == 0)
		return -1;
	int k = add_ent(l, sender, 0, NULL);
	if (k < 0)
		return -1;
	struct lim_ent *x = &l->e[k];
	x->alias = true;
	memcpy(x->owners, owners, n * sizeof owners[0]);
	x->n_owners = n;
	x->resolved_at = now;
	log_debug("event=sendlimit-alias sender=%s owners=%zu first=%s", sender,
		  n, l->e[owners[0]].sender);
	return k;
}

int ob_limits_sender(struct ob_limits *l, const char *sender)
{
	if (sender[0] == '\0')
		return -1;
	int k = l->last_idx >= 0 && strcmp(l->e[l->last_idx].sender, sender) == 0
			? l->last_idx
			: find(l, sender);
	if (k >= 0) {
		if (l->e[k].alias) {
			int64_t now = (int64_t)time(NULL);
			if (now - l->e[k].resolved_at >= ALIAS_TTL)
				alias_refresh(l, k, now);
		}
		return l->last_idx = k;
	}
	if (l->limit <= 0)
		return -1;
	int64_t now = (int64_t)time(NULL);
	struct neg_slot *ns = &l->neg[hash_str(sender) % NEG_SLOTS];
	if (now - ns->at < NEG_TTL && strcmp(ns->sender, sender) == 0)
		return -1;
	struct store_account a;
	int rc = store_account_get(l->st, sender, &a);
	if (rc == STORE_OK)
		return l->last_idx = account_ent(l, sender, a.id);
	if (rc == STORE_NOTFOUND && (k = alias_ent(l, sender, now)) >= 0)
		return l->last_idx = k;
	if (rc == STORE_NOTFOUND || rc == STORE_INVALID) {
		snprintf(ns->sender, sizeof ns->sender, "%s", sender);
		ns->at = now;
	}
	return -1;
}

/* True when alias entry x points at owner entry k. */
static bool owned_by(const struct lim_ent *x, int k)
{
	for (size_t i = 0; i < x->n_owners; i++)
		if (x->owners[i] == k)
			return true;
	return false;
}

bool ob_limits_suspended(const struct ob_limits *l, int idx)
{
	if (idx < 0 || (size_t)idx >= l->n)
		return false;
	const struct lim_ent *x = &l->e[idx];
	for (size_t i = 0; x->alias && i < x->n_owners; i++)
		if (l->e[x->owners[i]].rec.suspended_at != 0)
			return true;
	return x->rec.suspended_at != 0;
}

void ob_limits_seen(struct ob_limits *l, int idx, bool new_row)
{
	if (idx < 0 || (size_t)idx >= l->n)
		return;
	struct lim_ent *x = &l->e[idx];
	if (x->alias) {
		for (size_t i = 0; i < x->n_owners; i++)
			ob_limits_seen(l, x->owners[i], new_row);
		return;
	}
	if (x->rec.suspended_at != 0)
		x->hold = true;
	else if (new_row)
		x->check = true;
	else
		return;
	if (!x->touched) {
		x->touched = true;
		l->touched[l->n_touched++] = idx;
	}
}

/* Write one record now (outside any batch). */
static void write_rec(struct ob_limits *l, struct lim_ent *x, int64_t now)
{
	if (ob_sendlimit_format(&x->rec, now, x->text, sizeof x->text) < 0 ||
	    store_sendlimit_record_set(l->st, x->sender, x->text) != STORE_OK)
		log_error("event=store-error op=sendlimit-record account=%s reason=\"%s\"",
			  x->sender, store_errmsg(l->st));
}

/* ---- the admin's notice --------------------------------------------------- */

/* Who hears of a suspension: postmaster@ the domain of our hostname
 * (mail.x.y -> x.y, as smtpd's <postmaster>) or of the account, when it
 * reaches local mailboxes; else the first admin account. */
struct first_admin {
	int64_t id;
	const char *skip;
};

static int pick_admin(void *ctx, const struct store_account *a)
{
	struct first_admin *f = ctx;
	if (a->role == STORE_ROLE_ADMIN && a->enabled &&
	    strcmp(a->address, f->skip) != 0 && (f->id == 0 || a->id < f->id))
		f->id = a->id;
	return 0;
}

static int admin_targets(struct ob_limits *l, const char *account,
			 struct store_expansion *e, int64_t *one)
{
	const char *h = l->cfg->hostname;
	const char *dot = strchr(h, '.');
	const char *hd = dot && strchr(dot + 1, '.') ? dot + 1 : h;
	const char *at = strrchr(account, '@');
	const char *domains[2] = {hd, at ? at + 1 : hd};
	for (size_t i = 0; i < 2; i++) {
		char pm[ADDR_MAX + 1];
		if ((size_t)snprintf(pm, sizeof pm, "postmaster@%s", domains[i]) >=
		    sizeof pm)
			continue;
		memset(e, 0, sizeof *e);
		if (store_expand(l->st, pm, 0, e) != STORE_OK)
			continue;
		if (e->n_local > 0)
			return 1;
		store_expansion_free(e);
	}
	memset(e, 0, sizeof *e);
	struct first_admin f = {0, account};
	if (store_account_list(l->st, NULL, pick_admin, &f) != STORE_OK || f.id == 0)
		return 0;
	*one = f.id;
	return 2;
}

static void notify_admin(struct ob_limits *l, const struct lim_ent *x,
			 int64_t sent, int64_t held, int64_t now)
{
	struct buf t;
	if (buf_init(&t, NOTICE_MAX) < 0)
		return;
	char date[64];
	struct tm tm;
	time_t tt = (time_t)now;
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000",
		 gmtime_r(&tt, &tm));
	int rc = buf_printf(
		&t,
		"From: Mailroom <MAILER-DAEMON@%s>\r\n"
		"To: postmaster\r\n"
		"Subject: Account %s suspended: %lld messages in an hour (limit %d)\r\n"
		"Date: %s\r\n"
		"Message-ID: <sendlimit.%lld.%lld@%s>\r\n"
		"Auto-Submitted: auto-generated\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"The account %s queued %lld messages for remote recipients within\r\n"
		"the last hour; the limit is %d ([queue] account_hourly_limit).\r\n"
		"A sudden burst like this usually means someone else knows the\r\n"
		"account's password and sends spam with it.\r\n"
		"\r\n"
		"Mailroom has disabled the account (it can no longer log in) and\r\n"
		"holds its %lld queued messages: none of them leaves until you decide.\r\n"
		"\r\n"
		"What to do:\r\n"
		"1. Ask the owner; set a new password:\r\n"
		"     mailroomctl user passwd %s\r\n"
		"2. To throw the held messages away: mailroomctl queue list, then\r\n"
		"     mailroomctl queue del ID   (for each one)\r\n"
		"3. Enable the account again; the messages still held are sent then:\r\n"
		"     mailroomctl user set %s --enable\r\n"
		"   (or tick Enabled on the account's page in the web admin).\r\n",
		l->cfg->hostname, x->sender, (long long)sent, l->limit, date,
		(long long)x->account_id, (long long)now, l->cfg->hostname,
		x->sender, (long long)sent, l->limit, (long long)held, x->sender,
		x->sender);
	struct store_expansion e;
	int64_t one = 0;
	int how = rc < 0 ? 0 : admin_targets(l, x->sender, &e, &one);
	int fd = how ? memfd_create("mailroom-notice", MFD_CLOEXEC) : -1;
	bool ok = false;
	if (fd >= 0 && write(fd, t.data, t.len) == (ssize_t)t.len) {
		struct store_message m;
		memset(&m, 0, sizeof m);
		m.fd = fd;
		m.size = (int64_t)t.len;
		m.sender = "";
		m.local_ids = how == 1 ? e.local_ids : &one;
		m.n_local = how == 1 ? e.n_local : 1;
		ok = store_deliver(l->st, &m, 1) == STORE_OK;
	}
	if (how == 1)
		store_expansion_free(&e);
	if (fd >= 0)
		close(fd);
	if (ok)
		log_info("event=account-suspended-notice account=%s", x->sender);
	else
		log_error("event=account-suspended-notice-failed account=%s reason=\"%s\"",
			  x->sender, how ? store_errmsg(l->st) : "no postmaster or admin account");
	buf_free(&t);
}

/* ---- suspend and release --------------------------------------------------- */

static int64_t hold_rows(struct ob_limits *l, struct lim_ent *x, int64_t now)
{
	char why[OB_REPLY_TEXT_MAX];
	snprintf(why, sizeof why,
		 "%s (sending limit); mailroomctl user set %s --enable releases it",
		 OB_SENDLIMIT_HELD, x->sender);
	int64_t n = 0;
	/* Due again after a lifetime only to be held again: a held row waits
	 * for the admin, never for the clock. */
	int64_t until = now + (l->cfg->queue_lifetime > 0 ? l->cfg->queue_lifetime
							  : OB_LIFETIME_DEFAULT);
	if (store_sendlimit_hold(l->st, x->sender, until, why, &n) != STORE_OK)
		log_error("event=store-error op=hold account=%s reason=\"%s\"",
			  x->sender, store_errmsg(l->st));
	/* and the rows it sent as one of its aliases */
	int k = (int)(x - l->e);
	for (size_t a = 0; a < l->n; a++) {
		const struct lim_ent *y = &l->e[a];
		int64_t m = 0;
		if (!y->alias || !owned_by(y, k))
			continue;
		if (store_sendlimit_hold(l->st, y->sender, until, why, &m) != STORE_OK)
			log_error("event=store-error op=hold account=%s alias=%s "
				  "reason=\"%s\"",
				  x->sender, y->sender, store_errmsg(l->st));
		n += m;
	}
	return n;
}

/* Rows x has in the queue created at or after since: as itself and as
 * each of its aliases. */
static int64_t queued_rows(struct ob_limits *l, const struct lim_ent *x,
			   int64_t since)
{
	int k = (int)(x - l->e);
	int64_t sum = 0;
	for (size_t a = 0; a < l->n; a++) {
		const struct lim_ent *y = &l->e[a];
		if ((int)a != k && (!y->alias || !owned_by(y, k)))
			continue;
		int64_t q = 0;
		if (store_sendlimit_queued(l->st, y->sender, since, &q) != STORE_OK)
			log_error("event=store-error op=sendlimit-count reason=\"%s\"",
				  store_errmsg(l->st));
		sum += q;
	}
	return sum;
}

static void suspend(struct ob_limits *l, struct lim_ent *x, int64_t sent,
		    int64_t now)
{
	x->rec.suspended_at = now;
	write_rec(l, x, now);
	struct store_account_change ch = {NULL, -1, 0, -1};
	if (store_account_update(l->st, x->sender, &ch) != STORE_OK)
		log_error("event=store-error op=disable account=%s reason=\"%s\"",
			  x->sender, store_errmsg(l->st));
	int64_t held = hold_rows(l, x, now);
	char detail[512];
	snprintf(detail, sizeof detail, "account=%s sent=%lld limit=%d held=%lld",
		 x->sender, (long long)sent, l->limit, (long long)held);
	if (store_audit_add(l->st, ACTOR, "account-suspended", detail) != STORE_OK)
		log_error("event=store-error op=audit reason=\"%s\"",
			  store_errmsg(l->st));
	log_warn("event=account-suspended account=%s sent=%lld limit=%d held=%lld",
		 x->sender, (long long)sent, l->limit, (long long)held);
	notify_admin(l, x, sent, held, now);
}

void ob_limits_check(struct ob_limits *l, int64_t now)
{
	for (size_t t = 0; t < l->n_touched; t++) {
		struct lim_ent *x = &l->e[l->touched[t]];
		x->touched = false;
		if (x->check && x->rec.suspended_at == 0 && l->limit > 0) {
			int64_t since = now - OB_SENDLIMIT_WINDOW;
			if (x->rec.reset_at > since)
				since = x->rec.reset_at;
			int64_t queued = queued_rows(l, x, since);
			/* Rows whose delete the writer has not committed are
			 * both still queued and in the record: once. */
			int64_t sent = queued + ob_sendlimit_sum(&x->rec, now) -
				       x->pending;
			if (sent > l->limit) {
				suspend(l, x, sent, now);
				x->hold = false; /* suspend held every row */
			}
		}
		if (x->hold && x->rec.suspended_at != 0)
			(void)hold_rows(l, x, now);
		x->check = x->hold = false;
	}
	l->n_touched = 0;
}

bool ob_limits_left(struct ob_limits *l, int idx, int64_t created, int64_t now,
		    bool pending)
{
	if (idx < 0 || (size_t)idx >= l->n)
		return false;
	struct lim_ent *x = &l->e[idx];
	if (x->alias) {
		bool counted = false;
		for (size_t i = 0; i < x->n_owners; i++)
			counted |= ob_limits_left(l, x->owners[i], created, now,
						  pending);
		return counted;
	}
	if (created < x->rec.reset_at)
		return false; /* released by the admin: not counted again */
	ob_sendlimit_add(&x->rec, now, 1);
	if (pending)
		x->pending++;
	if (!x->dirty) {
		x->dirty = true;
		l->dirty[l->n_dirty++] = idx;
	}
	return true;
}

void ob_limits_settled(struct ob_limits *l, int idx)
{
	if (idx < 0 || (size_t)idx >= l->n)
		return;
	const struct lim_ent *x = &l->e[idx];
	for (size_t i = 0; x->alias && i < x->n_owners; i++)
		ob_limits_settled(l, x->owners[i]);
	if (l->e[idx].pending > 0)
		l->e[idx].pending--;
}

void ob_limits_resync(struct ob_limits *l)
{
	for (size_t k = 0; k < l->n; k++) {
		struct lim_ent *x = &l->e[k];
		if (x->alias)
			continue; /* no record of its own */
		char rec[STORE_SENDLIMIT_RECORD_MAX];
		int64_t suspended = x->rec.suspended_at, reset = x->rec.reset_at;
		if (store_sendlimit_record_get(l->st, x->sender, rec, sizeof rec) !=
			    STORE_OK ||
		    ob_sendlimit_parse(rec, &x->rec) < 0)
			ob_sendlimit_init(&x->rec);
		x->rec.suspended_at = suspended;
		x->rec.reset_at = reset;
	}
}

size_t ob_limits_notes(struct ob_limits *l, int64_t now,
		       const struct store_sendlimit_note **notes_r)
{
	size_t n = 0;
	for (size_t d = 0; d < l->n_dirty; d++) {
		struct lim_ent *x = &l->e[l->dirty[d]];
		if (ob_sendlimit_format(&x->rec, now, x->text, sizeof x->text) < 0)
			continue;
		l->notes[n].sender = x->sender;
		l->notes[n].value = x->text;
		n++;
	}
	*notes_r = l->notes;
	return n;
}

void ob_limits_notes_done(struct ob_limits *l, bool written)
{
	for (size_t d = 0; d < l->n_dirty; d++) {
		struct lim_ent *x = &l->e[l->dirty[d]];
		x->dirty = false;
		if (written)
			continue;
		/* The rows are still queued and counted there: the record
		 * must not count them too. */
		char rec[STORE_SENDLIMIT_RECORD_MAX];
		int64_t suspended = x->rec.suspended_at, reset = x->rec.reset_at;
		if (store_sendlimit_record_get(l->st, x->sender, rec, sizeof rec) !=
			    STORE_OK ||
		    ob_sendlimit_parse(rec, &x->rec) < 0)
			ob_sendlimit_init(&x->rec);
		x->rec.suspended_at = suspended;
		x->rec.reset_at = reset;
	}
	l->n_dirty = 0;
}

/* Distinct senders of held rows, for release_aliases. */
struct held_senders {
	char (*v)[ADDR_MAX + 1];
	size_t n;
};

static int collect_held(void *ctx, const struct store_queue_item *q)
{
	struct held_senders *h = ctx;
	if (strncmp(q->last_error, OB_SENDLIMIT_HELD, strlen(OB_SENDLIMIT_HELD)) != 0)
		return 0;
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i], q->sender) == 0)
			return 0;
	if (h->n == HELD_SENDERS_MAX)
		return 0;
	memcpy(h->v[h->n++], q->sender, sizeof h->v[0]);
	return 0;
}

/*
 * Owner k was enabled again: release the held rows of its aliases whose
 * other owners are not suspended. The held rows are found in the queue
 * (not only through the alias entries in memory: after a restart a held
 * row never comes due, so its alias may be unknown here). The senders are
 * collected first and updated after the list's SELECT has ended (an
 * update inside it can meet SQLITE_BUSY). The number of rows released.
 */
static int64_t release_aliases(struct ob_limits *l, int k, int64_t now)
{
	struct held_senders h = {calloc(HELD_SENDERS_MAX, sizeof *h.v), 0};
	if (h.v == NULL)
		return 0;
	int64_t total = 0;
	if (store_queue_list(l->st, collect_held, &h) != STORE_OK)
		log_error("event=store-error op=release-list reason=\"%s\"",
			  store_errmsg(l->st));
	for (size_t i = 0; i < h.n; i++) {
		int a = find(l, h.v[i]);
		if (a < 0)
			a = alias_ent(l, h.v[i], now);
		else if (l->e[a].alias)
			alias_refresh(l, a, now); /* k is enabled: it is there */
		if (a < 0 || !l->e[a].alias || !owned_by(&l->e[a], k) ||
		    ob_limits_suspended(l, a))
			continue;
		int64_t n = 0;
		if (store_sendlimit_release(l->st, h.v[i], OB_SENDLIMIT_HELD, now,
					    &n) != STORE_OK)
			log_error("event=store-error op=release alias=%s reason=\"%s\"",
				  h.v[i], store_errmsg(l->st));
		total += n;
	}
	free(h.v);
	return total;
}

static void release(struct ob_limits *l, int k, int64_t now)
{
	int64_t n = 0;
	if (store_sendlimit_release(l->st, l->e[k].sender, OB_SENDLIMIT_HELD, now,
				    &n) != STORE_OK) {
		log_error("event=store-error op=release account=%s reason=\"%s\"",
			  l->e[k].sender, store_errmsg(l->st));
		return; /* tried again at the next tick */
	}
	ob_sendlimit_reset(&l->e[k].rec, now);
	write_rec(l, &l->e[k], now);
	n += release_aliases(l, k, now); /* may move l->e */
	const struct lim_ent *x = &l->e[k];
	char detail[512];
	snprintf(detail, sizeof detail, "account=%s released=%lld", x->sender,
		 (long long)n);
	(void)store_audit_add(l->st, ACTOR, "account-released", detail);
	log_info("event=account-released account=%s released=%lld", x->sender,
		 (long long)n);
}

void ob_limits_tick(struct ob_limits *l, int64_t now)
{
	for (size_t k = 0; k < l->n; k++) {
		const struct lim_ent *x = &l->e[k];
		if (x->alias || x->rec.suspended_at == 0)
			continue;
		struct store_account a;
		if (store_account_get_by_id(l->st, x->account_id, &a) == STORE_OK &&
		    a.enabled)
			release(l, (int)k, now);
	}
}
