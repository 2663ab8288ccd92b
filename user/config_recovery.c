// SPDX-License-Identifier: GPL-2.0-only
/*
 * netward.json "probes" and "recovery" (issue 5).
 *
 * "probes": [ { "name": "gw", "type": "icmp", "target": "192.0.2.1",
 *               "role": "gateway", "interval_ms": 1000, "timeout_ms": 500 },
 *             { "name": "web", "type": "https", "target": "https://example.com/",
 *               "expect_status": 200 },
 *             { "name": "tcp", "type": "tcp", "target": "198.51.100.1", "port": 443,
 *               "interface": "eth0", "source": "192.0.2.10" },
 *             { "name": "dns", "type": "dns", "target": "example.com", "family": 4 } ]
 * "recovery": { "fail_threshold": 3, "emergency_threshold": 5, "require": "any",
 *               "main_interface": "eth0", "vpn_interfaces": ["wg-worker-*"],
 *               "steps": { "flush_neighbour": false, ... },
 *               "kill_wildcard_owner": false, "reboot": false, "reboot_after": 3,
 *               "max_reboots": 1, "step_timeout_ms": 5000,
 *               "resolv_conf": "/etc/resolv.conf",
 *               "dhcp_command": ["/sbin/dhclient", "-1", "{iface}"] }
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_json.h"

static int probe_name(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char out[32])
{
	const char *s;

	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, path, "expected a string, got %s", nw_json_type_name(v));
	s = v->valuestring;
	if (!*s || strlen(s) >= NW_PROBE_NAME_LEN)
		return nw_cfg_fail(c, path, "\"%s\" must be 1-%d bytes", s, NW_PROBE_NAME_LEN - 1);
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return nw_cfg_fail(c, path, "\"%s\": use letters, digits, '-', '_' and '.'",
					   s);
	snprintf(out, NW_PROBE_NAME_LEN, "%s", s);
	return 0;
}

static int probe_target(struct nw_cfg_ctx *c, const cJSON *o, const char *base,
			struct nw_probe_cfg *p)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "target");
	char path[96];
	int err;

	snprintf(path, sizeof(path), "%s.target", base);
	if (!v)
		return nw_cfg_fail(c, path, "missing");
	if ((err = nw_cfg_get_string(c, v, path, false, &p->target)))
		return err;
	switch (p->type) {
	case NW_PROBE_ICMP:
	case NW_PROBE_TCP:
		if (nw_parse_ip(p->target, &p->family, p->addr))
			return nw_cfg_fail(c, path,
					   "\"%s\" is not an IP address (icmp and tcp probes take "
					   "addresses so that they do not depend on DNS; a dns probe "
					   "checks names)", p->target);
		break;
	case NW_PROBE_HTTP:
	case NW_PROBE_HTTPS: {
		const char *scheme = p->type == NW_PROBE_HTTP ? "http://" : "https://";

		if (strncmp(p->target, scheme, strlen(scheme)) || !p->target[strlen(scheme)])
			return nw_cfg_fail(c, path, "\"%s\" is not an %sURL", p->target, scheme);
		if (strpbrk(p->target, " \t\r\n"))
			return nw_cfg_fail(c, path, "\"%s\" contains whitespace", p->target);
		break;
	}
	case NW_PROBE_DNS:
		if (strlen(p->target) > 253 || strpbrk(p->target, " \t\r\n/"))
			return nw_cfg_fail(c, path, "\"%s\" is not a host name", p->target);
		break;
	}
	return 0;
}

static int parse_probe(struct nw_cfg_ctx *c, const cJSON *o, const char *path, void *elem)
{
	static const char *const keys[] = { "name", "type", "target", "port", "role",
					    "interval_ms", "timeout_ms", "interface", "source",
					    "expect_status", "family", NULL };
	struct nw_probe_cfg *p = elem;
	const cJSON *v;
	char sub[96];
	uint64_t u;
	int err, t;

	p->interval_ms = 1000;
	p->timeout_ms = 500;
	if ((err = nw_cfg_want_object(c, o, path)) || (err = nw_cfg_check_keys(c, o, path, keys)))
		return err;
	nw_cfg_join(sub, sizeof(sub), path, "name");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "name")))
		return nw_cfg_fail(c, sub, "missing");
	if ((err = probe_name(c, v, sub, p->name)))
		return err;
	nw_cfg_join(sub, sizeof(sub), path, "type");
	if (!(v = cJSON_GetObjectItemCaseSensitive(o, "type")))
		return nw_cfg_fail(c, sub, "missing");
	if (!cJSON_IsString(v))
		return nw_cfg_fail(c, sub, "expected a string, got %s", nw_json_type_name(v));
	if ((t = nw_probe_type_parse(v->valuestring)) < 0)
		return nw_cfg_fail(c, sub, "\"%s\" is not a probe type (icmp, tcp, http, https, dns)",
				   v->valuestring);
	p->type = (uint8_t)t;
	if ((err = probe_target(c, o, path, p)))
		return err;

	nw_cfg_join(sub, sizeof(sub), path, "port");
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "port"))) {
		if (p->type != NW_PROBE_TCP)
			return nw_cfg_fail(c, sub, "only tcp probes take a port (put it in the URL)");
		if ((err = nw_cfg_get_uint(c, v, sub, 1, 65535, &u)))
			return err;
		p->port = (uint16_t)u;
	} else if (p->type == NW_PROBE_TCP) {
		return nw_cfg_fail(c, sub, "missing (a tcp probe needs a port)");
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "role"))) {
		nw_cfg_join(sub, sizeof(sub), path, "role");
		if (!cJSON_IsString(v))
			return nw_cfg_fail(c, sub, "expected a string, got %s", nw_json_type_name(v));
		if ((t = nw_probe_role_parse(v->valuestring)) < 0)
			return nw_cfg_fail(c, sub, "\"%s\" is not \"internet\" or \"gateway\"",
					   v->valuestring);
		p->role = (uint8_t)t;
	}
	if ((err = nw_cfg_get_section_u32(c, o, path, "interval_ms", 100, 86400000, &p->interval_ms)) ||
	    (err = nw_cfg_get_section_u32(c, o, path, "timeout_ms", 10, 60000, &p->timeout_ms)))
		return err;
	if (p->timeout_ms >= p->interval_ms) {
		nw_cfg_join(sub, sizeof(sub), path, "timeout_ms");
		return nw_cfg_fail(c, sub, "%u must be less than interval_ms (%u)", p->timeout_ms,
				   p->interval_ms);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "interface"))) {
		nw_cfg_join(sub, sizeof(sub), path, "interface");
		if ((err = nw_cfg_get_dev(c, v, sub, p->interface)))
			return err;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "source"))) {
		nw_cfg_join(sub, sizeof(sub), path, "source");
		if (!cJSON_IsString(v))
			return nw_cfg_fail(c, sub, "expected a string, got %s", nw_json_type_name(v));
		if (nw_parse_ip(v->valuestring, &p->source_family, p->source))
			return nw_cfg_fail(c, sub, "\"%s\" is not an IP address", v->valuestring);
		if ((p->type == NW_PROBE_ICMP || p->type == NW_PROBE_TCP) &&
		    p->source_family != p->family)
			return nw_cfg_fail(c, sub, "\"%s\" is not of the target's family",
					   v->valuestring);
		p->has_source = true;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "expect_status"))) {
		nw_cfg_join(sub, sizeof(sub), path, "expect_status");
		if (p->type != NW_PROBE_HTTP && p->type != NW_PROBE_HTTPS)
			return nw_cfg_fail(c, sub, "only http and https probes take a status");
		if ((err = nw_cfg_get_uint(c, v, sub, 100, 599, &u)))
			return err;
		p->expect_status = (uint16_t)u;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "family"))) {
		nw_cfg_join(sub, sizeof(sub), path, "family");
		if (p->type != NW_PROBE_DNS)
			return nw_cfg_fail(c, sub, "only dns probes take a family (the target's "
					   "address gives it)");
		if ((err = nw_cfg_get_uint(c, v, sub, 4, 6, &u)) || (u != 4 && u != 6))
			return err ? err : nw_cfg_fail(c, sub, "%llu is not 4 or 6",
							(unsigned long long)u);
		p->family = (uint8_t)u;
	}
	return 0;
}

void nw_cfg_free_probes(struct nw_cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_probes; i++)
		free(cfg->probes[i].target);
	free(cfg->probes);
	cfg->probes = NULL;
	cfg->n_probes = 0;
}

int nw_cfg_parse_probes(struct nw_cfg_ctx *c, const cJSON *v, struct nw_cfg *cfg)
{
	int err;

	if ((err = nw_cfg_parse_list(c, v, "probes", NW_PROBES_MAX, "probes", sizeof(*cfg->probes),
				     (void **)&cfg->probes, &cfg->n_probes, parse_probe)))
		return err;
	for (size_t i = 0; i < cfg->n_probes; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->probes[i].name, cfg->probes[j].name)) {
				char p[64];

				snprintf(p, sizeof(p), "probes[%zu].name", i);
				return nw_cfg_fail(c, p, "\"%s\" is the name of probes[%zu] already",
						   cfg->probes[i].name, j);
			}
	return 0;
}

/* fnmatch patterns: they must begin with a literal prefix ("wg*", not
 * "*"), so that no pattern can take every interface of the host. */
static int vpn_pattern(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char **out)
{
	int err = nw_cfg_get_string(c, v, path, false, out);

	if (err)
		return err;
	if (strlen(*out) > 63)
		return nw_cfg_fail(c, path, "\"%s\" is longer than 63 bytes", *out);
	if (strchr("*?[\\", (*out)[0]))
		return nw_cfg_fail(c, path,
				   "\"%s\" must begin with a literal name prefix such as \"wg\" "
				   "(it could match every interface)", *out);
	return 0;
}

static int string_array(struct nw_cfg_ctx *c, const cJSON *v, const char *path, size_t max,
			char **out, size_t *n,
			int (*one)(struct nw_cfg_ctx *, const cJSON *, const char *, char **))
{
	size_t i = 0;
	const cJSON *it;
	int err;

	if (!cJSON_IsArray(v))
		return nw_cfg_fail(c, path, "expected an array, got %s", nw_json_type_name(v));
	if ((size_t)cJSON_GetArraySize(v) > max)
		return nw_cfg_fail(c, path, "%d entries, at most %zu", cJSON_GetArraySize(v), max);
	cJSON_ArrayForEach(it, v) {
		char p[96];

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		out[i] = NULL;
		if ((err = one(c, it, p, &out[i]))) {
			free(out[i]);
			out[i] = NULL;
			return err;
		}
		i++;
		if (n)
			*n = i;
	}
	return 0;
}

static int plain_string(struct nw_cfg_ctx *c, const cJSON *v, const char *path, char **out)
{
	return nw_cfg_get_string(c, v, path, false, out);
}

static int parse_steps(struct nw_cfg_ctx *c, const cJSON *o, struct nw_recovery_cfg *r,
		       bool given[NW_STEP__MAX])
{
	const cJSON *it;
	int err;

	if ((err = nw_cfg_want_object(c, o, "recovery.steps")))
		return err;
	for (it = o->child; it; it = it->next) {
		char p[96];
		int s = nw_step_parse(it->string);

		snprintf(p, sizeof(p), "recovery.steps.%s", it->string);
		if (s < 0) {
			char names[256] = "";

			for (unsigned i = 0; i < NW_STEP__MAX; i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names),
					 "%s%s", i ? ", " : "", nw_step_name(i));
			return nw_cfg_fail(c, p, "unknown step (steps: %s)", names);
		}
		if (given[s])
			return nw_cfg_fail(c, p, "key given twice");
		given[s] = true;
		if ((err = nw_cfg_get_bool(c, it, p, &r->steps[s])))
			return err;
	}
	return 0;
}

/* recovery.kill_wildcard_owner and recovery.reboot: the opt-in steps by
 * their documented names; the same switch as in "steps". */
static int opt_in(struct nw_cfg_ctx *c, const cJSON *o, const char *key, unsigned step,
		  struct nw_recovery_cfg *r, const bool given[NW_STEP__MAX])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	char p[64];

	if (!v)
		return 0;
	snprintf(p, sizeof(p), "recovery.%s", key);
	if (given[step])
		return nw_cfg_fail(c, p, "also given as recovery.steps.%s: use one", key);
	return nw_cfg_get_bool(c, v, p, &r->steps[step]);
}

int nw_cfg_parse_recovery(struct nw_cfg_ctx *c, const cJSON *o, struct nw_cfg *cfg)
{
	static const char *const keys[] = { "enabled", "fail_threshold", "emergency_threshold",
					    "require", "main_interface", "vpn_interfaces", "steps",
					    "kill_wildcard_owner", "reboot", "reboot_after",
					    "max_reboots", "step_timeout_ms", "resolv_conf",
					    "dhcp_command", NULL };
	struct nw_recovery_cfg *r = &cfg->recovery;
	bool given[NW_STEP__MAX] = { false };
	const cJSON *v;
	size_t n = 0;
	int err;

	if (cJSON_IsNull(o))
		return 0;
	if ((err = nw_cfg_want_object(c, o, "recovery")) ||
	    (err = nw_cfg_check_keys(c, o, "recovery", keys)))
		return err;
	r->enabled = true;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "enabled")) &&
	    (err = nw_cfg_get_bool(c, v, "recovery.enabled", &r->enabled)))
		return err;
	if ((err = nw_cfg_get_section_u32(c, o, "recovery", "fail_threshold", 1, 1000,
					  &r->fail_threshold)) ||
	    (err = nw_cfg_get_section_u32(c, o, "recovery", "emergency_threshold", 1, 1000,
					  &r->emergency_threshold)) ||
	    (err = nw_cfg_get_section_u32(c, o, "recovery", "reboot_after", 1, 100,
					  &r->reboot_after)) ||
	    (err = nw_cfg_get_section_u32(c, o, "recovery", "max_reboots", 0, 24,
					  &r->max_reboots)) ||
	    (err = nw_cfg_get_section_u32(c, o, "recovery", "step_timeout_ms", 100, 600000,
					  &r->step_timeout_ms)))
		return err;
	if (r->emergency_threshold < r->fail_threshold)
		return nw_cfg_fail(c, "recovery.emergency_threshold",
				   "%u is below fail_threshold (%u)", r->emergency_threshold,
				   r->fail_threshold);
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "require"))) {
		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "any") && strcmp(v->valuestring, "all")))
			return nw_cfg_fail(c, "recovery.require", "expected \"any\" or \"all\"");
		r->require_all = !strcmp(v->valuestring, "all");
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "main_interface")) &&
	    (err = nw_cfg_get_dev(c, v, "recovery.main_interface", r->main_interface)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "vpn_interfaces")) &&
	    (err = string_array(c, v, "recovery.vpn_interfaces", NW_RECOVERY_PATTERNS_MAX,
				r->vpn_interfaces, &r->n_vpn_interfaces, vpn_pattern)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "steps")) &&
	    (err = parse_steps(c, v, r, given)))
		return err;
	if ((err = opt_in(c, o, "kill_wildcard_owner", NW_STEP_KILL_WILDCARD_OWNER, r, given)) ||
	    (err = opt_in(c, o, "reboot", NW_STEP_REBOOT, r, given)))
		return err;
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "resolv_conf"))) {
		if ((err = nw_cfg_get_string(c, v, "recovery.resolv_conf", false, &r->resolv_conf)))
			return err;
		if (r->resolv_conf[0] != '/')
			return nw_cfg_fail(c, "recovery.resolv_conf", "\"%s\" is not an absolute path",
					   r->resolv_conf);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(o, "dhcp_command"))) {
		if ((err = string_array(c, v, "recovery.dhcp_command", NW_RECOVERY_ARGV_MAX,
					r->dhcp_command, &n, plain_string)))
			return err;
		if (!n)
			return nw_cfg_fail(c, "recovery.dhcp_command",
					   "empty (leave it out to use only networkd/NetworkManager)");
		if (r->dhcp_command[0][0] != '/')
			return nw_cfg_fail(c, "recovery.dhcp_command[0]",
					   "\"%s\" is not an absolute path", r->dhcp_command[0]);
	}
	return 0;
}
