// SPDX-License-Identifier: GPL-2.0-only
/*
 * The route guard's state file (see route_state.h). The text is JSON, one
 * object:
 *
 *   { "version": 1, "netns": 4026532296, "netns_cookie": "4097",
 *     "boot_id": "…", "written": "2026-…Z",
 *     "routes": [ { "origin": "learned", "family": 4, "dst": "0.0.0.0/0",
 *                   "table": 254, "protocol": 3, "scope": 0, "type": 1,
 *                   "metric": 0, "multipath": false,
 *                   "nexthops": [ { "gateway": "192.0.2.1", "dev": "eth0",
 *                                   "ifindex": 2, "weight": 1 } ] } ],
 *     "rules": [ { "origin": "learned", "family": 4, "priority": 32766,
 *                  "table": 254, "action": 1, "protocol": 2 } ] }
 *
 * Numbers are the kernel's (rtm_protocol, rtm_scope, rtm_type, the rule's
 * action): the file says what a restore sends, not how ip(8) names it.
 * Members that are zero or absent in the kernel object are left out. The
 * parser is strict (unknown keys, wrong types and ranges are errors): a
 * file it does not understand is not used at all.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "config_json.h"
#include "route_state.h"
#include "util.h"

static unsigned addr_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

/* --- formatting ------------------------------------------------------------- */

static bool num(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static bool str(cJSON *o, const char *key, const char *v)
{
	return cJSON_AddStringToObject(o, key, v) != NULL;
}

static bool addr(cJSON *o, const char *key, uint8_t family, const uint8_t *a)
{
	char s[INET6_ADDRSTRLEN];

	return inet_ntop(family, a, s, sizeof(s)) && str(o, key, s);
}

/* "10.9.0.0/16" */
static bool prefix(cJSON *o, const char *key, uint8_t family, const uint8_t *a, uint8_t len)
{
	char s[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN + 4];

	if (!inet_ntop(family, a, s, sizeof(s)))
		return false;
	snprintf(p, sizeof(p), "%s/%u", s, len);
	return str(o, key, p);
}

static bool pair(cJSON *o, const char *key, double a, double b)
{
	cJSON *arr = cJSON_AddArrayToObject(o, key);

	return arr && cJSON_AddItemToArray(arr, cJSON_CreateNumber(a)) &&
	       cJSON_AddItemToArray(arr, cJSON_CreateNumber(b));
}

static bool ports(cJSON *o, const char *key, uint16_t start, uint16_t end, uint16_t mask)
{
	cJSON *arr;

	if (!start && !end && !mask)
		return true;
	arr = cJSON_AddArrayToObject(o, key);
	return arr && cJSON_AddItemToArray(arr, cJSON_CreateNumber(start)) &&
	       cJSON_AddItemToArray(arr, cJSON_CreateNumber(end)) &&
	       cJSON_AddItemToArray(arr, cJSON_CreateNumber(mask));
}

static bool nexthop(cJSON *arr, const struct nw_rt_nh *nh, const char *dev)
{
	cJSON *o = cJSON_CreateObject();
	bool ok;

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	ok = (!nh->gw_family || addr(o, "gateway", nh->gw_family, nh->gateway)) &&
	     (!nh->via || cJSON_AddTrueToObject(o, "via")) &&
	     (!dev[0] || str(o, "dev", dev)) &&
	     num(o, "ifindex", nh->ifindex) && num(o, "weight", nh->hops + 1) &&
	     (!nh->flags || num(o, "flags", nh->flags)) &&
	     (!nh->flow || num(o, "flow", nh->flow));
	return ok;
}

static cJSON *route_json(const struct nw_saved_route *sr)
{
	const struct nw_rt *rt = &sr->rt;
	char hex[2 * NW_RT_METRICS_MAX + 1];
	cJSON *o = cJSON_CreateObject(), *arr = NULL;
	bool ok;

	if (!o)
		return NULL;
	for (unsigned i = 0; i < rt->metrics_len && i < NW_RT_METRICS_MAX; i++)
		snprintf(hex + 2 * i, 3, "%02x", rt->metrics[i]);
	hex[2 * (rt->metrics_len < NW_RT_METRICS_MAX ? rt->metrics_len : NW_RT_METRICS_MAX)] = 0;
	ok = str(o, "origin", sr->learned ? "learned" : "config") &&
	     num(o, "family", rt->family == AF_INET ? 4 : 6) &&
	     prefix(o, "dst", rt->family, rt->dst, rt->dst_len) &&
	     (!rt->src_len || prefix(o, "src", rt->family, rt->src, rt->src_len)) &&
	     (!rt->tos || num(o, "tos", rt->tos)) &&
	     num(o, "table", rt->table) && num(o, "protocol", rt->protocol) &&
	     num(o, "scope", rt->scope) && num(o, "type", rt->type) &&
	     num(o, "metric", rt->priority) &&
	     (!rt->flags || num(o, "flags", rt->flags)) &&
	     (!rt->has_prefsrc || addr(o, "prefsrc", rt->family, rt->prefsrc)) &&
	     (!rt->has_pref || num(o, "pref", rt->pref)) &&
	     (!rt->nh_id || num(o, "nh_id", rt->nh_id)) &&
	     (!sr->expires || num(o, "expires", (double)sr->expires)) &&
	     (!sr->alias || cJSON_AddTrueToObject(o, "alias")) &&
	     cJSON_AddBoolToObject(o, "multipath", rt->multipath) &&
	     (!rt->metrics_len || str(o, "metrics", hex)) &&
	     (arr = cJSON_AddArrayToObject(o, "nexthops")) != NULL;
	for (unsigned i = 0; ok && i < rt->n_nh && i < NW_RT_MAX_NH; i++)
		ok = nexthop(arr, &rt->nh[i], sr->dev[i]);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *rule_json(const struct nw_saved_rule *sr)
{
	const struct nw_rule *r = &sr->rule;
	char tun[24];
	cJSON *o = cJSON_CreateObject();
	bool ok;

	if (!o)
		return NULL;
	snprintf(tun, sizeof(tun), "%" PRIu64, r->tun_id);
	ok = str(o, "origin", sr->learned ? "learned" : "config") &&
	     num(o, "family", r->family == AF_INET ? 4 : 6) &&
	     num(o, "priority", r->priority) && num(o, "table", r->table) &&
	     num(o, "action", r->action) && num(o, "protocol", r->protocol) &&
	     (!r->flags || num(o, "flags", r->flags)) &&
	     (!r->tos || num(o, "tos", r->tos)) &&
	     (!r->src_len || prefix(o, "src", r->family, r->src, r->src_len)) &&
	     (!r->dst_len || prefix(o, "dst", r->family, r->dst, r->dst_len)) &&
	     (!r->iifname[0] || str(o, "iif", r->iifname)) &&
	     (!r->oifname[0] || str(o, "oif", r->oifname)) &&
	     (!r->fwmark || num(o, "fwmark", r->fwmark)) &&
	     (!r->fwmask || num(o, "fwmask", r->fwmask)) &&
	     (!r->goto_target || num(o, "goto", r->goto_target)) &&
	     (!r->flow || num(o, "flow", r->flow)) &&
	     (!r->tun_id || str(o, "tun_id", tun)) &&
	     (r->suppress_prefixlen == NW_RULE_NONE ||
	      num(o, "suppress_prefixlen", r->suppress_prefixlen)) &&
	     (r->suppress_ifgroup == NW_RULE_NONE ||
	      num(o, "suppress_ifgroup", r->suppress_ifgroup)) &&
	     (!r->l3mdev || num(o, "l3mdev", r->l3mdev)) &&
	     (!r->ip_proto || num(o, "ip_proto", r->ip_proto)) &&
	     (!r->has_uid_range || pair(o, "uidrange", r->uid_start, r->uid_end)) &&
	     ports(o, "sport", r->sport_start, r->sport_end, r->sport_mask) &&
	     ports(o, "dport", r->dport_start, r->dport_end, r->dport_mask) &&
	     (!r->has_dscp || num(o, "dscp", r->dscp)) &&
	     (!r->has_dscp_mask || num(o, "dscp_mask", r->dscp_mask)) &&
	     (!r->has_flowlabel || pair(o, "flowlabel", r->flowlabel, r->flowlabel_mask));
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int nw_state_format(const struct nw_state *s, char **out)
{
	char ts[NW_TS_LEN], cookie[24];
	cJSON *root = cJSON_CreateObject(), *routes = NULL, *rules = NULL;
	int r = -ENOMEM;
	bool ok;

	*out = NULL;
	if (!root)
		return -ENOMEM;
	nw_format_realtime(nw_now_ns(CLOCK_REALTIME), ts);
	snprintf(cookie, sizeof(cookie), "%" PRIu64, s->place.netns_cookie);
	ok = num(root, "version", NW_STATE_VERSION) && num(root, "netns", s->place.netns) &&
	     (!s->place.netns_cookie || str(root, "netns_cookie", cookie)) &&
	     (!s->place.boot_id[0] || str(root, "boot_id", s->place.boot_id)) &&
	     str(root, "written", ts) &&
	     (routes = cJSON_AddArrayToObject(root, "routes")) != NULL &&
	     (rules = cJSON_AddArrayToObject(root, "rules")) != NULL;
	for (size_t i = 0; ok && i < s->n_routes; i++) {
		cJSON *o = route_json(&s->routes[i]);

		ok = o && cJSON_AddItemToArray(routes, o);
	}
	for (size_t i = 0; ok && i < s->n_rules; i++) {
		cJSON *o = rule_json(&s->rules[i]);

		ok = o && cJSON_AddItemToArray(rules, o);
	}
	if (ok && (*out = cJSON_Print(root)))
		r = 0;
	cJSON_Delete(root);
	return r;
}

/* --- parsing ----------------------------------------------------------------- */

static const cJSON *member(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* key of o as a whole number in [0, max]: required, or left alone when absent */
static int get_num(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		   bool required, double max, uint64_t *out)
{
	const cJSON *v = member(o, key);
	char p[160];

	nw_cfg_join(p, sizeof(p), path, key);
	if (!v)
		return required ? nw_cfg_fail(c, p, "missing") : 0;
	return nw_cfg_get_uint(c, v, p, 0, max, out);
}

static int get_u8(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		  bool required, uint8_t *out)
{
	uint64_t v = *out;
	int r = get_num(c, o, path, key, required, 255, &v);

	*out = (uint8_t)v;
	return r;
}

static int get_u32(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		   bool required, uint32_t *out)
{
	uint64_t v = *out;
	int r = get_num(c, o, path, key, required, 4294967295.0, &v);

	*out = (uint32_t)v;
	return r;
}

static int get_flag(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		    bool required, bool *out)
{
	const cJSON *v = member(o, key);
	char p[160];

	nw_cfg_join(p, sizeof(p), path, key);
	if (!v)
		return required ? nw_cfg_fail(c, p, "missing") : 0;
	return nw_cfg_get_bool(c, v, p, out);
}

static int get_origin(struct nw_cfg_ctx *c, const cJSON *o, const char *path, bool *learned)
{
	const char *s;
	char p[160];
	int r;

	if ((r = nw_cfg_get_text(c, o, path, "origin", true, 16, &s)))
		return r;
	nw_cfg_join(p, sizeof(p), path, "origin");
	if (strcmp(s, "learned") && strcmp(s, "config"))
		return nw_cfg_fail(c, p, "expected \"learned\" or \"config\", got \"%s\"", s);
	*learned = !strcmp(s, "learned");
	return 0;
}

static int get_family(struct nw_cfg_ctx *c, const cJSON *o, const char *path, uint8_t *family)
{
	uint64_t v = 0;
	char p[160];
	int r;

	if ((r = get_num(c, o, path, "family", true, 255, &v)))
		return r;
	nw_cfg_join(p, sizeof(p), path, "family");
	if (v != 4 && v != 6)
		return nw_cfg_fail(c, p, "expected 4 or 6, got %" PRIu64, v);
	*family = v == 4 ? AF_INET : AF_INET6;
	return 0;
}

static int get_addr(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		    uint8_t family, uint8_t *a)
{
	const char *s;
	char p[160];
	int r;

	if ((r = nw_cfg_get_text(c, o, path, key, true, INET6_ADDRSTRLEN, &s)))
		return r;
	nw_cfg_join(p, sizeof(p), path, key);
	memset(a, 0, 16);
	if (inet_pton(family, s, a) != 1)
		return nw_cfg_fail(c, p, "not an IPv%d address: \"%s\"", family == AF_INET ? 4 : 6,
				   s);
	return 0;
}

/* "address/length" of family */
static int get_prefix(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		      bool required, uint8_t family, uint8_t *a, uint8_t *len)
{
	char p[160], text[INET6_ADDRSTRLEN + 5];
	const char *s;
	uint64_t bits;
	char *slash;
	int r;

	if ((r = nw_cfg_get_text(c, o, path, key, required, sizeof(text) - 1, &s)) || !s)
		return r;
	nw_cfg_join(p, sizeof(p), path, key);
	snprintf(text, sizeof(text), "%s", s);
	memset(a, 0, 16);
	if (!(slash = strchr(text, '/')))
		return nw_cfg_fail(c, p, "expected address/length, got \"%s\"", s);
	*slash = 0;
	if (inet_pton(family, text, a) != 1 ||
	    nw_parse_u64(slash + 1, 0, addr_bits(family), &bits))
		return nw_cfg_fail(c, p, "not an IPv%d prefix: \"%s\"", family == AF_INET ? 4 : 6, s);
	*len = (uint8_t)bits;
	return 0;
}

static int get_dev(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		   char out[IF_NAMESIZE])
{
	const char *s;
	int r;

	if ((r = nw_cfg_get_text(c, o, path, key, false, IF_NAMESIZE - 1, &s)) || !s)
		return r;
	snprintf(out, IF_NAMESIZE, "%s", s);
	return 0;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int get_metrics(struct nw_cfg_ctx *c, const cJSON *o, const char *path, struct nw_rt *rt)
{
	const char *s;
	char p[160];
	size_t n;
	int r;

	if ((r = nw_cfg_get_text(c, o, path, "metrics", false, 2 * NW_RT_METRICS_MAX, &s)) || !s)
		return r;
	nw_cfg_join(p, sizeof(p), path, "metrics");
	n = strlen(s);
	if (n % 2)
		return nw_cfg_fail(c, p, "an odd number of hex digits");
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return nw_cfg_fail(c, p, "not hex digits");
		rt->metrics[i] = (uint8_t)(hi << 4 | lo);
	}
	rt->metrics_len = (uint16_t)(n / 2);
	return 0;
}

/* [a, b] or [a, b, c] of whole numbers in [0, max] */
static int get_tuple(struct nw_cfg_ctx *c, const cJSON *o, const char *path, const char *key,
		     int n, double max, uint64_t *out, bool *present)
{
	const cJSON *v = member(o, key);
	char p[160], q[176];
	int i = 0, r;
	const cJSON *it;

	*present = v != NULL;
	if (!v)
		return 0;
	nw_cfg_join(p, sizeof(p), path, key);
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
		return nw_cfg_fail(c, p, "expected an array of %d numbers", n);
	cJSON_ArrayForEach(it, v) {
		snprintf(q, sizeof(q), "%s[%d]", p, i);
		if ((r = nw_cfg_get_uint(c, it, q, 0, max, &out[i++])))
			return r;
	}
	return 0;
}

static const char *const nexthop_keys[] = {
	"gateway", "via", "dev", "ifindex", "weight", "flags", "flow", NULL
};

static int parse_nexthop(struct nw_cfg_ctx *c, const cJSON *o, const char *path,
			 struct nw_saved_route *sr, unsigned i)
{
	struct nw_rt_nh *nh = &sr->rt.nh[i];
	uint64_t weight = 1, ifindex = 0;
	const char *gw;
	char p[160];
	int r;

	if ((r = nw_cfg_want_object(c, o, path)) ||
	    (r = nw_cfg_check_keys(c, o, path, nexthop_keys)) ||
	    (r = nw_cfg_get_text(c, o, path, "gateway", false, INET6_ADDRSTRLEN, &gw)) ||
	    (r = get_flag(c, o, path, "via", false, &nh->via)) ||
	    (r = get_dev(c, o, path, "dev", sr->dev[i])) ||
	    (r = get_num(c, o, path, "ifindex", true, 2147483647.0, &ifindex)) ||
	    (r = get_num(c, o, path, "weight", false, 256, &weight)) ||
	    (r = get_u8(c, o, path, "flags", false, &nh->flags)) ||
	    (r = get_u32(c, o, path, "flow", false, &nh->flow)))
		return r;
	nw_cfg_join(p, sizeof(p), path, "weight");
	if (!weight)
		return nw_cfg_fail(c, p, "0 is out of range (1-256)");
	nh->hops = (uint8_t)(weight - 1);
	nh->ifindex = (int)ifindex;
	if (gw) {
		nw_cfg_join(p, sizeof(p), path, "gateway");
		if (inet_pton(AF_INET, gw, nh->gateway) == 1)
			nh->gw_family = AF_INET;
		else if (inet_pton(AF_INET6, gw, nh->gateway) == 1)
			nh->gw_family = AF_INET6;
		else
			return nw_cfg_fail(c, p, "not an IP address: \"%s\"", gw);
		if (nh->gw_family != sr->rt.family && !nh->via)
			return nw_cfg_fail(c, p, "an IPv%d gateway on an IPv%d route needs \"via\"",
					   nh->gw_family == AF_INET ? 4 : 6,
					   sr->rt.family == AF_INET ? 4 : 6);
	} else if (nh->via) {
		nw_cfg_join(p, sizeof(p), path, "via");
		return nw_cfg_fail(c, p, "without a gateway");
	}
	return 0;
}

static const char *const route_keys[] = {
	"origin", "family", "dst", "src", "tos", "table", "protocol", "scope", "type", "metric",
	"flags", "prefsrc", "pref", "nh_id", "expires", "alias", "multipath", "metrics",
	"nexthops", NULL
};

static int parse_route(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	struct nw_saved_route *sr = elem;
	struct nw_rt *rt = &sr->rt;
	const cJSON *nhs, *it;
	char p[160], q[176];
	unsigned i = 0;
	int r;

	if ((r = nw_cfg_want_object(c, o, path)) ||
	    (r = nw_cfg_check_keys(c, o, path, route_keys)) ||
	    (r = get_origin(c, o, path, &sr->learned)) ||
	    (r = get_family(c, o, path, &rt->family)) ||
	    (r = get_prefix(c, o, path, "dst", true, rt->family, rt->dst, &rt->dst_len)) ||
	    (r = get_prefix(c, o, path, "src", false, rt->family, rt->src, &rt->src_len)) ||
	    (r = get_u8(c, o, path, "tos", false, &rt->tos)) ||
	    (r = get_u32(c, o, path, "table", true, &rt->table)) ||
	    (r = get_u8(c, o, path, "protocol", true, &rt->protocol)) ||
	    (r = get_u8(c, o, path, "scope", true, &rt->scope)) ||
	    (r = get_u8(c, o, path, "type", true, &rt->type)) ||
	    (r = get_u32(c, o, path, "metric", true, &rt->priority)) ||
	    (r = get_u32(c, o, path, "flags", false, &rt->flags)) ||
	    (r = get_u8(c, o, path, "pref", false, &rt->pref)) ||
	    (r = get_u32(c, o, path, "nh_id", false, &rt->nh_id)) ||
	    (r = get_num(c, o, path, "expires", false, 9007199254740991.0, &sr->expires)) ||
	    (r = get_flag(c, o, path, "alias", false, &sr->alias)) ||
	    (r = get_flag(c, o, path, "multipath", true, &rt->multipath)) ||
	    (r = get_metrics(c, o, path, rt)))
		return r;
	rt->has_pref = member(o, "pref") != NULL;
	if ((rt->has_prefsrc = member(o, "prefsrc") != NULL) &&
	    (r = get_addr(c, o, path, "prefsrc", rt->family, rt->prefsrc)))
		return r;
	nw_cfg_join(p, sizeof(p), path, "nexthops");
	if (!(nhs = member(o, "nexthops")))
		return nw_cfg_fail(c, p, "missing");
	if (!cJSON_IsArray(nhs))
		return nw_cfg_fail(c, p, "expected an array, got %s", nw_json_type_name(nhs));
	if (cJSON_GetArraySize(nhs) > (rt->multipath ? NW_RT_MAX_NH : 1))
		return nw_cfg_fail(c, p, "%d nexthops, at most %d%s", cJSON_GetArraySize(nhs),
				   rt->multipath ? NW_RT_MAX_NH : 1,
				   rt->multipath ? "" : " without \"multipath\"");
	cJSON_ArrayForEach(it, nhs) {
		snprintf(q, sizeof(q), "%s[%u]", p, i);
		if ((r = parse_nexthop(c, it, q, sr, i)))
			return r;
		i++;
	}
	rt->n_nh = (uint16_t)i;
	return 0;
}

static const char *const rule_keys[] = {
	"origin", "family", "priority", "table", "action", "protocol", "flags", "tos", "src", "dst",
	"iif", "oif", "fwmark", "fwmask", "goto", "flow", "tun_id", "suppress_prefixlen",
	"suppress_ifgroup", "l3mdev", "ip_proto", "uidrange", "sport", "dport", "dscp",
	"dscp_mask", "flowlabel", NULL
};

static int parse_rule(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	struct nw_saved_rule *sr = elem;
	struct nw_rule *rl = &sr->rule;
	uint64_t t[3] = { 0 };
	const char *tun;
	bool present;
	char p[160];
	int r;

	rl->suppress_prefixlen = rl->suppress_ifgroup = NW_RULE_NONE;
	if ((r = nw_cfg_want_object(c, o, path)) ||
	    (r = nw_cfg_check_keys(c, o, path, rule_keys)) ||
	    (r = get_origin(c, o, path, &sr->learned)) ||
	    (r = get_family(c, o, path, &rl->family)) ||
	    (r = get_u32(c, o, path, "priority", true, &rl->priority)) ||
	    (r = get_u32(c, o, path, "table", true, &rl->table)) ||
	    (r = get_u8(c, o, path, "action", true, &rl->action)) ||
	    (r = get_u8(c, o, path, "protocol", true, &rl->protocol)) ||
	    (r = get_u32(c, o, path, "flags", false, &rl->flags)) ||
	    (r = get_u8(c, o, path, "tos", false, &rl->tos)) ||
	    (r = get_prefix(c, o, path, "src", false, rl->family, rl->src, &rl->src_len)) ||
	    (r = get_prefix(c, o, path, "dst", false, rl->family, rl->dst, &rl->dst_len)) ||
	    (r = get_dev(c, o, path, "iif", rl->iifname)) ||
	    (r = get_dev(c, o, path, "oif", rl->oifname)) ||
	    (r = get_u32(c, o, path, "fwmark", false, &rl->fwmark)) ||
	    (r = get_u32(c, o, path, "fwmask", false, &rl->fwmask)) ||
	    (r = get_u32(c, o, path, "goto", false, &rl->goto_target)) ||
	    (r = get_u32(c, o, path, "flow", false, &rl->flow)) ||
	    (r = nw_cfg_get_text(c, o, path, "tun_id", false, 20, &tun)) ||
	    (r = get_u32(c, o, path, "suppress_prefixlen", false, &rl->suppress_prefixlen)) ||
	    (r = get_u32(c, o, path, "suppress_ifgroup", false, &rl->suppress_ifgroup)) ||
	    (r = get_u8(c, o, path, "l3mdev", false, &rl->l3mdev)) ||
	    (r = get_u8(c, o, path, "ip_proto", false, &rl->ip_proto)) ||
	    (r = get_u8(c, o, path, "dscp", false, &rl->dscp)) ||
	    (r = get_u8(c, o, path, "dscp_mask", false, &rl->dscp_mask)))
		return r;
	rl->has_dscp = member(o, "dscp") != NULL;
	rl->has_dscp_mask = member(o, "dscp_mask") != NULL;
	if (tun) {
		nw_cfg_join(p, sizeof(p), path, "tun_id");
		if (nw_parse_u64(tun, 0, UINT64_MAX, &rl->tun_id))
			return nw_cfg_fail(c, p, "not a number: \"%s\"", tun);
	}
	if ((r = get_tuple(c, o, path, "uidrange", 2, 4294967295.0, t, &present)))
		return r;
	if ((rl->has_uid_range = present)) {
		rl->uid_start = (uint32_t)t[0];
		rl->uid_end = (uint32_t)t[1];
	}
	if ((r = get_tuple(c, o, path, "sport", 3, 65535, t, &present)))
		return r;
	if (present) {
		rl->sport_start = (uint16_t)t[0];
		rl->sport_end = (uint16_t)t[1];
		rl->sport_mask = (uint16_t)t[2];
	}
	if ((r = get_tuple(c, o, path, "dport", 3, 65535, t, &present)))
		return r;
	if (present) {
		rl->dport_start = (uint16_t)t[0];
		rl->dport_end = (uint16_t)t[1];
		rl->dport_mask = (uint16_t)t[2];
	}
	if ((r = get_tuple(c, o, path, "flowlabel", 2, 4294967295.0, t, &present)))
		return r;
	if ((rl->has_flowlabel = present)) {
		rl->flowlabel = (uint32_t)t[0];
		rl->flowlabel_mask = (uint32_t)t[1];
	}
	return 0;
}

static const char *const top_keys[] = {
	"version", "netns", "netns_cookie", "boot_id", "written", "routes", "rules", NULL
};

int nw_state_parse(const char *text, size_t len, struct nw_state *s, char *err, size_t errlen)
{
	struct nw_cfg_ctx c = { err, errlen };
	const char *cookie, *boot, *written;
	uint64_t version = 0, netns = 0;
	const cJSON *v;
	cJSON *root = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	if (errlen)
		err[0] = 0;
	if (!(root = nw_json_parse_object(text, len, err, errlen)))
		return -EINVAL;
	if ((r = nw_cfg_check_keys(&c, root, "", top_keys)) ||
	    (r = get_num(&c, root, "", "version", true, 1e9, &version)))
		goto cleanup;
	if (version != NW_STATE_VERSION) {
		r = nw_cfg_fail(&c, "version", "%" PRIu64 " is not supported (this netwardd reads %d)",
				version, NW_STATE_VERSION);
		goto cleanup;
	}
	if ((r = get_num(&c, root, "", "netns", true, 4294967295.0, &netns)) ||
	    (r = nw_cfg_get_text(&c, root, "", "netns_cookie", false, 20, &cookie)) ||
	    (r = nw_cfg_get_text(&c, root, "", "boot_id", false, NW_BOOT_ID_LEN - 1, &boot)) ||
	    (r = nw_cfg_get_text(&c, root, "", "written", false, NW_TS_LEN, &written)))
		goto cleanup;
	s->place.netns = (uint32_t)netns;
	if (cookie && nw_parse_u64(cookie, 0, UINT64_MAX, &s->place.netns_cookie)) {
		r = nw_cfg_fail(&c, "netns_cookie", "not a number: \"%s\"", cookie);
		goto cleanup;
	}
	if (boot)
		snprintf(s->place.boot_id, sizeof(s->place.boot_id), "%s", boot);
	if (!(v = member(root, "routes"))) {
		r = nw_cfg_fail(&c, "routes", "missing");
		goto cleanup;
	}
	if ((r = nw_cfg_parse_list(&c, v, "routes", NW_STATE_MAX_ITEMS, "routes", sizeof(*s->routes),
				   (void **)&s->routes, &s->n_routes, parse_route)))
		goto cleanup;
	if (!(v = member(root, "rules"))) {
		r = nw_cfg_fail(&c, "rules", "missing");
		goto cleanup;
	}
	r = nw_cfg_parse_list(&c, v, "rules", NW_STATE_MAX_ITEMS, "rules", sizeof(*s->rules),
			      (void **)&s->rules, &s->n_rules, parse_rule);
cleanup:
	cJSON_Delete(root);
	if (r)
		nw_state_free(s);
	return r;
}

void nw_state_free(struct nw_state *s)
{
	free(s->routes);
	free(s->rules);
	s->routes = NULL;
	s->rules = NULL;
	s->n_routes = s->n_rules = 0;
}

/* --- the file ------------------------------------------------------------------ */

int nw_state_load(const char *path, struct nw_state *s, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	if (!(r = nw_read_regular_file(path, NW_STATE_MAX_BYTES, &buf, &len, err, errlen)))
		r = nw_state_parse(buf, len, s, err, errlen);
	free(buf);
	return r;
}

int nw_state_save(const char *path, const struct nw_state *s)
{
	char *text = NULL;
	int r;

	if ((r = nw_state_format(s, &text)))
		return r;
	r = nw_write_file_atomic(path, text, strlen(text), 0600, false);
	free(text);
	return r;
}

int nw_state_here(struct nw_state_place *here)
{
	int r;

	memset(here, 0, sizeof(*here));
	if ((r = nw_self_netns(&here->netns)))
		return r;
	if (nw_self_netns_cookie(&here->netns_cookie))
		here->netns_cookie = 0;
	nw_boot_id(here->boot_id, sizeof(here->boot_id));
	return 0;
}

bool nw_state_same_place(const struct nw_state_place *file, const struct nw_state_place *here,
			 char *why, size_t len)
{
	/* first: after a reboot the initial namespace has the same inode */
	if (file->boot_id[0] && here->boot_id[0] && strcmp(file->boot_id, here->boot_id)) {
		snprintf(why, len, "written before the last reboot (boot id %s, now %s)",
			 file->boot_id, here->boot_id);
		return false;
	}
	if (file->netns != here->netns) {
		snprintf(why, len, "written in network namespace %u, this is %u", file->netns,
			 here->netns);
		return false;
	}
	/* an inode is reused once its namespace is gone; a cookie is not */
	if (file->netns_cookie && here->netns_cookie && file->netns_cookie != here->netns_cookie) {
		snprintf(why, len, "written in an earlier network namespace with the same inode %u "
			 "(cookie %" PRIu64 ", this one's is %" PRIu64 ")", file->netns,
			 file->netns_cookie, here->netns_cookie);
		return false;
	}
	return true;
}
