/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The recovery ladder: what to do when the probes say the host lost the
 * network. Pure decisions (no I/O): the daemon feeds it verdicts and step
 * outcomes, it answers with the next step to run.
 *
 *   L1 restore_routes, flush_neighbour, restore_dns     at fail_threshold
 *   L2 remove_vpn_interfaces, remove_stale              right after L1
 *   L3 bounce_interface, renew_dhcp, kill_wildcard_owner
 *                                                       at emergency_threshold,
 *                                                       only when the gateway
 *                                                       probe is silent (or none)
 *   L4 reboot        after reboot_after failed attempts (an attempt is one
 *                    climb through L1..L3 that left the host offline)
 *
 * A step that changed something is followed by a re-probe; the climb stops
 * as soon as the probes pass. A confirmed recovery resets every counter.
 */
#ifndef NETWARD_RECOVERY_H
#define NETWARD_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "probe.h"

/* In climbing order. Append only within a level's block: names are config keys. */
enum nw_step {
	NW_STEP_RESTORE_ROUTES,		/* L1 */
	NW_STEP_FLUSH_NEIGHBOUR,	/* L1 */
	NW_STEP_RESTORE_DNS,		/* L1 */
	NW_STEP_REMOVE_VPN_INTERFACES,	/* L2 */
	NW_STEP_REMOVE_STALE,		/* L2 */
	NW_STEP_BOUNCE_INTERFACE,	/* L3 */
	NW_STEP_RENEW_DHCP,		/* L3 */
	NW_STEP_KILL_WILDCARD_OWNER,	/* L3 */
	NW_STEP_REBOOT,			/* L4 */
	NW_STEP__MAX,
};

enum nw_step_result {
	NW_STEP_CHANGED,	/* it changed something: re-probe */
	NW_STEP_NOTHING,	/* nothing to do (all in place already) */
	NW_STEP_FAILED,
	NW_STEP_TIMEOUT,	/* hit its deadline; leftovers reported */
	NW_STEP_SKIPPED,	/* not applicable here (no such service, no interface) */
	NW_STEP_DRY_RUN,	/* --dry-run: would have acted */
};

const char *nw_step_name(unsigned step);	/* "restore_routes", ... */
int nw_step_parse(const char *name);		/* enum nw_step or -EINVAL */
unsigned nw_step_level(unsigned step);		/* 1..4 */
const char *nw_step_result_name(unsigned res);	/* "changed", "nothing_to_do", "failed",
						 * "timeout", "skipped", "dry_run" */

#define NW_RECOVERY_PATTERNS_MAX 32
#define NW_RECOVERY_ARGV_MAX 16

/* "recovery" of netward.json */
struct nw_recovery_cfg {
	bool enabled;			/* the section is present: without it probes only report */
	uint32_t fail_threshold;	/* default 3 */
	uint32_t emergency_threshold;	/* default 5, >= fail_threshold */
	bool require_all;		/* "require": "any" (default): connected while one
					 * internet probe passes; "all": while all pass */
	char main_interface[IF_NAMESIZE];	/* "" = the device of the learned default route */
	char *vpn_interfaces[NW_RECOVERY_PATTERNS_MAX];	/* fnmatch(3) patterns */
	size_t n_vpn_interfaces;
	bool steps[NW_STEP__MAX];	/* on/off; kill_wildcard_owner and reboot default off */
	uint32_t step_timeout_ms;	/* deadline of one step, default 5000 */
	uint32_t reboot_after;		/* failed attempts before L4, default 3 */
	uint32_t max_reboots;		/* per 24 h, counted in the state dir, default 1 */
	char *resolv_conf;		/* NULL = "/etc/resolv.conf" */
	char *dhcp_command[NW_RECOVERY_ARGV_MAX + 1];	/* argv, "{iface}" replaced, NULL-ended;
							 * [0] NULL: networkd/NetworkManager only */
};

void nw_recovery_cfg_defaults(struct nw_recovery_cfg *c);
void nw_recovery_cfg_free(struct nw_recovery_cfg *c);
/* deep copy (strings duplicated); -ENOMEM */
int nw_recovery_cfg_copy(struct nw_recovery_cfg *dst, const struct nw_recovery_cfg *src);
/* name matches one of vpn_interfaces and is not the main interface */
bool nw_recovery_is_vpn(const struct nw_recovery_cfg *c, const char *ifname,
			const char *main_ifname);

/* The probes taken together. */
struct nw_verdict {
	int connected;		/* 1 yes, 0 no, -1 unknown (no internet probe has a result) */
	uint32_t failures;	/* consecutive failures of the verdict: "any": the smallest
				 * consec_fail among internet probes, "all": the largest;
				 * 0 when connected */
	int gateway;		/* 1 a gateway probe answers, 0 all silent, -1 none/unknown */
	size_t probes_up, probes_down;	/* internet probes with a result */
};

/* Probes with role "internet" decide connected; when there is none, the
 * gateway probes do. Probes without a result yet are left out. */
void nw_verdict_compute(const struct nw_probe_cfg *cfgs, const struct nw_probe_state *const *st,
			size_t n, bool require_all, struct nw_verdict *v);

enum nw_ladder_event {
	NW_LADDER_NONE,
	NW_LADDER_LOST,		/* connectivity just lost (first down verdict) */
	NW_LADDER_RESTORED,	/* confirmed back: counters were reset */
	NW_LADDER_UPSTREAM,	/* L3 held back: the gateway answers (once per attempt) */
	NW_LADDER_ATTEMPT_FAILED,	/* a climb through L3 left the host offline */
};

struct nw_ladder {
	const struct nw_recovery_cfg *cfg;	/* the caller keeps it alive */
	bool down;		/* connectivity is lost */
	bool busy;		/* a step runs or its re-probe is pending */
	bool reprobing;		/* waiting for nw_ladder_reprobed */
	bool upstream;		/* L3 held back in this attempt */
	unsigned cursor;	/* next step to consider (enum nw_step order) */
	unsigned level;		/* highest level entered in this attempt, 0 none */
	int running;		/* step running, -1 none */
	unsigned attempt;	/* attempts since the last confirmed recovery */
	unsigned failed_attempts;
	uint32_t base;		/* verdict failures when the last attempt ended */
	uint64_t down_since_ns;
	uint64_t steps_run, recoveries, losses;
	/* added with recovery.c: a step was started in this outage (a
	 * restore then counts in recoveries) */
	bool acted;
	bool changed_before;	/* remove_vpn_interfaces changed something: re-probe after
				 * remove_stale, which runs right after it */
};

void nw_ladder_init(struct nw_ladder *l, const struct nw_recovery_cfg *cfg);
/* The config changed (reload): keeps the state, uses cfg from now on. */
void nw_ladder_set_cfg(struct nw_ladder *l, const struct nw_recovery_cfg *cfg);

/* A verdict after any probe result. Returns the step to start now or -1;
 * *ev tells what changed. Never returns a step while busy. With
 * cfg->enabled false only *ev is ever set. */
int nw_ladder_verdict(struct nw_ladder *l, const struct nw_verdict *v, uint64_t now_ns,
		      enum nw_ladder_event *ev);
/* The running step finished. Sets *reprobe when the caller must run every
 * probe once (nw_probes_run_now) and then call nw_ladder_reprobed; else
 * returns the next step to start now, or -1 (wait for more failures).
 * v is the verdict now (for the gates of the next level). */
int nw_ladder_step_done(struct nw_ladder *l, unsigned step, enum nw_step_result res,
			const struct nw_verdict *v, bool *reprobe, enum nw_ladder_event *ev);
/* The verdict of the re-probe round. Returns the next step or -1. */
int nw_ladder_reprobed(struct nw_ladder *l, const struct nw_verdict *v, uint64_t now_ns,
		       enum nw_ladder_event *ev);

#endif
