/*
 * fuzz_config.c - libFuzzer harness for the config reader.
 *
 * Any text must either load, leaving values that pass their own checks
 * again (listen keys re-parse, numbers in range), or fail with one line
 * that starts with the file name. Crashes, leaks and UB are the sanitizers'
 * job; a broken invariant aborts here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/listen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_listen(const char *spec)
{
	struct listen_addr a[LISTEN_ADDRS_MAX];
	size_t n;
	char err[256];
	if (listen_parse(spec, a, LISTEN_ADDRS_MAX, &n, err, sizeof(err)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cfg);
	memset(err, 'x', sizeof(err));
	if (config_load_string(&cfg, "fuzz.conf", text, err, sizeof(err)) == 0) {
		check_listen(cfg.smtp_listen);
		check_listen(cfg.submission_listen);
		check_listen(cfg.smtps_listen);
		check_listen(cfg.pop3_listen);
		check_listen(cfg.pop3s_listen);
		check_listen(cfg.admin_listen);
		check_listen(cfg.admin_http_listen);
		check_listen(cfg.dns_servers);
		if (cfg.max_recipients < 1 || cfg.relay_port < 1 ||
		    cfg.relay_port > 65535 || cfg.message_size_limit < 1024 ||
		    cfg.tls_cert[0] == '\0' || cfg.tls_key[0] == '\0' ||
		    cfg.data_dir[0] == '\0' || cfg.hostname[0] == '\0')
			abort();
		char db[CONFIG_PATH_MAX];
		if (config_db_path(&cfg, db, sizeof(db)) != 0)
			abort();
	} else {
		if (memchr(err, '\0', sizeof(err)) == NULL ||
		    strncmp(err, "fuzz.conf", 9) != 0 || strchr(err, '\n'))
			abort();
	}
	free(text);
	return 0;
}
