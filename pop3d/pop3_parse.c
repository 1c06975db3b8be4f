/*
 * pop3_parse.c - POP3 command line syntax (see pop3_parse.h).
 */
#include "pop3_parse.h"

#include "pop3_session.h"

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int pop3_parse_line(struct slice line, struct pop3_cmdline *out,
		    const char **error_r)
{
	size_t i = 0;
	for (size_t k = 0; k < line.len; k++) {
		if (is_ctl((unsigned char)line.ptr[k])) {
			*error_r = "control character in command";
			return -1;
		}
	}
	while (i < line.len && line.ptr[i] != ' ') {
		char c = line.ptr[i];
		if (i >= POP3_KEYWORD_MAX || !((c >= 'A' && c <= 'Z') ||
					       (c >= 'a' && c <= 'z'))) {
			*error_r = "unknown command";
			return -1;
		}
		out->keyword[i] = (char)(c >= 'a' ? c - 'a' + 'A' : c);
		i++;
	}
	if (i == 0) {
		*error_r = "empty command";
		return -1;
	}
	out->keyword[i] = '\0';
	if (i < line.len)
		i++; /* the separating space */
	out->rest.ptr = line.ptr + i;
	out->rest.len = line.len - i;
	return 0;
}

int pop3_parse_args(struct slice rest, struct slice *argv, size_t max)
{
	size_t n = 0, i = 0;
	while (i < rest.len) {
		while (i < rest.len && rest.ptr[i] == ' ')
			i++;
		if (i == rest.len)
			break;
		size_t start = i;
		while (i < rest.len && rest.ptr[i] != ' ')
			i++;
		if (n == max)
			return -1;
		argv[n].ptr = rest.ptr + start;
		argv[n].len = i - start;
		n++;
	}
	return (int)n;
}

static int parse_digits(struct slice s, uint32_t max, uint32_t *n_r)
{
	uint64_t v = 0;
	if (s.len == 0 || s.len > 10)
		return -1;
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	if (v > max)
		return -1;
	*n_r = (uint32_t)v;
	return 0;
}

int pop3_parse_msgnum(struct slice s, uint32_t *n_r)
{
	uint32_t v;
	if (parse_digits(s, POP3_MAILDROP_MAX, &v) < 0 || v == 0)
		return -1;
	*n_r = v;
	return 0;
}

int pop3_parse_count(struct slice s, uint32_t *n_r)
{
	return parse_digits(s, 0x7fffffffu, n_r);
}


