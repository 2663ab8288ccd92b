// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/config.c: netward.json parsing, its error messages,
 * the cgroup check and loading from a file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "policy.h"
#include "util.h"

#define TMPDIR_TEMPLATE "/tmp/nw-test-config.XXXXXX"
#include "tmpdir.h"

/* Parses text, which must fail with exactly msg; cfg is left empty. */
static void expect_error(const char *text, const char *msg)
{
	struct nw_cfg cfg;
	char err[NW_ERR_LEN] = "";
	int r;

	r = nw_cfg_parse(text, &cfg, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("%s: returned %d, expected -EINVAL (%s)", text, r, msg);
	if (strcmp(err, msg))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", text, err, msg);
	/* on failure the partial config is freed and cleared */
	assert_null(cfg.rules);
	assert_int_equal(cfg.n_rules, 0);
	assert_null(cfg.pin_dir);
	assert_null(cfg.socket);
	assert_null(cfg.bind_cgroup);
	nw_cfg_free(&cfg);
}

static void parse_ok(const char *text, struct nw_cfg *cfg)
{
	char err[NW_ERR_LEN] = "";
	int r = nw_cfg_parse(text, cfg, err, sizeof(err));

	if (r)
		fail_msg("%s: returned %d: %s", text, r, err);
	assert_string_equal(err, "");	/* untouched on success */
}

static void assert_defaults(const struct nw_cfg *cfg)
{
	assert_false(cfg->netns_all);
	assert_null(cfg->pin_dir);
	assert_false(cfg->keep_on_exit);
	assert_null(cfg->socket);
	assert_null(cfg->bind_cgroup);
	assert_int_equal(cfg->bind_default, NW_ACT_AUDIT);
	assert_true(cfg->scan_listeners);
	assert_null(cfg->rules);
	assert_int_equal(cfg->n_rules, 0);
	assert_int_equal(cfg->log_level, LOG_INFO);
	assert_int_equal(cfg->history, 1024);
	assert_string_equal(cfg->pending, "");
}

static void test_full(void **state)
{
	static const char text[] =
		"{\n"
		"  \"netns\": \"all\",\n"
		"  \"bpf\": { \"pin_dir\": \"/sys/fs/bpf/nwtest\", \"keep_on_exit\": true },\n"
		"  \"control\": { \"socket\": \"/run/nwtest/ctl.sock\" },\n"
		"  \"binds\": {\n"
		"    \"cgroup\": \"system.slice\",\n"
		"    \"default_action\": \"deny\",\n"
		"    \"scan_listeners\": false,\n"
		"    \"rules\": [\n"
		"      { \"cgroup\": \"system.slice/sshd.service\", \"port\": 22,\n"
		"        \"proto\": \"tcp\", \"family\": 4, \"action\": \"allow\" },\n"
		"      { \"port\": 8443, \"proto\": \"udp\", \"family\": 6,\n"
		"        \"action\": \"rewrite\" },\n"
		"      { \"cgroup\": null, \"port\": 0, \"proto\": \"any\", \"family\": \"any\",\n"
		"        \"action\": \"kill\" },\n"
		"      { \"cgroup\": \"/user.slice\", \"port\": 65535, \"action\": \"audit\" }\n"
		"    ]\n"
		"  },\n"
		"  \"log\": { \"level\": \"debug\", \"history\": 50 }\n"
		"}\n";
	struct nw_cfg cfg;

	(void)state;
	parse_ok(text, &cfg);
	assert_true(cfg.netns_all);
	assert_string_equal(cfg.pin_dir, "/sys/fs/bpf/nwtest");
	assert_true(cfg.keep_on_exit);
	assert_string_equal(cfg.socket, "/run/nwtest/ctl.sock");
	assert_string_equal(cfg.bind_cgroup, "system.slice");
	assert_int_equal(cfg.bind_default, NW_ACT_DENY);
	assert_false(cfg.scan_listeners);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.history, 50);
	assert_string_equal(cfg.pending, "");

	assert_int_equal(cfg.n_rules, 4);
	assert_string_equal(cfg.rules[0].cgroup, "system.slice/sshd.service");
	assert_int_equal(cfg.rules[0].port, 22);
	assert_int_equal(cfg.rules[0].proto, NW_PROTO_TCP);
	assert_int_equal(cfg.rules[0].family, 4);
	assert_int_equal(cfg.rules[0].action, NW_ACT_ALLOW);

	assert_null(cfg.rules[1].cgroup);
	assert_int_equal(cfg.rules[1].port, 8443);
	assert_int_equal(cfg.rules[1].proto, NW_PROTO_UDP);
	assert_int_equal(cfg.rules[1].family, 6);
	assert_int_equal(cfg.rules[1].action, NW_ACT_REWRITE);

	assert_null(cfg.rules[2].cgroup);
	assert_int_equal(cfg.rules[2].port, 0);
	assert_int_equal(cfg.rules[2].proto, 0);
	assert_int_equal(cfg.rules[2].family, 0);
	assert_int_equal(cfg.rules[2].action, NW_ACT_KILL);

	assert_string_equal(cfg.rules[3].cgroup, "/user.slice");
	assert_int_equal(cfg.rules[3].port, 65535);
	assert_int_equal(cfg.rules[3].proto, 0);
	assert_int_equal(cfg.rules[3].family, 0);
	assert_int_equal(cfg.rules[3].action, NW_ACT_AUDIT);
	nw_cfg_free(&cfg);
	/* nw_cfg_free clears: a second call is harmless */
	assert_null(cfg.rules);
	assert_int_equal(cfg.n_rules, 0);
	nw_cfg_free(&cfg);
}

static void test_defaults(void **state)
{
	static const char *const texts[] = {
		"{}",
		" \n\t{ }\n",
		"{\"binds\": {}}",
		"{\"bpf\": {}, \"control\": {}, \"log\": {}}",
		"{\"netns\": \"self\"}",
		"{\"binds\": {\"rules\": []}}",
	};
	struct nw_cfg cfg;

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(texts); i++) {
		parse_ok(texts[i], &cfg);
		if (!strcmp(texts[i], "{\"binds\": {\"rules\": []}}")) {
			/* an empty list: allocated, no rules */
			assert_int_equal(cfg.n_rules, 0);
			free(cfg.rules);
			cfg.rules = NULL;
		}
		assert_defaults(&cfg);
		nw_cfg_free(&cfg);
	}

	/* a section given leaves the defaults of the others alone */
	parse_ok("{\"log\": {\"level\": \"err\"}}", &cfg);
	assert_int_equal(cfg.log_level, LOG_ERR);
	assert_int_equal(cfg.history, 1024);
	assert_int_equal(cfg.bind_default, NW_ACT_AUDIT);
	assert_true(cfg.scan_listeners);
	nw_cfg_free(&cfg);

	parse_ok("{\"binds\": {\"default_action\": \"allow\"}}", &cfg);
	assert_int_equal(cfg.bind_default, NW_ACT_ALLOW);
	assert_true(cfg.scan_listeners);
	assert_int_equal(cfg.log_level, LOG_INFO);
	nw_cfg_free(&cfg);

	/* nw_cfg_defaults alone */
	memset(&cfg, 0xa5, sizeof(cfg));
	nw_cfg_defaults(&cfg);
	assert_defaults(&cfg);
	nw_cfg_free(&cfg);
}

static void test_log_levels(void **state)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	struct nw_cfg cfg;
	char text[128];

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(levels); i++) {
		snprintf(text, sizeof(text), "{\"log\": {\"level\": \"%s\"}}", levels[i].name);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.log_level, levels[i].level);
		nw_cfg_free(&cfg);
	}
	parse_ok("{\"log\": {\"history\": 1}}", &cfg);
	assert_int_equal(cfg.history, 1);
	nw_cfg_free(&cfg);
	parse_ok("{\"log\": {\"history\": 1000000}}", &cfg);
	assert_int_equal(cfg.history, 1000000);
	nw_cfg_free(&cfg);
}

static void test_pending_sections(void **state)
{
	struct nw_cfg cfg;

	(void)state;
	/* every section of SPEC.md is implemented: nothing is pending */
	parse_ok("{\"metrics\": {\"textfile\": null}, \"segw\": null,"
		 " \"tunnels\": null, \"recovery\": null, \"probes\": [],"
		 " \"rules\": {}, \"routes\": {\"learn_default\": false}}", &cfg);
	assert_string_equal(cfg.pending, "");
	assert_false(cfg.routes.learn_default);
	assert_int_equal(cfg.bind_default, NW_ACT_AUDIT);
	nw_cfg_free(&cfg);

	parse_ok("{\"metrics\": null, \"binds\": {\"default_action\": \"deny\"}}", &cfg);
	assert_string_equal(cfg.pending, "");
	assert_int_equal(cfg.bind_default, NW_ACT_DENY);
	nw_cfg_free(&cfg);

	parse_ok("{\"metrics\": {}, \"routes\": null}", &cfg);
	assert_string_equal(cfg.pending, "");
	assert_true(cfg.routes.learn_default);
	nw_cfg_free(&cfg);

	expect_error("{\"probes\": {}}", "probes: expected an array, got an object");
	expect_error("{\"probes\": null}", "probes: expected an array, got null");
	expect_error("{\"routes\": []}", "routes: expected an object, got an array");
	expect_error("{\"metrics\": true}", "metrics: expected an object, got a boolean");
	expect_error("{\"tunnels\": \"wg0\"}", "tunnels: expected an object, got a string");
	expect_error("{\"segw\": 1}", "segw: expected an object, got a number");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("{\"colour\": \"red\"}", "colour: unknown key");
	expect_error("{\"netns\": \"self\", \"Binds\": {}}", "Binds: unknown key");
	expect_error("{\"bpf\": {\"pin\": \"/x\"}}", "bpf.pin: unknown key");
	expect_error("{\"control\": {\"path\": \"/x\"}}", "control.path: unknown key");
	expect_error("{\"binds\": {\"colour\": 1}}", "binds.colour: unknown key");
	expect_error("{\"log\": {\"colour\": 1}}", "log.colour: unknown key");
	expect_error("{\"binds\": {\"rules\": [{\"colour\": \"red\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].colour: unknown key");
	expect_error("{\"binds\": {\"rules\": [{\"action\": \"deny\"},"
		     " {\"action\": \"deny\", \"ports\": 80}]}}",
		     "binds.rules[1].ports: unknown key");
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("{\"netns\": \"self\", \"netns\": \"all\"}", "netns: key given twice");
	expect_error("{\"binds\": {}, \"log\": {}, \"binds\": {}}", "binds: key given twice");
	expect_error("{\"log\": {\"level\": \"info\", \"level\": \"debug\"}}",
		     "log.level: key given twice");
	expect_error("{\"binds\": {\"rules\": [{\"action\": \"deny\", \"port\": 1, \"port\": 2}]}}",
		     "binds.rules[0].port: key given twice");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_error("{\"binds\": \"deny\"}", "binds: expected an object, got a string");
	expect_error("{\"bpf\": []}", "bpf: expected an object, got an array");
	expect_error("{\"control\": null}", "control: expected an object, got null");
	expect_error("{\"log\": 3}", "log: expected an object, got a number");
	expect_error("{\"netns\": true}", "netns: expected \"self\" or \"all\", got a boolean");
	expect_error("{\"bpf\": {\"pin_dir\": 5}}", "bpf.pin_dir: expected a string, got a number");
	expect_error("{\"bpf\": {\"keep_on_exit\": \"yes\"}}",
		     "bpf.keep_on_exit: expected true or false, got a string");
	expect_error("{\"bpf\": {\"keep_on_exit\": 1}}",
		     "bpf.keep_on_exit: expected true or false, got a number");
	expect_error("{\"control\": {\"socket\": {}}}",
		     "control.socket: expected a string, got an object");
	expect_error("{\"binds\": {\"cgroup\": 1}}",
		     "binds.cgroup: expected a string, got a number");
	expect_error("{\"binds\": {\"cgroup\": null}}",
		     "binds.cgroup: expected a string, got null");
	expect_error("{\"binds\": {\"default_action\": 3}}",
		     "binds.default_action: expected a string, got a number");
	expect_error("{\"binds\": {\"scan_listeners\": \"true\"}}",
		     "binds.scan_listeners: expected true or false, got a string");
	expect_error("{\"binds\": {\"rules\": {}}}",
		     "binds.rules: expected an array, got an object");
	expect_error("{\"binds\": {\"rules\": \"x\"}}",
		     "binds.rules: expected an array, got a string");
	expect_error("{\"binds\": {\"rules\": [\"allow\"]}}",
		     "binds.rules[0]: expected an object, got a string");
	expect_error("{\"binds\": {\"rules\": [{\"action\": \"deny\"}, []]}}",
		     "binds.rules[1]: expected an object, got an array");
	expect_error("{\"binds\": {\"rules\": [{\"cgroup\": 5, \"action\": \"deny\"}]}}",
		     "binds.rules[0].cgroup: expected a string, got a number");
	expect_error("{\"binds\": {\"rules\": [{\"port\": \"80\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].port: expected a whole number, got a string");
	expect_error("{\"binds\": {\"rules\": [{\"proto\": 6, \"action\": \"deny\"}]}}",
		     "binds.rules[0].proto: expected a string, got a number");
	expect_error("{\"binds\": {\"rules\": [{\"action\": false}]}}",
		     "binds.rules[0].action: expected a string, got a boolean");
	expect_error("{\"log\": {\"level\": 7}}", "log.level: expected a string, got a number");
	expect_error("{\"log\": {\"history\": \"10\"}}",
		     "log.history: expected a whole number, got a string");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("{\"binds\": {\"default_action\": \"block\"}}",
		     "binds.default_action: \"block\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	/* "none" is internal: not an action a config may ask for */
	expect_error("{\"binds\": {\"default_action\": \"none\"}}",
		     "binds.default_action: \"none\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	expect_error("{\"binds\": {\"default_action\": \"Deny\"}}",
		     "binds.default_action: \"Deny\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	expect_error("{\"binds\": {\"rules\": [{\"action\": \"deny\"}, {\"action\": \"block\"}]}}",
		     "binds.rules[1].action: \"block\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	expect_error("{\"binds\": {\"rules\": [{\"port\": 22}]}}",
		     "binds.rules[0].action: missing (allow, audit, deny, rewrite, kill)");
	expect_error("{\"binds\": {\"rules\": [{\"port\": 70000, \"action\": \"deny\"}]}}",
		     "binds.rules[0].port: 70000 is out of range (0-65535)");
	expect_error("{\"binds\": {\"rules\": [{\"port\": 65536, \"action\": \"deny\"}]}}",
		     "binds.rules[0].port: 65536 is out of range (0-65535)");
	expect_error("{\"binds\": {\"rules\": [{\"port\": -1, \"action\": \"deny\"}]}}",
		     "binds.rules[0].port: -1 is out of range (0-65535)");
	expect_error("{\"binds\": {\"rules\": [{\"port\": 1.5, \"action\": \"deny\"}]}}",
		     "binds.rules[0].port: 1.5 is not a whole number");
	expect_error("{\"binds\": {\"rules\": [{\"family\": 5, \"action\": \"deny\"}]}}",
		     "binds.rules[0].family: 5 is not 4, 6 or \"any\"");
	expect_error("{\"binds\": {\"rules\": [{\"family\": \"x\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].family: expected 4, 6 or \"any\", got a string");
	expect_error("{\"binds\": {\"rules\": [{\"family\": \"4\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].family: expected 4, 6 or \"any\", got a string");
	expect_error("{\"binds\": {\"rules\": [{\"family\": null, \"action\": \"deny\"}]}}",
		     "binds.rules[0].family: expected 4, 6 or \"any\", got null");
	expect_error("{\"binds\": {\"rules\": [{\"proto\": \"icmp\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].proto: \"icmp\" is not tcp, udp or any");
	expect_error("{\"netns\": \"other\"}", "netns: \"other\" is not \"self\" or \"all\"");
	expect_error("{\"netns\": \"\"}", "netns: \"\" is not \"self\" or \"all\"");
	expect_error("{\"bpf\": {\"pin_dir\": \"sys/fs/bpf/netward\"}}",
		     "bpf.pin_dir: \"sys/fs/bpf/netward\" is not an absolute path");
	expect_error("{\"control\": {\"socket\": \"netward.sock\"}}",
		     "control.socket: \"netward.sock\" is not an absolute path");
	expect_error("{\"log\": {\"level\": \"loud\"}}",
		     "log.level: \"loud\" is not err, warning, notice, info or debug");
	expect_error("{\"log\": {\"history\": 0}}", "log.history: 0 is out of range (1-1000000)");
	expect_error("{\"log\": {\"history\": 1000001}}",
		     "log.history: 1000001 is out of range (1-1000000)");
	expect_error("{\"log\": {\"history\": 2.5}}", "log.history: 2.5 is not a whole number");
}

static void test_socket_length(void **state)
{
	char path[120], text[200];
	struct nw_cfg cfg;

	(void)state;
	/* sun_path holds 108 bytes with the NUL: 107 is the longest path */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = 0;
	snprintf(text, sizeof(text), "{\"control\": {\"socket\": \"%s\"}}", path);
	parse_ok(text, &cfg);
	assert_string_equal(cfg.socket, path);
	assert_int_equal(strlen(cfg.socket), 107);
	nw_cfg_free(&cfg);

	path[107] = 'a';
	path[108] = 0;
	snprintf(text, sizeof(text), "{\"control\": {\"socket\": \"%s\"}}", path);
	expect_error(text, "control.socket: longer than 107 bytes");
}

static void test_invalid_json(void **state)
{
	(void)state;
	/* where cJSON stops: one past a bad key, at the start of a bad value */
	expect_error("{\n  \"netns\": \"self\",\n    x\n}", "line 3 column 6: not valid JSON");
	expect_error("{\n  \"netns\": \"self\",\n  \"bpf\": tru\n}",
		     "line 3 column 10: not valid JSON");
	expect_error("", "line 1 column 1: not valid JSON");
	expect_error("{", "line 1 column 2: not valid JSON");
	expect_error("{} x", "line 1 column 4: not valid JSON");
	expect_error("{\"a\": 1,}", "line 1 column 10: not valid JSON");
	expect_error("\n\n\n{\"netns\": 'all'}", "line 4 column 11: not valid JSON");
	expect_error("[1,\n2", "line 2 column 2: not valid JSON");
}

static void test_top_level(void **state)
{
	(void)state;
	expect_error("[]", "(top level): expected an object, got an array");
	expect_error("[{\"netns\": \"self\"}]", "(top level): expected an object, got an array");
	expect_error("\"netns\"", "(top level): expected an object, got a string");
	expect_error("42", "(top level): expected an object, got a number");
	expect_error("null", "(top level): expected an object, got null");
	expect_error("true", "(top level): expected an object, got a boolean");
}

static void test_empty_strings(void **state)
{
	(void)state;
	expect_error("{\"bpf\": {\"pin_dir\": \"\"}}", "bpf.pin_dir: must not be empty");
	expect_error("{\"control\": {\"socket\": \"\"}}", "control.socket: must not be empty");
	expect_error("{\"binds\": {\"cgroup\": \"\"}}", "binds.cgroup: must not be empty");
	expect_error("{\"binds\": {\"rules\": [{\"cgroup\": \"\", \"action\": \"deny\"}]}}",
		     "binds.rules[0].cgroup: must not be empty");
	expect_error("{\"binds\": {\"default_action\": \"\"}}",
		     "binds.default_action: \"\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	expect_error("{\"log\": {\"level\": \"\"}}",
		     "log.level: \"\" is not err, warning, notice, info or debug");
}

static void test_dotdot(void **state)
{
	static const char *const bad[] = { "../x", "..", "a/../b", "a/..", "/..", "/a/../../b" };
	static const char *const good[] = { "a..b", "..a", "a..", "a/..b/c", "a/b../c", "...",
					    "/.../x" };
	char text[256], msg[256];
	struct nw_cfg cfg;

	(void)state;
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++) {
		snprintf(text, sizeof(text),
			 "{\"binds\": {\"rules\": [{\"cgroup\": \"%s\", \"action\": \"deny\"}]}}",
			 bad[i]);
		snprintf(msg, sizeof(msg), "binds.rules[0].cgroup: \"%s\" must not contain \"..\"",
			 bad[i]);
		expect_error(text, msg);
		snprintf(text, sizeof(text), "{\"binds\": {\"cgroup\": \"%s\"}}", bad[i]);
		snprintf(msg, sizeof(msg), "binds.cgroup: \"%s\" must not contain \"..\"", bad[i]);
		expect_error(text, msg);
	}
	for (size_t i = 0; i < NW_ARRAY_SIZE(good); i++) {
		snprintf(text, sizeof(text),
			 "{\"binds\": {\"cgroup\": \"%s\", \"rules\": [{\"cgroup\": \"%s\","
			 " \"action\": \"deny\"}]}}", good[i], good[i]);
		parse_ok(text, &cfg);
		assert_string_equal(cfg.bind_cgroup, good[i]);
		assert_string_equal(cfg.rules[0].cgroup, good[i]);
		nw_cfg_free(&cfg);
	}
}

/* a failure after some rules were taken must not leak them (LeakSanitizer) */
static void test_partial_failure(void **state)
{
	(void)state;
	expect_error("{\"bpf\": {\"pin_dir\": \"/sys/fs/bpf/x\"},"
		     " \"control\": {\"socket\": \"/run/x.sock\"},"
		     " \"binds\": {\"cgroup\": \"a\", \"rules\": ["
		     "{\"cgroup\": \"a/b\", \"action\": \"deny\"},"
		     "{\"cgroup\": \"c\", \"action\": \"allow\"},"
		     "{\"cgroup\": \"d\", \"action\": \"block\"}]},"
		     " \"log\": {\"level\": \"info\"}}",
		     "binds.rules[2].action: \"block\" is not an action "
		     "(allow, audit, deny, rewrite, kill)");
	expect_error("{\"binds\": {\"rules\": [{\"cgroup\": \"a\", \"action\": \"deny\"}]},"
		     " \"log\": {\"level\": \"loud\"}}",
		     "log.level: \"loud\" is not err, warning, notice, info or debug");
	expect_error("{\"bpf\": {\"pin_dir\": \"rel\"}}",
		     "bpf.pin_dir: \"rel\" is not an absolute path");
}

static void test_rule_limit(void **state)
{
	static const char rule[] = "{\"action\": \"deny\"},";
	size_t max = NW_BIND_POLICY_MAX / 4;
	size_t size = 64 + (max + 1) * sizeof(rule);
	char *text = malloc(size), *p;
	struct nw_cfg cfg;

	(void)state;
	assert_non_null(text);
	for (int extra = 0; extra <= 1; extra++) {
		p = text + sprintf(text, "{\"binds\": {\"rules\": [");
		for (size_t i = 0; i < max + (size_t)extra; i++)
			p += sprintf(p, "%s", rule);
		strcpy(p - 1, "]}}");
		if (!extra) {
			parse_ok(text, &cfg);
			assert_int_equal(cfg.n_rules, max);
			assert_int_equal(cfg.rules[max - 1].action, NW_ACT_DENY);
			nw_cfg_free(&cfg);
		} else {
			expect_error(text, "binds.rules: 1025 rules, at most 1024");
		}
	}
	free(text);
}

static void test_error_truncated(void **state)
{
	struct nw_cfg cfg;
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(nw_cfg_parse("{\"colour\": 1}", &cfg, err, 8), -EINVAL);
	assert_string_equal(err, "colour:");
	assert_int_equal(err[8], 'x');	/* nothing written past errlen */
	nw_cfg_free(&cfg);
}

static void test_check_cgroups(void **state)
{
	const char *mount = *state;
	char p[PATH_MAX], abs[PATH_MAX + 16], err[NW_ERR_LEN], text[2 * PATH_MAX];
	struct nw_cfg cfg;

	snprintf(p, sizeof(p), "%s/sub", mount);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/deep", mount);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/file", mount);
	write_file(p, "");
	snprintf(abs, sizeof(abs), "%s/sub/deep", mount);

	/* relative, "/sub" notation, absolute under the mount, any */
	snprintf(text, sizeof(text),
		 "{\"binds\": {\"cgroup\": \"sub\", \"rules\": ["
		 "{\"cgroup\": \"sub/deep\", \"action\": \"deny\"},"
		 "{\"cgroup\": \"/sub\", \"action\": \"deny\"},"
		 "{\"cgroup\": \"%s\", \"action\": \"deny\"},"
		 "{\"cgroup\": \"/\", \"action\": \"deny\"},"
		 "{\"action\": \"deny\"}]}}", abs);
	parse_ok(text, &cfg);
	err[0] = 0;
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	nw_cfg_free(&cfg);

	/* no cgroups named at all */
	parse_ok("{}", &cfg);
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), 0);
	nw_cfg_free(&cfg);

	/* a rule's cgroup may not exist yet (a stopped service): netwardd waits */
	parse_ok("{\"binds\": {\"rules\": [{\"cgroup\": \"nope\", \"action\": \"deny\"},"
		 "{\"cgroup\": \"/sub/gone\", \"action\": \"deny\"}]}}", &cfg);
	err[0] = 0;
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	nw_cfg_free(&cfg);

	/* but binds.cgroup, where the programs attach, must exist */
	parse_ok("{\"binds\": {\"cgroup\": \"nope\"}}", &cfg);
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), -EINVAL);
	snprintf(text, sizeof(text), "binds.cgroup: \"nope\": no such cgroup under %s", mount);
	assert_string_equal(err, text);
	nw_cfg_free(&cfg);

	/* an invalid rule path is an error with its index */
	parse_ok("{\"binds\": {\"rules\": [{\"cgroup\": \"sub\", \"action\": \"deny\"},"
		 "{\"action\": \"deny\"}]}}", &cfg);
	free(cfg.rules[1].cgroup);
	cfg.rules[1].cgroup = strdup("sub/../x");	/* past the parser's own check */
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "binds.rules[1].cgroup: \"sub/../x\" is not a valid cgroup path");
	nw_cfg_free(&cfg);

	/* binds.cgroup is checked first; a file is not a cgroup */
	parse_ok("{\"binds\": {\"cgroup\": \"file\","
		 " \"rules\": [{\"cgroup\": \"nope\", \"action\": \"deny\"}]}}", &cfg);
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), -EINVAL);
	snprintf(text, sizeof(text), "binds.cgroup: \"file\": no such cgroup under %s", mount);
	assert_string_equal(err, text);
	nw_cfg_free(&cfg);

	/* a config built by hand, past the parser's checks */
	nw_cfg_defaults(&cfg);
	cfg.bind_cgroup = (char *)"sub/../sub";
	assert_int_equal(nw_cfg_check_cgroups(&cfg, mount, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "binds.cgroup: \"sub/../sub\" is not a valid cgroup path");
}

static void test_load(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], err[NW_ERR_LEN], msg[NW_ERR_LEN + PATH_MAX];
	struct nw_cfg cfg = { 0 };

	snprintf(p, sizeof(p), "%s/missing.json", dir);
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), -ENOENT);
	snprintf(msg, sizeof(msg), "%s: No such file or directory", p);
	assert_string_equal(err, msg);
	nw_cfg_free(&cfg);

	snprintf(p, sizeof(p), "%s/bad.json", dir);
	write_file(p, "{\n  \"binds\": {\n    \"default_action\": \"block\"\n  }\n}\n");
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg),
		 "%s: binds.default_action: \"block\" is not an action "
		 "(allow, audit, deny, rewrite, kill)", p);
	assert_string_equal(err, msg);
	nw_cfg_free(&cfg);

	snprintf(p, sizeof(p), "%s/broken.json", dir);
	write_file(p, "{\n  \"binds\": {\n");
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), -EINVAL);
	snprintf(msg, sizeof(msg), "%s: line 3 column 1: not valid JSON", p);
	assert_string_equal(err, msg);
	nw_cfg_free(&cfg);

	snprintf(p, sizeof(p), "%s/good.json", dir);
	write_file(p, "{\"binds\": {\"default_action\": \"kill\","
		      " \"rules\": [{\"port\": 22, \"action\": \"allow\"}]}}\n");
	err[0] = 0;
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.bind_default, NW_ACT_KILL);
	assert_int_equal(cfg.n_rules, 1);
	assert_int_equal(cfg.rules[0].port, 22);
	assert_int_equal(cfg.rules[0].action, NW_ACT_ALLOW);
	nw_cfg_free(&cfg);

	/* a directory is not a config file */
	assert_int_equal(nw_cfg_load(dir, &cfg, err, sizeof(err)), -EISDIR);
	snprintf(msg, sizeof(msg), "%s: Is a directory", dir);
	assert_string_equal(err, msg);
	nw_cfg_free(&cfg);
}

static void test_load_too_big(void **state)
{
	const char *dir = *state;
	char p[PATH_MAX], err[NW_ERR_LEN], msg[NW_ERR_LEN + PATH_MAX];
	struct nw_cfg cfg = { 0 };
	size_t len = NW_CONFIG_MAX_BYTES + 1;
	char *text = malloc(len + 1);

	assert_non_null(text);
	/* white space around a valid object: only the size is wrong */
	memset(text, ' ', len);
	text[0] = '{';
	text[len - 1] = '}';
	text[len] = 0;
	snprintf(p, sizeof(p), "%s/big.json", dir);
	write_file(p, text);
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), -EFBIG);
	snprintf(msg, sizeof(msg), "%s: larger than 1 MiB", p);
	assert_string_equal(err, msg);
	nw_cfg_free(&cfg);

	/* 1 MiB exactly is fine */
	text[len - 1] = ' ';
	text[len - 2] = '}';
	text[len - 1] = 0;
	write_file(p, text);
	assert_int_equal(nw_cfg_load(p, &cfg, err, sizeof(err)), 0);
	assert_defaults(&cfg);
	nw_cfg_free(&cfg);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_pending_sections),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_socket_length),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_empty_strings),
		cmocka_unit_test(test_dotdot),
		cmocka_unit_test(test_partial_failure),
		cmocka_unit_test(test_rule_limit),
		cmocka_unit_test(test_error_truncated),
		TMPDIR_TEST(test_check_cgroups),
		TMPDIR_TEST(test_load),
		TMPDIR_TEST(test_load_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
