// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for what netwardd decodes from the kernel:
 *
 *  - ring buffer records (nw_event_decode, user/events.c), then what
 *    netwardd does with a decoded event: the log summary, the JSON text,
 *    the history;
 *  - rtnetlink messages (nw_rt_parse, nw_rule_parse, nw_link_parse,
 *    user/rtnl.c), then the names the guard logs and the restore request
 *    it would build from what it parsed.
 *
 * Input: the first byte chooses (bit 0): 0 = one ring buffer record (the
 * rest of the input, as libbpf hands it to the callback), 1 = a netlink
 * datagram (the rest: one or more messages, walked as libmnl's callback
 * runner does; a message is only parsed when its nlmsg_len is at least
 * its header and fits the bytes left).
 *
 * Each part is copied to a buffer of exactly its size (malloc: aligned as
 * recv() and the ring buffer are; AddressSanitizer sees any over-read).
 *
 * Oracles beyond memory safety and leaks: a route or rule that parses is
 * built back into the request a restore sends (nw_rt_build /
 * nw_rule_build); that request must parse again and describe the same
 * route (nw_rt_equal, when the route does not use a nexthop object: the
 * request then carries only RTA_NH_ID; and when its single nexthop has a
 * gateway or a device, as every route the kernel reports does) or the same
 * rule (nw_rule_equal).
 *
 * cgroup ids are not resolved to paths (cg_mount NULL): that is file
 * system I/O (open_by_handle_at), not decoding.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "events.h"
#include "log.h"
#include "rtnl.h"

static struct nw_history hist;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	nw_log_set_level(LOG_EMERG);
	/* a small history: its ring wraps within a run (the daemon's: log.history) */
	if (nw_history_init(&hist, 8))
		abort();
	return 0;
}

static void ring_record(const uint8_t *data, size_t size)
{
	char summary[512], *text;
	cJSON *ev;
	void *rec;

	/* libbpf never hands out an empty record; malloc(0) may return NULL */
	if (!(rec = malloc(size ? size : 1)))
		return;
	memcpy(rec, data, size);
	ev = nw_event_decode(rec, size, NULL);
	if (ev) {
		const struct nw_event_hdr *h = rec;

		nw_event_summary(ev, summary, sizeof(summary));
		if (!memchr(summary, 0, sizeof(summary)))
			abort();
		text = cJSON_PrintUnformatted(ev);
		if (text) {
			if (nw_event_type_public(h->type))
				nw_history_add(&hist, h->type, text);
			free(text);
		}
		cJSON_Delete(ev);
	}
	free(rec);
}

static void route(const struct nlmsghdr *nlh)
{
	static uint8_t buf[NW_RTNL_MSG_MAX];
	struct nw_rt rt, again;
	struct nlmsghdr *req;
	char s[128], t[12], p[4];
	bool nh_real;

	if (nw_rt_parse(nlh, &rt))
		return;
	nw_rt_dst_str(&rt, s, sizeof(s));
	nw_rt_table_name(rt.table, t);
	nw_rt_proto_name(rt.protocol, p);
	for (unsigned i = 0; i < rt.n_nh; i++)
		nw_addr_str(rt.nh[i].gw_family, rt.nh[i].gateway, s, sizeof(s));
	if (rt.n_nh > NW_RT_MAX_NH || rt.metrics_len > NW_RT_METRICS_MAX)
		abort();

	req = nw_rt_build(&rt, buf, sizeof(buf), RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, 1);
	if (!req || req->nlmsg_len > sizeof(buf))
		abort();	/* any route parsed fits one request */
	if (nw_rt_parse(req, &again))
		abort();
	if (!nw_rt_same_key(&rt, &again) || rt.protocol != again.protocol ||
	    rt.scope != again.scope || rt.type != again.type ||
	    rt.metrics_len != again.metrics_len ||
	    memcmp(rt.metrics, again.metrics, rt.metrics_len))
		abort();
	nh_real = rt.multipath || !rt.n_nh || rt.nh[0].gw_family || rt.nh[0].ifindex;
	if (!rt.nh_id && nh_real && !nw_rt_equal(&rt, &again))
		abort();
}

static void rule(const struct nlmsghdr *nlh)
{
	static uint8_t buf[NW_RTNL_MSG_MAX];
	struct nw_rule r, again;
	struct nlmsghdr *req;
	char s[512], a[4];

	if (nw_rule_parse(nlh, &r))
		return;
	nw_rule_str(&r, s, sizeof(s));
	if (!memchr(s, 0, sizeof(s)))
		abort();
	nw_rule_action_name(r.action, a);
	if (!memchr(r.iifname, 0, sizeof(r.iifname)) || !memchr(r.oifname, 0, sizeof(r.oifname)))
		abort();

	req = nw_rule_build(&r, buf, sizeof(buf), RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, 1);
	if (!req || req->nlmsg_len > sizeof(buf))
		abort();
	if (nw_rule_parse(req, &again) || !nw_rule_equal(&r, &again))
		abort();
}

static void link_msg(const struct nlmsghdr *nlh)
{
	struct nw_link l;

	if (nw_link_parse(nlh, &l) == 0 && !memchr(l.name, 0, sizeof(l.name)))
		abort();
}

static void netlink(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh;
	size_t left = size, step;
	uint8_t *buf, *p;

	if (size > 65536 || !(buf = malloc(size ? size : 1)))
		return;
	memcpy(buf, data, size);
	/* the header fits, nlmsg_len >= the header and <= what is left. Not
	 * mnl_nlmsg_ok(): libmnl 1.0.4 compares (int)nlmsg_len, so a length
	 * of 2 GiB or more passes it and mnl_nlmsg_next() jumps off the
	 * buffer (corpus: regress-nlmsg-len-2g) */
	for (p = buf; left >= sizeof(*nlh); p += step, left -= step) {
		nlh = (const struct nlmsghdr *)p;
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			break;
		route(nlh);
		rule(nlh);
		link_msg(nlh);
		if ((step = NLMSG_ALIGN(nlh->nlmsg_len)) >= left)
			break;
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		netlink(data + 1, size - 1);
	else
		ring_record(data + 1, size - 1);
	return 0;
}
