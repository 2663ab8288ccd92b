/* SPDX-License-Identifier: GPL-2.0-only */
/* Loads bpf/bind_guard.bpf.c, attaches it to one cgroup, keeps its policy. */
#ifndef NETWARD_USER_BIND_GUARD_H
#define NETWARD_USER_BIND_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "netward/config.h"
#include "policy.h"

struct nw_bind_guard;

/* Opens the skeleton and loads it, reusing maps pinned in pin_dir. */
int nw_bind_guard_load(struct nw_bind_guard **out, const char *pin_dir);
/* Attaches (or adopts) cgroup/bind4, cgroup/bind6 on cgroup_dir and the
 * listen tracepoint. Moving to another cgroup attaches there first. */
int nw_bind_guard_attach(struct nw_bind_guard *g, const char *cgroup_dir);
/* Writes run-time settings and the config's rules. */
int nw_bind_guard_configure(struct nw_bind_guard *g, const struct nw_config *kcfg,
			    const struct nw_bind_rule_spec *rules, size_t n);
/* Writes the config's rules again (cgroup ids changed). */
int nw_bind_guard_sync_rules(struct nw_bind_guard *g, const struct nw_bind_rule_spec *rules,
			     size_t n);
int nw_bind_guard_events_fd(const struct nw_bind_guard *g);
int nw_bind_guard_counters_fd(const struct nw_bind_guard *g);
/* {"cgroup":..., "programs":[{"name","hook","how","prog_id","link_id"}]} */
void nw_bind_guard_status(const struct nw_bind_guard *g, cJSON *out);
/* True when a link pinned by an earlier instance was adopted. */
bool nw_bind_guard_adopted(const struct nw_bind_guard *g);
/* detach: unpin and detach links and maps; otherwise enforcement stays. */
void nw_bind_guard_destroy(struct nw_bind_guard *g, bool detach);

#endif
