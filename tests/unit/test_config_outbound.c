/*
 * test_config_outbound.c - the [queue] keys mailroom-queued reads.
 */
#include <string.h>

#include "../../common/config.h"
#include "test.h"

static void test_queue_defaults(void)
{
	struct config c;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&c);
	CHECK(config_load_string(&c, "t.conf", "[server]\nhostname = mx.example.test\n",
				 err, sizeof err) == 0);
	CHECK_INT(c.queue_lifetime, 5 * 24 * 3600);
	CHECK_INT(c.queue_max_connections, 20);
	CHECK_INT(c.queue_max_per_destination, 4);
	CHECK_INT(c.queue_max_messages_per_connection, 100);
	CHECK_INT(c.queue_delay_warning, 4 * 3600);
	CHECK_STR(c.smarthost_ca, "");
	CHECK_STR(c.dkim_selector, "mailroom");
	CHECK(config_load_string(&c, "t.conf", "[dkim]\nselector = s2026\n", err,
				 sizeof err) == 0);
	CHECK_STR(c.dkim_selector, "s2026");
	CHECK(config_load_string(&c, "t.conf", "[dkim]\nselector = bad/sel\n", err,
				 sizeof err) != 0);
}

static void test_queue_keys(void)
{
	struct config c;
	char err[CONFIG_ERROR_MAX];
	config_defaults(&c);
	CHECK(config_load_string(&c, "t.conf",
				 "[queue]\nlifetime = 3600\nmax_connections = 5\n"
				 "max_per_destination = 2\n"
				 "max_messages_per_connection = 10\n"
				 "delay_warning = 0\n"
				 "smarthost_ca = /etc/ssl/isp.pem\n",
				 err, sizeof err) == 0);
	CHECK_INT(c.queue_lifetime, 3600);
	CHECK_INT(c.queue_max_connections, 5);
	CHECK_INT(c.queue_max_per_destination, 2);
	CHECK_INT(c.queue_max_messages_per_connection, 10);
	CHECK_INT(c.queue_delay_warning, 0);
	CHECK_STR(c.smarthost_ca, "/etc/ssl/isp.pem");
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"[queue]\nlifetime = 10\n", "lifetime"},
		{"[queue]\nmax_connections = 0\n", "max_connections"},
		{"[queue]\nmax_per_destination = x\n", "max_per_destination"},
		{"[queue]\nretry = 1\n", "retry"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		test_state.label = bad[i].text;
		config_defaults(&c);
		CHECK(config_load_string(&c, "t.conf", bad[i].text, err, sizeof err) != 0);
		CHECK(strstr(err, "t.conf:2") != NULL);
	}
}

TEST_SUITE(config_outbound, {"defaults", test_queue_defaults},
	   {"keys and bad values", test_queue_keys});
