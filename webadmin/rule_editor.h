/*
 * rule_editor.h - the "Rules" page of the web admin (issue 7): whose rules
 * a request may edit, and the page with what the last POST left to show
 * (the add form's values and errors, the try-it result, an import error).
 *
 * Shared by page_rule_editor.c (the page and the add form) and
 * page_rule_actions.c (enable, move, delete, try, Sieve import/export).
 */
#ifndef MAILROOM_WEB_RULE_EDITOR_H
#define MAILROOM_WEB_RULE_EDITOR_H

#include <stdint.h>

#include "web.h"

#define RULE_FORM_CONDS 3
#define RULE_FORM_ERR_MAX 300

/* Whose list: account_id 0 is the server-wide one. */
struct rule_scope {
	int64_t account_id;
	char address[ADDR_MAX + 1]; /* "" for server-wide */
};

/* What the page shows besides the list; NULL pointers show nothing. */
struct rule_page_state {
	const struct form *form; /* refill the add form from this */
	char err_name[RULE_FORM_ERR_MAX];
	char err_cond[RULE_FORM_CONDS][RULE_FORM_ERR_MAX];
	char err_action[RULE_FORM_ERR_MAX];
	char err_rule[RULE_FORM_ERR_MAX]; /* librules' verdict on the whole */
	const char *try_message;  /* the pasted message, shown again */
	const char *try_result;   /* rules_try's text */
	const char *import_script;
	char err_import[RULE_FORM_ERR_MAX];
};

/*
 * Resolve the list the request names (query "account" on GET, field
 * "account" on POST; "" or "server" is server-wide for admins, an
 * account's own list for everyone else) and check the user may edit it.
 * 0, or -1 after an error page (403/404) was written.
 */
int rule_scope_get(struct web_req *r, struct rule_scope *s);
/* The Rules page for s with st's extras (status 200 unless set before). */
void rule_page(struct web_req *r, const struct rule_scope *s,
	       const struct rule_page_state *st);
/* Back to the page of s with a flash message. */
void rule_redirect(struct web_req *r, const struct rule_scope *s,
		   const char *kind, const char *msg);
/* The account name for audit details: the address or "server-wide". */
const char *rule_scope_name(const struct rule_scope *s);

#endif
