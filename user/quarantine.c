// SPDX-License-Identifier: GPL-2.0-only
/*
 * Quarantine, netwardd's side: reverts what a killed writer's request did.
 * See quarantine.h for the what; the how:
 *
 * - A killed request (nw_rtnl_request.quarantined == 1) is kept pending for
 *   window_ms. Its change becomes visible only after the tracepoint fired,
 *   as a notification on our monitor socket, which carries the whole object:
 *   the revert is built from it, never from the request (which may give
 *   only a priority, or a prefix).
 * - The daemon drains the BPF ring buffer before each batch of
 *   notifications (ops.drain_requests): the request was submitted before
 *   the kernel made the change, so it is known by then. Without that hook,
 *   or if a request is late anyway, the notifications of the last second are
 *   kept and searched when the request arrives.
 * - A notification reverts at most one request and the other way round; a
 *   notification older than the request never matches it.
 * - Requests that changed nothing (they failed: EEXIST, ENOENT ...) expire
 *   and are reported as such.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include "cgroup.h"
#include "events.h"
#include "quarantine.h"
#include "quarantine_map.h"
#include "rtnl.h"
#include "util.h"

#define MAX_PENDING 256
#define RECENT 128			/* notifications kept for late requests */
#define RECENT_MAX_LEN 4096		/* ... of at most this size (links: the header) */
#define DEFAULT_WINDOW_MS 1000
#define REQ_TIMEOUT_MS 200
#define MON_BUF (64 * 1024)
#define MON_RCVBUF (4 * 1024 * 1024)
#define MON_BATCH 256
#define TICK_US 100000			/* expiry check while requests are pending */
#define NSEC_PER_MSEC 1000000ull

struct pending {
	struct nw_rtnl_request r;
	uint64_t noted_ns;		/* CLOCK_BOOTTIME */
	uint64_t enobufs;		/* q->enobufs when noted */
	bool live;
};

struct recent {
	uint64_t ts_ns;			/* CLOCK_BOOTTIME when read */
	size_t len;
	struct nlmsghdr *msg;		/* NULL: empty slot or used */
};

struct nw_quarantine {
	sd_event *e;
	struct nw_quarantine_ops ops;
	void *ud;
	char path[24];
	char *pin_dir, *cg_mount;
	bool dry_run;
	uint64_t window_ns;
	int rcvbuf;
	uint32_t netns;
	struct mnl_socket *mon;
	struct nw_rtnl *req;
	char *buf;
	sd_event_source *mon_src, *tick_src;
	struct pending pending[MAX_PENDING];
	size_t n_pending;		/* live ones */
	struct recent recent[RECENT];
	size_t recent_next;
	uint32_t last_tid;		/* the last killed request's thread and index */
	uint8_t last_index;
	uint64_t kills, denied, reverted, revert_failures, not_revertible, unmatched, enobufs,
		 dropped;
};

static uint64_t boot_ns(void)
{
	return nw_now_ns(CLOCK_BOOTTIME);
}

/* --- names ------------------------------------------------------------------ */

const char *nw_rtm_name(uint16_t type, char buf[16])
{
	static const char *const names[] = {
		[RTM_NEWLINK] = "RTM_NEWLINK", [RTM_DELLINK] = "RTM_DELLINK",
		[RTM_GETLINK] = "RTM_GETLINK", [RTM_SETLINK] = "RTM_SETLINK",
		[RTM_NEWADDR] = "RTM_NEWADDR", [RTM_DELADDR] = "RTM_DELADDR",
		[RTM_GETADDR] = "RTM_GETADDR",
		[RTM_NEWROUTE] = "RTM_NEWROUTE", [RTM_DELROUTE] = "RTM_DELROUTE",
		[RTM_GETROUTE] = "RTM_GETROUTE",
		[RTM_NEWNEIGH] = "RTM_NEWNEIGH", [RTM_DELNEIGH] = "RTM_DELNEIGH",
		[RTM_NEWRULE] = "RTM_NEWRULE", [RTM_DELRULE] = "RTM_DELRULE",
		[RTM_GETRULE] = "RTM_GETRULE",
	};

	if (type < NW_ARRAY_SIZE(names) && names[type])
		return names[type];
	snprintf(buf, 16, "RTM_%u", type);
	return buf;
}

static const char *kind_of(uint16_t type)
{
	switch (type) {
	case RTM_NEWROUTE: case RTM_DELROUTE: return "route";
	case RTM_NEWRULE: case RTM_DELRULE: return "rule";
	case RTM_NEWADDR: case RTM_DELADDR: return "addr";
	case RTM_NEWLINK: case RTM_DELLINK: case RTM_SETLINK: return "link";
	}
	return NULL;
}

static int family_num(uint8_t af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0;
}

static size_t alen(uint8_t af)
{
	return af == AF_INET ? 4 : af == AF_INET6 ? 16 : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* --- the notification's side of a match ------------------------------------- */

/* What a rule or address notification says, for matching. */
struct nfields {
	uint8_t family, dst_len, src_len, action;
	uint32_t table, priority, fwmark;
	bool has_uid;
	uint32_t uid_start, uid_end;
	uint8_t dst[16];
	/* addresses */
	int ifindex;
	bool has_local, has_address;
	uint8_t local[16], address[16];
};

static int parse_rule_fields(const struct nlmsghdr *nlh, struct nfields *f)
{
	const struct fib_rule_hdr *frh;
	const struct nlattr *a;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return -EBADMSG;
	frh = mnl_nlmsg_get_payload(nlh);
	memset(f, 0, sizeof(*f));
	f->family = frh->family;
	f->dst_len = frh->dst_len;
	f->src_len = frh->src_len;
	f->action = frh->action;
	f->table = frh->table;
	mnl_attr_for_each(a, nlh, sizeof(*frh)) {
		uint16_t len = mnl_attr_get_payload_len(a);
		const void *p = mnl_attr_get_payload(a);

		switch (mnl_attr_get_type(a)) {
		case FRA_TABLE:
			if (len == 4)
				memcpy(&f->table, p, 4);
			break;
		case FRA_PRIORITY:
			if (len == 4)
				memcpy(&f->priority, p, 4);
			break;
		case FRA_FWMARK:
			if (len == 4)
				memcpy(&f->fwmark, p, 4);
			break;
		case FRA_DST:
			if (len <= 16)
				memcpy(f->dst, p, len);
			break;
		case FRA_UID_RANGE:
			if (len == 8) {
				f->has_uid = true;
				memcpy(&f->uid_start, p, 4);
				memcpy(&f->uid_end, (const uint8_t *)p + 4, 4);
			}
			break;
		}
	}
	return 0;
}

static int parse_addr_fields(const struct nlmsghdr *nlh, struct nfields *f)
{
	const struct ifaddrmsg *ifa;
	const struct nlattr *a;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	memset(f, 0, sizeof(*f));
	f->family = ifa->ifa_family;
	f->dst_len = ifa->ifa_prefixlen;
	f->ifindex = (int)ifa->ifa_index;
	mnl_attr_for_each(a, nlh, sizeof(*ifa)) {
		uint16_t len = mnl_attr_get_payload_len(a);

		if (len != alen(f->family))
			continue;
		if (mnl_attr_get_type(a) == IFA_LOCAL) {
			f->has_local = true;
			memcpy(f->local, mnl_attr_get_payload(a), len);
		} else if (mnl_attr_get_type(a) == IFA_ADDRESS) {
			f->has_address = true;
			memcpy(f->address, mnl_attr_get_payload(a), len);
		}
	}
	return 0;
}

static bool match_rule(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh)
{
	struct nfields f;

	if (parse_rule_fields(nlh, &f) || f.family != r->family)
		return false;
	if (r->table && f.table != r->table)
		return false;
	if (r->priority && f.priority != r->priority)
		return false;
	if (r->rtm_type && f.action != r->rtm_type)
		return false;
	if (r->dst_len && (f.dst_len != r->dst_len || !nw_prefix_equal(f.dst, r->dst, r->dst_len)))
		return false;
	if (r->src_len && f.src_len != r->src_len)
		return false;
	if (r->fwmark && f.fwmark != r->fwmark)
		return false;
	if (r->uid_start != ~0u &&
	    (!f.has_uid || f.uid_start != r->uid_start || f.uid_end != r->uid_end))
		return false;
	return true;
}

static bool match_route(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh)
{
	struct nw_rt *rt = malloc(sizeof(*rt));
	size_t n = alen(r->family);
	bool ok = false;

	if (!rt)
		return false;
	/* an lwtunnel route nw_rt_parse refuses cannot be matched on its nexthops */
	if (nw_rt_parse(nlh, rt) || rt->family != r->family || rt->dst_len != r->dst_len ||
	    !nw_prefix_equal(rt->dst, r->dst, r->dst_len))
		goto out;
	if (rt->table != (r->table ? r->table : RT_TABLE_MAIN))
		goto out;
	if (r->priority && rt->priority != r->priority)
		goto out;
	if (r->rtm_type && rt->type != r->rtm_type)
		goto out;
	if (n && !all_zero(r->gateway, n)) {
		bool found = false;

		for (unsigned i = 0; i < rt->n_nh && !found; i++)
			found = rt->nh[i].gw_family == r->family && !memcmp(rt->nh[i].gateway, r->gateway, n);
		if (!found)
			goto out;
	}
	if (r->ifindex > 0) {
		bool found = false;

		for (unsigned i = 0; i < rt->n_nh && !found; i++)
			found = rt->nh[i].ifindex == r->ifindex;
		if (!found)
			goto out;
	}
	ok = true;
out:
	free(rt);
	return ok;
}

static bool match_addr(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh)
{
	struct nfields f;
	size_t n = alen(r->family);

	if (parse_addr_fields(nlh, &f) || f.family != r->family || !n)
		return false;
	if (r->ifindex > 0 && f.ifindex != r->ifindex)
		return false;
	if (r->nlmsg_type == RTM_NEWADDR && r->dst_len && f.dst_len != r->dst_len)
		return false;
	if (!all_zero(r->dst, n) && !(f.has_local && !memcmp(f.local, r->dst, n)) &&
	    !(f.has_address && !memcmp(f.address, r->dst, n)))
		return false;
	return true;
}

static bool match_link(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return false;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (r->ifindex > 0 && ifi->ifi_index != r->ifindex)
		return false;
	if (nlh->nlmsg_type == RTM_DELLINK)
		return r->nlmsg_type == RTM_DELLINK;
	if (r->nlmsg_type == RTM_NEWLINK && (r->nlmsg_flags & NLM_F_CREATE) && !r->ifindex)
		return ifi->ifi_change == ~0u;		/* a link made, not changed */
	/* a change of an existing link: by index only */
	return r->ifindex > 0 && ifi->ifi_change != ~0u &&
	       (!(r->ifchange & IFF_UP) || (ifi->ifi_change & IFF_UP));
}

bool nw_quarantine_match(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh)
{
	uint16_t want;

	switch (r->nlmsg_type) {
	case RTM_SETLINK:
		want = RTM_NEWLINK;
		break;
	case RTM_NEWLINK: case RTM_DELLINK: case RTM_NEWADDR: case RTM_DELADDR:
	case RTM_NEWROUTE: case RTM_DELROUTE: case RTM_NEWRULE: case RTM_DELRULE:
		want = r->nlmsg_type;
		break;
	default:
		return false;
	}
	if (nlh->nlmsg_type != want)
		return false;
	/* a notification caused by a request carries its port id and sequence
	 * number; the kernel's own (link events, IPv6 addresses) carry 0 */
	if (nlh->nlmsg_pid && nlh->nlmsg_seq != r->nlmsg_seq)
		return false;
	switch (want) {
	case RTM_NEWRULE: case RTM_DELRULE:
		return match_rule(r, nlh);
	case RTM_NEWROUTE: case RTM_DELROUTE:
		return match_route(r, nlh);
	case RTM_NEWADDR: case RTM_DELADDR:
		return match_addr(r, nlh);
	default:
		return match_link(r, nlh);
	}
}

/* --- reverts ---------------------------------------------------------------- */

/* nlh's payload under another type and flags */
static int copy_as(const struct nlmsghdr *nlh, void *buf, size_t size, uint16_t type,
		   uint16_t flags, struct nlmsghdr **out)
{
	struct nlmsghdr *m;

	if (nlh->nlmsg_len < NLMSG_HDRLEN || nlh->nlmsg_len > size)
		return nlh->nlmsg_len < NLMSG_HDRLEN ? -EBADMSG : -E2BIG;
	memcpy(buf, nlh, nlh->nlmsg_len);
	m = buf;
	m->nlmsg_type = type;
	m->nlmsg_flags = NLM_F_REQUEST | flags;
	m->nlmsg_seq = 0;
	m->nlmsg_pid = 0;
	*out = m;
	return 0;
}

static int revert_route(const struct nlmsghdr *nlh, void *buf, size_t size,
			struct nlmsghdr **out, bool readd)
{
	struct nw_rt *rt = malloc(sizeof(*rt));
	uint16_t type = readd ? RTM_NEWROUTE : RTM_DELROUTE;
	uint16_t flags = readd ? NLM_F_CREATE | NLM_F_EXCL : 0;
	int r;

	if (!rt)
		return -ENOMEM;
	r = nw_rt_parse(nlh, rt);
	if (r == 0) {
		*out = nw_rt_build(rt, buf, size, type, NLM_F_REQUEST | flags, 0);
		r = *out ? 0 : -E2BIG;
	} else if (r == -EOPNOTSUPP || r == -E2BIG) {
		/* encapsulation, many nexthops: the payload as it came */
		r = copy_as(nlh, buf, size, type, flags, out);
	}
	free(rt);
	return r;
}

static int revert_link(const struct nlmsghdr *nlh, void *buf, size_t size,
		       struct nlmsghdr **out)
{
	const struct ifinfomsg *ifi;
	struct nlmsghdr *m;
	struct ifinfomsg *o;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	ifi = mnl_nlmsg_get_payload(nlh);
	if (nlh->nlmsg_type == RTM_DELLINK)
		return -EOPNOTSUPP;		/* what made it is not known */
	if (size < NLMSG_HDRLEN + sizeof(*o))
		return -E2BIG;
	memset(buf, 0, NLMSG_HDRLEN + sizeof(*o));
	m = mnl_nlmsg_put_header(buf);
	o = mnl_nlmsg_put_extra_header(m, sizeof(*o));
	o->ifi_family = AF_UNSPEC;
	o->ifi_index = ifi->ifi_index;
	if (ifi->ifi_change == ~0u) {
		m->nlmsg_type = RTM_DELLINK;	/* made by the request: delete it */
	} else if (ifi->ifi_change & IFF_UP) {
		m->nlmsg_type = RTM_NEWLINK;	/* taken up or down: the other way */
		o->ifi_change = IFF_UP;
		o->ifi_flags = ifi->ifi_flags & IFF_UP ? 0 : IFF_UP;
	} else {
		return -EOPNOTSUPP;		/* mtu, name, master ...: not known before */
	}
	m->nlmsg_flags = NLM_F_REQUEST;
	*out = m;
	return 0;
}

int nw_quarantine_revert_msg(const struct nlmsghdr *nlh, void *buf, size_t size,
			     struct nlmsghdr **out, bool *readd)
{
	struct fib_rule_hdr *frh;
	int r;

	*readd = false;
	switch (nlh->nlmsg_type) {
	case RTM_NEWRULE:
		return copy_as(nlh, buf, size, RTM_DELRULE, 0, out);
	case RTM_DELRULE:
		*readd = true;
		if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
			return -EBADMSG;
		if ((r = copy_as(nlh, buf, size, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, out)))
			return r;
		/* kernel-owned flags (unresolved, detached) are refused */
		frh = mnl_nlmsg_get_payload(*out);
		frh->flags &= FIB_RULE_INVERT;
		return 0;
	case RTM_NEWROUTE:
		return revert_route(nlh, buf, size, out, false);
	case RTM_DELROUTE:
		*readd = true;
		return revert_route(nlh, buf, size, out, true);
	case RTM_NEWADDR:
		return copy_as(nlh, buf, size, RTM_DELADDR, 0, out);
	case RTM_DELADDR:
		*readd = true;
		return copy_as(nlh, buf, size, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, out);
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return revert_link(nlh, buf, size, out);
	}
	return -EOPNOTSUPP;
}

/* --- events ----------------------------------------------------------------- */

static void add_request(cJSON *ev, const struct nw_rtnl_request *r)
{
	char name[16], a[INET6_ADDRSTRLEN], dev[IF_NAMESIZE];
	const char *kind = kind_of(r->nlmsg_type);
	size_t n = alen(r->family);

	cJSON_AddNumberToObject(ev, "pid", r->hdr.tgid);
	cJSON_AddNumberToObject(ev, "tid", r->hdr.pid);
	{
		char comm[NW_COMM_LEN + 1];

		memcpy(comm, r->hdr.comm, NW_COMM_LEN);
		comm[NW_COMM_LEN] = 0;
		cJSON_AddStringToObject(ev, "comm", comm);
	}
	cJSON_AddNumberToObject(ev, "uid", r->hdr.uid);
	cJSON_AddNumberToObject(ev, "cgroup_id", (double)r->hdr.cgroup_id);
	cJSON_AddStringToObject(ev, "request", nw_rtm_name(r->nlmsg_type, name));
	if (kind)
		cJSON_AddStringToObject(ev, "kind", kind);
	cJSON_AddNumberToObject(ev, "family", family_num(r->family));
	if (r->index || r->more)
		cJSON_AddNumberToObject(ev, "index", r->index);
	if (!kind)
		return;
	if (!strcmp(kind, "route") || !strcmp(kind, "rule")) {
		if (r->table)
			cJSON_AddNumberToObject(ev, "table", r->table);
		if (r->priority)
			cJSON_AddNumberToObject(ev, !strcmp(kind, "rule") ? "priority" : "metric",
						r->priority);
		if (n && (r->dst_len || !strcmp(kind, "route"))) {
			char d[INET6_ADDRSTRLEN + 4];

			inet_ntop(r->family, r->dst, a, sizeof(a));
			if (!r->dst_len && !strcmp(kind, "route"))
				snprintf(d, sizeof(d), "default");
			else
				snprintf(d, sizeof(d), "%s/%u", a, r->dst_len);
			cJSON_AddStringToObject(ev, "dst", d);
		}
	}
	if (!strcmp(kind, "route") && n && !all_zero(r->gateway, n)) {
		inet_ntop(r->family, r->gateway, a, sizeof(a));
		cJSON_AddStringToObject(ev, "gateway", a);
	}
	if (!strcmp(kind, "rule")) {
		if (r->fwmark)
			cJSON_AddNumberToObject(ev, "fwmark", r->fwmark);
		if (r->uid_start != ~0u) {
			char u[32];

			snprintf(u, sizeof(u), "%u-%u", r->uid_start, r->uid_end);
			cJSON_AddStringToObject(ev, "uid_range", u);
		}
	}
	if (!strcmp(kind, "addr") && n && !all_zero(r->dst, n)) {
		char d[INET6_ADDRSTRLEN + 4];

		inet_ntop(r->family, r->dst, a, sizeof(a));
		snprintf(d, sizeof(d), "%s/%u", a, r->dst_len);
		cJSON_AddStringToObject(ev, "addr", d);
	}
	if ((!strcmp(kind, "route") || !strcmp(kind, "addr") || !strcmp(kind, "link")) &&
	    r->ifindex > 0) {
		cJSON_AddNumberToObject(ev, "ifindex", r->ifindex);
		if (nw_ifname(r->ifindex, dev) == 0)
			cJSON_AddStringToObject(ev, "dev", dev);
	}
}

static cJSON *new_event(struct nw_quarantine *q, const struct nw_rtnl_request *r,
			const char *action)
{
	cJSON *ev = nw_event_new(NW_EV_QUARANTINED, r->hdr.netns ? r->hdr.netns : q->netns);

	if (!ev)
		return NULL;
	cJSON_AddStringToObject(ev, "action", action);
	add_request(ev, r);
	cJSON_AddStringToObject(ev, "path", q->path);
	return ev;
}

static void emit(struct nw_quarantine *q, cJSON *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void emit(struct nw_quarantine *q, cJSON *ev, const char *fmt, ...)
{
	va_list ap;

	if (!ev)
		return;
	va_start(ap, fmt);
	nw_event_message(ev, fmt, ap);
	va_end(ap);
	if (q->ops.emit)
		q->ops.emit(q->ud, NW_EV_QUARANTINED, ev);
	cJSON_Delete(ev);
}

/* --- pending requests and their changes ------------------------------------- */

static void arm_tick(struct nw_quarantine *q)
{
	uint64_t now;

	if (!q->tick_src || sd_event_now(q->e, CLOCK_BOOTTIME, &now) < 0)
		return;
	sd_event_source_set_time(q->tick_src, now + TICK_US);
	sd_event_source_set_enabled(q->tick_src, SD_EVENT_ONESHOT);
}

static void revert(struct nw_quarantine *q, struct pending *p, const struct nlmsghdr *nlh)
{
	char name[16], rbuf[16], ext[160] = "";
	struct nlmsghdr *m = NULL;
	bool readd = false;
	const char *what, *rname;
	uint64_t lat;
	cJSON *ev;
	int r;

	p->live = false;
	q->n_pending--;
	r = nw_quarantine_revert_msg(nlh, q->buf + MON_BUF, NW_RTNL_MSG_MAX, &m, &readd);
	what = nw_rtm_name(nlh->nlmsg_type, name);
	if (r == -EOPNOTSUPP) {
		q->not_revertible++;
		ev = new_event(q, &p->r, "not_revertible");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddStringToObject(ev, "change", what);
		cJSON_AddStringToObject(ev, "revert_error",
					nlh->nlmsg_type == RTM_DELLINK
						? "a deleted link cannot be made again"
						: "only the creation and the up/down state of a link "
						  "are reverted");
		emit(q, ev, "%s of a killed writer cannot be reverted", what);
		return;
	}
	if (r) {
		q->revert_failures++;
		ev = new_event(q, &p->r, "revert_failed");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddStringToObject(ev, "change", what);
		cJSON_AddStringToObject(ev, "revert_error", strerror(-r));
		emit(q, ev, "%s of a killed writer: building its revert failed: %s", what,
		     strerror(-r));
		return;
	}
	rname = nw_rtm_name(m->nlmsg_type, rbuf);
	if (q->dry_run) {
		ev = new_event(q, &p->r, "would_revert");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddBoolToObject(ev, "dry_run", 1);
		cJSON_AddStringToObject(ev, "change", what);
		cJSON_AddStringToObject(ev, "revert", rname);
		emit(q, ev, "%s of a killed writer: dry-run, not reverted with %s", what, rname);
		return;
	}
	r = nw_rtnl_request(q->req, m, REQ_TIMEOUT_MS, ext, sizeof(ext));
	lat = boot_ns();
	lat = lat > p->r.hdr.ts_ns ? (lat - p->r.hdr.ts_ns) / 1000 : 0;
	/* re-added by somebody else first, or already gone again: as it was */
	if ((readd && r == -EEXIST) ||
	    (!readd && (r == -ENOENT || r == -ESRCH || r == -EADDRNOTAVAIL || r == -ENODEV)))
		r = 0;
	ev = new_event(q, &p->r, r ? "revert_failed" : "reverted");
	cJSON_AddBoolToObject(ev, "reverted", !r);
	cJSON_AddStringToObject(ev, "change", what);
	cJSON_AddStringToObject(ev, "revert", rname);
	cJSON_AddNumberToObject(ev, "latency_us", (double)lat);
	if ((p->r.nlmsg_flags & NLM_F_REPLACE) && nlh->nlmsg_type != RTM_DELROUTE &&
	    nlh->nlmsg_type != RTM_DELRULE && nlh->nlmsg_type != RTM_DELADDR)
		cJSON_AddStringToObject(ev, "note", "the request replaced an object whose previous "
					"version is not known: it was deleted");
	if (r) {
		char e[256];

		q->revert_failures++;
		snprintf(e, sizeof(e), "%s%s%s", strerror(-r), ext[0] ? ": " : "", ext);
		cJSON_AddStringToObject(ev, "revert_error", e);
		emit(q, ev, "%s of a killed writer: revert with %s failed: %s", what, rname, e);
	} else {
		q->reverted++;
		emit(q, ev, "%s of a killed writer reverted with %s", what, rname);
	}
}

/* A better candidate: the notification names the request's process as its
 * sender (a process's first netlink socket gets its pid as port id), then
 * the older request. */
static bool better(const struct nw_rtnl_request *a, const struct nw_rtnl_request *b,
		   const struct nlmsghdr *nlh)
{
	bool sa = nlh->nlmsg_pid && nlh->nlmsg_pid == a->hdr.tgid;
	bool sb = nlh->nlmsg_pid && nlh->nlmsg_pid == b->hdr.tgid;

	if (sa != sb)
		return sa;
	return a->hdr.ts_ns < b->hdr.ts_ns;
}

/* The live request that nlh (read at ts) reverts: made before it, matching. */
static struct pending *find_pending(struct nw_quarantine *q, const struct nlmsghdr *nlh,
				    uint64_t ts)
{
	struct pending *best = NULL;

	for (size_t i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &q->pending[i];

		if (!p->live || ts < p->r.hdr.ts_ns || !nw_quarantine_match(&p->r, nlh))
			continue;
		if (!best || better(&p->r, &best->r, nlh))
			best = p;
	}
	return best;
}

static void remember(struct nw_quarantine *q, const struct nlmsghdr *nlh, uint64_t ts)
{
	struct recent *s = &q->recent[q->recent_next];
	size_t len = nlh->nlmsg_len;

	q->recent_next = (q->recent_next + 1) % RECENT;
	if (nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK)
		len = NLMSG_HDRLEN + sizeof(struct ifinfomsg);	/* all a link revert needs */
	free(s->msg);
	s->msg = NULL;
	if (len > RECENT_MAX_LEN || len > nlh->nlmsg_len || !(s->msg = malloc(len)))
		return;
	memcpy(s->msg, nlh, len);
	s->msg->nlmsg_len = (uint32_t)len;
	s->len = len;
	s->ts_ns = ts;
}

static bool relevant(uint16_t type)
{
	switch (type) {
	case RTM_NEWROUTE: case RTM_DELROUTE: case RTM_NEWRULE: case RTM_DELRULE:
	case RTM_NEWADDR: case RTM_DELADDR: case RTM_NEWLINK: case RTM_DELLINK:
		return true;
	}
	return false;
}

static void on_notification(struct nw_quarantine *q, const struct nlmsghdr *nlh, uint64_t ts)
{
	struct pending *p;

	if (!relevant(nlh->nlmsg_type))
		return;
	if (q->n_pending && (p = find_pending(q, nlh, ts))) {
		revert(q, p, nlh);
		return;
	}
	remember(q, nlh, ts);
}

static void expire(struct nw_quarantine *q, uint64_t now)
{
	for (size_t i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &q->pending[i];
		char name[16];
		cJSON *ev;

		if (!p->live || now < p->noted_ns + q->window_ns)
			continue;
		p->live = false;
		q->n_pending--;
		q->unmatched++;
		ev = new_event(q, &p->r, "nothing_to_revert");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddBoolToObject(ev, "changed", 0);
		if (q->enobufs != p->enobufs)
			cJSON_AddStringToObject(ev, "revert_error", "notifications were lost: a "
						"change it made may have been missed");
		emit(q, ev, "%s of a killed writer: no change seen within %llu ms (it failed or "
		     "changed nothing)", nw_rtm_name(p->r.nlmsg_type, name),
		     (unsigned long long)(q->window_ns / NSEC_PER_MSEC));
	}
}

static int on_tick(sd_event_source *s, uint64_t usec, void *ud)
{
	struct nw_quarantine *q = ud;
	(void)s;
	(void)usec;

	if (q->ops.drain_requests)
		q->ops.drain_requests(q->ud);
	expire(q, boot_ns());
	if (q->n_pending)
		arm_tick(q);
	return 0;
}

/* The oldest remembered notification made after r that matches it,
 * preferring one its own process sent. */
static struct recent *find_recent(struct nw_quarantine *q, const struct nw_rtnl_request *r)
{
	struct recent *best = NULL;
	bool best_mine = false;

	for (size_t i = 0; i < RECENT; i++) {
		struct recent *s = &q->recent[i];
		bool mine;

		if (!s->msg || s->ts_ns < r->hdr.ts_ns || !nw_quarantine_match(r, s->msg))
			continue;
		mine = s->msg->nlmsg_pid && s->msg->nlmsg_pid == r->hdr.tgid;
		if (!best || (mine && !best_mine) || (mine == best_mine && s->ts_ns < best->ts_ns)) {
			best = s;
			best_mine = mine;
		}
	}
	return best;
}

void nw_quarantine_note_request(struct nw_quarantine *q, const struct nw_rtnl_request *r)
{
	struct pending *p = NULL;
	struct recent *seen;
	char name[16];
	bool first;
	cJSON *ev;

	if (!q || !r->quarantined)
		return;
	/* one event per syscall: the later messages of its batch (higher
	 * index, same thread) were refused or killed with the first */
	first = r->hdr.pid != q->last_tid || r->index <= q->last_index;
	q->last_tid = r->hdr.pid;
	q->last_index = r->index;
	if (r->quarantined == NW_QUARANTINE_DENIED) {
		if (!first)
			return;
		q->denied++;
		ev = new_event(q, r, "denied");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddBoolToObject(ev, "changed", 0);
		emit(q, ev, "%s refused (EPERM): the cgroup is quarantined",
		     nw_rtm_name(r->nlmsg_type, name));
		return;
	}
	if (first && r->quarantined == NW_QUARANTINE_WOULD_KILL) {
		ev = new_event(q, r, "would_kill");
		cJSON_AddBoolToObject(ev, "killed", 0);
		cJSON_AddBoolToObject(ev, "dry_run", 1);
		emit(q, ev, "dry-run: would have killed it for %s from a quarantined cgroup",
		     nw_rtm_name(r->nlmsg_type, name));
	} else if (first) {
		q->kills++;
		ev = new_event(q, r, "killed");
		cJSON_AddBoolToObject(ev, "killed", 1);
		emit(q, ev, "killed: it sent %s from a quarantined cgroup",
		     nw_rtm_name(r->nlmsg_type, name));
	}
	if (!kind_of(r->nlmsg_type))
		return;
	for (size_t i = 0; i < MAX_PENDING && !p; i++)
		if (!q->pending[i].live)
			p = &q->pending[i];
	if (!p) {
		q->dropped++;
		ev = new_event(q, r, "revert_failed");
		cJSON_AddBoolToObject(ev, "reverted", 0);
		cJSON_AddStringToObject(ev, "revert_error", "too many requests pending");
		emit(q, ev, "%s of a killed writer: too many requests pending, not reverted",
		     nw_rtm_name(r->nlmsg_type, name));
		return;
	}
	p->r = *r;
	p->noted_ns = boot_ns();
	p->enobufs = q->enobufs;
	p->live = true;
	q->n_pending++;
	/* its change may already have been read (a late request) */
	if ((seen = find_recent(q, r))) {
		struct nlmsghdr *m = seen->msg;

		seen->msg = NULL;
		revert(q, p, m);
		free(m);
		return;
	}
	arm_tick(q);
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct nw_quarantine *q = ud;
	(void)s;
	(void)fd;
	(void)revents;

	for (int i = 0; i < MON_BATCH; i++) {
		ssize_t n = mnl_socket_recvfrom(q->mon, q->buf, MON_BUF);
		const struct nlmsghdr *nlh = (const void *)q->buf;
		int len = (int)n;
		uint64_t t;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				q->enobufs++;
				continue;
			}
			break;
		}
		t = boot_ns();
		/* the requests of these changes were submitted before them: drain
		 * before each datagram (cheap when there is nothing to read) */
		if (q->ops.drain_requests)
			q->ops.drain_requests(q->ud);
		for (; nw_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			on_notification(q, nlh, t);
	}
	return 0;
}

static int monitor_open(struct nw_quarantine *q)
{
	unsigned groups = 1u << (RTNLGRP_LINK - 1) | 1u << (RTNLGRP_IPV4_IFADDR - 1) |
			  1u << (RTNLGRP_IPV6_IFADDR - 1) | 1u << (RTNLGRP_IPV4_ROUTE - 1) |
			  1u << (RTNLGRP_IPV6_ROUTE - 1) | 1u << (RTNLGRP_IPV4_RULE - 1) |
			  1u << (RTNLGRP_IPV6_RULE - 1);
	int fd, size;

	q->mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!q->mon)
		return -errno;
	fd = mnl_socket_get_fd(q->mon);
	size = q->rcvbuf > 0 ? q->rcvbuf : MON_RCVBUF;
	if (q->rcvbuf > 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (mnl_socket_bind(q->mon, groups, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	return sd_event_add_io(q->e, &q->mon_src, fd, EPOLLIN, on_monitor, q);
}

int nw_quarantine_new(struct nw_quarantine **out, sd_event *e, const struct nw_quarantine_cfg *cfg,
		      const struct nw_quarantine_ops *ops, void *ud)
{
	static const struct nw_quarantine_cfg defaults;
	struct nw_quarantine *q = calloc(1, sizeof(*q));
	int r;

	if (!q)
		return -ENOMEM;
	if (!cfg)
		cfg = &defaults;
	q->e = sd_event_ref(e);
	if (ops)
		q->ops = *ops;
	q->ud = ud;
	snprintf(q->path, sizeof(q->path), "%s", cfg->path ? cfg->path : "tracepoint-kill");
	q->dry_run = cfg->dry_run;
	q->window_ns = (cfg->window_ms ? cfg->window_ms : DEFAULT_WINDOW_MS) * NSEC_PER_MSEC;
	q->rcvbuf = cfg->rcvbuf;
	if ((cfg->pin_dir && !(q->pin_dir = strdup(cfg->pin_dir))) ||
	    (cfg->cg_mount && !(q->cg_mount = strdup(cfg->cg_mount))) ||
	    !(q->buf = malloc(MON_BUF + NW_RTNL_MSG_MAX))) {
		r = -ENOMEM;
		goto cleanup;
	}
	if ((r = nw_self_netns(&q->netns)))
		goto cleanup;
	if ((r = monitor_open(q)) < 0 || (r = nw_rtnl_open(&q->req)))
		goto cleanup;
	if ((r = sd_event_add_time(e, &q->tick_src, CLOCK_BOOTTIME, 0, 10000, on_tick, q)) < 0 ||
	    (r = sd_event_source_set_enabled(q->tick_src, SD_EVENT_OFF)) < 0)
		goto cleanup;
	*out = q;
	return 0;
cleanup:
	nw_quarantine_free(q);
	return r < 0 ? r : -EIO;
}

struct status_ctx {
	cJSON *arr;
	const char *mount;
};

static int status_entry(const struct nw_quarantine_entry *e, void *ud)
{
	struct status_ctx *c = ud;
	cJSON *o = cJSON_CreateObject();
	char path[PATH_MAX];

	if (!o)
		return -ENOMEM;
	if (!c->mount || nw_cgroup_path_from_id(c->mount, e->cgroup_id, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s", c->mount ? "(gone)" : "?");
	cJSON_AddStringToObject(o, "cgroup", path);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)e->cgroup_id);
	cJSON_AddStringToObject(o, "flags", nw_quarantine_origin(e->flags));
	cJSON_AddItemToArray(c->arr, o);
	return 0;
}

void nw_quarantine_status(struct nw_quarantine *q, cJSON *out)
{
	cJSON_AddStringToObject(out, "path", q->path);
	cJSON_AddBoolToObject(out, "dry_run", q->dry_run);
	if (q->pin_dir) {
		struct status_ctx c = { cJSON_AddArrayToObject(out, "entries"), q->cg_mount };
		int fd = nw_quarantine_map_open(q->pin_dir);

		if (fd >= 0) {
			nw_quarantine_foreach(fd, status_entry, &c);
			close(fd);
		}
	}
	cJSON_AddNumberToObject(out, "kills", (double)q->kills);
	cJSON_AddNumberToObject(out, "denied", (double)q->denied);
	cJSON_AddNumberToObject(out, "reverted", (double)q->reverted);
	cJSON_AddNumberToObject(out, "revert_failures", (double)q->revert_failures);
	cJSON_AddNumberToObject(out, "not_revertible", (double)q->not_revertible);
	cJSON_AddNumberToObject(out, "unmatched", (double)q->unmatched);
	cJSON_AddNumberToObject(out, "dropped", (double)q->dropped);
	cJSON_AddNumberToObject(out, "pending", (double)q->n_pending);
	cJSON_AddNumberToObject(out, "enobufs", (double)q->enobufs);
}

void nw_quarantine_free(struct nw_quarantine *q)
{
	if (!q)
		return;
	sd_event_source_disable_unref(q->mon_src);
	sd_event_source_disable_unref(q->tick_src);
	if (q->mon)
		mnl_socket_close(q->mon);
	nw_rtnl_close(q->req);
	for (size_t i = 0; i < RECENT; i++)
		free(q->recent[i].msg);
	free(q->buf);
	free(q->pin_dir);
	free(q->cg_mount);
	sd_event_unref(q->e);
	free(q);
}
