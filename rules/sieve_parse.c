/*
 * sieve_parse.c - RFC 5228 lexical structure and grammar (section 8) into
 * a syntax tree. No semantics here: sieve_import.c decides what is
 * supported.
 *
 * Tokens: identifiers, :tags, numbers with K/M/G, "quoted strings" (\"
 * and \\ escapes, line breaks allowed), text: multi-line strings ending
 * at a line with a single '.', with dot-stuffing undone), # and
 * bracketed comments, and [ ] ( ) { } , ;. A "# rule:[Name]" comment is
 * remembered and attached to the next command (Roundcube's convention
 * for rule names). Input is untrusted: every string, list, nesting level
 * and node is capped, memory comes from one bounded arena, and every
 * error names its line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve_int.h"

/* ---- arena ----------------------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[]; /* aligned storage */
};

struct sieve_arena {
	struct chunk *head;
	size_t total;
};

static void *arena_alloc(struct sieve_arena *a, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (a->head == NULL || a->head->size - a->head->used < n) {
		size_t size = n > 65536 ? n : 65536;
		if (a->total + size > SIEVE_ARENA_MAX)
			return NULL;
		struct chunk *c = malloc(sizeof *c + size);
		if (c == NULL)
			return NULL;
		c->next = a->head;
		c->used = 0;
		c->size = size;
		a->head = c;
		a->total += size;
	}
	void *p = (char *)a->head->data + a->head->used;
	a->head->used += n;
	memset(p, 0, n);
	return p;
}

/* Grow an array of pointers/structs kept in the arena (old copy wasted;
 * lists are capped at SIEVE_LIST_MAX so the waste is bounded). */
static void *arena_grow(struct sieve_arena *a, void *old, size_t n, size_t elem)
{
	void *p = arena_alloc(a, (n + 1) * elem);
	if (p && old && n)
		memcpy(p, old, n * elem);
	return p;
}

void sieve_script_free(struct sieve_script *s)
{
	if (s->arena) {
		struct chunk *c = s->arena->head;
		while (c) {
			struct chunk *next = c->next;
			free(c);
			c = next;
		}
		free(s->arena);
	}
	memset(s, 0, sizeof *s);
}

/* ---- lexer ------------------------------------------------------------- */

enum tok {
	T_EOF,
	T_IDENT,
	T_TAG,
	T_NUMBER,
	T_STRING,
	T_PUNCT, /* one of [ ] ( ) { } , ; in p->punct */
};

struct parser {
	const char *s, *end;
	int line;
	struct sieve_arena *arena;
	char *err;
	size_t errlen;
	bool failed;
	size_t nodes;
	/* current token */
	enum tok tok;
	int tok_line;
	char punct;
	char *text; /* ident/tag/string value (arena) */
	int64_t num;
	char *comment; /* pending "rule:" comment */
};

__attribute__((format(printf, 3, 4))) static int fail(struct parser *p,
						      int line,
						      const char *fmt, ...)
{
	if (p->failed)
		return -1;
	p->failed = true;
	int n = snprintf(p->err, p->errlen, "line %d: ", line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static char *arena_strndup(struct parser *p, const char *s, size_t n)
{
	char *d = arena_alloc(p->arena, n + 1);
	if (d == NULL) {
		fail(p, p->line, "script too large");
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A "# rule:[Name]" comment: keep Name for the next command. */
static void note_comment(struct parser *p, const char *c, size_t n)
{
	while (n > 0 && (*c == ' ' || *c == '\t'))
		c++, n--;
	if (n >= 6 && strncmp(c, "rule:[", 6) == 0) {
		const char *close = memchr(c + 6, ']', n - 6);
		size_t len = close ? (size_t)(close - c - 6) : n - 6;
		/* "]" inside a name: take up to the last ']' */
		for (size_t i = n; i > 6; i--)
			if (c[i - 1] == ']') {
				len = i - 1 - 6;
				break;
			}
		p->comment = arena_strndup(p, c + 6, len);
	}
}

/* Quoted string body after the opening quote. The first pass finds the
 * end, so the arena holds exactly the string. */
static int lex_quoted(struct parser *p)
{
	int start = p->line;
	size_t n = 0;
	const char *q = p->s;
	while (q < p->end && *q != '"') {
		if (*q == '\\' && q + 1 < p->end)
			q++;
		q++;
		n++;
	}
	if (q >= p->end)
		return fail(p, start, "string not closed");
	if (n > SIEVE_STRING_MAX)
		return fail(p, start, "string longer than %d octets",
			    SIEVE_STRING_MAX);
	char *buf = arena_alloc(p->arena, n + 1);
	size_t o = 0;
	if (buf == NULL)
		return fail(p, p->line, "script too large");
	while (*p->s != '"') {
		char c = *p->s++;
		if (c == '\\')
			c = *p->s++; /* \" and \\; any other \x is x (8.1) */
		if (c == '\n')
			p->line++;
		if (c == '\0')
			return fail(p, p->line, "NUL in a string");
		buf[o++] = c;
	}
	p->s++;
	buf[o] = '\0';
	p->text = buf;
	p->tok = T_STRING;
	return 0;
}

/* text: ... CRLF "." CRLF (after "text:" and optional comment/space). */
static int lex_multiline(struct parser *p)
{
	int start = p->line;
	while (p->s < p->end && (*p->s == ' ' || *p->s == '\t'))
		p->s++;
	if (p->s < p->end && *p->s == '#') { /* hash comment allowed */
		while (p->s < p->end && *p->s != '\n')
			p->s++;
	}
	if (p->s < p->end && *p->s == '\r')
		p->s++;
	if (p->s >= p->end || *p->s != '\n')
		return fail(p, start, "text: must end its line");
	p->s++;
	p->line++;
	/* output is at most twice the input (LF -> CRLF), and capped */
	size_t room = 2 * (size_t)(p->end - p->s) + 3;
	if (room > SIEVE_STRING_MAX + 1)
		room = SIEVE_STRING_MAX + 1;
	char *buf = arena_alloc(p->arena, room);
	size_t o = 0;
	if (buf == NULL)
		return fail(p, p->line, "script too large");
	for (;;) {
		if (p->s >= p->end)
			return fail(p, start, "text: not ended by a '.' line");
		const char *nl = memchr(p->s, '\n', (size_t)(p->end - p->s));
		const char *le = nl ? nl : p->end;
		size_t n = (size_t)(le - p->s);
		if (n > 0 && p->s[n - 1] == '\r')
			n--;
		const char *line = p->s;
		p->s = nl ? nl + 1 : p->end;
		p->line++;
		if (n == 1 && line[0] == '.')
			break;
		if (n > 0 && line[0] == '.') { /* dot-stuffing */
			line++;
			n--;
		}
		if (o + n + 2 > room - 1)
			return fail(p, start, "string longer than %d octets",
				    SIEVE_STRING_MAX);
		if (memchr(line, '\0', n))
			return fail(p, p->line - 1, "NUL in a string");
		memcpy(buf + o, line, n);
		o += n;
		buf[o++] = '\r';
		buf[o++] = '\n';
	}
	buf[o] = '\0';
	p->text = buf;
	p->tok = T_STRING;
	return 0;
}

static int next(struct parser *p)
{
	if (p->failed)
		return -1;
	for (;;) { /* white space and comments */
		while (p->s < p->end &&
		       (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' ||
			*p->s == '\n')) {
			if (*p->s == '\n')
				p->line++;
			p->s++;
		}
		if (p->s < p->end && *p->s == '#') {
			const char *c = p->s + 1;
			while (p->s < p->end && *p->s != '\n')
				p->s++;
			size_t n = (size_t)(p->s - c);
			if (n > 0 && c[n - 1] == '\r')
				n--;
			note_comment(p, c, n);
			continue;
		}
		if (p->end - p->s >= 2 && p->s[0] == '/' && p->s[1] == '*') {
			int start = p->line;
			p->s += 2;
			while (p->end - p->s >= 2 && !(p->s[0] == '*' && p->s[1] == '/')) {
				if (*p->s == '\n')
					p->line++;
				p->s++;
			}
			if (p->end - p->s < 2)
				return fail(p, start, "comment not closed");
			p->s += 2;
			continue;
		}
		break;
	}
	p->tok_line = p->line;
	if (p->s >= p->end) {
		p->tok = T_EOF;
		return 0;
	}
	char c = *p->s;
	if (c == '"') {
		p->s++;
		return lex_quoted(p);
	}
	if (strchr("[](){},;", c) && c != '\0') {
		p->s++;
		p->tok = T_PUNCT;
		p->punct = c;
		return 0;
	}
	if (c == ':' || is_alpha(c)) {
		const char *b = c == ':' ? p->s + 1 : p->s;
		const char *e = b;
		while (e < p->end && (is_alpha(*e) || is_digit(*e)))
			e++;
		if (e == b)
			return fail(p, p->line, "':' without a tag name");
		if (e - b > 64)
			return fail(p, p->line, "identifier too long");
		/* text: starts a multi-line string */
		if (c != ':' && e - b == 4 && strncmp(b, "text", 4) == 0 &&
		    e < p->end && *e == ':') {
			p->s = e + 1;
			return lex_multiline(p);
		}
		p->text = arena_strndup(p, b, (size_t)(e - b));
		if (p->text == NULL)
			return -1;
		for (char *t = p->text; *t; t++) /* identifiers: any case */
			if (*t >= 'A' && *t <= 'Z')
				*t = (char)(*t + 32);
		p->tok = c == ':' ? T_TAG : T_IDENT;
		p->s = e;
		return 0;
	}
	if (is_digit(c)) {
		int64_t v = 0;
		while (p->s < p->end && is_digit(*p->s)) {
			if (v > (INT64_MAX - 9) / 10)
				return fail(p, p->line, "number too large");
			v = v * 10 + (*p->s++ - '0');
		}
		int64_t mult = 1;
		if (p->s < p->end) {
			switch (*p->s) {
			case 'K': case 'k': mult = 1024; break;
			case 'M': case 'm': mult = 1024 * 1024; break;
			case 'G': case 'g': mult = 1024LL * 1024 * 1024; break;
			default: break;
			}
			if (mult > 1)
				p->s++;
		}
		if (v > INT64_MAX / mult)
			return fail(p, p->line, "number too large");
		p->num = v * mult;
		p->tok = T_NUMBER;
		return 0;
	}
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return fail(p, p->line, "unexpected '%c'", c);
	return fail(p, p->line, "unexpected byte 0x%02x",
		    (unsigned)(unsigned char)c);
}

static bool at_punct(struct parser *p, char c)
{
	return p->tok == T_PUNCT && p->punct == c;
}

/* ---- grammar ------------------------------------------------------------- */

static struct sieve_node *parse_test(struct parser *p, int depth);
static int parse_commands(struct parser *p, int depth, bool in_block,
			  struct sieve_node ***cmds_r, size_t *n_r);

static struct sieve_node *new_node(struct parser *p)
{
	if (++p->nodes > SIEVE_NODES_MAX) {
		fail(p, p->tok_line, "script has too many commands and tests");
		return NULL;
	}
	struct sieve_node *n = arena_alloc(p->arena, sizeof *n);
	if (n == NULL)
		fail(p, p->tok_line, "script too large");
	return n;
}

/* string-list: "a" or [ "a", "b" ] */
static int parse_strings(struct parser *p, struct sieve_arg *a)
{
	a->kind = SIEVE_ARG_STRINGS;
	a->line = p->tok_line;
	if (p->tok == T_STRING) {
		a->strs = arena_alloc(p->arena, sizeof(char *));
		if (a->strs == NULL)
			return fail(p, p->tok_line, "script too large");
		a->strs[0] = p->text;
		a->n = 1;
		return next(p);
	}
	a->is_list = true;
	if (next(p) != 0)
		return -1;
	for (;;) {
		if (p->tok != T_STRING)
			return fail(p, p->tok_line, "expected a string in the list");
		if (a->n >= SIEVE_LIST_MAX)
			return fail(p, p->tok_line, "list longer than %d strings",
				    SIEVE_LIST_MAX);
		char **s = arena_grow(p->arena, a->strs, a->n, sizeof(char *));
		if (s == NULL)
			return fail(p, p->tok_line, "script too large");
		a->strs = s;
		a->strs[a->n++] = p->text;
		if (next(p) != 0)
			return -1;
		if (at_punct(p, ']'))
			return next(p);
		if (!at_punct(p, ','))
			return fail(p, p->tok_line, "expected ',' or ']' in a list");
		if (next(p) != 0)
			return -1;
	}
}

/* arguments: *argument [ test / test-list ] */
static int parse_arguments(struct parser *p, struct sieve_node *n, int depth)
{
	for (;;) {
		struct sieve_arg a;
		memset(&a, 0, sizeof a);
		a.line = p->tok_line;
		if (p->tok == T_TAG) {
			a.kind = SIEVE_ARG_TAG;
			a.tag = p->text;
			if (next(p) != 0)
				return -1;
		} else if (p->tok == T_NUMBER) {
			a.kind = SIEVE_ARG_NUMBER;
			a.num = p->num;
			if (next(p) != 0)
				return -1;
		} else if (p->tok == T_STRING || at_punct(p, '[')) {
			if (parse_strings(p, &a) != 0)
				return -1;
		} else {
			break;
		}
		if (n->nargs >= SIEVE_LIST_MAX)
			return fail(p, a.line, "too many arguments");
		struct sieve_arg *args =
			arena_grow(p->arena, n->args, n->nargs, sizeof *args);
		if (args == NULL)
			return fail(p, a.line, "script too large");
		n->args = args;
		n->args[n->nargs++] = a;
	}
	if (p->tok == T_IDENT) { /* one test */
		struct sieve_node *t = parse_test(p, depth + 1);
		if (t == NULL)
			return -1;
		n->tests = arena_alloc(p->arena, sizeof *n->tests);
		if (n->tests == NULL)
			return fail(p, p->tok_line, "script too large");
		n->tests[0] = t;
		n->ntests = 1;
	} else if (at_punct(p, '(')) { /* test-list */
		n->test_list = true;
		if (next(p) != 0)
			return -1;
		for (;;) {
			struct sieve_node *t = parse_test(p, depth + 1);
			if (t == NULL)
				return -1;
			if (n->ntests >= SIEVE_LIST_MAX)
				return fail(p, t->line, "too many tests in a list");
			struct sieve_node **ts = arena_grow(p->arena, n->tests,
							    n->ntests, sizeof *ts);
			if (ts == NULL)
				return fail(p, t->line, "script too large");
			n->tests = ts;
			n->tests[n->ntests++] = t;
			if (at_punct(p, ')'))
				return next(p);
			if (!at_punct(p, ','))
				return fail(p, p->tok_line,
					    "expected ',' or ')' in a test list");
			if (next(p) != 0)
				return -1;
		}
	}
	return 0;
}

static struct sieve_node *parse_test(struct parser *p, int depth)
{
	if (depth > SIEVE_DEPTH_MAX) {
		fail(p, p->tok_line, "tests nested deeper than %d", SIEVE_DEPTH_MAX);
		return NULL;
	}
	if (p->tok != T_IDENT) {
		fail(p, p->tok_line, "expected a test");
		return NULL;
	}
	struct sieve_node *n = new_node(p);
	if (n == NULL)
		return NULL;
	n->name = p->text;
	n->line = p->tok_line;
	if (next(p) != 0 || parse_arguments(p, n, depth) != 0)
		return NULL;
	return n;
}

static struct sieve_node *parse_command(struct parser *p, int depth)
{
	struct sieve_node *n = new_node(p);
	if (n == NULL)
		return NULL;
	n->name = p->text;
	n->line = p->tok_line;
	n->comment = p->comment;
	p->comment = NULL;
	if (next(p) != 0 || parse_arguments(p, n, depth) != 0)
		return NULL;
	if (at_punct(p, ';')) {
		if (next(p) != 0)
			return NULL;
		return n;
	}
	if (at_punct(p, '{')) {
		if (depth >= SIEVE_DEPTH_MAX) {
			fail(p, p->tok_line, "blocks nested deeper than %d",
			     SIEVE_DEPTH_MAX);
			return NULL;
		}
		n->has_block = true;
		if (next(p) != 0 ||
		    parse_commands(p, depth + 1, true, &n->block, &n->nblock) != 0)
			return NULL;
		return n; /* parse_commands consumed the '}' */
	}
	fail(p, p->tok_line, "expected ';' or '{' after '%s'", n->name);
	return NULL;
}

static int parse_commands(struct parser *p, int depth, bool in_block,
			  struct sieve_node ***cmds_r, size_t *n_r)
{
	struct sieve_node **cmds = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (p->tok == T_EOF) {
			if (in_block)
				return fail(p, p->tok_line, "'{' not closed");
			break;
		}
		if (at_punct(p, '}')) {
			if (!in_block)
				return fail(p, p->tok_line, "'}' without '{'");
			if (next(p) != 0)
				return -1;
			break;
		}
		if (p->tok != T_IDENT)
			return fail(p, p->tok_line, "expected a command");
		struct sieve_node *c = parse_command(p, depth);
		if (c == NULL)
			return -1;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct sieve_node **nc =
				arena_alloc(p->arena, ncap * sizeof *nc);
			if (nc == NULL)
				return fail(p, c->line, "script too large");
			if (n)
				memcpy(nc, cmds, n * sizeof *nc);
			cmds = nc;
			cap = ncap;
		}
		cmds[n++] = c;
	}
	*cmds_r = cmds;
	*n_r = n;
	return 0;
}

int sieve_parse(const char *script, size_t len, struct sieve_script *out,
		char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->arena = calloc(1, sizeof *out->arena);
	if (out->arena == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct parser p = {
		.s = script,
		.end = script + len,
		.line = 1,
		.arena = out->arena,
		.err = err,
		.errlen = errlen,
	};
	if (next(&p) != 0 ||
	    parse_commands(&p, 0, false, &out->cmds, &out->ncmds) != 0)
		return -1;
	return 0;
}
