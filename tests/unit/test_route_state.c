// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the route guard's state file (user/route_state.c): routes
 * (single path, IPv6 multipath, an IPv6 gateway on an IPv4 route) and rules
 * written and read back whole; the namespace and boot it belongs to; files
 * that are bad in every way one can think of (each refused with a message
 * that says where, never a crash); reading and writing the file itself; and
 * whether the current configuration would still protect what was saved. */
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
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#define TMPDIR_TEMPLATE "/tmp/nw-test-route-state.XXXXXX"
#include "tmpdir.h"

#include "route_guard.h"
#include "route_state.h"
#include "rtnl.h"

static void addr(uint8_t family, const char *text, uint8_t *out)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family, text, out), 1);
}

/* --- objects ------------------------------------------------------------------- */

/* default via 192.0.2.1 dev eth0 proto dhcp src 192.0.2.10 metric 100 onlink
 * mtu 1400, an alias, with a lifetime */
static void route_v4(struct nw_saved_route *sr)
{
	struct nw_rt *rt = &sr->rt;
	static const uint8_t mtu[] = { 8, 0, 2, 0, 0x78, 0x05, 0, 0 };	/* RTAX_MTU 1400 */

	memset(sr, 0, sizeof(*sr));
	rt->family = AF_INET;
	rt->table = RT_TABLE_MAIN;
	rt->protocol = RTPROT_DHCP;
	rt->scope = RT_SCOPE_UNIVERSE;
	rt->type = RTN_UNICAST;
	rt->priority = 100;
	rt->tos = 0x10;
	rt->flags = RTNH_F_ONLINK;
	rt->has_prefsrc = true;
	addr(AF_INET, "192.0.2.10", rt->prefsrc);
	rt->n_nh = 1;
	rt->nh[0].gw_family = AF_INET;
	addr(AF_INET, "192.0.2.1", rt->nh[0].gateway);
	rt->nh[0].ifindex = 2;
	rt->nh[0].flags = RTNH_F_ONLINK;
	rt->nh[0].flow = 0x10002;
	memcpy(rt->metrics, mtu, sizeof(mtu));
	rt->metrics_len = sizeof(mtu);
	snprintf(sr->dev[0], sizeof(sr->dev[0]), "eth0");
	sr->learned = true;
	sr->alias = true;
	sr->expires = 1900000000;
}

/* 2001:db8:100::/48 from 2001:db8:5::/64 table 100 metric 1024 pref high,
 * three nexthops of weights 1, 2 and 256 (one without a known device) */
static void route_v6_multipath(struct nw_saved_route *sr)
{
	struct nw_rt *rt = &sr->rt;
	static const char *const gw[] = { "fe80::1", "fe80::2", "2001:db8::3" };

	memset(sr, 0, sizeof(*sr));
	rt->family = AF_INET6;
	rt->table = 100;
	rt->protocol = RTPROT_STATIC;
	rt->type = RTN_UNICAST;
	rt->priority = 1024;
	rt->dst_len = 48;
	addr(AF_INET6, "2001:db8:100::", rt->dst);
	rt->src_len = 64;
	addr(AF_INET6, "2001:db8:5::", rt->src);
	rt->has_pref = true;
	rt->pref = 1;
	rt->multipath = true;
	rt->n_nh = 3;
	for (unsigned i = 0; i < 3; i++) {
		rt->nh[i].gw_family = AF_INET6;
		addr(AF_INET6, gw[i], rt->nh[i].gateway);
		rt->nh[i].ifindex = (int)i + 3;
	}
	rt->nh[1].hops = 1;
	rt->nh[2].hops = 255;
	snprintf(sr->dev[0], sizeof(sr->dev[0]), "wg0");
	snprintf(sr->dev[1], sizeof(sr->dev[1]), "wg1");
	sr->learned = false;
}

/* 10.9.0.0/16 via inet6 fe80::9 dev eth1 proto 99 scope link type 1 (RTA_VIA) */
static void route_v4_via6(struct nw_saved_route *sr)
{
	struct nw_rt *rt = &sr->rt;

	memset(sr, 0, sizeof(*sr));
	rt->family = AF_INET;
	rt->table = 4000000000u;
	rt->protocol = 99;
	rt->scope = RT_SCOPE_LINK;
	rt->type = RTN_UNICAST;
	rt->dst_len = 16;
	addr(AF_INET, "10.9.0.0", rt->dst);
	rt->priority = 4294967295u;
	rt->n_nh = 1;
	rt->nh[0].gw_family = AF_INET6;
	rt->nh[0].via = true;
	addr(AF_INET6, "fe80::9", rt->nh[0].gateway);
	rt->nh[0].ifindex = 7;
	snprintf(sr->dev[0], sizeof(sr->dev[0]), "eth1");
}

/* a blackhole default route (no nexthop) using a nexthop object id */
static void route_nh_id(struct nw_saved_route *sr)
{
	memset(sr, 0, sizeof(*sr));
	sr->rt.family = AF_INET6;
	sr->rt.table = RT_TABLE_MAIN;
	sr->rt.type = RTN_BLACKHOLE;
	sr->rt.protocol = RTPROT_BOOT;
	sr->rt.priority = 1024;
	sr->rt.nh_id = 77;
}

static void rule_default(struct nw_saved_rule *sr, uint8_t family, uint32_t prio, uint32_t table)
{
	memset(sr, 0, sizeof(*sr));
	sr->rule.family = family;
	sr->rule.action = FR_ACT_TO_TBL;
	sr->rule.table = table;
	sr->rule.priority = prio;
	sr->rule.protocol = RTPROT_KERNEL;
	sr->rule.suppress_prefixlen = sr->rule.suppress_ifgroup = NW_RULE_NONE;
	sr->learned = true;
}

/* everything a rule can say */
static void rule_full(struct nw_saved_rule *sr)
{
	struct nw_rule *r = &sr->rule;

	rule_default(sr, AF_INET6, 100, 100);
	sr->learned = false;
	r->action = FR_ACT_GOTO;
	r->goto_target = 32000;
	r->protocol = RTPROT_STATIC;
	r->flags = FIB_RULE_INVERT | FIB_RULE_IIF_DETACHED;
	r->tos = 0x20;
	r->src_len = 48;
	addr(AF_INET6, "2001:db8:1::", r->src);
	r->dst_len = 128;
	addr(AF_INET6, "2001:db8::42", r->dst);
	snprintf(r->iifname, sizeof(r->iifname), "wg0");
	snprintf(r->oifname, sizeof(r->oifname), "veth-long-name");
	r->fwmark = 0xca6c;
	r->fwmask = 0xffff;
	r->flow = 7;
	r->tun_id = 0xfedcba9876543210ull;	/* beyond a double's 53 bits */
	r->suppress_prefixlen = 0;
	r->suppress_ifgroup = 5;
	r->l3mdev = 1;
	r->ip_proto = 6;
	r->has_uid_range = true;
	r->uid_start = 1000;
	r->uid_end = 4294967294u;
	r->sport_start = 1024;
	r->sport_end = 65535;
	r->sport_mask = 0;
	r->dport_start = 443;
	r->dport_end = 443;
	r->dport_mask = 0xff00;
	r->has_dscp = true;
	r->dscp = 46;
	r->has_dscp_mask = true;
	r->dscp_mask = 0x3f;
	r->has_flowlabel = true;
	r->flowlabel = 0xbeef;
	r->flowlabel_mask = 0xfffff;
}

static struct nw_state *sample(void)
{
	struct nw_state *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->place.netns = 4026532296u;
	s->place.netns_cookie = 0x123456789abcdef0ull;
	snprintf(s->place.boot_id, sizeof(s->place.boot_id), "82ff97fc-ef62-4389-83aa-f9c0bfb074b0");
	s->n_routes = 4;
	s->routes = calloc(s->n_routes, sizeof(*s->routes));
	s->n_rules = 3;
	s->rules = calloc(s->n_rules, sizeof(*s->rules));
	assert_non_null(s->routes);
	assert_non_null(s->rules);
	route_v4(&s->routes[0]);
	route_v6_multipath(&s->routes[1]);
	route_v4_via6(&s->routes[2]);
	route_nh_id(&s->routes[3]);
	rule_default(&s->rules[0], AF_INET, 32766, RT_TABLE_MAIN);
	rule_default(&s->rules[1], AF_INET6, 0, RT_TABLE_LOCAL);
	rule_full(&s->rules[2]);
	return s;
}

static void sample_free(struct nw_state *s)
{
	nw_state_free(s);
	free(s);
}

static char *format(const struct nw_state *s)
{
	char *text = NULL;

	assert_int_equal(nw_state_format(s, &text), 0);
	assert_non_null(text);
	return text;
}

/* parses text, which must be valid */
static void parse_ok(const char *text, struct nw_state *out)
{
	char err[512] = "";
	int r = nw_state_parse(text, strlen(text), out, err, sizeof(err));

	if (r)
		fail_msg("parse: %s", err);
}

/* text is valid (the well-formed one a group of refusals starts from) */
static void parses(const char *text)
{
	struct nw_state s;

	parse_ok(text, &s);
	nw_state_free(&s);
}

/* text is refused with -EINVAL and an error that contains want */
static void parse_bad(const char *text, size_t len, const char *want)
{
	struct nw_state s;
	char err[512] = "";
	int r = nw_state_parse(text, len, &s, err, sizeof(err));

	if (r != -EINVAL)
		fail_msg("accepted (%d): %.200s", r, text);
	assert_null(s.routes);
	assert_null(s.rules);
	assert_int_equal(s.n_routes, 0);
	if (want && !strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
}

static void parse_bad_str(const char *text, const char *want)
{
	parse_bad(text, strlen(text), want);
}

/* --- round trips ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct nw_state *s = sample(), back;
	char *text;

	(void)state;
	text = format(s);
	parse_ok(text, &back);
	assert_int_equal(back.place.netns, s->place.netns);
	assert_true(back.place.netns_cookie == s->place.netns_cookie);
	assert_string_equal(back.place.boot_id, s->place.boot_id);
	assert_int_equal(back.n_routes, s->n_routes);
	assert_int_equal(back.n_rules, s->n_rules);
	/* whole: every byte a restore would send, device names, origin */
	for (size_t i = 0; i < s->n_routes; i++) {
		assert_memory_equal(&back.routes[i].rt, &s->routes[i].rt, sizeof(struct nw_rt));
		assert_memory_equal(back.routes[i].dev, s->routes[i].dev, sizeof(s->routes[i].dev));
		assert_int_equal(back.routes[i].learned, s->routes[i].learned);
		assert_int_equal(back.routes[i].alias, s->routes[i].alias);
		assert_true(back.routes[i].expires == s->routes[i].expires);
		assert_true(nw_rt_equal(&back.routes[i].rt, &s->routes[i].rt));
	}
	for (size_t i = 0; i < s->n_rules; i++) {
		assert_memory_equal(&back.rules[i].rule, &s->rules[i].rule, sizeof(struct nw_rule));
		assert_int_equal(back.rules[i].learned, s->rules[i].learned);
		assert_true(nw_rule_equal(&back.rules[i].rule, &s->rules[i].rule));
	}
	/* and again: the text is stable but for the time it was written */
	{
		char *again = format(&back), *a = strstr(text, "\"routes\""),
		     *b = strstr(again, "\"routes\"");

		assert_non_null(a);
		assert_non_null(b);
		assert_string_equal(a, b);
		free(again);
	}
	nw_state_free(&back);
	free(text);
	sample_free(s);
}

static void test_round_trip_multipath_v6(void **state)
{
	struct nw_state s = { 0 }, back;
	struct nw_saved_route sr;
	char *text;

	(void)state;
	route_v6_multipath(&sr);
	s.place.netns = 1;
	s.routes = &sr;
	s.n_routes = 1;
	text = format(&s);
	/* the nexthops read as ip(8) would say them: weights, devices */
	assert_non_null(strstr(text, "\"src\":\t\"2001:db8:5::/64\""));
	assert_non_null(strstr(text, "\"weight\":\t256"));
	assert_non_null(strstr(text, "\"dev\":\t\"wg1\""));
	parse_ok(text, &back);
	assert_int_equal(back.n_routes, 1);
	assert_int_equal(back.routes[0].rt.n_nh, 3);
	assert_true(back.routes[0].rt.multipath);
	assert_int_equal(back.routes[0].rt.nh[2].hops, 255);
	assert_string_equal(back.routes[0].dev[1], "wg1");
	assert_string_equal(back.routes[0].dev[2], "");
	assert_memory_equal(&back.routes[0].rt, &sr.rt, sizeof(sr.rt));
	assert_false(back.routes[0].learned);
	assert_int_equal(back.n_rules, 0);
	nw_state_free(&back);
	free(text);
}

static void test_round_trip_empty_and_unknown_place(void **state)
{
	struct nw_state s = { 0 }, back;
	char *text;

	(void)state;
	s.place.netns = 7;
	text = format(&s);
	assert_null(strstr(text, "netns_cookie"));
	assert_null(strstr(text, "boot_id"));
	parse_ok(text, &back);
	assert_int_equal(back.place.netns, 7);
	assert_true(back.place.netns_cookie == 0);
	assert_string_equal(back.place.boot_id, "");
	assert_null(back.routes);
	assert_null(back.rules);
	free(text);
}

/* what an older or hand-written file may leave out: the optional members */
static void test_parse_minimal(void **state)
{
	struct nw_state s;

	(void)state;
	parse_ok("{\"version\":1,\"netns\":5,\"routes\":[{\"origin\":\"config\",\"family\":4,"
		 "\"dst\":\"10.0.0.0/8\",\"table\":100,\"protocol\":4,\"scope\":253,\"type\":1,"
		 "\"metric\":0,\"multipath\":false,\"nexthops\":[{\"dev\":\"d0\",\"ifindex\":3}]}],"
		 "\"rules\":[{\"origin\":\"learned\",\"family\":6,\"priority\":32766,\"table\":254,"
		 "\"action\":1,\"protocol\":2}]}", &s);
	assert_int_equal(s.n_routes, 1);
	assert_int_equal(s.routes[0].rt.n_nh, 1);
	assert_int_equal(s.routes[0].rt.nh[0].gw_family, 0);
	assert_int_equal(s.routes[0].rt.nh[0].hops, 0);
	assert_int_equal(s.routes[0].rt.nh[0].ifindex, 3);
	assert_int_equal(s.routes[0].rt.scope, RT_SCOPE_LINK);
	assert_false(s.routes[0].rt.has_prefsrc);
	assert_false(s.routes[0].rt.has_pref);
	assert_int_equal(s.n_rules, 1);
	assert_int_equal(s.rules[0].rule.suppress_prefixlen, NW_RULE_NONE);
	assert_int_equal(s.rules[0].rule.suppress_ifgroup, NW_RULE_NONE);
	assert_false(s.rules[0].rule.has_uid_range);
	assert_true(s.rules[0].learned);
	nw_state_free(&s);
}

/* --- bad files ------------------------------------------------------------------------ */

#define HEAD "{\"version\":1,\"netns\":5,"
/* a learned default route with the nexthops nh (what goes between [ ]) */
#define ROUTE_NH(nh, extra) "\"routes\":[{\"origin\":\"learned\",\"family\":4," \
	"\"dst\":\"0.0.0.0/0\",\"table\":254,\"protocol\":3,\"scope\":0,\"type\":1,\"metric\":0," \
	"\"multipath\":false,\"nexthops\":[" nh "]" extra "}],\"rules\":[]}"
#define ROUTE(extra) ROUTE_NH("{\"gateway\":\"192.0.2.1\",\"ifindex\":2}", extra)
#define RULE(extra) "\"routes\":[],\"rules\":[{\"origin\":\"learned\",\"family\":4," \
	"\"priority\":0,\"table\":255,\"action\":1,\"protocol\":2" extra "}]}"

static void test_parse_bad_json(void **state)
{
	static const char nul[] = "{\"version\":1,\0\"netns\":5}";
	char deep[4096];
	size_t n = 0;

	(void)state;
	parse_bad("", 0, "empty");
	parse_bad_str("   ", "not valid JSON");
	parse_bad_str("{", "truncated");
	parse_bad_str("not json", "not valid JSON");
	parse_bad(nul, sizeof(nul) - 1, "NUL byte");
	parse_bad_str("[]", "expected a JSON object");
	parse_bad_str("null", "expected a JSON object");
	parse_bad_str("{} {}", "data after the JSON object");
	parse_bad_str(HEAD ROUTE("") "x", "data after");
	/* nesting far deeper than cJSON's limit: refused, no stack overflow */
	n += (size_t)snprintf(deep, sizeof(deep), HEAD "\"routes\":");
	while (n < sizeof(deep) - 2)
		deep[n++] = '[';
	deep[n] = 0;
	parse_bad_str(deep, "not valid JSON");
}

/* A file cut off anywhere (a full disk, a torn copy): always refused. */
static void test_parse_truncated_everywhere(void **state)
{
	struct nw_state *s = sample();
	char *text = format(s);
	size_t len = strlen(text);

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		/* a copy of exactly cut bytes: ASan sees any read past it */
		char *part = malloc(cut ? cut : 1);

		assert_non_null(part);
		memcpy(part, text, cut);
		parse_bad(part, cut, NULL);
		free(part);
	}
	free(text);
	sample_free(s);
}

static void test_parse_bad_top(void **state)
{
	(void)state;
	parse_bad_str("{\"netns\":5,\"routes\":[],\"rules\":[]}", "version: missing");
	parse_bad_str("{\"version\":2,\"netns\":5,\"routes\":[],\"rules\":[]}",
		      "version: 2 is not supported");
	parse_bad_str("{\"version\":\"1\",\"netns\":5,\"routes\":[],\"rules\":[]}",
		      "version: expected a whole number");
	parse_bad_str("{\"version\":1,\"routes\":[],\"rules\":[]}", "netns: missing");
	parse_bad_str("{\"version\":1,\"netns\":-1,\"routes\":[],\"rules\":[]}", "netns:");
	parse_bad_str("{\"version\":1,\"netns\":4294967296,\"routes\":[],\"rules\":[]}",
		      "out of range");
	parse_bad_str("{\"version\":1,\"netns\":1.5,\"routes\":[],\"rules\":[]}",
		      "not a whole number");
	parse_bad_str(HEAD "\"netns_cookie\":\"x\",\"routes\":[],\"rules\":[]}",
		      "netns_cookie: not a number");
	parse_bad_str(HEAD "\"netns_cookie\":12,\"routes\":[],\"rules\":[]}",
		      "netns_cookie: expected a string");
	parse_bad_str(HEAD "\"boot_id\":\"0123456789012345678901234567890123456789\","
		      "\"routes\":[],\"rules\":[]}", "boot_id:");
	parse_bad_str(HEAD "\"rules\":[]}", "routes: missing");
	parse_bad_str(HEAD "\"routes\":[]}", "rules: missing");
	parse_bad_str(HEAD "\"routes\":{},\"rules\":[]}", "routes: expected an array");
	parse_bad_str(HEAD "\"routes\":[],\"rules\":[],\"extra\":1}", "extra: unknown key");
	parse_bad_str(HEAD "\"routes\":[],\"routes\":[],\"rules\":[]}", "key given twice");
	parse_bad_str(HEAD "\"routes\":[1],\"rules\":[]}", "routes[0]: expected an object");
}

static void test_parse_bad_routes(void **state)
{
	(void)state;
	/* the well-formed one these start from */
	parses(HEAD ROUTE(""));
	parse_bad_str(HEAD ROUTE(",\"colour\":1"), "routes[0].colour: unknown key");
	parse_bad_str(HEAD "\"routes\":[{\"family\":4}],\"rules\":[]}", "routes[0].origin: missing");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"kernel\"}],\"rules\":[]}",
		      "expected \"learned\" or \"config\"");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":5}],\"rules\":[]}",
		      "routes[0].family: expected 4 or 6");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":4,\"dst\":\"::/0\"}],"
		      "\"rules\":[]}", "routes[0].dst: not an IPv4 prefix");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":4,\"dst\":\"0.0.0.0/33\"}],"
		      "\"rules\":[]}", "not an IPv4 prefix");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":4,\"dst\":\"0.0.0.0\"}],"
		      "\"rules\":[]}", "expected address/length");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":4,\"dst\":\"0.0.0.0/-1\"}],"
		      "\"rules\":[]}", "not an IPv4 prefix");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"config\",\"family\":4,\"dst\":\"0.0.0.0/0\","
		      "\"table\":254,\"protocol\":256}],\"rules\":[]}",
		      "routes[0].protocol: 256 is out of range");
	parse_bad_str(HEAD ROUTE(",\"prefsrc\":\"2001:db8::1\""), "prefsrc: not an IPv4 address");
	parse_bad_str(HEAD ROUTE(",\"metrics\":\"abc\""), "odd number of hex digits");
	parse_bad_str(HEAD ROUTE(",\"metrics\":\"zz\""), "not hex digits");
	parse_bad_str(HEAD ROUTE(",\"alias\":1"), "alias: expected true or false");
	parse_bad_str(HEAD ROUTE(",\"expires\":-5"), "expires:");
	parse_bad_str(HEAD "\"routes\":[{\"origin\":\"learned\",\"family\":4,\"dst\":\"0.0.0.0/0\","
		      "\"table\":254,\"protocol\":3,\"scope\":0,\"type\":1,\"metric\":0,"
		      "\"multipath\":false}],\"rules\":[]}", "routes[0].nexthops: missing");
	/* nexthops */
	parse_bad_str(HEAD ROUTE_NH("{\"ifindex\":1},{\"ifindex\":2}", ""),
		      "2 nexthops, at most 1 without \"multipath\"");
	parse_bad_str(HEAD ROUTE_NH("{\"gateway\":\"192.0.2.300\",\"ifindex\":1}", ""),
		      "nexthops[0].gateway: not an IP address");
	parse_bad_str(HEAD ROUTE_NH("{\"gateway\":\"fe80::1\",\"ifindex\":1}", ""),
		      "needs \"via\"");
	parse_bad_str(HEAD ROUTE_NH("{\"via\":true,\"ifindex\":1}", ""), "via: without a gateway");
	parse_bad_str(HEAD ROUTE_NH("{\"ifindex\":1,\"weight\":0}", ""),
		      "weight: 0 is out of range");
	parse_bad_str(HEAD ROUTE_NH("{\"ifindex\":1,\"dev\":\"a-name-longer-than-15\"}", ""),
		      "dev: expected 1 to 15 bytes");
	parse_bad_str(HEAD ROUTE_NH("{\"weight\":1}", ""), "nexthops[0].ifindex: missing");
	parse_bad_str(HEAD ROUTE_NH("{\"ifindex\":1,\"dev\":\"\"}", ""),
		      "dev: expected 1 to 15 bytes");
}

/* more nexthops than a route holds, more routes than the guard protects */
static void test_parse_too_many(void **state)
{
	size_t cap = 64 * 1024, n = 0;
	char *text = malloc(cap);

	(void)state;
	assert_non_null(text);
	n += (size_t)snprintf(text, cap, HEAD "\"routes\":[{\"origin\":\"learned\",\"family\":4,"
			      "\"dst\":\"0.0.0.0/0\",\"table\":254,\"protocol\":3,\"scope\":0,"
			      "\"type\":1,\"metric\":0,\"multipath\":true,\"nexthops\":[");
	for (int i = 0; i <= NW_RT_MAX_NH; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s{\"ifindex\":%d}", i ? "," : "", i + 1);
	snprintf(text + n, cap - n, "]}],\"rules\":[]}");
	parse_bad_str(text, "33 nexthops, at most 32");
	free(text);

	cap = (NW_STATE_MAX_ITEMS + 1) * 128 + 256;
	text = malloc(cap);
	assert_non_null(text);
	n = (size_t)snprintf(text, cap, HEAD "\"routes\":[],\"rules\":[");
	for (int i = 0; i <= NW_STATE_MAX_ITEMS; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s{\"origin\":\"config\",\"family\":4,"
				      "\"priority\":%d,\"table\":1,\"action\":1,\"protocol\":4}",
				      i ? "," : "", i);
	snprintf(text + n, cap - n, "]}");
	parse_bad_str(text, "rules: 1025 rules, at most 1024");
	free(text);
}

static void test_parse_bad_rules(void **state)
{
	(void)state;
	parses(HEAD RULE(""));
	parse_bad_str(HEAD RULE(",\"lookup\":1"), "rules[0].lookup: unknown key");
	parse_bad_str(HEAD "\"routes\":[],\"rules\":[{\"origin\":\"learned\",\"family\":4}]}",
		      "rules[0].priority: missing");
	parse_bad_str(HEAD RULE(",\"src\":\"2001:db8::/32\""), "rules[0].src: not an IPv4 prefix");
	parse_bad_str(HEAD RULE(",\"uidrange\":[1]"), "uidrange: expected an array of 2 numbers");
	parse_bad_str(HEAD RULE(",\"uidrange\":[1,\"x\"]"), "uidrange[1]: expected a whole number");
	parse_bad_str(HEAD RULE(",\"sport\":[1,2,65536]"), "sport[2]: 65536 is out of range");
	parse_bad_str(HEAD RULE(",\"tun_id\":\"-1\""), "tun_id: not a number");
	parse_bad_str(HEAD RULE(",\"tun_id\":\"18446744073709551616\""), "tun_id: not a number");
	parse_bad_str(HEAD RULE(",\"iif\":5"), "iif: expected a string");
	parse_bad_str(HEAD RULE(",\"flowlabel\":[1,2,3]"), "flowlabel: expected an array of 2");
	parse_bad_str(HEAD RULE(",\"dscp\":300"), "dscp: 300 is out of range");
}

/* --- where a file belongs ------------------------------------------------------------ */

static void test_same_place(void **state)
{
	struct nw_state_place a = { .netns = 10, .netns_cookie = 99, .boot_id = "b1" }, b = a;
	char why[256] = "";

	(void)state;
	assert_true(nw_state_same_place(&a, &b, why, sizeof(why)));
	b.netns = 11;
	assert_false(nw_state_same_place(&a, &b, why, sizeof(why)));
	assert_non_null(strstr(why, "network namespace 10, this is 11"));
	/* the same inode, a namespace made after the first one went */
	b = a;
	b.netns_cookie = 100;
	assert_false(nw_state_same_place(&a, &b, why, sizeof(why)));
	assert_non_null(strstr(why, "same inode 10"));
	/* a cookie unknown on either side: the inode decides */
	b.netns_cookie = 0;
	assert_true(nw_state_same_place(&a, &b, why, sizeof(why)));
	/* after a reboot the first namespace has the same inode again */
	b = a;
	snprintf(b.boot_id, sizeof(b.boot_id), "b2");
	assert_false(nw_state_same_place(&a, &b, why, sizeof(why)));
	assert_non_null(strstr(why, "before the last reboot"));
	b.boot_id[0] = 0;
	assert_true(nw_state_same_place(&a, &b, why, sizeof(why)));
}

static void test_here(void **state)
{
	struct nw_state_place here;

	(void)state;
	assert_int_equal(nw_state_here(&here), 0);
	assert_true(here.netns != 0);
	assert_int_equal(strlen(here.boot_id), 36);
}

/* --- the file ------------------------------------------------------------------------- */

static void test_file_save_load(void **state)
{
	struct nw_state *s = sample(), back;
	char path[256], err[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/protected.json", (char *)*state);
	assert_int_equal(nw_state_load(path, &back, err, sizeof(err)), -ENOENT);
	assert_int_equal(nw_state_save(path, s), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(nw_state_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n_routes, 4);
	assert_int_equal(back.n_rules, 3);
	assert_memory_equal(&back.routes[1].rt, &s->routes[1].rt, sizeof(struct nw_rt));
	nw_state_free(&back);
	/* replaced whole: a smaller set leaves nothing of the bigger one */
	s->n_routes = 1;
	s->n_rules = 0;
	assert_int_equal(nw_state_save(path, s), 0);
	assert_int_equal(nw_state_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n_routes, 1);
	assert_int_equal(back.n_rules, 0);
	nw_state_free(&back);
	s->n_routes = 4;
	s->n_rules = 3;
	/* a directory that is not there: the error, nothing else */
	snprintf(path, sizeof(path), "%s/missing/protected.json", (char *)*state);
	assert_int_equal(nw_state_save(path, s), -ENOENT);
	sample_free(s);
}

static void test_file_bad(void **state)
{
	char path[256], err[512];
	struct nw_state s;
	int fd;

	snprintf(path, sizeof(path), "%s/protected.json", (char *)*state);
	/* truncated */
	write_file(path, HEAD "\"routes\":[{\"origin\":\"lea");
	assert_int_equal(nw_state_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not valid JSON"));
	/* empty */
	write_file(path, "");
	assert_int_equal(nw_state_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "empty");
	/* binary garbage */
	write_data(path, "\x7f" "ELF\x02\x01\x01\0\0\0", 10);
	assert_int_equal(nw_state_load(path, &s, err, sizeof(err)), -EINVAL);
	/* oversized: refused before it is read (a sparse file of 5 MiB) */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 5 << 20), 0);
	close(fd);
	assert_int_equal(nw_state_load(path, &s, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "at most"));
	/* not a regular file: a directory, a FIFO (no hang) */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(nw_state_load(path, &s, err, sizeof(err)) < 0);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(nw_state_load(path, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "not a regular file");
	assert_null(s.routes);
}

/* --- would the configuration still protect it ------------------------------------- */

static struct nw_route_sel sel(uint8_t family, const char *dst, uint8_t len, uint32_t table)
{
	struct nw_route_sel s;

	memset(&s, 0, sizeof(s));
	s.family = family;
	addr(family, dst, s.dst);
	s.dst_len = len;
	s.table = table;
	s.metric = -1;
	return s;
}

static void test_route_wanted(void **state)
{
	struct nw_route_guard_cfg cfg = { .learn_default = true };
	struct nw_route_sel sels[2];
	struct nw_saved_route d4, d6, mp, t100;
	bool learn;

	(void)state;
	route_v4(&d4);
	route_v6_multipath(&d6);
	/* a learned IPv6 default route */
	memset(&d6.rt.dst, 0, 16);
	d6.rt.dst_len = d6.rt.src_len = 0;
	d6.rt.table = RT_TABLE_MAIN;
	d6.learned = true;
	route_v6_multipath(&mp);
	route_v4(&t100);
	t100.rt.table = 100;

	/* learned default routes while learn_default is on */
	assert_true(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, true, &learn));
	assert_true(learn);
	assert_true(nw_route_saved_wanted(&cfg, &d6.rt, d6.dev, true, &learn));
	assert_true(learn);
	/* ... and only those: not one in another table, a blackhole, a
	 * source-specific one */
	assert_false(nw_route_saved_wanted(&cfg, &t100.rt, t100.dev, true, &learn));
	d4.rt.type = RTN_BLACKHOLE;
	assert_false(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, true, &learn));
	d4.rt.type = RTN_UNICAST;
	d6.rt.src_len = 64;
	assert_false(nw_route_saved_wanted(&cfg, &d6.rt, d6.dev, true, &learn));
	d6.rt.src_len = 0;
	/* learn_default switched off: a learned one is not put back */
	cfg.learn_default = false;
	assert_false(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, true, &learn));
	assert_false(learn);
	/* a main-table default route saved as "config" is not learned */
	cfg.learn_default = true;
	assert_false(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, false, &learn));

	/* config: a routes.protect selector must still pick it */
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	sels[0] = sel(AF_INET6, "2001:db8:100::", 48, 100);
	cfg.protect = sels;
	cfg.n_protect = 1;
	/* the v6 multipath route has a source prefix: selectors skip those */
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	mp.rt.src_len = 0;
	assert_true(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	assert_false(learn);
	/* another table, another prefix length: no */
	sels[0].table = 200;
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	sels[0].table = 100;
	sels[0].dst_len = 32;
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	sels[0].dst_len = 48;
	/* "dev": against the saved names (the device may be gone, its
	 * ifindex means nothing), any nexthop */
	snprintf(sels[0].dev, sizeof(sels[0].dev), "wg1");
	assert_true(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	snprintf(sels[0].dev, sizeof(sels[0].dev), "wg9");
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	/* a gateway: any nexthop's */
	sels[0].dev[0] = 0;
	sels[0].has_gateway = true;
	addr(AF_INET6, "2001:db8::3", sels[0].gateway);
	assert_true(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	addr(AF_INET6, "2001:db8::4", sels[0].gateway);
	assert_false(nw_route_saved_wanted(&cfg, &mp.rt, mp.dev, false, &learn));
	/* a learned route a selector picks is protected with learning off */
	cfg.learn_default = false;
	sels[1] = sel(AF_INET, "0.0.0.0", 0, 0);
	sels[1].metric = 100;
	cfg.n_protect = 2;
	assert_true(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, true, &learn));
	assert_false(learn);
	sels[1].metric = 101;
	assert_false(nw_route_saved_wanted(&cfg, &d4.rt, d4.dev, true, &learn));
}

static void test_rule_wanted(void **state)
{
	struct nw_route_guard_cfg cfg = { .protect_default_rules = true };
	struct nw_saved_rule main4, local6, uid;
	struct nw_rule_sel rs;
	bool learn;

	(void)state;
	rule_default(&main4, AF_INET, 32766, RT_TABLE_MAIN);
	rule_default(&local6, AF_INET6, 0, RT_TABLE_LOCAL);
	rule_default(&uid, AF_INET, 100, 100);
	uid.learned = false;
	uid.rule.has_uid_range = true;
	uid.rule.uid_start = uid.rule.uid_end = 1000;

	assert_true(nw_rule_saved_wanted(&cfg, &main4.rule, true, &learn));
	assert_true(learn);
	assert_true(nw_rule_saved_wanted(&cfg, &local6.rule, true, &learn));
	/* a default rule with a selector added is no default rule */
	main4.rule.fwmark = 1;
	assert_false(nw_rule_saved_wanted(&cfg, &main4.rule, true, &learn));
	main4.rule.fwmark = 0;
	/* protect_defaults off */
	cfg.protect_default_rules = false;
	assert_false(nw_rule_saved_wanted(&cfg, &main4.rule, true, &learn));
	assert_false(learn);
	/* rules.protect */
	assert_false(nw_rule_saved_wanted(&cfg, &uid.rule, false, &learn));
	memset(&rs, 0, sizeof(rs));
	rs.has_uidrange = true;
	rs.uid_start = rs.uid_end = 1000;
	cfg.protect_rules = &rs;
	cfg.n_protect_rules = 1;
	assert_true(nw_rule_saved_wanted(&cfg, &uid.rule, false, &learn));
	assert_false(learn);
	rs.family = AF_INET6;
	assert_false(nw_rule_saved_wanted(&cfg, &uid.rule, false, &learn));
	rs.family = 0;
	rs.uid_start = rs.uid_end = 1001;
	assert_false(nw_rule_saved_wanted(&cfg, &uid.rule, false, &learn));
	/* a saved default rule a selector picks, with protect_defaults off */
	memset(&rs, 0, sizeof(rs));
	rs.has_priority = true;
	rs.priority = 32766;
	assert_true(nw_rule_saved_wanted(&cfg, &main4.rule, true, &learn));
	assert_false(learn);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_multipath_v6),
		cmocka_unit_test(test_round_trip_empty_and_unknown_place),
		cmocka_unit_test(test_parse_minimal),
		cmocka_unit_test(test_parse_bad_json),
		cmocka_unit_test(test_parse_truncated_everywhere),
		cmocka_unit_test(test_parse_bad_top),
		cmocka_unit_test(test_parse_bad_routes),
		cmocka_unit_test(test_parse_too_many),
		cmocka_unit_test(test_parse_bad_rules),
		cmocka_unit_test(test_same_place),
		cmocka_unit_test(test_here),
		TMPDIR_TEST(test_file_save_load),
		TMPDIR_TEST(test_file_bad),
		cmocka_unit_test(test_route_wanted),
		cmocka_unit_test(test_rule_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
