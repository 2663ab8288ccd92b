// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the "rules" section of netward.json (user/config.c):
 * what valid files give, and each bad file's exact message. */
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
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static void parse_ok(const char *text, struct nw_cfg *cfg)
{
	char err[NW_ERR_LEN] = "";
	int r = nw_cfg_parse(text, cfg, err, sizeof(err));

	if (r)
		fail_msg("%s: returned %d: %s", text, r, err);
	assert_string_equal(err, "");
}

/* {"rules": <rules>} must fail with exactly msg */
static void rules_error(const char *rules, const char *msg)
{
	char text[16384], err[NW_ERR_LEN] = "";
	struct nw_cfg cfg;
	int r;

	snprintf(text, sizeof(text), "{\"rules\": %s}", rules);
	r = nw_cfg_parse(text, &cfg, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s: returned %d, expected -EINVAL (%s)", text, r, msg);
	if (strcmp(err, msg))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", text, err, msg);
	/* the partial config is freed and cleared */
	assert_null(cfg.routes.protect_rules);
	assert_int_equal(cfg.routes.n_protect_rules, 0);
	nw_cfg_free(&cfg);
}

static void assert_addr(uint8_t family, const uint8_t *a, const char *text)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(a, want, family == AF_INET ? 4 : 16);
}

static void assert_rule_defaults(const struct nw_cfg *cfg)
{
	assert_int_equal(cfg->rules_cfg.storm_threshold, 20);
	assert_int_equal(cfg->rules_cfg.window_ms, 1000);
	assert_false(cfg->rules_cfg.auto_quarantine);
	assert_true(cfg->routes.protect_default_rules);
	assert_true(cfg->routes.restore_rules);
	assert_null(cfg->routes.protect_rules);
	assert_int_equal(cfg->routes.n_protect_rules, 0);
	/* the routes section is left alone */
	assert_true(cfg->routes.learn_default);
	assert_true(cfg->routes.restore);
	assert_int_equal(cfg->routes.n_protect, 0);
}

static void test_defaults(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{}", &cfg);
	assert_rule_defaults(&cfg);
	nw_cfg_free(&cfg);

	parse_ok("{\"rules\": null}", &cfg);
	assert_rule_defaults(&cfg);
	nw_cfg_free(&cfg);

	parse_ok("{\"rules\": {}}", &cfg);
	assert_rule_defaults(&cfg);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);

	nw_cfg_defaults(&cfg);
	assert_rule_defaults(&cfg);
	nw_cfg_free(&cfg);
}

/* the keys SPEC.md shows */
static void test_spec_example(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{\"rules\":  { \"storm_threshold\": 20, \"window_ms\": 1000, \"protect\": [],"
		 " \"auto_quarantine\": false }}", &cfg);
	assert_rule_defaults(&cfg);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);
}

static void test_knobs(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{\"rules\": {\"storm_threshold\": 1, \"window_ms\": 10, \"auto_quarantine\": true,"
		 " \"protect_defaults\": false, \"restore\": false},"
		 " \"routes\": {\"restore\": true, \"learn_default\": false}}", &cfg);
	assert_int_equal(cfg.rules_cfg.storm_threshold, 1);
	assert_int_equal(cfg.rules_cfg.window_ms, 10);
	assert_true(cfg.rules_cfg.auto_quarantine);
	assert_false(cfg.routes.protect_default_rules);
	assert_false(cfg.routes.restore_rules);
	/* each section has its own restore */
	assert_true(cfg.routes.restore);
	assert_false(cfg.routes.learn_default);
	nw_cfg_free(&cfg);

	parse_ok("{\"rules\": {\"storm_threshold\": 1000000, \"window_ms\": 3600000}}", &cfg);
	assert_int_equal(cfg.rules_cfg.storm_threshold, 1000000);
	assert_int_equal(cfg.rules_cfg.window_ms, 3600000);
	nw_cfg_free(&cfg);

	/* the order of the sections does not matter */
	parse_ok("{\"rules\": {\"restore\": false}, \"routes\": {\"restore\": false}}", &cfg);
	assert_false(cfg.routes.restore_rules);
	assert_false(cfg.routes.restore);
	assert_true(cfg.routes.protect_default_rules);
	nw_cfg_free(&cfg);
}

static void test_protect(void **state)
{
	static const char text[] =
		"{\"rules\": {\n"
		"  \"protect\": [\n"
		"    { \"priority\": 100, \"table\": 100, \"uidrange\": \"1000-1000\" },\n"
		"    { \"uidrange\": \"1101\", \"family\": 4 },\n"
		"    { \"table\": \"main\", \"priority\": 0, \"family\": 6 },\n"
		"    { \"fwmark\": 51820, \"table\": \"local\" },\n"
		"    { \"from\": \"10.0.0.0/8\", \"to\": \"192.0.2.1\", \"iif\": \"wg101\" },\n"
		"    { \"to\": \"2001:db8::/32\", \"oif\": \"eth0\", \"priority\": 4294967295 },\n"
		"    { \"from\": \"all\", \"table\": 4294967295 },\n"
		"    { \"from\": \"2001:db8::1\", \"to\": \"all\", \"family\": 6, \"fwmark\": 0 }\n"
		"  ]\n"
		"}}";
	struct nw_cfg cfg;
	const struct nw_rule_sel *s;

	(void)state;
	parse_ok(text, &cfg);
	assert_int_equal(cfg.routes.n_protect_rules, 8);
	s = cfg.routes.protect_rules;

	assert_int_equal(s[0].family, 0);	/* both */
	assert_true(s[0].has_priority);
	assert_int_equal(s[0].priority, 100);
	assert_true(s[0].has_table);
	assert_int_equal(s[0].table, 100);
	assert_true(s[0].has_uidrange);
	assert_int_equal(s[0].uid_start, 1000);
	assert_int_equal(s[0].uid_end, 1000);
	assert_false(s[0].has_fwmark);
	assert_false(s[0].has_from);
	assert_false(s[0].has_to);
	assert_string_equal(s[0].iif, "");
	assert_string_equal(s[0].oif, "");

	assert_int_equal(s[1].family, AF_INET);
	assert_false(s[1].has_priority);
	assert_false(s[1].has_table);
	assert_int_equal(s[1].uid_start, 1101);
	assert_int_equal(s[1].uid_end, 1101);

	assert_int_equal(s[2].family, AF_INET6);
	assert_int_equal(s[2].table, 254);
	assert_true(s[2].has_priority);
	assert_int_equal(s[2].priority, 0);

	assert_int_equal(s[3].table, 255);
	assert_true(s[3].has_fwmark);
	assert_int_equal(s[3].fwmark, 51820);

	assert_int_equal(s[4].family, AF_INET);	/* from the prefixes */
	assert_true(s[4].has_from);
	assert_int_equal(s[4].from_len, 8);
	assert_addr(AF_INET, s[4].from, "10.0.0.0");
	assert_true(s[4].has_to);
	assert_int_equal(s[4].to_len, 32);
	assert_addr(AF_INET, s[4].to, "192.0.2.1");
	assert_string_equal(s[4].iif, "wg101");

	assert_int_equal(s[5].family, AF_INET6);
	assert_int_equal(s[5].to_len, 32);
	assert_addr(AF_INET6, s[5].to, "2001:db8::");
	assert_string_equal(s[5].oif, "eth0");
	assert_int_equal(s[5].priority, 4294967295u);

	assert_int_equal(s[6].family, 0);
	assert_true(s[6].has_from);
	assert_int_equal(s[6].from_len, 0);
	assert_int_equal(s[6].table, 4294967295u);

	assert_int_equal(s[7].family, AF_INET6);
	assert_int_equal(s[7].from_len, 128);
	assert_addr(AF_INET6, s[7].from, "2001:db8::1");
	assert_true(s[7].has_to);
	assert_int_equal(s[7].to_len, 0);
	assert_true(s[7].has_fwmark);
	assert_int_equal(s[7].fwmark, 0);
	nw_cfg_free(&cfg);
}

static void test_section_errors(void **state)
{
	(void)state;
	rules_error("[]", "rules: expected an object, got an array");
	rules_error("true", "rules: expected an object, got a boolean");
	rules_error("{\"colour\": 1}", "rules.colour: unknown key");
	rules_error("{\"restore\": true, \"restore\": false}", "rules.restore: key given twice");
	rules_error("{\"storm_threshold\": 0}",
		    "rules.storm_threshold: 0 is out of range (1-1000000)");
	rules_error("{\"storm_threshold\": 1000001}",
		    "rules.storm_threshold: 1000001 is out of range (1-1000000)");
	rules_error("{\"storm_threshold\": 2.5}", "rules.storm_threshold: 2.5 is not a whole number");
	rules_error("{\"storm_threshold\": \"20\"}",
		    "rules.storm_threshold: expected a whole number, got a string");
	rules_error("{\"window_ms\": 9}", "rules.window_ms: 9 is out of range (10-3600000)");
	rules_error("{\"window_ms\": 3600001}",
		    "rules.window_ms: 3600001 is out of range (10-3600000)");
	rules_error("{\"auto_quarantine\": 1}",
		    "rules.auto_quarantine: expected true or false, got a number");
	rules_error("{\"protect_defaults\": \"yes\"}",
		    "rules.protect_defaults: expected true or false, got a string");
	rules_error("{\"restore\": null}", "rules.restore: expected true or false, got null");
	rules_error("{\"protect\": {}}", "rules.protect: expected an array, got an object");
	rules_error("{\"protect\": null}", "rules.protect: expected an array, got null");
}

static void test_protect_errors(void **state)
{
	(void)state;
	rules_error("{\"protect\": [100]}", "rules.protect[0]: expected an object, got a number");
	rules_error("{\"protect\": [{}]}",
		    "rules.protect[0]: needs at least one of priority, table, uidrange, fwmark, "
		    "from, to, iif, oif");
	rules_error("{\"protect\": [{\"priority\": 1}, {\"family\": 4}]}",
		    "rules.protect[1]: needs at least one of priority, table, uidrange, fwmark, "
		    "from, to, iif, oif");
	rules_error("{\"protect\": [{\"priority\": 1, \"prio\": 2}]}",
		    "rules.protect[0].prio: unknown key");
	rules_error("{\"protect\": [{\"priority\": 4294967296}]}",
		    "rules.protect[0].priority: 4294967296 is out of range (0-4294967295)");
	rules_error("{\"protect\": [{\"priority\": -1}]}",
		    "rules.protect[0].priority: -1 is out of range (0-4294967295)");
	rules_error("{\"protect\": [{\"priority\": 1.5}]}",
		    "rules.protect[0].priority: 1.5 is not a whole number");
	rules_error("{\"protect\": [{\"priority\": \"100\"}]}",
		    "rules.protect[0].priority: expected a whole number, got a string");
	rules_error("{\"protect\": [{\"table\": \"vpn\"}]}",
		    "rules.protect[0].table: \"vpn\" is not main, default, local or a number");
	rules_error("{\"protect\": [{\"table\": 0}]}",
		    "rules.protect[0].table: 0 is out of range (1-4294967295)");
	rules_error("{\"protect\": [{\"table\": null}]}",
		    "rules.protect[0].table: expected \"main\", \"default\", \"local\" or a number, "
		    "got null");
	rules_error("{\"protect\": [{\"table\": 100, \"family\": 5}]}",
		    "rules.protect[0].family: 5 is not 4 or 6");
	rules_error("{\"protect\": [{\"table\": 100, \"family\": \"any\"}]}",
		    "rules.protect[0].family: expected 4 or 6, got a string");
	rules_error("{\"protect\": [{\"uidrange\": 1000}]}",
		    "rules.protect[0].uidrange: expected a string like \"1000-1000\", got a number");
	rules_error("{\"protect\": [{\"uidrange\": \"abc\"}]}",
		    "rules.protect[0].uidrange: \"abc\" is not a uid range (START-END)");
	rules_error("{\"protect\": [{\"uidrange\": \"1000-\"}]}",
		    "rules.protect[0].uidrange: \"1000-\" is not a uid range (START-END)");
	rules_error("{\"protect\": [{\"uidrange\": \"-1000\"}]}",
		    "rules.protect[0].uidrange: \"-1000\" is not a uid range (START-END)");
	rules_error("{\"protect\": [{\"uidrange\": \"1-2-3\"}]}",
		    "rules.protect[0].uidrange: \"1-2-3\" is not a uid range (START-END)");
	rules_error("{\"protect\": [{\"uidrange\": \"0-4294967295\"}]}",
		    "rules.protect[0].uidrange: \"0-4294967295\" is not a uid range (START-END)");
	rules_error("{\"protect\": [{\"uidrange\": \"2000-1000\"}]}",
		    "rules.protect[0].uidrange: \"2000-1000\": start above end");
	rules_error("{\"protect\": [{\"uidrange\": \"100000000000000000000000000000000-1\"}]}",
		    "rules.protect[0].uidrange: \"100000000000000000000000000000000-1\" is not a uid "
		    "range (START-END)");
	rules_error("{\"protect\": [{\"fwmark\": -1}]}",
		    "rules.protect[0].fwmark: -1 is out of range (0-4294967295)");
	rules_error("{\"protect\": [{\"fwmark\": \"0x10\"}]}",
		    "rules.protect[0].fwmark: expected a whole number, got a string");
	rules_error("{\"protect\": [{\"from\": \"10.0.0.0/33\"}]}",
		    "rules.protect[0].from: \"10.0.0.0/33\" is not an address/prefix or \"all\"");
	rules_error("{\"protect\": [{\"from\": \"any\"}]}",
		    "rules.protect[0].from: \"any\" is not an address/prefix or \"all\"");
	rules_error("{\"protect\": [{\"to\": 10}]}",
		    "rules.protect[0].to: expected a string, got a number");
	rules_error("{\"protect\": [{\"from\": \"10.1.0.0/8\"}]}",
		    "rules.protect[0].from: \"10.1.0.0/8\" has host bits set (10.0.0.0/8?)");
	rules_error("{\"protect\": [{\"to\": \"2001:db8::1/32\"}]}",
		    "rules.protect[0].to: \"2001:db8::1/32\" has host bits set (2001:db8::/32?)");
	rules_error("{\"protect\": [{\"from\": \"10.0.0.0/8\", \"to\": \"2001:db8::/32\"}]}",
		    "rules.protect[0].to: \"2001:db8::/32\" is not an IPv4 prefix like \"from\"");
	rules_error("{\"protect\": [{\"from\": \"10.0.0.0/8\", \"family\": 6}]}",
		    "rules.protect[0].family: 6 does not match \"from\": \"10.0.0.0/8\"");
	rules_error("{\"protect\": [{\"to\": \"::/0\", \"family\": 4}]}",
		    "rules.protect[0].family: 4 does not match \"to\": \"::/0\"");
	rules_error("{\"protect\": [{\"iif\": \"averyverylongname\"}]}",
		    "rules.protect[0].iif: \"averyverylongname\" is longer than 15 bytes");
	rules_error("{\"protect\": [{\"oif\": \"a b\"}]}",
		    "rules.protect[0].oif: \"a b\" is not an interface name");
	rules_error("{\"protect\": [{\"oif\": \"\"}]}", "rules.protect[0].oif: must not be empty");
}

static void test_protect_limit(void **state)
{
	char text[16384];
	size_t n = 0;
	struct nw_cfg cfg;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"protect\": [");
	for (int i = 0; i < NW_RULES_PROTECT_MAX + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"priority\": %d}", i ? ", " : "",
				      i);
	snprintf(text + n, sizeof(text) - n, "]}");
	rules_error(text, "rules.protect: 257 entries, at most 256");

	n = (size_t)snprintf(text, sizeof(text), "{\"rules\": {\"protect\": [");
	for (int i = 0; i < NW_RULES_PROTECT_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"priority\": %d}", i ? ", " : "",
				      i);
	snprintf(text + n, sizeof(text) - n, "]}}");
	parse_ok(text, &cfg);
	assert_int_equal(cfg.routes.n_protect_rules, NW_RULES_PROTECT_MAX);
	assert_int_equal(cfg.routes.protect_rules[255].priority, 255);
	nw_cfg_free(&cfg);
}

/* a bad rules section fails the whole file, the file's name first */
static void test_load(void **state)
{
	char path[] = "/tmp/nw-test-rules.XXXXXX", err[NW_ERR_LEN], want[NW_ERR_LEN + 64];
	struct nw_cfg cfg;
	int fd;
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("{\"rules\": {\"protect\": [{\"uidrange\": \"1000-1000\"}, {\"priority\": 70000,"
	      " \"table\": -3}]}}\n", f);
	fclose(f);
	assert_int_equal(nw_cfg_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: rules.protect[1].table: -3 is out of range (1-4294967295)", path);
	assert_string_equal(err, want);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_knobs),
		cmocka_unit_test(test_protect),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_protect_errors),
		cmocka_unit_test(test_protect_limit),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
