// SPDX-License-Identifier: GPL-2.0-only
/*
 * Route guard. One monitor socket on the route, rule, link and address
 * groups feeds a snapshot of the protected routes (the main-table default
 * routes found at start, and every route a routes.protect selector picks);
 * a second socket sends restores and dumps, one at a time, each wait
 * bounded. What it does, and why:
 *
 * - RTM_DELROUTE of a protected route: put it back at once, exactly as it
 *   was, with NLM_F_CREATE|NLM_F_EXCL: a route somebody re-added meanwhile
 *   is never overwritten (EEXIST = already back). The restore comes before
 *   anything else (actor lookup, events): latency is what the guard is for.
 * - The kernel removes routes silently when their device goes down or
 *   their address goes away (keepalived#1719): link and address events
 *   schedule a reconciliation (dump, compare, restore what is missing),
 *   once right away and once more a little later, because the flush runs
 *   after the notification that announced its cause.
 * - Lost notifications (ENOBUFS) schedule a full resync: links and routes
 *   dumped again, snapshots follow what is there, missing routes restored.
 * - A restore that fails (device down, gateway unreachable) leaves the
 *   route pending: retried after link/address events and every second, and
 *   routes.fallback is installed for a pending default route meanwhile.
 * - Anti-flap: past max_restores restores within window_ms, restores wait
 *   an exponential backoff (sd-event timer, never a loop) and one
 *   route_flapping event per episode names the last actor.
 * - IPv6 multipath routes are sets of routes sharing one key: the kernel
 *   can remove one nexthop of them; only the missing nexthops are added
 *   back (NLM_F_APPEND).
 * - Routing-policy rules get the same treatment (the kernel's default rules
 *   found at start, rules.protect): RTM_DELRULE of a protected rule puts it
 *   back with NLM_F_CREATE|NLM_F_EXCL, under the same anti-flap, dry-run
 *   and observe-only modes. Every rule change, protected or not, is
 *   reported with its actor (rule_added, rule_deleted).
 * - The protected set lives in <state_dir>/protected.json too, rewritten
 *   (atomically, off the restore path) only when the set changes: a
 *   netwardd restarted after a crash reads it and puts back, through the
 *   usual restore path, whatever it holds that is gone from the kernel and
 *   still protected by the configuration (reason "missing_at_start"). A
 *   clean stop without bpf.keep_on_exit removes it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "events.h"
#include "route_guard.h"
#include "route_state.h"
#include "rtnl.h"
#include "util.h"

/* rtnetlink requests remembered: at least as many as the ring buffer can
 * hold, so a burst read in one go keeps every actor (a smaller ring lost
 * the older ones: 256 named only 33 % of a 1000-request burst) */
#define NOTES 4096
#define NOTE_WINDOW_NS 5000000000ull	/* ... for a few seconds: a busy daemon lags */
_Static_assert(NOTES >= NW_EVENTS_BYTES / sizeof(struct nw_rtnl_request),
	       "the notes must cover a full ring buffer of requests");
#define REQ_TIMEOUT_MS 200		/* one restore: the kernel answers in µs */
#define DUMP_TIMEOUT_MS 3000
#define RECONCILE_DELAY_US 1000		/* coalesce a burst of link/address events */
#define SETTLE_DELAY_US 250000		/* the second look after them */
#define RESYNC_DELAY_US 10000
#define RETRY_DELAY_US 1000000		/* pending routes */
#define RETRY_SLOW_US 10000000		/* ... after RETRY_FAST attempts */
#define RETRY_FAST 30
#define MON_BATCH 256			/* messages per wake-up, then back to the loop */
#define MON_BUF (64 * 1024)
#define MON_RCVBUF (4 * 1024 * 1024)
#define MAX_PROTECTED 1024
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_USEC 1000ull
#define NSEC_PER_SEC 1000000000ull
#define STATE_GAP_NS (200 * NSEC_PER_MSEC)	/* state file: at most 5 writes a second */
#define AT_START_REASON "missing_at_start"
#define AT_START_CAUSE "not in the kernel when netwardd started: deleted while no netwardd " \
		       "ran (found in the state file)"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000	/* linux/if.h; glibc's net/if.h stops at IFF_DYNAMIC */
#endif

enum pstate {
	P_PRESENT,	/* in the kernel as far as we know */
	P_MISSING,	/* gone, and we are not putting it back (observe, dry-run, expired) */
	P_PENDING,	/* a restore failed: retried on link/address events and by timer */
	P_BACKOFF,	/* flapping: the restore waits for its timer */
};

enum action {
	A_RESTORED,	/* put back */
	A_ALREADY,	/* somebody else put it back first */
	A_FAILED,	/* pending */
	A_BACKOFF,	/* waits */
	A_WAITING,	/* a backoff timer already runs */
	A_DRY_RUN,
	A_OBSERVE,
	A_EXPIRED,	/* its lifetime ended: the kernel's own removal */
};

static const char *const action_names[] = {
	[A_RESTORED] = "restore", [A_ALREADY] = "restore", [A_FAILED] = "restore",
	[A_BACKOFF] = "backoff", [A_WAITING] = "backoff", [A_DRY_RUN] = "dry_run",
	[A_OBSERVE] = "observe", [A_EXPIRED] = "expired",
};

struct actor {
	bool known;
	uint32_t pid, uid;
	uint64_t cgroup_id;
	char comm[NW_COMM_LEN + 1];
};

struct outcome {
	enum action action;
	int err;
	char ext[160];		/* the kernel's extended ACK text */
	uint64_t latency_us;
	uint64_t pending_ms;	/* how long it had been pending before this restore */
	uint32_t backoff_ms;
	bool alarm;		/* first backoff of an episode: raise route_flapping */
	bool partial;		/* only missing IPv6 nexthops were added */
};

struct prot {
	struct nw_route_guard *g;
	struct nw_rt rt;
	/* names of the nexthop devices: a device deleted and created again
	 * comes back with another ifindex */
	char dev[NW_RT_MAX_NH][IF_NAMESIZE];
	bool learned;		/* a default route found at start */
	bool alias;		/* IPv4: another route shares its key (ip route append) */
	bool config;		/* a routes.protect selector picks it */
	bool at_start;		/* found missing at start (state file): its restore says so */
	enum pstate state;
	uint64_t deleted_ns;	/* CLOCK_MONOTONIC: when its deletion was read */
	uint64_t pending_ns;
	uint64_t expires_ns;	/* CLOCK_MONOTONIC end of its lifetime, 0 = none */
	uint64_t deletions, restores, failures;
	unsigned retries;	/* restore attempts while pending */
	bool failure_reported;	/* route_restore_failed raised for this pending spell */
	int last_err;
	char last_err_msg[160];
	struct actor actor;	/* of the last deletion */
	struct nw_flap flap;
	uint64_t backoff_until_ns;
	uint32_t backoff_ms;
	sd_event_source *timer;
	/* reconciliation scratch: its version is in the dump (partial: some
	 * IPv6 nexthops are not); another version holds its key (cand, kept
	 * when notifications were lost) */
	bool seen, partial, other;
	struct nw_rt *cand;
};

/* A protected routing-policy rule: the same life as a protected route,
 * without devices (a rule naming a missing iif/oif is only "detached"). */
struct rprot {
	struct nw_route_guard *g;
	struct nw_rule rule;
	bool learned;		/* a kernel default rule found at start */
	bool config;		/* a rules.protect selector picks it */
	bool at_start;		/* found missing at start (state file): its restore says so */
	enum pstate state;
	uint64_t deleted_ns;	/* CLOCK_MONOTONIC: when its deletion was read */
	uint64_t pending_ns;
	uint64_t deletions, restores, failures;
	unsigned retries;
	unsigned echoes;	/* our own restores whose RTM_NEWRULE is still to come */
	bool failure_reported;
	int last_err;
	char last_err_msg[160];
	struct actor actor;	/* of the last deletion */
	struct nw_flap flap;
	uint64_t backoff_until_ns;
	uint32_t backoff_ms;
	sd_event_source *timer;
	bool seen;		/* in the latest dump */
};

struct fallback {
	bool installed;
	struct nw_rt rt;
};

struct nw_route_guard {
	sd_event *e;
	struct nw_route_guard_cfg cfg;
	struct nw_route_guard_ops ops;
	void *ud;
	uint32_t netns, self;
	struct mnl_socket *mon;
	struct nw_rtnl *req;
	char *buf;
	sd_event_source *mon_src, *rec_src, *retry_src;
	struct nw_link *links;
	size_t n_links, cap_links;
	struct prot **prot;
	size_t n_prot, cap_prot;
	struct nw_rtnl_request notes[NOTES];
	bool used[NOTES];
	size_t note_next, n_notes;
	bool drained;		/* drain_requests called since the last receive */
	struct fallback fb[2];	/* IPv4, IPv6 */
	/* scheduled reconciliation */
	bool rec_armed, rec_resync, rec_settle, rec_second;
	uint64_t rec_trigger_ns;
	char rec_cause[128];
	int rec_ifindex;
	unsigned rec_failures;
	uint64_t changes, deletions, restores, failures, resyncs, enobufs, reconciles,
		 flap_episodes, unsupported, recv_errors, dump_errors;
	int last_dump_err;
	/* routing-policy rules */
	struct rprot **rprot;
	size_t n_rprot, cap_rprot;
	uint64_t rules_added, rules_deleted, rule_deletions, rule_restores, rule_failures,
		 rule_flap_episodes, rule_resyncs;
	/* the state file */
	char *state_path;	/* NULL: not kept */
	bool state_ro;		/* dry-run: read at start, never written */
	bool started;		/* nw_route_guard_new finished: the set is whole */
	bool state_failing;	/* the last write failed (warned once) */
	struct nw_state_place place;
	sd_event_source *state_src;	/* the next write */
	sd_event_source *start_src;	/* puts back what was missing at start */
	uint64_t state_last_ns, state_saves;
	unsigned at_start_routes, at_start_rules;
	char state_err[128];
};

static uint64_t mono_ns(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

static bool may_restore(const struct nw_route_guard *g)
{
	return g->cfg.restore && !g->cfg.dry_run;
}

static bool may_restore_rules(const struct nw_route_guard *g)
{
	return g->cfg.restore_rules && !g->cfg.dry_run;
}

static void rule_retry_pending(struct nw_route_guard *g, uint64_t t);
static void state_dirty(struct nw_route_guard *g);

static void glog(struct nw_route_guard *g, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void glog(struct nw_route_guard *g, int prio, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!g->ops.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	g->ops.log(g->ud, prio, msg);
}

static int fam_idx(uint8_t family)
{
	return family == AF_INET6;
}

static const struct nw_route_fallback *fallback_cfg(const struct nw_route_guard *g,
						     uint8_t family)
{
	const struct nw_route_fallback *f = family == AF_INET ? &g->cfg.fallback4
							      : &g->cfg.fallback6;

	return f->set ? f : NULL;
}

/* --- pure parts ------------------------------------------------------------ */

bool nw_route_sel_match(const struct nw_route_sel *s, const struct nw_rt *rt, int sel_ifindex)
{
	uint32_t table = s->table ? s->table : RT_TABLE_MAIN;
	bool gw = !s->has_gateway, dev = !s->dev[0];

	if (s->family != rt->family || s->dst_len != rt->dst_len || table != rt->table ||
	    rt->src_len || !nw_prefix_equal(s->dst, rt->dst, s->dst_len))
		return false;
	if (s->metric >= 0 && (uint32_t)s->metric != rt->priority)
		return false;
	if (s->dev[0] && sel_ifindex <= 0)
		return false;
	for (unsigned i = 0; i < rt->n_nh; i++) {
		const struct nw_rt_nh *nh = &rt->nh[i];

		if (s->has_gateway && nh->gw_family == s->family &&
		    !memcmp(nh->gateway, s->gateway, s->family == AF_INET ? 4 : 16))
			gw = true;
		if (s->dev[0] && nh->ifindex == sel_ifindex)
			dev = true;
	}
	return gw && dev;
}

static bool req_table_is(const struct nw_rtnl_request *r, uint32_t table)
{
	/* an unspecified table means main for deletions */
	return (r->table ? r->table : RT_TABLE_MAIN) == table;
}

bool nw_route_request_deletes(const struct nw_rtnl_request *r, const struct nw_rt *rt)
{
	static const uint8_t zero[16];
	bool gw;

	if (r->nlmsg_type != RTM_DELROUTE || r->family != rt->family ||
	    !req_table_is(r, rt->table) || r->dst_len != rt->dst_len ||
	    !nw_prefix_equal(r->dst, rt->dst, rt->dst_len))
		return false;
	/* 0: the request did not say (the BPF side cannot tell 0 from absent) */
	if (r->priority && r->priority != rt->priority)
		return false;
	if (!memcmp(r->gateway, zero, sizeof(zero)))
		return true;
	gw = false;
	for (unsigned i = 0; i < rt->n_nh; i++)
		if (rt->nh[i].gw_family == rt->family &&
		    !memcmp(rt->nh[i].gateway, r->gateway, rt->family == AF_INET ? 4 : 16))
			gw = true;
	return gw;
}

static bool rt_uses_dev(const struct nw_rt *rt, int ifindex)
{
	for (unsigned i = 0; i < rt->n_nh; i++)
		if (ifindex > 0 && rt->nh[i].ifindex == ifindex)
			return true;
	return false;
}

bool nw_route_request_causes(const struct nw_rtnl_request *r, const struct nw_rt *rt)
{
	switch (r->nlmsg_type) {
	case RTM_DELADDR:
	case RTM_DELLINK:
		return rt_uses_dev(rt, r->ifindex);
	case RTM_NEWLINK:
		/* ip link set DEV down: IFF_UP in the change mask, not in the flags */
		return rt_uses_dev(rt, r->ifindex) && (r->ifchange & IFF_UP) &&
		       !(r->ifflags & IFF_UP);
	default:
		return false;
	}
}

/* The newest request within the window that match(r, obj) accepts,
 * preferring one not used yet. */
static int find_request(const struct nw_rtnl_request *reqs, const bool *used, size_t n,
			uint64_t now_ns, uint64_t window_ns,
			bool (*match)(const struct nw_rtnl_request *, const void *), const void *obj)
{
	int best = -1;
	bool best_used = true;

	for (size_t i = 0; i < n; i++) {
		const struct nw_rtnl_request *r = &reqs[i];
		bool u = used && used[i];

		if (r->hdr.ts_ns > now_ns || now_ns - r->hdr.ts_ns > window_ns || !match(r, obj))
			continue;
		/* an unused one beats a used one; then the newest */
		if (best < 0 || (best_used && !u) ||
		    (best_used == u && r->hdr.ts_ns >= reqs[best].hdr.ts_ns)) {
			best = (int)i;
			best_used = u;
		}
	}
	return best;
}

struct rt_match {
	bool (*fn)(const struct nw_rtnl_request *, const struct nw_rt *);
	const struct nw_rt *rt;
};

static bool rt_match_cb(const struct nw_rtnl_request *r, const void *obj)
{
	const struct rt_match *m = obj;

	return m->fn(r, m->rt);
}

int nw_route_find_request(const struct nw_rtnl_request *reqs, const bool *used, size_t n,
			  const struct nw_rt *rt, uint64_t now_ns, uint64_t window_ns,
			  bool (*match)(const struct nw_rtnl_request *, const struct nw_rt *))
{
	struct rt_match m = { match, rt };

	return find_request(reqs, used, n, now_ns, window_ns, rt_match_cb, &m);
}

/* The main-table default routes learn_default protects. */
static bool cfg_learnable(const struct nw_route_guard_cfg *cfg, const struct nw_rt *rt)
{
	return cfg->learn_default && rt->table == RT_TABLE_MAIN && !rt->dst_len &&
	       !rt->src_len && rt->type == RTN_UNICAST;
}

bool nw_route_saved_wanted(const struct nw_route_guard_cfg *cfg, const struct nw_rt *rt,
			   const char (*dev)[IF_NAMESIZE], bool learned, bool *learn)
{
	*learn = learned && cfg_learnable(cfg, rt);
	if (*learn)
		return true;
	for (size_t i = 0; i < cfg->n_protect; i++) {
		struct nw_route_sel any = cfg->protect[i];
		bool dev_ok = !any.dev[0];

		/* the device by its saved name: it may be gone (then the
		 * restore fails and waits for it, like any other) */
		any.dev[0] = 0;
		if (!nw_route_sel_match(&any, rt, 0))
			continue;
		for (unsigned n = 0; !dev_ok && n < rt->n_nh && n < NW_RT_MAX_NH; n++)
			dev_ok = !strcmp(dev[n], cfg->protect[i].dev);
		if (dev_ok)
			return true;
	}
	return false;
}

/* --- pure parts: rules ------------------------------------------------------ */

bool nw_rule_sel_match(const struct nw_rule_sel *s, const struct nw_rule *rule)
{
	if ((s->family && s->family != rule->family) ||
	    (s->has_priority && s->priority != rule->priority) ||
	    (s->has_table && s->table != rule->table) ||
	    (s->has_fwmark && s->fwmark != rule->fwmark))
		return false;
	if (s->has_uidrange && (!rule->has_uid_range || s->uid_start != rule->uid_start ||
				s->uid_end != rule->uid_end))
		return false;
	/* a prefix is of one family: the selector's family comes from it */
	if (s->has_from && (s->from_len != rule->src_len ||
			    (s->from_len && s->family != rule->family) ||
			    !nw_prefix_equal(s->from, rule->src, s->from_len)))
		return false;
	if (s->has_to && (s->to_len != rule->dst_len ||
			  (s->to_len && s->family != rule->family) ||
			  !nw_prefix_equal(s->to, rule->dst, s->to_len)))
		return false;
	return (!s->iif[0] || !strcmp(s->iif, rule->iifname)) &&
	       (!s->oif[0] || !strcmp(s->oif, rule->oifname));
}

bool nw_rule_is_default(const struct nw_rule *rule)
{
	static const struct { uint32_t priority, table; } defaults[] = {
		{ 0, RT_TABLE_LOCAL }, { 32766, RT_TABLE_MAIN }, { 32767, RT_TABLE_DEFAULT },
	};
	struct nw_rule bare;

	for (size_t i = 0; i < NW_ARRAY_SIZE(defaults); i++) {
		if (rule->priority != defaults[i].priority || rule->table != defaults[i].table)
			continue;
		/* "from all lookup T": nothing but the lookup */
		memset(&bare, 0, sizeof(bare));
		bare.family = rule->family;
		bare.action = FR_ACT_TO_TBL;
		bare.table = rule->table;
		bare.priority = rule->priority;
		bare.suppress_prefixlen = bare.suppress_ifgroup = NW_RULE_NONE;
		return nw_rule_same_key(&bare, rule) && !(rule->flags & FIB_RULE_INVERT);
	}
	return false;
}

bool nw_rule_saved_wanted(const struct nw_route_guard_cfg *cfg, const struct nw_rule *rule,
			  bool learned, bool *learn)
{
	*learn = learned && cfg->protect_default_rules && nw_rule_is_default(rule);
	if (*learn)
		return true;
	for (size_t i = 0; i < cfg->n_protect_rules; i++)
		if (nw_rule_sel_match(&cfg->protect_rules[i], rule))
			return true;
	return false;
}

bool nw_rule_request_matches(const struct nw_rtnl_request *r, uint16_t type,
			     const struct nw_rule *rule)
{
	/* 0 (and ~0 for the uid range): the request did not say; a deletion
	 * names as few fields as it likes, an addition leaves the priority
	 * to the kernel */
	if (r->nlmsg_type != type || r->family != rule->family ||
	    (r->priority && r->priority != rule->priority) ||
	    (r->table && r->table != rule->table) ||
	    (r->rtm_type && r->rtm_type != rule->action) ||
	    (r->src_len && r->src_len != rule->src_len) ||
	    (r->fwmark && r->fwmark != rule->fwmark))
		return false;
	if (r->dst_len && (r->dst_len != rule->dst_len ||
			   !nw_prefix_equal(r->dst, rule->dst, rule->dst_len)))
		return false;
	if (r->uid_start != ~0u && (!rule->has_uid_range || r->uid_start != rule->uid_start ||
				    r->uid_end != rule->uid_end))
		return false;
	return true;
}

struct rule_match {
	uint16_t type;
	const struct nw_rule *rule;
};

static bool rule_match_cb(const struct nw_rtnl_request *r, const void *obj)
{
	const struct rule_match *m = obj;

	return nw_rule_request_matches(r, m->type, m->rule);
}

int nw_rule_find_request(const struct nw_rtnl_request *reqs, const bool *used, size_t n,
			 const struct nw_rule *rule, uint16_t type, uint64_t now_ns,
			 uint64_t window_ns)
{
	struct rule_match m = { type, rule };

	return find_request(reqs, used, n, now_ns, window_ns, rule_match_cb, &m);
}

uint32_t nw_route_backoff_ms(unsigned level, uint32_t min_ms, uint32_t max_ms)
{
	uint64_t v = min_ms ? min_ms : 1;

	if (level >= 32)
		return max_ms;
	v <<= level;
	return v > max_ms ? max_ms : (uint32_t)v;
}

int nw_flap_init(struct nw_flap *f, uint32_t max_restores)
{
	memset(f, 0, sizeof(*f));
	f->cap = max_restores ? max_restores : 1;
	f->ts = calloc(f->cap, sizeof(*f->ts));
	return f->ts ? 0 : -ENOMEM;
}

void nw_flap_free(struct nw_flap *f)
{
	free(f->ts);
	memset(f, 0, sizeof(*f));
}

void nw_flap_record(struct nw_flap *f, uint64_t now_ns)
{
	f->ts[f->head] = now_ns;
	f->head = (f->head + 1) % f->cap;
	if (f->n < f->cap)
		f->n++;
	f->last_restore_ns = now_ns;
}

uint32_t nw_flap_count(const struct nw_flap *f, uint64_t now_ns, uint64_t window_ns)
{
	uint32_t c = 0;

	for (uint32_t i = 0; i < f->n; i++)
		if (f->ts[i] <= now_ns && now_ns - f->ts[i] < window_ns)
			c++;
	return c;
}

uint32_t nw_flap_decide(struct nw_flap *f, uint64_t now_ns,
			const struct nw_route_guard_cfg *cfg, bool *alarm)
{
	uint64_t window = (uint64_t)cfg->window_ms * NSEC_PER_MSEC;
	uint32_t delay;

	*alarm = false;
	if (f->flapping && now_ns - f->last_restore_ns >= window) {
		/* the route stayed put for a whole window: episode over */
		f->level = 0;
		f->flapping = false;
	}
	if (!f->flapping && nw_flap_count(f, now_ns, window) < cfg->max_restores)
		return 0;
	delay = nw_route_backoff_ms(f->level, cfg->backoff_min_ms, cfg->backoff_max_ms);
	if (f->level < 32)
		f->level++;
	if (!f->flapping) {
		f->flapping = true;
		*alarm = true;
	}
	return delay;
}

/* --- links ------------------------------------------------------------------ */

static struct nw_link *link_find(struct nw_route_guard *g, int ifindex)
{
	for (size_t i = 0; i < g->n_links; i++)
		if (g->links[i].ifindex == ifindex)
			return &g->links[i];
	return NULL;
}

static struct nw_link *link_by_name(struct nw_route_guard *g, const char *name)
{
	for (size_t i = 0; i < g->n_links; i++)
		if (!strcmp(g->links[i].name, name))
			return &g->links[i];
	return NULL;
}

static int link_set(struct nw_route_guard *g, const struct nw_link *l)
{
	struct nw_link *old = link_find(g, l->ifindex);

	if (old) {
		*old = *l;
		return 0;
	}
	if (g->n_links == g->cap_links) {
		size_t cap = g->cap_links ? g->cap_links * 2 : 16;
		struct nw_link *n = realloc(g->links, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		g->links = n;
		g->cap_links = cap;
	}
	g->links[g->n_links++] = *l;
	return 0;
}

static void link_del(struct nw_route_guard *g, int ifindex)
{
	struct nw_link *l = link_find(g, ifindex);

	if (l)
		*l = g->links[--g->n_links];
}

/* Name of rt's i-th nexthop device: from the link table, else the name p
 * remembered for it (the device may be gone). */
static void dev_name(struct nw_route_guard *g, const struct nw_rt *rt, const struct prot *p,
		     unsigned i, char *buf, size_t size)
{
	const struct nw_link *l = i < rt->n_nh ? link_find(g, rt->nh[i].ifindex) : NULL;

	buf[0] = 0;
	if (l)
		snprintf(buf, size, "%s", l->name);
	else if (p && i < p->rt.n_nh && p->rt.nh[i].ifindex == rt->nh[i].ifindex && p->dev[i][0])
		snprintf(buf, size, "%s", p->dev[i]);
	else if (i < rt->n_nh && rt->nh[i].ifindex)
		snprintf(buf, size, "if%d", rt->nh[i].ifindex);
}

static bool link_up(struct nw_route_guard *g, int ifindex)
{
	const struct nw_link *l = link_find(g, ifindex);

	return l && (l->flags & IFF_UP);
}

/* --- selectors and the protected set ----------------------------------------- */

static int sel_ifindex(struct nw_route_guard *g, const struct nw_route_sel *s)
{
	const struct nw_link *l;

	if (!s->dev[0])
		return 0;
	l = link_by_name(g, s->dev);
	return l ? l->ifindex : -ENODEV;
}

static bool sel_any(struct nw_route_guard *g, const struct nw_rt *rt)
{
	for (size_t i = 0; i < g->cfg.n_protect; i++)
		if (nw_route_sel_match(&g->cfg.protect[i], rt, sel_ifindex(g, &g->cfg.protect[i])))
			return true;
	return false;
}

static bool learnable(const struct nw_route_guard *g, const struct nw_rt *rt)
{
	return cfg_learnable(&g->cfg, rt);
}

static struct prot *prot_find(struct nw_route_guard *g, const struct nw_rt *rt)
{
	for (size_t i = 0; i < g->n_prot; i++)
		if (nw_rt_same_key(&g->prot[i]->rt, rt))
			return g->prot[i];
	return NULL;
}

/* a holds b: b itself or, for IPv6, a multipath route with b's nexthops
 * and more (IPv6 nexthops come and go one by one) */
static bool rt_covers(const struct nw_rt *a, const struct nw_rt *b)
{
	if (nw_rt_equal(a, b))
		return true;
	if (a->family != AF_INET6 || a->nh_id || b->nh_id || !b->n_nh || a->n_nh <= b->n_nh ||
	    !nw_rt_same_key(a, b) || a->protocol != b->protocol || a->type != b->type)
		return false;
	for (unsigned i = 0; i < b->n_nh; i++)
		if (!nw_rt_has_nh(a, &b->nh[i]))
			return false;
	return true;
}

static bool is_fallback(struct nw_route_guard *g, const struct nw_rt *rt)
{
	const struct fallback *f = &g->fb[fam_idx(rt->family)];

	return f->installed && nw_rt_equal(&f->rt, rt);
}

/* What the state file keeps of a route differs: the route a restore would
 * send, not kernel-owned flags or its remaining lifetime. */
static bool kept_differs(const struct nw_rt *a, const struct nw_rt *b)
{
	return !nw_rt_equal(a, b) || a->multipath != b->multipath || a->tos != b->tos ||
	       a->has_pref != b->has_pref || a->pref != b->pref ||
	       a->metrics_len != b->metrics_len || memcmp(a->metrics, b->metrics, a->metrics_len);
}

/* p follows rt. The state file is rewritten only when what it keeps
 * changed: the echo of a restore changes nothing. */
static void snapshot(struct nw_route_guard *g, struct prot *p, const struct nw_rt *rt)
{
	char dev[NW_RT_MAX_NH][IF_NAMESIZE];
	uint64_t expires = rt->expires_s ? mono_ns() + rt->expires_s * NSEC_PER_SEC : 0;
	bool changed = kept_differs(&p->rt, rt) || !expires != !p->expires_ns ||
		       (expires > p->expires_ns ? expires - p->expires_ns
						: p->expires_ns - expires) > 2 * NSEC_PER_SEC;

	memset(dev, 0, sizeof(dev));
	for (unsigned i = 0; i < rt->n_nh && i < NW_RT_MAX_NH; i++) {
		const struct nw_link *l = link_find(g, rt->nh[i].ifindex);

		if (l)
			snprintf(dev[i], sizeof(dev[i]), "%s", l->name);
	}
	changed |= memcmp(dev, p->dev, sizeof(dev)) != 0;
	p->rt = *rt;
	memcpy(p->dev, dev, sizeof(dev));
	p->expires_ns = expires;
	if (changed)
		state_dirty(g);
}

static void set_alias(struct nw_route_guard *g, struct prot *p, bool alias)
{
	if (p->alias != alias)
		state_dirty(g);
	p->alias = alias;
}

static struct prot *prot_add(struct nw_route_guard *g, const struct nw_rt *rt, bool learned)
{
	struct prot *p;

	if (g->n_prot >= MAX_PROTECTED)
		return NULL;
	if (g->n_prot == g->cap_prot) {
		size_t cap = g->cap_prot ? g->cap_prot * 2 : 8;
		struct prot **n = realloc(g->prot, cap * sizeof(*n));

		if (!n)
			return NULL;
		g->prot = n;
		g->cap_prot = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p || nw_flap_init(&p->flap, g->cfg.max_restores)) {
		free(p);
		return NULL;
	}
	p->g = g;
	p->learned = learned;
	p->config = sel_any(g, rt);
	snapshot(g, p, rt);
	g->prot[g->n_prot++] = p;
	state_dirty(g);
	return p;
}

static void prot_free(struct prot *p)
{
	free(p->cand);
	sd_event_source_disable_unref(p->timer);
	nw_flap_free(&p->flap);
	free(p);
}

static void prot_drop(struct nw_route_guard *g, struct prot *p)
{
	for (size_t i = 0; i < g->n_prot; i++)
		if (g->prot[i] == p) {
			memmove(&g->prot[i], &g->prot[i + 1], (g->n_prot - i - 1) * sizeof(*g->prot));
			g->n_prot--;
			break;
		}
	prot_free(p);
	state_dirty(g);
}

/* --- events ----------------------------------------------------------------- */

static void describe(struct nw_route_guard *g, const struct prot *p, const struct nw_rt *rt,
		     char *buf, size_t size)
{
	char dst[64], a[INET6_ADDRSTRLEN], t[12], pr[4], dev[IF_NAMESIZE];
	size_t n;

	nw_rt_dst_str(rt, dst, sizeof(dst));
	n = (size_t)snprintf(buf, size, "%s", dst);
	for (unsigned i = 0; i < rt->n_nh && n < size; i++) {
		const struct nw_rt_nh *nh = &rt->nh[i];

		dev_name(g, rt, p, i, dev, sizeof(dev));
		nw_addr_str(nh->gw_family, nh->gateway, a, sizeof(a));
		n += (size_t)snprintf(buf + n, size - n, "%s%s%s%s%s", rt->multipath ? " nexthop" : "",
				      nh->gw_family ? " via " : "", nh->gw_family ? a : "",
				      dev[0] ? " dev " : "", dev);
	}
	if (n < size)
		snprintf(buf + n, size - n, " table %s metric %u proto %s",
			 nw_rt_table_name(rt->table, t), rt->priority,
			 nw_rt_proto_name(rt->protocol, pr));
}

static void add_route(struct nw_route_guard *g, cJSON *ev, const struct prot *p,
		      const struct nw_rt *rt)
{
	char s[64], pr[4], dev[IF_NAMESIZE];
	cJSON *arr;

	cJSON_AddNumberToObject(ev, "family", rt->family == AF_INET ? 4 : 6);
	nw_rt_dst_str(rt, s, sizeof(s));
	cJSON_AddStringToObject(ev, "dst", s);
	cJSON_AddNumberToObject(ev, "table", rt->table);
	if (rt->n_nh && rt->nh[0].gw_family) {
		nw_addr_str(rt->nh[0].gw_family, rt->nh[0].gateway, s, sizeof(s));
		cJSON_AddStringToObject(ev, "gateway", s);
	} else {
		cJSON_AddNullToObject(ev, "gateway");
	}
	dev_name(g, rt, p, 0, dev, sizeof(dev));
	if (rt->n_nh && dev[0])
		cJSON_AddStringToObject(ev, "dev", dev);
	else
		cJSON_AddNullToObject(ev, "dev");
	cJSON_AddNumberToObject(ev, "metric", rt->priority);
	cJSON_AddStringToObject(ev, "protocol", nw_rt_proto_name(rt->protocol, pr));
	if (!rt->multipath)
		return;
	arr = cJSON_AddArrayToObject(ev, "nexthops");
	for (unsigned i = 0; arr && i < rt->n_nh; i++) {
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return;
		if (rt->nh[i].gw_family) {
			nw_addr_str(rt->nh[i].gw_family, rt->nh[i].gateway, s, sizeof(s));
			cJSON_AddStringToObject(o, "gateway", s);
		}
		dev_name(g, rt, p, i, dev, sizeof(dev));
		if (dev[0])
			cJSON_AddStringToObject(o, "dev", dev);
		cJSON_AddNumberToObject(o, "weight", rt->nh[i].hops + 1);
		cJSON_AddItemToArray(arr, o);
	}
}

/* pid/comm/uid/cgroup_id at the top (the common event fields) and as
 * "actor" (null when nobody is known: the kernel did it, or a process
 * the kernel side did not see) */
static void add_actor(cJSON *ev, const struct actor *a)
{
	cJSON *o;

	if (!a->known) {
		cJSON_AddNullToObject(ev, "actor");
		return;
	}
	cJSON_AddNumberToObject(ev, "pid", a->pid);
	cJSON_AddStringToObject(ev, "comm", a->comm);
	cJSON_AddNumberToObject(ev, "uid", a->uid);
	cJSON_AddNumberToObject(ev, "cgroup_id", (double)a->cgroup_id);
	o = cJSON_AddObjectToObject(ev, "actor");
	if (!o)
		return;
	cJSON_AddNumberToObject(o, "pid", a->pid);
	cJSON_AddStringToObject(o, "comm", a->comm);
	cJSON_AddNumberToObject(o, "uid", a->uid);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)a->cgroup_id);
}

static void emit(struct nw_route_guard *g, unsigned type, cJSON *ev)
{
	if (!ev)
		return;
	if (g->ops.emit)
		g->ops.emit(g->ud, type, ev);
	cJSON_Delete(ev);
}

static cJSON *route_event(struct nw_route_guard *g, unsigned type, const struct prot *p,
			  const struct nw_rt *rt)
{
	cJSON *ev = nw_event_new(type, g->netns);

	if (ev)
		add_route(g, ev, p, rt);
	return ev;
}

static void actor_from(struct actor *a, const struct nw_rtnl_request *r)
{
	memset(a, 0, sizeof(*a));
	a->known = true;
	a->pid = r->hdr.tgid;
	a->uid = r->hdr.uid;
	a->cgroup_id = r->hdr.cgroup_id;
	memcpy(a->comm, r->hdr.comm, NW_COMM_LEN);
	a->comm[NW_COMM_LEN] = 0;
}

/* Who did it: the RTM_DELROUTE request for rt; when the kernel did not
 * announce the deletion (silent), else the request that took its device
 * or address away. */
static void find_actor(struct nw_route_guard *g, const struct nw_rt *rt, bool silent,
		       struct actor *a)
{
	uint64_t now = nw_now_ns(CLOCK_BOOTTIME);
	int i;

	memset(a, 0, sizeof(*a));
	if (!g->drained && g->ops.drain_requests) {
		g->ops.drain_requests(g->ud);
		g->drained = true;
	}
	i = nw_route_find_request(g->notes, g->used, g->n_notes, rt, now, NOTE_WINDOW_NS,
				  nw_route_request_deletes);
	if (i >= 0) {
		/* one deletion request, one deletion */
		g->used[i] = true;
	} else if (silent) {
		/* a cause may explain several deletions */
		i = nw_route_find_request(g->notes, NULL, g->n_notes, rt, now, NOTE_WINDOW_NS,
					  nw_route_request_causes);
	}
	if (i >= 0)
		actor_from(a, &g->notes[i]);
}

/* --- kernel requests ------------------------------------------------------ */

static int send_route(struct nw_route_guard *g, const struct nw_rt *rt, uint16_t type,
		      uint16_t flags, char *ext, size_t extlen)
{
	char buf[NW_RTNL_MSG_MAX];
	struct nlmsghdr *nlh = nw_rt_build(rt, buf, sizeof(buf), type, flags, 0);

	if (!nlh)
		return -EMSGSIZE;
	return nw_rtnl_request(g->req, nlh, REQ_TIMEOUT_MS, ext, extlen);
}

/* Puts rt back without overwriting anything: 0 added (all or, for an IPv6
 * multipath route, the missing nexthops: *partial), -EEXIST all there.
 * alias: rt lived next to another IPv4 route with its key, which holds the
 * key now; NLM_F_APPEND adds rt next to it again, and still answers EEXIST
 * when rt itself is there. */
static int install(struct nw_route_guard *g, const struct nw_rt *rt, bool alias, bool *partial,
		   char *ext, size_t extlen)
{
	struct nw_rt one;
	unsigned added = 0;
	int r, err = 0;

	*partial = false;
	r = send_route(g, rt, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ext, extlen);
	if (r == -EEXIST && alias && rt->family == AF_INET)
		return send_route(g, rt, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_APPEND, ext, extlen);
	if (r != -EEXIST || rt->family != AF_INET6 || rt->n_nh < 2 || rt->nh_id)
		return r;
	for (unsigned i = 0; i < rt->n_nh; i++) {
		one = *rt;
		one.multipath = false;
		one.n_nh = 1;
		one.nh[0] = rt->nh[i];
		r = send_route(g, &one, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_APPEND, ext, extlen);
		if (r == 0)
			added++;
		else if (r != -EEXIST && !err)
			err = r;
	}
	if (added) {
		*partial = true;
		return 0;
	}
	return err ? err : -EEXIST;
}

/* A device deleted and created again has a new ifindex: follow the name. */
static void fix_ifindexes(struct nw_route_guard *g, struct prot *p)
{
	for (unsigned i = 0; i < p->rt.n_nh; i++) {
		const struct nw_link *l;

		if (!p->dev[i][0] || link_find(g, p->rt.nh[i].ifindex))
			continue;
		if ((l = link_by_name(g, p->dev[i])))
			p->rt.nh[i].ifindex = l->ifindex;
	}
}

/* --- fallback ------------------------------------------------------------- */

static struct prot *pending_default(struct nw_route_guard *g, uint8_t family)
{
	for (size_t i = 0; i < g->n_prot; i++) {
		struct prot *p = g->prot[i];

		if (p->rt.family == family && !p->rt.dst_len && p->state == P_PENDING)
			return p;
	}
	return NULL;
}

/* default [via GATEWAY] [dev DEV] metric M proto static, in the table of
 * the route it stands in for */
static void fallback_route(struct nw_route_guard *g, const struct nw_route_fallback *f,
			   uint32_t table, struct nw_rt *rt)
{
	static const uint8_t zero[16];
	const struct nw_link *l = f->dev[0] ? link_by_name(g, f->dev) : NULL;
	bool gw = memcmp(f->gateway, zero, sizeof(zero)) != 0;

	memset(rt, 0, sizeof(*rt));
	rt->family = f->family;
	rt->table = table;
	rt->protocol = RTPROT_STATIC;
	/* IPv4 device routes are link scope; IPv6 has no route scopes */
	rt->scope = gw || f->family == AF_INET6 ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	rt->type = RTN_UNICAST;
	rt->priority = f->metric;
	rt->n_nh = 1;
	if (gw) {
		rt->nh[0].gw_family = f->family;
		memcpy(rt->nh[0].gateway, f->gateway, 16);
	}
	rt->nh[0].ifindex = l ? l->ifindex : 0;
}

static void fallback_remove(struct nw_route_guard *g, uint8_t family)
{
	struct fallback *fb = &g->fb[fam_idx(family)];

	if (!fb->installed)
		return;
	fb->installed = false;
	/* ours: ESRCH means somebody removed it already */
	send_route(g, &fb->rt, RTM_DELROUTE, 0, NULL, 0);
}

static void fallback_install(struct nw_route_guard *g, struct prot *p,
			     const struct nw_route_fallback *f, uint64_t t)
{
	struct fallback *fb = &g->fb[fam_idx(p->rt.family)];
	char ext[160], desc[512];
	cJSON *ev;
	int r;

	fallback_route(g, f, p->rt.table, &fb->rt);
	r = send_route(g, &fb->rt, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, ext, sizeof(ext));
	if (r == 0 || r == -EEXIST)
		fb->installed = true;
	describe(g, NULL, &fb->rt, desc, sizeof(desc));
	ev = route_event(g, fb->installed ? NW_EV_ROUTE_RESTORED : NW_EV_ROUTE_RESTORE_FAILED, NULL,
			 &fb->rt);
	if (!ev)
		return;
	if (fb->rt.n_nh && f->dev[0])
		cJSON_ReplaceItemInObject(ev, "dev", cJSON_CreateString(f->dev));
	cJSON_AddBoolToObject(ev, "fallback", 1);
	if (fb->installed) {
		cJSON_AddNumberToObject(ev, "latency_us", (double)((mono_ns() - t) / NSEC_PER_USEC));
		cJSON_AddStringToObject(ev, "message", "fallback installed while the protected "
						       "default route cannot be restored");
	} else {
		cJSON_AddStringToObject(ev, "error", ext[0] ? ext : strerror(-r));
		cJSON_AddNumberToObject(ev, "errno", -r);
		cJSON_AddStringToObject(ev, "message", "fallback route could not be installed");
	}
	cJSON_AddStringToObject(ev, "route", desc);
	emit(g, fb->installed ? NW_EV_ROUTE_RESTORED : NW_EV_ROUTE_RESTORE_FAILED, ev);
}

/* The fallback of a family is there exactly while one of its protected
 * default routes is pending. */
static void fallback_update(struct nw_route_guard *g, uint8_t family, uint64_t t)
{
	const struct nw_route_fallback *f = fallback_cfg(g, family);
	struct prot *p = pending_default(g, family);

	if (p && f && !g->fb[fam_idx(family)].installed && may_restore(g))
		fallback_install(g, p, f, t);
	else if ((!p || !f) && g->fb[fam_idx(family)].installed)
		fallback_remove(g, family);
}

/* --- restore ------------------------------------------------------------- */

static int arm_retry(struct nw_route_guard *g, unsigned retries)
{
	int enabled = SD_EVENT_OFF;

	sd_event_source_get_enabled(g->retry_src, &enabled);
	if (enabled != SD_EVENT_OFF)
		return 0;
	sd_event_source_set_time_relative(g->retry_src,
					  retries < RETRY_FAST ? RETRY_DELAY_US : RETRY_SLOW_US);
	return sd_event_source_set_enabled(g->retry_src, SD_EVENT_ONESHOT);
}

static void set_present(struct nw_route_guard *g, struct prot *p)
{
	bool was_pending = p->state == P_PENDING;

	p->state = P_PRESENT;
	p->retries = 0;
	p->failure_reported = false;
	p->backoff_until_ns = 0;
	sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
	if (was_pending && !p->rt.dst_len)
		fallback_update(g, p->rt.family, mono_ns());
}

/* One restore attempt, now. t: when the loss was noticed. */
static void restore_now(struct nw_route_guard *g, struct prot *p, uint64_t t, struct outcome *o)
{
	struct fallback *fb = &g->fb[fam_idx(p->rt.family)];
	uint64_t now;
	int r;

	fix_ifindexes(g, p);
	/* our own fallback may hold the key (same metric): it makes way */
	if (fb->installed && nw_rt_same_key(&fb->rt, &p->rt))
		fallback_remove(g, p->rt.family);
	r = install(g, &p->rt, p->alias, &o->partial, o->ext, sizeof(o->ext));
	now = mono_ns();
	o->err = r;
	o->latency_us = (now - t) / NSEC_PER_USEC;
	if (r == 0 || r == -EEXIST) {
		o->action = r ? A_ALREADY : A_RESTORED;
		if (p->state == P_PENDING)
			o->pending_ms = (now - p->pending_ns) / NSEC_PER_MSEC;
		if (!r) {
			p->restores++;
			g->restores++;
			nw_flap_record(&p->flap, now);
		}
		set_present(g, p);
		return;
	}
	o->action = A_FAILED;
	p->failures++;
	g->failures++;
	p->last_err = r;
	snprintf(p->last_err_msg, sizeof(p->last_err_msg), "%s", o->ext[0] ? o->ext : strerror(-r));
	if (p->state != P_PENDING) {
		p->pending_ns = now;
		p->retries = 0;
	}
	p->state = P_PENDING;
	p->retries++;
	arm_retry(g, p->retries);
}

static int on_backoff_timer(sd_event_source *s, uint64_t usec, void *ud);

static void backoff(struct nw_route_guard *g, struct prot *p, uint32_t ms, struct outcome *o)
{
	o->action = A_BACKOFF;
	o->backoff_ms = ms;
	p->state = P_BACKOFF;
	p->backoff_ms = ms;
	p->backoff_until_ns = mono_ns() + ms * NSEC_PER_MSEC;
	if (!p->timer &&
	    sd_event_add_time_relative(g->e, &p->timer, CLOCK_MONOTONIC, 0, 1000,
				       on_backoff_timer, p) < 0) {
		/* no timer, no backoff: better restore than stay down */
		restore_now(g, p, p->deleted_ns, o);
		return;
	}
	sd_event_source_set_time_relative(p->timer, (uint64_t)ms * 1000);
	sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

/* The route is gone: decide, act, and only then talk about it. */
static void decide(struct nw_route_guard *g, struct prot *p, uint64_t t, struct outcome *o)
{
	uint64_t now = mono_ns();
	uint32_t ms;

	memset(o, 0, sizeof(*o));
	if (p->expires_ns && now + NSEC_PER_MSEC * 1000 >= p->expires_ns) {
		o->action = A_EXPIRED;
		p->state = P_MISSING;
	} else if (!g->cfg.restore) {
		o->action = A_OBSERVE;
		p->state = P_MISSING;
	} else if (g->cfg.dry_run) {
		o->action = A_DRY_RUN;
		p->state = P_MISSING;
	} else if (p->state == P_BACKOFF) {
		o->action = A_WAITING;
		o->backoff_ms = p->backoff_ms;
	} else if ((ms = nw_flap_decide(&p->flap, now, &g->cfg, &o->alarm))) {
		backoff(g, p, ms, o);
	} else {
		restore_now(g, p, t, o);
	}
}

static void emit_deleted(struct nw_route_guard *g, struct prot *p, const struct nw_rt *gone,
			 const char *reason, const char *cause, const struct outcome *o)
{
	char desc[512], msg[768];
	cJSON *ev = route_event(g, NW_EV_ROUTE_DELETED, p, gone);

	if (!ev)
		return;
	describe(g, p, gone, desc, sizeof(desc));
	cJSON_AddStringToObject(ev, "reason", reason);
	if (cause && cause[0])
		cJSON_AddStringToObject(ev, "cause", cause);
	cJSON_AddStringToObject(ev, "action", action_names[o->action]);
	cJSON_AddStringToObject(ev, "origin", p->learned ? "learned" : "config");
	add_actor(ev, &p->actor);
	switch (o->action) {
	case A_DRY_RUN:
		cJSON_AddBoolToObject(ev, "dry_run", 1);
		snprintf(msg, sizeof(msg), "%s%s%s: dry-run, not restored", desc,
			 cause && cause[0] ? ": " : "", cause ? cause : "");
		break;
	case A_OBSERVE:
		snprintf(msg, sizeof(msg), "%s: routes.restore is false, not restored", desc);
		break;
	case A_EXPIRED:
		snprintf(msg, sizeof(msg), "%s: its lifetime ended, not restored", desc);
		break;
	case A_BACKOFF:
	case A_WAITING:
		snprintf(msg, sizeof(msg), "%s: flapping, restore in %u ms", desc, o->backoff_ms);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s%s%s", desc, cause && cause[0] ? ": " : "",
			 cause ? cause : "");
		break;
	}
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_ROUTE_DELETED, ev);
}

/* --dry-run: the route_restored that would have been, marked dry_run like
 * the bind guard's audit-instead-of-deny events */
static void emit_would_restore(struct nw_route_guard *g, struct prot *p, bool at_start)
{
	char desc[512], msg[768];
	cJSON *ev = route_event(g, NW_EV_ROUTE_RESTORED, p, &p->rt);

	if (!ev)
		return;
	describe(g, p, &p->rt, desc, sizeof(desc));
	cJSON_AddBoolToObject(ev, "dry_run", 1);
	if (at_start)
		cJSON_AddStringToObject(ev, "reason", AT_START_REASON);
	snprintf(msg, sizeof(msg), "%s: dry-run, would restore it (NLM_F_CREATE|NLM_F_EXCL)%s",
		 desc, p->rt.n_nh && !link_up(g, p->rt.nh[0].ifindex)
		 ? ", once its device is up" : "");
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_ROUTE_RESTORED, ev);
}

/* The first outcome of an object found missing at start says so; a failed
 * restore or a backoff leaves that to the restore that follows. */
static bool take_at_start(bool *at_start, const struct outcome *o)
{
	bool was = *at_start;

	if (o->action != A_FAILED && o->action != A_BACKOFF && o->action != A_WAITING)
		*at_start = false;
	return was;
}

static void emit_outcome(struct nw_route_guard *g, struct prot *p, const struct outcome *o)
{
	char desc[512], msg[768];
	bool ok = o->action == A_RESTORED || o->action == A_ALREADY;
	bool at_start = take_at_start(&p->at_start, o);
	cJSON *ev;

	if (o->action == A_DRY_RUN)
		emit_would_restore(g, p, at_start);
	if (!ok && o->action != A_FAILED)
		return;
	/* one route_restore_failed per pending spell, not one per retry */
	if (!ok && p->failure_reported)
		return;
	p->failure_reported |= !ok;
	describe(g, p, &p->rt, desc, sizeof(desc));
	ev = route_event(g, ok ? NW_EV_ROUTE_RESTORED : NW_EV_ROUTE_RESTORE_FAILED, p, &p->rt);
	if (!ev)
		return;
	if (at_start)
		cJSON_AddStringToObject(ev, "reason", AT_START_REASON);
	if (ok) {
		cJSON_AddNumberToObject(ev, "latency_us", (double)o->latency_us);
		cJSON_AddNumberToObject(ev, "restores", (double)p->restores);
		if (o->action == A_ALREADY)
			cJSON_AddBoolToObject(ev, "already_present", 1);
		if (o->partial)
			cJSON_AddBoolToObject(ev, "partial", 1);
		if (o->pending_ms)
			cJSON_AddNumberToObject(ev, "pending_ms", (double)o->pending_ms);
		snprintf(msg, sizeof(msg), "%s: %s%s in %llu us", desc,
			 at_start ? "missing at start, " : "",
			 o->action == A_ALREADY ? "already back" :
			 o->partial ? "missing nexthops restored" : "restored",
			 (unsigned long long)o->latency_us);
	} else {
		const char *why = p->rt.n_nh && !link_up(g, p->rt.nh[0].ifindex) ? "device down"
										   : "unreachable";

		cJSON_AddStringToObject(ev, "error", p->last_err_msg);
		cJSON_AddNumberToObject(ev, "errno", -o->err);
		cJSON_AddBoolToObject(ev, "pending", 1);
		cJSON_AddStringToObject(ev, "pending_reason", why);
		snprintf(msg, sizeof(msg), "%s: %srestore failed (%s), %s: retried when links or "
			 "addresses change, and periodically", desc,
			 at_start ? "missing at start, " : "", p->last_err_msg, why);
	}
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, ok ? NW_EV_ROUTE_RESTORED : NW_EV_ROUTE_RESTORE_FAILED, ev);
}

static void emit_flapping(struct nw_route_guard *g, struct prot *p, const struct outcome *o)
{
	uint32_t n = nw_flap_count(&p->flap, mono_ns(), (uint64_t)g->cfg.window_ms * NSEC_PER_MSEC);
	char desc[512], msg[768];
	cJSON *ev = route_event(g, NW_EV_ROUTE_FLAPPING, p, &p->rt);

	if (!ev)
		return;
	g->flap_episodes++;
	describe(g, p, &p->rt, desc, sizeof(desc));
	cJSON_AddNumberToObject(ev, "count", n);
	cJSON_AddNumberToObject(ev, "deletions", (double)p->deletions);
	cJSON_AddNumberToObject(ev, "window_ms", g->cfg.window_ms);
	cJSON_AddNumberToObject(ev, "backoff_ms", o->backoff_ms);
	add_actor(ev, &p->actor);
	if (p->actor.known)
		snprintf(msg, sizeof(msg), "%s: restored %u times within %u ms, deleted again by pid "
			 "%u (%s): restores back off", desc, n, g->cfg.window_ms, p->actor.pid,
			 p->actor.comm);
	else
		snprintf(msg, sizeof(msg), "%s: restored %u times within %u ms, deleted again by an "
			 "unknown actor: restores back off", desc, n, g->cfg.window_ms);
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_ROUTE_FLAPPING, ev);
}

/* A protected route went away. gone: what the kernel said (the whole route
 * when the kernel did not say). */
static void lost(struct nw_route_guard *g, struct prot *p, const struct nw_rt *gone, uint64_t t,
		 const char *reason, const char *cause)
{
	struct nw_rt whole;
	struct outcome o;

	if (strcmp(reason, AT_START_REASON))
		p->at_start = false;	/* a deletion of its own, later */
	p->deletions++;
	g->deletions++;
	p->deleted_ns = t;
	whole = p->rt;
	decide(g, p, t, &o);
	find_actor(g, gone ? gone : &whole, !gone, &p->actor);
	emit_deleted(g, p, gone ? gone : &whole, reason, cause, &o);
	emit_outcome(g, p, &o);
	if (o.alarm)
		emit_flapping(g, p, &o);
	if (!p->rt.dst_len)
		fallback_update(g, p->rt.family, t);
}

static int on_backoff_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	struct prot *p = ud;
	struct nw_route_guard *g = p->g;
	struct outcome o = { 0 };
	(void)s;
	(void)usec;

	if (p->state != P_BACKOFF)
		return 0;
	if (!may_restore(g)) {
		p->state = P_MISSING;
		return 0;
	}
	restore_now(g, p, p->deleted_ns, &o);
	emit_outcome(g, p, &o);
	if (!p->rt.dst_len)
		fallback_update(g, p->rt.family, mono_ns());
	return 0;
}

/* Tries a pending route again. t: what made it worth a try. */
static void retry_one(struct nw_route_guard *g, struct prot *p, uint64_t t)
{
	struct outcome o = { 0 };

	if (!may_restore(g)) {
		p->state = P_MISSING;
		return;
	}
	restore_now(g, p, t, &o);
	emit_outcome(g, p, &o);
	if (!p->rt.dst_len)
		fallback_update(g, p->rt.family, t);
}

static void retry_pending(struct nw_route_guard *g, uint64_t t)
{
	for (size_t i = 0; i < g->n_prot; i++)
		if (g->prot[i]->state == P_PENDING)
			retry_one(g, g->prot[i], t);
	rule_retry_pending(g, t);
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)s;
	(void)usec;
	retry_pending(ud, mono_ns());
	return 0;
}

/* --- routing-policy rules ----------------------------------------------------
 *
 * The kernel's default rules found at start (rules.protect_defaults) and
 * the rules rules.protect selects, present or added later, are snapshotted
 * and put back with NLM_F_CREATE|NLM_F_EXCL when deleted (systemd-networkd
 * deletes foreign rules, 32766/32767 included, on restart). Every rule
 * addition and deletion, protected or not, is reported with its actor
 * (rule_added, rule_deleted): rule churn is what breaks browsers. Rules do
 * not vanish silently with links or addresses: only a resync after lost
 * notifications dumps them.
 */

static bool rule_sel_any(const struct nw_route_guard *g, const struct nw_rule *rule)
{
	for (size_t i = 0; i < g->cfg.n_protect_rules; i++)
		if (nw_rule_sel_match(&g->cfg.protect_rules[i], rule))
			return true;
	return false;
}

static bool rule_learnable(const struct nw_route_guard *g, const struct nw_rule *rule)
{
	return g->cfg.protect_default_rules && nw_rule_is_default(rule);
}

static bool rules_wanted(const struct nw_route_guard *g)
{
	return g->cfg.protect_default_rules || g->cfg.n_protect_rules || g->n_rprot;
}

static struct rprot *rprot_find(struct nw_route_guard *g, const struct nw_rule *rule)
{
	for (size_t i = 0; i < g->n_rprot; i++)
		if (nw_rule_same_key(&g->rprot[i]->rule, rule))
			return g->rprot[i];
	return NULL;
}

static struct rprot *rprot_add(struct nw_route_guard *g, const struct nw_rule *rule, bool learned)
{
	struct rprot *p;

	if (g->n_rprot >= MAX_PROTECTED)
		return NULL;
	if (g->n_rprot == g->cap_rprot) {
		size_t cap = g->cap_rprot ? g->cap_rprot * 2 : 8;
		struct rprot **n = realloc(g->rprot, cap * sizeof(*n));

		if (!n)
			return NULL;
		g->rprot = n;
		g->cap_rprot = cap;
	}
	p = calloc(1, sizeof(*p));
	if (!p || nw_flap_init(&p->flap, g->cfg.max_restores)) {
		free(p);
		return NULL;
	}
	p->g = g;
	p->rule = *rule;
	p->learned = learned;
	p->config = rule_sel_any(g, rule);
	g->rprot[g->n_rprot++] = p;
	state_dirty(g);
	return p;
}

static void rprot_free(struct rprot *p)
{
	sd_event_source_disable_unref(p->timer);
	nw_flap_free(&p->flap);
	free(p);
}

static void rprot_drop(struct nw_route_guard *g, struct rprot *p)
{
	for (size_t i = 0; i < g->n_rprot; i++)
		if (g->rprot[i] == p) {
			memmove(&g->rprot[i], &g->rprot[i + 1],
				(g->n_rprot - i - 1) * sizeof(*g->rprot));
			g->n_rprot--;
			break;
		}
	rprot_free(p);
	state_dirty(g);
}

/* "IPv4 rule 32766: from all lookup main" */
static void describe_rule(const struct nw_rule *rule, char *buf, size_t size)
{
	char text[384];

	nw_rule_str(rule, text, sizeof(text));
	snprintf(buf, size, "IPv%d rule %u: %s", rule->family == AF_INET ? 4 : 6, rule->priority,
		 text);
}

static void add_rule(cJSON *ev, const struct nw_rule *rule)
{
	char text[384], an[4], pr[4];

	cJSON_AddNumberToObject(ev, "family", rule->family == AF_INET ? 4 : 6);
	cJSON_AddNumberToObject(ev, "priority", rule->priority);
	cJSON_AddNumberToObject(ev, "table", rule->table);
	cJSON_AddStringToObject(ev, "action", nw_rule_action_name(rule->action, an));
	nw_rule_str(rule, text, sizeof(text));
	cJSON_AddStringToObject(ev, "rule", text);
	cJSON_AddStringToObject(ev, "protocol", nw_rt_proto_name(rule->protocol, pr));
	if (rule->has_uid_range) {
		snprintf(text, sizeof(text), "%u-%u", rule->uid_start, rule->uid_end);
		cJSON_AddStringToObject(ev, "uidrange", text);
	}
	if (rule->fwmark || rule->fwmask)
		cJSON_AddNumberToObject(ev, "fwmark", rule->fwmark);
	if (rule->iifname[0])
		cJSON_AddStringToObject(ev, "iif", rule->iifname);
	if (rule->oifname[0])
		cJSON_AddStringToObject(ev, "oif", rule->oifname);
	if (rule->action == FR_ACT_GOTO)
		cJSON_AddNumberToObject(ev, "goto", rule->goto_target);
}

static cJSON *rule_event(struct nw_route_guard *g, unsigned type, const struct nw_rule *rule)
{
	cJSON *ev = nw_event_new(type, g->netns);

	if (ev)
		add_rule(ev, rule);
	return ev;
}

static void drain(struct nw_route_guard *g)
{
	if (!g->drained && g->ops.drain_requests) {
		g->ops.drain_requests(g->ud);
		g->drained = true;
	}
}

/* Who added (RTM_NEWRULE) or deleted (RTM_DELRULE) rule: one request, one change. */
static void rule_find_actor(struct nw_route_guard *g, const struct nw_rule *rule, uint16_t type,
			    struct actor *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	drain(g);
	i = nw_rule_find_request(g->notes, g->used, g->n_notes, rule, type,
				 nw_now_ns(CLOCK_BOOTTIME), NOTE_WINDOW_NS);
	if (i < 0)
		return;
	g->used[i] = true;
	actor_from(a, &g->notes[i]);
}

static int send_rule(struct nw_route_guard *g, const struct nw_rule *rule, char *ext,
		     size_t extlen)
{
	char buf[NW_RTNL_MSG_MAX];
	struct nlmsghdr *nlh = nw_rule_build(rule, buf, sizeof(buf), RTM_NEWRULE,
					     NLM_F_CREATE | NLM_F_EXCL, 0);

	if (!nlh)
		return -EMSGSIZE;
	return nw_rtnl_request(g->req, nlh, REQ_TIMEOUT_MS, ext, extlen);
}

/* p's snapshot follows rule (same key): the state file is rewritten when
 * what a restore would send changed. */
static void rule_follow(struct nw_route_guard *g, struct rprot *p, const struct nw_rule *rule)
{
	if (!nw_rule_equal(&p->rule, rule))
		state_dirty(g);
	p->rule = *rule;
}

static void rset_present(struct rprot *p)
{
	p->state = P_PRESENT;
	p->retries = 0;
	p->failure_reported = false;
	p->backoff_until_ns = 0;
	sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
}

/* One restore attempt, now: 0 put back, -EEXIST somebody was first. */
static void rule_restore_now(struct nw_route_guard *g, struct rprot *p, uint64_t t,
			     struct outcome *o)
{
	uint64_t now;
	int r;

	r = send_rule(g, &p->rule, o->ext, sizeof(o->ext));
	now = mono_ns();
	o->err = r;
	o->latency_us = (now - t) / NSEC_PER_USEC;
	if (r == 0 || r == -EEXIST) {
		o->action = r ? A_ALREADY : A_RESTORED;
		if (p->state == P_PENDING)
			o->pending_ms = (now - p->pending_ns) / NSEC_PER_MSEC;
		if (!r) {
			p->restores++;
			g->rule_restores++;
			p->echoes++;	/* its RTM_NEWRULE is ours, not news */
			nw_flap_record(&p->flap, now);
		}
		rset_present(p);
		return;
	}
	o->action = A_FAILED;
	p->failures++;
	g->rule_failures++;
	p->last_err = r;
	snprintf(p->last_err_msg, sizeof(p->last_err_msg), "%s", o->ext[0] ? o->ext : strerror(-r));
	if (p->state != P_PENDING) {
		p->pending_ns = now;
		p->retries = 0;
	}
	p->state = P_PENDING;
	p->retries++;
	arm_retry(g, p->retries);
}

static int on_rule_backoff_timer(sd_event_source *s, uint64_t usec, void *ud);

static void rule_backoff(struct nw_route_guard *g, struct rprot *p, uint32_t ms,
			 struct outcome *o)
{
	o->action = A_BACKOFF;
	o->backoff_ms = ms;
	p->state = P_BACKOFF;
	p->backoff_ms = ms;
	p->backoff_until_ns = mono_ns() + ms * NSEC_PER_MSEC;
	if (!p->timer &&
	    sd_event_add_time_relative(g->e, &p->timer, CLOCK_MONOTONIC, 0, 1000,
				       on_rule_backoff_timer, p) < 0) {
		/* no timer, no backoff: better restore than stay down */
		rule_restore_now(g, p, p->deleted_ns, o);
		return;
	}
	sd_event_source_set_time_relative(p->timer, (uint64_t)ms * 1000);
	sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

/* The rule is gone: decide and act before talking about it. */
static void rule_decide(struct nw_route_guard *g, struct rprot *p, uint64_t t, struct outcome *o)
{
	uint32_t ms;

	memset(o, 0, sizeof(*o));
	if (!g->cfg.restore_rules) {
		o->action = A_OBSERVE;
		p->state = P_MISSING;
	} else if (g->cfg.dry_run) {
		o->action = A_DRY_RUN;
		p->state = P_MISSING;
	} else if (p->state == P_BACKOFF) {
		o->action = A_WAITING;
		o->backoff_ms = p->backoff_ms;
	} else if ((ms = nw_flap_decide(&p->flap, mono_ns(), &g->cfg, &o->alarm))) {
		rule_backoff(g, p, ms, o);
	} else {
		rule_restore_now(g, p, t, o);
	}
}

static void emit_rule_deleted(struct nw_route_guard *g, struct rprot *p, const struct nw_rule *gone,
			      const char *reason, const struct outcome *o)
{
	char desc[512], msg[768];
	cJSON *ev = rule_event(g, NW_EV_RULE_DELETED, gone);

	if (!ev)
		return;
	describe_rule(gone, desc, sizeof(desc));
	cJSON_AddBoolToObject(ev, "protected", 1);
	cJSON_AddStringToObject(ev, "reason", reason);
	/* "action" is the rule's; what the guard does about it: */
	cJSON_AddStringToObject(ev, "response", action_names[o->action]);
	cJSON_AddStringToObject(ev, "origin", p->learned ? "learned" : "config");
	add_actor(ev, &p->actor);
	switch (o->action) {
	case A_DRY_RUN:
		cJSON_AddBoolToObject(ev, "dry_run", 1);
		snprintf(msg, sizeof(msg), "%s: deleted: dry-run, not restored", desc);
		break;
	case A_OBSERVE:
		snprintf(msg, sizeof(msg), "%s: deleted: rules.restore is false, not restored", desc);
		break;
	case A_BACKOFF:
	case A_WAITING:
		snprintf(msg, sizeof(msg), "%s: deleted: flapping, restore in %u ms", desc,
			 o->backoff_ms);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s: %s", desc,
			 !strcmp(reason, "deleted") ? "deleted" :
			 !strcmp(reason, AT_START_REASON) ? AT_START_CAUSE :
			 "gone while notifications were lost");
		break;
	}
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_RULE_DELETED, ev);
}

static void emit_rule_outcome(struct nw_route_guard *g, struct rprot *p, const struct outcome *o)
{
	bool ok = o->action == A_RESTORED || o->action == A_ALREADY;
	bool at_start = take_at_start(&p->at_start, o);
	char desc[512], msg[768];
	unsigned type;
	cJSON *ev;

	describe_rule(&p->rule, desc, sizeof(desc));
	if (o->action == A_DRY_RUN) {
		/* the rule_restored that would have been, marked dry_run */
		if (!(ev = rule_event(g, NW_EV_RULE_RESTORED, &p->rule)))
			return;
		cJSON_AddBoolToObject(ev, "dry_run", 1);
		if (at_start)
			cJSON_AddStringToObject(ev, "reason", AT_START_REASON);
		snprintf(msg, sizeof(msg), "%s: dry-run, would restore it (NLM_F_CREATE|NLM_F_EXCL)",
			 desc);
		cJSON_AddStringToObject(ev, "message", msg);
		emit(g, NW_EV_RULE_RESTORED, ev);
		return;
	}
	if (!ok && o->action != A_FAILED)
		return;
	/* one rule_restore_failed per pending spell, not one per retry */
	if (!ok && p->failure_reported)
		return;
	p->failure_reported |= !ok;
	type = ok ? NW_EV_RULE_RESTORED : NW_EV_RULE_RESTORE_FAILED;
	if (!(ev = rule_event(g, type, &p->rule)))
		return;
	if (at_start)
		cJSON_AddStringToObject(ev, "reason", AT_START_REASON);
	if (ok) {
		cJSON_AddNumberToObject(ev, "latency_us", (double)o->latency_us);
		cJSON_AddNumberToObject(ev, "restores", (double)p->restores);
		if (o->action == A_ALREADY)
			cJSON_AddBoolToObject(ev, "already_present", 1);
		if (o->pending_ms)
			cJSON_AddNumberToObject(ev, "pending_ms", (double)o->pending_ms);
		snprintf(msg, sizeof(msg), "%s: %s%s in %llu us", desc,
			 at_start ? "missing at start, " : "",
			 o->action == A_ALREADY ? "already back" : "restored",
			 (unsigned long long)o->latency_us);
	} else {
		cJSON_AddStringToObject(ev, "error", p->last_err_msg);
		cJSON_AddNumberToObject(ev, "errno", -o->err);
		cJSON_AddBoolToObject(ev, "pending", 1);
		snprintf(msg, sizeof(msg), "%s: %srestore failed (%s): retried periodically", desc,
			 at_start ? "missing at start, " : "", p->last_err_msg);
	}
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, type, ev);
}

static void emit_rule_flapping(struct nw_route_guard *g, struct rprot *p, const struct outcome *o)
{
	uint32_t n = nw_flap_count(&p->flap, mono_ns(), (uint64_t)g->cfg.window_ms * NSEC_PER_MSEC);
	char desc[512], msg[768];
	cJSON *ev = rule_event(g, NW_EV_RULE_FLAPPING, &p->rule);

	if (!ev)
		return;
	g->rule_flap_episodes++;
	describe_rule(&p->rule, desc, sizeof(desc));
	cJSON_AddNumberToObject(ev, "count", n);
	cJSON_AddNumberToObject(ev, "deletions", (double)p->deletions);
	cJSON_AddNumberToObject(ev, "window_ms", g->cfg.window_ms);
	cJSON_AddNumberToObject(ev, "backoff_ms", o->backoff_ms);
	add_actor(ev, &p->actor);
	if (p->actor.known)
		snprintf(msg, sizeof(msg), "%s: restored %u times within %u ms, deleted again by pid "
			 "%u (%s): restores back off", desc, n, g->cfg.window_ms, p->actor.pid,
			 p->actor.comm);
	else
		snprintf(msg, sizeof(msg), "%s: restored %u times within %u ms, deleted again by an "
			 "unknown actor: restores back off", desc, n, g->cfg.window_ms);
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_RULE_FLAPPING, ev);
}

/* A protected rule went away. gone: what the kernel said (the snapshot
 * when a dump found it missing). */
static void rule_lost(struct nw_route_guard *g, struct rprot *p, const struct nw_rule *gone,
		      uint64_t t, const char *reason)
{
	struct nw_rule was = *gone;
	struct outcome o;

	if (strcmp(reason, AT_START_REASON))
		p->at_start = false;	/* a deletion of its own, later */
	p->deletions++;
	g->rule_deletions++;
	p->deleted_ns = t;
	rule_decide(g, p, t, &o);
	rule_find_actor(g, &was, RTM_DELRULE, &p->actor);
	emit_rule_deleted(g, p, &was, reason, &o);
	emit_rule_outcome(g, p, &o);
	if (o.alarm)
		emit_rule_flapping(g, p, &o);
}

static int on_rule_backoff_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	struct rprot *p = ud;
	struct nw_route_guard *g = p->g;
	struct outcome o = { 0 };
	(void)s;
	(void)usec;

	if (p->state != P_BACKOFF)
		return 0;
	if (!may_restore_rules(g)) {
		p->state = P_MISSING;
		return 0;
	}
	rule_restore_now(g, p, p->deleted_ns, &o);
	emit_rule_outcome(g, p, &o);
	return 0;
}

static void rule_retry_one(struct nw_route_guard *g, struct rprot *p, uint64_t t)
{
	struct outcome o = { 0 };

	if (!may_restore_rules(g)) {
		p->state = P_MISSING;
		return;
	}
	rule_restore_now(g, p, t, &o);
	emit_rule_outcome(g, p, &o);
}

static void rule_retry_pending(struct nw_route_guard *g, uint64_t t)
{
	for (size_t i = 0; i < g->n_rprot; i++)
		if (g->rprot[i]->state == P_PENDING)
			rule_retry_one(g, g->rprot[i], t);
}

/* rule_added / rule_deleted of a rule the guard does not put back (p:
 * protected, but already known gone). */
static void emit_rule_change(struct nw_route_guard *g, unsigned type, const struct nw_rule *rule,
			     const struct rprot *p, const char *note)
{
	char desc[512], msg[768];
	struct actor a;
	cJSON *ev;

	rule_find_actor(g, rule, type == NW_EV_RULE_ADDED ? RTM_NEWRULE : RTM_DELRULE, &a);
	if (!(ev = rule_event(g, type, rule)))
		return;
	describe_rule(rule, desc, sizeof(desc));
	cJSON_AddBoolToObject(ev, "protected", p != NULL);
	if (p)
		cJSON_AddStringToObject(ev, "origin", p->learned ? "learned" : "config");
	add_actor(ev, &a);
	snprintf(msg, sizeof(msg), "%s: %s%s", desc, type == NW_EV_RULE_ADDED ? "added" : "deleted",
		 note);
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, type, ev);
}

static void on_new_rule(struct nw_route_guard *g, struct rprot *p, const struct nw_rule *rule)
{
	const char *note = "";

	if (p && p->echoes && nw_rule_equal(&p->rule, rule)) {
		/* the notification of our own restore */
		p->echoes--;
		return;
	}
	g->rules_added++;
	if (!p && rule_sel_any(g, rule)) {
		p = rprot_add(g, rule, false);
		note = p ? ", protected from now on" : "";
	} else if (p && p->state != P_PRESENT) {
		/* somebody else put it back, perhaps another version of
		 * it: the snapshot follows the latest */
		rule_follow(g, p, rule);
		rset_present(p);
		note = ": the protected rule is back";
	}
	emit_rule_change(g, NW_EV_RULE_ADDED, rule, p, note);
}

static void on_rule(struct nw_route_guard *g, const struct nlmsghdr *nlh, uint64_t t)
{
	struct nw_rule rule;
	struct rprot *p;

	if (nw_rule_parse(nlh, &rule))
		return;
	p = rprot_find(g, &rule);
	if (nlh->nlmsg_type == RTM_NEWRULE) {
		on_new_rule(g, p, &rule);
		return;
	}
	g->rules_deleted++;
	if (p && p->state == P_PRESENT)
		rule_lost(g, p, &rule, t, "deleted");
	else
		emit_rule_change(g, NW_EV_RULE_DELETED, &rule, p, "");
}

struct rrec_ctx {
	struct nw_route_guard *g;
	bool learn;		/* protect the default rules */
	bool adopt;		/* protect what selectors pick */
	bool resync;		/* notifications were lost: follow the dump */
};

static int rec_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rrec_ctx *c = data;
	struct nw_route_guard *g = c->g;
	struct nw_rule rule;
	struct rprot *p;
	bool learn;

	if (nw_rule_parse(nlh, &rule))
		return 0;
	if ((p = rprot_find(g, &rule))) {
		p->seen = true;
		if (c->resync)
			rule_follow(g, p, &rule);
		return 0;
	}
	learn = c->learn && rule_learnable(g, &rule);
	if ((learn || (c->adopt && rule_sel_any(g, &rule))) && (p = rprot_add(g, &rule, learn)))
		p->seen = true;
	return 0;
}

static int dump_rules(struct nw_route_guard *g, bool learn, bool adopt, bool resync)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct rrec_ctx c = { g, learn, adopt, resync };

	for (size_t i = 0; i < g->n_rprot; i++)
		g->rprot[i]->seen = false;
	for (size_t i = 0; i < NW_ARRAY_SIZE(families); i++) {
		int r = nw_rtnl_dump_rules(g->req, families[i], DUMP_TIMEOUT_MS, rec_rule_cb, &c);

		if (r < 0) {
			g->dump_errors++;
			g->last_dump_err = r;
			return r;
		}
	}
	return 0;
}

/* After lost notifications: the dump says which protected rules are gone. */
static int rule_reconcile(struct nw_route_guard *g, uint64_t t)
{
	int r;

	if (!rules_wanted(g))
		return 0;
	if ((r = dump_rules(g, false, true, true)) < 0)
		return r;
	g->rule_resyncs++;
	for (size_t i = 0; i < g->n_rprot; i++) {
		struct rprot *p = g->rprot[i];

		/* whatever echoes were due came or were lost with the rest */
		p->echoes = 0;
		if (p->seen) {
			if (p->state != P_PRESENT)
				rset_present(p);
		} else if (p->state == P_PRESENT) {
			rule_lost(g, p, &p->rule, t, "resync");
		} else if (p->state == P_PENDING) {
			rule_retry_one(g, p, t);
		}
	}
	return 0;
}

/* --- reconciliation --------------------------------------------------------- */

struct rec_ctx {
	struct nw_route_guard *g;
	bool resync;		/* notifications were lost: follow the dump */
	bool learn;		/* learn default routes (start-up) */
	bool adopt;		/* protect what selectors pick */
};

static int rec_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rec_ctx *c = data;
	struct nw_route_guard *g = c->g;
	struct nw_rt rt;
	struct prot *p;
	int r = nw_rt_parse(nlh, &rt);

	if (r == -EOPNOTSUPP && (sel_any(g, &rt) || learnable(g, &rt)))
		g->unsupported++;
	if (r || (rt.flags & RTM_F_CLONED))
		return 0;
	if (g->fb[fam_idx(rt.family)].installed && nw_rt_same_key(&g->fb[fam_idx(rt.family)].rt, &rt))
		return 0;
	p = prot_find(g, &rt);
	if (p && rt_covers(&rt, &p->rt)) {
		p->seen = true;
		/* after lost notifications the dump is the latest version */
		if (c->resync && !nw_rt_equal(&p->rt, &rt))
			snapshot(g, p, &rt);
	} else if (p && rt_covers(&p->rt, &rt)) {
		/* the kernel dropped some nexthops of an IPv6 multipath route */
		p->seen = p->partial = true;
	} else if (p) {
		/* another version holds the key: an alias, or a replacement
		 * whose notification was lost */
		p->other = true;
		set_alias(g, p, rt.family == AF_INET);
		if (c->resync && !p->cand && (p->cand = malloc(sizeof(*p->cand))))
			*p->cand = rt;
	}
	if (p)
		return 0;
	if ((c->learn && learnable(g, &rt)) || (c->adopt && sel_any(g, &rt))) {
		p = prot_add(g, &rt, c->learn && learnable(g, &rt));
		if (p)
			p->seen = true;
	}
	return 0;
}

static int rec_link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nw_route_guard *g = data;
	struct nw_link l;

	if (nw_link_parse(nlh, &l) == 0 && l.ifindex > 0)
		return link_set(g, &l);
	return 0;
}

static int dump_links(struct nw_route_guard *g)
{
	g->n_links = 0;
	return nw_rtnl_dump_links(g->req, DUMP_TIMEOUT_MS, rec_link_cb, g);
}

static bool want_family(struct nw_route_guard *g, uint8_t family, bool adopt)
{
	for (size_t i = 0; i < g->n_prot; i++)
		if (g->prot[i]->rt.family == family)
			return true;
	if (!adopt)
		return false;
	for (size_t i = 0; i < g->cfg.n_protect; i++)
		if (g->cfg.protect[i].family == family)
			return true;
	return g->cfg.learn_default;
}

/* The one table all protected routes of family live in, or 0 (several, or
 * selectors to apply to everything): the kernel then dumps only that table
 * (a full BGP table need not be read after every link event). */
static uint32_t only_table(struct nw_route_guard *g, uint8_t family, bool adopt)
{
	uint32_t table = 0;

	if (adopt)
		return 0;
	for (size_t i = 0; i < g->n_prot; i++) {
		const struct nw_rt *rt = &g->prot[i]->rt;

		if (rt->family != family)
			continue;
		if (table && rt->table != table)
			return 0;
		table = rt->table;
	}
	return table;
}

static int dump_routes(struct nw_route_guard *g, bool resync, bool learn, bool adopt)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	struct rec_ctx c = { g, resync, learn, adopt || resync };

	for (size_t i = 0; i < g->n_prot; i++) {
		struct prot *p = g->prot[i];

		p->seen = p->partial = p->other = false;
		free(p->cand);
		p->cand = NULL;
	}
	for (size_t i = 0; i < NW_ARRAY_SIZE(families); i++) {
		int r;

		if (!want_family(g, families[i], c.adopt || learn))
			continue;
		r = nw_rtnl_dump_routes(g->req, families[i], only_table(g, families[i], c.adopt || learn),
					DUMP_TIMEOUT_MS, rec_route_cb, &c);
		if (r < 0) {
			g->dump_errors++;
			g->last_dump_err = r;
			return r;
		}
	}
	return 0;
}

/* Dumps and compares: restores what is missing. t: when the event that
 * made us look was read; cause: what it was, for the events. */
static int reconcile(struct nw_route_guard *g, bool resync, uint64_t t, const char *cause)
{
	int r;

	g->drained = false;
	if (resync && (r = dump_links(g)) < 0) {
		g->dump_errors++;
		g->last_dump_err = r;
		return r;
	}
	if ((r = dump_routes(g, resync, false, false)) < 0)
		return r;
	g->reconciles++;
	if (resync)
		g->resyncs++;
	for (size_t i = 0; i < g->n_prot; i++) {
		struct prot *p = g->prot[i];

		if (!p->seen && p->cand)
			snapshot(g, p, p->cand);	/* replaced while we were deaf */
		if ((p->seen && !p->partial) || (!p->seen && p->other)) {
			/* there; or another version holds its key, which a
			 * restore would not overwrite anyway */
			if (p->state != P_PRESENT)
				set_present(g, p);
		} else if (p->state == P_PRESENT) {
			/* gone without RTM_DELROUTE: the kernel flushed it, or
			 * its notification was lost */
			lost(g, p, NULL, t, resync ? "resync" : "silent", cause);
		} else if (p->state == P_PENDING) {
			retry_one(g, p, t);
		}
	}
	return resync ? rule_reconcile(g, t) : 0;
}

/* Arms the reconciliation timer. t: when its cause was read (the latency
 * of what it restores counts from there). settle: look once more
 * SETTLE_DELAY_US after this pass. second: this is that second look. */
static void schedule(struct nw_route_guard *g, uint64_t t, uint64_t delay_us, bool resync,
		     bool settle, bool second, const char *cause)
{
	uint64_t now_us = mono_ns() / NSEC_PER_USEC, when;

	g->rec_resync |= resync;
	g->rec_settle |= settle;
	if (g->rec_armed && !(g->rec_second && !second)) {
		/* an earlier deadline wins; the first cause stays */
		if (sd_event_source_get_time(g->rec_src, &when) >= 0 && when > now_us + delay_us)
			sd_event_source_set_time(g->rec_src, now_us + delay_us);
		return;
	}
	/* new, or a fresh event replaces a pending second look */
	g->rec_armed = true;
	g->rec_second = second;
	g->rec_trigger_ns = t;
	snprintf(g->rec_cause, sizeof(g->rec_cause), "%s", cause ? cause : "");
	sd_event_source_set_time(g->rec_src, now_us + delay_us);
	sd_event_source_set_enabled(g->rec_src, SD_EVENT_ONESHOT);
}

static int on_reconcile_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	struct nw_route_guard *g = ud;
	bool resync = g->rec_resync, settle = g->rec_settle;
	char cause[sizeof(g->rec_cause)];
	int r;
	(void)s;
	(void)usec;

	g->rec_armed = g->rec_resync = g->rec_settle = g->rec_second = false;
	snprintf(cause, sizeof(cause), "%s", g->rec_cause);
	r = reconcile(g, resync, g->rec_trigger_ns, cause);
	if (r < 0 && g->rec_failures++ < 10) {
		/* interrupted or timed out: look again soon, a bounded number of times */
		schedule(g, g->rec_trigger_ns, RESYNC_DELAY_US, resync, settle, false, cause);
		return 0;
	}
	g->rec_failures = 0;
	if (settle)
		schedule(g, g->rec_trigger_ns, SETTLE_DELAY_US, false, false, true, cause);
	return 0;
}

/* --- monitor -------------------------------------------------------------- */

static void on_new_route(struct nw_route_guard *g, struct prot *p, const struct nw_rt *rt,
			 uint16_t nlflags)
{
	if (!p) {
		if (sel_any(g, rt))
			prot_add(g, rt, false);
		return;
	}
	/* ip route append/prepend added another route under the same key:
	 * ours is still there and stays the protected one */
	if (p->state == P_PRESENT && !(nlflags & NLM_F_REPLACE) && !rt_covers(rt, &p->rt)) {
		set_alias(g, p, rt->family == AF_INET);
		return;
	}
	/* the admin turned it into something no selector covers */
	if (!p->learned && !sel_any(g, rt)) {
		prot_drop(g, p);
		return;
	}
	/* the snapshot follows the latest version that was installed */
	snapshot(g, p, rt);
	if (p->state != P_PRESENT)
		set_present(g, p);
}

/* rt, just deleted, is the protected version of p (or, for IPv6, some of
 * its nexthops), not another route that happens to share its key: an IPv4
 * alias made with `ip route append`, or a version older than a snapshot
 * that a resync brought up to date. */
static bool deletes_snapshot(const struct prot *p, const struct nw_rt *rt)
{
	return rt_covers(&p->rt, rt);
}

static void on_del_route(struct nw_route_guard *g, struct prot *p, const struct nw_rt *rt,
			 uint64_t t)
{
	char cause[128], dst[64];

	/* already known gone: several messages for one IPv6 route */
	if (p->state != P_PRESENT)
		return;
	if (deletes_snapshot(p, rt)) {
		lost(g, p, rt, t, rt->n_nh < p->rt.n_nh ? "nexthop deleted" : "deleted", NULL);
		return;
	}
	/* not quite ours: whether ours is still there, a dump tells */
	nw_rt_dst_str(rt, dst, sizeof(dst));
	snprintf(cause, sizeof(cause), "a route to %s with the same key was deleted", dst);
	schedule(g, t, RECONCILE_DELAY_US, false, false, false, cause);
}

static void on_route(struct nw_route_guard *g, const struct nlmsghdr *nlh, uint64_t t)
{
	struct nw_rt rt;
	struct prot *p;
	int r = nw_rt_parse(nlh, &rt);

	if (r == -EOPNOTSUPP && sel_any(g, &rt))
		g->unsupported++;
	if (r || (rt.flags & RTM_F_CLONED))
		return;
	if (is_fallback(g, &rt)) {
		if (nlh->nlmsg_type == RTM_DELROUTE)
			g->fb[fam_idx(rt.family)].installed = false;
		return;
	}
	p = prot_find(g, &rt);
	if (nlh->nlmsg_type == RTM_NEWROUTE)
		on_new_route(g, p, &rt, nlh->nlmsg_flags);
	else if (p)
		on_del_route(g, p, &rt, t);
}

static bool carries_protected(struct nw_route_guard *g, int ifindex, unsigned *n)
{
	*n = 0;
	for (size_t i = 0; i < g->n_prot; i++)
		if (rt_uses_dev(&g->prot[i]->rt, ifindex))
			(*n)++;
	return *n > 0;
}

static void emit_link_down(struct nw_route_guard *g, const struct nw_link *l, bool deleted,
			   unsigned n)
{
	cJSON *ev = nw_event_new(NW_EV_LINK_DOWN, g->netns);
	char msg[160];

	if (!ev)
		return;
	cJSON_AddNumberToObject(ev, "ifindex", l->ifindex);
	cJSON_AddStringToObject(ev, "dev", l->name);
	cJSON_AddBoolToObject(ev, "admin_up", !deleted && (l->flags & IFF_UP));
	cJSON_AddBoolToObject(ev, "carrier", !deleted && (l->flags & IFF_LOWER_UP));
	cJSON_AddBoolToObject(ev, "deleted", deleted);
	cJSON_AddNumberToObject(ev, "protected_routes", n);
	snprintf(msg, sizeof(msg), "%s %s: it carries %u protected route%s", l->name,
		 deleted ? "deleted" : (l->flags & IFF_UP) ? "lost carrier" : "down", n,
		 n == 1 ? "" : "s");
	cJSON_AddStringToObject(ev, "message", msg);
	emit(g, NW_EV_LINK_DOWN, ev);
}

static void on_link(struct nw_route_guard *g, const struct nlmsghdr *nlh, uint64_t t)
{
	const unsigned watch = IFF_UP | IFF_LOWER_UP | IFF_RUNNING;
	struct nw_link l, *old;
	bool was_up, now_up, changed;
	char cause[128];
	unsigned n;

	if (nw_link_parse(nlh, &l) || l.ifindex <= 0)
		return;
	old = link_find(g, l.ifindex);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		if (old)
			l = *old;
		/* a device going away is first taken down: one link_down is enough */
		if ((!old || (old->flags & IFF_UP)) && carries_protected(g, l.ifindex, &n))
			emit_link_down(g, &l, true, n);
		link_del(g, l.ifindex);
		snprintf(cause, sizeof(cause), "link %s deleted", l.name);
		schedule(g, t, RECONCILE_DELAY_US, false, true, false, cause);
		return;
	}
	if (old && !l.name[0])
		snprintf(l.name, sizeof(l.name), "%s", old->name);
	was_up = old && (old->flags & IFF_UP) && (old->flags & IFF_LOWER_UP);
	now_up = (l.flags & IFF_UP) && (l.flags & IFF_LOWER_UP);
	changed = !old || ((old->flags ^ l.flags) & watch) || strcmp(old->name, l.name);
	link_set(g, &l);
	if (!changed)
		return;		/* nothing that moves routes changed */
	if (was_up && !now_up && carries_protected(g, l.ifindex, &n))
		emit_link_down(g, &l, false, n);
	snprintf(cause, sizeof(cause), "link %s %s", l.name,
		 !old ? "added" : now_up ? "up" : (l.flags & IFF_UP) ? "lost carrier" : "down");
	schedule(g, t, RECONCILE_DELAY_US, false, true, false, cause);
}

static void on_addr(struct nw_route_guard *g, const struct nlmsghdr *nlh, uint64_t t)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	char cause[128], dev[IF_NAMESIZE] = "?";
	const struct nw_link *l;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return;
	if ((l = link_find(g, (int)ifa->ifa_index)))
		snprintf(dev, sizeof(dev), "%s", l->name);
	snprintf(cause, sizeof(cause), "IPv%d address %s %s", ifa->ifa_family == AF_INET ? 4 : 6,
		 nlh->nlmsg_type == RTM_DELADDR ? "removed from" : "added on", dev);
	schedule(g, t, RECONCILE_DELAY_US, false, true, false, cause);
}

static void on_msg(struct nw_route_guard *g, const struct nlmsghdr *nlh, uint64_t t)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE: case RTM_DELROUTE: case RTM_NEWLINK: case RTM_DELLINK:
	case RTM_NEWADDR: case RTM_DELADDR: case RTM_NEWRULE: case RTM_DELRULE:
		if (g->ops.changed)
			g->ops.changed(g->ud, nlh);
		break;
	}
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		g->changes++;
		on_route(g, nlh, t);
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		g->changes++;
		on_link(g, nlh, t);
		break;
	case RTM_NEWADDR:
	case RTM_DELADDR:
		g->changes++;
		on_addr(g, nlh, t);
		break;
	case RTM_NEWRULE:
	case RTM_DELRULE:
		g->changes++;
		on_rule(g, nlh, t);
		break;
	default:
		break;
	}
}

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *ud)
{
	struct nw_route_guard *g = ud;
	(void)s;
	(void)fd;
	(void)revents;

	for (int i = 0; i < MON_BATCH; i++) {
		ssize_t n = mnl_socket_recvfrom(g->mon, g->buf, MON_BUF);
		const struct nlmsghdr *nlh = (const void *)g->buf;
		int len = (int)n;
		uint64_t t;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			if (errno == ENOBUFS) {
				/* the kernel dropped notifications: whatever they
				 * said, a dump will tell */
				g->enobufs++;
				g->changes++;
				if (g->ops.changed)
					g->ops.changed(g->ud, NULL);
				schedule(g, mono_ns(), RESYNC_DELAY_US, true, false, false,
					 "lost notifications");
				continue;
			}
			g->recv_errors++;
			break;
		}
		t = mono_ns();
		g->drained = false;
		for (; nw_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			on_msg(g, nlh, t);
	}
	return 0;
}

static int monitor_open(struct nw_route_guard *g)
{
	unsigned groups = 1u << (RTNLGRP_LINK - 1) | 1u << (RTNLGRP_IPV4_IFADDR - 1) |
			  1u << (RTNLGRP_IPV6_IFADDR - 1) | 1u << (RTNLGRP_IPV4_ROUTE - 1) |
			  1u << (RTNLGRP_IPV6_ROUTE - 1) | 1u << (RTNLGRP_IPV4_RULE - 1) |
			  1u << (RTNLGRP_IPV6_RULE - 1);
	int fd, size, r;

	g->mon = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!g->mon)
		return -errno;
	fd = mnl_socket_get_fd(g->mon);
	if (g->cfg.rcvbuf > 0) {
		/* exactly what was asked: tests shrink it to provoke ENOBUFS */
		size = g->cfg.rcvbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
			return -errno;
	} else {
		/* large enough for bursts (ip -batch, a VPN pool going down);
		 * FORCE goes past rmem_max, we are root */
		size = MON_RCVBUF;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	if (mnl_socket_bind(g->mon, groups, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	if ((r = sd_event_add_io(g->e, &g->mon_src, fd, EPOLLIN, on_monitor, g)) < 0)
		return r;
	/* before anything else that is ready: a probe that runs between a
	 * deletion and its restore would report an outage of microseconds */
	return sd_event_source_set_priority(g->mon_src, SD_EVENT_PRIORITY_IMPORTANT);
}

/* --- the state file --------------------------------------------------------
 *
 * <state_dir>/protected.json holds the protected set: what the guard would
 * put back. It is rewritten off the restore path (a timer of its own, at
 * most every STATE_GAP_NS) when the set changes: an object added or
 * dropped, a snapshot that follows a new version. A restore changes
 * nothing in it. Read once, at start.
 */

static void state_dirty(struct nw_route_guard *g)
{
	int enabled = SD_EVENT_OFF;
	uint64_t now, when;

	if (!g->state_src)
		return;
	sd_event_source_get_enabled(g->state_src, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;		/* a write is due already */
	now = mono_ns();
	when = g->state_last_ns && now < g->state_last_ns + STATE_GAP_NS
	       ? g->state_last_ns + STATE_GAP_NS : now;
	sd_event_source_set_time(g->state_src, when / NSEC_PER_USEC);
	sd_event_source_set_enabled(g->state_src, SD_EVENT_ONESHOT);
}

static int state_collect(struct nw_route_guard *g, struct nw_state *s)
{
	uint64_t mono = mono_ns(), real = nw_now_ns(CLOCK_REALTIME);

	memset(s, 0, sizeof(*s));
	s->place = g->place;
	if ((g->n_prot && !(s->routes = calloc(g->n_prot, sizeof(*s->routes)))) ||
	    (g->n_rprot && !(s->rules = calloc(g->n_rprot, sizeof(*s->rules))))) {
		nw_state_free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < g->n_prot; i++) {
		const struct prot *p = g->prot[i];
		struct nw_saved_route *sr = &s->routes[s->n_routes++];

		sr->rt = p->rt;
		sr->rt.expires_s = 0;
		memcpy(sr->dev, p->dev, sizeof(sr->dev));
		sr->learned = p->learned;
		sr->alias = p->alias;
		/* a lifetime is kept as the time it ends */
		if (p->expires_ns)
			sr->expires = (real + (p->expires_ns > mono ? p->expires_ns - mono : 0) +
				       NSEC_PER_SEC - 1) / NSEC_PER_SEC;
	}
	for (size_t i = 0; i < g->n_rprot; i++) {
		s->rules[s->n_rules].rule = g->rprot[i]->rule;
		s->rules[s->n_rules++].learned = g->rprot[i]->learned;
	}
	return 0;
}

static void state_write(struct nw_route_guard *g)
{
	struct nw_state s;
	int r;

	if (!g->state_path || g->state_ro)
		return;
	if ((r = state_collect(g, &s)) == 0)
		r = nw_state_save(g->state_path, &s);
	nw_state_free(&s);
	g->state_last_ns = mono_ns();
	if (r) {
		snprintf(g->state_err, sizeof(g->state_err), "%s", strerror(-r));
		if (!g->state_failing)
			glog(g, LOG_WARNING, "state file %s: cannot write it: %s: the protected "
			     "routes and rules are not kept across a restart until a write "
			     "succeeds", g->state_path, strerror(-r));
		g->state_failing = true;
		return;
	}
	g->state_saves++;
	if (g->state_failing)
		glog(g, LOG_INFO, "state file %s written again", g->state_path);
	g->state_failing = false;
	g->state_err[0] = 0;
}

static int on_state_timer(sd_event_source *s, uint64_t usec, void *ud)
{
	(void)s;
	(void)usec;
	state_write(ud);
	return 0;
}

/* A saved route, if the configuration still protects it and the kernel
 * does not have it: protected again, missing, to be put back. */
static bool state_merge_route(struct nw_route_guard *g, const struct nw_saved_route *sr,
			      uint64_t now_real_s)
{
	struct nw_rt rt = sr->rt;
	const struct nw_link *l;
	struct prot *p;
	bool learn;

	if (sr->expires) {
		/* its lifetime ended meanwhile: the kernel would have removed it */
		if (sr->expires <= now_real_s + 1)
			return false;
		rt.expires_s = (uint32_t)(sr->expires - now_real_s);
	}
	/* the device names count: a device made again has a new ifindex */
	for (unsigned i = 0; i < rt.n_nh; i++)
		if (sr->dev[i][0] && (l = link_by_name(g, sr->dev[i])))
			rt.nh[i].ifindex = l->ifindex;
	if (!nw_route_saved_wanted(&g->cfg, &rt, sr->dev, sr->learned, &learn))
		return false;
	if ((p = prot_find(g, &rt))) {
		/* there (some version holds its key), unless the kernel holds
		 * only some nexthops of an IPv6 multipath route */
		if (p->state != P_PRESENT || nw_rt_equal(&rt, &p->rt) || !rt_covers(&rt, &p->rt))
			return false;
		snapshot(g, p, &rt);
		p->learned |= learn;
	} else if (!(p = prot_add(g, &rt, learn))) {
		return false;
	}
	for (unsigned i = 0; i < rt.n_nh; i++)
		if (!p->dev[i][0])
			memcpy(p->dev[i], sr->dev[i], IF_NAMESIZE);
	p->alias = sr->alias;
	p->state = P_MISSING;
	p->at_start = true;
	return true;
}

static bool state_merge_rule(struct nw_route_guard *g, const struct nw_saved_rule *sr)
{
	struct rprot *p;
	bool learn;

	if (!nw_rule_saved_wanted(&g->cfg, &sr->rule, sr->learned, &learn) ||
	    rprot_find(g, &sr->rule) || !(p = rprot_add(g, &sr->rule, learn)))
		return false;
	p->state = P_MISSING;
	p->at_start = true;
	return true;
}

/* Start-up, after learning from the kernel: what the state file holds,
 * the kernel lacks and the configuration still protects joins the set,
 * missing. 1 when something is to be put back. */
static int state_load(struct nw_route_guard *g)
{
	uint64_t now_s = nw_now_ns(CLOCK_REALTIME) / NSEC_PER_SEC;
	struct nw_state s;
	char err[512];
	int r;

	r = nw_state_load(g->state_path, &s, err, sizeof(err));
	if (r == -ENOENT)
		return 0;
	if (r) {
		glog(g, LOG_WARNING, "state file %s ignored: %s (the protected set is learned from "
		     "the kernel only)", g->state_path, err);
		return 0;
	}
	if (!nw_state_same_place(&s.place, &g->place, err, sizeof(err))) {
		glog(g, LOG_NOTICE, "state file %s ignored: %s", g->state_path, err);
		goto cleanup;
	}
	for (size_t i = 0; i < s.n_routes; i++)
		g->at_start_routes += state_merge_route(g, &s.routes[i], now_s);
	for (size_t i = 0; i < s.n_rules; i++)
		g->at_start_rules += state_merge_rule(g, &s.rules[i]);
	glog(g, g->at_start_routes || g->at_start_rules ? LOG_NOTICE : LOG_INFO,
	     "state file %s: %zu routes and %zu rules saved; missing now and still protected: "
	     "%u routes and %u rules, put back", g->state_path, s.n_routes, s.n_rules,
	     g->at_start_routes, g->at_start_rules);
cleanup:
	nw_state_free(&s);
	return g->at_start_routes || g->at_start_rules;
}

/* The first thing the event loop does: put back, the usual way (events,
 * anti-flap, dry-run, observe-only), what was missing at start. */
static int on_start_restore(sd_event_source *s, void *ud)
{
	struct nw_route_guard *g = ud;
	uint64_t t = mono_ns();
	(void)s;

	g->drained = false;
	/* rules first: without the main rule no gateway is reachable, and
	 * the routes' restores would fail */
	for (size_t i = 0; i < g->n_rprot; i++) {
		struct rprot *p = g->rprot[i];

		if (p->at_start && p->state == P_MISSING)
			rule_lost(g, p, &p->rule, t, AT_START_REASON);
	}
	for (size_t i = 0; i < g->n_prot; i++) {
		struct prot *p = g->prot[i];

		if (p->at_start && p->state == P_MISSING)
			lost(g, p, NULL, t, AT_START_REASON, AT_START_CAUSE);
	}
	return 0;
}

static int state_open(struct nw_route_guard *g, const char *path)
{
	int r;

	if (!(g->state_path = strdup(path)))
		return -ENOMEM;
	g->state_ro = g->cfg.dry_run;
	if ((r = nw_state_here(&g->place)) < 0)
		return r;
	if (g->state_ro)
		return 0;
	/* after the restores and events of the same wake-up */
	if ((r = sd_event_add_time(g->e, &g->state_src, CLOCK_MONOTONIC, 0, 1000, on_state_timer,
				   g)) < 0 ||
	    (r = sd_event_source_set_enabled(g->state_src, SD_EVENT_OFF)) < 0 ||
	    (r = sd_event_source_set_priority(g->state_src, SD_EVENT_PRIORITY_IDLE)) < 0)
		return r;
	return 0;
}

void nw_route_guard_forget_state(struct nw_route_guard *g)
{
	if (!g || !g->state_path || g->state_ro)
		return;
	sd_event_source_disable_unref(g->state_src);
	g->state_src = NULL;
	if (unlink(g->state_path) < 0 && errno != ENOENT)
		glog(g, LOG_WARNING, "state file %s: cannot remove it: %s", g->state_path,
		     strerror(errno));
	else
		glog(g, LOG_INFO, "state file %s removed: stopped without bpf.keep_on_exit, what "
		     "changes until the next start stays as it is", g->state_path);
	free(g->state_path);
	g->state_path = NULL;
}

/* --- configuration ------------------------------------------------------- */

static void cfg_release(struct nw_route_guard_cfg *cfg)
{
	free(cfg->protect);
	free(cfg->protect_rules);
	cfg->protect = NULL;
	cfg->protect_rules = NULL;
}

static int cfg_copy(struct nw_route_guard_cfg *dst, const struct nw_route_guard_cfg *src)
{
	*dst = *src;
	dst->protect = NULL;
	dst->protect_rules = NULL;
	if (src->n_protect) {
		dst->protect = calloc(src->n_protect, sizeof(*dst->protect));
		if (!dst->protect)
			return -ENOMEM;
		memcpy(dst->protect, src->protect, src->n_protect * sizeof(*dst->protect));
	}
	if (src->n_protect_rules) {
		dst->protect_rules = calloc(src->n_protect_rules, sizeof(*dst->protect_rules));
		if (!dst->protect_rules) {
			cfg_release(dst);
			return -ENOMEM;
		}
		memcpy(dst->protect_rules, src->protect_rules,
		       src->n_protect_rules * sizeof(*dst->protect_rules));
	}
	if (!dst->max_restores)
		dst->max_restores = 5;
	if (!dst->window_ms)
		dst->window_ms = 10000;
	if (!dst->backoff_min_ms)
		dst->backoff_min_ms = 100;
	if (!dst->backoff_max_ms)
		dst->backoff_max_ms = 30000;
	if (dst->backoff_max_ms < dst->backoff_min_ms)
		dst->backoff_max_ms = dst->backoff_min_ms;
	return 0;
}

int nw_route_guard_new(struct nw_route_guard **out, sd_event *e,
		       const struct nw_route_guard_cfg *cfg,
		       const struct nw_route_guard_ops *ops, void *ud)
{
	struct nw_route_guard *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->e = sd_event_ref(e);
	g->ops = *ops;
	g->ud = ud;
	g->self = (uint32_t)getpid();
	if ((r = cfg_copy(&g->cfg, cfg)))
		goto cleanup;
	g->cfg.state_file = NULL;	/* the path is g->state_path, and stays */
	if ((r = nw_self_netns(&g->netns)))
		goto cleanup;
	if (cfg->state_file && (r = state_open(g, cfg->state_file)) < 0)
		goto cleanup;
	if (!(g->buf = malloc(MON_BUF))) {
		r = -ENOMEM;
		goto cleanup;
	}
	/* subscribe before the dumps: no change falls between the two */
	if ((r = monitor_open(g)) < 0 || (r = nw_rtnl_open(&g->req)) || (r = dump_links(g)) < 0)
		goto cleanup;
	/* accuracy 1 µs: sd-event's default (0) lets a timer slip 250 ms */
	if ((r = sd_event_add_time(e, &g->rec_src, CLOCK_MONOTONIC, 0, 1, on_reconcile_timer,
				   g)) < 0 ||
	    (r = sd_event_source_set_enabled(g->rec_src, SD_EVENT_OFF)) < 0 ||
	    (r = sd_event_add_time_relative(e, &g->retry_src, CLOCK_MONOTONIC, RETRY_DELAY_US,
					    10000, on_retry_timer, g)) < 0 ||
	    (r = sd_event_source_set_enabled(g->retry_src, SD_EVENT_OFF)) < 0)
		goto cleanup;
	if ((r = dump_routes(g, false, g->cfg.learn_default, true)) < 0)
		goto cleanup;
	for (size_t i = 0; i < g->n_prot; i++)
		g->prot[i]->state = g->prot[i]->seen ? P_PRESENT : P_MISSING;
	/* the default rules that exist now are the ones to keep (IPv6 has no
	 * 32767 unless somebody added one) */
	if (rules_wanted(g) && (r = dump_rules(g, g->cfg.protect_default_rules, true, false)) < 0)
		goto cleanup;
	for (size_t i = 0; i < g->n_rprot; i++)
		g->rprot[i]->state = g->rprot[i]->seen ? P_PRESENT : P_MISSING;
	if (g->state_path && state_load(g) > 0 &&
	    ((r = sd_event_add_defer(e, &g->start_src, on_start_restore, g)) < 0 ||
	     (r = sd_event_source_set_priority(g->start_src, SD_EVENT_PRIORITY_IMPORTANT)) < 0))
		goto cleanup;
	/* the file says what this start protects, whatever it said before */
	state_dirty(g);
	g->started = true;
	*out = g;
	return 0;
cleanup:
	nw_route_guard_free(g);
	return r < 0 ? r : -EIO;
}

int nw_route_guard_reconfigure(struct nw_route_guard *g, const struct nw_route_guard_cfg *cfg)
{
	struct nw_route_guard_cfg n;
	bool learn = cfg->learn_default && !g->cfg.learn_default, ring;
	bool learn_rules = cfg->protect_default_rules && !g->cfg.protect_default_rules;
	int r, r2 = 0;

	if ((r = cfg_copy(&n, cfg)))
		return r;
	ring = n.max_restores != g->cfg.max_restores;
	cfg_release(&g->cfg);
	n.rcvbuf = g->cfg.rcvbuf;	/* set once, at start */
	n.state_file = NULL;		/* likewise (g->state_path) */
	g->cfg = n;
	for (size_t i = g->n_rprot; i-- > 0;) {
		struct rprot *p = g->rprot[i];

		p->config = rule_sel_any(g, &p->rule);
		if (p->learned && !g->cfg.protect_default_rules) {
			p->learned = false;
			state_dirty(g);		/* its origin changed */
		}
		if (!p->learned && !p->config) {
			rprot_drop(g, p);
			continue;
		}
		if (ring) {
			nw_flap_free(&p->flap);
			if ((r = nw_flap_init(&p->flap, g->cfg.max_restores)))
				return r;
		}
		if (!may_restore_rules(g) && p->state != P_PRESENT) {
			sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
			p->state = P_MISSING;
		}
	}
	/* new selectors (and default rules switched on) pick up what is there */
	if (rules_wanted(g))
		r2 = dump_rules(g, learn_rules, true, false);
	for (size_t i = g->n_prot; i-- > 0;) {
		struct prot *p = g->prot[i];

		p->config = sel_any(g, &p->rt);
		if (p->learned && !g->cfg.learn_default) {
			p->learned = false;
			state_dirty(g);		/* its origin changed */
		}
		if (!p->learned && !p->config) {
			prot_drop(g, p);
			continue;
		}
		if (ring) {
			nw_flap_free(&p->flap);
			if ((r = nw_flap_init(&p->flap, g->cfg.max_restores)))
				return r;
		}
		if (!may_restore(g) && p->state != P_PRESENT) {
			sd_event_source_set_enabled(p->timer, SD_EVENT_OFF);
			p->state = P_MISSING;
		}
	}
	/* new selectors (and learning switched on) pick up what is there now */
	r = dump_routes(g, false, learn, true);
	fallback_update(g, AF_INET, mono_ns());
	fallback_update(g, AF_INET6, mono_ns());
	return r < 0 ? r : r2 < 0 ? r2 : 0;
}

void nw_route_guard_note_request(struct nw_route_guard *g, const struct nw_rtnl_request *r)
{
	switch (r->nlmsg_type) {
	case RTM_DELROUTE:
	case RTM_DELADDR:
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_NEWRULE:
	case RTM_DELRULE:
		break;
	default:
		return;
	}
	/* our own requests, and other namespaces' (netns "all"), name nobody here */
	if (r->hdr.tgid == g->self || (r->hdr.netns && g->netns && r->hdr.netns != g->netns))
		return;
	g->notes[g->note_next] = *r;
	g->used[g->note_next] = false;
	g->note_next = (g->note_next + 1) % NOTES;
	if (g->n_notes < NOTES)
		g->n_notes++;
}

uint64_t nw_route_guard_changes(const struct nw_route_guard *g)
{
	return g->changes;
}

/* --- status --------------------------------------------------------------- */

static const char *state_name(enum pstate s)
{
	switch (s) {
	case P_PRESENT: return "present";
	case P_MISSING: return "missing";
	case P_PENDING: return "pending";
	case P_BACKOFF: return "backoff";
	}
	return "?";
}

static void add_prot_status(struct nw_route_guard *g, cJSON *arr, struct prot *p)
{
	cJSON *o = cJSON_CreateObject();
	char desc[512], ts[NW_TS_LEN];
	uint64_t now = mono_ns();

	if (!o)
		return;
	add_route(g, o, p, &p->rt);
	describe(g, p, &p->rt, desc, sizeof(desc));
	cJSON_AddStringToObject(o, "route", desc);
	cJSON_AddStringToObject(o, "origin", p->learned ? "learned" : "config");
	cJSON_AddStringToObject(o, "state", state_name(p->state));
	if (p->at_start)
		cJSON_AddBoolToObject(o, "missing_at_start", 1);
	cJSON_AddNumberToObject(o, "deletions", (double)p->deletions);
	cJSON_AddNumberToObject(o, "restored", (double)p->restores);
	cJSON_AddNumberToObject(o, "failures", (double)p->failures);
	if (p->state == P_PENDING) {
		cJSON_AddStringToObject(o, "pending",
					p->rt.n_nh && !link_up(g, p->rt.nh[0].ifindex)
					? "device down" : "unreachable");
		cJSON_AddStringToObject(o, "error", p->last_err_msg);
	}
	if (p->state == P_BACKOFF && p->backoff_until_ns > now) {
		nw_format_realtime(nw_now_ns(CLOCK_REALTIME) + (p->backoff_until_ns - now), ts);
		cJSON_AddStringToObject(o, "backoff_until", ts);
		cJSON_AddNumberToObject(o, "backoff_ms", p->backoff_ms);
	}
	if (p->flap.flapping)
		cJSON_AddBoolToObject(o, "flapping", 1);
	if (p->deletions) {
		cJSON *a = cJSON_CreateObject();

		if (a && p->actor.known) {
			cJSON_AddNumberToObject(a, "pid", p->actor.pid);
			cJSON_AddStringToObject(a, "comm", p->actor.comm);
			cJSON_AddNumberToObject(a, "uid", p->actor.uid);
			cJSON_AddNumberToObject(a, "cgroup_id", (double)p->actor.cgroup_id);
			cJSON_AddItemToObject(o, "last_actor", a);
		} else {
			cJSON_Delete(a);
			cJSON_AddNullToObject(o, "last_actor");
		}
	}
	cJSON_AddItemToArray(arr, o);
}

static void add_actor_status(cJSON *o, uint64_t deletions, const struct actor *actor)
{
	cJSON *a;

	if (!deletions)
		return;
	if (!actor->known) {
		cJSON_AddNullToObject(o, "last_actor");
		return;
	}
	if (!(a = cJSON_AddObjectToObject(o, "last_actor")))
		return;
	cJSON_AddNumberToObject(a, "pid", actor->pid);
	cJSON_AddStringToObject(a, "comm", actor->comm);
	cJSON_AddNumberToObject(a, "uid", actor->uid);
	cJSON_AddNumberToObject(a, "cgroup_id", (double)actor->cgroup_id);
}

static void add_rprot_status(cJSON *arr, struct rprot *p)
{
	cJSON *o = cJSON_CreateObject();
	char desc[512], ts[NW_TS_LEN];
	uint64_t now = mono_ns();

	if (!o)
		return;
	add_rule(o, &p->rule);
	describe_rule(&p->rule, desc, sizeof(desc));
	cJSON_AddStringToObject(o, "description", desc);
	cJSON_AddStringToObject(o, "origin", p->learned ? "learned" : "config");
	cJSON_AddStringToObject(o, "state", state_name(p->state));
	if (p->at_start)
		cJSON_AddBoolToObject(o, "missing_at_start", 1);
	cJSON_AddNumberToObject(o, "deletions", (double)p->deletions);
	cJSON_AddNumberToObject(o, "restored", (double)p->restores);
	cJSON_AddNumberToObject(o, "failures", (double)p->failures);
	if (p->state == P_PENDING)
		cJSON_AddStringToObject(o, "error", p->last_err_msg);
	if (p->state == P_BACKOFF && p->backoff_until_ns > now) {
		nw_format_realtime(nw_now_ns(CLOCK_REALTIME) + (p->backoff_until_ns - now), ts);
		cJSON_AddStringToObject(o, "backoff_until", ts);
		cJSON_AddNumberToObject(o, "backoff_ms", p->backoff_ms);
	}
	if (p->flap.flapping)
		cJSON_AddBoolToObject(o, "flapping", 1);
	add_actor_status(o, p->deletions, &p->actor);
	cJSON_AddItemToArray(arr, o);
}

static void add_rules_status(struct nw_route_guard *g, cJSON *out)
{
	cJSON *r = cJSON_AddObjectToObject(out, "rules"), *arr;

	if (!r)
		return;
	arr = cJSON_AddArrayToObject(r, "protected");
	for (size_t i = 0; arr && i < g->n_rprot; i++)
		add_rprot_status(arr, g->rprot[i]);
	cJSON_AddStringToObject(r, "mode", !g->cfg.restore_rules ? "observe"
					   : g->cfg.dry_run ? "dry_run" : "restore");
	cJSON_AddBoolToObject(r, "protect_defaults", g->cfg.protect_default_rules);
	cJSON_AddNumberToObject(r, "selectors", (double)g->cfg.n_protect_rules);
	cJSON_AddNumberToObject(r, "added", (double)g->rules_added);
	cJSON_AddNumberToObject(r, "deleted", (double)g->rules_deleted);
	cJSON_AddNumberToObject(r, "deletions", (double)g->rule_deletions);
	cJSON_AddNumberToObject(r, "restores", (double)g->rule_restores);
	cJSON_AddNumberToObject(r, "failures", (double)g->rule_failures);
	cJSON_AddNumberToObject(r, "flapping_episodes", (double)g->rule_flap_episodes);
	cJSON_AddNumberToObject(r, "resyncs", (double)g->rule_resyncs);
	cJSON_AddNumberToObject(r, "missing_at_start", g->at_start_rules);
}

void nw_route_guard_status(struct nw_route_guard *g, cJSON *out)
{
	cJSON *arr = cJSON_AddArrayToObject(out, "protected");

	for (size_t i = 0; arr && i < g->n_prot; i++)
		add_prot_status(g, arr, g->prot[i]);
	cJSON_AddStringToObject(out, "mode", !g->cfg.restore ? "observe"
					     : g->cfg.dry_run ? "dry_run" : "restore");
	cJSON_AddNumberToObject(out, "deletions", (double)g->deletions);
	cJSON_AddNumberToObject(out, "restores", (double)g->restores);
	cJSON_AddNumberToObject(out, "failures", (double)g->failures);
	cJSON_AddNumberToObject(out, "resyncs", (double)g->resyncs);
	cJSON_AddNumberToObject(out, "enobufs", (double)g->enobufs);
	cJSON_AddNumberToObject(out, "reconciles", (double)g->reconciles);
	cJSON_AddNumberToObject(out, "flapping_episodes", (double)g->flap_episodes);
	cJSON_AddNumberToObject(out, "changes", (double)g->changes);
	cJSON_AddNumberToObject(out, "missing_at_start", g->at_start_routes);
	if (g->state_path)
		cJSON_AddStringToObject(out, "state_file", g->state_path);
	else
		cJSON_AddNullToObject(out, "state_file");
	cJSON_AddNumberToObject(out, "state_saves", (double)g->state_saves);
	if (g->state_failing)
		cJSON_AddStringToObject(out, "state_error", g->state_err);
	if (g->unsupported)
		cJSON_AddNumberToObject(out, "unsupported", (double)g->unsupported);
	if (g->dump_errors) {
		cJSON_AddNumberToObject(out, "dump_errors", (double)g->dump_errors);
		cJSON_AddStringToObject(out, "last_dump_error", strerror(-g->last_dump_err));
	}
	if (g->fb[0].installed || g->fb[1].installed) {
		cJSON *f = cJSON_AddArrayToObject(out, "fallback_installed");

		for (int i = 0; f && i < 2; i++)
			if (g->fb[i].installed) {
				char desc[512];

				describe(g, NULL, &g->fb[i].rt, desc, sizeof(desc));
				cJSON_AddItemToArray(f, cJSON_CreateString(desc));
			}
	}
	add_rules_status(g, out);
}

void nw_route_guard_free(struct nw_route_guard *g)
{
	int enabled = SD_EVENT_OFF;

	if (!g)
		return;
	/* a change not written yet (never after a failed start: the set is
	 * not whole, and the file holds more) */
	if (g->started && g->state_src && sd_event_source_get_enabled(g->state_src, &enabled) >= 0 &&
	    enabled != SD_EVENT_OFF)
		state_write(g);
	sd_event_source_disable_unref(g->state_src);
	sd_event_source_disable_unref(g->start_src);
	free(g->state_path);
	for (size_t i = 0; i < g->n_prot; i++)
		prot_free(g->prot[i]);
	free(g->prot);
	for (size_t i = 0; i < g->n_rprot; i++)
		rprot_free(g->rprot[i]);
	free(g->rprot);
	sd_event_source_disable_unref(g->mon_src);
	sd_event_source_disable_unref(g->rec_src);
	sd_event_source_disable_unref(g->retry_src);
	if (g->mon)
		mnl_socket_close(g->mon);
	nw_rtnl_close(g->req);
	free(g->links);
	free(g->buf);
	cfg_release(&g->cfg);
	sd_event_unref(g->e);
	free(g);
}

/* --- for the recovery ladder (issue 5) ------------------------------------ */

static void append(char *buf, size_t size, const char *fmt, const char *what)
{
	size_t n = strlen(buf);

	if (n < size)
		snprintf(buf + n, size - n, fmt, n ? "; " : "", what);
}

/* Counts one restore attempt's outcome; 1 when it put the object back. */
static int tally(const struct outcome *o, const char *desc, char *detail, size_t len,
		 int *first_err)
{
	if (o->action == A_RESTORED) {
		append(detail, len, "%srestored %s", desc);
		return 1;
	}
	if (o->action == A_FAILED) {
		append(detail, len, "%sfailed %s", desc);
		if (!*first_err)
			*first_err = o->err ? o->err : -EIO;
	}
	return 0;
}

int nw_route_guard_restore_missing(struct nw_route_guard *g, bool dry_run, char *detail,
				   size_t len)
{
	int n = 0, first_err = 0;
	char desc[512];

	detail[0] = 0;
	for (size_t i = 0; i < g->n_prot; i++) {
		struct prot *p = g->prot[i];
		struct outcome o = { 0 };

		if (p->state == P_PRESENT ||
		    (p->expires_ns && mono_ns() + 1000 * NSEC_PER_MSEC >= p->expires_ns))
			continue;
		describe(g, p, &p->rt, desc, sizeof(desc));
		if (dry_run) {
			append(detail, len, "%swould restore %s", desc);
			n++;
			continue;
		}
		/* latency_us: from the deletion, as for any restore */
		restore_now(g, p, p->deleted_ns ? p->deleted_ns : mono_ns(), &o);
		emit_outcome(g, p, &o);
		n += tally(&o, desc, detail, len, &first_err);
	}
	for (size_t i = 0; i < g->n_rprot; i++) {
		struct rprot *p = g->rprot[i];
		struct outcome o = { 0 };

		if (p->state == P_PRESENT)
			continue;
		describe_rule(&p->rule, desc, sizeof(desc));
		if (dry_run) {
			append(detail, len, "%swould restore rule %s", desc);
			n++;
			continue;
		}
		rule_restore_now(g, p, p->deleted_ns ? p->deleted_ns : mono_ns(), &o);
		emit_rule_outcome(g, p, &o);
		n += tally(&o, desc, detail, len, &first_err);
	}
	return n ? n : first_err;
}

size_t nw_route_guard_defaults(struct nw_route_guard *g, const struct nw_rt **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n_prot && n < max; i++) {
		const struct nw_rt *rt = &g->prot[i]->rt;

		if (!rt->dst_len && rt->table == RT_TABLE_MAIN && g->prot[i]->learned)
			out[n++] = rt;
	}
	return n;
}

bool nw_route_guard_rule_protected(struct nw_route_guard *g, const struct nw_rule *rule)
{
	for (size_t i = 0; i < g->n_rprot; i++)
		if (nw_rule_same_key(&g->rprot[i]->rule, rule))
			return true;
	return rule_sel_any(g, rule);
}
