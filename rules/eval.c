/*
 * eval.c - run a rule set against a parsed message: the delivery-time
 * decision, the RCPT-time reject check, and the decision as text.
 *
 * This is on the delivery path of every message, so it does no I/O and
 * allocates nothing: header values were unfolded and decoded once by
 * rules_message_parse, comparisons fold ASCII case on the fly, and
 * addresses are cut into slices on the stack. Wildcard text is capped at
 * MATCH_TEXT_MAX so a crafted header cannot make :matches quadratic in
 * 64 KB; substring search costs text length times the (admin-written,
 * at most RULES_VALUE_MAX) needle only in pathological cases. The
 * spf/dkim/dmarc conditions read bits rules_message_auth set before.
 */
#include <regex.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rules.h"

#define MATCH_TEXT_MAX RULES_MATCH_TEXT_MAX
#define ADDRS_PER_HEADER 64

static unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Case-insensitive substring search without a folded copy of the text:
 * scan for the folded first byte, then compare; the needle is at most
 * RULES_VALUE_MAX octets. Linear for realistic needles. */
static bool contains(const char *text, size_t len, const char *needle,
		     size_t nlen)
{
	if (nlen == 0)
		return true;
	if (nlen > len)
		return false;
	unsigned char first = fold((unsigned char)needle[0]);
	for (size_t i = 0; i + nlen <= len; i++) {
		if (fold((unsigned char)text[i]) != first)
			continue;
		if (strncasecmp(text + i + 1, needle + 1, nlen - 1) == 0)
			return true;
	}
	return false;
}

static bool equal(const char *text, size_t len, const char *value, size_t vlen)
{
	return len == vlen && strncasecmp(text, value, len) == 0;
}

/* Length of the UTF-8 character at s (1 for a stray byte). */
static size_t u8len(const unsigned char *s, size_t left)
{
	size_t n = 1;
	if (s[0] >= 0xf0)
		n = 4;
	else if (s[0] >= 0xe0)
		n = 3;
	else if (s[0] >= 0xc0)
		n = 2;
	return n <= left ? n : 1;
}

/*
 * Sieve :matches. Iterative with one backtrack point (the last '*'): the
 * classic linear-space algorithm; time O(len * pattern) worst case, and
 * len is capped by the caller.
 */
bool rules_wildcard_match(const char *pattern, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)pattern;
	const unsigned char *t = (const unsigned char *)text;
	const unsigned char *star_p = NULL;
	size_t star_t = 0, i = 0;
	if (len > MATCH_TEXT_MAX)
		len = MATCH_TEXT_MAX;
	while (i < len) {
		if (*p == '*') {
			star_p = ++p;
			star_t = i;
			continue;
		}
		if (*p == '?') {
			p++;
			i += u8len(t + i, len - i);
			continue;
		}
		const unsigned char *lit = p;
		if (*lit == '\\' && lit[1] != '\0')
			lit++;
		if (*lit != '\0' && fold(*lit) == fold(t[i])) {
			p = lit + 1;
			i++;
			continue;
		}
		if (star_p == NULL)
			return false;
		p = star_p; /* let the last '*' eat one more character */
		star_t += u8len(t + star_t, len - star_t);
		i = star_t;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

/* POSIX regexec on text[0..len) without a copy (REG_STARTEND), capped
 * like :matches. */
static bool regex_test(const void *re, const char *text, size_t len)
{
	if (re == NULL)
		return false;
	if (len > MATCH_TEXT_MAX)
		len = MATCH_TEXT_MAX;
	regmatch_t m[1];
	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)len;
	return regexec(re, text, 1, m, REG_STARTEND) == 0;
}

static bool text_test(enum rules_op op, const void *re, const char *text,
		      size_t len, const char *value, size_t vlen)
{
	switch (op) {
	case RULES_OP_REGEX:
		return regex_test(re, text, len);
	case RULES_OP_CONTAINS:
		return contains(text, len, value, vlen);
	case RULES_OP_IS:
		return equal(text, len, value, vlen);
	case RULES_OP_MATCHES:
		return rules_wildcard_match(value, text, len);
	default:
		return false;
	}
}

/* A header name to look for, with its hash computed once. */
struct hname {
	const char *s;
	size_t len;
	uint32_t hash;
};

static struct hname hname_of(const char *s)
{
	struct hname n = {s, strlen(s), 0};
	n.hash = rules_header_name_hash(s, n.len);
	return n;
}

static bool name_eq(const struct rules_header *h, const struct hname *n)
{
	return h->name_hash == n->hash && h->name.len == n->len &&
	       strncasecmp(h->name.ptr, n->s, n->len) == 0;
}

static bool name_is(const struct rules_header *h, const char *name)
{
	struct hname n = hname_of(name);
	return name_eq(h, &n);
}

/*
 * The addresses of From, and of To plus Cc, cut out once per evaluation
 * (on the stack, only when a rule asks), not once per condition.
 */
struct addr_cache {
	bool have_from, have_to_cc;
	size_t n_from, n_to_cc;
	struct slice from[ADDRS_PER_HEADER];
	struct slice to_cc[2 * ADDRS_PER_HEADER];
};

static size_t collect_addrs(const struct rules_message *m, const char *name,
			    struct slice *out, size_t max)
{
	size_t n = 0;
	struct hname hn = hname_of(name);
	for (size_t i = 0; i < m->n_headers && n < max; i++) {
		const struct rules_header *h = &m->headers[i];
		if (name_eq(h, &hn))
			n += rules_address_list(h->raw, h->raw_len, out + n,
						max - n);
	}
	return n;
}

static bool any_addr(const struct slice *a, size_t n, enum rules_op op,
		     const void *re, const char *value, size_t vlen)
{
	for (size_t j = 0; j < n; j++)
		if (text_test(op, re, a[j].ptr, a[j].len, value, vlen))
			return true;
	return false;
}

static void fill_to_cc(const struct rules_message *m, struct addr_cache *ac)
{
	if (ac->have_to_cc)
		return;
	ac->n_to_cc = collect_addrs(m, "to", ac->to_cc, ADDRS_PER_HEADER);
	ac->n_to_cc += collect_addrs(m, "cc", ac->to_cc + ac->n_to_cc,
				     ADDRS_PER_HEADER);
	ac->have_to_cc = true;
}

static bool header_test(const struct rules_message *m, const char *name,
			enum rules_op op, const void *re, const char *value,
			size_t vlen)
{
	struct hname n = hname_of(name);
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct rules_header *h = &m->headers[i];
		if (name_eq(h, &n) &&
		    text_test(op, re, h->value, h->value_len, value, vlen))
			return true;
	}
	return false;
}

static bool cond_true(const struct rules_condition *c,
		      const struct rules_message *m, struct addr_cache *ac)
{
	bool r = false;
	const char *v = c->value;
	size_t vlen = v ? strlen(v) : 0;
	/* is / matches compare addresses; contains / regex the whole text */
	bool addr_op = c->op == RULES_OP_IS || c->op == RULES_OP_MATCHES;
	switch (c->field) {
	case RULES_FIELD_FROM:
		if (!addr_op) {
			r = header_test(m, "from", c->op, c->re, v, vlen);
			break;
		}
		if (!ac->have_from) {
			ac->n_from = collect_addrs(m, "from", ac->from,
						   ADDRS_PER_HEADER);
			ac->have_from = true;
		}
		r = any_addr(ac->from, ac->n_from, c->op, c->re, v, vlen);
		break;
	case RULES_FIELD_TO_CC:
		if (!addr_op) {
			r = header_test(m, "to", c->op, c->re, v, vlen) ||
			    header_test(m, "cc", c->op, c->re, v, vlen);
			break;
		}
		fill_to_cc(m, ac);
		r = any_addr(ac->to_cc, ac->n_to_cc, c->op, c->re, v, vlen);
		break;
	case RULES_FIELD_SUBJECT:
		r = header_test(m, "subject", c->op, c->re, v, vlen);
		break;
	case RULES_FIELD_HEADER:
		r = header_test(m, c->header, c->op, c->re, v, vlen);
		break;
	case RULES_FIELD_SIZE:
		r = c->op == RULES_OP_OVER ? m->size > c->size : m->size < c->size;
		break;
	case RULES_FIELD_ENVELOPE_FROM: {
		const char *e = m->envelope_from ? m->envelope_from : "";
		r = text_test(c->op, c->re, e, strlen(e), v, vlen);
		break;
	}
	case RULES_FIELD_ENVELOPE_TO: {
		const char *e = m->envelope_to ? m->envelope_to : "";
		r = text_test(c->op, c->re, e, strlen(e), v, vlen);
		break;
	}
	case RULES_FIELD_BODY: {
		/* the caller's decoded prefix (rules_body_decode); is and
		 * matches ignore the final line breaks, which every body has
		 * and nobody types (matches sees the first MATCH_TEXT_MAX) */
		const char *b = m->body ? m->body : "";
		size_t bl = m->body ? m->body_len : 0;
		while (c->op != RULES_OP_CONTAINS && bl > 0 &&
		       (b[bl - 1] == '\n' || b[bl - 1] == '\r'))
			bl--;
		r = text_test(c->op, c->re, b, bl, v, vlen);
		break;
	}
	case RULES_FIELD_SPF:
	case RULES_FIELD_DKIM:
	case RULES_FIELD_DMARC: {
		/* the bits rules_message_auth set: any instance with that
		 * result (several DKIM signatures) makes "is" hold */
		int want = rules_auth_result_parse(c->field, v);
		uint16_t bits = c->field == RULES_FIELD_SPF    ? m->auth.spf
				: c->field == RULES_FIELD_DKIM ? m->auth.dkim
							       : m->auth.dmarc;
		r = want >= 0 && (bits & (1u << want)) != 0;
		break;
	}
	}
	return c->negate ? !r : r;
}

static bool rule_matches(const struct rules_rule *r,
			 const struct rules_message *m, struct addr_cache *ac)
{
	if (r->n_conds == 0)
		return true;
	for (size_t i = 0; i < r->n_conds; i++) {
		bool t = cond_true(&r->conds[i], m, ac);
		if (r->match_any && t)
			return true;
		if (!r->match_any && !t)
			return false;
	}
	return !r->match_any;
}

/* ---- vacation checks that need only the message ---------------------- */

static bool local_part_is(const char *addr, const char *word)
{
	const char *at = strrchr(addr, '@');
	size_t n = at ? (size_t)(at - addr) : strlen(addr);
	return strlen(word) == n && strncasecmp(addr, word, n) == 0;
}

/* RFC 5230 4.6: senders that are lists or daemons by their name. */
static bool robot_sender(const char *addr)
{
	const char *at = strrchr(addr, '@');
	size_t n = at ? (size_t)(at - addr) : strlen(addr);
	if (local_part_is(addr, "mailer-daemon") ||
	    local_part_is(addr, "listserv") ||
	    local_part_is(addr, "majordomo") || local_part_is(addr, "postmaster"))
		return true;
	if (n >= 6 && strncasecmp(addr, "owner-", 6) == 0)
		return true;
	if (n >= 8 && strncasecmp(addr + n - 8, "-request", 8) == 0)
		return true;
	return false;
}

/* First word of a header value: "auto-replied; x" -> "auto-replied". */
static bool first_word_is(const struct rules_header *h, const char *word)
{
	size_t n = 0;
	while (n < h->raw_len && h->raw[n] != ';' && h->raw[n] != ' ' &&
	       h->raw[n] != '\t' && h->raw[n] != '(')
		n++;
	return equal(h->raw, n, word, strlen(word));
}

static bool addressed_to(const struct rules_message *m, struct addr_cache *ac,
			 const char *addr)
{
	if (addr == NULL || addr[0] == '\0')
		return false;
	fill_to_cc(m, ac);
	return any_addr(ac->to_cc, ac->n_to_cc, RULES_OP_IS, NULL, addr,
			strlen(addr));
}

static const char *vacation_suppressed(const struct rules_action *vac,
				       const struct rules_message *m,
				       struct addr_cache *ac);

const char *rules_vacation_suppressed(const struct rules_action *vac,
				      const struct rules_message *m)
{
	struct addr_cache ac;
	ac.have_from = ac.have_to_cc = false;
	return vacation_suppressed(vac, m, &ac);
}

static const char *vacation_suppressed(const struct rules_action *vac,
				       const struct rules_message *m,
				       struct addr_cache *ac)
{
	const struct rules_vacation *v = &vac->vacation;
	if (v->start[0] || v->end[0]) {
		struct tm tm;
		char today[16];
		time_t now = m->now;
		if (gmtime_r(&now, &tm) == NULL ||
		    strftime(today, sizeof today, "%Y-%m-%d", &tm) != 10)
			return "no clock";
		if ((v->start[0] && strcmp(today, v->start) < 0) ||
		    (v->end[0] && strcmp(today, v->end) > 0))
			return "outside dates";
	}
	const char *from = m->envelope_from ? m->envelope_from : "";
	if (from[0] == '\0')
		return "null sender";
	if (robot_sender(from))
		return "sender is a list or daemon";
	if ((m->account && strcasecmp(from, m->account) == 0) ||
	    (m->envelope_to && strcasecmp(from, m->envelope_to) == 0))
		return "sender is the account itself";
	for (size_t i = 0; i < m->n_headers; i++) {
		const struct rules_header *h = &m->headers[i];
		if (name_is(h, "auto-submitted") && !first_word_is(h, "no"))
			return "auto-submitted";
		if (h->name.len > 5 && strncasecmp(h->name.ptr, "list-", 5) == 0)
			return "mailing list";
		if (name_is(h, "precedence") &&
		    (first_word_is(h, "bulk") || first_word_is(h, "list") ||
		     first_word_is(h, "junk")))
			return "bulk mail";
	}
	bool ours = addressed_to(m, ac, m->account) ||
		    addressed_to(m, ac, m->envelope_to);
	for (size_t i = 0; !ours && i < v->n_addrs; i++)
		ours = addressed_to(m, ac, v->addrs[i]);
	if (!ours)
		return "not in To/Cc";
	return NULL;
}

/* ---- the decision --------------------------------------------------------- */

static void add_forward(struct rules_decision *d, const struct rules_message *m,
			const char *addr)
{
	if ((m->account && strcasecmp(addr, m->account) == 0) ||
	    (m->envelope_to && strcasecmp(addr, m->envelope_to) == 0))
		return; /* forwarding to ourselves is a keep at best */
	for (size_t i = 0; i < d->n_forward; i++)
		if (strcasecmp(d->forward[i], addr) == 0)
			return;
	if (d->n_forward >= RULES_FORWARD_MAX) {
		d->forward_cut = true;
		return;
	}
	d->forward[d->n_forward++] = addr;
}

int rules_evaluate(const struct rules_set *set, const struct rules_message *msg,
		   struct rules_decision *out)
{
	memset(out, 0, sizeof *out);
	struct addr_cache ac;
	ac.have_from = ac.have_to_cc = false;
	bool explicit_keep = false, cancel = false, redirected = false;
	for (size_t i = 0; set && i < set->n && !out->stopped; i++) {
		const struct rules_rule *r = set->rules[i];
		if (!r->enabled || !rule_matches(r, msg, &ac))
			continue;
		if (out->n_matched < RULES_MATCHED_MAX)
			out->matched[out->n_matched++] = r;
		for (size_t j = 0; j < r->n_actions && !out->stopped; j++) {
			const struct rules_action *a = &r->actions[j];
			switch (a->type) {
			case RULES_ACTION_KEEP:
				explicit_keep = true;
				break;
			case RULES_ACTION_REDIRECT:
				cancel = redirected = true;
				/* fall through */
			case RULES_ACTION_FORWARD:
				for (size_t k = 0; k < a->n_addrs; k++)
					add_forward(out, msg, a->addrs[k]);
				break;
			case RULES_ACTION_DISCARD:
				cancel = true;
				break;
			case RULES_ACTION_REJECT:
				if (out->reject_text == NULL)
					out->reject_text = a->text;
				break;
			case RULES_ACTION_TAG:
				if (out->subject_tag == NULL)
					out->subject_tag = a->text;
				break;
			case RULES_ACTION_VACATION:
				/* one reply per message, like Sieve */
				if (out->vacation || out->vacation_skipped)
					break;
				out->vacation_skipped =
					vacation_suppressed(a, msg, &ac);
				if (out->vacation_skipped == NULL) {
					out->vacation = a;
					out->vacation_rule = r;
				}
				break;
			case RULES_ACTION_STOP:
				out->stopped = true;
				break;
			case RULES_ACTION_HEADER:
				if (out->n_set_headers < RULES_SET_HEADERS_MAX)
					out->set_headers[out->n_set_headers++] = a;
				break;
			}
		}
	}
	if (out->reject_text) { /* refused: nothing else happens */
		out->keep = false;
		out->n_forward = 0;
		out->subject_tag = NULL;
		out->n_set_headers = 0;
		if (out->vacation) {
			out->vacation = NULL;
			out->vacation_rule = NULL;
			out->vacation_skipped = "message rejected";
		}
		return 0;
	}
	out->keep = explicit_keep || !cancel;
	if (out->n_forward > 0 && msg->account &&
	    rules_delivered_to(msg, msg->account)) {
		out->loop = true;
		out->n_forward = 0;
		if (redirected)
			out->keep = true; /* never lose a looping message */
	}
	return 0;
}

static bool envelope_only(const struct rules_rule *r)
{
	for (size_t i = 0; i < r->n_conds; i++)
		if (r->conds[i].field != RULES_FIELD_ENVELOPE_FROM &&
		    r->conds[i].field != RULES_FIELD_ENVELOPE_TO)
			return false;
	return true;
}

static bool has_action(const struct rules_rule *r, enum rules_action_type t)
{
	for (size_t i = 0; i < r->n_actions; i++)
		if (r->actions[i].type == t)
			return true;
	return false;
}

const char *rules_evaluate_rcpt(const struct rules_set *set,
				const char *envelope_from,
				const char *envelope_to)
{
	for (size_t i = 0; set && i < set->n; i++) {
		const struct rules_rule *r = set->rules[i];
		if (!r->enabled)
			continue;
		if (!envelope_only(r)) {
			/* it may match and stop the run: later rejects are not
			 * certain any more */
			if (has_action(r, RULES_ACTION_STOP))
				return NULL;
			continue;
		}
		struct {
			const char *f, *t;
		} env = {envelope_from ? envelope_from : "", envelope_to};
		bool match = true;
		if (r->n_conds) {
			/* evaluate the envelope conditions without the big
			 * message struct: same code paths as cond_true */
			match = !r->match_any;
			for (size_t k = 0; k < r->n_conds; k++) {
				const struct rules_condition *c = &r->conds[k];
				const char *e = c->field == RULES_FIELD_ENVELOPE_FROM
							? env.f
							: (env.t ? env.t : "");
				bool t = text_test(c->op, c->re, e, strlen(e), c->value,
						   strlen(c->value));
				t = c->negate ? !t : t;
				if (r->match_any && t) {
					match = true;
					break;
				}
				if (!r->match_any && !t) {
					match = false;
					break;
				}
			}
		}
		if (!match)
			continue;
		for (size_t k = 0; k < r->n_actions; k++) {
			if (r->actions[k].type == RULES_ACTION_REJECT)
				return r->actions[k].text;
			if (r->actions[k].type == RULES_ACTION_STOP)
				return NULL;
		}
	}
	return NULL;
}

int rules_decision_format(const struct rules_decision *d, struct buf *out)
{
	int bad = 0;
	bad |= buf_append_str(out, "matched:");
	for (size_t i = 0; i < d->n_matched; i++)
		bad |= buf_printf(out, "%s%s", i ? ", " : " ",
				  d->matched[i]->name[0] ? d->matched[i]->name
							 : "(unnamed)");
	bad |= buf_append_str(out, d->n_matched ? "\n" : " none\n");
	if (d->reject_text) {
		bad |= buf_printf(out, "reject: %s\n", d->reject_text);
		return bad ? -1 : 0;
	}
	bad |= buf_printf(out, "keep: %s\n", d->keep ? "yes" : "no");
	if (d->subject_tag)
		bad |= buf_printf(out, "tag: %s\n", d->subject_tag);
	for (size_t i = 0; i < d->n_set_headers; i++)
		bad |= buf_printf(out, "header: %s: %s\n", d->set_headers[i]->header,
				  d->set_headers[i]->text);
	for (size_t i = 0; i < d->n_forward; i++)
		bad |= buf_printf(out, "forward: %s\n", d->forward[i]);
	if (d->loop)
		bad |= buf_append_str(out, "loop: forwards dropped (Delivered-To)\n");
	if (d->vacation)
		bad |= buf_append_str(out, "vacation: reply\n");
	else if (d->vacation_skipped)
		bad |= buf_printf(out, "vacation: no reply (%s)\n",
				  d->vacation_skipped);
	if (d->stopped)
		bad |= buf_append_str(out, "stop: yes\n");
	return bad ? -1 : 0;
}
