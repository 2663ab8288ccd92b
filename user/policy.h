/* SPDX-License-Identifier: GPL-2.0-only */
/* Bind policy: names, rule expansion and the pinned bind_policy map,
 * shared by netwardd and netwardctl. */
#ifndef NETWARD_POLICY_H
#define NETWARD_POLICY_H

#include <stdint.h>
#include "netward/bind_guard.h"

const char *nw_action_name(unsigned action);
int nw_action_parse(const char *name);	/* enum nw_action or -EINVAL */
const char *nw_proto_name(unsigned proto);
int nw_proto_parse(const char *name);	/* 6, 17, 0 for "any", -EINVAL */
const char *nw_origin_name(unsigned origin);
const char *nw_match_name(unsigned match);

/* A rule as written by a user: 0 means any for cgroup_id, port, proto and
 * family. */
struct nw_bind_rule_spec {
	uint64_t cgroup_id;
	uint16_t port;
	uint8_t proto;
	uint8_t family;
	uint8_t action;
};

/* Expands "any" proto/family into the concrete keys the kernel looks up.
 * Returns the number of keys written (1..4). */
int nw_policy_expand(const struct nw_bind_rule_spec *spec, struct nw_bind_key keys[4]);

/* Makes the map's entries of origin NW_ORIGIN_CONFIG exactly these rules;
 * entries of other origins are left as they are and win over config. */
int nw_policy_sync(int map_fd, const struct nw_bind_rule_spec *rules, size_t n);

/* The map's hint entry (not a rule: skip it when listing). */
int nw_policy_is_hint(const struct nw_bind_key *key);

int nw_policy_add(int map_fd, const struct nw_bind_rule_spec *spec, uint8_t origin);
/* Deletes the keys of spec; returns the number deleted or -errno. */
int nw_policy_del(int map_fd, const struct nw_bind_rule_spec *spec);

#endif
