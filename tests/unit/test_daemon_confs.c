/* The daemons' configuration tables: valid, every default parses, and the
 * example files make run writes are accepted. */
#include "unit/testutil.h"

#include "config.h"
#include "feature/conf.h"
#include "feature/cpl.h"
#include "marshal/conf.h"
#include "provisioning/conf.h"
#include "redirect/conf.h"

static void check_table(const struct config_key *t, void *conf, const char *text)
{
	char err[512];
	if (config_table_check(t, err, sizeof(err)) < 0)
		fail_msg("table: %s", err);
	if (config_load_buffer(t, conf, text, strlen(text), "test.conf", err, sizeof(err)) < 0)
		fail_msg("%s", err);
	config_free(t, conf);
}

static void test_marshal(void **state)
{
	(void)state;
	struct marshal_conf c = {0};
	check_table(marshal_keys, &c, "");
	check_table(marshal_keys, &c,
		    "kind = gateway\nlisten = 127.0.0.1:5065\ntransports = udp\n"
		    "redirect = 127.0.0.1:5070\ntrusted_peers = 127.0.0.1:5060\n"
		    "gateway = 127.0.0.1:5090\nauth.algorithms = sha-256 md5\n"
		    "auth.never_ban = 10.0.0.0/8\n[db]\nconninfo = \"host=/run/postgresql\"\n");
	char err[512];
	assert_int_equal(config_load_buffer(marshal_keys, &c, "kind = proxy\n", 13, "t", err, sizeof(err)), -1);
	assert_int_equal(config_load_buffer(marshal_keys, &c, "timer_c = 500ms\n", 16, "t", err, sizeof(err)), -1);
}

static void test_redirect(void **state)
{
	(void)state;
	struct redirect_conf c = {0};
	check_table(redirect_keys, &c, "");
	check_table(redirect_keys, &c,
		    "listen = 127.0.0.1:5070\ninstance = redirect-1\ndial_plan = default\n"
		    "clients = 10.0.0.0/8 ::1/128\nregistrar.min_expires = 10\n");
	/* what make run writes: the feature secret in a section after [db] */
	const char *run = "listen = 127.0.0.1:5070\n[db]\nconninfo = \"x\"\n[features]\n"
			  "secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
			  "max_forwards = 3\n";
	char err[512];
	assert_int_equal(config_load_buffer(redirect_keys, &c, run, strlen(run), "t", err, sizeof(err)), 0);
	assert_string_equal(c.features_secret, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	assert_int_equal(c.features_max_forwards, 3);
	config_free(redirect_keys, &c);
	assert_int_equal(config_load_buffer(redirect_keys, &c, "", 0, "t", err, sizeof(err)), 0);
	assert_string_equal(c.features_secret, "");
	assert_int_equal(c.features_max_forwards, 5);
	config_free(redirect_keys, &c);
	assert_int_equal(config_load_buffer(redirect_keys, &c, "features.max_forwards = -1\n", 27, "t", err,
					    sizeof(err)), -1);
	assert_int_equal(config_load_buffer(redirect_keys, &c, "registrar.max_expires = 0\n", 26, "t", err,
					    sizeof(err)), -1);
}

static void test_provd(void **state)
{
	(void)state;
	struct provd_conf c = {0};
	check_table(provd_keys, &c, "");
	check_table(provd_keys, &c,
		    "listen = [::1]:8080\nthreads = 8\nmigrations = /work/provisioning/sql\n"
		    "[db]\nconninfo = \"host=/run/postgresql dbname=vocal\"\n[api]\n"
		    "token_sha256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n");
	char err[512];
	assert_int_equal(config_load_buffer(provd_keys, &c, "threads = 0\n", 12, "t", err, sizeof(err)), -1);
}

static void test_featured(void **state)
{
	(void)state;
	struct featured_conf c = {0};
	check_table(featured_keys, &c, "");
	/* what make run writes */
	check_table(featured_keys, &c,
		    "listen = 127.0.0.1:5080\nredirect = 127.0.0.1:5070\n[features]\n"
		    "secret_file = \"/work/var/feature-secret\"\nvoicemail = \"sip:1003@vocal.test\"\n"
		    "[db]\nconninfo = \"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"\n");
	char err[512];
	const char *t = "features.call_return_code = \"*70\"\nfeatures.cache_size = 10\nlog_level = debug\n"
			"trusted_peers = 10.0.0.1:0 127.0.0.1:5060\ncpl.max_steps = 500\n";
	assert_int_equal(config_load_buffer(featured_keys, &c, t, strlen(t), "t", err, sizeof(err)), 0);
	assert_string_equal(c.call_return_code, "*70");
	assert_int_equal(c.cache_size, 10);
	assert_int_equal(c.log_level, FEATURED_LOG_DEBUG);
	assert_int_equal(c.trusted_peers.n, 2);
	assert_int_equal(c.cpl_max_steps, 500);
	config_free(featured_keys, &c);
	assert_int_equal(config_load_buffer(featured_keys, &c, "", 0, "t", err, sizeof(err)), 0);
	assert_string_equal(c.call_return_code, "*69");
	assert_int_equal(c.listen.n, 1);
	assert_int_equal(c.cpl_max_locations, CPL_DEFAULT_MAX_LOCATIONS);
	config_free(featured_keys, &c);
	assert_int_equal(config_load_buffer(featured_keys, &c, "features.cache_size = 0\n", 24, "t", err,
					    sizeof(err)), -1);
	assert_int_equal(config_load_buffer(featured_keys, &c, "cpl.max_locations = 33\n", 23, "t", err,
					    sizeof(err)), -1);
	assert_int_equal(config_load_buffer(featured_keys, &c, "log_level = loud\n", 17, "t", err, sizeof(err)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marshal),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_provd),
		cmocka_unit_test(test_featured),
	};
	return cmocka_run_group_tests_name("daemon_confs", tests, NULL, NULL);
}
