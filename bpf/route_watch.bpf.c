// SPDX-License-Identifier: GPL-2.0-only
/*
 * Route watch: who asks the kernel to change routes, rules, links and
 * addresses, and when routing lookups start failing.
 *
 * Always available (tested here): the syscalls sendmsg/sendto/sendmmsg
 * tracepoints parse rtnetlink write requests from user memory at syscall
 * entry, before the kernel executes them, and report them with the actor.
 * fib:fib_table_lookup and fib6:fib6_table_lookup count failed lookups.
 * Optional (autoload off unless netwardd's probe loads and attaches one):
 * fexit on fib_table_delete, fib6_del, fib_nl_newrule, fib_nl_delrule,
 * which also see deletions that never went through a syscall we parse
 * (ioctl SIOCDELRT, io_uring) and report only what succeeded.
 */
#include "common.bpf.h"
#include "netward/route_watch.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define NETLINK_ROUTE 0
#define S_IFMT 00170000
#define S_IFSOCK 0140000

#define NLMSG_HDRLEN 16
#define NLM_F_REQUEST 0x01
#define NLMSG_ALIGN(len) (((len) + 3) & ~3u)

#define RTM_NEWLINK 16
#define RTM_DELLINK 17
#define RTM_SETLINK 19
#define RTM_NEWADDR 20
#define RTM_DELADDR 21
#define RTM_NEWROUTE 24
#define RTM_DELROUTE 25
#define RTM_NEWRULE 32
#define RTM_DELRULE 33

/* attribute types shared by route and rule messages where it matters */
#define RTA_DST 1
#define RTA_OIF 4
#define RTA_GATEWAY 5
#define RTA_PRIORITY 6
#define RTA_TABLE 15
#define FRA_FWMARK 10
#define FRA_UID_RANGE 20
#define IFA_ADDRESS 1
#define IFA_LOCAL 2

#define RT_TABLE_MAIN 254
#define SIGKILL 9

/* Set by netwardd before load: when the fexit programs run, the syscall path
 * leaves route and rule messages to them. */
const volatile bool fexit_routes = false;

/* Set by netwardd once lsm_netlink_send is attached (never before: in .bss,
 * not .rodata, so that it can follow the attach): write requests from
 * quarantined cgroups are then refused with EPERM by the LSM program, and
 * the syscall tracepoints report them as denied instead of killing. */
bool lsm_quarantine = false;


/* failed lookups per routing table */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, NW_FIB_FAIL_TABLES);
	__type(key, __u32);
	__type(value, __u64);
} fib_fail SEC(".maps");

/* rtnetlink write requests per cgroup (netwardctl churn) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NW_CHURN_MAX);
	__type(key, __u64);
	__type(value, struct nw_churn);
} churn SEC(".maps");

/* cgroups whose rtnetlink writes are refused (netwardctl quarantine) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NW_QUARANTINE_MAX);
	__type(key, __u64);
	__type(value, __u32);
} quarantine SEC(".maps");

/* last no_route sample (ns), shared by all CPUs: a rate limit, races harmless */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} no_route_last SEC(".maps");

static __always_inline int read_mem(void *dst, __u32 size, const void *src, bool user)
{
	return user ? bpf_probe_read_user(dst, size, src) : bpf_probe_read_kernel(dst, size, src);
}

static __always_inline bool wanted(__u16 type)
{
	switch (type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
	case RTM_NEWRULE:
	case RTM_DELRULE:
		return !fexit_routes;
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_SETLINK:
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return true;
	}
	return false;
}

/* Attributes of a route or rule message: table over the header's, metric or
 * rule priority, dst, gateway, oif, fwmark, uid range. */
static __always_inline void parse_attrs(struct nw_rtnl_request *e, const __u8 *p, __u32 left,
					bool user)
{
	bool is_addr = e->nlmsg_type == RTM_NEWADDR || e->nlmsg_type == RTM_DELADDR;
	bool is_rule = e->nlmsg_type == RTM_NEWRULE || e->nlmsg_type == RTM_DELRULE;
	int i;

	for (i = 0; i < NW_RTNL_MAX_ATTRS; i++) {
		struct { __u16 len, type; } a;
		__u32 vlen;

		if (left < 4 || read_mem(&a, sizeof(a), p, user) || a.len < 4 || a.len > left)
			break;
		vlen = a.len - 4;
		a.type &= 0x3fff;	/* NLA_F_NESTED, NLA_F_NET_BYTEORDER */
		if (is_addr) {
			if ((a.type == IFA_LOCAL || a.type == IFA_ADDRESS) && vlen <= 16)
				read_mem(e->dst, vlen & 31, p + 4, user);
		} else if (a.type == RTA_DST && vlen <= 16) {
			read_mem(e->dst, vlen & 31, p + 4, user);
		} else if (a.type == RTA_TABLE && vlen == 4) {
			read_mem(&e->table, 4, p + 4, user);
		} else if (a.type == RTA_PRIORITY && vlen == 4) {
			read_mem(&e->priority, 4, p + 4, user);
		} else if (!is_rule && a.type == RTA_GATEWAY && vlen <= 16) {
			read_mem(e->gateway, vlen & 31, p + 4, user);
		} else if (!is_rule && a.type == RTA_OIF && vlen == 4) {
			read_mem(&e->ifindex, 4, p + 4, user);
		} else if (is_rule && a.type == FRA_FWMARK && vlen == 4) {
			read_mem(&e->fwmark, 4, p + 4, user);
		} else if (is_rule && a.type == FRA_UID_RANGE && vlen == 8) {
			read_mem(&e->uid_start, 4, p + 4, user);
			read_mem(&e->uid_end, 4, p + 8, user);
		}
		vlen = NLMSG_ALIGN(a.len);
		if (vlen >= left)
			break;
		p += vlen;
		left -= vlen;
	}
}

/* One rtnetlink message at p: fills e from its fixed header and attributes. */
static __always_inline int parse_msg(struct nw_rtnl_request *e, const __u8 *p, __u32 len,
				     bool user)
{
	__u8 h[16];
	__u32 hlen;

	switch (e->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
	case RTM_NEWRULE:
	case RTM_DELRULE:
		/* rtmsg and fib_rule_hdr share the layout of the first 8 bytes */
		hlen = 12;
		if (len < NLMSG_HDRLEN + hlen || read_mem(h, 12, p + NLMSG_HDRLEN, user))
			return -1;
		e->family = h[0];
		e->dst_len = h[1];
		e->src_len = h[2];
		e->table = h[4];
		e->protocol = h[5];	/* rule: res1; rules carry FRA_PROTOCOL */
		e->scope = h[6];
		e->rtm_type = h[7];	/* route: type; rule: action */
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		hlen = 8;
		if (len < NLMSG_HDRLEN + hlen || read_mem(h, 8, p + NLMSG_HDRLEN, user))
			return -1;
		e->family = h[0];
		e->dst_len = h[1];
		e->ifflags = h[2];
		e->scope = h[3];
		__builtin_memcpy(&e->ifindex, h + 4, 4);
		break;
	default:	/* links: ifinfomsg */
		hlen = 16;
		if (len < NLMSG_HDRLEN + hlen || read_mem(h, 16, p + NLMSG_HDRLEN, user))
			return -1;
		e->family = h[0];
		__builtin_memcpy(&e->ifindex, h + 4, 4);
		__builtin_memcpy(&e->ifflags, h + 8, 4);
		__builtin_memcpy(&e->ifchange, h + 12, 4);
		return 0;
	}
	parse_attrs(e, p + NLMSG_HDRLEN + hlen, len - NLMSG_HDRLEN - hlen, user);
	return 0;
}

static __always_inline void count_request(__u16 type)
{
	__u64 cg = bpf_get_current_cgroup_id();
	struct nw_churn *c, fresh = {};

	NW_COUNT(rtnl_requests);
	if (type == RTM_DELROUTE)
		NW_COUNT(rtnl_route_del);
	else if (type == RTM_NEWRULE || type == RTM_DELRULE)
		NW_COUNT(rtnl_rule_changes);
	c = bpf_map_lookup_elem(&churn, &cg);
	if (!c) {
		bpf_map_update_elem(&churn, &cg, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&churn, &cg);
		if (!c)
			return;
	}
	if (type == RTM_NEWROUTE || type == RTM_DELROUTE)
		__sync_fetch_and_add(&c->route, 1);
	else if (type == RTM_NEWRULE || type == RTM_DELRULE)
		__sync_fetch_and_add(&c->rule, 1);
	else if (type == RTM_NEWADDR || type == RTM_DELADDR)
		__sync_fetch_and_add(&c->addr, 1);
	else
		__sync_fetch_and_add(&c->link, 1);
	c->last_ns = bpf_ktime_get_boot_ns();
}

static __always_inline bool write_request(__u16 type)
{
	switch (type) {
	case RTM_NEWROUTE: case RTM_DELROUTE: case RTM_NEWRULE: case RTM_DELRULE:
	case RTM_NEWLINK: case RTM_DELLINK: case RTM_SETLINK:
	case RTM_NEWADDR: case RTM_DELADDR:
		return true;
	}
	return false;
}

/* Is the caller's cgroup, or one above it, quarantined? The caller's own
 * first: quarantine is usually put on the offending service itself. */
static __always_inline bool quarantined(void)
{
	__u64 leaf = bpf_get_current_cgroup_id();
	__u32 *q = bpf_map_lookup_elem(&quarantine, &leaf);
	int level;

	if (q && (*q & NW_QUAR_ACTIVE))
		return true;
	for (level = 1; level < 16; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);

		if (!id || id == leaf)
			break;
		q = bpf_map_lookup_elem(&quarantine, &id);
		if (q && (*q & NW_QUAR_ACTIVE))
			return true;
	}
	return false;
}

/* iproute2 first sends an RTM_NEWLINK for index 0 with nothing to change
 * (to learn what the kernel supports), even for `ip link show`: not a write. */
static __always_inline bool noop_link_probe_mem(const __u8 *msg, __u32 len, __u16 type,
						 __u16 flags, bool user)
{
	struct { __u8 family, pad; __u16 type; __s32 index; __u32 flags, change; } ifi;

	if (type != RTM_NEWLINK || len != NLMSG_HDRLEN + sizeof(ifi) ||
	    (flags & 0x400 /* NLM_F_CREATE */))
		return false;
	if (read_mem(&ifi, sizeof(ifi), msg + NLMSG_HDRLEN, user))
		return false;
	return ifi.index == 0 && ifi.change == 0;
}

static __always_inline bool noop_link_probe(const __u8 *msg, const void *nhp)
{
	const struct { __u32 len; __u16 type, flags; __u32 seq, pid; } *nh = nhp;

	return noop_link_probe_mem(msg, nh->len, nh->type, nh->flags, true);
}

/* Parses up to NW_RTNL_MAX_MSGS messages of a buffer and emits one event per
 * write request. */
static __always_inline void parse_buffer(const __u8 *buf, __u64 size, __u8 sys)
{
	__u32 off = 0;
	bool killed = false;
	__u8 verdict = 0;
	int i;

	for (i = 0; i < NW_RTNL_MAX_MSGS; i++) {
		struct { __u32 len; __u16 type, flags; __u32 seq, pid; } nh;
		struct nw_rtnl_request *e;

		if (off + NLMSG_HDRLEN > size || off > 65536)
			return;
		if (bpf_probe_read_user(&nh, sizeof(nh), buf + off) || nh.len < NLMSG_HDRLEN ||
		    nh.len > size - off)
			return;
		if (noop_link_probe(buf + off, &nh)) {
			off += NLMSG_ALIGN(nh.len);	/* changes nothing: not counted */
			continue;
		}
		if ((nh.flags & NLM_F_REQUEST) && write_request(nh.type) && !killed &&
		    quarantined()) {
			const struct nw_config *cfg = nw_config_get();

			if (lsm_quarantine) {
				/* lsm_netlink_send refuses the whole send: nothing to revert */
				verdict = NW_QUARANTINE_DENIED;
			} else if (cfg && cfg->dry_run) {
				NW_COUNT(dry_run);
				verdict = NW_QUARANTINE_WOULD_KILL;
			} else {
				/* a signal cannot stop this syscall: netwardd reverts it */
				bpf_send_signal(SIGKILL);
				NW_COUNT(quarantine_kills);
				verdict = NW_QUARANTINE_KILLED;
			}
			killed = true;
		}
		if ((nh.flags & NLM_F_REQUEST) && (wanted(nh.type) || killed)) {
			count_request(nh.type);
			e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
			if (!e) {
				NW_COUNT(events_lost);
			} else {
				__builtin_memset(e, 0, sizeof(*e));
				nw_fill_hdr(&e->hdr, NW_EV_RTNL_REQUEST, sizeof(*e));
				e->nlmsg_type = nh.type;
				e->nlmsg_flags = nh.flags;
				e->nlmsg_seq = nh.seq;
				e->syscall = sys;
				e->index = i;
				e->uid_start = e->uid_end = ~0u;
				e->quarantined = verdict;
				parse_msg(e, buf + off, nh.len, true);
				bpf_ringbuf_submit(e, 0);
			}
		}
		off += NLMSG_ALIGN(nh.len);
	}
	if (off + NLMSG_HDRLEN <= size) {
		NW_COUNT(rtnl_truncated);
	}
}

/* Is fd an AF_NETLINK/NETLINK_ROUTE socket of the current task? */
static __always_inline bool is_rtnl_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file;
	struct socket *sock;
	struct sock *sk;
	umode_t mode;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return false;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return false;
	mode = BPF_CORE_READ(file, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return false;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, __sk_common.skc_family) != AF_NETLINK)
		return false;
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) == NETLINK_ROUTE;
}

/* A destination of another family cannot be a netlink request (the kernel
 * refuses it with EINVAL): the cheap exit for every UDP sendto. */
static __always_inline bool foreign_dest(const void *addr)
{
	__u16 family;

	if (!addr)
		return false;
	if (bpf_probe_read_user(&family, sizeof(family), addr))
		return false;
	return family != AF_NETLINK;
}

static __always_inline bool watching(void)
{
	const struct nw_config *cfg = nw_config_get();

	if (!cfg || !cfg->enabled)
		return false;
	if (nw_foreign_netns(cfg)) {
		NW_COUNT(other_netns);
		return false;
	}
	return true;
}

/* msg: a struct user_msghdr in user memory */
static __always_inline void handle_msghdr(int fd, const struct user_msghdr *msg, __u8 sys)
{
	struct user_msghdr m;
	struct iovec iov;

	if (bpf_probe_read_user(&m, sizeof(m), msg))
		return;
	if (foreign_dest(m.msg_name) || !m.msg_iov || m.msg_iovlen < 1)
		return;
	if (!is_rtnl_fd(fd) || !watching())
		return;
	/* the first iovec: iproute2, libmnl and libnl send one */
	if (bpf_probe_read_user(&iov, sizeof(iov), m.msg_iov))
		return;
	parse_buffer(iov.iov_base, iov.iov_len, sys);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int tp_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	handle_msghdr((int)ctx->args[0], (const struct user_msghdr *)ctx->args[1], NW_SYS_SENDMSG);
	return 0;
}

/* only the first of the batch (documented) */
SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int tp_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[2] < 1)
		return 0;
	handle_msghdr((int)ctx->args[0], (const struct user_msghdr *)ctx->args[1], NW_SYS_SENDMMSG);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int tp_sendto(struct trace_event_raw_sys_enter *ctx)
{
	const void *addr = (const void *)ctx->args[4];
	int fd = (int)ctx->args[0];

	if (foreign_dest(addr) || !is_rtnl_fd(fd) || !watching())
		return 0;
	parse_buffer((const __u8 *)ctx->args[1], ctx->args[2], NW_SYS_SENDTO);
	return 0;
}

/* --- routing lookup failures -------------------------------------------- */

static __always_inline bool global_v4(const __u8 *a)
{
	return a[0] != 0 && a[0] != 127 && !(a[0] == 169 && a[1] == 254) && a[0] < 224;
}

static __always_inline bool global_v6(const __u8 *a)
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	if (!hi && (!lo || lo == bpf_cpu_to_be64(1)))
		return false;		/* :: and ::1 */
	if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return false;		/* multicast, link-local */
	return true;
}

static __always_inline void lookup_failed(__u32 table, int err, __u8 family, const __u8 *dst,
					  bool global)
{
	__u64 one = 1, *n, now, *last, failures = 0;
	struct nw_no_route *e;
	__u32 zero = 0;

	NW_COUNT(fib_lookup_fail);
	n = bpf_map_lookup_elem(&fib_fail, &table);
	if (n) {
		failures = ++*n;
	} else {
		bpf_map_update_elem(&fib_fail, &table, &one, BPF_NOEXIST);
		failures = 1;
	}
	if (table != RT_TABLE_MAIN || !global)
		return;
	NW_COUNT(no_route_main);
	last = bpf_map_lookup_elem(&no_route_last, &zero);
	now = bpf_ktime_get_boot_ns();
	if (!last || now - *last < NW_NO_ROUTE_INTERVAL_NS)
		return;
	*last = now;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		NW_COUNT(events_lost);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	nw_fill_hdr(&e->hdr, NW_EV_NO_ROUTE_RAW, sizeof(*e));
	e->table = table;
	e->err = err;
	e->family = family;
	__builtin_memcpy(e->dst, dst, 16);
	e->failures = failures;
	bpf_ringbuf_submit(e, 0);
}

/* Only lookups for locally made packets (iif = loopback) belong to the
 * current task: input routing of received or forwarded packets runs in
 * softirq, on behalf of whatever task it interrupted, in any namespace. */
#define LOOPBACK_IFINDEX 1

SEC("tracepoint/fib/fib_table_lookup")
int tp_fib_lookup(struct trace_event_raw_fib_table_lookup *ctx)
{
	__u8 dst[16] = {};

	if (!ctx->err)		/* the hot path: a lookup that found a route */
		return 0;
	if (ctx->iif != LOOPBACK_IFINDEX)
		return 0;
	if (!watching())
		return 0;
	__builtin_memcpy(dst, ctx->dst, 4);
	lookup_failed(ctx->tb_id, ctx->err, 4, dst, global_v4(dst));
	return 0;
}

SEC("tracepoint/fib6/fib6_table_lookup")
int tp_fib6_lookup(struct trace_event_raw_fib6_table_lookup *ctx)
{
	__u8 dst[16];

	if (!ctx->err || ctx->iif != LOOPBACK_IFINDEX)
		return 0;
	if (!watching())
		return 0;
	if (bpf_probe_read_kernel(dst, sizeof(dst), ctx->dst))
		return 0;
	lookup_failed(ctx->tb_id, ctx->err, 6, dst, global_v6(dst));
	return 0;
}

/* The same on BTF-typed raw tracepoints: about half the cost per lookup of
 * the classic ones. Used when they load (netwardd tries them first). */
SEC("tp_btf/fib_table_lookup")
int BPF_PROG(tb_fib_lookup, u32 tb_id, const struct flowi4 *flp,
	     const struct fib_nh_common *nhc, int err)
{
	__u8 dst[16] = {};
	__be32 d;

	if (!err || flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0;
	if (!watching())
		return 0;
	d = flp->daddr;
	__builtin_memcpy(dst, &d, 4);
	lookup_failed(tb_id, err, 4, dst, global_v4(dst));
	return 0;
}

SEC("tp_btf/fib6_table_lookup")
int BPF_PROG(tb_fib6_lookup, const struct net *net, const struct fib6_result *res,
	     struct fib6_table *table, const struct flowi6 *flp)
{
	__u8 dst[16];

	/* no error argument here: a miss is the namespace's null entry */
	if (res->f6i != net->ipv6.fib6_null_entry ||
	    flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0;
	if (!watching())
		return 0;
	if (bpf_probe_read_kernel(dst, sizeof(dst), &flp->daddr))
		return 0;
	lookup_failed(table ? table->tb6_id : 0, -101 /* ENETUNREACH */, 6, dst, global_v6(dst));
	return 0;
}

/* --- optional fexit variants (kernels that allow them) ------------------ */

static __always_inline struct nw_rtnl_request *kernel_request(__u16 type)
{
	struct nw_rtnl_request *e;

	if (!watching())
		return NULL;
	count_request(type);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		NW_COUNT(events_lost);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	nw_fill_hdr(&e->hdr, NW_EV_RTNL_REQUEST, sizeof(*e));
	e->nlmsg_type = type;
	e->uid_start = e->uid_end = ~0u;
	return e;
}

SEC("fexit/fib_table_delete")
int BPF_PROG(fx_fib_tbl_del, struct net *net, struct fib_table *tb,
	     struct fib_config *cfg, struct netlink_ext_ack *extack, int ret)
{
	struct nw_rtnl_request *e;
	__be32 dst, gw;

	if (ret)
		return 0;
	e = kernel_request(RTM_DELROUTE);
	if (!e)
		return 0;
	e->family = AF_INET;
	e->dst_len = BPF_CORE_READ(cfg, fc_dst_len);
	e->table = BPF_CORE_READ(cfg, fc_table);
	e->priority = BPF_CORE_READ(cfg, fc_priority);
	e->protocol = BPF_CORE_READ(cfg, fc_protocol);
	e->ifindex = BPF_CORE_READ(cfg, fc_oif);
	dst = BPF_CORE_READ(cfg, fc_dst);
	gw = BPF_CORE_READ(cfg, fc_gw4);
	__builtin_memcpy(e->dst, &dst, 4);
	__builtin_memcpy(e->gateway, &gw, 4);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fexit/fib6_del")
int BPF_PROG(fx_fib6_del, struct fib6_info *rt, struct nl_info *info, int ret)
{
	struct nw_rtnl_request *e;

	if (ret)
		return 0;
	e = kernel_request(RTM_DELROUTE);
	if (!e)
		return 0;
	e->family = AF_INET6;
	e->dst_len = BPF_CORE_READ(rt, fib6_dst.plen);
	e->table = BPF_CORE_READ(rt, fib6_table, tb6_id);
	e->priority = BPF_CORE_READ(rt, fib6_metric);
	bpf_probe_read_kernel(e->dst, 16, &rt->fib6_dst.addr);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __always_inline int rule_exit(struct nlmsghdr *nlh, int ret, __u16 type)
{
	struct nw_rtnl_request *e;

	if (ret)
		return 0;
	e = kernel_request(type);
	if (!e)
		return 0;
	parse_msg(e, (const __u8 *)nlh, BPF_CORE_READ(nlh, nlmsg_len), false);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("fexit/fib_nl_newrule")
int BPF_PROG(fx_fib_newrule, struct sk_buff *skb, struct nlmsghdr *nlh,
	     struct netlink_ext_ack *extack, int ret)
{
	return rule_exit(nlh, ret, RTM_NEWRULE);
}

SEC("fexit/fib_nl_delrule")
int BPF_PROG(fx_fib_delrule, struct sk_buff *skb, struct nlmsghdr *nlh,
	     struct netlink_ext_ack *extack, int ret)
{
	return rule_exit(nlh, ret, RTM_DELRULE);
}

/* --- optional LSM variant of quarantine (kernels that allow BPF LSM) ----- */

#define RTM_BASE 16
#define EPERM 1

/* the guarded netns, without counting other_netns (the tracepoints do) */
static __always_inline bool quarantine_applies(void)
{
	const struct nw_config *cfg = nw_config_get();

	return cfg && cfg->enabled && !nw_foreign_netns(cfg);
}

/* Refuses, before the kernel acts on it, a NETLINK_ROUTE send holding a write
 * request from a quarantined cgroup: the sender gets EPERM and nothing
 * changes. Write requests are what rtnetlink itself treats as such (it asks
 * CAP_NET_ADMIN for them): every type but GET (type & 3 == 2). Autoload off
 * unless netwardd's probe loads and attaches one LSM program. */
SEC("lsm/netlink_send")
int BPF_PROG(lsm_netlink_send, struct sock *sk, struct sk_buff *skb, int ret)
{
	const __u8 *data;
	__u32 len, off = 0;
	int i;

	if (ret)
		return ret;
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_NETLINK ||
	    BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != NETLINK_ROUTE)
		return 0;
	data = BPF_CORE_READ(skb, data);
	len = BPF_CORE_READ(skb, len);
	for (i = 0; i < NW_RTNL_MAX_MSGS; i++) {
		struct { __u32 len; __u16 type, flags; } nh;

		if (off + NLMSG_HDRLEN > len || off > 65536 ||
		    bpf_probe_read_kernel(&nh, sizeof(nh), data + off) || nh.len < NLMSG_HDRLEN ||
		    nh.len > len - off)
			return 0;
		if ((nh.flags & NLM_F_REQUEST) && nh.type >= RTM_BASE && (nh.type & 3) != 2 &&
		    !noop_link_probe_mem(data + off, nh.len, nh.type, nh.flags, false)) {
			const struct nw_config *cfg = nw_config_get();

			if (!quarantine_applies() || !quarantined())
				return 0;
			if (cfg && cfg->dry_run) {	/* report only: the tracepoint says would_kill */
				NW_COUNT(dry_run);
				return 0;
			}
			NW_COUNT(quarantine_denied);
			return -EPERM;
		}
		off += NLMSG_ALIGN(nh.len);
	}
	return 0;
}
