// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the "segw" section of netward.json (user/config_segw.c):
 * the gateway list parsing of seed 001 (spaces are fine; NULL, empty and
 * malformed lists are errors) and every error message. */
#define _GNU_SOURCE
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
#include "segw.h"

#define CONN "\"conn\": {\"version\": 2, \"local\": {\"auth\": \"psk\", \"id\": \"c.lab\"}}"

static void split_ok(const char *list, size_t n, const char *const *want)
{
	char why[160] = "", **gw = NULL;
	size_t got = 0;

	if (nw_segw_split_addrs(list, &gw, &got, why, sizeof(why)))
		fail_msg("\"%s\": %s", list, why);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(gw[i], want[i]);
		free(gw[i]);
	}
	free(gw);
}

static void split_bad(const char *list, const char *msg)
{
	char why[160] = "", **gw = (char **)1;
	size_t n = 7;

	assert_int_equal(nw_segw_split_addrs(list, &gw, &n, why, sizeof(why)), -EINVAL);
	assert_null(gw);
	assert_int_equal(n, 0);
	assert_string_equal(why, msg);
}

static void test_split(void **state)
{
	static const char *const three[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3" };
	static const char *const mixed[] = { "2001:db8::1", "segw.example.com", "10.0.0.3" };
	static const char *const one[] = { "10.0.0.1" };
	char many[16 * 12 + 16] = "";
	(void)state;

	split_ok("10.0.0.1,10.0.0.2,10.0.0.3", 3, three);
	split_ok("10.0.0.1, 10.0.0.2 ,  10.0.0.3", 3, three);	/* the seed's spaces */
	split_ok(" \t10.0.0.1,10.0.0.2,10.0.0.3 \n", 3, three);
	split_ok("2001:db8::1,segw.example.com , 10.0.0.3", 3, mixed);
	split_ok("10.0.0.1", 1, one);
	split_bad(NULL, "is empty: at least one gateway is needed");
	split_bad("", "is empty: at least one gateway is needed");
	split_bad("   ", "entry 1 is empty");
	split_bad("10.0.0.1,,10.0.0.3", "entry 2 is empty");
	split_bad("10.0.0.1,", "entry 2 is empty");
	split_bad(",10.0.0.1", "entry 1 is empty");
	split_bad("10.0.0.1 10.0.0.2", "entry 1 \"10.0.0.1 10.0.0.2\" contains a space or a control "
		  "character");
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s10.0.0.%d",
			 i ? "," : "", i + 1);
	split_bad(many, "more than 16 gateways");
}

static void cfg_assert_empty(const struct nw_cfg *cfg)
{
	assert_null(cfg->segw.conns);
}

/* {"segw": <segw>} must fail with msg */
static void segw_error(const char *segw, const char *msg)
{
	expect_errorf(msg, "{\"segw\": %s}", segw);
}

/* {"segw": {"connections": [{"name": "corp", <fields>}]}} must fail with msg */
static void conn_error(const char *fields, const char *msg)
{
	expect_errorf(msg, "{\"segw\": {\"connections\": [{\"name\": \"corp\", %s}]}}",
		      fields);
}

static void test_segw_ok(void **state)
{
	struct nw_cfg cfg;
	(void)state;

	parse_ok("{}", &cfg);
	assert_false(cfg.segw.enabled);
	assert_int_equal(cfg.segw.initiate_timeout_ms, 10000);
	nw_cfg_free(&cfg);
	parse_ok("{\"segw\": {\"vici_socket\": \"unix:///run/x/charon.vici\","
		 " \"initiate_timeout_ms\": 2500, \"connections\": ["
		 " {\"name\": \"corp\", \"remote_addrs\": \"10.0.0.1, 10.0.0.2\", \"psk_file\": \"/etc/p\","
		 "  \"conn\": {\"version\": 2, \"proposals\": \"aes128-sha256-modp2048\","
		 "   \"local\": {\"auth\": \"psk\", \"id\": \"c.lab\"},"
		 "   \"children\": {\"net\": {\"local_ts\": [\"10.1.0.0/16\"], \"dpd_action\": \"clear\"}}}},"
		 " {\"name\": \"lab-2\", \"remote_addrs\": \"gw.example\", \"max_retries\": 1, " CONN "}]}}",
		 &cfg);
	assert_true(cfg.segw.enabled);
	assert_string_equal(cfg.segw.vici_socket, "unix:///run/x/charon.vici");
	assert_int_equal(cfg.segw.initiate_timeout_ms, 2500);
	assert_int_equal(cfg.segw.n_conns, 2);
	assert_string_equal(cfg.segw.conns[0].name, "corp");
	assert_int_equal(cfg.segw.conns[0].n_gateways, 2);
	assert_string_equal(cfg.segw.conns[0].gateways[1], "10.0.0.2");
	assert_int_equal(cfg.segw.conns[0].max_retries, 5);
	assert_string_equal(cfg.segw.conns[0].psk_file, "/etc/p");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(cfg.segw.conns[0].conn, "children"));
	assert_int_equal(cfg.segw.conns[1].max_retries, 1);
	assert_null(cfg.segw.conns[1].psk_file);
	nw_cfg_free(&cfg);
}

static void test_segw_errors(void **state)
{
	(void)state;
	segw_error("[]", "segw: expected an object, got an array");
	segw_error("{}", "segw.connections: missing (the connections to fail over)");
	segw_error("{\"vici_socket\": \"charon.vici\", \"connections\": []}",
		   "segw.vici_socket: \"charon.vici\" is not unix:///absolute/path or an absolute path");
	segw_error("{\"initiate_timeout_ms\": 50, \"connections\": []}",
		   "segw.initiate_timeout_ms: 50 is out of range (100-600000)");
	segw_error("{\"connections\": [{\"remote_addrs\": \"a\", " CONN "}]}",
		   "segw.connections[0].name: missing");
	conn_error(CONN, "segw.connections[0].remote_addrs: missing: the gateways to rotate through");
	conn_error("\"remote_addrs\": null, " CONN,
		   "segw.connections[0].remote_addrs: missing: the gateways to rotate through");
	conn_error("\"remote_addrs\": \"\", " CONN,
		   "segw.connections[0].remote_addrs: \"\": is empty: at least one gateway is needed");
	conn_error("\"remote_addrs\": \"10.0.0.1,,10.0.0.2\", " CONN,
		   "segw.connections[0].remote_addrs: \"10.0.0.1,,10.0.0.2\": entry 2 is empty");
	conn_error("\"remote_addrs\": [\"10.0.0.1\"], " CONN,
		   "segw.connections[0].remote_addrs: expected a string such as \"10.0.0.1, "
		   "10.0.0.2\", got an array");
	conn_error("\"remote_addrs\": \"a\", \"max_retries\": 0, " CONN,
		   "segw.connections[0].max_retries: 0 is out of range (1-100)");
	conn_error("\"remote_addrs\": \"a\", \"psk_file\": \"psk\", " CONN,
		   "segw.connections[0].psk_file: \"psk\" is not an absolute path");
	conn_error("\"remote_addrs\": \"a\"", "segw.connections[0].conn: missing: the connection as "
		   "swanctl.conf would define it");
	conn_error("\"remote_addrs\": \"a\", \"conn\": {\"remote_addrs\": \"b\"}",
		   "segw.connections[0].conn.remote_addrs: set by netward from remote_addrs (the "
		   "current gateway): leave it out here");
	conn_error("\"remote_addrs\": \"a\", \"conn\": {\"children\": {\"net\": "
		   "{\"dpd_action\": \"restart\"}}}",
		   "segw.connections[0].conn.children.net.dpd_action: \"restart\" re-initiates to the "
		   "same gateway and fights netward's rotation: use \"clear\" (netward does the "
		   "retries)");
	conn_error("\"remote_addrs\": \"a\", \"conn\": {\"local_ts\": [{\"a\": 1}]}",
		   "segw.connections[0].conn.local_ts: lists hold strings or numbers, got an object");
	conn_error("\"remote_addrs\": \"a\", \"conn\": {\"vips\": null}",
		   "segw.connections[0].conn.vips: null is not a value (leave the key out)");
	segw_error("{\"connections\": [{\"name\": \"a b\", \"remote_addrs\": \"a\", " CONN "}]}",
		   "segw.connections[0].name: \"a b\": use letters, digits, '-', '_' and '.'");
	segw_error("{\"connections\": [{\"name\": \"x\", \"remote_addrs\": \"a\", " CONN "},"
		   " {\"name\": \"x\", \"remote_addrs\": \"b\", " CONN "}]}",
		   "segw.connections[1].name: \"x\" is the name of segw.connections[0] already");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_segw_ok),
		cmocka_unit_test(test_segw_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
