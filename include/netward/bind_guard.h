/* SPDX-License-Identifier: GPL-2.0-only */
/* What bpf/bind_guard.bpf.c and user/bind_guard.c share. */
#ifndef NETWARD_BIND_GUARD_H
#define NETWARD_BIND_GUARD_H

#include "netward/types.h"
#include "netward/event.h"

enum nw_action {
	NW_ACT_NONE = 0,	/* no rule: fall through */
	NW_ACT_ALLOW,
	NW_ACT_AUDIT,		/* allow and report */
	NW_ACT_DENY,		/* bind() fails with EPERM */
	NW_ACT_REWRITE,		/* bind to 127.0.0.1 / ::1 on the same port */
	NW_ACT_KILL,		/* deny at bind(), SIGKILL at listen() autobind */
	NW_ACT__MAX,
};

/* Which rule decided (struct nw_bind_event.match) */
enum nw_match {
	NW_MATCH_DEFAULT = 0,	/* binds.default_action */
	NW_MATCH_ANY,		/* rule for any cgroup, any port */
	NW_MATCH_ANY_PORT,	/* rule for any cgroup, this port */
	NW_MATCH_CGROUP,	/* rule for the cgroup (or an ancestor), any port */
	NW_MATCH_CGROUP_PORT,	/* rule for the cgroup (or an ancestor), this port */
};

/* Origin of a bind_policy entry: the config file is re-synced on reload and
 * leaves netwardctl's entries alone. */
enum nw_origin {
	NW_ORIGIN_CONFIG = 1,
	NW_ORIGIN_CLI = 2,
};

/* The bind_policy entry with this cgroup_id (port, proto, family 0) is not a
 * rule: its action byte says which kinds of rules exist (NW_HINT_*), so the
 * programs skip lookups that cannot match. Kept by user/policy.c after every
 * change; when absent the programs look everything up. */
#define NW_BIND_HINT_ID 0xffffffffffffffffULL
#define NW_HINT_CGROUP	(1u << 0)	/* rules for a cgroup */
#define NW_HINT_ANY	(1u << 1)	/* rules for any cgroup */
#define NW_ORIGIN_HINT	3

#define NW_PROTO_TCP 6
#define NW_PROTO_UDP 17

/* bind_policy key. cgroup_id 0 = any cgroup, port 0 = any port. proto and
 * family are always concrete (user space expands "any"). family is the
 * wildcard's address family: 4 for 0.0.0.0 and ::ffff:0.0.0.0, 6 for ::. */
struct nw_bind_key {
	__u64 cgroup_id;
	__u16 port;		/* host order */
	__u8  proto;		/* NW_PROTO_TCP / NW_PROTO_UDP */
	__u8  family;		/* 4 or 6 */
	__u32 _pad;
};

struct nw_bind_rule {
	__u8  action;		/* enum nw_action */
	__u8  origin;		/* enum nw_origin */
	__u16 _pad0;
	__u32 _pad1;
};

#define NW_BIND_POLICY_MAX 4096
#define NW_CGROUP_MAX_DEPTH 16

struct nw_bind_event {
	struct nw_event_hdr hdr;
	__u64 rule_cgroup_id;	/* cgroup of the deciding rule, 0 = any/default */
	__u8  addr[16];		/* requested address (IPv4: first 4 bytes) */
	__u8  new_addr[16];	/* bound instead (rewrite) */
	__u16 port;		/* host order */
	__u8  family;		/* 4 or 6, as in nw_bind_key */
	__u8  sock_family;	/* AF_INET or AF_INET6 */
	__u8  proto;
	__u8  action;		/* what was done (enum nw_action) */
	__u8  policy;		/* what the policy asked for */
	__u8  match;		/* enum nw_match */
	__u64 sock_ino;		/* socket inode (autobind listens: to find the port) */
};

/* A cgroup2 directory was made or removed (NW_EV_CGROUP_CHANGE): rules name
 * cgroups by path and the kernel looks them up by id, which changes when a
 * service's cgroup is made anew. */
struct nw_cgroup_change {
	struct nw_event_hdr hdr;
	__u64 id;
	__u32 level;
	__u8  removed;
	__u8  _pad0[3];
};

_Static_assert(sizeof(struct nw_cgroup_change) == NW_EVENT_HDR_SIZE + 16, "nw_cgroup_change is ABI");
_Static_assert(sizeof(struct nw_bind_key) == 16, "nw_bind_key is ABI");
_Static_assert(sizeof(struct nw_bind_rule) == 8, "nw_bind_rule is ABI");
_Static_assert(sizeof(struct nw_bind_event) == NW_EVENT_HDR_SIZE + 56,
	       "nw_bind_event is ABI");

#endif
