/*
 * page_import.c - create many accounts at once from CSV pasted into a
 * form (a spreadsheet's "save as CSV" of the staff list).
 *
 * One account per line: address, full name, mailbox limit in MB, password.
 * Only the address is required; an empty password gets a generated one,
 * shown once in the result table. A first line starting with "address" or
 * "email" is a header and is skipped. Every line is checked and reported
 * on its own; a bad line does not stop the others. Domain admins may only
 * create accounts in their domain, as on the accounts page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "../common/addr.h"
#include "web.h"

#define IMPORT_LINES_MAX 1000
#define IMPORT_FIELDS 4
#define IMPORT_PASSWORD_LEN 16

void h_import_get(struct web_req *r)
{
	struct html *h = &r->out;
	page_begin(r, "Add many accounts");
	html_raw(h, "<section><p>Paste one employee per line: <code>address, "
		    "full name, mailbox limit in MB, password</code>. Only the "
		    "address is needed; people without a password get one made "
		    "up, shown once on the next page.</p>"
		    "<form class=\"stack\" method=\"post\" action=\"/accounts/import\">");
	page_csrf(r);
	html_raw(h, "<div><label for=\"csv\">Employees (CSV)</label>"
		    "<textarea id=\"csv\" name=\"csv\" rows=\"10\" required "
		    "placeholder=\"anna@example.com, Anna Berg, 500&#10;"
		    "ben@example.com, Ben Ortiz\"></textarea></div>"
		    "<div><button type=\"submit\">Create accounts</button></div>"
		    "</form></section>");
	page_end(r);
}

/* Create one account from a split line; why_r gets a reason on failure. */
static bool import_one(struct web_req *r, char **f, int nf, char *addr_r,
		       size_t addrlen, char *pw_r, size_t pwlen, const char **why_r)
{
	struct addr a;
	const char *why;
	snprintf(addr_r, addrlen, "%s", f[0]);
	if (addr_parse(f[0], strlen(f[0]), 0, &a, &why) != 0) {
		*why_r = "not an email address";
		return false;
	}
	snprintf(addr_r, addrlen, "%s", a.full);
	if (!web_can_manage_domain(&r->user, a.domain)) {
		*why_r = "not a domain you manage";
		return false;
	}
	const char *name = nf > 1 ? f[1] : "";
	if (strlen(name) > DISPLAY_NAME_MAX) {
		*why_r = "name too long";
		return false;
	}
	int64_t quota = 0;
	if (nf > 2 && f[2][0] != '\0') {
		char *end;
		long long mb = strtoll(f[2], &end, 10);
		if (*end != '\0' || mb < 0 || mb > 100LL * 1024 * 1024) {
			*why_r = "mailbox limit must be a whole number of MB";
			return false;
		}
		quota = mb * 1024 * 1024;
	}
	const char *pw = nf > 3 ? f[3] : "";
	pw_r[0] = '\0';
	if (pw[0] == '\0') {
		if (web_random_password(pw_r, pwlen, IMPORT_PASSWORD_LEN) != 0) {
			*why_r = "no randomness";
			return false;
		}
		pw = pw_r;
	} else if (strlen(pw) < 8 || strlen(pw) > PASSWORD_MAX) {
		*why_r = "password needs at least 8 characters";
		return false;
	}
	char hash[PASSWORD_HASH_MAX + 1];
	if (store_password_hash(pw, hash, sizeof hash) != STORE_OK) {
		*why_r = "could not hash the password";
		return false;
	}
	int rc = store_account_add(r->app->store, a.full, hash, STORE_ROLE_USER,
				   name, quota);
	if (rc != STORE_OK) {
		*why_r = rc == STORE_EXISTS ? "already exists"
			 : rc == STORE_INVALID ? "the domain is not one of ours"
					       : web_store_error(r->app, rc);
		return false;
	}
	web_audit(r, "account-add", "%s (import) quota=%lld", a.full,
		  (long long)quota);
	return true;
}

void h_import_post(struct web_req *r)
{
	const char *csv = web_field(r, "csv");
	if (csv == NULL || *csv == '\0') {
		web_redirect_msg(r, "/accounts/import", "error", "Paste at least one line.");
		return;
	}
	char *copy = strdup(csv);
	if (copy == NULL) {
		web_error_page(r, 500, "Out of memory.");
		return;
	}
	struct html *h = &r->out;
	page_begin(r, "Add many accounts");
	html_raw(h, "<p class=\"flash ok\">Write down the passwords made up "
		    "below now: they will not be shown again.</p>"
		    "<div class=\"table-wrap\"><table><thead><tr><th>Line</th>"
		    "<th>Address</th><th>Result</th><th>Password</th></tr>"
		    "</thead><tbody>");
	int lineno = 0, made = 0, failed = 0;
	char *next = copy;
	while (next != NULL) {
		char *line = next;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		size_t len = strlen(line);
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		char *f[IMPORT_FIELDS + 1];
		int nf = csv_split(line, f, IMPORT_FIELDS + 1);
		if (nf == 1 && f[0][0] == '\0')
			continue; /* blank line */
		if (lineno == 1 && nf > 0 &&
		    (strcasecmp(f[0], "address") == 0 || strcasecmp(f[0], "email") == 0))
			continue;
		if (made + failed == IMPORT_LINES_MAX) {
			html_fmt(h, "<tr><td>%d</td><td></td><td><span class=\"badge "
				    "bad\">stopped</span> at most %d lines at a "
				    "time</td><td></td></tr>",
				 lineno, IMPORT_LINES_MAX);
			break;
		}
		char addr[ADDR_MAX + 1] = "", pw[IMPORT_PASSWORD_LEN + 1] = "";
		const char *why = "too many fields or an open quote";
		bool ok = nf > 0 && nf <= IMPORT_FIELDS &&
			  import_one(r, f, nf, addr, sizeof addr, pw, sizeof pw, &why);
		if (ok) {
			made++;
			html_fmt(h, "<tr><td>%d</td><td>%s</td><td><span class=\"badge "
				    "ok\">created</span></td><td><code>%s</code></td></tr>",
				 lineno, addr, pw[0] ? pw : "(as given)");
		} else {
			failed++;
			html_fmt(h, "<tr><td>%d</td><td>%s</td><td><span class=\"badge "
				    "bad\">not created</span> %s</td><td></td></tr>",
				 lineno, addr, why);
		}
		explicit_bzero(pw, sizeof pw);
	}
	html_fmt(h, "</tbody></table></div><p>%d created, %d not created. "
		    "<a href=\"/accounts\">Back to accounts</a></p>",
		 made, failed);
	page_end(r);
	explicit_bzero(copy, strlen(csv));
	free(copy);
}
