/*
 * dns.c - the DNS records page (placeholder until the c-ares checks land).
 */
#include "web.h"

void h_dns(struct web_req *r)
{
	page_begin(r, "DNS records");
	page_end(r);
}
