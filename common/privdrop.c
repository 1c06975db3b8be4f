/*
 * privdrop.c - root -> the [server] user, checked (contract in privdrop.h).
 *
 * Order matters: the bounding set is trimmed while still root (it needs
 * CAP_SETPCAP), supplementary groups go before the gid (setgroups needs
 * CAP_SETGID), the gid before the uid (afterwards we could not change
 * it). PR_SET_KEEPCAPS carries the permitted set across setresuid only
 * when a port below 1024 is configured; the effective set is then reset
 * to exactly CAP_NET_BIND_SERVICE. Every step is verified afterwards
 * rather than trusted: ids, saved ids, the group list, that setuid(0)
 * and setgid(0) fail, and the capability sets the kernel reports.
 *
 * SECURITY: a failure anywhere is fatal (-1): a daemon that half-dropped
 * must not serve. Raw capget/capset keep libcap out of the dependencies.
 */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"

#define BIND_BIT (UINT32_C(1) << CAP_NET_BIND_SERVICE)
#define PROD_DATA_DIR "/var/lib/mailroom"

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	memset(data, 0, 2 * sizeof data[0]);
	return (int)syscall(SYS_capget, &hdr, data);
}

static int caps_set(uint32_t bits)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	data[0].effective = bits;
	data[0].permitted = bits;
	return (int)syscall(SYS_capset, &hdr, data);
}

static bool spec_has_low_port(const char *spec)
{
	struct listen_addr addrs[LISTEN_ADDRS_MAX];
	size_t n = 0;
	char why[128];
	if (spec[0] == '\0' ||
	    listen_parse(spec, addrs, LISTEN_ADDRS_MAX, &n, why, sizeof why) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].ss;
		unsigned port = 0;
		if (sa->sa_family == AF_INET)
			port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		else if (sa->sa_family == AF_INET6)
			port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		if (port > 0 && port < 1024)
			return true;
	}
	return false;
}

bool privdrop_needs_low_ports(const struct config *cfg)
{
	const char *specs[] = {cfg->smtp_listen,     cfg->submission_listen,
			       cfg->smtps_listen,    cfg->pop3_listen,
			       cfg->pop3s_listen,    cfg->admin_listen,
			       cfg->admin_http_listen};
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
		if (spec_has_low_port(specs[i]))
			return true;
	return false;
}

/* The installed config or the packaged data dir: a production box. */
static bool is_production(const struct config *cfg)
{
	if (strcmp(cfg->path, CONFIG_DEFAULT_PATH) == 0)
		return true;
	size_t n = strlen(PROD_DATA_DIR);
	return strncmp(cfg->data_dir, PROD_DATA_DIR, n) == 0 &&
	       (cfg->data_dir[n] == '\0' || cfg->data_dir[n] == '/');
}

/* Everything the drop promised, asked of the kernel again. */
static int verify(uid_t uid, gid_t gid, uint32_t keep, char *err,
		  size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 ||
	    ru != uid || eu != uid || su != uid || rg != gid || eg != gid ||
	    sg != gid || getuid() != uid || geteuid() != uid ||
	    getgid() != gid || getegid() != gid) {
		snprintf(err, errlen, "privilege drop did not take (ids)");
		return -1;
	}
	if (getgroups(0, NULL) != 0) {
		snprintf(err, errlen, "privilege drop did not take (groups)");
		return -1;
	}
	if (setuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "privilege drop did not take: root is "
				      "still reachable");
		return -1;
	}
	struct __user_cap_data_struct data[2];
	if (caps_get(data) != 0 || data[0].effective != keep ||
	    data[0].permitted != keep || data[0].inheritable != 0 ||
	    data[1].effective != 0 || data[1].permitted != 0) {
		snprintf(err, errlen, "privilege drop did not take "
				      "(capabilities)");
		return -1;
	}
	return 0;
}

int privdrop_apply_flags(const struct config *cfg, unsigned flags, char *err,
			 size_t errlen)
{
	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if (cfg->user[0] == '\0') {
		if (is_production(cfg)) {
			snprintf(err, errlen,
				 "refusing to run as root: set [server] user "
				 "in %s (the package uses 'mailroom')",
				 cfg->path);
			return -1;
		}
		log_warn("event=running-as-root WARNING=\"no [server] user in "
			 "%s: this process keeps full root rights; fine for a "
			 "test on loopback, never for a real box\"",
			 cfg->path);
		return 0;
	}
	errno = 0;
	const struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		snprintf(err, errlen, "[server] user '%s' does not exist%s%s",
			 cfg->user, errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0 || gid == 0) {
		snprintf(err, errlen, "refusing to run as root: [server] user "
				      "'%s' has uid or gid 0", cfg->user);
		return -1;
	}
	uint32_t keep = (!(flags & PRIVDROP_NO_BIND) &&
			 privdrop_needs_low_ports(cfg)) ? BIND_BIT : 0;

	/* Best effort: without CAP_SETPCAP (some containers) this fails, and
	 * no_new_privs below still closes the execve way back up. */
	for (int c = 0; c <= 63; c++) {
		if (keep && c == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno == EINVAL)
			break;
	}
	if (keep && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		snprintf(err, errlen, "cannot become %s: %s", cfg->user,
			 strerror(errno));
		return -1;
	}
	if (keep) {
		if (caps_set(keep) != 0) {
			snprintf(err, errlen, "capset: %s", strerror(errno));
			return -1;
		}
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	if (verify(uid, gid, keep, err, errlen) != 0)
		return -1;
	log_info("event=privileges-dropped user=%s uid=%ld gid=%ld "
		 "cap_net_bind_service=%s",
		 cfg->user, (long)uid, (long)gid, keep ? "kept" : "no");
	return 0;
}

int privdrop_apply(const struct config *cfg, char *err, size_t errlen)
{
	return privdrop_apply_flags(cfg, 0, err, errlen);
}

int privdrop_release(void)
{
	if (geteuid() == 0)
		return 0; /* dev root: nothing was dropped, nothing to release */
	return caps_set(0);
}
