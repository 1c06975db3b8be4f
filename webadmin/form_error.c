/*
 * form_error.c - how a form shown again after a refused submission marks
 * the refused field (web.h): the input gets aria-invalid and names the
 * error paragraph below it with aria-describedby="<field>-err", so a
 * screen reader reads the reason with the field. One place for every page
 * with such a form (accounts, mail checks, outgoing mail).
 */
#include <string.h>

#include "web.h"

static bool is_refused(const char *refused, const char *error,
		       const char *field)
{
	return error != NULL && refused != NULL && strcmp(refused, field) == 0;
}

void form_field_error(struct html *h, const char *refused, const char *error,
		      const char *field)
{
	if (is_refused(refused, error, field))
		html_fmt(h, "<p class=\"field-error\" id=\"%R-err\" role=\"alert\">"
			    "%s</p>", field, error);
}

const char *form_invalid(const char *refused, const char *error,
			 const char *field)
{
	return is_refused(refused, error, field) ? " aria-invalid=\"true\"" : "";
}
