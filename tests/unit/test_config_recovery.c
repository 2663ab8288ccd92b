// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the "probes" and "recovery" sections of netward.json
 * (user/config_recovery.c): what valid files give, and each bad file's
 * exact message, naming the JSON path and the value. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cfg_assert.h"

#define PROBE "{\"name\": \"gw\", \"type\": \"icmp\", \"target\": \"192.0.2.1\"}"

static void cfg_assert_empty(const struct nw_cfg *cfg)
{
	assert_null(cfg->probes);
	assert_int_equal(cfg->n_probes, 0);
	assert_null(cfg->recovery.vpn_interfaces[0]);
}

/* {"probes": [<probe>]} must fail with msg */
static void probe_error(const char *probe, const char *msg)
{
	expect_errorf(msg, "{\"probes\": [%s]}", probe);
}

/* {"probes": [PROBE], "recovery": <rec>} must fail with msg */
static void recovery_error(const char *rec, const char *msg)
{
	expect_errorf(msg, "{\"probes\": [" PROBE "], \"recovery\": %s}", rec);
}

static void test_defaults(void **state)
{
	struct nw_cfg cfg;
	(void)state;

	parse_ok("{}", &cfg);
	assert_int_equal(cfg.n_probes, 0);
	assert_false(cfg.recovery.enabled);
	assert_int_equal(cfg.recovery.fail_threshold, 3);
	assert_int_equal(cfg.recovery.emergency_threshold, 5);
	assert_true(cfg.recovery.steps[NW_STEP_RESTORE_ROUTES]);
	assert_true(cfg.recovery.steps[NW_STEP_REMOVE_VPN_INTERFACES]);
	assert_false(cfg.recovery.steps[NW_STEP_KILL_WILDCARD_OWNER]);
	assert_false(cfg.recovery.steps[NW_STEP_REBOOT]);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);
}

static void test_every_probe_type(void **state)
{
	struct nw_cfg cfg;
	uint8_t a[16] = { 0 };
	(void)state;

	parse_ok("{\"probes\": ["
		 " {\"name\": \"gw\", \"type\": \"icmp\", \"target\": \"192.0.2.1\","
		 "  \"role\": \"gateway\", \"interval_ms\": 200, \"timeout_ms\": 100},"
		 " {\"name\": \"v6\", \"type\": \"icmp\", \"target\": \"2001:db8::1\","
		 "  \"interface\": \"eth0\", \"source\": \"2001:db8::10\"},"
		 " {\"name\": \"tcp\", \"type\": \"tcp\", \"target\": \"198.51.100.1\", \"port\": 443},"
		 " {\"name\": \"web\", \"type\": \"https\", \"target\": \"https://example.com/\","
		 "  \"expect_status\": 204},"
		 " {\"name\": \"plain\", \"type\": \"http\", \"target\": \"http://192.0.2.1:8080/x\"},"
		 " {\"name\": \"dns\", \"type\": \"dns\", \"target\": \"example.com\", \"family\": 6}"
		 "]}", &cfg);
	assert_int_equal(cfg.n_probes, 6);
	assert_string_equal(cfg.probes[0].name, "gw");
	assert_int_equal(cfg.probes[0].type, NW_PROBE_ICMP);
	assert_int_equal(cfg.probes[0].role, NW_ROLE_GATEWAY);
	assert_int_equal(cfg.probes[0].family, AF_INET);
	inet_pton(AF_INET, "192.0.2.1", a);
	assert_memory_equal(cfg.probes[0].addr, a, 4);
	assert_int_equal(cfg.probes[0].interval_ms, 200);
	assert_int_equal(cfg.probes[0].timeout_ms, 100);
	assert_int_equal(cfg.probes[1].family, AF_INET6);
	assert_string_equal(cfg.probes[1].interface, "eth0");
	assert_true(cfg.probes[1].has_source);
	assert_int_equal(cfg.probes[1].role, NW_ROLE_INTERNET);
	assert_int_equal(cfg.probes[1].interval_ms, 1000);
	assert_int_equal(cfg.probes[1].timeout_ms, 500);
	assert_int_equal(cfg.probes[2].port, 443);
	assert_int_equal(cfg.probes[3].type, NW_PROBE_HTTPS);
	assert_int_equal(cfg.probes[3].expect_status, 204);
	assert_string_equal(cfg.probes[4].target, "http://192.0.2.1:8080/x");
	assert_int_equal(cfg.probes[5].family, 6);
	nw_cfg_free(&cfg);
}

static void test_probe_errors(void **state)
{
	(void)state;
	expect_error("{\"probes\": {}}", "probes: expected an array, got an object");
	probe_error("{\"type\": \"icmp\", \"target\": \"192.0.2.1\"}", "probes[0].name: missing");
	probe_error("{\"name\": \"a b\", \"type\": \"icmp\", \"target\": \"192.0.2.1\"}",
		    "probes[0].name: \"a b\": use letters, digits, '-', '_' and '.'");
	probe_error("{\"name\": \"x\", \"type\": \"ping\", \"target\": \"192.0.2.1\"}",
		    "probes[0].type: \"ping\" is not a probe type (icmp, tcp, http, https, dns)");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\"}", "probes[0].target: missing");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"dns.google\"}",
		    "probes[0].target: \"dns.google\" is not an IP address (icmp and tcp probes "
		    "take addresses so that they do not depend on DNS; a dns probe checks names)");
	probe_error("{\"name\": \"x\", \"type\": \"tcp\", \"target\": \"192.0.2.1\"}",
		    "probes[0].port: missing (a tcp probe needs a port)");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", \"port\": 1}",
		    "probes[0].port: only tcp probes take a port (put it in the URL)");
	probe_error("{\"name\": \"x\", \"type\": \"tcp\", \"target\": \"192.0.2.1\", \"port\": 0}",
		    "probes[0].port: 0 is out of range (1-65535)");
	probe_error("{\"name\": \"x\", \"type\": \"https\", \"target\": \"http://a/\"}",
		    "probes[0].target: \"http://a/\" is not an https://URL");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"interval_ms\": 500, \"timeout_ms\": 500}",
		    "probes[0].timeout_ms: 500 must be less than interval_ms (500)");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"interval_ms\": 50}", "probes[0].interval_ms: 50 is out of range (100-86400000)");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"role\": \"router\"}",
		    "probes[0].role: \"router\" is not \"internet\" or \"gateway\"");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"source\": \"2001:db8::1\"}",
		    "probes[0].source: \"2001:db8::1\" is not of the target's family");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"expect_status\": 200}",
		    "probes[0].expect_status: only http and https probes take a status");
	probe_error("{\"name\": \"x\", \"type\": \"dns\", \"target\": \"a\", \"family\": 5}",
		    "probes[0].family: 5 is not 4 or 6");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"interface\": \"a/b\"}", "probes[0].interface: \"a/b\" is not an interface name");
	probe_error("{\"name\": \"x\", \"type\": \"icmp\", \"target\": \"192.0.2.1\", "
		    "\"colour\": 1}", "probes[0].colour: unknown key");
	expect_error("{\"probes\": [" PROBE ", " PROBE "]}",
		     "probes[1].name: \"gw\" is the name of probes[0] already");
}

static void test_recovery_ok(void **state)
{
	struct nw_cfg cfg;
	(void)state;

	parse_ok("{\"probes\": [" PROBE "], \"recovery\": {"
		 " \"fail_threshold\": 2, \"emergency_threshold\": 4, \"require\": \"all\","
		 " \"main_interface\": \"enp4s0\", \"vpn_interfaces\": [\"wg-worker-*\", \"wg1?\"],"
		 " \"steps\": {\"flush_neighbour\": false, \"renew_dhcp\": false},"
		 " \"kill_wildcard_owner\": true, \"reboot\": true, \"reboot_after\": 2,"
		 " \"max_reboots\": 0, \"step_timeout_ms\": 800, \"resolv_conf\": \"/tmp/r.conf\","
		 " \"dhcp_command\": [\"/sbin/dhclient\", \"-1\", \"{iface}\"]}}", &cfg);
	assert_true(cfg.recovery.enabled);
	assert_int_equal(cfg.recovery.fail_threshold, 2);
	assert_int_equal(cfg.recovery.emergency_threshold, 4);
	assert_true(cfg.recovery.require_all);
	assert_string_equal(cfg.recovery.main_interface, "enp4s0");
	assert_int_equal(cfg.recovery.n_vpn_interfaces, 2);
	assert_string_equal(cfg.recovery.vpn_interfaces[1], "wg1?");
	assert_false(cfg.recovery.steps[NW_STEP_FLUSH_NEIGHBOUR]);
	assert_false(cfg.recovery.steps[NW_STEP_RENEW_DHCP]);
	assert_true(cfg.recovery.steps[NW_STEP_RESTORE_DNS]);
	assert_true(cfg.recovery.steps[NW_STEP_KILL_WILDCARD_OWNER]);
	assert_true(cfg.recovery.steps[NW_STEP_REBOOT]);
	assert_int_equal(cfg.recovery.reboot_after, 2);
	assert_int_equal(cfg.recovery.max_reboots, 0);
	assert_int_equal(cfg.recovery.step_timeout_ms, 800);
	assert_string_equal(cfg.recovery.resolv_conf, "/tmp/r.conf");
	assert_string_equal(cfg.recovery.dhcp_command[2], "{iface}");
	assert_null(cfg.recovery.dhcp_command[3]);
	nw_cfg_free(&cfg);

	parse_ok("{\"probes\": [" PROBE "], \"recovery\": {\"enabled\": false}}", &cfg);
	assert_false(cfg.recovery.enabled);
	nw_cfg_free(&cfg);
	parse_ok("{\"recovery\": null}", &cfg);
	assert_false(cfg.recovery.enabled);
	nw_cfg_free(&cfg);
}

static void test_recovery_errors(void **state)
{
	(void)state;
	expect_error("{\"recovery\": {}}",
		     "recovery: needs probes: without a \"probes\" entry nothing ever says the "
		     "host is offline");
	recovery_error("[]", "recovery: expected an object, got an array");
	recovery_error("{\"fail_threshold\": 0}", "recovery.fail_threshold: 0 is out of range (1-1000)");
	recovery_error("{\"fail_threshold\": 4, \"emergency_threshold\": 3}",
		       "recovery.emergency_threshold: 3 is below fail_threshold (4)");
	recovery_error("{\"require\": \"most\"}", "recovery.require: expected \"any\" or \"all\"");
	recovery_error("{\"vpn_interfaces\": [\"*\"]}",
		       "recovery.vpn_interfaces[0]: \"*\" must begin with a literal name prefix such "
		       "as \"wg\" (it could match every interface)");
	recovery_error("{\"vpn_interfaces\": [\"wg*\", 3]}",
		       "recovery.vpn_interfaces[1]: expected a string, got a number");
	recovery_error("{\"vpn_interfaces\": \"wg*\"}",
		       "recovery.vpn_interfaces: expected an array, got a string");
	recovery_error("{\"steps\": {\"reboot_now\": true}}",
		       "recovery.steps.reboot_now: unknown step (steps: restore_routes, "
		       "flush_neighbour, restore_dns, remove_vpn_interfaces, remove_stale, "
		       "bounce_interface, renew_dhcp, kill_wildcard_owner, reboot)");
	recovery_error("{\"steps\": {\"flush_neighbour\": 1}}",
		       "recovery.steps.flush_neighbour: expected true or false, got a number");
	recovery_error("{\"steps\": {\"reboot\": true}, \"reboot\": false}",
		       "recovery.reboot: also given as recovery.steps.reboot: use one");
	recovery_error("{\"max_reboots\": 25}", "recovery.max_reboots: 25 is out of range (0-24)");
	recovery_error("{\"resolv_conf\": \"resolv.conf\"}",
		       "recovery.resolv_conf: \"resolv.conf\" is not an absolute path");
	recovery_error("{\"dhcp_command\": []}",
		       "recovery.dhcp_command: empty (leave it out to use only networkd/NetworkManager)");
	recovery_error("{\"dhcp_command\": [\"dhclient\"]}",
		       "recovery.dhcp_command[0]: \"dhclient\" is not an absolute path");
	recovery_error("{\"main_interface\": \"\"}", "recovery.main_interface: must not be empty");
	recovery_error("{\"reboots\": true}", "recovery.reboots: unknown key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_probe_type),
		cmocka_unit_test(test_probe_errors),
		cmocka_unit_test(test_recovery_ok),
		cmocka_unit_test(test_recovery_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
