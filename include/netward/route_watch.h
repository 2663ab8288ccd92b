/* SPDX-License-Identifier: GPL-2.0-only */
/* What bpf/route_watch.bpf.c and user/route_watch.c share: rtnetlink write
 * requests seen at syscall entry, with their actor, and routing-lookup
 * failures seen in the fib tracepoints. */
#ifndef NETWARD_ROUTE_WATCH_H
#define NETWARD_ROUTE_WATCH_H

#include "netward/types.h"
#include "netward/event.h"

/* nw_rtnl_request.syscall */
enum nw_rtnl_syscall {
	NW_SYS_SENDMSG = 1,
	NW_SYS_SENDTO = 2,
	NW_SYS_SENDMMSG = 3,
};

/* Messages parsed per syscall: a batch of more is counted in
 * counters.rtnl_truncated and nw_rtnl_request.more is set. */
#define NW_RTNL_MAX_MSGS 4
/* Attributes scanned per message looking for table, priority, dst, ... */
#define NW_RTNL_MAX_ATTRS 12

/* One rtnetlink write request (RTM_NEW/DEL ROUTE, RULE, LINK, ADDR), emitted
 * from syscall entry: before the kernel acts on it. Type NW_EV_RTNL_REQUEST. */
struct nw_rtnl_request {
	struct nw_event_hdr hdr;
	__u16 nlmsg_type;	/* RTM_* */
	__u16 nlmsg_flags;	/* NLM_F_* */
	__u32 nlmsg_seq;
	__u8  family;		/* AF_INET, AF_INET6, AF_UNSPEC ... */
	__u8  dst_len;		/* rtm_dst_len / fib rule dst_len / ifa_prefixlen */
	__u8  src_len;
	__u8  protocol;		/* rtm_protocol / fib rule proto */
	__u8  scope;
	__u8  rtm_type;		/* rtm_type / fib rule action */
	__u8  syscall;		/* enum nw_rtnl_syscall */
	__u8  index;		/* position of this message in its batch */
	__u8  more;		/* 1: the batch held more than NW_RTNL_MAX_MSGS */
	__u8  quarantined;	/* NW_QUARANTINE_*: the actor's cgroup is quarantined */
	__u8  _pad0[6];
	__u32 table;		/* RTA_TABLE / FRA_TABLE, else the header's table */
	__u32 priority;		/* RTA_PRIORITY (metric) / FRA_PRIORITY */
	__s32 ifindex;		/* RTA_OIF / ifi_index / ifa_index */
	__u32 ifflags;		/* ifi_flags / ifa_flags */
	__u32 ifchange;		/* ifi_change */
	__u32 fwmark;		/* FRA_FWMARK */
	__u32 uid_start;	/* FRA_UID_RANGE, or ~0 when absent */
	__u32 uid_end;
	__u8  dst[16];		/* RTA_DST / FRA_DST / IFA_LOCAL|IFA_ADDRESS */
	__u8  gateway[16];	/* RTA_GATEWAY */
};

/* A main-table routing lookup for a locally made packet that found no
 * route, sampled (rate-limited in the kernel to one per
 * NW_NO_ROUTE_INTERVAL_NS). Type NW_EV_NO_ROUTE_RAW. */
struct nw_no_route {
	struct nw_event_hdr hdr;
	__u32 table;
	__s32 err;
	__u8  family;
	__u8  _pad0[7];
	__u8  dst[16];
	__u64 failures;		/* lookups failed in this table so far */
};

/* quarantine map: cgroup id -> NW_QUAR_* flags. A write request (NEW*, DEL*,
 * SET*) from a task in a quarantined cgroup or below it is answered with
 * SIGKILL in the kernel (the request itself still runs: netwardd reverts it),
 * or refused with EPERM where lsm/netlink_send is available. */
#define NW_QUAR_ACTIVE	(1u << 0)
#define NW_QUAR_AUTO	(1u << 1)	/* set by rules.auto_quarantine */
#define NW_QUARANTINE_MAX 1024

/* nw_rtnl_request.quarantined */
#define NW_QUARANTINE_KILLED	1	/* sent SIGKILL: netwardd reverts what it did */
#define NW_QUARANTINE_DENIED	2	/* refused with EPERM by lsm/netlink_send */
#define NW_QUARANTINE_WOULD_KILL 3	/* --dry-run: not killed, only reported */

/* churn map: per cgroup, rtnetlink write requests by kind, all time (LRU) */
struct nw_churn {
	__u64 route;
	__u64 rule;
	__u64 link;
	__u64 addr;
	__u64 last_ns;		/* CLOCK_BOOTTIME of the latest */
};
#define NW_CHURN_MAX 4096

#define NW_NO_ROUTE_INTERVAL_NS 1000000000ull
#define NW_FIB_FAIL_TABLES 256

_Static_assert(sizeof(struct nw_rtnl_request) == NW_EVENT_HDR_SIZE + 88,
	       "nw_rtnl_request is ABI");
_Static_assert(sizeof(struct nw_no_route) == NW_EVENT_HDR_SIZE + 40,
	       "nw_no_route is ABI");

#endif
