// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the "routes" section of netward.json (user/config.c):
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

/* {"routes": <routes>} must fail with exactly msg */
static void routes_error(const char *routes, const char *msg)
{
	char text[16384], err[NW_ERR_LEN] = "";
	struct nw_cfg cfg;
	int r;

	snprintf(text, sizeof(text), "{\"routes\": %s}", routes);
	r = nw_cfg_parse(text, &cfg, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s: returned %d, expected -EINVAL (%s)", text, r, msg);
	if (strcmp(err, msg))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", text, err, msg);
	/* the partial config is freed and cleared */
	assert_null(cfg.routes.protect);
	assert_int_equal(cfg.routes.n_protect, 0);
	nw_cfg_free(&cfg);
}

static void assert_addr(uint8_t family, const uint8_t *a, const char *text)
{
	uint8_t want[16] = { 0 };

	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(a, want, family == AF_INET ? 4 : 16);
}

static void assert_route_defaults(const struct nw_route_guard_cfg *r)
{
	assert_true(r->learn_default);
	assert_true(r->restore);
	assert_false(r->dry_run);
	assert_null(r->protect);
	assert_int_equal(r->n_protect, 0);
	assert_false(r->fallback4.set);
	assert_false(r->fallback6.set);
	assert_int_equal(r->max_restores, 5);
	assert_int_equal(r->window_ms, 10000);
	assert_int_equal(r->backoff_min_ms, 100);
	assert_int_equal(r->backoff_max_ms, 30000);
	assert_int_equal(r->rcvbuf, 0);
}

static void test_defaults(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{}", &cfg);
	assert_route_defaults(&cfg.routes);
	nw_cfg_free(&cfg);

	parse_ok("{\"routes\": null}", &cfg);
	assert_route_defaults(&cfg.routes);
	nw_cfg_free(&cfg);

	parse_ok("{\"routes\": {}}", &cfg);
	assert_route_defaults(&cfg.routes);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);

	nw_cfg_defaults(&cfg);
	assert_route_defaults(&cfg.routes);
	nw_cfg_free(&cfg);
}

/* the keys SPEC.md shows */
static void test_spec_example(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{\"routes\": { \"learn_default\": true, \"restore\": true, \"protect\": [],"
		 " \"fallback\": null }}", &cfg);
	assert_route_defaults(&cfg.routes);
	assert_string_equal(cfg.pending, "");
	nw_cfg_free(&cfg);
}

static void test_protect(void **state)
{
	static const char text[] =
		"{\"routes\": {\n"
		"  \"learn_default\": false, \"restore\": false,\n"
		"  \"protect\": [\n"
		"    { \"dst\": \"default\", \"family\": 4 },\n"
		"    { \"dst\": \"default\", \"family\": 6, \"table\": \"default\" },\n"
		"    { \"dst\": \"10.9.0.0/16\", \"table\": 100, \"gateway\": \"192.0.2.1\",\n"
		"      \"dev\": \"eth0\", \"metric\": 0 },\n"
		"    { \"dst\": \"2001:db8::/32\", \"table\": \"local\", \"metric\": 4294967295 },\n"
		"    { \"dst\": \"::/0\", \"gateway\": \"fe80::1\", \"dev\": \"wg-worker-10\" },\n"
		"    { \"dst\": \"0.0.0.0/0\", \"family\": 4, \"table\": 4294967295 },\n"
		"    { \"dst\": \"10.1.2.3\" },\n"
		"    { \"dst\": \"2001:db8::1\", \"table\": \"main\" },\n"
		"    { \"dst\": \"10.128.0.0/9\" }\n"
		"  ]\n"
		"}}";
	const struct nw_route_sel *s;
	struct nw_cfg cfg;

	(void)state;
	parse_ok(text, &cfg);
	assert_false(cfg.routes.learn_default);
	assert_false(cfg.routes.restore);
	assert_int_equal(cfg.routes.n_protect, 9);
	s = cfg.routes.protect;

	assert_int_equal(s[0].family, AF_INET);
	assert_int_equal(s[0].dst_len, 0);
	assert_int_equal(s[0].table, 254);
	assert_false(s[0].has_gateway);
	assert_string_equal(s[0].dev, "");
	assert_int_equal(s[0].metric, -1);

	assert_int_equal(s[1].family, AF_INET6);
	assert_int_equal(s[1].dst_len, 0);
	assert_int_equal(s[1].table, 253);

	assert_int_equal(s[2].family, AF_INET);
	assert_int_equal(s[2].dst_len, 16);
	assert_addr(AF_INET, s[2].dst, "10.9.0.0");
	assert_int_equal(s[2].table, 100);
	assert_true(s[2].has_gateway);
	assert_addr(AF_INET, s[2].gateway, "192.0.2.1");
	assert_string_equal(s[2].dev, "eth0");
	assert_int_equal(s[2].metric, 0);

	assert_int_equal(s[3].family, AF_INET6);
	assert_int_equal(s[3].dst_len, 32);
	assert_addr(AF_INET6, s[3].dst, "2001:db8::");
	assert_int_equal(s[3].table, 255);
	assert_int_equal(s[3].metric, 4294967295LL);

	/* "::/0" is the IPv6 default route, no "family" needed */
	assert_int_equal(s[4].family, AF_INET6);
	assert_int_equal(s[4].dst_len, 0);
	assert_addr(AF_INET6, s[4].gateway, "fe80::1");
	assert_string_equal(s[4].dev, "wg-worker-10");

	assert_int_equal(s[5].family, AF_INET);
	assert_int_equal(s[5].dst_len, 0);
	assert_int_equal(s[5].table, 4294967295u);

	/* a bare address is a host route */
	assert_int_equal(s[6].dst_len, 32);
	assert_addr(AF_INET, s[6].dst, "10.1.2.3");
	assert_int_equal(s[7].family, AF_INET6);
	assert_int_equal(s[7].dst_len, 128);
	assert_int_equal(s[7].table, 254);

	assert_int_equal(s[8].dst_len, 9);
	assert_addr(AF_INET, s[8].dst, "10.128.0.0");
	nw_cfg_free(&cfg);
	assert_null(cfg.routes.protect);
}

static void test_fallback(void **state)
{
	struct nw_cfg cfg;
	const struct nw_route_fallback *f;

	(void)state;
	parse_ok("{\"routes\": {\"fallback\": {\"gateway\": \"198.51.100.1\", \"dev\": \"eth1\"}}}",
		 &cfg);
	f = &cfg.routes.fallback4;
	assert_true(f->set);
	assert_int_equal(f->family, AF_INET);
	assert_addr(AF_INET, f->gateway, "198.51.100.1");
	assert_string_equal(f->dev, "eth1");
	assert_int_equal(f->metric, 1000);
	assert_false(cfg.routes.fallback6.set);
	nw_cfg_free(&cfg);

	/* one per family, in any order; family from the gateway or from "family" */
	parse_ok("{\"routes\": {\"fallback\": [\n"
		 "  {\"gateway\": \"2001:db8:1::1\", \"metric\": 2000, \"family\": 6},\n"
		 "  {\"dev\": \"wg0\", \"family\": 4, \"metric\": 0}]}}", &cfg);
	f = &cfg.routes.fallback6;
	assert_true(f->set);
	assert_int_equal(f->family, AF_INET6);
	assert_addr(AF_INET6, f->gateway, "2001:db8:1::1");
	assert_string_equal(f->dev, "");
	assert_int_equal(f->metric, 2000);
	f = &cfg.routes.fallback4;
	assert_true(f->set);
	assert_int_equal(f->family, AF_INET);
	assert_addr(AF_INET, f->gateway, "0.0.0.0");
	assert_string_equal(f->dev, "wg0");
	assert_int_equal(f->metric, 0);
	nw_cfg_free(&cfg);

	parse_ok("{\"routes\": {\"fallback\": []}}", &cfg);
	assert_false(cfg.routes.fallback4.set);
	assert_false(cfg.routes.fallback6.set);
	nw_cfg_free(&cfg);
}

static void test_knobs(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	parse_ok("{\"routes\": {\"max_restores\": 1000, \"window_ms\": 100, \"backoff_min_ms\": 1,"
		 " \"backoff_max_ms\": 1, \"rcvbuf_bytes\": 4096}}", &cfg);
	assert_int_equal(cfg.routes.max_restores, 1000);
	assert_int_equal(cfg.routes.window_ms, 100);
	assert_int_equal(cfg.routes.backoff_min_ms, 1);
	assert_int_equal(cfg.routes.backoff_max_ms, 1);
	assert_int_equal(cfg.routes.rcvbuf, 4096);
	nw_cfg_free(&cfg);

	parse_ok("{\"routes\": {\"max_restores\": 1, \"window_ms\": 3600000,"
		 " \"backoff_min_ms\": 60000, \"backoff_max_ms\": 3600000, \"rcvbuf_bytes\": 0}}",
		 &cfg);
	assert_int_equal(cfg.routes.max_restores, 1);
	assert_int_equal(cfg.routes.window_ms, 3600000);
	assert_int_equal(cfg.routes.backoff_min_ms, 60000);
	assert_int_equal(cfg.routes.backoff_max_ms, 3600000);
	assert_int_equal(cfg.routes.rcvbuf, 0);
	nw_cfg_free(&cfg);
}

static void test_section_errors(void **state)
{
	(void)state;
	routes_error("[]", "routes: expected an object, got an array");
	routes_error("true", "routes: expected an object, got a boolean");
	routes_error("{\"colour\": 1}", "routes.colour: unknown key");
	routes_error("{\"restore\": true, \"restore\": false}", "routes.restore: key given twice");
	routes_error("{\"learn_default\": \"yes\"}",
		     "routes.learn_default: expected true or false, got a string");
	routes_error("{\"restore\": 1}", "routes.restore: expected true or false, got a number");
	routes_error("{\"max_restores\": 0}", "routes.max_restores: 0 is out of range (1-1000)");
	routes_error("{\"max_restores\": 1001}",
		     "routes.max_restores: 1001 is out of range (1-1000)");
	routes_error("{\"max_restores\": 2.5}", "routes.max_restores: 2.5 is not a whole number");
	routes_error("{\"window_ms\": 50}", "routes.window_ms: 50 is out of range (100-3600000)");
	routes_error("{\"window_ms\": \"1s\"}",
		     "routes.window_ms: expected a whole number, got a string");
	routes_error("{\"backoff_min_ms\": 0}",
		     "routes.backoff_min_ms: 0 is out of range (1-60000)");
	routes_error("{\"backoff_max_ms\": 3600001}",
		     "routes.backoff_max_ms: 3600001 is out of range (1-3600000)");
	routes_error("{\"backoff_max_ms\": 50}",
		     "routes.backoff_max_ms: 50 is below backoff_min_ms (100)");
	routes_error("{\"backoff_min_ms\": 500, \"backoff_max_ms\": 400}",
		     "routes.backoff_max_ms: 400 is below backoff_min_ms (500)");
	routes_error("{\"backoff_min_ms\": 60000}",
		     "routes.backoff_min_ms: 60000 is above backoff_max_ms (30000)");
	routes_error("{\"rcvbuf_bytes\": 100}",
		     "routes.rcvbuf_bytes: 100 is out of range (0 or 4096-1073741824)");
	routes_error("{\"rcvbuf_bytes\": 2147483648}",
		     "routes.rcvbuf_bytes: 2147483648 is out of range (0-1073741824)");
	routes_error("{\"protect\": {}}", "routes.protect: expected an array, got an object");
	routes_error("{\"protect\": null}", "routes.protect: expected an array, got null");
}

static void test_protect_errors(void **state)
{
	(void)state;
	routes_error("{\"protect\": [\"10.0.0.0/8\"]}",
		     "routes.protect[0]: expected an object, got a string");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/33\"}]}",
		     "routes.protect[0].dst: \"10.0.0.0/33\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"default\", \"family\": 4}, {\"dst\": \"::/129\"}]}",
		     "routes.protect[1].dst: \"::/129\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/\"}]}",
		     "routes.protect[0].dst: \"10.0.0.0/\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8x\"}]}",
		     "routes.protect[0].dst: \"10.0.0.0/8x\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0/8\"}]}",
		     "routes.protect[0].dst: \"10.0.0/8\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"eth0\"}]}",
		     "routes.protect[0].dst: \"eth0\" is not an address/prefix");
	routes_error("{\"protect\": [{\"dst\": \"10.9.0.1/16\"}]}",
		     "routes.protect[0].dst: \"10.9.0.1/16\" has host bits set (10.9.0.0/16?)");
	routes_error("{\"protect\": [{\"dst\": \"2001:db8::1/32\"}]}",
		     "routes.protect[0].dst: \"2001:db8::1/32\" has host bits set (2001:db8::/32?)");
	routes_error("{\"protect\": [{\"dst\": \"10.255.0.0/9\"}]}",
		     "routes.protect[0].dst: \"10.255.0.0/9\" has host bits set (10.128.0.0/9?)");
	routes_error("{\"protect\": [{\"table\": 100}]}",
		     "routes.protect[0].dst: missing (\"default\", a prefix or an address)");
	routes_error("{\"protect\": [{\"dst\": 10}]}",
		     "routes.protect[0].dst: expected a string, got a number");
	routes_error("{\"protect\": [{\"dst\": \"default\"}]}",
		     "routes.protect[0].family: missing (4 or 6), needed with \"dst\": \"default\"");
	routes_error("{\"protect\": [{\"dst\": \"default\", \"family\": 5}]}",
		     "routes.protect[0].family: 5 is not 4 or 6");
	routes_error("{\"protect\": [{\"dst\": \"default\", \"family\": \"inet\"}]}",
		     "routes.protect[0].family: expected 4 or 6, got a string");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"family\": 6}]}",
		     "routes.protect[0].family: 6 does not match \"dst\": \"10.0.0.0/8\"");
	routes_error("{\"protect\": [{\"dst\": \"default\", \"family\": 4, \"table\": \"foo\"}]}",
		     "routes.protect[0].table: \"foo\" is not main, default, local or a number");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"table\": 0}]}",
		     "routes.protect[0].table: 0 is out of range (1-4294967295)");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"table\": 4294967296}]}",
		     "routes.protect[0].table: 4294967296 is out of range (1-4294967295)");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"table\": true}]}",
		     "routes.protect[0].table: expected \"main\", \"default\", \"local\" or a "
		     "number, got a boolean");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"gateway\": \"2001:db8::1\"}]}",
		     "routes.protect[0].gateway: \"2001:db8::1\" is not an IPv4 address like \"dst\"");
	routes_error("{\"protect\": [{\"dst\": \"::/0\", \"gateway\": \"192.0.2.1\"}]}",
		     "routes.protect[0].gateway: \"192.0.2.1\" is not an IPv6 address like \"dst\"");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"gateway\": \"gw\"}]}",
		     "routes.protect[0].gateway: \"gw\" is not an IP address");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"gateway\": null}]}",
		     "routes.protect[0].gateway: expected a string, got null");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"dev\": \"averyverylongname\"}]}",
		     "routes.protect[0].dev: \"averyverylongname\" is longer than 15 bytes");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"dev\": \"a/b\"}]}",
		     "routes.protect[0].dev: \"a/b\" is not an interface name");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"dev\": \"\"}]}",
		     "routes.protect[0].dev: must not be empty");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"metric\": -1}]}",
		     "routes.protect[0].metric: -1 is out of range (0-4294967295)");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"metric\": \"100\"}]}",
		     "routes.protect[0].metric: expected a whole number, got a string");
	routes_error("{\"protect\": [{\"dst\": \"10.0.0.0/8\", \"via\": \"192.0.2.1\"}]}",
		     "routes.protect[0].via: unknown key");
}

static void test_protect_limit(void **state)
{
	char text[16384];
	size_t n = 0;
	struct nw_cfg cfg;

	(void)state;
	n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"protect\": [");
	for (int i = 0; i < NW_ROUTES_PROTECT_MAX + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"dst\": \"10.%d.0.0/16\"}",
				      i ? ", " : "", i % 256);
	snprintf(text + n, sizeof(text) - n, "]}");
	routes_error(text, "routes.protect: 257 entries, at most 256");

	/* exactly the limit is fine */
	n = (size_t)snprintf(text, sizeof(text), "{\"routes\": {\"protect\": [");
	for (int i = 0; i < NW_ROUTES_PROTECT_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s{\"dst\": \"10.%d.0.0/16\"}",
				      i ? ", " : "", i % 256);
	snprintf(text + n, sizeof(text) - n, "]}}");
	parse_ok(text, &cfg);
	assert_int_equal(cfg.routes.n_protect, NW_ROUTES_PROTECT_MAX);
	nw_cfg_free(&cfg);
}

static void test_fallback_errors(void **state)
{
	(void)state;
	routes_error("{\"fallback\": \"eth1\"}",
		     "routes.fallback: expected null, an object or an array, got a string");
	routes_error("{\"fallback\": {}}", "routes.fallback: needs \"gateway\", \"dev\" or both");
	routes_error("{\"fallback\": {\"metric\": 10}}",
		     "routes.fallback: needs \"gateway\", \"dev\" or both");
	routes_error("{\"fallback\": {\"dev\": \"eth1\"}}",
		     "routes.fallback.family: missing (4 or 6), needed without \"gateway\"");
	routes_error("{\"fallback\": {\"gateway\": \"2001:db8::1\", \"family\": 4}}",
		     "routes.fallback.gateway: \"2001:db8::1\" is not an IPv4 address like "
		     "\"family\"");
	routes_error("{\"fallback\": {\"gateway\": \"x\"}}",
		     "routes.fallback.gateway: \"x\" is not an IP address");
	routes_error("{\"fallback\": {\"gateway\": \"192.0.2.1\", \"metric\": 1.5}}",
		     "routes.fallback.metric: 1.5 is not a whole number");
	routes_error("{\"fallback\": {\"gateway\": \"192.0.2.1\", \"table\": 100}}",
		     "routes.fallback.table: unknown key");
	routes_error("{\"fallback\": {\"gateway\": \"192.0.2.1\", \"dev\": \"a b\"}}",
		     "routes.fallback.dev: \"a b\" is not an interface name");
	routes_error("{\"fallback\": [{\"gateway\": \"192.0.2.1\"}, {\"gateway\": \"192.0.2.2\"}]}",
		     "routes.fallback[1]: a second IPv4 fallback");
	routes_error("{\"fallback\": [{\"gateway\": \"::1\"}, {\"dev\": \"x\", \"family\": 6}]}",
		     "routes.fallback[1]: a second IPv6 fallback");
	routes_error("{\"fallback\": [{\"gateway\": \"192.0.2.1\"}, 4]}",
		     "routes.fallback[1]: expected an object, got a number");
	routes_error("{\"fallback\": [{}, {}, {}]}",
		     "routes.fallback: 3 entries, at most 2 (one per family)");
}

/* a bad routes section fails a whole file with the file's name first */
static void test_load(void **state)
{
	char path[] = "/tmp/nw-test-routes.XXXXXX", err[NW_ERR_LEN], want[NW_ERR_LEN + 64];
	struct nw_cfg cfg;
	int fd;
	FILE *f;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("{\"routes\": {\"protect\": [{\"dst\": \"10.0.0.0/33\"}]}}\n", f);
	fclose(f);
	assert_int_equal(nw_cfg_load(path, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s: routes.protect[0].dst: \"10.0.0.0/33\" is not an address/prefix", path);
	assert_string_equal(err, want);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_protect),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_knobs),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_protect_errors),
		cmocka_unit_test(test_protect_limit),
		cmocka_unit_test(test_fallback_errors),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
