/*
 * settings.c - the trust checks' settings from the store's settings table
 * (keys listed in trust.h), so the web panel can change them and smtpd
 * picks them up without a config file edit. A bad value is reported by
 * key and its default kept; nothing here ever turns a check on that the
 * admin turned off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../store/store.h"
#include "trust.h"

void trust_settings_defaults(struct trust_settings *s)
{
	memset(s, 0, sizeof *s);
	s->spf = s->dkim = s->dmarc = true;
	s->greylist_delay = 300;
	s->spam_threshold_tenths = 50;
	s->reject_forged_own_domain = true;
	s->spamd_timeout = 10;
}

static int get(struct store *st, const char *key, char *dst, size_t len)
{
	int rc = store_setting_get(st, key, dst, len);
	if (rc == STORE_NOTFOUND)
		return 0;
	return rc == STORE_OK ? 1 : -1;
}

static int boolean(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "off") ||
		 !strcasecmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "5", "5.5", "12.0" -> tenths; -1 if not such a number in 0..1000. */
static int tenths(const char *v)
{
	char *end;
	long whole = strtol(v, &end, 10);
	if (end == v || whole < 0 || whole > 1000)
		return -1;
	long frac = 0;
	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9' || end[2] != '\0')
			return -1;
		frac = end[1] - '0';
		end += 2;
	}
	return *end == '\0' ? (int)(whole * 10 + frac) : -1;
}

int trust_settings_load(struct store *st, struct trust_settings *s,
			const char **error_r)
{
	static const struct {
		const char *key;
		size_t off;
	} bools[] = {
		{"trust.spf", offsetof(struct trust_settings, spf)},
		{"trust.dkim", offsetof(struct trust_settings, dkim)},
		{"trust.dmarc", offsetof(struct trust_settings, dmarc)},
		{"trust.reject_forged_own_domain",
		 offsetof(struct trust_settings, reject_forged_own_domain)},
	};
	char v[1024];
	int ret = 0, rc;
	trust_settings_defaults(s);
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
		if ((rc = get(st, bools[i].key, v, sizeof v)) < 0 ||
		    (rc == 1 && boolean(v, (bool *)((char *)s + bools[i].off)) < 0)) {
			*error_r = bools[i].key;
			ret = -1;
		}
	}
	if ((rc = get(st, "trust.dnsbl_zones", v, sizeof v)) < 0 ||
	    (rc == 1 && snprintf(s->dnsbl_zones, sizeof s->dnsbl_zones, "%s", v) >=
				(int)sizeof s->dnsbl_zones)) {
		*error_r = "trust.dnsbl_zones";
		s->dnsbl_zones[0] = '\0';
		ret = -1;
	}
	if ((rc = get(st, "trust.greylist_domains", v, sizeof v)) < 0 ||
	    (rc == 1 && snprintf(s->greylist_domains, sizeof s->greylist_domains, "%s",
				 v) >= (int)sizeof s->greylist_domains)) {
		*error_r = "trust.greylist_domains";
		s->greylist_domains[0] = '\0';
		ret = -1;
	}
	if ((rc = get(st, "trust.greylist_delay", v, sizeof v)) < 0) {
		*error_r = "trust.greylist_delay";
		ret = -1;
	} else if (rc == 1) {
		char *end;
		long d = strtol(v, &end, 10);
		if (end == v || *end != '\0' || d < 1 || d > 86400) {
			*error_r = "trust.greylist_delay";
			ret = -1;
		} else {
			s->greylist_delay = (int)d;
		}
	}
	if ((rc = get(st, "trust.spam_threshold", v, sizeof v)) < 0 ||
	    (rc == 1 && tenths(v) < 0)) {
		*error_r = "trust.spam_threshold";
		ret = -1;
	} else if (rc == 1) {
		s->spam_threshold_tenths = tenths(v);
	}
	if ((rc = get(st, "trust.spam_subject_tag", v, sizeof v)) < 0 ||
	    (rc == 1 && snprintf(s->spam_subject_tag, sizeof s->spam_subject_tag,
				 "%s", v) >= (int)sizeof s->spam_subject_tag)) {
		*error_r = "trust.spam_subject_tag";
		s->spam_subject_tag[0] = '\0';
		ret = -1;
	}
	/* spamd: an address the client can use as it is, or off */
	if ((rc = get(st, "trust.spamd", v, sizeof v)) < 0) {
		*error_r = "trust.spamd";
		ret = -1;
	} else if (rc == 1 && v[0] != '\0') {
		struct trust_spamd_addr a;
		const char *why;
		if (trust_spamd_addr_parse(v, &a, &why) < 0) {
			*error_r = "trust.spamd";
			ret = -1;
		} else {
			trust_spamd_addr_text(&a, s->spamd, sizeof s->spamd);
		}
	}
	if ((rc = get(st, "trust.spamd_timeout", v, sizeof v)) < 0) {
		*error_r = "trust.spamd_timeout";
		ret = -1;
	} else if (rc == 1) {
		char *end;
		long t = strtol(v, &end, 10);
		if (end == v || *end != '\0' || t < 1 || t > 300) {
			*error_r = "trust.spamd_timeout";
			ret = -1;
		} else {
			s->spamd_timeout = (int)t;
		}
	}
	return ret;
}
