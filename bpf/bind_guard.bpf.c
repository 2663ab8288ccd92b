// SPDX-License-Identifier: GPL-2.0-only
/*
 * Wildcard-bind guard. cgroup/bind4 and cgroup/bind6 decide what happens to
 * a bind() on 0.0.0.0, :: or ::ffff:0.0.0.0 before it returns: allow, audit,
 * deny (EPERM) or rewrite to loopback. listen() without bind() never runs the
 * bind hooks; the sock:inet_sock_set_state tracepoint catches it and, when
 * the policy says kill, answers with SIGKILL before user space runs again.
 */
#include "common.bpf.h"
#include "netward/bind_guard.h"

#define AF_INET 2
#define AF_INET6 10
#define SIGKILL 9

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NW_BIND_POLICY_MAX);
	__type(key, struct nw_bind_key);
	__type(value, struct nw_bind_rule);
} bind_policy SEC(".maps");

/* The cgroup the bind hooks are attached to; the (global) listen tracepoint
 * only acts on tasks under it. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bind_cgroup SEC(".maps");

/* The socket's netns by cookie: one helper call instead of three reads
 * through the task (the inode is the fallback where no cookie is known). */
static __always_inline bool foreign_sock_netns(const struct nw_config *cfg,
					       struct bpf_sock_addr *ctx)
{
	if (!cfg->netns)
		return false;
	if (cfg->netns_cookie)
		return bpf_get_netns_cookie(ctx) != cfg->netns_cookie;
	return nw_current_netns() != cfg->netns;
}

struct nw_decision {
	__u64 rule_cgroup_id;
	__u8 policy;
	__u8 match;
};

static __always_inline __u8 rule_at(__u64 cgroup_id, __u16 port, __u8 proto,
				    __u8 family)
{
	struct nw_bind_key key = {
		.cgroup_id = cgroup_id,
		.port = port,
		.proto = proto,
		.family = family,
	};
	struct nw_bind_rule *rule = bpf_map_lookup_elem(&bind_policy, &key);

	return rule ? rule->action : NW_ACT_NONE;
}

/* Most specific wins: the deepest cgroup with a rule (port rule before
 * any-port rule), then rules for any cgroup, then the default. */
static __always_inline __u8 rule_hints(void)
{
	struct nw_bind_key key = { .cgroup_id = NW_BIND_HINT_ID };
	struct nw_bind_rule *hint = bpf_map_lookup_elem(&bind_policy, &key);

	return hint ? hint->action : NW_HINT_CGROUP | NW_HINT_ANY;
}

/* The rule of one cgroup for this bind, the port rule before the any-port
 * rule; sets d and returns true when there is one. */
static __always_inline bool cgroup_rule(__u64 id, __u16 port, __u8 proto, __u8 family,
					struct nw_decision *d)
{
	__u8 act = port ? rule_at(id, port, proto, family) : NW_ACT_NONE;
	__u8 match = NW_MATCH_CGROUP_PORT;

	if (!act) {
		act = rule_at(id, 0, proto, family);
		match = NW_MATCH_CGROUP;
	}
	if (!act)
		return false;
	d->policy = act;
	d->rule_cgroup_id = id;
	d->match = match;
	return true;
}

static __always_inline void decide(const struct nw_config *cfg, __u16 port,
				   __u8 proto, __u8 family,
				   struct nw_decision *d)
{
	__u8 act, hints = rule_hints();
	int level;

	d->policy = NW_ACT_NONE;
	d->rule_cgroup_id = 0;
	d->match = NW_MATCH_DEFAULT;

	if (hints & NW_HINT_CGROUP) {
		/* the common case first: a rule for the caller's own cgroup */
		__u64 leaf = bpf_get_current_cgroup_id();

		if (cgroup_rule(leaf, port, proto, family, d))
			return;
		/* then the ancestors, root first, so the deepest match wins;
		 * level 0 is the root: a rule for "/" is a rule for everything */
		for (level = 0; level < NW_CGROUP_MAX_DEPTH; level++) {
			__u64 id = bpf_get_current_ancestor_cgroup_id(level);

			if (!id || id == leaf)
				break;
			cgroup_rule(id, port, proto, family, d);
		}
	}
	if (d->policy)
		return;
	if (!(hints & NW_HINT_ANY))
		goto fallback;

	act = port ? rule_at(0, port, proto, family) : NW_ACT_NONE;
	if (act) {
		d->policy = act;
		d->match = NW_MATCH_ANY_PORT;
		return;
	}
	act = rule_at(0, 0, proto, family);
	if (act) {
		d->policy = act;
		d->match = NW_MATCH_ANY;
		return;
	}
fallback:
	d->policy = cfg->bind_default ? cfg->bind_default : NW_ACT_AUDIT;
}

/* What is really done: dry-run downgrades every enforcing action to audit. */
static __always_inline __u8 applied_action(const struct nw_config *cfg,
					   __u8 policy, __u8 *flags,
					   struct nw_counters *c)
{
	if (cfg->dry_run && policy >= NW_ACT_DENY) {
		*flags |= NW_EVF_DRY_RUN;
		if (c)
			c->dry_run++;
		return NW_ACT_AUDIT;
	}
	return policy;
}

static __always_inline void emit(const struct nw_decision *d, __u8 action,
				 __u8 flags, __u16 type, const __u8 *addr,
				 const __u8 *new_addr, __u16 port, __u8 family,
				 __u8 sock_family, __u8 proto, __u64 sock_ino)
{
	struct nw_bind_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		NW_COUNT(events_lost);
		return;
	}
	nw_fill_hdr(&e->hdr, type, sizeof(*e));
	e->hdr.flags = flags;
	e->rule_cgroup_id = d->rule_cgroup_id;
	__builtin_memcpy(e->addr, addr, 16);
	__builtin_memcpy(e->new_addr, new_addr, 16);
	e->port = port;
	e->family = family;
	e->sock_family = sock_family;
	e->proto = proto;
	e->action = action;
	e->policy = d->policy;
	e->match = d->match;
	e->sock_ino = sock_ino;
	bpf_ringbuf_submit(e, 0);
}

/* one lookup of the per-CPU record per bind */
static __always_inline void count_action(struct nw_counters *c, __u8 action)
{
	if (!c)
		return;
	c->bind_wildcard++;
	switch (action) {
	case NW_ACT_ALLOW:
		c->bind_allowed++;
		break;
	case NW_ACT_AUDIT:
		c->bind_audited++;
		break;
	case NW_ACT_REWRITE:
		c->bind_rewritten++;
		break;
	default:
		c->bind_denied++;
		break;
	}
}

static __always_inline __u16 event_type(__u8 action)
{
	switch (action) {
	case NW_ACT_DENY:
	case NW_ACT_KILL:
		return NW_EV_BIND_DENIED;
	case NW_ACT_REWRITE:
		return NW_EV_BIND_REWRITTEN;
	default:
		return NW_EV_BIND_AUDIT;
	}
}

SEC("cgroup/bind4")
int nw_bind4(struct bpf_sock_addr *ctx)
{
	const struct nw_config *cfg;
	struct nw_counters *c;
	struct nw_decision d;
	__u8 addr[16] = {}, new_addr[16] = {};
	__u8 flags = 0, action, proto;
	__u16 port;

	if (ctx->user_ip4 != 0)		/* the common case: leave at once */
		return 1;
	cfg = nw_config_get();
	if (!cfg || !cfg->enabled)
		return 1;
	if (foreign_sock_netns(cfg, ctx)) {
		NW_COUNT(other_netns);
		return 1;
	}
	c = nw_counters_get();
	proto = ctx->protocol;
	port = bpf_ntohs((__u16)ctx->user_port);
	decide(cfg, port, proto, 4, &d);
	action = applied_action(cfg, d.policy, &flags, c);
	count_action(c, action);
	if (action == NW_ACT_ALLOW)
		return 1;
	if (action == NW_ACT_REWRITE) {
		ctx->user_ip4 = bpf_htonl(0x7f000001);
		new_addr[0] = 127;
		new_addr[3] = 1;
	}
	emit(&d, action, flags, event_type(action), addr, new_addr, port, 4,
	     AF_INET, proto, 0);
	return action == NW_ACT_DENY || action == NW_ACT_KILL ? 0 : 1;
}

SEC("cgroup/bind6")
int nw_bind6(struct bpf_sock_addr *ctx)
{
	const struct nw_config *cfg;
	struct nw_counters *c;
	struct nw_decision d;
	__u8 addr[16] = {}, new_addr[16] = {};
	__u8 flags = 0, action, proto, family;
	__u32 w2 = ctx->user_ip6[2];
	__u16 port;

	if (ctx->user_ip6[0] || ctx->user_ip6[1] || ctx->user_ip6[3])
		return 1;
	if (w2 == 0)
		family = 6;
	else if (w2 == bpf_htonl(0xffff))
		family = 4;		/* ::ffff:0.0.0.0 */
	else
		return 1;
	cfg = nw_config_get();
	if (!cfg || !cfg->enabled)
		return 1;
	if (foreign_sock_netns(cfg, ctx)) {
		NW_COUNT(other_netns);
		return 1;
	}
	c = nw_counters_get();
	if (family == 4) {
		flags |= NW_EVF_V4MAPPED;
		addr[10] = addr[11] = 0xff;
	}
	proto = ctx->protocol;
	port = bpf_ntohs((__u16)ctx->user_port);
	decide(cfg, port, proto, family, &d);
	action = applied_action(cfg, d.policy, &flags, c);
	count_action(c, action);
	if (action == NW_ACT_ALLOW)
		return 1;
	if (action == NW_ACT_REWRITE) {
		if (family == 4) {	/* stay v4-mapped: ::ffff:127.0.0.1 */
			ctx->user_ip6[3] = bpf_htonl(0x7f000001);
			new_addr[10] = new_addr[11] = 0xff;
			new_addr[12] = 127;
			new_addr[15] = 1;
		} else {		/* ::1 */
			ctx->user_ip6[3] = bpf_htonl(1);
			new_addr[15] = 1;
		}
	}
	emit(&d, action, flags, event_type(action), addr, new_addr, port,
	     family, AF_INET6, proto, 0);
	return action == NW_ACT_DENY || action == NW_ACT_KILL ? 0 : 1;
}

/* listen() on a socket that was never bound: the kernel picks the wildcard
 * and a port in inet_csk_listen_start(); the bind hooks never ran. */
SEC("tracepoint/sock/inet_sock_set_state")
int tp_inet_listen(struct trace_event_raw_inet_sock_set_state *ctx)
{
	const struct nw_config *cfg;
	struct nw_decision d;
	__u8 zero[16] = {};
	__u8 flags = NW_EVF_AUTOBIND, action, family;
	struct sock *sk;
	__u64 a6[2];

	if (ctx->newstate != TCP_LISTEN || ctx->protocol != 6 || ctx->sport)
		return 0;
	if (ctx->family == AF_INET) {
		if (*(const __u32 *)ctx->saddr)
			return 0;
		family = 4;
	} else if (ctx->family == AF_INET6) {
		/* clang turns direct reads into ctx pointer arithmetic,
		 * which the verifier refuses: copy it out */
		if (bpf_probe_read_kernel(a6, sizeof(a6), ctx->saddr_v6) ||
		    a6[0] || a6[1])
			return 0;
		family = 6;
	} else {
		return 0;
	}
	cfg = nw_config_get();
	if (!cfg || !cfg->enabled)
		return 0;
	if (bpf_current_task_under_cgroup(&bind_cgroup, 0) != 1)
		return 0;
	if (nw_foreign_netns(cfg)) {
		NW_COUNT(other_netns);
		return 0;
	}
	NW_COUNT(listen_autobind);

	decide(cfg, 0, 6, family, &d);
	if (d.policy == NW_ACT_ALLOW)
		return 0;
	if (d.policy == NW_ACT_KILL) {
		action = applied_action(cfg, d.policy, &flags, nw_counters_get());
		if (action == NW_ACT_KILL) {
			bpf_send_signal(SIGKILL);
			NW_COUNT(listen_killed);
		}
	} else {
		/* deny and rewrite cannot be applied after the fact */
		action = NW_ACT_AUDIT;
	}
	sk = (struct sock *)ctx->skaddr;
	emit(&d, action, flags, NW_EV_WILDCARD_LISTENER, zero, zero, 0, family,
	     ctx->family, 6, BPF_CORE_READ(sk, sk_socket, file, f_inode, i_ino));
	return 0;
}

static __always_inline int cgroup_change(struct trace_event_raw_cgroup *ctx, __u8 removed)
{
	struct nw_cgroup_change *e;

	if (ctx->root != 0)	/* cgroup v1 hierarchies: not ours */
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		NW_COUNT(events_lost);
		return 0;
	}
	nw_fill_hdr(&e->hdr, NW_EV_CGROUP_CHANGE, sizeof(*e));
	e->id = ctx->id;
	e->level = ctx->level;
	e->removed = removed;
	__builtin_memset(e->_pad0, 0, sizeof(e->_pad0));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Rules name cgroups by path: tell netwardd when one is made or removed, so
 * a rule follows a service whose cgroup is made anew on restart. */
SEC("tracepoint/cgroup/cgroup_mkdir")
int tp_cgroup_mkdir(struct trace_event_raw_cgroup *ctx)
{
	return cgroup_change(ctx, 0);
}

SEC("tracepoint/cgroup/cgroup_rmdir")
int tp_cgroup_rmdir(struct trace_event_raw_cgroup *ctx)
{
	return cgroup_change(ctx, 1);
}
