/*
 * trust_check.c - drives libtrust end to end for the integration tests:
 * real c-ares questions to a real (loopback dnsmasq) server on a libevent
 * loop, exactly as smtpd runs them. One command per stdin line (fields
 * separated by TAB), one JSON object per stdout line:
 *
 *   spf   IP HELO MAILFROM
 *   dnsbl IP ZONES
 *   msg   FILE IP HELO MAILFROM SAMPLE AUTHSERV   (SPF + DKIM + DMARC,
 *         Authentication-Results and X-Spam headers for a message file)
 *   name  IP ZONE                                  (DNSBL query name)
 *   grey  DB IP SENDER RCPT DELAY                  (greylisting verdict,
 *         with the real clock, in the store at path DB)
 *   verdict FILE IP HELO MAILFROM SAMPLE AUTHSERV AUTHED LOCALDOMAINS
 *         (what smtpd does at end of DATA: trust_message + the forged
 *         Authentication-Results filter; the message as it would be
 *         stored, prepended fields first, goes to FILE.out. Settings come
 *         from the store given with -d DB, else the defaults.)
 *
 * Options: -s ADDR:PORT (dns_servers), -t MS (per-try timeout), -n NOW,
 * -w (DKIM arithmetic on the worker thread, as smtpd does it).
 * Test tool only: it exits on bad usage and trusts its arguments.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../store/store.h"
#include "../../trust/trust.h"

struct run {
	struct event_base *base;
	struct trust_ctx *ctx;
	int waiting;
	struct trust_spf_outcome spf;
	struct trust_dkim_outcome dkim;
	struct trust_dmarc_outcome dmarc;
	struct trust_dnsbl_outcome dnsbl;
	const char *db;
	struct buf *out_headers;
	struct trust_dkim_worker *worker; /* -w: DKIM on a thread, as smtpd */
};

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void wait_all(struct run *r)
{
	while (r->waiting > 0)
		event_base_loop(r->base, EVLOOP_ONCE);
}

static void spf_done(void *arg, const struct trust_spf_outcome *o)
{
	struct run *r = arg;
	r->spf = *o;
	r->waiting--;
}

static void dkim_done(void *arg, const struct trust_dkim_outcome *o)
{
	struct run *r = arg;
	r->dkim = *o;
	r->waiting--;
}

static void dmarc_done(void *arg, const struct trust_dmarc_outcome *o)
{
	struct run *r = arg;
	r->dmarc = *o;
	r->waiting--;
}

static void dnsbl_done(void *arg, const struct trust_dnsbl_outcome *o)
{
	struct run *r = arg;
	r->dnsbl = *o;
	r->waiting--;
}

static void print_spf(const struct trust_spf_outcome *o)
{
	printf("\"spf\": ");
	json_str(trust_spf_result_name(o->result));
	printf(", \"spf_reason\": ");
	json_str(o->reason);
	printf(", \"spf_exp\": ");
	json_str(o->explanation);
	printf(", \"spf_lookups\": %d", o->lookups);
}

static void cmd_spf(struct run *r, char **f, int n)
{
	if (n < 4)
		exit(2);
	r->waiting = 1;
	(void)trust_spf_check(r->ctx, f[1], f[2], f[3], spf_done, r);
	wait_all(r);
	printf("{");
	print_spf(&r->spf);
	printf("}\n");
}

static void cmd_dnsbl(struct run *r, char **f, int n)
{
	if (n < 3)
		exit(2);
	r->waiting = 1;
	(void)trust_dnsbl_check(r->ctx, f[1], f[2], dnsbl_done, r);
	wait_all(r);
	printf("{\"listed\": %s, \"zone\": ", r->dnsbl.listed ? "true" : "false");
	json_str(r->dnsbl.zone);
	printf(", \"answer\": ");
	json_str(r->dnsbl.answer);
	printf(", \"errors\": %d}\n", r->dnsbl.errors);
}

static void cmd_name(char **f, int n)
{
	char out[300];
	if (n < 3)
		exit(2);
	if (trust_dnsbl_name(f[1], f[2], out, sizeof out) < 0)
		printf("{\"name\": null}\n");
	else {
		printf("{\"name\": ");
		json_str(out);
		printf("}\n");
	}
}

static void cmd_msg(struct run *r, char **f, int n)
{
	if (n < 7)
		exit(2);
	FILE *fp = fopen(f[1], "rb");
	if (fp == NULL)
		exit(2);
	struct trust_dkim *d = trust_dkim_new(r->ctx);
	trust_dkim_use_worker(d, r->worker);
	char chunk[777]; /* odd size: pieces split lines and CRLFs */
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, fp)) > 0)
		trust_dkim_feed(d, chunk, k);
	fclose(fp);
	r->waiting = 2;
	(void)trust_spf_check(r->ctx, f[2], f[3], f[4], spf_done, r);
	trust_dkim_finish(d, dkim_done, r);
	wait_all(r);
	struct trust_dmarc_input in = {
		.from_domain = r->dkim.from_domain,
		.from_count = r->dkim.from_count,
		.spf = r->spf.result,
		.spf_domain = r->spf.domain,
		.dkim = &r->dkim,
		.sample = (unsigned)strtoul(f[5], NULL, 10),
	};
	r->waiting = 1;
	(void)trust_dmarc_evaluate(r->ctx, &in, dmarc_done, r);
	wait_all(r);
	printf("{");
	print_spf(&r->spf);
	printf(", \"dkim\": [");
	for (size_t i = 0; i < r->dkim.n_sigs; i++) {
		const struct trust_dkim_sig *s = &r->dkim.sigs[i];
		printf("%s{\"result\": ", i ? ", " : "");
		json_str(trust_auth_result_name(s->result));
		printf(", \"d\": ");
		json_str(s->domain);
		printf(", \"s\": ");
		json_str(s->selector);
		printf(", \"a\": ");
		json_str(s->algorithm);
		printf(", \"l\": %lld, \"unsigned\": %lld, \"reason\": ",
		       s->body_length, s->unsigned_bytes);
		json_str(s->reason);
		printf("}");
	}
	printf("], \"from_domain\": ");
	json_str(r->dkim.from_domain);
	printf(", \"dmarc\": ");
	json_str(trust_auth_result_name(r->dmarc.result));
	static const char *const pol[] = {"none", "quarantine", "reject"};
	printf(", \"policy\": \"%s\", \"disposition\": \"%s\"",
	       pol[r->dmarc.policy], pol[r->dmarc.disposition]);
	printf(", \"spf_aligned\": %s, \"dkim_aligned\": %s, \"dmarc_reason\": ",
	       r->dmarc.spf_aligned ? "true" : "false",
	       r->dmarc.dkim_aligned ? "true" : "false");
	json_str(r->dmarc.reason);
	struct trust_results res = {&r->spf, &r->dkim, &r->dmarc};
	struct buf hdr;
	if (buf_init(&hdr, 64 * 1024) < 0 ||
	    trust_auth_results_header(f[6], &res, &hdr) < 0)
		exit(3);
	printf(", \"auth_results\": ");
	json_str(hdr.data);
	struct trust_spam sp;
	trust_spam_score(&res,
			 r->dmarc.disposition == TRUST_DMARC_P_QUARANTINE, 50, &sp);
	buf_reset(&hdr);
	if (trust_spam_headers(&sp, &hdr) < 0)
		exit(3);
	printf(", \"spam_score\": %d, \"is_spam\": %s, \"spam_headers\": ",
	       sp.score_tenths, sp.is_spam ? "true" : "false");
	json_str(hdr.data);
	printf("}\n");
	buf_free(&hdr);
	trust_dkim_free(&d);
}

static const char *local_list;

static bool is_local(void *arg, const char *domain)
{
	(void)arg;
	return trust_domain_in_list(local_list, domain);
}

static void verdict_done(void *arg, const struct trust_verdict *v)
{
	struct run *r = arg;
	r->waiting--;
	printf("{\"action\": \"%s\", \"reply\": ",
	       v->action == TRUST_REJECT ? "reject" : "accept");
	json_str(v->reply);
	printf(", \"quarantine\": %s, \"is_spam\": %s, \"subject_tag\": ",
	       v->quarantine ? "true" : "false", v->is_spam ? "true" : "false");
	json_str(v->subject_tag ? v->subject_tag : "");
	printf(", \"headers\": ");
	json_str(v->headers.data ? v->headers.data : "");
	printf(", \"log\": ");
	json_str(v->log);
	/* keep the prepended fields for the stored copy */
	struct buf *out = r->out_headers;
	buf_reset(out);
	if (buf_append(out, v->headers.data, v->headers.len) < 0)
		exit(3);
}

static int file_sink(void *ctx, const char *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

static void cmd_verdict(struct run *r, char **f, int n)
{
	if (n < 9)
		exit(2);
	struct trust_settings set;
	trust_settings_defaults(&set);
	if (r->db) {
		struct store *st = NULL;
		char err[256];
		const char *bad = NULL;
		if (store_open(r->db, &st, err, sizeof err) != 0)
			exit(1);
		if (trust_settings_load(st, &set, &bad) < 0)
			fprintf(stderr, "bad setting %s\n", bad);
		store_close(&st);
	}
	r->waiting = 1;
	(void)trust_spf_check(r->ctx, f[2], f[3], f[4], spf_done, r);
	wait_all(r);
	local_list = f[8];
	struct trust_message_params mp = {
		.authserv_id = f[6],
		.settings = &set,
		.spf = NULL, /* set below, as smtpd does when MAIL's check ends */
		.authenticated = strcmp(f[7], "yes") == 0,
		.is_local = is_local,
		.sample = (unsigned)strtoul(f[5], NULL, 10),
		.dkim_worker = r->worker,
	};
	struct trust_message *m = trust_message_new(r->ctx, &mp);
	if (m && set.spf)
		trust_message_set_spf(m, &r->spf);
	char body_path[4200];
	snprintf(body_path, sizeof body_path, "%s.body", f[1]);
	FILE *in = fopen(f[1], "rb"), *body = fopen(body_path, "wb");
	if (m == NULL || in == NULL || body == NULL)
		exit(2);
	struct trust_arfilter af;
	if (trust_arfilter_init(&af, f[6], file_sink, body) < 0)
		exit(3);
	char chunk[501];
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, in)) > 0) {
		trust_message_feed(m, chunk, k);
		if (trust_arfilter_feed(&af, chunk, k) < 0)
			exit(3);
	}
	if (trust_arfilter_end(&af) < 0)
		exit(3);
	fclose(in);
	fclose(body);
	struct buf hdr;
	if (buf_init(&hdr, 64 * 1024) < 0)
		exit(3);
	r->out_headers = &hdr;
	r->waiting = 1;
	trust_message_finish(m, verdict_done, r);
	wait_all(r);
	printf(", \"ar_dropped\": %zu}\n", af.dropped);
	trust_arfilter_free(&af);
	trust_message_free(&m);
	/* FILE.out = prepended fields + the filtered message */
	char out_path[4200];
	snprintf(out_path, sizeof out_path, "%s.out", f[1]);
	FILE *out = fopen(out_path, "wb"), *b2 = fopen(body_path, "rb");
	if (out == NULL || b2 == NULL)
		exit(2);
	fwrite(hdr.data, 1, hdr.len, out);
	while ((k = fread(chunk, 1, sizeof chunk, b2)) > 0)
		fwrite(chunk, 1, k, out);
	fclose(out);
	fclose(b2);
	buf_free(&hdr);
}

static void cmd_grey(char **f, int n)
{
	if (n < 6)
		exit(2);
	struct store *st = NULL;
	char err[256], net[64];
	if (store_open(f[1], &st, err, sizeof err) != 0) {
		fprintf(stderr, "store: %s\n", err);
		exit(1);
	}
	if (trust_greylist_net(f[2], net, sizeof net) < 0)
		exit(2);
	int64_t retry = 0;
	int rc = store_greylist_check(st, net, f[3], f[4], (int64_t)time(NULL),
				      strtoll(f[5], NULL, 10), &retry);
	printf("{\"verdict\": \"%s\", \"net\": ", rc == 1 ? "pass" : rc == 0 ? "defer" : "error");
	json_str(net);
	printf(", \"retry_after\": %lld}\n", (long long)retry);
	store_close(&st);
}

int main(int argc, char **argv)
{
	const char *servers = NULL;
	int timeout = 0, opt;
	long long now = 0;
	const char *db = NULL;
	bool worker = false;
	while ((opt = getopt(argc, argv, "s:t:n:d:w")) != -1) {
		if (opt == 's')
			servers = optarg;
		else if (opt == 't')
			timeout = (int)strtol(optarg, NULL, 10);
		else if (opt == 'n')
			now = strtoll(optarg, NULL, 10);
		else if (opt == 'd')
			db = optarg;
		else if (opt == 'w')
			worker = true;
		else
			return 2;
	}
	struct run r;
	memset(&r, 0, sizeof r);
	r.db = db;
	char err[256];
	if (worker)
		evthread_use_pthreads(); /* before the base, as smtpd does */
	r.base = event_base_new();
	r.ctx = trust_new(r.base, servers, err, sizeof err);
	if (r.ctx == NULL) {
		fprintf(stderr, "trust_new: %s\n", err);
		return 1;
	}
	if (worker && (r.worker = trust_dkim_worker_start(r.base, err, sizeof err)) == NULL) {
		fprintf(stderr, "trust_dkim_worker_start: %s\n", err);
		return 1;
	}
	if (timeout > 0)
		trust_set_dns_timeout(r.ctx, timeout, 1);
	if (now > 0)
		trust_set_now(r.ctx, now);
	char line[8192];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *f[10];
		int n = 0;
		char *p = line;
		while (n < 10) {
			f[n++] = p;
			char *tab = strchr(p, '\t');
			if (tab == NULL)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (strcmp(f[0], "spf") == 0)
			cmd_spf(&r, f, n);
		else if (strcmp(f[0], "dnsbl") == 0)
			cmd_dnsbl(&r, f, n);
		else if (strcmp(f[0], "name") == 0)
			cmd_name(f, n);
		else if (strcmp(f[0], "msg") == 0)
			cmd_msg(&r, f, n);
		else if (strcmp(f[0], "grey") == 0)
			cmd_grey(f, n);
		else if (strcmp(f[0], "verdict") == 0)
			cmd_verdict(&r, f, n);
		else
			return 2;
		fflush(stdout);
	}
	trust_dkim_worker_stop(&r.worker);
	trust_free(&r.ctx);
	event_base_free(r.base);
	return 0;
}
