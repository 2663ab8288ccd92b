// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink helpers on libmnl. Library-like: no logging, negative errno.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define RECV_BUF (64 * 1024)

/* rtm_flags / rtnh_flags a request may carry: the others (dead, linkdown,
 * offload, trap) are set by the kernel and refused in requests */
#define NH_FLAGS_KEEP RTNH_F_ONLINK

/* fib rule flags a request may carry: unresolved and iif/oif detached are
 * the kernel's report on the rule, not part of it */
#define RULE_FLAGS_KEEP (FIB_RULE_INVERT | FIB_RULE_FIND_SADDR)

/* FRA_* of kernels newer than some build hosts' headers (6.12-6.15), in
 * the order of linux/fib_rules.h */
enum {
	NW_FRA_DSCP = FRA_DPORT_RANGE + 1,
	NW_FRA_FLOWLABEL,
	NW_FRA_FLOWLABEL_MASK,
	NW_FRA_SPORT_MASK,
	NW_FRA_DPORT_MASK,
	NW_FRA_DSCP_MASK,
};

/* --- parsing ---------------------------------------------------------------- */

static size_t addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int get_addr(const struct nlattr *a, uint8_t family, uint8_t *out)
{
	size_t n = addr_len(family);

	if (!n || mnl_attr_get_payload_len(a) != n)
		return -EBADMSG;
	memcpy(out, mnl_attr_get_payload(a), n);
	return 0;
}

static int get_u32(const struct nlattr *a, uint32_t *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return -EBADMSG;
	*out = mnl_attr_get_u32(a);
	return 0;
}

/* RTA_VIA: struct rtvia { __kernel_sa_family_t family; __u8 addr[]; } */
static int get_via(const struct nlattr *a, struct nw_rt_nh *nh)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	uint16_t fam;
	size_t n;

	if (mnl_attr_get_payload_len(a) < sizeof(fam))
		return -EBADMSG;
	memcpy(&fam, p, sizeof(fam));
	n = addr_len((uint8_t)fam);
	if (!n || fam > 255 || mnl_attr_get_payload_len(a) != sizeof(fam) + n)
		return -EBADMSG;
	nh->gw_family = (uint8_t)fam;
	nh->via = true;
	memcpy(nh->gateway, p + sizeof(fam), n);
	return 0;
}

struct nh_ctx {
	struct nw_rt_nh *nh;
	uint8_t family;
	int err;
};

/* attributes inside one struct rtnexthop of RTA_MULTIPATH */
static int nh_attr_cb(const struct nlattr *a, void *data)
{
	struct nh_ctx *c = data;
	int err = 0;

	switch (mnl_attr_get_type(a)) {
	case RTA_GATEWAY:
		c->nh->gw_family = c->family;
		err = get_addr(a, c->family, c->nh->gateway);
		break;
	case RTA_VIA:
		err = get_via(a, c->nh);
		break;
	case RTA_FLOW:
		err = get_u32(a, &c->nh->flow);
		break;
	case RTA_ENCAP:
	case RTA_ENCAP_TYPE:
		err = -EOPNOTSUPP;
		break;
	default:
		break;
	}
	if (err) {
		c->err = err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int parse_multipath(const struct nlattr *a, struct nw_rt *rt)
{
	const uint8_t *p = mnl_attr_get_payload(a);
	size_t left = mnl_attr_get_payload_len(a);

	rt->multipath = true;
	rt->n_nh = 0;
	while (left >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *rtnh = (const void *)p;
		struct nh_ctx c = { .family = rt->family };
		size_t step;

		if (rtnh->rtnh_len < sizeof(*rtnh) || rtnh->rtnh_len > left)
			return -EBADMSG;
		if (rt->n_nh == NW_RT_MAX_NH)
			return -E2BIG;
		c.nh = &rt->nh[rt->n_nh++];
		memset(c.nh, 0, sizeof(*c.nh));
		c.nh->flags = rtnh->rtnh_flags;
		c.nh->hops = rtnh->rtnh_hops;
		c.nh->ifindex = rtnh->rtnh_ifindex;
		if (rtnh->rtnh_len > RTNH_LENGTH(0) &&
		    mnl_attr_parse_payload(p + RTNH_LENGTH(0), rtnh->rtnh_len - RTNH_LENGTH(0),
					   nh_attr_cb, &c) < 0)
			return c.err ? c.err : -EBADMSG;
		step = RTNH_ALIGN(rtnh->rtnh_len);
		if (step >= left)
			break;
		p += step;
		left -= step;
	}
	return 0;
}

struct rt_ctx {
	struct nw_rt *rt;
	bool single;		/* RTA_GATEWAY/RTA_VIA/RTA_OIF seen */
	struct nw_rt_nh nh;	/* what they said, whatever the attribute order */
	int err;
};

static int rt_attr(struct rt_ctx *c, const struct nlattr *a)
{
	struct nw_rt *rt = c->rt;
	struct nw_rt_nh *nh0 = &c->nh;
	size_t len;

	switch (mnl_attr_get_type(a)) {
	case RTA_TABLE:
		return get_u32(a, &rt->table);
	case RTA_DST:
		return get_addr(a, rt->family, rt->dst);
	case RTA_SRC:
		return get_addr(a, rt->family, rt->src);
	case RTA_PRIORITY:
		return get_u32(a, &rt->priority);
	case RTA_PREFSRC:
		rt->has_prefsrc = true;
		return get_addr(a, rt->family, rt->prefsrc);
	case RTA_GATEWAY:
		c->single = true;
		nh0->gw_family = rt->family;
		return get_addr(a, rt->family, nh0->gateway);
	case RTA_VIA:
		c->single = true;
		return get_via(a, nh0);
	case RTA_OIF:
		c->single = true;
		if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
			return -EBADMSG;
		nh0->ifindex = (int)mnl_attr_get_u32(a);
		return 0;
	case RTA_FLOW:
		return get_u32(a, &nh0->flow);
	case RTA_NH_ID:
		return get_u32(a, &rt->nh_id);
	case RTA_MULTIPATH:
		return parse_multipath(a, rt);
	case RTA_METRICS:
		len = mnl_attr_get_payload_len(a);
		if (len > sizeof(rt->metrics))
			return -E2BIG;
		memcpy(rt->metrics, mnl_attr_get_payload(a), len);
		rt->metrics_len = (uint16_t)len;
		return 0;
	case RTA_PREF:
		if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
			return -EBADMSG;
		rt->has_pref = true;
		rt->pref = mnl_attr_get_u8(a);
		return 0;
	case RTA_CACHEINFO: {
		struct rta_cacheinfo ci;
		long hz = sysconf(_SC_CLK_TCK);

		if (mnl_attr_get_payload_len(a) < sizeof(ci))
			return -EBADMSG;
		memcpy(&ci, mnl_attr_get_payload(a), sizeof(ci));
		/* rta_expires is in clock ticks; a route without lifetime has 0 */
		if ((int32_t)ci.rta_expires > 0)
			rt->expires_s = (uint32_t)(((int64_t)ci.rta_expires + (hz > 0 ? hz : 100) - 1) /
						   (hz > 0 ? hz : 100));
		return 0;
	}
	case RTA_EXPIRES:
		return get_u32(a, &rt->expires_s);
	case RTA_ENCAP:
	case RTA_ENCAP_TYPE:
		return -EOPNOTSUPP;
	default:
		return 0;
	}
}

static int rt_attr_cb(const struct nlattr *a, void *data)
{
	struct rt_ctx *c = data;
	int err = rt_attr(c, a);

	if (err) {
		c->err = err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int nw_rt_parse(const struct nlmsghdr *nlh, struct nw_rt *rt)
{
	const struct rtmsg *rtm;
	struct rt_ctx c = { .rt = rt };

	memset(rt, 0, sizeof(*rt));
	if ((nlh->nlmsg_type != RTM_NEWROUTE && nlh->nlmsg_type != RTM_DELROUTE) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -EBADMSG;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (!addr_len(rtm->rtm_family))
		return -EAFNOSUPPORT;
	if (rtm->rtm_dst_len > addr_len(rtm->rtm_family) * 8 ||
	    rtm->rtm_src_len > addr_len(rtm->rtm_family) * 8)
		return -EBADMSG;
	rt->family = rtm->rtm_family;
	rt->dst_len = rtm->rtm_dst_len;
	rt->src_len = rtm->rtm_src_len;
	rt->tos = rtm->rtm_tos;
	rt->table = rtm->rtm_table;
	rt->protocol = rtm->rtm_protocol;
	rt->scope = rtm->rtm_scope;
	rt->type = rtm->rtm_type;
	rt->flags = rtm->rtm_flags;
	if (mnl_attr_parse(nlh, sizeof(*rtm), rt_attr_cb, &c) < 0)
		return c.err ? c.err : -EBADMSG;
	if (!rt->multipath && c.single) {
		rt->nh[0] = c.nh;
		rt->nh[0].flags = (uint8_t)(rt->flags & 0xff);
		rt->n_nh = 1;
	}
	return 0;
}

/* --- building --------------------------------------------------------------- */

/* Every attribute goes through put(): libmnl 1.0.4 (Debian 12) leaves the
 * alignment padding after a payload as the buffer had it, so each u8, u16
 * and string attribute sent stack bytes to the kernel (valgrind: "sendto(msg)
 * points to uninitialised byte(s)"). The padding is zeroed here. */
static bool put(struct nlmsghdr *nlh, size_t size, uint16_t type, size_t len, const void *data)
{
	struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);

	if (!mnl_attr_put_check(nlh, size, type, len, data))
		return false;
	memset((char *)mnl_attr_get_payload(a) + len, 0, MNL_ALIGN(len) - len);
	return true;
}

static bool put_u8(struct nlmsghdr *nlh, size_t size, uint16_t type, uint8_t v)
{
	return put(nlh, size, type, sizeof(v), &v);
}

static bool put_u16(struct nlmsghdr *nlh, size_t size, uint16_t type, uint16_t v)
{
	return put(nlh, size, type, sizeof(v), &v);
}

static bool put_strz(struct nlmsghdr *nlh, size_t size, uint16_t type, const char *s)
{
	return put(nlh, size, type, strlen(s) + 1, s);
}

static bool put_u32(struct nlmsghdr *nlh, size_t size, uint16_t type, uint32_t v)
{
	return mnl_attr_put_u32_check(nlh, size, type, v);
}

static bool put_gateway(struct nlmsghdr *nlh, size_t size, uint8_t family,
			const struct nw_rt_nh *nh)
{
	uint8_t via[2 + 16];
	uint16_t fam = nh->gw_family;

	if (!nh->gw_family)
		return true;
	if (!nh->via && nh->gw_family == family)
		return put(nlh, size, RTA_GATEWAY, addr_len(family), nh->gateway);
	memcpy(via, &fam, sizeof(fam));
	memcpy(via + sizeof(fam), nh->gateway, addr_len(nh->gw_family));
	return put(nlh, size, RTA_VIA, sizeof(fam) + addr_len(nh->gw_family), via);
}

static bool put_multipath(struct nlmsghdr *nlh, size_t size, const struct nw_rt *rt)
{
	struct nlattr *mp = mnl_attr_nest_start_check(nlh, size, RTA_MULTIPATH);

	if (!mp)
		return false;
	for (unsigned i = 0; i < rt->n_nh; i++) {
		const struct nw_rt_nh *nh = &rt->nh[i];
		struct rtnexthop *rtnh;

		if (nlh->nlmsg_len + RTNH_ALIGN(sizeof(*rtnh)) > size)
			return false;
		rtnh = mnl_nlmsg_get_payload_tail(nlh);
		memset(rtnh, 0, RTNH_ALIGN(sizeof(*rtnh)));
		nlh->nlmsg_len += RTNH_ALIGN(sizeof(*rtnh));
		rtnh->rtnh_flags = nh->flags & NH_FLAGS_KEEP;
		rtnh->rtnh_hops = nh->hops;
		rtnh->rtnh_ifindex = nh->ifindex;
		if (!put_gateway(nlh, size, rt->family, nh) ||
		    (nh->flow && !put_u32(nlh, size, RTA_FLOW, nh->flow)))
			return false;
		rtnh->rtnh_len = (unsigned short)((char *)mnl_nlmsg_get_payload_tail(nlh) -
						  (char *)rtnh);
	}
	mnl_attr_nest_end(nlh, mp);
	return true;
}

static bool put_nexthops(struct nlmsghdr *nlh, size_t size, const struct nw_rt *rt)
{
	const struct nw_rt_nh *nh = &rt->nh[0];

	/* "Nexthop specification and nexthop id are mutually exclusive" */
	if (rt->nh_id)
		return put_u32(nlh, size, RTA_NH_ID, rt->nh_id);
	if (rt->multipath)
		return put_multipath(nlh, size, rt);
	if (!rt->n_nh)
		return true;
	return put_gateway(nlh, size, rt->family, nh) &&
	       (!nh->ifindex || put_u32(nlh, size, RTA_OIF, (uint32_t)nh->ifindex)) &&
	       (!nh->flow || put_u32(nlh, size, RTA_FLOW, nh->flow));
}

struct nlmsghdr *nw_rt_build(const struct nw_rt *rt, void *buf, size_t size, uint16_t type,
			     uint16_t flags, uint32_t seq)
{
	size_t alen = addr_len(rt->family);
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	uint32_t rflags;

	if (!alen || size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*rtm)))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = rt->family;
	rtm->rtm_dst_len = rt->dst_len;
	rtm->rtm_src_len = rt->src_len;
	rtm->rtm_tos = rt->tos;
	rtm->rtm_table = rt->table < 256 ? (uint8_t)rt->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = rt->protocol;
	rtm->rtm_scope = rt->scope;
	rtm->rtm_type = rt->type;
	/* single path: the nexthop's onlink flag travels in rtm_flags */
	rflags = rt->flags | (!rt->multipath && rt->n_nh == 1 ? rt->nh[0].flags : 0);
	rtm->rtm_flags = rflags & NH_FLAGS_KEEP;
	if (!put_u32(nlh, size, RTA_TABLE, rt->table) ||
	    (rt->dst_len && !put(nlh, size, RTA_DST, alen, rt->dst)) ||
	    (rt->src_len && !put(nlh, size, RTA_SRC, alen, rt->src)) ||
	    ((rt->priority || rt->family == AF_INET6) &&
	     !put_u32(nlh, size, RTA_PRIORITY, rt->priority)) ||
	    (rt->has_prefsrc && !put(nlh, size, RTA_PREFSRC, alen, rt->prefsrc)) ||
	    !put_nexthops(nlh, size, rt) ||
	    (rt->metrics_len && !put(nlh, size, RTA_METRICS, rt->metrics_len, rt->metrics)) ||
	    (rt->has_pref && !put_u8(nlh, size, RTA_PREF, rt->pref)) ||
	    (rt->expires_s && type == RTM_NEWROUTE && rt->family == AF_INET6 &&
	     !put_u32(nlh, size, RTA_EXPIRES, rt->expires_s)))
		return NULL;
	return nlh;
}

/* --- identity ------------------------------------------------------------- */

bool nw_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned bytes = len / 8, bits = len % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes))
		return false;
	if (!bits)
		return true;
	mask = (uint8_t)(0xff << (8 - bits));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool nw_rt_same_key(const struct nw_rt *a, const struct nw_rt *b)
{
	if (a->family != b->family || a->table != b->table || a->dst_len != b->dst_len ||
	    a->priority != b->priority || !nw_prefix_equal(a->dst, b->dst, a->dst_len))
		return false;
	if (a->family == AF_INET)
		return a->tos == b->tos;
	return a->src_len == b->src_len && nw_prefix_equal(a->src, b->src, a->src_len);
}

bool nw_rt_nh_equal(const struct nw_rt_nh *a, const struct nw_rt_nh *b)
{
	return a->gw_family == b->gw_family && a->via == b->via && a->ifindex == b->ifindex &&
	       a->hops == b->hops && a->flow == b->flow &&
	       (a->flags & NH_FLAGS_KEEP) == (b->flags & NH_FLAGS_KEEP) &&
	       !memcmp(a->gateway, b->gateway, addr_len(a->gw_family));
}

bool nw_rt_has_nh(const struct nw_rt *rt, const struct nw_rt_nh *nh)
{
	for (unsigned i = 0; i < rt->n_nh; i++)
		if (nw_rt_nh_equal(&rt->nh[i], nh))
			return true;
	return false;
}

static bool nh_subset(const struct nw_rt *a, const struct nw_rt *b)
{
	for (unsigned i = 0; i < a->n_nh; i++)
		if (!nw_rt_has_nh(b, &a->nh[i]))
			return false;
	return true;
}

bool nw_rt_equal(const struct nw_rt *a, const struct nw_rt *b)
{
	size_t alen = addr_len(a->family);

	return nw_rt_same_key(a, b) && a->protocol == b->protocol && a->scope == b->scope &&
	       a->type == b->type && a->nh_id == b->nh_id && a->has_prefsrc == b->has_prefsrc &&
	       (!a->has_prefsrc || !memcmp(a->prefsrc, b->prefsrc, alen)) &&
	       a->n_nh == b->n_nh && nh_subset(a, b) && nh_subset(b, a);
}

/* --- names ---------------------------------------------------------------- */

void nw_addr_str(uint8_t family, const uint8_t *addr, char *buf, size_t size)
{
	if (!addr_len(family) || !inet_ntop(family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

void nw_rt_dst_str(const struct nw_rt *rt, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!rt->dst_len) {
		snprintf(buf, size, "default");
		return;
	}
	nw_addr_str(rt->family, rt->dst, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, rt->dst_len);
}

const char *nw_rt_table_name(uint32_t table, char buf[12])
{
	switch (table) {
	case RT_TABLE_MAIN: return "main";
	case RT_TABLE_LOCAL: return "local";
	case RT_TABLE_DEFAULT: return "default";
	default:
		snprintf(buf, 12, "%u", table);
		return buf;
	}
}

const char *nw_rt_proto_name(uint8_t proto, char buf[4])
{
	static const struct { uint8_t id; const char *name; } names[] = {
		{ RTPROT_UNSPEC, "unspec" }, { RTPROT_REDIRECT, "redirect" },
		{ RTPROT_KERNEL, "kernel" }, { RTPROT_BOOT, "boot" }, { RTPROT_STATIC, "static" },
		{ 8, "gated" }, { 9, "ra" }, { 10, "mrt" }, { 11, "zebra" }, { 12, "bird" },
		{ 13, "dnrouted" }, { 14, "xorp" }, { 15, "ntk" }, { 16, "dhcp" },
		{ 17, "mrouted" }, { 18, "keepalived" }, { 42, "babel" }, { 99, "openr" },
		{ 186, "bgp" }, { 187, "isis" }, { 188, "ospf" }, { 189, "rip" },
		{ 192, "eigrp" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].id == proto)
			return names[i].name;
	snprintf(buf, 4, "%u", proto);
	return buf;
}

/* --- rules ----------------------------------------------------------------- */

static int get_u8(const struct nlattr *a, uint8_t *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
		return -EBADMSG;
	*out = mnl_attr_get_u8(a);
	return 0;
}

static int get_u16(const struct nlattr *a, uint16_t *out)
{
	if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
		return -EBADMSG;
	*out = mnl_attr_get_u16(a);
	return 0;
}

static int get_ifname(const struct nlattr *a, char out[IF_NAMESIZE])
{
	const char *p = mnl_attr_get_payload(a);
	size_t n = mnl_attr_get_payload_len(a);

	/* NUL-terminated, at most IF_NAMESIZE - 1 bytes of name */
	if (!n || n > IF_NAMESIZE || memchr(p, 0, n) == NULL)
		return -EBADMSG;
	snprintf(out, IF_NAMESIZE, "%s", p);
	return 0;
}

static int get_ports(const struct nlattr *a, uint16_t *start, uint16_t *end)
{
	struct fib_rule_port_range pr;

	if (mnl_attr_get_payload_len(a) != sizeof(pr))
		return -EBADMSG;
	memcpy(&pr, mnl_attr_get_payload(a), sizeof(pr));
	*start = pr.start;
	*end = pr.end;
	return 0;
}

static int rule_attr(struct nw_rule *r, const struct nlattr *a)
{
	struct fib_rule_uid_range ur;

	switch (mnl_attr_get_type(a)) {
	case FRA_DST:
		return get_addr(a, r->family, r->dst);
	case FRA_SRC:
		return get_addr(a, r->family, r->src);
	case FRA_IIFNAME:
		return get_ifname(a, r->iifname);
	case FRA_OIFNAME:
		return get_ifname(a, r->oifname);
	case FRA_GOTO:
		return get_u32(a, &r->goto_target);
	case FRA_PRIORITY:
		return get_u32(a, &r->priority);
	case FRA_FWMARK:
		return get_u32(a, &r->fwmark);
	case FRA_FWMASK:
		return get_u32(a, &r->fwmask);
	case FRA_FLOW:
		return get_u32(a, &r->flow);
	case FRA_TUN_ID:
		if (mnl_attr_get_payload_len(a) != sizeof(r->tun_id))
			return -EBADMSG;
		memcpy(&r->tun_id, mnl_attr_get_payload(a), sizeof(r->tun_id));
		return 0;
	case FRA_SUPPRESS_IFGROUP:
		return get_u32(a, &r->suppress_ifgroup);
	case FRA_SUPPRESS_PREFIXLEN:
		return get_u32(a, &r->suppress_prefixlen);
	case FRA_TABLE:
		return get_u32(a, &r->table);
	case FRA_L3MDEV:
		return get_u8(a, &r->l3mdev);
	case FRA_UID_RANGE:
		if (mnl_attr_get_payload_len(a) != sizeof(ur))
			return -EBADMSG;
		memcpy(&ur, mnl_attr_get_payload(a), sizeof(ur));
		/* the whole range is the kernel's "unset" */
		r->has_uid_range = !(ur.start == 0 && ur.end == 0xffffffffu);
		r->uid_start = r->has_uid_range ? ur.start : 0;
		r->uid_end = r->has_uid_range ? ur.end : 0;
		return 0;
	case FRA_PROTOCOL:
		return get_u8(a, &r->protocol);
	case FRA_IP_PROTO:
		return get_u8(a, &r->ip_proto);
	case FRA_SPORT_RANGE:
		return get_ports(a, &r->sport_start, &r->sport_end);
	case FRA_DPORT_RANGE:
		return get_ports(a, &r->dport_start, &r->dport_end);
	case NW_FRA_DSCP:
		r->has_dscp = true;
		return get_u8(a, &r->dscp);
	case NW_FRA_DSCP_MASK:
		r->has_dscp_mask = true;
		return get_u8(a, &r->dscp_mask);
	case NW_FRA_FLOWLABEL:
		r->has_flowlabel = true;
		return get_u32(a, &r->flowlabel);
	case NW_FRA_FLOWLABEL_MASK:
		r->has_flowlabel = true;
		return get_u32(a, &r->flowlabel_mask);
	case NW_FRA_SPORT_MASK:
		return get_u16(a, &r->sport_mask);
	case NW_FRA_DPORT_MASK:
		return get_u16(a, &r->dport_mask);
	default:
		return 0;
	}
}

struct rule_ctx {
	struct nw_rule *r;
	int err;
};

static int rule_attr_cb(const struct nlattr *a, void *data)
{
	struct rule_ctx *c = data;
	int err = rule_attr(c->r, a);

	if (err) {
		c->err = err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

int nw_rule_parse(const struct nlmsghdr *nlh, struct nw_rule *r)
{
	const struct fib_rule_hdr *frh;
	struct rule_ctx c = { .r = r };

	memset(r, 0, sizeof(*r));
	r->suppress_prefixlen = r->suppress_ifgroup = NW_RULE_NONE;
	if ((nlh->nlmsg_type != RTM_NEWRULE && nlh->nlmsg_type != RTM_DELRULE) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return -EBADMSG;
	frh = mnl_nlmsg_get_payload(nlh);
	if (!addr_len(frh->family))
		return -EAFNOSUPPORT;
	if (frh->dst_len > addr_len(frh->family) * 8 || frh->src_len > addr_len(frh->family) * 8)
		return -EBADMSG;
	r->family = frh->family;
	r->dst_len = frh->dst_len;
	r->src_len = frh->src_len;
	r->tos = frh->tos;
	r->table = frh->table;
	r->action = frh->action;
	r->flags = frh->flags;
	if (mnl_attr_parse(nlh, sizeof(*frh), rule_attr_cb, &c) < 0)
		return c.err ? c.err : -EBADMSG;
	return 0;
}

static bool put_ports(struct nlmsghdr *nlh, size_t size, uint16_t type, uint16_t start,
		      uint16_t end)
{
	struct fib_rule_port_range pr = { .start = start, .end = end };

	return put(nlh, size, type, sizeof(pr), &pr);
}

struct nlmsghdr *nw_rule_build(const struct nw_rule *r, void *buf, size_t size, uint16_t type,
			       uint16_t flags, uint32_t seq)
{
	size_t alen = addr_len(r->family);
	struct fib_rule_hdr *frh;
	struct nlmsghdr *nlh;

	if (!alen || size < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*frh)))
		return NULL;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = r->family;
	frh->dst_len = r->dst_len;
	frh->src_len = r->src_len;
	frh->tos = r->tos;
	frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	frh->action = r->action;
	frh->flags = r->flags & RULE_FLAGS_KEEP;
	if (!put_u32(nlh, size, FRA_TABLE, r->table) ||
	    !put_u32(nlh, size, FRA_PRIORITY, r->priority) ||
	    (r->dst_len && !put(nlh, size, FRA_DST, alen, r->dst)) ||
	    (r->src_len && !put(nlh, size, FRA_SRC, alen, r->src)) ||
	    (r->iifname[0] && !put_strz(nlh, size, FRA_IIFNAME, r->iifname)) ||
	    (r->oifname[0] && !put_strz(nlh, size, FRA_OIFNAME, r->oifname)) ||
	    (r->fwmark && !put_u32(nlh, size, FRA_FWMARK, r->fwmark)) ||
	    (r->fwmask && !put_u32(nlh, size, FRA_FWMASK, r->fwmask)) ||
	    ((r->goto_target || r->action == FR_ACT_GOTO) &&
	     !put_u32(nlh, size, FRA_GOTO, r->goto_target)) ||
	    (r->flow && !put_u32(nlh, size, FRA_FLOW, r->flow)) ||
	    (r->tun_id && !put(nlh, size, FRA_TUN_ID, sizeof(r->tun_id), &r->tun_id)) ||
	    (r->suppress_prefixlen != NW_RULE_NONE &&
	     !put_u32(nlh, size, FRA_SUPPRESS_PREFIXLEN, r->suppress_prefixlen)) ||
	    (r->suppress_ifgroup != NW_RULE_NONE &&
	     !put_u32(nlh, size, FRA_SUPPRESS_IFGROUP, r->suppress_ifgroup)) ||
	    (r->l3mdev && !put_u8(nlh, size, FRA_L3MDEV, r->l3mdev)) ||
	    !put_u8(nlh, size, FRA_PROTOCOL, r->protocol) ||
	    (r->ip_proto && !put_u8(nlh, size, FRA_IP_PROTO, r->ip_proto)) ||
	    ((r->sport_start || r->sport_end) &&
	     !put_ports(nlh, size, FRA_SPORT_RANGE, r->sport_start, r->sport_end)) ||
	    ((r->dport_start || r->dport_end) &&
	     !put_ports(nlh, size, FRA_DPORT_RANGE, r->dport_start, r->dport_end)) ||
	    (r->sport_mask && !put_u16(nlh, size, NW_FRA_SPORT_MASK, r->sport_mask)) ||
	    (r->dport_mask && !put_u16(nlh, size, NW_FRA_DPORT_MASK, r->dport_mask)) ||
	    (r->has_dscp && !put_u8(nlh, size, NW_FRA_DSCP, r->dscp)) ||
	    (r->has_dscp_mask &&
	     !put_u8(nlh, size, NW_FRA_DSCP_MASK, r->dscp_mask)) ||
	    (r->has_flowlabel &&
	     (!put_u32(nlh, size, NW_FRA_FLOWLABEL, r->flowlabel) ||
	      !put_u32(nlh, size, NW_FRA_FLOWLABEL_MASK, r->flowlabel_mask))))
		return NULL;
	if (r->has_uid_range) {
		struct fib_rule_uid_range ur = { .start = r->uid_start, .end = r->uid_end };

		if (!put(nlh, size, FRA_UID_RANGE, sizeof(ur), &ur))
			return NULL;
	}
	return nlh;
}

bool nw_rule_same_key(const struct nw_rule *a, const struct nw_rule *b)
{
	return a->family == b->family && a->action == b->action && a->table == b->table &&
	       a->priority == b->priority && a->dst_len == b->dst_len &&
	       a->src_len == b->src_len && a->tos == b->tos &&
	       nw_prefix_equal(a->dst, b->dst, a->dst_len) &&
	       nw_prefix_equal(a->src, b->src, a->src_len) &&
	       !strcmp(a->iifname, b->iifname) && !strcmp(a->oifname, b->oifname) &&
	       a->fwmark == b->fwmark && a->fwmask == b->fwmask &&
	       a->suppress_prefixlen == b->suppress_prefixlen &&
	       a->suppress_ifgroup == b->suppress_ifgroup && a->tun_id == b->tun_id &&
	       a->l3mdev == b->l3mdev && a->flow == b->flow &&
	       a->has_uid_range == b->has_uid_range && a->uid_start == b->uid_start &&
	       a->uid_end == b->uid_end && a->ip_proto == b->ip_proto &&
	       a->sport_start == b->sport_start && a->sport_end == b->sport_end &&
	       a->sport_mask == b->sport_mask && a->dport_start == b->dport_start &&
	       a->dport_end == b->dport_end && a->dport_mask == b->dport_mask &&
	       a->has_dscp == b->has_dscp && a->dscp == b->dscp &&
	       a->has_dscp_mask == b->has_dscp_mask && a->dscp_mask == b->dscp_mask &&
	       a->has_flowlabel == b->has_flowlabel && a->flowlabel == b->flowlabel &&
	       a->flowlabel_mask == b->flowlabel_mask;
}

bool nw_rule_equal(const struct nw_rule *a, const struct nw_rule *b)
{
	return nw_rule_same_key(a, b) && a->protocol == b->protocol &&
	       (a->flags & RULE_FLAGS_KEEP) == (b->flags & RULE_FLAGS_KEEP) &&
	       a->goto_target == b->goto_target;
}

const char *nw_rule_action_name(uint8_t action, char buf[4])
{
	switch (action) {
	case FR_ACT_TO_TBL: return "lookup";
	case FR_ACT_GOTO: return "goto";
	case FR_ACT_NOP: return "nop";
	case FR_ACT_BLACKHOLE: return "blackhole";
	case FR_ACT_UNREACHABLE: return "unreachable";
	case FR_ACT_PROHIBIT: return "prohibit";
	default:
		snprintf(buf, 4, "%u", action);
		return buf;
	}
}

struct sbuf {
	char *p;
	size_t size, n;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (b->n >= b->size)
		return;
	va_start(ap, fmt);
	r = vsnprintf(b->p + b->n, b->size - b->n, fmt, ap);
	va_end(ap);
	if (r > 0)
		b->n += (size_t)r;
}

static void sb_ports(struct sbuf *b, const char *name, uint16_t start, uint16_t end,
		     uint16_t mask)
{
	if (!start && !end)
		return;
	if (start == end)
		sb_add(b, " %s %u", name, start);
	else
		sb_add(b, " %s %u-%u", name, start, end);
	if (mask && mask != 0xffff)
		sb_add(b, "/0x%x", mask);
}

void nw_rule_str(const struct nw_rule *r, char *buf, size_t size)
{
	struct sbuf b = { buf, size, 0 };
	char a[INET6_ADDRSTRLEN], t[12], an[4];

	if (!size)
		return;
	buf[0] = 0;
	if (r->flags & FIB_RULE_INVERT)
		sb_add(&b, "not ");
	if (r->src_len) {
		nw_addr_str(r->family, r->src, a, sizeof(a));
		sb_add(&b, "from %s/%u", a, r->src_len);
	} else {
		sb_add(&b, "from all");
	}
	if (r->dst_len) {
		nw_addr_str(r->family, r->dst, a, sizeof(a));
		sb_add(&b, " to %s/%u", a, r->dst_len);
	}
	if (r->tos)
		sb_add(&b, " tos 0x%02x", r->tos);
	if (r->has_dscp)
		sb_add(&b, " dscp %u", r->dscp);
	if (r->has_flowlabel)
		sb_add(&b, " flowlabel 0x%x/0x%x", ntohl(r->flowlabel), ntohl(r->flowlabel_mask));
	if (r->fwmark || r->fwmask) {
		sb_add(&b, " fwmark 0x%x", r->fwmark);
		if (r->fwmask != 0xffffffffu)
			sb_add(&b, "/0x%x", r->fwmask);
	}
	if (r->iifname[0])
		sb_add(&b, " iif %s%s", r->iifname,
		       r->flags & FIB_RULE_IIF_DETACHED ? " [detached]" : "");
	if (r->oifname[0])
		sb_add(&b, " oif %s%s", r->oifname,
		       r->flags & FIB_RULE_OIF_DETACHED ? " [detached]" : "");
	if (r->l3mdev)
		sb_add(&b, " lookup [l3mdev-table]");
	if (r->has_uid_range)
		sb_add(&b, " uidrange %u-%u", r->uid_start, r->uid_end);
	if (r->ip_proto)
		sb_add(&b, " ipproto %u", r->ip_proto);
	sb_ports(&b, "sport", r->sport_start, r->sport_end, r->sport_mask);
	sb_ports(&b, "dport", r->dport_start, r->dport_end, r->dport_mask);
	if (r->tun_id)
		sb_add(&b, " tun_id %llu", (unsigned long long)be64toh(r->tun_id));
	if (r->table && !r->l3mdev) {
		sb_add(&b, " lookup %s", nw_rt_table_name(r->table, t));
		if (r->suppress_prefixlen != NW_RULE_NONE)
			sb_add(&b, " suppress_prefixlength %d", (int)r->suppress_prefixlen);
		if (r->suppress_ifgroup != NW_RULE_NONE)
			sb_add(&b, " suppress_ifgroup %d", (int)r->suppress_ifgroup);
	}
	if (r->flow)
		sb_add(&b, " realms %u/%u", r->flow >> 16, r->flow & 0xffff);
	switch (r->action) {
	case FR_ACT_TO_TBL:
		break;
	case FR_ACT_GOTO:
		sb_add(&b, " goto %u%s", r->goto_target,
		       r->flags & FIB_RULE_UNRESOLVED ? " [unresolved]" : "");
		break;
	default:
		sb_add(&b, " %s", nw_rule_action_name(r->action, an));
		break;
	}
}

/* --- links ---------------------------------------------------------------- */

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct nw_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME) {
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_ERROR;
		snprintf(l->name, sizeof(l->name), "%s", mnl_attr_get_str(a));
	}
	return MNL_CB_OK;
}

int nw_link_parse(const struct nlmsghdr *nlh, struct nw_link *l)
{
	const struct ifinfomsg *ifi;

	memset(l, 0, sizeof(*l));
	if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(nlh);
	l->ifindex = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, l) < 0)
		return -EBADMSG;
	return 0;
}

int nw_ifname(int ifindex, char name[IF_NAMESIZE])
{
	if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, name))
		return -ENODEV;
	return 0;
}

int nw_ifindex(const char *name)
{
	unsigned i = if_nametoindex(name);

	return i ? (int)i : -ENODEV;
}

/* --- request socket ------------------------------------------------------ */

struct nw_rtnl {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	char *buf;
};

int nw_rtnl_open(struct nw_rtnl **out)
{
	struct nw_rtnl *s = calloc(1, sizeof(*s));
	int one = 1, err;

	if (!s)
		return -ENOMEM;
	s->buf = malloc(RECV_BUF);
	s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!s->buf || !s->nl) {
		err = s->buf ? -errno : -ENOMEM;
		goto cleanup;
	}
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto cleanup;
	}
	/* optional: error texts, short ACKs, kernel-side dump filters */
	mnl_socket_setsockopt(s->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->nl, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	*out = s;
	return 0;
cleanup:
	nw_rtnl_close(s);
	return err;
}

void nw_rtnl_close(struct nw_rtnl *s)
{
	if (!s)
		return;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	free(s);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One datagram into s->buf, waiting until deadline (CLOCK_MONOTONIC ms). */
static ssize_t recv_until(struct nw_rtnl *s, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = mnl_socket_get_fd(s->nl), .events = POLLIN };
		uint64_t now = mono_ms();
		ssize_t n;
		int r;

		n = mnl_socket_recvfrom(s->nl, s->buf, RECV_BUF);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

struct ext_ctx {
	char *buf;
	size_t len;
};

static int ext_attr_cb(const struct nlattr *a, void *data)
{
	struct ext_ctx *c = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(c->buf, c->len, "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

/* NLMSG_ERROR -> 0 / -errno, and the extended ACK text when asked for */
static int ack_result(const struct nlmsghdr *nlh, char *ext, size_t extlen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof(*e);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return -EBADMSG;
	if (ext && extlen && (nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
		struct ext_ctx c = { ext, extlen };

		/* without NLM_F_CAPPED the whole request is echoed first */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < mnl_nlmsg_get_payload_len(nlh))
			mnl_attr_parse(nlh, (unsigned)off, ext_attr_cb, &c);
	}
	return e->error > 0 ? -e->error : e->error;
}

int nw_rtnl_request(struct nw_rtnl *s, struct nlmsghdr *nlh, int timeout_ms, char *ext,
		    size_t extlen)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	uint32_t seq = ++s->seq;

	if (ext && extlen)
		ext[0] = 0;
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = 0;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv_until(s, deadline);
		const struct nlmsghdr *m = (const void *)s->buf;
		int len = (int)n;

		if (n < 0)
			return (int)n;
		for (; nw_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			/* a late answer to a request that timed out earlier */
			if (m->nlmsg_seq != seq || m->nlmsg_type != NLMSG_ERROR)
				continue;
			return ack_result(m, ext, extlen);
		}
	}
}

/* Reads one dump answer to seq: every message to cb until NLMSG_DONE. */
static int read_dump(struct nw_rtnl *s, uint32_t seq, uint64_t deadline, nw_rtnl_dump_cb cb,
		     void *data)
{
	bool intr = false;
	int ret = 0;

	for (;;) {
		ssize_t n = recv_until(s, deadline);
		const struct nlmsghdr *m = (const void *)s->buf;
		int len = (int)n;

		if (n < 0)
			return (int)n;
		for (; nw_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
			if (m->nlmsg_seq != seq)
				continue;
			if (m->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (m->nlmsg_type == NLMSG_DONE)
				return ret ? ret : intr ? -EINTR : 0;
			if (m->nlmsg_type == NLMSG_ERROR) {
				int r = ack_result(m, NULL, 0);

				return ret ? ret : r ? r : -EBADMSG;
			}
			if (!ret && m->nlmsg_type >= RTM_BASE) {
				int r = cb(m, data);

				if (r < 0)
					ret = r;
			}
		}
	}
}

int nw_rtnl_dump(struct nw_rtnl *s, struct nlmsghdr *req, int timeout_ms, nw_rtnl_dump_cb cb,
		 void *data)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	uint32_t seq = ++s->seq;

	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = seq;
	req->nlmsg_pid = 0;
	if (mnl_socket_sendto(s->nl, req, req->nlmsg_len) < 0)
		return -errno;
	return read_dump(s, seq, deadline, cb, data);
}

int nw_rtnl_dump_routes(struct nw_rtnl *s, uint8_t family, uint32_t table, int timeout_ms,
			nw_rtnl_dump_cb cb, void *data)
{
	char buf[MNL_NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_GETROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = family;
	if (table) {
		rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
		mnl_attr_put_u32(nlh, RTA_TABLE, table);
	}
	return nw_rtnl_dump(s, nlh, timeout_ms, cb, data);
}

int nw_rtnl_dump_rules(struct nw_rtnl *s, uint8_t family, int timeout_ms, nw_rtnl_dump_cb cb,
		       void *data)
{
	char buf[MNL_NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = RTM_GETRULE;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = family;
	return nw_rtnl_dump(s, nlh, timeout_ms, cb, data);
}

int nw_rtnl_dump_links(struct nw_rtnl *s, int timeout_ms, nw_rtnl_dump_cb cb, void *data)
{
	char buf[MNL_NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = RTM_GETLINK;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	return nw_rtnl_dump(s, nlh, timeout_ms, cb, data);
}
