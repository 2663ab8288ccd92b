/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The "counters" map: one per-CPU record of named counters, so that
 * `bpftool map dump pinned <pin-dir>/counters` prints field names. Later
 * features take their fields out of _reserved; the record's size stays, so
 * a pinned map survives upgrades.
 */
#ifndef NETWARD_COUNTERS_H
#define NETWARD_COUNTERS_H

#include "netward/types.h"

#define NW_COUNTERS_SLOTS 64

struct nw_counters {
	__u64 bind_wildcard;	/* wildcard binds seen by cgroup/bind4+6 */
	__u64 bind_allowed;
	__u64 bind_audited;
	__u64 bind_denied;
	__u64 bind_rewritten;
	__u64 listen_autobind;	/* listen() without bind() on the wildcard */
	__u64 listen_killed;	/* ... answered with SIGKILL */
	__u64 dry_run;		/* actions downgraded to audit by dry-run */
	__u64 other_netns;	/* ignored: another network namespace */
	__u64 events_lost;	/* ring buffer full: event dropped */
	__u64 rtnl_requests;	/* rtnetlink write requests seen (sendmsg/sendto/sendmmsg) */
	__u64 rtnl_route_del;	/* ... of them RTM_DELROUTE */
	__u64 rtnl_rule_changes;	/* ... RTM_NEWRULE / RTM_DELRULE */
	__u64 rtnl_truncated;	/* batches with more messages than were parsed */
	__u64 fib_lookup_fail;	/* fib/fib6 lookups that found no route (any table) */
	__u64 no_route_main;	/* ... in the main table, global destinations */
	__u64 quarantine_kills;	/* writers in quarantined cgroups sent SIGKILL */
	__u64 quarantine_denied;	/* ... refused with EPERM (lsm/netlink_send) */
	__u64 _reserved[NW_COUNTERS_SLOTS - 18];
};

_Static_assert(sizeof(struct nw_counters) == NW_COUNTERS_SLOTS * 8,
	       "nw_counters is ABI: its size must not change");

#endif
