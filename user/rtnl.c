// SPDX-License-Identifier: GPL-2.0-only
/*
 * rtnetlink helpers on libmnl. Library-like: no logging, negative errno.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
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

static bool put(struct nlmsghdr *nlh, size_t size, uint16_t type, size_t len, const void *data)
{
	return mnl_attr_put_check(nlh, size, type, len, data);
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
	    (rt->has_pref && !mnl_attr_put_u8_check(nlh, size, RTA_PREF, rt->pref)) ||
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
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
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
		for (; mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
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

int nw_rtnl_dump_links(struct nw_rtnl *s, int timeout_ms, nw_rtnl_dump_cb cb, void *data)
{
	char buf[MNL_NLMSG_HDRLEN + 64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = RTM_GETLINK;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	return nw_rtnl_dump(s, nlh, timeout_ms, cb, data);
}
