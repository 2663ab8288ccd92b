/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The event ABI between the kernel side and netwardd: every record in the
 * "events" ring buffer starts with struct nw_event_hdr. Fields are fixed
 * width with explicit padding; sizes are checked on both sides.
 */
#ifndef NETWARD_EVENT_H
#define NETWARD_EVENT_H

#include "netward/types.h"

#define NW_EVENT_VERSION 1
/* size of the "events" ring buffer */
#define NW_EVENTS_BYTES (256 * 1024)
#define NW_COMM_LEN 16

/* One enum for every event netward emits, kernel-made or not. The names in
 * user/event_names.c must follow this order. Append only. */
enum nw_event_type {
	NW_EV_NONE = 0,
	NW_EV_BIND_AUDIT,
	NW_EV_BIND_DENIED,
	NW_EV_BIND_REWRITTEN,
	NW_EV_WILDCARD_LISTENER,
	NW_EV_ROUTE_DELETED,
	NW_EV_ROUTE_RESTORED,
	NW_EV_ROUTE_RESTORE_FAILED,
	NW_EV_RULE_ADDED,
	NW_EV_RULE_DELETED,
	NW_EV_RULE_STORM,
	NW_EV_NO_ROUTE,
	NW_EV_LINK_DOWN,
	NW_EV_PROBE_FAILED,
	NW_EV_PROBE_OK,
	NW_EV_RECOVERY_STEP,
	NW_EV_TUNNEL_STATE,
	NW_EV_UNIT_STARTED,
	NW_EV_UNIT_STOPPED,
	NW_EV_SEGW_DOWN,
	NW_EV_SEGW_FAILOVER,
	NW_EV_SEGW_RETRY_EXHAUSTED,
	NW_EV_QUARANTINED,
	NW_EV_DAEMON,		/* netwardd's own life cycle: start, reload, stop */
	NW_EV_RTNL_REQUEST,	/* kernel -> netwardd only: an rtnetlink write request */
	NW_EV_ROUTE_FLAPPING,	/* a protected route is deleted again and again */
	NW_EV_NO_ROUTE_RAW,	/* kernel -> netwardd only: lookup failure sample */
	NW_EV_CGROUP_CHANGE,	/* kernel -> netwardd only: a cgroup2 dir made or removed */
	NW_EV_RULE_RESTORED,
	NW_EV_RULE_RESTORE_FAILED,
	NW_EV_RULE_FLAPPING,
	NW_EV_CONNECTIVITY_LOST,	/* the probes say the host is offline */
	NW_EV_CONNECTIVITY_RESTORED,	/* ... and back (down_ms, level reached) */
	NW_EV_RECOVERY_FAILED,		/* a climb through L3 left the host offline */
	NW_EV_SEGW_UP,			/* a SEGW connection's IKE SA is up (at which gateway) */
	NW_EV_EVENTS_LOST,		/* the kernel dropped events: the ring buffer was full */
	NW_EV__MAX,
};

/* nw_event_hdr.flags */
#define NW_EVF_DRY_RUN	(1u << 0)	/* the policy asked for more; dry-run only audited */
#define NW_EVF_V4MAPPED	(1u << 1)	/* an AF_INET6 socket bound ::ffff:0.0.0.0 */
#define NW_EVF_AUTOBIND	(1u << 2)	/* listen() without bind() took the wildcard */
#define NW_EVF_SCAN	(1u << 3)	/* found by the start-up scan, not by a hook */

struct nw_event_hdr {
	__u16 type;		/* enum nw_event_type */
	__u8  version;		/* NW_EVENT_VERSION */
	__u8  flags;		/* NW_EVF_* */
	__u32 size;		/* of the whole record */
	__u64 ts_ns;		/* CLOCK_BOOTTIME */
	__u32 pid;		/* thread id */
	__u32 tgid;		/* process id */
	__u32 uid;
	__u32 netns;		/* network namespace inode */
	__u64 cgroup_id;	/* cgroup2 id of the actor */
	char  comm[NW_COMM_LEN];
};

#define NW_EVENT_HDR_SIZE 56
_Static_assert(sizeof(struct nw_event_hdr) == NW_EVENT_HDR_SIZE,
	       "nw_event_hdr is ABI: its size must not change");

#endif
