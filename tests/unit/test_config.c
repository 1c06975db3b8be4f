/*
 * test_config.c - the config reader: every key's type check, the exact
 * one-line errors an admin sees, defaults, and derived paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "test.h"

struct cfg_case {
	const char *label;
	const char *text;
	const char *want_err; /* NULL: must load */
};

#define LONG50 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct cfg_case cfg_cases[] = {
	/* the shape of the file */
	{"empty file", "", NULL},
	{"comments and blanks", "# c\n; c\n\n[smtp]\n# c\n", NULL},
	{"crlf line ends", "[smtp]\r\nmax_recipients = 5\r\n", NULL},
	{"indented keys", "[smtp]\n  listen = 127.0.0.1:2525\n\tmax_recipients = 5\n",
	 NULL},
	{"unknown key", "[server]\n\n[smtp]\nlisen = 127.0.0.1:25\n",
	 "m.conf:4: unknown key 'lisen' in [smtp]"},
	{"key of another section", "[pop3]\nmax_recipients = 3\n",
	 "m.conf:2: unknown key 'max_recipients' in [pop3]"},
	{"unknown section", "[smtp]\n[foo]\nx = 1\n",
	 "m.conf:2: unknown section [foo]"},
	{"empty unknown section", "[smtp]\n[foo]\n",
	 "m.conf:2: unknown section [foo]"},
	{"section case matters", "[SMTP]\n", "m.conf:1: unknown section [SMTP]"},
	{"key before any section", "listen = 1\n",
	 "m.conf:1: key 'listen' outside any [section]"},
	{"no equals sign", "[smtp]\nlisten\n",
	 "m.conf:2: syntax error (want 'key = value' or '[section]')"},
	{"unclosed section", "[smtp\n",
	 "m.conf:1: syntax error (want 'key = value' or '[section]')"},
	{"syntax error before bad key", "[smtp]\nzzz\nlisen = 1\n",
	 "m.conf:2: syntax error (want 'key = value' or '[section]')"},
	{"first error wins", "[smtp]\nlisen = 1\nzzz\n",
	 "m.conf:2: unknown key 'lisen' in [smtp]"},
	{"long line past inih's buffer",
	 "[smtp]\nsmarthost_user = " LONG50 LONG50 LONG50 LONG50 "\n", NULL},
	{"long line with comment", "[smtp]\nsmarthost_password = " LONG50 LONG50
	 LONG50 LONG50 " ; comment\nmax_recipients = 3\n", NULL},
	{"long line, value too long", "[smtp]\nsmarthost_user = " LONG50 LONG50
	 LONG50 LONG50 LONG50 LONG50 LONG50 "\n",
	 "m.conf:2: bad value for 'smarthost_user' in [smtp]: longer than 320 bytes"},
	{"long line, unknown key", "[smtp]\n\nlisen = " LONG50 LONG50 LONG50
	 LONG50 "\n", "m.conf:3: unknown key 'lisen' in [smtp]"},
	{"long line, no equals", "[smtp]\n" LONG50 LONG50 LONG50 LONG50 "\n",
	 "m.conf:2: syntax error (want 'key = value' or '[section]')"},
	{"long line before any section", "x = " LONG50 LONG50 LONG50 LONG50 "\n",
	 "m.conf:1: key 'x' outside any [section]"},
	{"long comment", "# " LONG50 LONG50 LONG50 LONG50 "\n[smtp]\nlisen = 1\n",
	 "m.conf:3: unknown key 'lisen' in [smtp]"},
	{"long section line", "[smtp" LONG50 LONG50 LONG50 LONG50 "\n",
	 "m.conf:1: line longer than 197 bytes"},
	{"duplicate key", "[smtp]\nmax_recipients = 3\n\n[smtp]\nmax_recipients = 4\n",
	 "m.conf:5: 'max_recipients' is set twice in [smtp] (first on line 2)"},
	{"same name in two sections", "[smtp]\nlisten = 127.0.0.1:1\n[pop3]\n"
	 "listen = 127.0.0.1:2\n", NULL},
	{"bom", "\xef\xbb\xbf[smtp]\nmax_recipients = 3\n", NULL},

	/* numbers */
	{"max_recipients ok", "[smtp]\nmax_recipients = 250\n", NULL},
	{"max_recipients word", "[smtp]\nmax_recipients = x\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: 'x' is not a number"},
	{"max_recipients zero", "[smtp]\nmax_recipients = 0\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: 0 is out of range 1..100000"},
	{"max_recipients trailing junk", "[smtp]\nmax_recipients = 10x\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: '10x' is not a number"},
	{"max_recipients overflow", "[smtp]\nmax_recipients = 99999999999999999999\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: '99999999999999999999' is not a number"},
	{"max_recipients plus sign", "[smtp]\nmax_recipients = +5\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: '+5' is not a number"},
	{"max_recipients empty", "[smtp]\nmax_recipients =\n",
	 "m.conf:2: bad value for 'max_recipients' in [smtp]: '' is not a number"},
	{"relay_port ok", "[smtp]\nrelay_port = 2600\n", NULL},
	{"relay_port too big", "[smtp]\nrelay_port = 65536\n",
	 "m.conf:2: bad value for 'relay_port' in [smtp]: 65536 is out of range 1..65535"},
	{"duration seconds", "[smtp]\ncommand_timeout = 300\n", NULL},
	{"duration units", "[smtp]\ncommand_timeout = 5m\ndata_timeout = 1h\n"
	 "tls_timeout = 500ms\ngreeting_delay = 0\n", NULL},
	{"duration word", "[pop3]\nidle_timeout = soon\n",
	 "m.conf:2: bad value for 'idle_timeout' in [pop3]: 'soon' is not a duration between 1000ms and 86400s"},
	{"duration too short", "[pop3]\nidle_timeout = 10ms\n",
	 "m.conf:2: bad value for 'idle_timeout' in [pop3]: '10ms' is not a duration between 1000ms and 86400s"},
	{"duration negative", "[smtp]\ndata_timeout = -5s\n",
	 "m.conf:2: bad value for 'data_timeout' in [smtp]: '-5s' is not a duration (like 300, 30s, 500ms, 10m, 1h)"},
	{"duration unit alone", "[smtp]\ndata_timeout = s\n",
	 "m.conf:2: bad value for 'data_timeout' in [smtp]: 's' is not a duration between 100ms and 3600s"},
	{"size plain", "[smtp]\nmessage_size_limit = 1048576\n", NULL},
	{"size K", "[smtp]\nmessage_size_limit = 512K\n", NULL},
	{"size M", "[smtp]\nmessage_size_limit = 10M\n", NULL},
	{"size G refused", "[smtp]\nmessage_size_limit = 1G\n",
	 "m.conf:2: bad value for 'message_size_limit' in [smtp]: '1G' is not a size in 1024..4294967296 bytes"},
	{"size too small", "[smtp]\nmessage_size_limit = 100\n",
	 "m.conf:2: bad value for 'message_size_limit' in [smtp]: '100' is below 1024 bytes"},
	{"size bare suffix", "[smtp]\nmessage_size_limit = M\n",
	 "m.conf:2: bad value for 'message_size_limit' in [smtp]: 'M' is not a size"},
	{"size negative", "[smtp]\nmessage_size_limit = -5M\n",
	 "m.conf:2: bad value for 'message_size_limit' in [smtp]: '-5M' is not a size in 1024..4294967296 bytes"},

	/* booleans */
	{"bool yes", "[pop3]\nallow_plaintext_auth = yes\n", NULL},
	{"bool On", "[pop3]\nallow_plaintext_auth = On\n", NULL},
	{"bool 0", "[pop3]\nallow_plaintext_auth = 0\n", NULL},
	{"bool maybe", "[pop3]\nallow_plaintext_auth = maybe\n",
	 "m.conf:2: bad value for 'allow_plaintext_auth' in [pop3]: 'maybe' is not yes or no"},

	/* listeners */
	{"listen list", "[smtp]\nlisten = 127.0.0.1:2525 , [::1]:2525\n", NULL},
	{"listen empty disables", "[admin]\nhttp_listen =\n", NULL},
	{"listen host name", "[smtp]\nlisten = localhost:25\n",
	 "m.conf:2: bad value for 'listen' in [smtp]: bad address in 'localhost:25' (numeric IPv4 or [IPv6] only)"},
	{"listen bad port", "[pop3]\npop3s_listen = 127.0.0.1:x\n",
	 "m.conf:2: bad value for 'pop3s_listen' in [pop3]: bad port in '127.0.0.1:x'"},
	{"dns servers", "[smtp]\ndns_servers = 127.0.0.1:5391\n", NULL},
	{"dns servers bad", "[smtp]\ndns_servers = ns1.example:53\n",
	 "m.conf:2: bad value for 'dns_servers' in [smtp]: bad address in 'ns1.example:53' (numeric IPv4 or [IPv6] only)"},

	/* text keys */
	{"log level", "[server]\nlog_level = debug\n", NULL},
	{"log level bad", "[server]\nlog_level = loud\n",
	 "m.conf:2: bad value for 'log_level' in [server]: 'loud' is not error, warn, info or debug"},
	{"hostname", "[server]\nhostname = mail.example.test\n", NULL},
	{"hostname bad", "[server]\nhostname = mail_x.test\n",
	 "m.conf:2: bad value for 'hostname' in [server]: 'mail_x.test' is not a host name"},
	{"data_dir empty", "[server]\ndata_dir =\n",
	 "m.conf:2: bad value for 'data_dir' in [server]: empty value"},
	{"user", "[server]\nuser = mailroom\n", NULL},
	{"user bad", "[server]\nuser = Root;x\n",
	 "m.conf:2: bad value for 'user' in [server]: 'Root;x' is not a user name"},
	{"smarthost", "[smtp]\nsmarthost = relay.example.test:587\n", NULL},
	{"smarthost v6", "[smtp]\nsmarthost = [::1]:2600\n", NULL},
	{"smarthost no port", "[smtp]\nsmarthost = relay.example.test\n",
	 "m.conf:2: bad value for 'smarthost' in [smtp]: 'relay.example.test' is not HOST:PORT"},
	{"queue keys", "[queue]\nlifetime = 3600\nmax_connections = 5\n"
	 "max_per_destination = 2\nmax_messages_per_connection = 10\n"
	 "smarthost_ca = /etc/ssl/relay-ca.pem\n", NULL},
	{"queue lifetime too short", "[queue]\nlifetime = 59\n",
	 "m.conf:2: bad value for 'lifetime' in [queue]: 59 is out of range 60..5184000"},
	{"queue ca empty", "[queue]\nsmarthost_ca =\n",
	 "m.conf:2: bad value for 'smarthost_ca' in [queue]: empty value"},
	{"smarthost creds", "[smtp]\nsmarthost_user = u@example.test\nsmarthost_password = s3cr#t\n",
	 NULL},
};

/* Eight IPv6 listeners: a line far longer than inih's own buffer. */
static void test_long_listen(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX] = "";
	const char *text =
		"[smtp]\nlisten = [2001:db8:1:2:3:4:5:1]:2525, [2001:db8:1:2:3:4:5:2]:2525, "
		"[2001:db8:1:2:3:4:5:3]:2525, [2001:db8:1:2:3:4:5:4]:2525, "
		"[2001:db8:1:2:3:4:5:5]:2525, [2001:db8:1:2:3:4:5:6]:2525, "
		"[2001:db8:1:2:3:4:5:7]:2525, [2001:db8:1:2:3:4:5:8]:2525 ; eight\n"
		"max_recipients = 9\n";
	config_defaults(&cfg);
	CHECK(config_load_string(&cfg, "l.conf", text, err, sizeof(err)) == 0);
	CHECK_STR(err, "");
	CHECK(strncmp(cfg.smtp_listen, "[2001:db8:1:2:3:4:5:1]:2525,", 28) == 0);
	CHECK(strstr(cfg.smtp_listen, ":5:8]:2525") != NULL);
	CHECK(strstr(cfg.smtp_listen, "eight") == NULL);
	CHECK_INT(cfg.max_recipients, 9);

	/* a line longer than any value could be */
	char big[4000];
	snprintf(big, sizeof(big), "[smtp]\nsmarthost = %03000d\n", 1);
	CHECK(config_load_string(&cfg, "l.conf", big, err, sizeof(err)) == -1);
	CHECK_STR(err, "l.conf:2: line longer than 1151 bytes");
}

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cfg_cases) / sizeof(cfg_cases[0]); i++) {
		const struct cfg_case *c = &cfg_cases[i];
		struct config cfg;
		char err[CONFIG_ERROR_MAX] = "";
		test_state.label = c->label;
		config_defaults(&cfg);
		int rc = config_load_string(&cfg, "m.conf", c->text, err,
					    sizeof(err));
		if (c->want_err == NULL) {
			CHECK_INT(rc, 0);
			CHECK_STR(err, "");
		} else {
			CHECK_INT(rc, -1);
			CHECK_STR(err, c->want_err);
		}
	}
	test_state.label = NULL;
}

static void test_defaults(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cfg);
	CHECK_STR(cfg.smtp_listen, "0.0.0.0:25");
	CHECK_STR(cfg.submission_listen, "0.0.0.0:587");
	CHECK_STR(cfg.smtps_listen, "0.0.0.0:465");
	CHECK_STR(cfg.pop3_listen, "0.0.0.0:110");
	CHECK_STR(cfg.pop3s_listen, "0.0.0.0:995");
	CHECK_STR(cfg.admin_listen, "0.0.0.0:443");
	CHECK_STR(cfg.admin_http_listen, "");
	CHECK_STR(cfg.data_dir, "/var/lib/mailroom");
	CHECK_STR(cfg.tls_cert, "/var/lib/mailroom/tls/cert.pem");
	CHECK_STR(cfg.tls_key, "/var/lib/mailroom/tls/key.pem");
	CHECK_INT(cfg.message_size_limit, 25 * 1024 * 1024);
	CHECK_INT(cfg.max_recipients, 100);
	CHECK_INT(cfg.relay_port, 25);
	CHECK_INT(cfg.log_level, LOG_LEVEL_INFO);
	CHECK(!cfg.pop3_allow_plaintext_auth);
	CHECK(cfg.hostname[0] != '\0');
	CHECK_STR(cfg.smarthost, "");
	CHECK_STR(cfg.dns_servers, "");
	CHECK_INT(cfg.queue_lifetime, 5 * 24 * 3600);
	CHECK_INT(cfg.queue_max_connections, 20);
	CHECK_INT(cfg.queue_max_per_destination, 4);
	CHECK_INT(cfg.queue_max_messages_per_connection, 100);
	CHECK_STR(cfg.smarthost_ca, "");
	CHECK_INT(cfg.pop3_idle_timeout_ms, 600000);
	CHECK_INT(cfg.smtp_command_timeout_ms, 300000);
	CHECK_INT(cfg.smtp_data_timeout_ms, 600000);
	CHECK_INT(cfg.smtp_max_per_ip, 50);
	CHECK(!cfg.smtp_limit_loopback);
	CHECK_INT(cfg.queue_account_hourly_limit, 300);
	char db[CONFIG_PATH_MAX];
	CHECK(config_db_path(&cfg, db, sizeof(db)) == 0);
	CHECK_STR(db, "/var/lib/mailroom/mailroom.db");
	CHECK(config_db_path(&cfg, db, 10) == -1);
	/* an empty file changes nothing */
	CHECK(config_load_string(&cfg, "e.conf", "", err, sizeof(err)) == 0);
	CHECK_STR(cfg.tls_cert, "/var/lib/mailroom/tls/cert.pem");
	CHECK_STR(cfg.path, "e.conf");
}

static void test_values_land(void)
{
	struct config cfg;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cfg);
	const char *text = "[server]\n"
			   "hostname = mail.example.test\n"
			   "data_dir = /srv/mr/\n"
			   "log_level = warn ; inline comment\n"
			   "[smtp]\n"
			   "listen = 127.0.0.1:2525\n"
			   "message_size_limit = 10M\n"
			   "max_recipients = 7\n"
			   "relay_port = 2600\n"
			   "smarthost_password = p;w\n"
			   "[pop3]\n"
			   "allow_plaintext_auth = true\n"
			   "idle_timeout = 15m\n"
			   "[admin]\n"
			   "listen = \n"
			   "[queue]\n"
			   "max_per_destination = 3\n";
	CHECK(config_load_string(&cfg, "v.conf", text, err, sizeof(err)) == 0);
	CHECK_STR(cfg.hostname, "mail.example.test");
	CHECK_STR(cfg.data_dir, "/srv/mr/");
	/* tls paths follow data_dir from the file */
	CHECK_STR(cfg.tls_cert, "/srv/mr/tls/cert.pem");
	CHECK_STR(cfg.tls_key, "/srv/mr/tls/key.pem");
	CHECK_INT(cfg.log_level, LOG_LEVEL_WARN);
	CHECK_STR(cfg.smtp_listen, "127.0.0.1:2525");
	CHECK_INT(cfg.message_size_limit, 10 * 1024 * 1024);
	CHECK_INT(cfg.max_recipients, 7);
	CHECK_INT(cfg.relay_port, 2600);
	CHECK_STR(cfg.smarthost_password, "p;w");
	CHECK(cfg.pop3_allow_plaintext_auth);
	CHECK_STR(cfg.admin_listen, "");
	CHECK_INT(cfg.queue_max_per_destination, 3);
	CHECK_INT(cfg.pop3_idle_timeout_ms, 15 * 60000);
	char db[CONFIG_PATH_MAX];
	CHECK(config_db_path(&cfg, db, sizeof(db)) == 0);
	CHECK_STR(db, "/srv/mr/mailroom.db");

	/* explicit tls paths win over data_dir */
	config_defaults(&cfg);
	CHECK(config_load_string(&cfg, "t.conf",
				 "[server]\ntls_cert = /etc/c.pem\n"
				 "data_dir = /d\n",
				 err, sizeof(err)) == 0);
	CHECK_STR(cfg.tls_cert, "/etc/c.pem");
	CHECK_STR(cfg.tls_key, "/d/tls/key.pem");
}

/* A failed load leaves the caller's config as it was (SIGHUP safety). */
static void test_error_keeps_config(void)
{
	struct config cfg, before;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&cfg);
	before = cfg;
	CHECK(config_load_string(&cfg, "b.conf",
				 "[smtp]\nmax_recipients = 5\nrelay_port = 0\n",
				 err, sizeof(err)) == -1);
	CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
	CHECK_INT(cfg.max_recipients, 100);
	/* a file name longer than cfg.path holds is refused, not cut */
	char longname[CONFIG_PATH_MAX + 10];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(config_load_string(&cfg, longname, "", err, sizeof(err)) == -1);
	CHECK(strstr(err, "path longer than 1023 bytes") != NULL);
	/* a small err buffer is still terminated */
	char small[16];
	CHECK(config_load_string(&cfg, "b.conf", "[nope]\n", small,
				 sizeof(small)) == -1);
	CHECK_INT(strlen(small), 15);
}

static void test_files(void)
{
	char *dir = test_tmpdir();
	char path[512], err[CONFIG_ERROR_MAX];
	struct config cfg;

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	config_defaults(&cfg);
	CHECK(config_load(&cfg, path, err, sizeof(err)) == -1);
	char want[700];
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory",
		 path);
	CHECK_STR(err, want);

	snprintf(path, sizeof(path), "%s/mailroom.conf", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		goto out;
	fputs("[server]\nhostname = a.example.test\n\n[smtp]\n"
	      "listen = 127.0.0.1:2525\n"
	      "# the next line is wrong\n"
	      "lisen = 127.0.0.1:2526\n",
	      f);
	fclose(f);
	CHECK(config_load(&cfg, path, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s:7: unknown key 'lisen' in [smtp]", path);
	CHECK_STR(err, want);

	f = fopen(path, "w");
	fputs("[server]\nhostname = a.example.test\n", f);
	fclose(f);
	CHECK(config_load(&cfg, path, err, sizeof(err)) == 0);
	CHECK_STR(cfg.hostname, "a.example.test");
	CHECK_STR(cfg.path, path);

	/* a directory is not a config file */
	CHECK(config_load(&cfg, dir, err, sizeof(err)) == -1);
	CHECK(strstr(err, "not a regular file") != NULL);
	/* neither is a file with a NUL byte */
	f = fopen(path, "w");
	fwrite("[smtp]\n\0x=1\n", 1, 12, f);
	fclose(f);
	CHECK(config_load(&cfg, path, err, sizeof(err)) == -1);
	CHECK(strstr(err, "NUL byte") != NULL);
out:
	test_rmtree(dir);
	free(dir);
}

TEST_SUITE(config, {"table", test_table}, {"long_listen", test_long_listen}, {"defaults", test_defaults},
	   {"values_land", test_values_land},
	   {"error_keeps_config", test_error_keeps_config},
	   {"files", test_files});
