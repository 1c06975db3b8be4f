/*
 * test_outbound_mx.c - MX answers as they come off the wire: the bytes of
 * a DNS response built here by hand, parsed by the same function the
 * runner uses (ob_mx_parse, over ares_parse_mx_reply), then sorted.
 */
#include <stdio.h>
#include <string.h>

#include "../../outbound/outbound.h"
#include "test.h"

struct mx_rr {
	int pref;
	const char *host; /* "" for the root (null MX) */
};

static size_t put_name(unsigned char *p, const char *name)
{
	size_t n = 0;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		p[n++] = (unsigned char)l;
		memcpy(p + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

/* A response to "domain IN MX" with the given answers. */
static size_t build_answer(unsigned char *p, const char *domain,
			   const struct mx_rr *rr, size_t n_rr)
{
	size_t n = 0;
	static const unsigned char hdr[] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0,
					    0, 0, 0, 0};
	memcpy(p, hdr, sizeof hdr);
	p[7] = (unsigned char)n_rr;
	n = sizeof hdr;
	n += put_name(p + n, domain);
	p[n++] = 0, p[n++] = 15, p[n++] = 0, p[n++] = 1; /* MX IN */
	for (size_t i = 0; i < n_rr; i++) {
		p[n++] = 0xc0, p[n++] = 12; /* the question's name */
		p[n++] = 0, p[n++] = 15, p[n++] = 0, p[n++] = 1;
		p[n++] = 0, p[n++] = 0, p[n++] = 0x0e, p[n++] = 0x10; /* ttl */
		size_t rdlen_at = n;
		n += 2;
		p[n++] = (unsigned char)(rr[i].pref >> 8);
		p[n++] = (unsigned char)rr[i].pref;
		n += put_name(p + n, rr[i].host);
		size_t rdlen = n - rdlen_at - 2;
		p[rdlen_at] = (unsigned char)(rdlen >> 8);
		p[rdlen_at + 1] = (unsigned char)rdlen;
	}
	return n;
}

static void test_mx_order(void)
{
	unsigned char buf[2048];
	struct mx_rr rr[] = {
		{20, "MX2.Remote.Test"}, {10, "mx1.remote.test"},
		{30, "mx3.remote.test"}, {10, "mx1.remote.test"}, /* duplicate */
		{5, "bad_host!.test"},                          /* not a host */
	};
	size_t n = build_answer(buf, "remote.test", rr, 5);
	struct ob_mx_list l;
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &l), OB_MX_OK);
	CHECK_INT(l.n, 3);
	CHECK_STR(l.hosts[0].name, "mx1.remote.test");
	CHECK_INT(l.hosts[0].preference, 10);
	CHECK_STR(l.hosts[1].name, "mx2.remote.test"); /* lowercased */
	CHECK_STR(l.hosts[2].name, "mx3.remote.test");
}

static void test_mx_null_and_none(void)
{
	unsigned char buf[2048];
	struct ob_mx_list l;
	struct mx_rr null_mx[] = {{0, ""}};
	size_t n = build_answer(buf, "nomail.test", null_mx, 1);
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &l), OB_MX_NULL);
	/* "." next to a real host is a misconfiguration: use the host. */
	struct mx_rr mixed[] = {{0, ""}, {10, "mx.mixed.test"}};
	n = build_answer(buf, "mixed.test", mixed, 2);
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &l), OB_MX_OK);
	CHECK_INT(l.n, 1);
	CHECK_STR(l.hosts[0].name, "mx.mixed.test");
	/* No answers: implicit MX. */
	n = build_answer(buf, "plain.test", NULL, 0);
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &l), OB_MX_NONE);
	/* Garbage and truncation: refused, never a crash. */
	CHECK_INT(ob_mx_parse((const unsigned char *)"\x12\x34", 2, 1, &l), OB_MX_BAD);
	struct mx_rr one[] = {{10, "mx.remote.test"}};
	n = build_answer(buf, "remote.test", one, 1);
	CHECK(ob_mx_parse(buf, (int)n - 5, 1, &l) == OB_MX_BAD);
}

static void test_mx_cap_and_ties(void)
{
	unsigned char buf[4096];
	struct mx_rr rr[OB_MX_MAX + 5];
	char names[OB_MX_MAX + 5][32];
	for (size_t i = 0; i < OB_MX_MAX + 5; i++) {
		snprintf(names[i], sizeof names[i], "mx%zu.big.test", i);
		rr[i].pref = 10;
		rr[i].host = names[i];
	}
	size_t n = build_answer(buf, "big.test", rr, OB_MX_MAX + 5);
	struct ob_mx_list a, b;
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &a), OB_MX_OK);
	CHECK_INT(a.n, OB_MX_MAX);
	/* Equal preferences: the order depends on the seed (load spread)... */
	bool differs = false;
	for (uint32_t seed = 2; seed < 10 && !differs; seed++) {
		CHECK_INT(ob_mx_parse(buf, (int)n, seed, &b), OB_MX_OK);
		differs = strcmp(a.hosts[0].name, b.hosts[0].name) != 0;
	}
	CHECK(differs);
	/* ... and one seed always gives the same order. */
	CHECK_INT(ob_mx_parse(buf, (int)n, 1, &b), OB_MX_OK);
	for (size_t i = 0; i < a.n; i++)
		CHECK_STR(a.hosts[i].name, b.hosts[i].name);
}

static void test_mx_sort(void)
{
	struct ob_mx_host h[] = {{"c.test", 30}, {"a.test", 10}, {"b.test", 20},
				 {"z.test", 0}};
	ob_mx_sort(h, 4, 7);
	CHECK_STR(h[0].name, "z.test");
	CHECK_STR(h[1].name, "a.test");
	CHECK_STR(h[2].name, "b.test");
	CHECK_STR(h[3].name, "c.test");
}

TEST_SUITE(outbound_mx, {"preference order", test_mx_order},
	   {"null MX and no MX", test_mx_null_and_none},
	   {"cap and ties", test_mx_cap_and_ties}, {"sort", test_mx_sort});
