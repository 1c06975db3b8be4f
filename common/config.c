/*
 * config.c - read and validate the INI config (see config.h for the keys).
 *
 * inih splits lines into section / key / value; everything else is ours:
 * each key has a type and a check, and the first problem becomes one line
 * "FILE:LINE: what" for the admin. inih is fed through our own line reader
 * so we know the line number of every handler call, can refuse a line too
 * long for inih's 200-byte buffer (it would otherwise be split in two),
 * strip leading blanks (an indented key is a key, not inih's Python-style
 * continuation of the previous value) and see empty unknown sections.
 *
 * Parsing works on a copy of the config: on error the caller's struct is
 * left as it was, so a SIGHUP reload with a broken file changes nothing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "listen.h"

#define CONFIG_FILE_MAX (1024 * 1024) /* a config bigger than this is a mistake */
#define DATA_DIR_DEFAULT "/var/lib/mailroom"

struct parse_ctx {
	struct config cfg;
	const char *name; /* file name for messages */
	const char *text; /* whole input, NUL-terminated */
	size_t pos;
	int lineno; /* lines handed to inih so far = the line being parsed */
	int err_line;
	char err[CONFIG_ERROR_MAX];
	char section[32];   /* current section, as the reader saw it */
	int set_on[64];     /* line where keys[i] was set, 0: not yet */
	bool tls_cert_set, tls_key_set;
};

/* ---- value checks: 0, or -1 with a reason in why ---------------------- */

static int parse_int(const char *v, long long min, long long max,
		     long long *out, char *why, size_t whylen)
{
	char *end;
	if (*v == '\0' || !((*v >= '0' && *v <= '9') || *v == '-')) {
		snprintf(why, whylen, "'%s' is not a number", v);
		return -1;
	}
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0') {
		snprintf(why, whylen, "'%s' is not a number", v);
		return -1;
	}
	if (n < min || n > max) {
		snprintf(why, whylen, "%lld is out of range %lld..%lld", n, min,
			 max);
		return -1;
	}
	*out = n;
	return 0;
}

/*
 * A duration in milliseconds: a number with an optional unit, ms, s, m or
 * h; a bare number is seconds (what an admin writes for a timeout).
 * min and max are in milliseconds.
 */
static int parse_duration(const char *v, long long min, long long max,
			  long long *out, char *why, size_t whylen)
{
	static const struct {
		const char *suffix;
		long long ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char num[32];
	size_t len = strlen(v);
	long long mult = 1000;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t sl = strlen(units[i].suffix);
		if (len > sl && strcmp(v + len - sl, units[i].suffix) == 0 &&
		    v[len - sl - 1] >= '0' && v[len - sl - 1] <= '9') {
			mult = units[i].ms;
			len -= sl;
			break;
		}
	}
	long long n;
	if (len == 0 || len >= sizeof(num) || v[0] == '-') {
		snprintf(why, whylen,
			 "'%s' is not a duration (like 300, 30s, 500ms, 10m, 1h)",
			 v);
		return -1;
	}
	memcpy(num, v, len);
	num[len] = '\0';
	if (parse_int(num, 0, max / mult, &n, why, whylen) < 0 ||
	    n * mult < min) {
		snprintf(why, whylen,
			 "'%s' is not a duration between %lldms and %llds", v,
			 min, max / 1000);
		return -1;
	}
	*out = n * mult;
	return 0;
}

/* Bytes, with an optional K or M suffix (binary: 1K = 1024). */
static int parse_size(const char *v, long long min, long long max,
		      long long *out, char *why, size_t whylen)
{
	char num[32];
	size_t len = strlen(v);
	long long mult = 1;
	if (len > 0 && (v[len - 1] == 'K' || v[len - 1] == 'k'))
		mult = 1024;
	else if (len > 0 && (v[len - 1] == 'M' || v[len - 1] == 'm'))
		mult = 1024 * 1024;
	if (mult != 1)
		len--;
	if (len == 0 || len >= sizeof(num)) {
		snprintf(why, whylen, "'%s' is not a size", v);
		return -1;
	}
	memcpy(num, v, len);
	num[len] = '\0';
	long long n;
	if (parse_int(num, 0, max / mult, &n, why, whylen) < 0) {
		snprintf(why, whylen, "'%s' is not a size in %lld..%lld bytes",
			 v, min, max);
		return -1;
	}
	n *= mult;
	if (n < min) {
		snprintf(why, whylen, "'%s' is below %lld bytes", v, min);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse_bool(const char *v, bool *out, char *why, size_t whylen)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(why, whylen, "'%s' is not yes or no", v);
	return -1;
}

/* Copy a value into a fixed field: no control bytes, never truncated. */
static int copy_text(const char *v, char *dst, size_t dstlen, bool allow_empty,
		     char *why, size_t whylen)
{
	size_t len = strlen(v);
	if (!allow_empty && len == 0) {
		snprintf(why, whylen, "empty value");
		return -1;
	}
	if (len >= dstlen) {
		snprintf(why, whylen, "longer than %zu bytes", dstlen - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(why, whylen, "control character in value");
			return -1;
		}
	}
	memcpy(dst, v, len + 1);
	return 0;
}

/* A host name: LDH labels of 1..63, 253 in all, one label allowed. */
static bool hostname_valid(const char *v)
{
	size_t len = strlen(v), ll = 0;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = v[i];
		if (c == '.' || c == '\0') {
			if (ll == 0 || ll > 63 || v[i - 1] == '-' ||
			    v[i - ll] == '-')
				return false;
			ll = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-') {
			ll++;
		} else {
			return false;
		}
	}
	return true;
}

static int check_listen(const char *v, char *dst, char *why, size_t whylen)
{
	struct listen_addr addrs[LISTEN_ADDRS_MAX];
	size_t n;
	if (copy_text(v, dst, CONFIG_VALUE_MAX, true, why, whylen) < 0)
		return -1;
	return listen_parse(v, addrs, LISTEN_ADDRS_MAX, &n, why, whylen);
}

/* HOST:PORT (a host name, an IPv4 address or [IPv6]). */
static int check_hostport(const char *v, char *dst, char *why, size_t whylen)
{
	if (copy_text(v, dst, CONFIG_VALUE_MAX, true, why, whylen) < 0)
		return -1;
	if (*v == '\0')
		return 0;
	if (*v == '[') {
		struct listen_addr a;
		size_t n;
		return listen_parse(v, &a, 1, &n, why, whylen);
	}
	const char *colon = strrchr(v, ':');
	char host[HOSTNAME_MAX + 1];
	long long port;
	size_t hlen = colon ? (size_t)(colon - v) : 0;
	if (colon == NULL || hlen == 0 || hlen > HOSTNAME_MAX) {
		snprintf(why, whylen, "'%s' is not HOST:PORT", v);
		return -1;
	}
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	if (!hostname_valid(host)) {
		snprintf(why, whylen, "bad host name '%s'", host);
		return -1;
	}
	if (parse_int(colon + 1, 1, 65535, &port, why, whylen) < 0) {
		snprintf(why, whylen, "bad port in '%s'", v);
		return -1;
	}
	return 0;
}

/* DNS servers: numeric ADDR:PORT list (c-ares CSV syntax). */
static int check_dns_servers(const char *v, char *dst, char *why,
			     size_t whylen)
{
	struct listen_addr addrs[LISTEN_ADDRS_MAX];
	size_t n;
	if (copy_text(v, dst, CONFIG_VALUE_MAX, true, why, whylen) < 0)
		return -1;
	return listen_parse(v, addrs, LISTEN_ADDRS_MAX, &n, why, whylen);
}

static int check_user(const char *v, char *dst, size_t dstlen, char *why,
		      size_t whylen)
{
	if (copy_text(v, dst, dstlen, false, why, whylen) < 0)
		return -1;
	for (const char *p = v; *p; p++) {
		bool ok = (*p >= 'a' && *p <= 'z') || *p == '_' ||
			  (p > v && ((*p >= '0' && *p <= '9') || *p == '-'));
		if (!ok) {
			snprintf(why, whylen, "'%s' is not a user name", v);
			return -1;
		}
	}
	return 0;
}

/* ---- the key table ------------------------------------------------------ */

enum key_type {
	K_TEXT,     /* any text without control characters */
	K_PATH,     /* non-empty path */
	K_HOSTNAME, /* DNS host name */
	K_LOGLEVEL,
	K_USER,
	K_LISTEN,
	K_HOSTPORT,
	K_DNS,
	K_SIZE,
	K_INT,
	K_DURATION, /* milliseconds, int64_t field */
	K_BOOL,
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	size_t size; /* of the field */
	long long min, max;
};

#define F(field) offsetof(struct config, field), sizeof(((struct config *)0)->field)

static const struct key_def keys[] = {
	{"server", "hostname", K_HOSTNAME, F(hostname), 0, 0},
	{"server", "data_dir", K_PATH, F(data_dir), 0, 0},
	{"server", "tls_cert", K_PATH, F(tls_cert), 0, 0},
	{"server", "tls_key", K_PATH, F(tls_key), 0, 0},
	{"server", "log_level", K_LOGLEVEL, F(log_level), 0, 0},
	{"server", "user", K_USER, F(user), 0, 0},
	{"smtp", "listen", K_LISTEN, F(smtp_listen), 0, 0},
	{"smtp", "submission_listen", K_LISTEN, F(submission_listen), 0, 0},
	{"smtp", "smtps_listen", K_LISTEN, F(smtps_listen), 0, 0},
	{"smtp", "message_size_limit", K_SIZE, F(message_size_limit), 1024,
	 4LL * 1024 * 1024 * 1024},
	{"smtp", "max_recipients", K_INT, F(max_recipients), 1, 100000},
	{"smtp", "relay_port", K_INT, F(relay_port), 1, 65535},
	{"smtp", "smarthost", K_HOSTPORT, F(smarthost), 0, 0},
	{"smtp", "smarthost_user", K_TEXT, F(smarthost_user), 0, 0},
	{"smtp", "smarthost_password", K_TEXT, F(smarthost_password), 0, 0},
	{"smtp", "dns_servers", K_DNS, F(dns_servers), 0, 0},
	{"smtp", "greeting_delay", K_DURATION, F(smtp_greeting_delay_ms), 0,
	 60000},
	{"smtp", "command_timeout", K_DURATION, F(smtp_command_timeout_ms),
	 100, 3600000},
	{"smtp", "data_timeout", K_DURATION, F(smtp_data_timeout_ms), 100,
	 3600000},
	{"smtp", "tls_timeout", K_DURATION, F(smtp_tls_timeout_ms), 100,
	 600000},
	{"smtp", "auth_failure_delay", K_DURATION, F(smtp_auth_delay_ms), 0,
	 60000},
	{"smtp", "max_sessions", K_INT, F(smtp_max_sessions), 1, 1000000},
	{"smtp", "max_per_ip", K_INT, F(smtp_max_per_ip), 1, 1000000},
	{"smtp", "limit_loopback", K_BOOL, F(smtp_limit_loopback), 0, 0},
	{"pop3", "listen", K_LISTEN, F(pop3_listen), 0, 0},
	{"pop3", "pop3s_listen", K_LISTEN, F(pop3s_listen), 0, 0},
	{"pop3", "allow_plaintext_auth", K_BOOL, F(pop3_allow_plaintext_auth),
	 0, 0},
	{"pop3", "idle_timeout", K_DURATION, F(pop3_idle_timeout_ms), 1000,
	 24LL * 3600000},
	{"admin", "listen", K_LISTEN, F(admin_listen), 0, 0},
	{"admin", "http_listen", K_LISTEN, F(admin_http_listen), 0, 0},
	{"queue", "lifetime", K_INT, F(queue_lifetime), 60, 60LL * 24 * 3600},
	{"queue", "max_connections", K_INT, F(queue_max_connections), 1, 1000},
	{"queue", "max_per_destination", K_INT, F(queue_max_per_destination),
	 1, 100},
	{"queue", "max_messages_per_connection", K_INT,
	 F(queue_max_messages_per_connection), 1, 1000},
	{"queue", "delay_warning", K_INT, F(queue_delay_warning), 0,
	 30LL * 24 * 3600},
	{"queue", "smarthost_ca", K_PATH, F(smarthost_ca), 0, 0},
	{"queue", "account_hourly_limit", K_INT,
	 F(queue_account_hourly_limit), 0, 1000000},
	{"dkim", "selector", K_HOSTNAME, F(dkim_selector), 0, 0},
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) <=
		       sizeof(((struct parse_ctx *)0)->set_on) / sizeof(int),
	       "parse_ctx.set_on has a slot per key");

static bool section_known(const char *s)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].section, s) == 0)
			return true;
	return false;
}

static int set_value(struct parse_ctx *ctx, const struct key_def *k,
		     const char *v, char *why, size_t whylen)
{
	char *field = (char *)&ctx->cfg + k->offset;
	long long n;
	bool b;

	switch (k->type) {
	case K_TEXT:
		return copy_text(v, field, k->size, true, why, whylen);
	case K_PATH:
		if (copy_text(v, field, k->size, false, why, whylen) < 0)
			return -1;
		if (field == ctx->cfg.tls_cert)
			ctx->tls_cert_set = true;
		if (field == ctx->cfg.tls_key)
			ctx->tls_key_set = true;
		return 0;
	case K_HOSTNAME:
		if (!hostname_valid(v)) {
			snprintf(why, whylen, "'%s' is not a host name", v);
			return -1;
		}
		return copy_text(v, field, k->size, false, why, whylen);
	case K_LOGLEVEL:
		if (log_level_parse(v, &ctx->cfg.log_level) < 0) {
			snprintf(why, whylen,
				 "'%s' is not error, warn, info or debug", v);
			return -1;
		}
		return 0;
	case K_USER:
		return check_user(v, field, k->size, why, whylen);
	case K_LISTEN:
		return check_listen(v, field, why, whylen);
	case K_HOSTPORT:
		return check_hostport(v, field, why, whylen);
	case K_DNS:
		return check_dns_servers(v, field, why, whylen);
	case K_SIZE:
		if (parse_size(v, k->min, k->max, &n, why, whylen) < 0)
			return -1;
		ctx->cfg.message_size_limit = n;
		return 0;
	case K_INT:
		if (parse_int(v, k->min, k->max, &n, why, whylen) < 0)
			return -1;
		*(int *)(void *)field = (int)n;
		return 0;
	case K_DURATION:
		if (parse_duration(v, k->min, k->max, &n, why, whylen) < 0)
			return -1;
		*(int64_t *)(void *)field = n;
		return 0;
	case K_BOOL:
		if (parse_bool(v, &b, why, whylen) < 0)
			return -1;
		*(bool *)(void *)field = b;
		return 0;
	}
	return -1;
}

static void fail(struct parse_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct parse_ctx *ctx, const char *fmt, ...)
{
	if (ctx->err_line != 0)
		return;
	ctx->err_line = ctx->lineno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
}

static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parse_ctx *ctx = user;
	char why[CONFIG_ERROR_MAX];

	if (ctx->err_line != 0)
		return 0;
	if (*section == '\0') {
		fail(ctx, "key '%s' outside any [section]", name);
		return 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_def *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (ctx->set_on[i] != 0) {
			fail(ctx, "'%s' is set twice in [%s] (first on line %d)",
			     name, section, ctx->set_on[i]);
			return 0;
		}
		ctx->set_on[i] = ctx->lineno;
		why[0] = '\0';
		if (set_value(ctx, k, value, why, sizeof(why)) < 0) {
			fail(ctx, "bad value for '%s' in [%s]: %s", name, section,
			     why);
			return 0;
		}
		return 1;
	}
	fail(ctx, "unknown key '%s' in [%s]", name, section);
	return 0;
}

static const char *const syntax_error =
	"syntax error (want 'key = value' or '[section]')";

static void trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' ||
			   (*e)[-1] == '\r' || (*e)[-1] == '\n'))
		(*e)--;
}

/*
 * A key line too long for inih's buffer: split it the way inih would
 * (first '=' or ':', a ';' after a blank starts a comment) and call the
 * handler ourselves, so long listen lists and passwords work.
 */
static void long_key_line(struct parse_ctx *ctx, const char *p, size_t len)
{
	char line[CONFIG_VALUE_MAX + 128];
	if (len >= sizeof(line)) {
		fail(ctx, "line longer than %zu bytes", sizeof(line) - 1);
		return;
	}
	memcpy(line, p, len);
	line[len] = '\0';
	char *eq = strpbrk(line, "=:");
	if (eq == NULL) {
		fail(ctx, "%s", syntax_error);
		return;
	}
	char *ns = line, *ne = eq, *vs = eq + 1, *ve = line + len;
	for (char *c = vs; c < ve; c++) {
		if (*c == ';' && c > vs && (c[-1] == ' ' || c[-1] == '\t')) {
			ve = c;
			break;
		}
	}
	trim(&ns, &ne);
	trim(&vs, &ve);
	*ne = '\0';
	*ve = '\0';
	if (on_key(ctx, ctx->section, ns, vs) == 0 && ctx->err_line == 0)
		fail(ctx, "%s", syntax_error);
}

/*
 * inih's reader: hand out the next line of ctx->text. It sees every line
 * first, so it counts lines, knows the current section, refuses unknown
 * sections (even empty ones) and handles lines too long for inih.
 * Returns NULL at the end or after an error.
 */
static char *next_line(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *p = ctx->text + ctx->pos;

	if (*p == '\0' || ctx->err_line != 0)
		return NULL;
	const char *nl = strchr(p, '\n');
	size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
	ctx->pos += len;
	ctx->lineno++;

	if (ctx->lineno == 1 && len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3; /* UTF-8 byte order mark */
		len -= 3;
	}
	/* A blank-led line would be inih's continuation line: strip it. */
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}

	if (*p == '[') {
		const char *close = memchr(p, ']', len);
		if (close != NULL) {
			size_t sl = (size_t)(close - p) - 1;
			char sect[sizeof(ctx->section)];
			if (sl < sizeof(sect)) {
				memcpy(sect, p + 1, sl);
				sect[sl] = '\0';
			}
			if (sl >= sizeof(sect) || !section_known(sect)) {
				fail(ctx, "unknown section [%.*s]",
				     (int)(sl > 64 ? 64 : sl), p + 1);
				return NULL;
			}
			memcpy(ctx->section, sect, sl + 1);
		}
	}

	/* inih needs room for the text, its line end and a NUL. */
	if (num < 3)
		return NULL;
	if (len + 2 > (size_t)num) {
		if (*p != ';' && *p != '#') {
			if (*p == '[') {
				fail(ctx, "line longer than %d bytes", num - 3);
				return NULL;
			}
			long_key_line(ctx, p, len);
			if (ctx->err_line != 0)
				return NULL;
		}
		p = "\n"; /* inih counts the line and sees nothing */
		len = 1;
	}
	memcpy(str, p, len);
	str[len] = '\0';
	return str;
}

static void data_dir_path(char *dst, size_t dstlen, const char *dir,
			  const char *rel)
{
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	snprintf(dst, dstlen, "%.*s/%s", (int)dl, dir, rel);
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) < 0 ||
	    !hostname_valid(cfg->hostname))
		snprintf(cfg->hostname, sizeof(cfg->hostname), "localhost");
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", DATA_DIR_DEFAULT);
	data_dir_path(cfg->tls_cert, sizeof(cfg->tls_cert), cfg->data_dir,
		      "tls/cert.pem");
	data_dir_path(cfg->tls_key, sizeof(cfg->tls_key), cfg->data_dir,
		      "tls/key.pem");
	cfg->log_level = LOG_LEVEL_INFO;
	snprintf(cfg->smtp_listen, sizeof(cfg->smtp_listen), "0.0.0.0:25");
	snprintf(cfg->submission_listen, sizeof(cfg->submission_listen),
		 "0.0.0.0:587");
	snprintf(cfg->smtps_listen, sizeof(cfg->smtps_listen), "0.0.0.0:465");
	cfg->message_size_limit = MESSAGE_SIZE_LIMIT_DEFAULT;
	cfg->max_recipients = MAX_RECIPIENTS_DEFAULT;
	cfg->relay_port = RELAY_PORT_DEFAULT;
	snprintf(cfg->pop3_listen, sizeof(cfg->pop3_listen), "0.0.0.0:110");
	snprintf(cfg->pop3s_listen, sizeof(cfg->pop3s_listen), "0.0.0.0:995");
	cfg->pop3_allow_plaintext_auth = false;
	cfg->pop3_idle_timeout_ms = 600000; /* RFC 1939: at least 10 minutes */
	cfg->smtp_greeting_delay_ms = 300;
	cfg->smtp_command_timeout_ms = 300000; /* RFC 5321 4.5.3.2.7: 5 min */
	cfg->smtp_data_timeout_ms = 600000;    /* 4.5.3.2.6: 10 min */
	cfg->smtp_tls_timeout_ms = 30000;
	cfg->smtp_auth_delay_ms = 1000;
	cfg->smtp_max_sessions = 20000;
	cfg->smtp_max_per_ip = 50;
	cfg->smtp_limit_loopback = false;
	snprintf(cfg->admin_listen, sizeof(cfg->admin_listen), "0.0.0.0:443");
	cfg->admin_http_listen[0] = '\0';
	cfg->queue_lifetime = 5 * 24 * 3600; /* 5 days, like Postfix */
	cfg->queue_max_connections = 20;
	cfg->queue_max_per_destination = 4;
	cfg->queue_max_messages_per_connection = 100;
	cfg->queue_delay_warning = 4 * 3600;
	cfg->queue_account_hourly_limit = 300;
	snprintf(cfg->dkim_selector, sizeof(cfg->dkim_selector), "mailroom");
}

static int finish_paths(struct parse_ctx *ctx)
{
	struct config *c = &ctx->cfg;
	/* Leave room for the longest file name we put under data_dir. */
	if (strlen(c->data_dir) + sizeof("/tls/cert.pem") > sizeof(c->tls_cert) ||
	    strlen(c->data_dir) + sizeof("/mailroom.db-journal") >
		    sizeof(c->data_dir)) {
		snprintf(ctx->err, sizeof(ctx->err),
			 "%s: data_dir is too long", ctx->name);
		return -1;
	}
	if (!ctx->tls_cert_set)
		data_dir_path(c->tls_cert, sizeof(c->tls_cert), c->data_dir,
			      "tls/cert.pem");
	if (!ctx->tls_key_set)
		data_dir_path(c->tls_key, sizeof(c->tls_key), c->data_dir,
			      "tls/key.pem");
	return 0;
}

static int parse_text(struct config *cfg, const char *name, const char *text,
		      char *err, size_t errlen)
{
	struct parse_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	ctx->cfg = *cfg;
	ctx->name = name;
	ctx->text = text;
	if (strlen(name) >= sizeof(ctx->cfg.path)) {
		snprintf(err, errlen, "%.64s...: path longer than %zu bytes",
			 name, sizeof(ctx->cfg.path) - 1);
		free(ctx);
		return -1;
	}
	memcpy(ctx->cfg.path, name, strlen(name) + 1);

	int rc = ini_parse_stream(next_line, ctx, on_key, ctx);
	int ret = -1;
	if (rc > 0 && (ctx->err_line == 0 || rc < ctx->err_line)) {
		/* inih found a line that is neither [section] nor key = value
		 * before any error of ours. */
		snprintf(err, errlen, "%s:%d: syntax error (want 'key = value' "
			 "or '[section]')", name, rc);
	} else if (ctx->err_line != 0) {
		snprintf(err, errlen, "%s:%d: %s", name, ctx->err_line,
			 ctx->err);
	} else if (rc < 0) {
		snprintf(err, errlen, "%s: cannot parse (inih error %d)", name,
			 rc);
	} else if (finish_paths(ctx) < 0) {
		snprintf(err, errlen, "%s", ctx->err);
	} else {
		*cfg = ctx->cfg;
		ret = 0;
	}
	free(ctx);
	return ret;
}

int config_load_string(struct config *cfg, const char *name, const char *text,
		       char *err, size_t errlen)
{
	return parse_text(cfg, name, text, err, errlen);
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
			 strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 CONFIG_FILE_MAX);
		close(fd);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	char *text = malloc(size + 1);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, text + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path,
				 r < 0 ? strerror(errno) : "file shrank");
			free(text);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	text[size] = '\0';
	int ret;
	if (memchr(text, '\0', size) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		ret = -1;
	} else {
		ret = parse_text(cfg, path, text, err, errlen);
	}
	free(text);
	return ret;
}

int config_db_path(const struct config *cfg, char *dst, size_t dstlen)
{
	size_t dl = strlen(cfg->data_dir);
	while (dl > 1 && cfg->data_dir[dl - 1] == '/')
		dl--;
	int n = snprintf(dst, dstlen, "%.*s/mailroom.db", (int)dl, cfg->data_dir);
	if (n < 0 || (size_t)n >= dstlen)
		return -1;
	return 0;
}
