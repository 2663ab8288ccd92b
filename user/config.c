// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>

#include "cgroup.h"
#include "config.h"
#include "config_json.h"
#include "log.h"
#include "policy.h"
#include "util.h"

static int get_action(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint8_t *out)
{
	int a;

	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	a = nw_action_parse(v->valuestring);
	if (a < 0)
		return nw_cfg_fail(c, path, "\"%s\" is not an action (allow, audit, deny, rewrite, kill)",
			    v->valuestring);
	*out = (uint8_t)a;
	return 0;
}

static int get_cgroup(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char **out)
{
	int err = nw_cfg_get_string(c, v, path, false, out);

	if (err)
		return err;
	if (strstr(*out, "..") && (strstr(*out, "/../") || !strncmp(*out, "../", 3) ||
				   !strcmp(*out, "..") ||
				   !strcmp(*out + strlen(*out) - 3, "/..")))
		return nw_cfg_fail(c, path, "\"%s\" must not contain \"..\"", v->valuestring);
	return 0;
}

static int parse_rule(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	struct nw_cfg_bind_rule *r = elem;
	static const char *const keys[] = { "cgroup", "port", "proto", "family", "action", NULL };
	const cJSON *v;
	char p[256];
	uint64_t u;
	int err;

	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cgroup"))) {
		nw_cfg_join(p, sizeof(p), path, "cgroup");
		if (!cJSON_IsNull(v) && (err = get_cgroup(c, v, p, &r->cgroup)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "port"))) {
		nw_cfg_join(p, sizeof(p), path, "port");
		if ((err = nw_cfg_get_uint(c, v, p, 0, 65535, &u)))
			return err;
		r->port = (uint16_t)u;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "proto"))) {
		int pr;

		nw_cfg_join(p, sizeof(p), path, "proto");
		if (!cJSON_IsString(v))
			return nw_cfg_fail(c, p, "expected a string, got %s", nw_json_type_name(v));
		if ((pr = nw_proto_parse(v->valuestring)) < 0)
			return nw_cfg_fail(c, p, "\"%s\" is not tcp, udp or any", v->valuestring);
		r->proto = (uint8_t)pr;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "family"))) {
		nw_cfg_join(p, sizeof(p), path, "family");
		if (cJSON_IsString(v) && !strcmp(v->valuestring, "any")) {
			r->family = 0;
		} else if (cJSON_IsNumber(v) && (v->valuedouble == 4 || v->valuedouble == 6)) {
			r->family = (uint8_t)v->valuedouble;
		} else if (cJSON_IsNumber(v)) {
			return nw_cfg_fail(c, p, "%g is not 4, 6 or \"any\"", v->valuedouble);
		} else {
			return nw_cfg_fail(c, p, "expected 4, 6 or \"any\", got %s", nw_json_type_name(v));
		}
	}
	nw_cfg_join(p, sizeof(p), path, "action");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "action")))
		return nw_cfg_fail(c, p, "missing (allow, audit, deny, rewrite, kill)");
	return get_action(c, v, p, &r->action);
}

static int parse_binds(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "cgroup", "default_action", "rules",
					    "scan_listeners", NULL };
	const cJSON *v;
	int err;

	if ((err = nw_cfg_want_object(c, o, "binds")) || (err = nw_cfg_check_keys(c, o, "binds", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "cgroup")) &&
	    (err = get_cgroup(c, v, "binds.cgroup", &cfg->bind_cgroup)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "default_action"))) {
		if ((err = get_action(c, v, "binds.default_action", &cfg->bind_default)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "scan_listeners")) &&
	    (err = nw_cfg_get_bool(c, v, "binds.scan_listeners", &cfg->scan_listeners)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "rules")) &&
	    (err = nw_cfg_parse_list(c, v, "binds.rules", NW_BIND_POLICY_MAX / 4, "rules",
			      sizeof(*cfg->rules), (void **)&cfg->rules, &cfg->n_rules, parse_rule)))
		return err;
	return 0;
}

/* --- routes ------------------------------------------------------------------
 *
 * "routes": {
 *   "learn_default": true,   protect the main-table default routes (IPv4 and
 *                            IPv6) found at start
 *   "restore": true,         false: report deletions, restore nothing
 *   "protect": [             more routes to protect, in any table: each key
 *     { "dst": "10.9.0.0/16",            given narrows the selection
 *       "family": 4,                     needed only with "dst": "default"
 *       "table": "main",                 "main" (default), "default", "local"
 *                                        or 1-4294967295
 *       "gateway": "192.0.2.1", "dev": "eth0", "metric": 100 } ],
 *                            dst: "default", a prefix ("2001:db8::/32", host
 *                            bits clear) or an address (/32, /128)
 *   "fallback": null,        or { "gateway": "192.0.2.254", "dev": "eth1",
 *                            "metric": 1000 }, or a list of such objects, one
 *                            per family: installed while a protected default
 *                            route of its family cannot be put back (device
 *                            down), removed when it is back. Gateway, dev or
 *                            both; the family comes from the gateway, else
 *                            from "family". The metric (default 1000) should
 *                            rank below the original's.
 *   "max_restores": 5,       anti-flap: more than max_restores restores of one
 *   "window_ms": 10000,      route within window_ms -> restores back off from
 *   "backoff_min_ms": 100,   backoff_min_ms, doubling up to backoff_max_ms
 *   "backoff_max_ms": 30000,
 *   "rcvbuf_bytes": 0        monitor socket buffer, 0 = 4 MiB; tests shrink it
 * }                          to provoke lost notifications (ENOBUFS)
 */

/* "a.b.c.d/len", "x::/len", or a bare address (a host route) */
static int parse_prefix(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	uint64_t n;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')))
		*slash = 0;
	if (nw_parse_ip(buf, family, addr))
		return -EINVAL;
	if (!slash) {
		*len = *family == AF_INET ? 32 : 128;
		return 0;
	}
	if (nw_parse_u64(slash + 1, 0, *family == AF_INET ? 32 : 128, &n))
		return -EINVAL;
	*len = (uint8_t)n;
	return 0;
}

/* the bits of byte i that a /len prefix keeps */
static uint8_t prefix_mask(unsigned i, uint8_t len)
{
	unsigned first = i * 8;

	if (first >= len)
		return 0;
	return len - first >= 8 ? 0xff : (uint8_t)(0xff << (8 - (len - first)));
}

static bool host_bits_set(const uint8_t addr[16], uint8_t len, uint8_t family)
{
	for (unsigned i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		if (addr[i] & ~prefix_mask(i, len))
			return true;
	return false;
}

static void clear_host_bits(uint8_t addr[16], uint8_t len, uint8_t family)
{
	for (unsigned i = 0; i < (family == AF_INET ? 4u : 16u); i++)
		addr[i] &= prefix_mask(i, len);
}

static const char *fam_name(uint8_t family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static int get_family(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint8_t *out)
{
	if (!cJSON_IsNumber(v))
		return nw_cfg_fail(c, path, "expected 4 or 6, got %s", nw_json_type_name(v));
	if (v->valuedouble != 4 && v->valuedouble != 6)
		return nw_cfg_fail(c, path, "%g is not 4 or 6", v->valuedouble);
	*out = v->valuedouble == 4 ? AF_INET : AF_INET6;
	return 0;
}

/* "<path>.family" when present (4 or 6), else *out stays 0 */
static int opt_family(struct nw_cfg_ctx *c, const cJSON *o, const char *path, uint8_t *out)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "family");
	char p[256];

	if (!f)
		return 0;
	nw_cfg_join(p, sizeof(p), path, "family");
	return get_family(c, f, p, out);
}

static int get_gateway(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint8_t *family,
		       uint8_t addr[16])
{
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	if (nw_parse_ip(v->valuestring, family, addr))
		return nw_cfg_fail(c, path, "\"%s\" is not an IP address", v->valuestring);
	return 0;
}

static int get_table(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint32_t *out)
{
	static const struct { const char *name; uint32_t id; } names[] = {
		{ "main", 254 }, { "default", 253 }, { "local", 255 },
	};
	uint64_t u;
	int err;

	if (cJSON_IsString(v)) {
		for (size_t i = 0; i < NW_ARRAY_SIZE(names); i++)
			if (!strcmp(v->valuestring, names[i].name)) {
				*out = names[i].id;
				return 0;
			}
		return nw_cfg_fail(c, path, "\"%s\" is not main, default, local or a number",
			    v->valuestring);
	}
	if (!cJSON_IsNumber(v))
		return nw_cfg_fail(c, path, "expected \"main\", \"default\", \"local\" or a number, got %s",
			    nw_json_type_name(v));
	if ((err = nw_cfg_get_uint(c, v, path, 1, 4294967295.0, &u)))
		return err;
	*out = (uint32_t)u;
	return 0;
}

static int sel_dst(struct nw_cfg_ctx *c, const cJSON *o, const char *path, struct nw_route_sel *s)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "dst");
	uint8_t family = 0;
	char p[256];
	int err;

	if ((err = opt_family(c, o, path, &family)))
		return err;
	nw_cfg_join(p, sizeof(p), path, "dst");
	if (!v)
		return nw_cfg_fail(c, p, "missing (\"default\", a prefix or an address)");
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, p, "expected a string, got %s", nw_json_type_name(v));
	if (!strcmp(v->valuestring, "default")) {
		nw_cfg_join(p, sizeof(p), path, "family");
		if (!family)
			return nw_cfg_fail(c, p, "missing (4 or 6), needed with \"dst\": \"default\"");
		s->family = family;
		s->dst_len = 0;
		return 0;
	}
	if (parse_prefix(v->valuestring, &s->family, s->dst, &s->dst_len))
		return nw_cfg_fail(c, p, "\"%s\" is not an address/prefix", v->valuestring);
	if (host_bits_set(s->dst, s->dst_len, s->family)) {
		char a[INET6_ADDRSTRLEN];

		clear_host_bits(s->dst, s->dst_len, s->family);
		inet_ntop(s->family, s->dst, a, sizeof(a));
		return nw_cfg_fail(c, p, "\"%s\" has host bits set (%s/%u?)", v->valuestring, a,
			    s->dst_len);
	}
	if (family && family != s->family) {
		nw_cfg_join(p, sizeof(p), path, "family");
		return nw_cfg_fail(c, p, "%d does not match \"dst\": \"%s\"", family == AF_INET ? 4 : 6,
			    v->valuestring);
	}
	return 0;
}

static int parse_sel(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	struct nw_route_sel *s = elem;
	static const char *const keys[] = { "dst", "family", "table", "gateway", "dev", "metric",
					    NULL };
	const cJSON *v;
	char p[256];
	uint64_t u;
	int err;

	s->table = 254;
	s->metric = -1;
	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)) ||
	    (err = sel_dst(c, o, path, s)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "table"))) {
		nw_cfg_join(p, sizeof(p), path, "table");
		if ((err = get_table(c, v, p, &s->table)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "gateway"))) {
		uint8_t family;

		nw_cfg_join(p, sizeof(p), path, "gateway");
		if ((err = get_gateway(c, v, p, &family, s->gateway)))
			return err;
		/* a route's gateway is of its own family (RTA_VIA aside) */
		if (family != s->family)
			return nw_cfg_fail(c, p, "\"%s\" is not an %s address like \"dst\"", v->valuestring,
				    fam_name(s->family));
		s->has_gateway = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "dev"))) {
		nw_cfg_join(p, sizeof(p), path, "dev");
		if ((err = nw_cfg_get_dev(c, v, p, s->dev)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "metric"))) {
		nw_cfg_join(p, sizeof(p), path, "metric");
		if ((err = nw_cfg_get_uint(c, v, p, 0, 4294967295.0, &u)))
			return err;
		s->metric = (int64_t)u;
	}
	return 0;
}

static int parse_fallback(struct nw_cfg_ctx *c, const cJSON *o, const char *path,
			  struct nw_route_fallback *f)
{
	static const char *const keys[] = { "gateway", "dev", "metric", "family", NULL };
	const cJSON *v;
	uint8_t family = 0;
	char p[256];
	uint64_t u;
	int err;

	memset(f, 0, sizeof(*f));
	f->metric = 1000;
	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	if ((err = opt_family(c, o, path, &family)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "gateway"))) {
		nw_cfg_join(p, sizeof(p), path, "gateway");
		if ((err = get_gateway(c, v, p, &f->family, f->gateway)))
			return err;
		if (family && family != f->family)
			return nw_cfg_fail(c, p, "\"%s\" is not an %s address like \"family\"",
				    v->valuestring, fam_name(family));
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "dev"))) {
		nw_cfg_join(p, sizeof(p), path, "dev");
		if ((err = nw_cfg_get_dev(c, v, p, f->dev)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "metric"))) {
		nw_cfg_join(p, sizeof(p), path, "metric");
		if ((err = nw_cfg_get_uint(c, v, p, 0, 4294967295.0, &u)))
			return err;
		f->metric = (uint32_t)u;
	}
	if (!f->family && !f->dev[0])
		return nw_cfg_fail(c, path, "needs \"gateway\", \"dev\" or both");
	if (!f->family) {
		nw_cfg_join(p, sizeof(p), path, "family");
		if (!family)
			return nw_cfg_fail(c, p, "missing (4 or 6), needed without \"gateway\"");
		f->family = family;
	}
	f->set = true;
	return 0;
}

static int add_fallback(struct nw_cfg_ctx *c, const cJSON *o, const char *path,
			struct nw_route_guard_cfg *r)
{
	struct nw_route_fallback f, *slot;
	int err;

	if ((err = parse_fallback(c, o, path, &f)))
		return err;
	slot = f.family == AF_INET ? &r->fallback4 : &r->fallback6;
	if (slot->set)
		return nw_cfg_fail(c, path, "a second %s fallback", fam_name(f.family));
	*slot = f;
	return 0;
}

static int parse_fallbacks(struct nw_cfg_ctx *c, const cJSON *v, struct nw_route_guard_cfg *r)
{
	int n, err;

	if (cJSON_IsNull(v))
		return 0;
	if (cJSON_IsObject(v))
		return add_fallback(c, v, "routes.fallback", r);
	if (!cJSON_IsArray(v))
		return nw_cfg_fail(c, "routes.fallback", "expected null, an object or an array, got %s",
			    nw_json_type_name(v));
	n = cJSON_GetArraySize(v);
	if (n > 2)
		return nw_cfg_fail(c, "routes.fallback", "%d entries, at most 2 (one per family)", n);
	for (int i = 0; i < n; i++) {
		char p[64];

		snprintf(p, sizeof(p), "routes.fallback[%d]", i);
		if ((err = add_fallback(c, cJSON_GetArrayItem(v, i), p, r)))
			return err;
	}
	return 0;
}

static int parse_routes(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "learn_default", "restore", "protect", "fallback",
					    "max_restores", "window_ms", "backoff_min_ms",
					    "backoff_max_ms", "rcvbuf_bytes", NULL };
	struct nw_route_guard_cfg *r = &cfg->routes;
	const cJSON *v;
	uint32_t rcvbuf = 0;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "routes")) || (err = nw_cfg_check_keys(c, o, "routes", keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "learn_default")) &&
	    (err = nw_cfg_get_bool(c, v, "routes.learn_default", &r->learn_default)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "restore")) &&
	    (err = nw_cfg_get_bool(c, v, "routes.restore", &r->restore)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "protect")) && (err = nw_cfg_parse_list(c, v, "routes.protect", NW_ROUTES_PROTECT_MAX, "entries",
				    sizeof(*r->protect), (void **)&r->protect, &r->n_protect,
				    parse_sel)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "fallback")) &&
	    (err = parse_fallbacks(c, v, r)))
		return err;
	if ((err = nw_cfg_get_section_u32(c, o, "routes", "max_restores", 1, 1000, &r->max_restores)) ||
	    (err = nw_cfg_get_section_u32(c, o, "routes", "window_ms", 100, 3600000, &r->window_ms)) ||
	    (err = nw_cfg_get_section_u32(c, o, "routes", "backoff_min_ms", 1, 60000, &r->backoff_min_ms)) ||
	    (err = nw_cfg_get_section_u32(c, o, "routes", "backoff_max_ms", 1, 3600000, &r->backoff_max_ms)))
		return err;
	/* name the key the file gave: the other may be the default */
	if (r->backoff_max_ms < r->backoff_min_ms &&
	    cJSON_GetObjectItemCaseSensitive(o, "backoff_max_ms"))
		return nw_cfg_fail(c, "routes.backoff_max_ms", "%u is below backoff_min_ms (%u)",
			    r->backoff_max_ms, r->backoff_min_ms);
	if (r->backoff_max_ms < r->backoff_min_ms)
		return nw_cfg_fail(c, "routes.backoff_min_ms", "%u is above backoff_max_ms (%u)",
			    r->backoff_min_ms, r->backoff_max_ms);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "rcvbuf_bytes"))) {
		if ((err = nw_cfg_get_section_u32(c, o, "routes", "rcvbuf_bytes", 0, 1073741824, &rcvbuf)))
			return err;
		if (rcvbuf && rcvbuf < 4096)
			return nw_cfg_fail(c, "routes.rcvbuf_bytes", "%u is out of range (0 or 4096-1073741824)",
				    rcvbuf);
		r->rcvbuf = (int)rcvbuf;
	}
	return 0;
}

/* --- rules -------------------------------------------------------------------
 *
 * "rules": {
 *   "storm_threshold": 20,   rule changes within window_ms that make a
 *   "window_ms": 1000,       rule_storm (1-1000000, 10-3600000)
 *   "auto_quarantine": false, quarantine the cgroup behind a storm
 *   "protect_defaults": true, protect the kernel's default rules found at
 *                            start: IPv4 local 0, main 32766, default 32767;
 *                            IPv6 local 0, main 32766
 *   "restore": true,         false: report deletions of protected rules,
 *                            restore nothing
 *   "protect": [             more rules to protect, present or added later:
 *     { "priority": 100,                 each key given must match
 *       "table": 100,                    "main", "default", "local" or
 *                                        1-4294967295: the rule's lookup table
 *       "family": 4,                     absent: both (unless from/to say)
 *       "uidrange": "1000-1000",         or "1000"
 *       "fwmark": 1,
 *       "from": "10.0.0.0/8",            a prefix, an address or "all"
 *       "to": "192.0.2.0/24",
 *       "iif": "eth0", "oif": "wg0" } ]  at least one key besides family
 * }
 * Anti-flap for protected rules is routes' (max_restores, window_ms,
 * backoff_*_ms); rules.window_ms is the storm window.
 */

static int rule_prefix(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint8_t *family,
		       uint8_t addr[16], uint8_t *len)
{
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	if (!strcmp(v->valuestring, "all")) {
		*family = 0;
		*len = 0;
		memset(addr, 0, 16);
		return 0;
	}
	if (parse_prefix(v->valuestring, family, addr, len))
		return nw_cfg_fail(c, path, "\"%s\" is not an address/prefix or \"all\"", v->valuestring);
	if (host_bits_set(addr, *len, *family)) {
		char a[INET6_ADDRSTRLEN];

		clear_host_bits(addr, *len, *family);
		inet_ntop(*family, addr, a, sizeof(a));
		return nw_cfg_fail(c, path, "\"%s\" has host bits set (%s/%u?)", v->valuestring, a, *len);
	}
	return 0;
}

/* "1000-1000" or "1000" */
static int get_uidrange(struct nw_cfg_ctx *c, const cJSON *v, const char *path, uint32_t *start,
			uint32_t *end)
{
	char buf[32], *dash;
	uint64_t a, b;

	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string like \"1000-1000\", got %s", nw_json_type_name(v));
	if (strlen(v->valuestring) >= sizeof(buf))
		return nw_cfg_fail(c, path, "\"%s\" is not a uid range (START-END)", v->valuestring);
	strcpy(buf, v->valuestring);
	if ((dash = strchr(buf, '-')))
		*dash = 0;
	/* uid 4294967295 is (uid_t)-1: no such user */
	if (nw_parse_u64(buf, 0, 4294967294u, &a) ||
	    (dash && nw_parse_u64(dash + 1, 0, 4294967294u, &b)))
		return nw_cfg_fail(c, path, "\"%s\" is not a uid range (START-END)", v->valuestring);
	if (!dash)
		b = a;
	if (a > b)
		return nw_cfg_fail(c, path, "\"%s\": start above end", v->valuestring);
	*start = (uint32_t)a;
	*end = (uint32_t)b;
	return 0;
}

/* from, to and family agree */
static int rule_sel_family(struct nw_cfg_ctx *c, const cJSON *o, const char *path, struct nw_rule_sel *s,
			   uint8_t from_family, uint8_t to_family)
{
	uint8_t family = 0;
	char p[256];
	int err;

	if ((err = opt_family(c, o, path, &family)))
		return err;
	if (from_family && to_family && from_family != to_family) {
		nw_cfg_join(p, sizeof(p), path, "to");
		return nw_cfg_fail(c, p, "\"%s\" is not an %s prefix like \"from\"",
			    cJSON_GetObjectItemCaseSensitive(o, "to")->valuestring,
			    fam_name(from_family));
	}
	if (family && from_family && family != from_family) {
		nw_cfg_join(p, sizeof(p), path, "family");
		return nw_cfg_fail(c, p, "%d does not match \"from\": \"%s\"", family == AF_INET ? 4 : 6,
			    cJSON_GetObjectItemCaseSensitive(o, "from")->valuestring);
	}
	if (family && to_family && family != to_family) {
		nw_cfg_join(p, sizeof(p), path, "family");
		return nw_cfg_fail(c, p, "%d does not match \"to\": \"%s\"", family == AF_INET ? 4 : 6,
			    cJSON_GetObjectItemCaseSensitive(o, "to")->valuestring);
	}
	s->family = family ? family : from_family ? from_family : to_family;
	return 0;
}

static int parse_rule_sel(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	struct nw_rule_sel *s = elem;
	static const char *const keys[] = { "priority", "table", "family", "uidrange", "fwmark",
					    "from", "to", "iif", "oif", NULL };
	uint8_t from_family = 0, to_family = 0;
	const cJSON *v;
	char p[256];
	uint64_t u;
	int err;

	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "priority"))) {
		nw_cfg_join(p, sizeof(p), path, "priority");
		if ((err = nw_cfg_get_uint(c, v, p, 0, 4294967295.0, &u)))
			return err;
		s->has_priority = true;
		s->priority = (uint32_t)u;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "table"))) {
		nw_cfg_join(p, sizeof(p), path, "table");
		if ((err = get_table(c, v, p, &s->table)))
			return err;
		s->has_table = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "uidrange"))) {
		nw_cfg_join(p, sizeof(p), path, "uidrange");
		if ((err = get_uidrange(c, v, p, &s->uid_start, &s->uid_end)))
			return err;
		s->has_uidrange = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "fwmark"))) {
		nw_cfg_join(p, sizeof(p), path, "fwmark");
		if ((err = nw_cfg_get_uint(c, v, p, 0, 4294967295.0, &u)))
			return err;
		s->has_fwmark = true;
		s->fwmark = (uint32_t)u;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "from"))) {
		nw_cfg_join(p, sizeof(p), path, "from");
		if ((err = rule_prefix(c, v, p, &from_family, s->from, &s->from_len)))
			return err;
		s->has_from = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "to"))) {
		nw_cfg_join(p, sizeof(p), path, "to");
		if ((err = rule_prefix(c, v, p, &to_family, s->to, &s->to_len)))
			return err;
		s->has_to = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "iif"))) {
		nw_cfg_join(p, sizeof(p), path, "iif");
		if ((err = nw_cfg_get_dev(c, v, p, s->iif)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "oif"))) {
		nw_cfg_join(p, sizeof(p), path, "oif");
		if ((err = nw_cfg_get_dev(c, v, p, s->oif)))
			return err;
	}
	if ((err = rule_sel_family(c, o, path, s, from_family, to_family)))
		return err;
	/* {} or {"family": 4} would protect every rule, foreign churn included */
	if (!s->has_priority && !s->has_table && !s->has_uidrange && !s->has_fwmark &&
	    !s->has_from && !s->has_to && !s->iif[0] && !s->oif[0])
		return nw_cfg_fail(c, path, "needs at least one of priority, table, uidrange, fwmark, "
				     "from, to, iif, oif");
	return 0;
}

static int parse_rules(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "storm_threshold", "window_ms", "protect",
					    "auto_quarantine", "protect_defaults", "restore", NULL };
	struct nw_route_guard_cfg *r = &cfg->routes;
	const cJSON *v;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "rules")) || (err = nw_cfg_check_keys(c, o, "rules", keys)))
		return err;
	if ((err = nw_cfg_get_section_u32(c, o, "rules", "storm_threshold", 1, 1000000,
				 &cfg->rules_cfg.storm_threshold)) ||
	    (err = nw_cfg_get_section_u32(c, o, "rules", "window_ms", 10, 3600000, &cfg->rules_cfg.window_ms)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "auto_quarantine")) &&
	    (err = nw_cfg_get_bool(c, v, "rules.auto_quarantine", &cfg->rules_cfg.auto_quarantine)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "protect_defaults")) &&
	    (err = nw_cfg_get_bool(c, v, "rules.protect_defaults", &r->protect_default_rules)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "restore")) &&
	    (err = nw_cfg_get_bool(c, v, "rules.restore", &r->restore_rules)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "protect")) &&
	    (err = nw_cfg_parse_list(c, v, "rules.protect", NW_RULES_PROTECT_MAX, "entries",
				    sizeof(*r->protect_rules), (void **)&r->protect_rules,
				    &r->n_protect_rules, parse_rule_sel)))
		return err;
	return 0;
}

static int parse_sections(struct nw_cfg_ctx *c, const cJSON *root, struct nw_cfg *cfg)
{
	static const char *const top[] = { "netns", "bpf", "control", "binds", "routes",
					   "rules", "probes", "recovery", "tunnels", "segw",
					   "metrics", "log", NULL };
	/* in SPEC.md, handled by later versions: type-checked, then ignored */
	static const char *const later[] = { NULL };
	const cJSON *v, *s;
	uint64_t u;
	int err;

	if (!cJSON_IsObject(root))
		return nw_cfg_fail(c, "(top level)", "expected an object, got %s", nw_json_type_name(root));
	if ((err = nw_cfg_check_keys(c, root, "", top)))
		return err;

	if ((v = cJSON_GetObjectItemCaseSensitive(root, "netns"))) {
		if (!cJSON_IsString(v))
			return nw_cfg_fail(c, "netns", "expected \"self\" or \"all\", got %s", nw_json_type_name(v));
		if (strcmp(v->valuestring, "self") && strcmp(v->valuestring, "all"))
			return nw_cfg_fail(c, "netns", "\"%s\" is not \"self\" or \"all\"", v->valuestring);
		cfg->netns_all = !strcmp(v->valuestring, "all");
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "bpf"))) {
		static const char *const keys[] = { "pin_dir", "keep_on_exit", NULL };

		if ((err = nw_cfg_want_object(c, s, "bpf")) || (err = nw_cfg_check_keys(c, s, "bpf", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "pin_dir"))) {
			if ((err = nw_cfg_get_string(c, v, "bpf.pin_dir", false, &cfg->pin_dir)))
				return err;
			if (cfg->pin_dir[0] != '/')
				return nw_cfg_fail(c, "bpf.pin_dir", "\"%s\" is not an absolute path",
					    cfg->pin_dir);
		}
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "keep_on_exit")) &&
		    (err = nw_cfg_get_bool(c, v, "bpf.keep_on_exit", &cfg->keep_on_exit)))
			return err;
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "control"))) {
		static const char *const keys[] = { "socket", NULL };

		if ((err = nw_cfg_want_object(c, s, "control")) ||
		    (err = nw_cfg_check_keys(c, s, "control", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "socket"))) {
			if ((err = nw_cfg_get_string(c, v, "control.socket", false, &cfg->socket)))
				return err;
			if (cfg->socket[0] != '/')
				return nw_cfg_fail(c, "control.socket", "\"%s\" is not an absolute path",
					    cfg->socket);
			if (strlen(cfg->socket) >= 108)
				return nw_cfg_fail(c, "control.socket", "longer than 107 bytes");
		}
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "binds")) && (err = parse_binds(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "routes")) && (err = parse_routes(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "rules")) && (err = parse_rules(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "log"))) {
		static const char *const keys[] = { "level", "history", NULL };

		if ((err = nw_cfg_want_object(c, s, "log")) || (err = nw_cfg_check_keys(c, s, "log", keys)))
			return err;
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "level"))) {
			if (!cJSON_IsString(v))
				return nw_cfg_fail(c, "log.level", "expected a string, got %s", nw_json_type_name(v));
			if ((cfg->log_level = nw_log_level_parse(v->valuestring)) < 0)
				return nw_cfg_fail(c, "log.level",
					    "\"%s\" is not err, warning, notice, info or debug",
					    v->valuestring);
		}
		if ((v = cJSON_GetObjectItemCaseSensitive(s, "history"))) {
			if ((err = nw_cfg_get_uint(c, v, "log.history", 1, 1000000, &u)))
				return err;
			cfg->history = (size_t)u;
		}
	}
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "probes")) &&
	    (err = nw_cfg_parse_probes(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "recovery")) &&
	    (err = nw_cfg_parse_recovery(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "tunnels")) &&
	    (err = nw_cfg_parse_tunnels(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "segw")) &&
	    (err = nw_cfg_parse_segw(c, s, cfg)))
		return err;
	if ((s = cJSON_GetObjectItemCaseSensitive(root, "metrics")) &&
	    (err = nw_cfg_parse_metrics(c, s, cfg)))
		return err;
	if (cfg->recovery.enabled && !cfg->n_probes)
		return nw_cfg_fail(c, "recovery", "needs probes: without a \"probes\" entry "
				   "nothing ever says the host is offline");
	for (const char *const *l = later; *l; l++) {
		if (!(v = cJSON_GetObjectItemCaseSensitive(root, *l)))
			continue;
		if (!(cJSON_IsObject(v) || cJSON_IsNull(v)))
			return nw_cfg_fail(c, *l, "expected an object, got %s", nw_json_type_name(v));
		snprintf(cfg->pending + strlen(cfg->pending),
			 sizeof(cfg->pending) - strlen(cfg->pending), "%s%s",
			 cfg->pending[0] ? ", " : "", *l);
	}
	return 0;
}

void nw_cfg_defaults(struct nw_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind_default = NW_ACT_AUDIT;
	cfg->scan_listeners = true;
	cfg->log_level = LOG_INFO;
	cfg->history = 1024;
	cfg->routes.learn_default = true;
	cfg->routes.restore = true;
	cfg->routes.max_restores = 5;
	cfg->routes.window_ms = 10000;
	cfg->routes.backoff_min_ms = 100;
	cfg->routes.backoff_max_ms = 30000;
	cfg->routes.protect_default_rules = true;
	cfg->routes.restore_rules = true;
	cfg->rules_cfg.storm_threshold = 20;
	cfg->rules_cfg.window_ms = 1000;
	cfg->rules_cfg.auto_quarantine = false;
	nw_recovery_cfg_defaults(&cfg->recovery);
	cfg->tunnels.interval_ms = 3000;
	cfg->tunnels.timeout_ms = 2000;
	cfg->segw.initiate_timeout_ms = 10000;
	cfg->segw.retry_delay_ms = 1000;
	cfg->metrics.interval_ms = NW_METRICS_INTERVAL_MS;
}

void nw_cfg_free(struct nw_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++)
		free(cfg->rules[i].cgroup);
	free(cfg->rules);
	free(cfg->pin_dir);
	free(cfg->socket);
	free(cfg->bind_cgroup);
	free(cfg->routes.protect);
	free(cfg->routes.protect_rules);
	nw_cfg_free_probes(cfg);
	nw_recovery_cfg_free(&cfg->recovery);
	nw_tunnels_cfg_free(&cfg->tunnels);
	nw_segw_cfg_free(&cfg->segw);
	free(cfg->metrics.textfile);
	memset(cfg, 0, sizeof(*cfg));
}

static void where(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < at && *p; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int nw_cfg_parse(const char *text, struct nw_cfg *cfg, char *err, size_t errlen)
{
	struct nw_cfg_ctx c = { err, errlen };
	const char *end = NULL;
	cJSON *root;
	int r;

	nw_cfg_defaults(cfg);
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		int line, col;

		where(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "line %d column %d: not valid JSON", line, col);
		return -EINVAL;
	}
	r = parse_sections(&c, root, cfg);
	cJSON_Delete(root);
	if (r)
		nw_cfg_free(cfg);
	return r;
}

static int check_one(struct nw_cfg_ctx *c, const char *mount, const char *cg, const char *path,
		     bool must_exist)
{
	char abs[PATH_MAX];
	struct stat st;

	if (nw_cgroup_abs(mount, cg, abs, sizeof(abs)) < 0)
		return nw_cfg_fail(c, path, "\"%s\" is not a valid cgroup path", cg);
	if (must_exist && (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode)))
		return nw_cfg_fail(c, path, "\"%s\": no such cgroup under %s", cg, mount);
	return 0;
}

int nw_cfg_check_cgroups(const struct nw_cfg *cfg, const char *mount, char *err, size_t errlen)
{
	struct nw_cfg_ctx c = { err, errlen };
	int r;

	if (cfg->bind_cgroup && (r = check_one(&c, mount, cfg->bind_cgroup, "binds.cgroup", true)))
		return r;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		char p[64];

		if (!cfg->rules[i].cgroup)
			continue;
		snprintf(p, sizeof(p), "binds.rules[%zu].cgroup", i);
		/* a rule's cgroup may not exist yet (a stopped service) */
		if ((r = check_one(&c, mount, cfg->rules[i].cgroup, p, false)))
			return r;
	}
	return 0;
}

int nw_cfg_load(const char *path, struct nw_cfg *cfg, char *err, size_t errlen)
{
	char msg[NW_ERR_LEN];
	char *text = NULL;
	int r;

	r = nw_read_file(path, &text, NW_CONFIG_MAX_BYTES);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path,
			 r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		return r;
	}
	r = nw_cfg_parse(text, cfg, msg, sizeof(msg));
	free(text);
	if (r)
		snprintf(err, errlen, "%s: %s", path, msg);
	return r;
}
