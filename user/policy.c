// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "policy.h"
#include "util.h"

static const char *const action_names[NW_ACT__MAX] = {
	[NW_ACT_NONE] = "none",     [NW_ACT_ALLOW] = "allow",   [NW_ACT_AUDIT] = "audit",
	[NW_ACT_DENY] = "deny",     [NW_ACT_REWRITE] = "rewrite", [NW_ACT_KILL] = "kill",
};

const char *nw_action_name(unsigned action)
{
	return action < NW_ACT__MAX ? action_names[action] : "?";
}

int nw_action_parse(const char *name)
{
	for (unsigned i = NW_ACT_ALLOW; i < NW_ACT__MAX; i++)
		if (!strcmp(name, action_names[i]))
			return (int)i;
	return -EINVAL;
}

const char *nw_proto_name(unsigned proto)
{
	switch (proto) {
	case NW_PROTO_TCP: return "tcp";
	case NW_PROTO_UDP: return "udp";
	case 0: return "any";
	default: return "?";
	}
}

int nw_proto_parse(const char *name)
{
	if (!strcmp(name, "tcp"))
		return NW_PROTO_TCP;
	if (!strcmp(name, "udp"))
		return NW_PROTO_UDP;
	if (!strcmp(name, "any"))
		return 0;
	return -EINVAL;
}

const char *nw_origin_name(unsigned origin)
{
	switch (origin) {
	case NW_ORIGIN_CONFIG: return "config";
	case NW_ORIGIN_CLI: return "cli";
	default: return "?";
	}
}

const char *nw_match_name(unsigned match)
{
	static const char *const names[] = {
		[NW_MATCH_DEFAULT] = "default", [NW_MATCH_ANY] = "any",
		[NW_MATCH_ANY_PORT] = "port", [NW_MATCH_CGROUP] = "cgroup",
		[NW_MATCH_CGROUP_PORT] = "cgroup+port",
	};
	return match < NW_ARRAY_SIZE(names) ? names[match] : "?";
}

int nw_policy_expand(const struct nw_bind_rule_spec *spec, struct nw_bind_key keys[4])
{
	static const uint8_t protos[] = { NW_PROTO_TCP, NW_PROTO_UDP };
	static const uint8_t fams[] = { 4, 6 };
	int n = 0;

	for (size_t p = 0; p < 2; p++) {
		if (spec->proto && spec->proto != protos[p])
			continue;
		for (size_t f = 0; f < 2; f++) {
			if (spec->family && spec->family != fams[f])
				continue;
			memset(&keys[n], 0, sizeof(keys[n]));
			keys[n].cgroup_id = spec->cgroup_id;
			keys[n].port = spec->port;
			keys[n].proto = protos[p];
			keys[n].family = fams[f];
			n++;
		}
	}
	return n;
}

static int key_in(const struct nw_bind_key *k, const struct nw_bind_key *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(k, &set[i], sizeof(*k)))
			return 1;
	return 0;
}

/* Rewrites the hint entry from what the map holds now (see NW_BIND_HINT_ID). */
static int update_hint(int map_fd)
{
	struct nw_bind_key key, next, hkey = { .cgroup_id = NW_BIND_HINT_ID };
	struct nw_bind_rule hint = { .origin = NW_ORIGIN_HINT };

	if (bpf_map_get_next_key(map_fd, NULL, &next) == 0) {
		do {
			key = next;
			if (key.cgroup_id == NW_BIND_HINT_ID)
				continue;
			hint.action |= key.cgroup_id ? NW_HINT_CGROUP : NW_HINT_ANY;
		} while (bpf_map_get_next_key(map_fd, &key, &next) == 0);
	}
	if (bpf_map_update_elem(map_fd, &hkey, &hint, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int nw_policy_is_hint(const struct nw_bind_key *key)
{
	return key->cgroup_id == NW_BIND_HINT_ID;
}

int nw_policy_sync(int map_fd, const struct nw_bind_rule_spec *rules, size_t n)
{
	struct nw_bind_key *want = NULL, *stale = NULL, key, next;
	uint8_t *acts = NULL;
	size_t nwant = 0, nstale = 0;
	int err = 0;

	want = calloc(n * 4 + 1, sizeof(*want));
	acts = calloc(n * 4 + 1, 1);
	stale = calloc(NW_BIND_POLICY_MAX, sizeof(*stale));
	if (!want || !acts || !stale) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		int k = nw_policy_expand(&rules[i], &want[nwant]);

		/* a later rule for the same key replaces an earlier one */
		for (int j = 0; j < k; j++)
			acts[nwant + j] = rules[i].action;
		nwant += (size_t)k;
	}

	/* config entries no longer wanted */
	if (bpf_map_get_next_key(map_fd, NULL, &next) == 0) {
		do {
			struct nw_bind_rule r;

			key = next;
			if (bpf_map_lookup_elem(map_fd, &key, &r) == 0 &&
			    r.origin == NW_ORIGIN_CONFIG && !key_in(&key, want, nwant) &&
			    nstale < NW_BIND_POLICY_MAX)
				stale[nstale++] = key;
		} while (bpf_map_get_next_key(map_fd, &key, &next) == 0);
	}
	for (size_t i = 0; i < nstale; i++)
		bpf_map_delete_elem(map_fd, &stale[i]);

	for (size_t i = 0; i < nwant; i++) {
		struct nw_bind_rule cur, r = { .action = acts[i], .origin = NW_ORIGIN_CONFIG };

		if (bpf_map_lookup_elem(map_fd, &want[i], &cur) == 0 &&
		    cur.origin != NW_ORIGIN_CONFIG)
			continue;	/* a live netwardctl entry wins */
		if (bpf_map_update_elem(map_fd, &want[i], &r, BPF_ANY) < 0) {
			err = -errno;
			goto cleanup;
		}
	}
	err = update_hint(map_fd);
cleanup:
	free(want);
	free(acts);
	free(stale);
	return err;
}

int nw_policy_add(int map_fd, const struct nw_bind_rule_spec *spec, uint8_t origin)
{
	struct nw_bind_key keys[4];
	struct nw_bind_rule r = { .action = spec->action, .origin = origin };
	int n = nw_policy_expand(spec, keys);

	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(map_fd, &keys[i], &r, BPF_ANY) < 0)
			return -errno;
	return update_hint(map_fd);
}

int nw_policy_del(int map_fd, const struct nw_bind_rule_spec *spec)
{
	struct nw_bind_key keys[4];
	int n = nw_policy_expand(spec, keys), deleted = 0;

	for (int i = 0; i < n; i++) {
		if (bpf_map_delete_elem(map_fd, &keys[i]) == 0)
			deleted++;
		else if (errno != ENOENT)
			return -errno;
	}
	if (deleted) {
		int err = update_hint(map_fd);

		if (err)
			return err;
	}
	return deleted;
}
