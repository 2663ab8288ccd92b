/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Route guard: watches the namespace's routes over rtnetlink (libmnl), keeps
 * a snapshot of the protected ones (learned default routes + routes.protect)
 * and puts a deleted one back at once, exactly as it was (table, protocol,
 * metric, gateway, device, every nexthop of a multipath route). The same
 * for routing-policy rules: the kernel's default rules found at start and
 * rules.protect, with the same anti-flap, dry-run and observe-only modes.
 * The protected set is kept in a state file, so that a netwardd started
 * after a crash puts back what was deleted while none ran.
 */
#ifndef NETWARD_ROUTE_GUARD_H
#define NETWARD_ROUTE_GUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>
#include <linux/netlink.h>

#include "netward/route_watch.h"

/* routes.protect[i]: a selector; every route matching it is protected. */
struct nw_route_sel {
	uint8_t family;		/* AF_INET / AF_INET6 (from dst) */
	uint8_t dst_len;
	uint8_t dst[16];	/* "default" = 0.0.0.0/0 or ::/0 (needs "family") */
	uint32_t table;		/* 0 = main (254) */
	bool has_gateway;
	uint8_t gateway[16];
	char dev[16];		/* "" = any */
	int64_t metric;		/* -1 = any */
};

/* rules.protect[i]: a selector; every rule matching it is protected. Each
 * key given must equal the rule's. */
struct nw_rule_sel {
	uint8_t family;		/* AF_INET / AF_INET6, 0 = both */
	bool has_priority, has_table, has_uidrange, has_fwmark, has_from, has_to;
	uint32_t priority;
	uint32_t table;		/* the rule's lookup table */
	uint32_t uid_start, uid_end;
	uint32_t fwmark;
	uint8_t from_len, to_len;	/* "from": "all" = has_from with from_len 0 */
	uint8_t from[16], to[16];
	char iif[16], oif[16];	/* "" = any */
};

/* routes.fallback: installed when a protected default route cannot be put
 * back because its device is down. */
struct nw_route_fallback {
	bool set;
	uint8_t family;
	uint8_t gateway[16];
	char dev[16];
	uint32_t metric;	/* default 1000: below the original */
};

struct nw_route_guard_cfg {
	bool learn_default;	/* protect the main-table default routes found at start */
	bool restore;		/* false: observe and report only */
	bool dry_run;		/* log what would be restored, change nothing */
	struct nw_route_sel *protect;
	size_t n_protect;
	struct nw_route_fallback fallback4, fallback6;
	/* anti-flap: more than max_restores restores of one route within
	 * window_ms -> exponential backoff from backoff_min_ms up to
	 * backoff_max_ms, and one route_flapping event naming the actor */
	uint32_t max_restores;	/* default 5 */
	uint32_t window_ms;	/* default 10000 */
	uint32_t backoff_min_ms;	/* default 100 */
	uint32_t backoff_max_ms;	/* default 30000 */
	int rcvbuf;		/* monitor socket receive buffer, 0 = default (tests shrink it) */
	/* routing-policy rules: anti-flap as for routes (max_restores ...) */
	bool protect_default_rules;	/* rules.protect_defaults: the kernel's default
					 * rules found at start (local 0, main 32766,
					 * default 32767) */
	bool restore_rules;	/* rules.restore; false: observe and report only */
	struct nw_rule_sel *protect_rules;	/* rules.protect */
	size_t n_protect_rules;
	/* <state_dir>/protected.json: every protected route and rule, kept
	 * across restarts (NULL: not kept). Read at start: what it holds, is
	 * missing and the configuration still protects is put back. Written
	 * whenever the set changes; with dry_run only read. Set once, at start. */
	const char *state_file;
};

struct nw_route_guard_ops {
	/* Every event the guard raises: route_deleted, route_restored,
	 * route_restore_failed, route_flapping, link_down, rule_added,
	 * rule_deleted, rule_restored, rule_restore_failed, rule_flapping.
	 * The guard owns ev and frees it after the call. */
	void (*emit)(void *ud, unsigned type, cJSON *ev);
	/* Called before each batch of netlink messages is handled, so that
	 * the daemon consumes the BPF ring buffer first: the request events
	 * of a deletion are then already known (nw_route_guard_note_request).
	 * The guard calls it once per received batch, lazily: after a deleted
	 * route has been put back (the restore does not need the actor) and
	 * before the actor is looked up. May be NULL. */
	void (*drain_requests)(void *ud);
	/* Every route, rule, link or address notification of the namespace
	 * (nlh), and NULL when notifications were lost (ENOBUFS): the network
	 * changed. For the stability barrier and churn accounting. May be NULL. */
	void (*changed)(void *ud, const struct nlmsghdr *nlh);
	/* A line for the log that is no event (prio LOG_*): the state file
	 * ignored, not writable, removed. May be NULL. */
	void (*log)(void *ud, int prio, const char *msg);
};

struct nw_route_guard;

int nw_route_guard_new(struct nw_route_guard **out, sd_event *e,
		       const struct nw_route_guard_cfg *cfg,
		       const struct nw_route_guard_ops *ops, void *ud);
/* Applies a new config (reload); the snapshot of learned routes is kept. */
int nw_route_guard_reconfigure(struct nw_route_guard *g, const struct nw_route_guard_cfg *cfg);
/* A request event from the kernel side: remembered for about a second to
 * name the actor of a deletion, or of a rule's addition (pid, comm, uid,
 * cgroup_id). */
void nw_route_guard_note_request(struct nw_route_guard *g, const struct nw_rtnl_request *r);
/* {"protected":[{route..., "state"}], "restores":N, "resyncs":N, ...,
 *  "rules":{"protected":[{rule..., "state"}], "added":N, "deleted":N, ...}} */
void nw_route_guard_status(struct nw_route_guard *g, cJSON *out);
/* Number of netlink changes (route, rule, link, address) seen: the
 * stability barrier of issue 4 builds on it. */
uint64_t nw_route_guard_changes(const struct nw_route_guard *g);
/* A clean stop (SIGTERM without bpf.keep_on_exit): removes the state file,
 * so that what the operator changes until the next start stays as he left
 * it, and writes it no more. */
void nw_route_guard_forget_state(struct nw_route_guard *g);
/* Writes the state file if the set changed since its last write. */
void nw_route_guard_free(struct nw_route_guard *g);

/* Recovery step restore_routes: puts every protected route and rule that
 * is missing back now, whatever the backoff or routes.restore say (the
 * usual events are raised). Returns how many were put back (dry_run: would
 * be), 0 when none was missing, or the first error when all failed; detail
 * names them. */
int nw_route_guard_restore_missing(struct nw_route_guard *g, bool dry_run, char *detail,
				   size_t len);
/* The main-table default routes learned at start (present or not): their
 * gateways and devices are the host's way out. */
struct nw_rt;
size_t nw_route_guard_defaults(struct nw_route_guard *g, const struct nw_rt **out, size_t max);
/* rule is protected (kept or picked by rules.protect): recovery never
 * removes it. */
struct nw_rule;
bool nw_route_guard_rule_protected(struct nw_route_guard *g, const struct nw_rule *rule);

/* --- the pure parts, exported for unit tests ---------------------------- */

struct nw_rt;

/* s selects rt. sel_ifindex is s->dev resolved to an ifindex (0 when
 * s->dev is "", negative when no such device exists: then nothing matches). */
bool nw_route_sel_match(const struct nw_route_sel *s, const struct nw_rt *rt, int sel_ifindex);

/* r (an RTM_DELROUTE request seen by the kernel side) could have deleted
 * rt: same family, table (0 = main), dst_len and dst prefix, and, when the
 * request gave them, the same metric and one of rt's gateways. */
bool nw_route_request_deletes(const struct nw_rtnl_request *r, const struct nw_rt *rt);
/* r removed an address from, took down, or deleted a device rt uses: the
 * kernel then removes rt without any RTM_DELROUTE. */
bool nw_route_request_causes(const struct nw_rtnl_request *r, const struct nw_rt *rt);
/* The newest of reqs[0..n) noted within window_ns before now_ns (both
 * CLOCK_BOOTTIME) for which match(r, rt) holds, preferring one not used
 * yet (used may be NULL). Index or -1. */
int nw_route_find_request(const struct nw_rtnl_request *reqs, const bool *used, size_t n,
			  const struct nw_rt *rt, uint64_t now_ns, uint64_t window_ns,
			  bool (*match)(const struct nw_rtnl_request *, const struct nw_rt *));

struct nw_rule;

/* s selects rule. */
bool nw_rule_sel_match(const struct nw_rule_sel *s, const struct nw_rule *rule);
/* rule is one of the kernel's default rules: lookup local at 0, main at
 * 32766, default at 32767, with no selector. */
bool nw_rule_is_default(const struct nw_rule *rule);
/* r (an RTM_NEWRULE or RTM_DELRULE request seen by the kernel side) could
 * have added (type RTM_NEWRULE) or deleted (RTM_DELRULE) rule: same family,
 * and, when the request gave them, the same priority, table, action,
 * prefix lengths and destination, fwmark, uid range. */
bool nw_rule_request_matches(const struct nw_rtnl_request *r, uint16_t type,
			     const struct nw_rule *rule);
/* As nw_route_find_request, for the request that made a rule change of type. */
int nw_rule_find_request(const struct nw_rtnl_request *reqs, const bool *used, size_t n,
			 const struct nw_rule *rule, uint16_t type, uint64_t now_ns,
			 uint64_t window_ns);

/* The state file: would cfg protect a route saved there (rt; dev: its
 * nexthop device names, as saved; learned: its origin)? A learned one while
 * cfg->learn_default is on and it is a main-table default route (*learn set:
 * it stays learned), and any one a routes.protect selector picks, a
 * selector's "dev" compared with the saved names (the device may be gone). */
bool nw_route_saved_wanted(const struct nw_route_guard_cfg *cfg, const struct nw_rt *rt,
			   const char (*dev)[IF_NAMESIZE], bool learned, bool *learn);
/* The same for a rule: a learned one while cfg->protect_default_rules is on
 * and it is a kernel default rule; any one a rules.protect selector picks. */
bool nw_rule_saved_wanted(const struct nw_route_guard_cfg *cfg, const struct nw_rule *rule,
			  bool learned, bool *learn);

/* min_ms * 2^level, at most max_ms. */
uint32_t nw_route_backoff_ms(unsigned level, uint32_t min_ms, uint32_t max_ms);

/* Anti-flap bookkeeping of one protected route. */
struct nw_flap {
	uint64_t *ts;		/* ring: the times of the last `cap` restores */
	uint32_t cap, n, head;
	unsigned level;		/* backoff steps taken in this episode */
	bool flapping;		/* route_flapping raised for this episode */
	uint64_t last_restore_ns;
};

int nw_flap_init(struct nw_flap *f, uint32_t max_restores);
void nw_flap_free(struct nw_flap *f);
void nw_flap_record(struct nw_flap *f, uint64_t now_ns);
/* restores recorded within window_ns before now_ns */
uint32_t nw_flap_count(const struct nw_flap *f, uint64_t now_ns, uint64_t window_ns);
/* Called when the route is gone again: 0 = restore now, else wait that many
 * ms. Backoff starts once max_restores restores fall within window_ms and
 * grows with each deletion until the route stays put for window_ms (then
 * the episode ends). *alarm is set on the episode's first backoff. */
uint32_t nw_flap_decide(struct nw_flap *f, uint64_t now_ns,
			const struct nw_route_guard_cfg *cfg, bool *alarm);

#endif
