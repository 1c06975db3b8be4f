/*
 * spf_record.c - SPF record syntax (RFC 7208 4.5, 4.6, 5, 6, 7.1): the whole
 * record is checked before any term is evaluated, so a syntax error
 * anywhere is a permerror (4.6). Pure: no DNS, no allocation; slices point
 * into the caller's record. Fuzzed by tests/fuzz/fuzz_trust_spf.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "trust.h"

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }

bool trust_spf_macro_valid(struct slice s, bool exp_ok)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c == ' ' && exp_ok)
			continue; /* explain-string allows SP literals */
		if (c < 0x21 || c > 0x7e)
			return false;
		if (c != '%')
			continue;
		if (++i >= s.len)
			return false;
		c = (unsigned char)s.ptr[i];
		if (c == '%' || c == '_' || c == '-')
			continue;
		if (c != '{' || ++i >= s.len)
			return false;
		char l = (char)tolower((unsigned char)s.ptr[i]);
		if (!strchr("slodiphv", l) && !(exp_ok && strchr("crt", l)))
			return false;
		i++;
		while (i < s.len && is_digit(s.ptr[i]))
			i++;
		if (i < s.len && (s.ptr[i] == 'r' || s.ptr[i] == 'R'))
			i++;
		while (i < s.len && strchr(".-+,/_=", s.ptr[i]))
			i++;
		if (i >= s.len || s.ptr[i] != '}')
			return false;
	}
	return true;
}

/* domain-end: "." toplabel ["."] or a macro-expand (RFC 7208 7.1). */
static bool domain_spec_valid(struct slice d)
{
	if (d.len == 0 || !trust_spf_macro_valid(d, false))
		return false;
	if (d.ptr[d.len - 1] == '}')
		return true;
	size_t end = d.len;
	if (d.ptr[end - 1] == '.')
		end--;
	size_t start = end;
	while (start > 0 && d.ptr[start - 1] != '.')
		start--;
	if (start == 0 || start == end)
		return false; /* no dot, or empty toplabel */
	bool alpha = false;
	for (size_t i = start; i < end; i++) {
		char c = d.ptr[i];
		if (is_alpha(c))
			alpha = true;
		else if (!is_digit(c) && c != '-')
			return false;
	}
	if (d.ptr[start] == '-' || d.ptr[end - 1] == '-')
		return false;
	/* an all-digit label is allowed only with a '-' in it */
	return alpha || memchr(d.ptr + start, '-', end - start) != NULL;
}

/* A decimal without leading zeros in [0, max], or -1. */
static int cidr_num(const char *p, size_t len, int max)
{
	if (len == 0 || len > 3 || (len > 1 && p[0] == '0'))
		return -1;
	int v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v <= max ? v : -1;
}

static size_t digits_before(const struct slice *s, size_t end)
{
	size_t j = end;
	while (j > 0 && s->ptr[j - 1] >= '0' && s->ptr[j - 1] <= '9')
		j--;
	return j;
}

/* dual-cidr-length at the END of s ("/n", "//m", "/n//m"): a '/' may also
 * appear inside a domain-spec (macro-literal), so only a trailing run of
 * digits after '/' counts. Cuts it off into t. 0 or -1. */
static int dual_cidr(struct slice *s, struct trust_spf_term *t, bool v4, bool v6)
{
	size_t end = s->len, j = digits_before(s, end);
	if (j < end && j >= 2 && s->ptr[j - 1] == '/' && s->ptr[j - 2] == '/') {
		if (!v6)
			return -1;
		t->cidr6 = cidr_num(s->ptr + j, end - j, 128);
		if (t->cidr6 < 0)
			return -1;
		end = j - 2;
		j = digits_before(s, end);
	}
	if (j < end && j >= 1 && s->ptr[j - 1] == '/') {
		if (!v4)
			return -1;
		t->cidr4 = cidr_num(s->ptr + j, end - j, 32);
		if (t->cidr4 < 0)
			return -1;
		end = j - 1;
	}
	s->len = end;
	return 0;
}

/* ip4 / ip6: one "/n" (never "//"): ip6-cidr-length = "/" 1*DIGIT. */
static int ip_cidr(struct slice *s, int *cidr, int max)
{
	const char *p = memrchr(s->ptr, '/', s->len);
	if (p == NULL)
		return 0;
	size_t off = (size_t)(p - s->ptr);
	if (off > 0 && s->ptr[off - 1] == '/')
		return -1;
	*cidr = cidr_num(p + 1, s->len - off - 1, max);
	s->len = off;
	return *cidr < 0 ? -1 : 0;
}

static const struct {
	const char *name;
	enum trust_spf_term_kind kind;
} mechs[] = {
	{"all", SPF_T_ALL},   {"include", SPF_T_INCLUDE}, {"a", SPF_T_A},
	{"mx", SPF_T_MX},     {"ptr", SPF_T_PTR},         {"ip4", SPF_T_IP4},
	{"ip6", SPF_T_IP6},   {"exists", SPF_T_EXISTS},
};

static int parse_directive(const char *p, size_t len, struct trust_spf_term *t,
			   const char **error_r)
{
	t->qualifier = '+';
	if (len > 0 && strchr("+-~?", p[0])) {
		t->qualifier = p[0];
		p++;
		len--;
	}
	size_t n = 0;
	while (n < len && is_alnum(p[n]))
		n++;
	bool found = false;
	for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
		if (strlen(mechs[i].name) == n &&
		    strncasecmp(p, mechs[i].name, n) == 0) {
			t->kind = mechs[i].kind;
			found = true;
		}
	if (!found || (n < len && p[n] != ':' && p[n] != '/')) {
		*error_r = "unknown mechanism";
		return -1;
	}
	struct slice arg = {p + n, len - n};
	bool has_colon = arg.len > 0 && arg.ptr[0] == ':';
	if (has_colon) {
		arg.ptr++;
		arg.len--;
	}
	switch (t->kind) {
	case SPF_T_ALL:
		if (arg.len || has_colon)
			goto bad;
		return 0;
	case SPF_T_INCLUDE:
	case SPF_T_EXISTS:
		if (!has_colon || !domain_spec_valid(arg))
			goto bad;
		t->domain = arg;
		return 0;
	case SPF_T_A:
	case SPF_T_MX:
		if (dual_cidr(&arg, t, true, true) < 0)
			goto bad;
		/* past its CIDR, a and mx take ptr's optional ":domain-spec" */
		/* fall through */
	case SPF_T_PTR:
		if (has_colon ? !domain_spec_valid(arg) : arg.len > 0)
			goto bad;
		t->domain = arg;
		return 0;
	case SPF_T_IP4:
	case SPF_T_IP6: {
		bool v4 = t->kind == SPF_T_IP4;
		if (!has_colon ||
		    ip_cidr(&arg, v4 ? &t->cidr4 : &t->cidr6, v4 ? 32 : 128) < 0)
			goto bad;
		if (t->cidr4 < 0)
			t->cidr4 = 32;
		if (t->cidr6 < 0)
			t->cidr6 = 128;
		char ip[64];
		if (arg.len == 0 || arg.len >= sizeof ip)
			goto bad;
		memcpy(ip, arg.ptr, arg.len);
		ip[arg.len] = '\0';
		if (inet_pton(v4 ? AF_INET : AF_INET6, ip, t->ip) != 1)
			goto bad;
		return 0;
	}
	default:
		break;
	}
bad:
	*error_r = "bad mechanism argument";
	return -1;
}

int trust_spf_record_parse(const char *rec, size_t len,
			   struct trust_spf_record *out, const char **error_r)
{
	memset(out, 0, sizeof *out);
	out->redirect = out->exp = -1;
	if (len < 6 || strncasecmp(rec, "v=spf1", 6) != 0 ||
	    (len > 6 && rec[6] != ' '))
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)rec[i] < 0x20 || (unsigned char)rec[i] > 0x7e) {
			*error_r = "control or non-ASCII character in record";
			return -1;
		}
	size_t i = 6;
	while (i < len) {
		while (i < len && rec[i] == ' ')
			i++;
		if (i >= len)
			break;
		size_t s = i;
		while (i < len && rec[i] != ' ')
			i++;
		const char *p = rec + s;
		size_t n = i - s;
		if (out->n_terms >= TRUST_SPF_TERMS_MAX) {
			*error_r = "too many terms";
			return -1;
		}
		struct trust_spf_term *t = &out->terms[out->n_terms];
		memset(t, 0, sizeof *t);
		t->cidr4 = t->cidr6 = -1;
		/* modifier: name "=" macro-string, name = ALPHA *(ALPHA/DIGIT/-/_/.) */
		size_t k = 0;
		if (is_alpha(p[0])) {
			k = 1;
			while (k < n && (is_alnum(p[k]) || strchr("-_.", p[k])))
				k++;
		}
		if (k > 0 && k < n && p[k] == '=') {
			struct slice v = {p + k + 1, n - k - 1};
			if (k == 8 && strncasecmp(p, "redirect", 8) == 0) {
				if (out->redirect >= 0 || !domain_spec_valid(v))
					goto modbad;
				t->kind = SPF_T_REDIRECT;
				out->redirect = (int)out->n_terms;
			} else if (k == 3 && strncasecmp(p, "exp", 3) == 0) {
				if (out->exp >= 0 || !domain_spec_valid(v))
					goto modbad;
				t->kind = SPF_T_EXP;
				out->exp = (int)out->n_terms;
			} else {
				if (!trust_spf_macro_valid(v, false))
					goto modbad;
				t->kind = SPF_T_UNKNOWN_MOD;
			}
			t->domain = v;
		} else if (parse_directive(p, n, t, error_r) < 0) {
			return -1;
		}
		out->n_terms++;
		continue;
modbad:
		*error_r = "bad modifier";
		return -1;
	}
	return 1;
}
