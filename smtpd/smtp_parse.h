/*
 * smtp_parse.h - the SMTP command line, the MAIL/RCPT path and its ESMTP
 * parameters, and SASL base64 (RFC 5321 4.1.1-4.1.2, RFC 1870, 6152, 6531,
 * 4954).
 *
 * SECURITY: everything here reads bytes straight from the network. Parsers
 * work on non-owning slices of one complete command line (at most
 * AUTH_LINE_MAX bytes), never write outside the caller's fixed structs, and
 * classify every classic relay trick (source routes, '%', '!', quoted local
 * parts, address literals) separately from plain syntax errors so the
 * session can refuse them with 554 5.7.1 and count them.
 */
#ifndef MAILROOM_SMTP_PARSE_H
#define MAILROOM_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/addr.h"
#include "../common/buf.h"
#include "smtp_limits.h"

/* A command line split into its verb and the argument text after it. */
struct smtp_cmdline {
	struct slice verb; /* letters only, 1..SMTP_VERB_MAX */
	struct slice args; /* after one SP, trailing SP removed; may be empty */
};
#define SMTP_VERB_MAX 16

enum smtp_cmdline_result {
	SMTP_CMDLINE_OK = 0,
	SMTP_CMDLINE_EMPTY,   /* blank line */
	SMTP_CMDLINE_CONTROL, /* NUL, CR or another control byte inside */
	SMTP_CMDLINE_BAD_VERB,
};
/* Split one line (without its line end). */
enum smtp_cmdline_result smtp_cmdline_parse(struct slice line,
					     struct smtp_cmdline *out);

struct smtp_param {
	struct slice key;
	struct slice value; /* empty when there was no '=' */
	bool has_value;
};

enum smtp_path_result {
	SMTP_PATH_OK = 0,    /* addr holds the normalised mailbox */
	SMTP_PATH_NULL,      /* <> */
	SMTP_PATH_POSTMASTER, /* <postmaster> without a domain (RCPT only) */
	SMTP_PATH_SYNTAX,    /* not a path at all */
	SMTP_PATH_RELAY,     /* source route, %, !, quoted local part, [literal] */
	SMTP_PATH_BAD_ADDR,  /* a path, but the mailbox is refused by addr.h */
	SMTP_PATH_PARAMS,    /* parameter syntax (or too many) */
};

struct smtp_path {
	struct addr addr;
	struct smtp_param params[SMTP_PARAMS_MAX];
	size_t n_params;
	const char *error; /* for SYNTAX/RELAY/BAD_ADDR/PARAMS, static text */
	/* The mailbox as sent had an octet >= 0x80 (UTF-8 local part or
	 * U-label domain): it needs SMTPUTF8 (RFC 6531 3.7.4.1) even when
	 * ADDR_ALLOW_ULABEL made addr.domain ASCII. */
	bool non_ascii;
};

/*
 * Parse "FROM:<path> params" or "TO:<path> params" (prefix is "FROM:" or
 * "TO:", matched case-insensitively; spaces after the colon are tolerated).
 * addr_flags are addr.h's (ADDR_ALLOW_UTF8 after SMTPUTF8; with
 * ADDR_ALLOW_ULABEL a U-label domain comes back as its A-labels). Param
 * slices point into args.
 */
enum smtp_path_result smtp_path_parse(struct slice args, const char *prefix,
				      int addr_flags, struct smtp_path *out);

/* Strict decimal of at most 18 digits into *v_r; -1 otherwise. */
int smtp_parse_decimal(struct slice s, int64_t *v_r)
	__attribute__((warn_unused_result));

/* SASL base64 is common/base64.h's strict decoder. */
#include "../common/base64.h"

#endif
