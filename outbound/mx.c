/*
 * mx.c - turn a raw DNS answer to an MX query into the ordered list of
 * hosts to try (RFC 5321 5.1, RFC 7505).
 *
 * SECURITY: the answer comes from the network. It is parsed only by
 * c-ares (ares_parse_mx_reply, which checks every name and length); we
 * then keep at most OB_MX_MAX hosts whose names are valid host names, so
 * a hostile answer can neither overflow our list nor make us connect to
 * something that is not a host name. The fuzz target feeds this function.
 */
#include <ares.h>
#include <stdlib.h>
#include <string.h>

#include "../common/addr.h"
#include "outbound.h"

static uint32_t mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x45d9f3bU;
	x ^= x >> 16;
	x *= 0x45d9f3bU;
	x ^= x >> 16;
	return x;
}

/*
 * Insertion sort by preference; among equal preferences the order is
 * decided by a hash of (seed, name) so load spreads across equal hosts
 * while one seed always gives one order (tests, and a session retrying).
 */
void ob_mx_sort(struct ob_mx_host *hosts, size_t n, uint32_t seed)
{
	uint32_t keys[OB_MX_MAX];
	if (n > OB_MX_MAX)
		n = OB_MX_MAX;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = seed;
		for (const char *c = hosts[i].name; *c; c++)
			h = mix(h ^ (unsigned char)*c);
		keys[i] = h;
	}
	for (size_t i = 1; i < n; i++) {
		struct ob_mx_host h = hosts[i];
		uint32_t k = keys[i];
		size_t j = i;
		while (j > 0 &&
		       (hosts[j - 1].preference > h.preference ||
			(hosts[j - 1].preference == h.preference &&
			 keys[j - 1] > k))) {
			hosts[j] = hosts[j - 1];
			keys[j] = keys[j - 1];
			j--;
		}
		hosts[j] = h;
		keys[j] = k;
	}
}

static bool host_name_ok(const char *name, size_t len)
{
	/* addr_domain_valid wants two labels; single-label MX names exist
	 * only on private networks but are legal, so check labels here. */
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

enum ob_mx_status ob_mx_parse(const unsigned char *answer, int len,
			      uint32_t seed, struct ob_mx_list *out)
{
	struct ares_mx_reply *mx = NULL;
	memset(out, 0, sizeof *out);
	int rc = ares_parse_mx_reply(answer, len, &mx);
	if (rc == ARES_ENODATA)
		return OB_MX_NONE;
	if (rc != ARES_SUCCESS)
		return OB_MX_BAD;
	size_t seen = 0;
	bool null_mx = false;
	for (struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
		seen++;
		const char *h = m->host ? m->host : "";
		size_t hl = strlen(h);
		while (hl > 0 && h[hl - 1] == '.')
			hl--; /* absolute name */
		if (hl == 0) {
			null_mx = true; /* "." */
			continue;
		}
		if (!host_name_ok(h, hl) || hl > HOSTNAME_MAX)
			continue;
		bool dup = false;
		for (size_t i = 0; i < out->n; i++)
			if (strlen(out->hosts[i].name) == hl &&
			    strncasecmp(out->hosts[i].name, h, hl) == 0)
				dup = true;
		if (dup || out->n >= OB_MX_MAX)
			continue;
		struct ob_mx_host *oh = &out->hosts[out->n++];
		for (size_t i = 0; i < hl; i++) {
			char c = h[i];
			oh->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		oh->name[hl] = '\0';
		oh->preference = m->priority;
	}
	ares_free_data(mx);
	/* RFC 7505 3: a null MX is the only MX record. One alongside real
	 * hosts is a misconfiguration; deliver to the real ones. */
	if (null_mx && seen == 1)
		return OB_MX_NULL;
	if (out->n == 0)
		return seen > 0 ? OB_MX_BAD : OB_MX_NONE;
	ob_mx_sort(out->hosts, out->n, seed);
	return OB_MX_OK;
}
