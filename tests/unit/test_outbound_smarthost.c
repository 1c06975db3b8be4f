/*
 * test_outbound_smarthost.c - which smarthost mailroom-queued uses
 * (outbound/smarthost.c) against a real store: the config file's wins,
 * else the panel's settings rows; an unset host means delivery by MX; a
 * stored value too long for the config's buffers is ignored, never cut;
 * and ob_smarthost_same sees a change of host, user or password.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../outbound/outbound_int.h"
#include "../../store/store.h"
#include "test.h"

static struct store *open_store(char **dir_r)
{
	char path[512], err[256];
	*dir_r = test_tmpdir();
	snprintf(path, sizeof path, "%s/mailroom.db", *dir_r);
	struct store *st = NULL;
	CHECK(store_open(path, &st, err, sizeof err) == STORE_OK);
	return st;
}

static void test_load(void)
{
	char *dir;
	struct store *st = open_store(&dir);
	static struct config cfg; /* large */
	config_defaults(&cfg);
	struct ob_smarthost sh, before;

	test_state.label = "nothing set: by MX";
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK_STR(sh.host, "");
	CHECK(!sh.from_config && !sh.bad_settings);
	before = sh;

	test_state.label = "panel settings";
	CHECK(store_setting_set(st, "smarthost.host", "relay.isp.test:587") == STORE_OK);
	CHECK(store_setting_set(st, "smarthost.user", "office@isp.test") == STORE_OK);
	CHECK(store_setting_set(st, "smarthost.password", "s3cret") == STORE_OK);
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK_STR(sh.host, "relay.isp.test:587");
	CHECK_STR(sh.user, "office@isp.test");
	CHECK_STR(sh.password, "s3cret");
	CHECK(!ob_smarthost_same(&sh, &before));
	before = sh;

	test_state.label = "only the password changed";
	CHECK(store_setting_set(st, "smarthost.password", "n3w") == STORE_OK);
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK(!ob_smarthost_same(&sh, &before));
	CHECK(ob_smarthost_same(&sh, &sh));

	test_state.label = "host emptied: by MX, no login kept";
	CHECK(store_setting_set(st, "smarthost.host", "") == STORE_OK);
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK_STR(sh.host, "");
	CHECK_STR(sh.user, "");
	CHECK_STR(sh.password, "");

	test_state.label = "too long: ignored, not cut";
	char *big = malloc(PASSWORD_MAX + 10);
	memset(big, 'p', PASSWORD_MAX + 9);
	big[PASSWORD_MAX + 9] = '\0';
	CHECK(store_setting_set(st, "smarthost.host", "relay.isp.test:587") == STORE_OK);
	CHECK(store_setting_set(st, "smarthost.password", big) == STORE_OK);
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK(sh.bad_settings);
	CHECK_STR(sh.host, "");
	CHECK_STR(sh.password, "");
	free(big);

	test_state.label = "config file wins";
	snprintf(cfg.smarthost, sizeof cfg.smarthost, "file.isp.test:465");
	snprintf(cfg.smarthost_user, sizeof cfg.smarthost_user, "u@isp.test");
	CHECK_INT(ob_smarthost_load(&cfg, st, &sh), OB_SH_LOADED);
	CHECK_STR(sh.host, "file.isp.test:465");
	CHECK_STR(sh.user, "u@isp.test");
	CHECK(sh.from_config && !sh.bad_settings);
	test_state.label = NULL;

	store_close(&st);
	test_rmtree(dir);
	free(dir);
}

TEST_SUITE(outbound_smarthost, {"load", test_load});
