// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the "tunnels" section of netward.json
 * (user/config_tunnels.c): what valid files give, each bad file's exact
 * message, naming the JSON path and the value, and the token files
 * checked by nw_cfg_check_secrets. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#define TMPDIR_TEMPLATE "/tmp/nw-test-config-tunnels.XXXXXX"
#include "tmpdir.h"

#include "cfg_assert.h"

#define ACCOUNT "0123456789abcdef0123456789ABCDEF"
#define UUID1 "c1744f8b-faa1-48a4-9e5c-02ac921467fa"
#define UUID2 "5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716"
/* a minimal valid tunnel, then more keys */
#define TUN(...) "{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\", " \
		 "\"token_file\": \"/etc/netward/cf.token\"" __VA_ARGS__ "}"

static void cfg_assert_empty(const struct nw_cfg *cfg)
{
	assert_null(cfg->tunnels.watch);
	assert_int_equal(cfg->tunnels.n_watch, 0);
	assert_null(cfg->tunnels.api_base);
}

/* {"tunnels": <section>} must fail with msg */
static void section_error(const char *section, const char *msg)
{
	expect_errorf(msg, "{\"tunnels\": %s}", section);
}

/* {"tunnels": {"watch": [<tunnel>]}} must fail with msg */
static void tunnel_error(const char *tunnel, const char *msg)
{
	expect_errorf(msg, "{\"tunnels\": {\"watch\": [%s]}}", tunnel);
}

static void test_defaults(void **state)
{
	struct nw_cfg cfg;
	(void)state;

	parse_ok("{}", &cfg);
	assert_false(cfg.tunnels.enabled);
	assert_null(cfg.tunnels.api_base);
	assert_int_equal(cfg.tunnels.interval_ms, 3000);
	assert_int_equal(cfg.tunnels.timeout_ms, 2000);
	assert_false(cfg.tunnels.has_gateway);
	assert_null(cfg.tunnels.watch);
	assert_int_equal(cfg.tunnels.n_watch, 0);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);

	parse_ok("{\"tunnels\": null}", &cfg);
	assert_false(cfg.tunnels.enabled);
	assert_int_equal(cfg.tunnels.interval_ms, 3000);
	nw_cfg_free(&cfg);

	/* an empty list polls nothing */
	parse_ok("{\"tunnels\": {\"watch\": []}}", &cfg);
	assert_false(cfg.tunnels.enabled);
	assert_int_equal(cfg.tunnels.n_watch, 0);
	nw_cfg_free(&cfg);

	/* a minimal tunnel: its name is its id, fall and rise 2 */
	parse_ok("{\"tunnels\": {\"watch\": [" TUN() "]}}", &cfg);
	assert_true(cfg.tunnels.enabled);
	assert_int_equal(cfg.tunnels.n_watch, 1);
	assert_string_equal(cfg.tunnels.watch[0].name, UUID1);
	assert_string_equal(cfg.tunnels.watch[0].account_id, ACCOUNT);
	assert_string_equal(cfg.tunnels.watch[0].tunnel_id, UUID1);
	assert_string_equal(cfg.tunnels.watch[0].token_file, "/etc/netward/cf.token");
	assert_string_equal(cfg.tunnels.watch[0].service, "");
	assert_null(cfg.tunnels.watch[0].ready_url);
	assert_int_equal(cfg.tunnels.watch[0].fall, 2);
	assert_int_equal(cfg.tunnels.watch[0].rise, 2);
	assert_false(cfg.tunnels.watch[0].degraded_is_down);
	assert_false(cfg.tunnels.watch[0].stop_on_recovery);
	nw_cfg_free(&cfg);
}

static void test_full_section(void **state)
{
	struct nw_cfg cfg;
	uint8_t a[16] = { 0 };
	(void)state;

	parse_ok("{\"tunnels\": {"
		 " \"api_base\": \"https://api.example.com/client/v4/\","
		 " \"interval_ms\": 5000, \"timeout_ms\": 1500, \"gateway\": \"192.0.2.1\","
		 " \"watch\": ["
		 "  {\"name\": \"web\", \"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\","
		 "   \"token_file\": \"/etc/netward/cf.token\","
		 "   \"service\": \"cloudflared-backup.service\","
		 "   \"ready_url\": \"http://127.0.0.1:20241/ready\", \"fall\": 3, \"rise\": 5,"
		 "   \"degraded_is_down\": true, \"stop_on_recovery\": true},"
		 "  {\"name\": \"api.v2_b\", \"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID2
		 "\", \"token_file\": \"/etc/netward/other.token\","
		 "   \"service\": \"tunnel@b.service\", \"ready_url\": \"https://10.0.0.1/ready\","
		 "   \"stop_on_recovery\": false}"
		 " ]}}", &cfg);
	assert_true(cfg.tunnels.enabled);
	assert_string_equal(cfg.tunnels.api_base, "https://api.example.com/client/v4");
	assert_int_equal(cfg.tunnels.interval_ms, 5000);
	assert_int_equal(cfg.tunnels.timeout_ms, 1500);
	assert_true(cfg.tunnels.has_gateway);
	assert_int_equal(cfg.tunnels.gateway_family, AF_INET);
	inet_pton(AF_INET, "192.0.2.1", a);
	assert_memory_equal(cfg.tunnels.gateway, a, 16);
	assert_int_equal(cfg.tunnels.n_watch, 2);
	assert_string_equal(cfg.tunnels.watch[0].name, "web");
	assert_string_equal(cfg.tunnels.watch[0].service, "cloudflared-backup.service");
	assert_string_equal(cfg.tunnels.watch[0].ready_url, "http://127.0.0.1:20241/ready");
	assert_int_equal(cfg.tunnels.watch[0].fall, 3);
	assert_int_equal(cfg.tunnels.watch[0].rise, 5);
	assert_true(cfg.tunnels.watch[0].degraded_is_down);
	assert_true(cfg.tunnels.watch[0].stop_on_recovery);
	assert_string_equal(cfg.tunnels.watch[1].name, "api.v2_b");
	assert_string_equal(cfg.tunnels.watch[1].tunnel_id, UUID2);
	assert_string_equal(cfg.tunnels.watch[1].token_file, "/etc/netward/other.token");
	assert_string_equal(cfg.tunnels.watch[1].service, "tunnel@b.service");
	assert_string_equal(cfg.tunnels.watch[1].ready_url, "https://10.0.0.1/ready");
	assert_int_equal(cfg.tunnels.watch[1].fall, 2);
	assert_false(cfg.tunnels.watch[1].stop_on_recovery);
	nw_cfg_free(&cfg);

	/* an IPv6 gateway; null means none; trailing slashes all go */
	parse_ok("{\"tunnels\": {\"gateway\": \"2001:db8::1\", \"api_base\": \"http://127.0.0.1:8080//\","
		 " \"watch\": [" TUN() "]}}", &cfg);
	assert_int_equal(cfg.tunnels.gateway_family, AF_INET6);
	assert_string_equal(cfg.tunnels.api_base, "http://127.0.0.1:8080");
	nw_cfg_free(&cfg);
	parse_ok("{\"tunnels\": {\"gateway\": null, \"watch\": [" TUN() "]}}", &cfg);
	assert_false(cfg.tunnels.has_gateway);
	nw_cfg_free(&cfg);
	/* the shortest interval, with a timeout below it */
	parse_ok("{\"tunnels\": {\"interval_ms\": 1000, \"timeout_ms\": 999, \"watch\": []}}", &cfg);
	assert_int_equal(cfg.tunnels.interval_ms, 1000);
	nw_cfg_free(&cfg);
}

/* a short interval alone: the request timeout follows it (half of it) */
static void test_timeout_follows_interval(void **state)
{
	struct nw_cfg cfg;
	(void)state;

	parse_ok("{\"tunnels\": {\"interval_ms\": 1500, \"watch\": []}}", &cfg);
	assert_int_equal(cfg.tunnels.timeout_ms, 750);
	nw_cfg_free(&cfg);
	parse_ok("{\"tunnels\": {\"interval_ms\": 60000, \"watch\": []}}", &cfg);
	assert_int_equal(cfg.tunnels.timeout_ms, 2000);
	nw_cfg_free(&cfg);
}

static void test_section_errors(void **state)
{
	(void)state;
	section_error("[]", "tunnels: expected an object, got an array");
	section_error("{}", "tunnels.watch: missing (the tunnels to poll)");
	section_error("{\"watch\": {}}", "tunnels.watch: expected an array, got an object");
	section_error("{\"watch\": [], \"colour\": 1}", "tunnels.colour: unknown key");
	section_error("{\"watch\": [], \"api_base\": \"ftp://x\"}",
		      "tunnels.api_base: \"ftp://x\" is not an http:// or https:// URL with a host");
	section_error("{\"watch\": [], \"api_base\": \"https://\"}",
		      "tunnels.api_base: \"https://\" is not an http:// or https:// URL with a host");
	section_error("{\"watch\": [], \"api_base\": \"\"}", "tunnels.api_base: must not be empty");
	section_error("{\"watch\": [], \"timeout_ms\": 3000}",
		      "tunnels.timeout_ms: 3000 must be less than interval_ms (3000)");
	section_error("{\"watch\": [], \"interval_ms\": 1500, \"timeout_ms\": 1600}",
		      "tunnels.timeout_ms: 1600 must be less than interval_ms (1500)");
	section_error("{\"watch\": [], \"interval_ms\": 199}",
		      "tunnels.interval_ms: 199 is out of range (200-3600000)");
	section_error("{\"watch\": [], \"interval_ms\": 1.5}",
		      "tunnels.interval_ms: 1.5 is not a whole number");
	section_error("{\"watch\": [], \"timeout_ms\": 99}",
		      "tunnels.timeout_ms: 99 is out of range (100-60000)");
	section_error("{\"watch\": [], \"gateway\": \"gw.example\"}",
		      "tunnels.gateway: \"gw.example\" is not an IP address");
	section_error("{\"watch\": [], \"gateway\": 1}",
		      "tunnels.gateway: expected a string, got a number");
	section_error("{\"watch\": [" TUN() ", " TUN() "]}",
		      "tunnels.watch[1]: tunnel_id " UUID1 " is watched by tunnels.watch[0] already");
	section_error("{\"watch\": [" TUN(", \"name\": \"web\"") ", {\"name\": \"web\", "
		      "\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID2 "\", "
		      "\"token_file\": \"/t\"}]}",
		      "tunnels.watch[1]: name \"web\" is the name of tunnels.watch[0] already");
}

static void test_tunnel_errors(void **state)
{
	(void)state;
	tunnel_error("3", "tunnels.watch[0]: expected an object, got a number");
	tunnel_error(TUN(", \"colour\": 1"), "tunnels.watch[0].colour: unknown key");
	tunnel_error("{\"tunnel_id\": \"" UUID1 "\", \"token_file\": \"/t\"}",
		     "tunnels.watch[0].account_id: missing");
	tunnel_error("{\"account_id\": \"0123\", \"tunnel_id\": \"" UUID1 "\", \"token_file\": \"/t\"}",
		     "tunnels.watch[0].account_id: \"0123\" is not an account id (32 hex digits)");
	tunnel_error("{\"account_id\": \"" ACCOUNT "0\", \"tunnel_id\": \"" UUID1 "\"}",
		     "tunnels.watch[0].account_id: \"" ACCOUNT "0\" is not an account id "
		     "(32 hex digits)");
	tunnel_error("{\"account_id\": \"0123456789abcdef0123456789abcdeg\", \"tunnel_id\": \""
		     UUID1 "\"}",
		     "tunnels.watch[0].account_id: \"0123456789abcdef0123456789abcdeg\" is not an "
		     "account id (32 hex digits)");
	tunnel_error("{\"account_id\": 7, \"tunnel_id\": \"" UUID1 "\"}",
		     "tunnels.watch[0].account_id: expected a string, got a number");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\"}", "tunnels.watch[0].tunnel_id: missing");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"c1744f8bfaa148a49e5c02ac921467fa\"}",
		     "tunnels.watch[0].tunnel_id: \"c1744f8bfaa148a49e5c02ac921467fa\" is not a "
		     "tunnel id (a UUID: 8-4-4-4-12 hex digits)");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "-\"}",
		     "tunnels.watch[0].tunnel_id: \"" UUID1 "-\" is not a tunnel id (a UUID: "
		     "8-4-4-4-12 hex digits)");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"c1744f8b-faa1-48a4-9e5c\"}",
		     "tunnels.watch[0].tunnel_id: \"c1744f8b-faa1-48a4-9e5c\" is not a tunnel id "
		     "(a UUID: 8-4-4-4-12 hex digits)");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\"}",
		     "tunnels.watch[0].token_file: missing (the API token is read from a file only "
		     "root can read, never from this file)");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\", "
		     "\"token_file\": \"cf.token\"}",
		     "tunnels.watch[0].token_file: \"cf.token\" is not an absolute path");
	tunnel_error("{\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\", "
		     "\"token_file\": \"\"}", "tunnels.watch[0].token_file: must not be empty");
	tunnel_error(TUN(", \"name\": \"a b\""),
		     "tunnels.watch[0].name: \"a b\" is not a name (1-63 letters, digits, '-', '_', '.')");
	tunnel_error(TUN(", \"name\": \"\""),
		     "tunnels.watch[0].name: \"\" is not a name (1-63 letters, digits, '-', '_', '.')");
	tunnel_error(TUN(", \"service\": \"cloudflared-backup\""),
		     "tunnels.watch[0].service: \"cloudflared-backup\" is not a unit name (such as "
		     "cloudflared-backup.service)");
	tunnel_error(TUN(", \"service\": \"x;reboot.service\""),
		     "tunnels.watch[0].service: \"x;reboot.service\" is not a unit name (such as "
		     "cloudflared-backup.service)");
	tunnel_error(TUN(", \"service\": \"getty@.service\""),
		     "tunnels.watch[0].service: \"getty@.service\" is not a unit name (such as "
		     "cloudflared-backup.service)");
	tunnel_error(TUN(", \"ready_url\": \"127.0.0.1:20241/ready\""),
		     "tunnels.watch[0].ready_url: \"127.0.0.1:20241/ready\" is not an http:// or "
		     "https:// URL with a host");
	tunnel_error(TUN(", \"ready_url\": \"http://a b/\""),
		     "tunnels.watch[0].ready_url: \"http://a b/\" contains whitespace");
	tunnel_error(TUN(", \"fall\": 0"), "tunnels.watch[0].fall: 0 is out of range (1-100)");
	tunnel_error(TUN(", \"rise\": 101"), "tunnels.watch[0].rise: 101 is out of range (1-100)");
	tunnel_error(TUN(", \"degraded_is_down\": \"yes\""),
		     "tunnels.watch[0].degraded_is_down: expected true or false, got a string");
	tunnel_error(TUN(", \"stop_on_recovery\": true"),
		     "tunnels.watch[0].stop_on_recovery: true, but there is no \"service\" to stop");
}

/* The token files: nw_cfg_check_secrets names the tunnel's path first. */
static void test_check_secrets(void **state)
{
	const char *dir = *state;
	char text[1024], path[256], path2[256], err[NW_ERR_LEN], want[NW_ERR_LEN];
	struct nw_cfg cfg;

	snprintf(path, sizeof(path), "%s/cf.token", dir);
	snprintf(path2, sizeof(path2), "%s/other.token", dir);
	write_file(path, "tok\n");
	write_file(path2, "tok2\n");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(path2, 0644), 0);
	snprintf(text, sizeof(text),
		 "{\"tunnels\": {\"watch\": ["
		 " {\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID1 "\", \"token_file\": \"%s\"},"
		 " {\"account_id\": \"" ACCOUNT "\", \"tunnel_id\": \"" UUID2 "\", \"token_file\": \"%s\"}"
		 "]}}", path, path2);
	parse_ok(text, &cfg);
	assert_int_equal(nw_cfg_check_secrets(&cfg, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "tunnels.watch[1].token_file: %s is readable by group or "
		 "others (mode 0644): run chmod 600 %s", path2, path2);
	assert_string_equal(err, want);

	assert_int_equal(chmod(path2, 0600), 0);
	assert_int_equal(nw_cfg_check_secrets(&cfg, err, sizeof(err)), 0);

	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(nw_cfg_check_secrets(&cfg, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "tunnels.watch[0].token_file: %s is readable by group or "
		 "others (mode 0644): run chmod 600 %s", path, path);
	assert_string_equal(err, want);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(nw_cfg_check_secrets(&cfg, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "tunnels.watch[0].token_file: %s: No such file or directory",
		 path);
	assert_string_equal(err, want);
	nw_cfg_free(&cfg);

	/* no tunnels: nothing to check */
	parse_ok("{}", &cfg);
	assert_int_equal(nw_cfg_check_secrets(&cfg, err, sizeof(err)), 0);
	nw_cfg_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_section),
		cmocka_unit_test(test_timeout_follows_interval),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_tunnel_errors),
		TMPDIR_TEST(test_check_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
