// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/quarantine_map.c (on a real BPF hash map shaped like
 * the pinned quarantine map) and the pure parts of user/quarantine.c: which
 * notification a killed request made, and the request that undoes it, on
 * hand-built rtnetlink messages. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "quarantine.h"
#include "quarantine_map.h"
#include "rtnl.h"

/* --- the map ----------------------------------------------------------------- */

static int make_map(unsigned max)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, NULL, sizeof(__u64), sizeof(__u32), max, NULL);

	if (fd < 0 && errno != EPERM)
		print_error("bpf_map_create: %s\n", strerror(errno));
	return fd;
}

static int map_setup(void **state)
{
	*state = (void *)(intptr_t)make_map(NW_QUARANTINE_MAX);
	return 0;
}

static int map_teardown(void **state)
{
	int fd = (int)(intptr_t)*state;

	if (fd >= 0)
		close(fd);
	return 0;
}

static int map_fd(void **state)
{
	int fd = (int)(intptr_t)*state;

	if (fd < 0)
		skip();	/* no BPF here (EPERM): nothing to test against */
	return fd;
}

static void test_add_get_del(void **state)
{
	int fd = map_fd(state);
	uint32_t flags = 0;

	assert_int_equal(nw_quarantine_get(fd, 42, &flags), -ENOENT);
	assert_int_equal(nw_quarantine_add(fd, 42, 0), 0);	/* new */
	assert_int_equal(nw_quarantine_get(fd, 42, &flags), 0);
	assert_int_equal(flags, NW_QUAR_ACTIVE);		/* always active */
	assert_string_equal(nw_quarantine_origin(flags), "manual");
	/* auto_quarantine's entry, then taken over by hand */
	assert_int_equal(nw_quarantine_add(fd, 42, NW_QUAR_ACTIVE | NW_QUAR_AUTO), 1);
	assert_int_equal(nw_quarantine_get(fd, 42, &flags), 0);
	assert_int_equal(flags, NW_QUAR_ACTIVE | NW_QUAR_AUTO);
	assert_string_equal(nw_quarantine_origin(flags), "auto");
	assert_int_equal(nw_quarantine_add(fd, 42, NW_QUAR_ACTIVE), 1);
	assert_int_equal(nw_quarantine_get(fd, 42, &flags), 0);
	assert_int_equal(flags, NW_QUAR_ACTIVE);
	assert_int_equal(nw_quarantine_del(fd, 42), 1);
	assert_int_equal(nw_quarantine_del(fd, 42), 0);	/* not there: not an error */
	assert_int_equal(nw_quarantine_get(fd, 42, &flags), -ENOENT);
	assert_int_equal(nw_quarantine_add(fd, 0, NW_QUAR_ACTIVE), -EINVAL);
	assert_string_equal(nw_quarantine_origin(0), "inactive");
	assert_string_equal(nw_quarantine_origin(NW_QUAR_AUTO), "inactive");
}

static void test_list_sorted(void **state)
{
	static const uint64_t ids[] = { 900, 7, 123456789012ull, 8, 1 };
	int fd = map_fd(state), n;
	struct nw_quarantine_entry *v = NULL;

	n = nw_quarantine_list(fd, &v);
	assert_int_equal(n, 0);
	assert_null(v);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		assert_int_equal(nw_quarantine_add(fd, ids[i], i == 2 ? NW_QUAR_AUTO : 0), 0);
	n = nw_quarantine_list(fd, &v);
	assert_int_equal(n, 5);
	assert_true(v[0].cgroup_id == 1 && v[1].cgroup_id == 7 && v[2].cgroup_id == 8 &&
		    v[3].cgroup_id == 900 && v[4].cgroup_id == 123456789012ull);
	assert_int_equal(v[4].flags, NW_QUAR_ACTIVE | NW_QUAR_AUTO);
	assert_int_equal(v[0].flags, NW_QUAR_ACTIVE);
	free(v);
}

static int count_until(const struct nw_quarantine_entry *q, void *ud)
{
	int *n = ud;

	(void)q;
	return ++*n == 2 ? 77 : 0;
}

static void test_foreach_stops(void **state)
{
	int fd = map_fd(state), n = 0;

	for (uint64_t id = 1; id <= 4; id++)
		assert_int_equal(nw_quarantine_add(fd, id, 0), 0);
	assert_int_equal(nw_quarantine_foreach(fd, count_until, &n), 77);
	assert_int_equal(n, 2);
}

static void test_map_full(void **state)
{
	int fd = make_map(2);

	(void)state;
	if (fd < 0)
		skip();
	assert_int_equal(nw_quarantine_add(fd, 1, 0), 0);
	assert_int_equal(nw_quarantine_add(fd, 2, 0), 0);
	assert_int_equal(nw_quarantine_add(fd, 3, 0), -E2BIG);
	assert_int_equal(nw_quarantine_add(fd, 2, NW_QUAR_AUTO), 1);	/* updates still work */
	close(fd);
}

static void test_map_open_missing(void **state)
{
	(void)state;
	assert_int_equal(nw_quarantine_map_open("/nonexistent-netward-pin-dir"), -ENOENT);
}

/* --- hand-built notifications ---------------------------------------------- */

static char bufs[4][8192];

static struct nlmsghdr *msg(int slot, uint16_t type, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh;

	memset(bufs[slot], 0, sizeof(bufs[slot]));
	nlh = mnl_nlmsg_put_header(bufs[slot]);
	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	return nlh;
}

/* a rule notification: "prio PRIO from all [fwmark M] [uidrange] lookup TABLE" */
static struct nlmsghdr *rule_msg(int slot, uint16_t type, uint8_t family, uint32_t prio,
				 uint32_t table, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = msg(slot, type, seq, pid);
	struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));

	frh->family = family;
	frh->table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	frh->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 0xffffffff);
	mnl_attr_put_u8(nlh, FRA_PROTOCOL, RTPROT_BOOT);
	if (prio)
		mnl_attr_put_u32(nlh, FRA_PRIORITY, prio);
	return nlh;
}

static void request(struct nw_rtnl_request *r, uint16_t type, uint8_t family, uint32_t seq)
{
	memset(r, 0, sizeof(*r));
	r->hdr.type = NW_EV_RTNL_REQUEST;
	r->hdr.tgid = r->hdr.pid = 4242;
	memcpy(r->hdr.comm, "ip", 3);
	r->nlmsg_type = type;
	r->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	r->nlmsg_seq = seq;
	r->family = family;
	r->uid_start = r->uid_end = ~0u;
	r->quarantined = NW_QUARANTINE_KILLED;
}

static void test_rule_match(void **state)
{
	struct nw_rtnl_request r;
	struct nlmsghdr *n;

	(void)state;
	/* ip rule add prio 123 table 77 */
	request(&r, RTM_NEWRULE, AF_INET, 1000);
	r.priority = 123;
	r.table = 77;
	r.rtm_type = FR_ACT_TO_TBL;
	n = rule_msg(0, RTM_NEWRULE, AF_INET, 123, 77, 1000, 555);
	assert_true(nw_quarantine_match(&r, n));
	/* not another rule, not its deletion, not another family */
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET, 124, 77, 1000, 555)));
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET, 123, 78, 1000, 555)));
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_DELRULE, AF_INET, 123, 77, 1000, 555)));
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET6, 123, 77, 1000, 555)));
	/* another requester's (sequence number differs) */
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET, 123, 77, 1001, 556)));
	/* no requester named: the sequence number says nothing */
	assert_true(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET, 123, 77, 0, 0)));
	/* table above 255: only in FRA_TABLE */
	r.table = 1000;
	assert_true(nw_quarantine_match(&r, rule_msg(1, RTM_NEWRULE, AF_INET, 123, 1000, 1000, 555)));
	assert_false(nw_quarantine_match(&r, n));
	/* a priority the kernel picked: any */
	r.table = 77;
	r.priority = 0;
	assert_true(nw_quarantine_match(&r, n));
	/* ip rule del prio 123: the request gives the priority only */
	request(&r, RTM_DELRULE, AF_INET, 7);
	r.priority = 123;
	assert_true(nw_quarantine_match(&r, rule_msg(1, RTM_DELRULE, AF_INET, 123, 77, 7, 9)));
	assert_false(nw_quarantine_match(&r, rule_msg(1, RTM_DELRULE, AF_INET, 32766, 254, 7, 9)));
}

static void test_rule_match_selectors(void **state)
{
	struct nw_rtnl_request r;
	struct nlmsghdr *n;
	uint8_t dst[4] = { 10, 9, 0, 0 };
	struct fib_rule_uid_range uid = { 1000, 1999 };

	(void)state;
	request(&r, RTM_NEWRULE, AF_INET, 5);
	r.priority = 200;
	r.table = 100;
	r.fwmark = 0x42;
	r.uid_start = 1000;
	r.uid_end = 1999;
	r.dst_len = 16;
	memcpy(r.dst, dst, 4);
	n = rule_msg(0, RTM_NEWRULE, AF_INET, 200, 100, 5, 1);
	assert_false(nw_quarantine_match(&r, n));	/* none of the selectors */
	mnl_attr_put_u32(n, FRA_FWMARK, 0x42);
	mnl_attr_put(n, FRA_UID_RANGE, sizeof(uid), &uid);
	mnl_attr_put(n, FRA_DST, 4, dst);
	((struct fib_rule_hdr *)mnl_nlmsg_get_payload(n))->dst_len = 16;
	assert_true(nw_quarantine_match(&r, n));
	r.fwmark = 0x43;
	assert_false(nw_quarantine_match(&r, n));
	r.fwmark = 0x42;
	r.uid_end = 2000;
	assert_false(nw_quarantine_match(&r, n));
	r.uid_end = 1999;
	r.dst[1] = 8;
	assert_false(nw_quarantine_match(&r, n));
}

/* a route notification: DST/LEN via GW dev IFINDEX table TABLE metric M */
static struct nlmsghdr *route_msg(int slot, uint16_t type, uint8_t family, const char *dst,
				  uint8_t len, const char *gw, int ifindex, uint32_t table,
				  uint32_t metric, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = msg(slot, type, seq, pid);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	uint8_t a[16];

	rtm->rtm_family = family;
	rtm->rtm_dst_len = len;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	if (len) {
		inet_pton(family, dst, a);
		mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, a);
	}
	if (metric || family == AF_INET6)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
	if (gw) {
		inet_pton(family, gw, a);
		mnl_attr_put(nlh, RTA_GATEWAY, family == AF_INET ? 4 : 16, a);
	}
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nlh;
}

static void test_route_match(void **state)
{
	struct nw_rtnl_request r;
	struct nlmsghdr *n;

	(void)state;
	/* ip route del default: table main, nothing else */
	request(&r, RTM_DELROUTE, AF_INET, 11);
	r.table = RT_TABLE_MAIN;
	n = route_msg(0, RTM_DELROUTE, AF_INET, NULL, 0, "192.0.2.1", 2, 254, 0, 11, 3);
	assert_true(nw_quarantine_match(&r, n));
	r.table = 0;				/* 0 is main */
	assert_true(nw_quarantine_match(&r, n));
	assert_false(nw_quarantine_match(&r, route_msg(1, RTM_DELROUTE, AF_INET, NULL, 0,
							 "192.0.2.1", 2, 100, 0, 11, 3)));
	assert_false(nw_quarantine_match(&r, route_msg(1, RTM_DELROUTE, AF_INET, "10.0.0.0", 8,
							 "192.0.2.1", 2, 254, 0, 11, 3)));
	assert_false(nw_quarantine_match(&r, route_msg(1, RTM_NEWROUTE, AF_INET, NULL, 0,
							 "192.0.2.1", 2, 254, 0, 11, 3)));
	/* what the request gave must agree: gateway, device, metric */
	inet_pton(AF_INET, "192.0.2.2", r.gateway);
	assert_false(nw_quarantine_match(&r, n));
	inet_pton(AF_INET, "192.0.2.1", r.gateway);
	assert_true(nw_quarantine_match(&r, n));
	r.ifindex = 3;
	assert_false(nw_quarantine_match(&r, n));
	r.ifindex = 2;
	r.priority = 5;
	assert_false(nw_quarantine_match(&r, n));
	/* ip route add 10.77.0.0/16 via 192.0.2.1 table 100 metric 5 */
	request(&r, RTM_NEWROUTE, AF_INET, 12);
	r.table = 100;
	r.priority = 5;
	r.dst_len = 16;
	inet_pton(AF_INET, "10.77.0.0", r.dst);
	n = route_msg(0, RTM_NEWROUTE, AF_INET, "10.77.0.0", 16, "192.0.2.1", 2, 100, 5, 12, 3);
	assert_true(nw_quarantine_match(&r, n));
	r.dst[1] = 78;
	assert_false(nw_quarantine_match(&r, n));
	/* IPv6: the kernel's default metric 1024 when the request gave none */
	request(&r, RTM_DELROUTE, AF_INET6, 13);
	r.table = RT_TABLE_MAIN;
	n = route_msg(0, RTM_DELROUTE, AF_INET6, NULL, 0, "2001:db8::1", 2, 254, 1024, 13, 3);
	assert_true(nw_quarantine_match(&r, n));
	r.family = AF_INET;
	assert_false(nw_quarantine_match(&r, n));
}

static struct nlmsghdr *addr_msg(int slot, uint16_t type, uint8_t family, const char *a,
				 uint8_t len, int ifindex, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nlh = msg(slot, type, seq, pid);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	struct ifa_cacheinfo ci = { .ifa_prefered = 0xffffffff, .ifa_valid = 0xffffffff };
	uint8_t b[16];

	ifa->ifa_family = family;
	ifa->ifa_prefixlen = len;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ifa->ifa_index = (uint32_t)ifindex;
	inet_pton(family, a, b);
	mnl_attr_put(nlh, IFA_ADDRESS, family == AF_INET ? 4 : 16, b);
	if (family == AF_INET)
		mnl_attr_put(nlh, IFA_LOCAL, 4, b);
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_PERMANENT);
	mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	return nlh;
}

static void test_addr_match(void **state)
{
	struct nw_rtnl_request r;
	struct nlmsghdr *n;

	(void)state;
	request(&r, RTM_DELADDR, AF_INET, 21);
	r.ifindex = 2;
	r.dst_len = 24;
	inet_pton(AF_INET, "192.0.2.20", r.dst);
	n = addr_msg(0, RTM_DELADDR, AF_INET, "192.0.2.20", 24, 2, 21, 8);
	assert_true(nw_quarantine_match(&r, n));
	assert_false(nw_quarantine_match(&r, addr_msg(1, RTM_DELADDR, AF_INET, "192.0.2.21", 24,
							2, 21, 8)));
	assert_false(nw_quarantine_match(&r, addr_msg(1, RTM_DELADDR, AF_INET, "192.0.2.20", 24,
							3, 21, 8)));
	assert_false(nw_quarantine_match(&r, addr_msg(1, RTM_NEWADDR, AF_INET, "192.0.2.20", 24,
							2, 21, 8)));
	/* IPv6 addresses are notified by the kernel itself (no requester) */
	request(&r, RTM_NEWADDR, AF_INET6, 22);
	r.ifindex = 2;
	r.dst_len = 64;
	inet_pton(AF_INET6, "2001:db8::7", r.dst);
	n = addr_msg(0, RTM_NEWADDR, AF_INET6, "2001:db8::7", 64, 2, 0, 0);
	assert_true(nw_quarantine_match(&r, n));
	r.dst_len = 48;			/* an add gives the prefix length it made */
	assert_false(nw_quarantine_match(&r, n));
}

static struct nlmsghdr *link_msg(int slot, uint16_t type, int ifindex, unsigned flags,
				 unsigned change)
{
	struct nlmsghdr *nlh = msg(slot, type, 0, 0);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "qv0");
	mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
	return nlh;
}

static void test_link_match(void **state)
{
	struct nw_rtnl_request r;

	(void)state;
	/* ip link add: made, not changed */
	request(&r, RTM_NEWLINK, AF_UNSPEC, 31);
	r.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	assert_true(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 7, 0x1002, ~0u)));
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 7, 0x1003, IFF_UP)));
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_DELLINK, 7, 0x1002, ~0u)));
	/* ip link set dev 2 down */
	request(&r, RTM_NEWLINK, AF_UNSPEC, 32);
	r.ifindex = 2;
	r.ifchange = IFF_UP;
	assert_true(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 2, 0x1002, IFF_UP)));
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 3, 0x1002, IFF_UP)));
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 2, 0x11043, 0)));
	r.nlmsg_type = RTM_SETLINK;
	assert_true(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 2, 0x1002, IFF_UP)));
	/* an empty RTM_NEWLINK (iproute2's probe) names no link: never matches */
	request(&r, RTM_NEWLINK, AF_UNSPEC, 33);
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 2, 0x1002, IFF_UP)));
	/* ip link del */
	request(&r, RTM_DELLINK, AF_UNSPEC, 34);
	r.ifindex = 7;
	assert_true(nw_quarantine_match(&r, link_msg(0, RTM_DELLINK, 7, 0x1002, ~0u)));
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 7, 0x1002, ~0u)));
	/* a GET is never a change */
	request(&r, RTM_GETLINK, AF_UNSPEC, 35);
	assert_false(nw_quarantine_match(&r, link_msg(0, RTM_NEWLINK, 7, 0x1002, ~0u)));
}

/* --- reverts ------------------------------------------------------------------ */

static char out[8192];

static void test_revert_rule(void **state)
{
	struct nlmsghdr *n, *m;
	struct fib_rule_hdr *frh;
	bool readd;

	(void)state;
	n = rule_msg(0, RTM_NEWRULE, AF_INET, 123, 77, 1000, 555);
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_false(readd);
	assert_int_equal(m->nlmsg_type, RTM_DELRULE);
	assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST);
	assert_int_equal(m->nlmsg_len, n->nlmsg_len);
	/* the payload as notified */
	assert_memory_equal(mnl_nlmsg_get_payload(m), mnl_nlmsg_get_payload(n),
			    n->nlmsg_len - NLMSG_HDRLEN);
	/* a deleted rule comes back exclusively, without kernel-owned flags */
	n = rule_msg(0, RTM_DELRULE, AF_INET6, 5, 300, 1, 1);
	((struct fib_rule_hdr *)mnl_nlmsg_get_payload(n))->flags =
		FIB_RULE_INVERT | FIB_RULE_UNRESOLVED | FIB_RULE_IIF_DETACHED;
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_true(readd);
	assert_int_equal(m->nlmsg_type, RTM_NEWRULE);
	assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
	frh = mnl_nlmsg_get_payload(m);
	assert_int_equal(frh->flags, FIB_RULE_INVERT);
	assert_int_equal(frh->family, AF_INET6);
	/* too small a buffer */
	assert_int_equal(nw_quarantine_revert_msg(n, out, 20, &m, &readd), -E2BIG);
}

static void test_revert_route(void **state)
{
	struct nlmsghdr *n, *m;
	struct nw_rt a, b;
	bool readd;

	(void)state;
	n = route_msg(0, RTM_DELROUTE, AF_INET, NULL, 0, "192.0.2.1", 2, 254, 0, 11, 3);
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_true(readd);
	assert_int_equal(m->nlmsg_type, RTM_NEWROUTE);
	assert_true(m->nlmsg_flags & NLM_F_CREATE);
	assert_true(m->nlmsg_flags & NLM_F_EXCL);
	assert_int_equal(nw_rt_parse(n, &a), 0);
	assert_int_equal(nw_rt_parse(m, &b), 0);
	assert_true(nw_rt_equal(&a, &b));		/* exactly what was deleted */
	n = route_msg(0, RTM_NEWROUTE, AF_INET6, "2001:db8:5::", 48, "2001:db8::1", 2, 100, 7, 1, 1);
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_false(readd);
	assert_int_equal(m->nlmsg_type, RTM_DELROUTE);
	assert_false(m->nlmsg_flags & NLM_F_CREATE);
	assert_int_equal(nw_rt_parse(n, &a), 0);
	assert_int_equal(nw_rt_parse(m, &b), 0);
	assert_true(nw_rt_same_key(&a, &b));
}

static void test_revert_addr(void **state)
{
	struct nlmsghdr *n, *m;
	bool readd;

	(void)state;
	n = addr_msg(0, RTM_NEWADDR, AF_INET, "198.51.100.7", 24, 2, 1, 1);
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_false(readd);
	assert_int_equal(m->nlmsg_type, RTM_DELADDR);
	assert_memory_equal(mnl_nlmsg_get_payload(m), mnl_nlmsg_get_payload(n),
			    n->nlmsg_len - NLMSG_HDRLEN);
	n = addr_msg(0, RTM_DELADDR, AF_INET6, "2001:db8::7", 64, 2, 0, 0);
	assert_int_equal(nw_quarantine_revert_msg(n, out, sizeof(out), &m, &readd), 0);
	assert_true(readd);
	assert_int_equal(m->nlmsg_type, RTM_NEWADDR);
	assert_int_equal(m->nlmsg_flags, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL);
}

static void test_revert_link(void **state)
{
	struct nlmsghdr *m;
	struct ifinfomsg *ifi;
	bool readd;

	(void)state;
	/* made: deleted by index */
	assert_int_equal(nw_quarantine_revert_msg(link_msg(0, RTM_NEWLINK, 7, 0x1002, ~0u), out,
						  sizeof(out), &m, &readd), 0);
	assert_int_equal(m->nlmsg_type, RTM_DELLINK);
	ifi = mnl_nlmsg_get_payload(m);
	assert_int_equal(ifi->ifi_index, 7);
	assert_int_equal(m->nlmsg_len, NLMSG_HDRLEN + sizeof(*ifi));
	/* taken down: up again */
	assert_int_equal(nw_quarantine_revert_msg(link_msg(0, RTM_NEWLINK, 2, 0x1002, IFF_UP), out,
						  sizeof(out), &m, &readd), 0);
	assert_int_equal(m->nlmsg_type, RTM_NEWLINK);
	ifi = mnl_nlmsg_get_payload(m);
	assert_int_equal(ifi->ifi_index, 2);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	/* taken up: down again */
	assert_int_equal(nw_quarantine_revert_msg(link_msg(0, RTM_NEWLINK, 2, 0x1003, IFF_UP), out,
						  sizeof(out), &m, &readd), 0);
	ifi = mnl_nlmsg_get_payload(m);
	assert_int_equal(ifi->ifi_flags, 0);
	/* other changes and deletions cannot be undone */
	assert_int_equal(nw_quarantine_revert_msg(link_msg(0, RTM_NEWLINK, 2, 0x1003, 0), out,
						  sizeof(out), &m, &readd), -EOPNOTSUPP);
	assert_int_equal(nw_quarantine_revert_msg(link_msg(0, RTM_DELLINK, 7, 0x1002, ~0u), out,
						  sizeof(out), &m, &readd), -EOPNOTSUPP);
	/* a neighbour change is not ours */
	assert_int_equal(nw_quarantine_revert_msg(msg(0, RTM_NEWNEIGH, 0, 0), out, sizeof(out),
						  &m, &readd), -EOPNOTSUPP);
}

static void test_rtm_names(void **state)
{
	char buf[16];

	(void)state;
	assert_string_equal(nw_rtm_name(RTM_NEWRULE, buf), "RTM_NEWRULE");
	assert_string_equal(nw_rtm_name(RTM_DELROUTE, buf), "RTM_DELROUTE");
	assert_string_equal(nw_rtm_name(RTM_SETLINK, buf), "RTM_SETLINK");
	assert_string_equal(nw_rtm_name(104, buf), "RTM_104");
	assert_string_equal(nw_rtm_name(65535, buf), "RTM_65535");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get_del, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_list_sorted, map_setup, map_teardown),
		cmocka_unit_test_setup_teardown(test_foreach_stops, map_setup, map_teardown),
		cmocka_unit_test(test_map_full),
		cmocka_unit_test(test_map_open_missing),
		cmocka_unit_test(test_rule_match),
		cmocka_unit_test(test_rule_match_selectors),
		cmocka_unit_test(test_route_match),
		cmocka_unit_test(test_addr_match),
		cmocka_unit_test(test_link_match),
		cmocka_unit_test(test_revert_rule),
		cmocka_unit_test(test_revert_route),
		cmocka_unit_test(test_revert_addr),
		cmocka_unit_test(test_revert_link),
		cmocka_unit_test(test_rtm_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
