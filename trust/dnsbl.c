/*
 * dnsbl.c - DNS blocklists (RFC 5782): the client's reversed address under
 * each zone, all zones asked at once. An A answer in 127.0.0.0/8 means
 * listed, except 127.255.255.0/24, which big lists (Spamhaus) answer to
 * resolvers they refuse: that is an error, never a listing. The first
 * listing zone in the admin's order is reported.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trust_int.h"

int trust_dnsbl_name(const char *ip, const char *zone, char *out, size_t outlen)
{
	struct in6_addr a;
	int fam;
	if (tdns_parse_ip(ip, &a, &fam) < 0 || zone == NULL || zone[0] == '\0')
		return -1;
	const unsigned char *b = a.s6_addr;
	int n;
	if (fam == AF_INET) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[15], b[14], b[13],
			     b[12], zone);
	} else {
		static const char hex[] = "0123456789abcdef";
		char nib[65];
		size_t k = 0;
		for (int i = 15; i >= 0; i--) {
			nib[k++] = hex[b[i] & 15];
			nib[k++] = '.';
			nib[k++] = hex[b[i] >> 4];
			nib[k++] = '.';
		}
		nib[k] = '\0';
		n = snprintf(out, outlen, "%s%s", nib, zone);
	}
	return n < 0 || (size_t)n >= outlen || !tdns_name_ok(out) ? -1 : 0;
}

struct zone_q {
	struct trust_dnsbl *owner;
	char zone[TRUST_DOMAIN_MAX + 1];
	bool listed, answered;
	char answer[48];
};

struct trust_dnsbl {
	trust_dnsbl_cb cb;
	void *arg;
	bool cancelled, starting;
	int pending;
	struct zone_q z[TRUST_DNSBL_ZONES_MAX];
	size_t n;
	struct trust_dnsbl_outcome out;
};

static void maybe_done(struct trust_dnsbl *b)
{
	if (b->pending > 0 || b->starting)
		return;
	if (!b->cancelled) {
		for (size_t i = 0; i < b->n; i++)
			if (b->z[i].listed) {
				b->out.listed = true;
				str_copy_cut(b->out.zone, sizeof b->out.zone, b->z[i].zone);
				str_copy_cut(b->out.answer, sizeof b->out.answer, b->z[i].answer);
				break;
			}
		b->cb(b->arg, &b->out);
	}
	free(b);
}

static void on_answer(void *arg, const struct tdns_answer *a)
{
	struct zone_q *z = arg;
	struct trust_dnsbl *b = z->owner;
	b->pending--;
	if (a->status == TDNS_TEMP)
		b->out.errors++;
	for (size_t i = 0; i < a->n; i++) {
		const unsigned char *x = &a->addr[i].s6_addr[12];
		if (a->family[i] != AF_INET || x[0] != 127)
			continue;
		if (x[1] == 255 && x[2] == 255) {
			b->out.errors++;
			continue;
		}
		z->listed = true;
		inet_ntop(AF_INET, x, z->answer, sizeof z->answer);
		break;
	}
	maybe_done(b);
}

struct trust_dnsbl *trust_dnsbl_check(struct trust_ctx *ctx,
				      const char *client_ip, const char *zones,
				      trust_dnsbl_cb cb, void *arg)
{
	struct trust_dnsbl *b = calloc(1, sizeof *b);
	if (b == NULL) {
		struct trust_dnsbl_outcome o;
		memset(&o, 0, sizeof o);
		o.errors = 1;
		cb(arg, &o);
		return NULL;
	}
	b->cb = cb;
	b->arg = arg;
	b->starting = true;
	for (const char *p = zones ? zones : ""; *p && b->n < TRUST_DNSBL_ZONES_MAX;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ", \t");
		if (len > 0 && len <= TRUST_DOMAIN_MAX) {
			memcpy(b->z[b->n].zone, p, len);
			b->z[b->n].zone[len] = '\0';
			b->z[b->n].owner = b;
			b->n++;
		}
		p += len;
	}
	for (size_t i = 0; i < b->n; i++) {
		char name[TRUST_DOMAIN_MAX + 80];
		if (trust_dnsbl_name(client_ip, b->z[i].zone, name, sizeof name) < 0)
			continue;
		b->pending++;
		tdns_query(ctx, name, TDNS_A, on_answer, &b->z[i]);
	}
	b->starting = false;
	if (b->pending == 0) {
		maybe_done(b);
		return NULL;
	}
	return b;
}

void trust_dnsbl_cancel(struct trust_dnsbl **bp)
{
	struct trust_dnsbl *b = *bp;
	*bp = NULL;
	if (b)
		b->cancelled = true; /* freed when the last answer arrives */
}
