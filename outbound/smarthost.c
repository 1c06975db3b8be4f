/*
 * smarthost.c - which smarthost is in force, read again at every queue run
 * so a smarthost the admin sets in the web panel is used without a restart
 * of mailroom-queued.
 *
 * [smtp] smarthost in the config file wins (the panel says so); when it is
 * empty the panel's (or a reseller preseed's) settings rows are used. The
 * password is a secret: it is compared and copied here, never logged, and
 * wiped from the stack copies.
 */
#include <string.h>

#include "outbound_int.h"

/* One setting into dst: 1 set, 0 not set, -1 too long, -2 store error. */
static int setting(struct store *st, const char *key, char *dst, size_t len)
{
	int rc = store_setting_get(st, key, dst, len);
	if (rc == STORE_OK)
		return 1;
	dst[0] = '\0';
	if (rc == STORE_NOTFOUND)
		return 0;
	return rc == STORE_INVALID ? -1 : -2;
}

enum ob_smarthost_load ob_smarthost_load(const struct config *cfg,
					 struct store *st,
					 struct ob_smarthost *out)
{
	struct ob_smarthost sh;
	memset(&sh, 0, sizeof sh);
	if (cfg->smarthost[0] != '\0') {
		memcpy(sh.host, cfg->smarthost, sizeof sh.host);
		memcpy(sh.user, cfg->smarthost_user, sizeof sh.user);
		memcpy(sh.password, cfg->smarthost_password, sizeof sh.password);
		sh.from_config = true;
		*out = sh;
		explicit_bzero(&sh, sizeof sh);
		return OB_SH_LOADED;
	}
	int h = setting(st, "smarthost.host", sh.host, sizeof sh.host);
	int u = h == 1 && sh.host[0] != '\0'
			? setting(st, "smarthost.user", sh.user, sizeof sh.user)
			: 0;
	int p = h == 1 && sh.host[0] != '\0'
			? setting(st, "smarthost.password", sh.password,
				  sizeof sh.password)
			: 0;
	if (h == -2 || u == -2 || p == -2) {
		explicit_bzero(&sh, sizeof sh);
		return OB_SH_UNREADABLE;
	}
	if (h < 0 || u < 0 || p < 0) {
		explicit_bzero(&sh, sizeof sh);
		sh.bad_settings = true;
	}
	*out = sh;
	explicit_bzero(&sh, sizeof sh);
	return OB_SH_LOADED;
}

bool ob_smarthost_same(const struct ob_smarthost *a,
		       const struct ob_smarthost *b)
{
	return strcmp(a->host, b->host) == 0 && strcmp(a->user, b->user) == 0 &&
	       strcmp(a->password, b->password) == 0 &&
	       a->bad_settings == b->bad_settings;
}
