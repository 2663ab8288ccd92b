/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Small rtnetlink helpers on libmnl: a parsed route that keeps everything
 * needed to put it back exactly, the RTM_NEWROUTE that does so, the kernel's
 * idea of which routes are "the same", dumps, and one request at a time on a
 * dedicated socket with a bounded wait for its ACK.
 */
#ifndef NETWARD_RTNL_H
#define NETWARD_RTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/netlink.h>

#define NW_RT_MAX_NH 32		/* nexthops of one multipath route */
#define NW_RT_METRICS_MAX 256	/* bytes of RTA_METRICS payload kept */
#define NW_RTNL_MSG_MAX 8192	/* one request we build */

struct nw_rt_nh {
	uint8_t gw_family;	/* AF_INET / AF_INET6 gateway, 0 = none */
	bool via;		/* the gateway is an RTA_VIA (IPv4 route, IPv6 gateway) */
	uint8_t flags;		/* rtnh_flags (RTNH_F_*) as the kernel reported them */
	uint8_t hops;		/* rtnh_hops: weight - 1 */
	int ifindex;		/* 0 = none */
	uint32_t flow;		/* RTA_FLOW (IPv4 realms), 0 = none */
	uint8_t gateway[16];
};

/* One route as rtnetlink describes it. A single-path route keeps its
 * gateway/oif in nh[0] (n_nh = 1, multipath = false); blackhole and the
 * like have n_nh = 0. */
struct nw_rt {
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t dst_len, src_len, tos;
	uint8_t protocol, scope, type;
	bool multipath;		/* the nexthops came as RTA_MULTIPATH */
	bool has_prefsrc, has_pref;
	uint8_t pref;		/* RTA_PREF: IPv6 router preference */
	uint32_t flags;		/* rtm_flags */
	uint32_t table;		/* RTA_TABLE, else rtm_table */
	uint32_t priority;	/* RTA_PRIORITY: the metric (0 when absent) */
	uint32_t nh_id;		/* RTA_NH_ID: uses a nexthop object, 0 = none */
	uint32_t expires_s;	/* remaining lifetime (IPv6 RA routes), 0 = permanent */
	uint8_t dst[16], src[16], prefsrc[16];
	uint16_t n_nh;
	uint16_t metrics_len;	/* RTA_METRICS payload, copied as is */
	struct nw_rt_nh nh[NW_RT_MAX_NH];
	uint8_t metrics[NW_RT_METRICS_MAX];
};

/* One routing-policy rule as rtnetlink describes it (struct fib_rule_hdr
 * and FRA_* attributes): everything needed to put it back exactly. */
struct nw_rule {
	uint8_t family;		/* AF_INET, AF_INET6 */
	uint8_t action;		/* FR_ACT_TO_TBL (lookup), FR_ACT_GOTO, FR_ACT_NOP,
				 * FR_ACT_BLACKHOLE, FR_ACT_UNREACHABLE, FR_ACT_PROHIBIT */
	uint8_t dst_len, src_len;
	uint8_t tos;		/* fib_rule_hdr.tos: IPv4 TOS, IPv6 traffic class */
	uint8_t protocol;	/* FRA_PROTOCOL: who made it ("kernel" for the defaults) */
	uint8_t l3mdev;		/* FRA_L3MDEV */
	uint8_t ip_proto;	/* FRA_IP_PROTO, 0 = any */
	uint32_t flags;		/* fib_rule_hdr.flags as reported (FIB_RULE_INVERT, and
				 * kernel-owned ones: unresolved, iif/oif detached) */
	uint32_t table;		/* FRA_TABLE, else the header's table */
	uint32_t priority;	/* FRA_PRIORITY: preference (absent = 0, the local rule) */
	uint32_t fwmark, fwmask;	/* FRA_FWMARK, FRA_FWMASK */
	uint32_t goto_target;	/* FRA_GOTO */
	uint32_t flow;		/* FRA_FLOW: IPv4 realms */
	uint64_t tun_id;	/* FRA_TUN_ID, as it travels (big endian) */
	uint32_t suppress_prefixlen;	/* FRA_SUPPRESS_PREFIXLEN, NW_RULE_NONE = none */
	uint32_t suppress_ifgroup;	/* FRA_SUPPRESS_IFGROUP, NW_RULE_NONE = none */
	bool has_uid_range;	/* FRA_UID_RANGE (0-4294967295 counts as none) */
	uint32_t uid_start, uid_end;
	uint16_t sport_start, sport_end, sport_mask;	/* FRA_SPORT_RANGE/_MASK, 0 = any */
	uint16_t dport_start, dport_end, dport_mask;
	bool has_dscp, has_dscp_mask, has_flowlabel;	/* newer kernels (6.12+) */
	uint8_t dscp, dscp_mask;
	uint32_t flowlabel, flowlabel_mask;	/* as they travel (big endian) */
	uint8_t src[16], dst[16];
	char iifname[IF_NAMESIZE], oifname[IF_NAMESIZE];	/* "" = any */
};

#define NW_RULE_NONE 0xffffffffu	/* suppress_prefixlen / suppress_ifgroup unset (-1) */

struct nw_link {
	int ifindex;
	unsigned flags;		/* IFF_* */
	char name[IF_NAMESIZE];
};

/* Like mnl_nlmsg_ok, with the length taken as unsigned: libmnl 1.0.4
 * compares (int)nlmsg_len, so a length of 2 GiB or more passes it and
 * mnl_nlmsg_next jumps off the buffer (found by fuzzing). */
static inline bool nw_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned)len;
}

/* RTM_NEWROUTE/RTM_DELROUTE -> rt. -EBADMSG malformed, -EAFNOSUPPORT not
 * IPv4/IPv6, -E2BIG too many nexthops or metrics, -EOPNOTSUPP a route netward
 * cannot rebuild (lightweight tunnel encapsulation). */
int nw_rt_parse(const struct nlmsghdr *nlh, struct nw_rt *rt);

/* Builds a request of `type` (RTM_NEWROUTE, RTM_DELROUTE) for rt into buf:
 * same table, protocol, scope, type, metric, nexthops, preferred source,
 * metrics and preference. Kernel-owned flags (dead, linkdown, offload) are
 * left out: the kernel refuses them. NULL when buf is too small. Restores
 * use NLM_F_CREATE | NLM_F_EXCL so that a route somebody else re-added in
 * the meantime is never overwritten (EEXIST: already back). */
struct nlmsghdr *nw_rt_build(const struct nw_rt *rt, void *buf, size_t size, uint16_t type,
			     uint16_t flags, uint32_t seq);

/* The kernel's identity of a route: what makes NLM_F_EXCL answer EEXIST.
 * IPv4: table, dst/len, tos, priority. IPv6: table, dst/len, src/len,
 * priority (routes that differ only by gateway are nexthops of one route). */
bool nw_rt_same_key(const struct nw_rt *a, const struct nw_rt *b);
/* Same key and the same route a restore would create: protocol, scope,
 * type, preferred source, nexthop object, and the same set of nexthops
 * (gateway, device, weight; order and kernel-owned flags ignored). */
bool nw_rt_equal(const struct nw_rt *a, const struct nw_rt *b);
bool nw_rt_nh_equal(const struct nw_rt_nh *a, const struct nw_rt_nh *b);
/* rt has a nexthop equal to nh */
bool nw_rt_has_nh(const struct nw_rt *rt, const struct nw_rt_nh *nh);
/* the first len bits of a and b are equal */
bool nw_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned len);

/* "default", "10.9.0.0/16", "2001:db8::/32", "10.1.2.3/32" */
void nw_rt_dst_str(const struct nw_rt *rt, char *buf, size_t size);
void nw_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t size);
/* "main", "local", "default", else the number */
const char *nw_rt_table_name(uint32_t table, char buf[12]);
/* iproute2's names: "kernel", "boot", "static", "dhcp", "ra", ... else the number */
const char *nw_rt_proto_name(uint8_t proto, char buf[4]);

/* RTM_NEWRULE/RTM_DELRULE -> r. -EBADMSG malformed, -EAFNOSUPPORT not
 * IPv4/IPv6 (multicast routing rules, ...). Unknown attributes are ignored. */
int nw_rule_parse(const struct nlmsghdr *nlh, struct nw_rule *r);

/* Builds a request of `type` (RTM_NEWRULE, RTM_DELRULE) for r into buf:
 * every selector, the action and its target, the priority (always, so the
 * kernel picks none itself), the protocol. Kernel-owned flags (unresolved,
 * detached) are left out. NULL when buf is too small. Restores use
 * NLM_F_CREATE | NLM_F_EXCL: a rule with r's key somebody else re-added in
 * the meantime answers EEXIST (already back). */
struct nlmsghdr *nw_rule_build(const struct nw_rule *r, void *buf, size_t size, uint16_t type,
			       uint16_t flags, uint32_t seq);

/* The kernel's identity of a rule, what rule_exists() compares before
 * NLM_F_EXCL answers EEXIST: family, action, table, priority, selectors
 * (prefixes, tos/dscp, fwmark/mask, iif, oif, l3mdev, uid range, ip proto,
 * ports, realms, tunnel id, flow label) and suppressors. Not the protocol,
 * the invert flag or the goto target. */
bool nw_rule_same_key(const struct nw_rule *a, const struct nw_rule *b);
/* Same key and the same rule a restore would create: also the protocol,
 * the invert flag and the goto target. */
bool nw_rule_equal(const struct nw_rule *a, const struct nw_rule *b);

/* The selector and action the way `ip rule` prints them, without the
 * priority: "from all lookup main", "not from 10.0.0.0/8 fwmark 0x1/0xff
 * iif eth0 uidrange 1000-1000 lookup 100", "from all goto 32000". */
void nw_rule_str(const struct nw_rule *r, char *buf, size_t size);
/* "lookup", "goto", "nop", "blackhole", "unreachable", "prohibit", else the number */
const char *nw_rule_action_name(uint8_t action, char buf[4]);

/* RTM_NEWLINK/RTM_DELLINK -> l. -EBADMSG malformed. */
int nw_link_parse(const struct nlmsghdr *nlh, struct nw_link *l);

/* A NETLINK_ROUTE socket for requests and dumps, never subscribed to
 * groups: blocking, but every wait is bounded by poll(). */
struct nw_rtnl;

int nw_rtnl_open(struct nw_rtnl **out);
void nw_rtnl_close(struct nw_rtnl *s);

/* Sends nlh with NLM_F_ACK and waits at most timeout_ms for its ACK.
 * Replies to earlier requests that timed out are skipped by sequence
 * number. 0, the kernel's -errno (-EEXIST, -ENETUNREACH ...), or
 * -ETIMEDOUT. ext (may be NULL) receives the kernel's extended ACK text,
 * "Nexthop device is not up", or "". */
int nw_rtnl_request(struct nw_rtnl *s, struct nlmsghdr *nlh, int timeout_ms, char *ext,
		    size_t extlen);

/* cb for each message of a dump; a negative return stops the dump (the
 * rest is read and dropped) and is returned. */
typedef int (*nw_rtnl_dump_cb)(const struct nlmsghdr *nlh, void *data);

/* Sends a dump request (NLM_F_DUMP added) and feeds the answer to cb,
 * bounded by timeout_ms in all: 0, -ETIMEDOUT, the kernel's -errno, or
 * cb's. A dump the kernel marked interrupted (NLM_F_DUMP_INTR: the tables
 * changed meanwhile) is read to its end and answered -EINTR: what cb saw
 * may be inconsistent, the caller starts again. */
int nw_rtnl_dump(struct nw_rtnl *s, struct nlmsghdr *req, int timeout_ms, nw_rtnl_dump_cb cb,
		 void *data);
/* Routes of family (AF_INET, AF_INET6); table 0 = all tables, else the
 * kernel filters (strict checking) or the callback sees all of them. */
int nw_rtnl_dump_routes(struct nw_rtnl *s, uint8_t family, uint32_t table, int timeout_ms,
			nw_rtnl_dump_cb cb, void *data);
int nw_rtnl_dump_links(struct nw_rtnl *s, int timeout_ms, nw_rtnl_dump_cb cb, void *data);
/* Routing-policy rules of family (AF_INET, AF_INET6). */
int nw_rtnl_dump_rules(struct nw_rtnl *s, uint8_t family, int timeout_ms, nw_rtnl_dump_cb cb,
		       void *data);

/* ifindex <-> name in this network namespace: 0 or -errno (-ENODEV). */
int nw_ifname(int ifindex, char name[IF_NAMESIZE]);
int nw_ifindex(const char *name);	/* > 0, or -ENODEV */

#endif
