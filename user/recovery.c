// SPDX-License-Identifier: GPL-2.0-only
/* The recovery ladder and the verdict of the probes: pure decisions, no I/O. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "recovery.h"
#include "util.h"

static const char *const step_names[NW_STEP__MAX] = {
	[NW_STEP_RESTORE_ROUTES] = "restore_routes",
	[NW_STEP_FLUSH_NEIGHBOUR] = "flush_neighbour",
	[NW_STEP_RESTORE_DNS] = "restore_dns",
	[NW_STEP_REMOVE_VPN_INTERFACES] = "remove_vpn_interfaces",
	[NW_STEP_REMOVE_STALE] = "remove_stale",
	[NW_STEP_BOUNCE_INTERFACE] = "bounce_interface",
	[NW_STEP_RENEW_DHCP] = "renew_dhcp",
	[NW_STEP_KILL_WILDCARD_OWNER] = "kill_wildcard_owner",
	[NW_STEP_REBOOT] = "reboot",
};

static const unsigned step_levels[NW_STEP__MAX] = {
	[NW_STEP_RESTORE_ROUTES] = 1,
	[NW_STEP_FLUSH_NEIGHBOUR] = 1,
	[NW_STEP_RESTORE_DNS] = 1,
	[NW_STEP_REMOVE_VPN_INTERFACES] = 2,
	[NW_STEP_REMOVE_STALE] = 2,
	[NW_STEP_BOUNCE_INTERFACE] = 3,
	[NW_STEP_RENEW_DHCP] = 3,
	[NW_STEP_KILL_WILDCARD_OWNER] = 3,
	[NW_STEP_REBOOT] = 4,
};

static const char *const result_names[] = {
	[NW_STEP_CHANGED] = "changed",
	[NW_STEP_NOTHING] = "nothing_to_do",
	[NW_STEP_FAILED] = "failed",
	[NW_STEP_TIMEOUT] = "timeout",
	[NW_STEP_SKIPPED] = "skipped",
	[NW_STEP_DRY_RUN] = "dry_run",
};

const char *nw_step_name(unsigned step)
{
	return step < NW_STEP__MAX ? step_names[step] : "?";
}

int nw_step_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (unsigned i = 0; i < NW_STEP__MAX; i++)
		if (!strcmp(name, step_names[i]))
			return (int)i;
	return -EINVAL;
}

unsigned nw_step_level(unsigned step)
{
	return step < NW_STEP__MAX ? step_levels[step] : 4;
}

const char *nw_step_result_name(unsigned res)
{
	return res < NW_ARRAY_SIZE(result_names) ? result_names[res] : "?";
}

/* --- config ---------------------------------------------------------------- */

void nw_recovery_cfg_defaults(struct nw_recovery_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->enabled = false;
	c->fail_threshold = 3;
	c->emergency_threshold = 5;
	c->require_all = false;
	for (unsigned i = 0; i < NW_STEP__MAX; i++)
		c->steps[i] = true;
	c->steps[NW_STEP_KILL_WILDCARD_OWNER] = false;
	c->steps[NW_STEP_REBOOT] = false;
	c->step_timeout_ms = 5000;
	c->reboot_after = 3;
	c->max_reboots = 1;
}

void nw_recovery_cfg_free(struct nw_recovery_cfg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < NW_RECOVERY_PATTERNS_MAX; i++)
		free(c->vpn_interfaces[i]);
	free(c->resolv_conf);
	for (size_t i = 0; i < NW_RECOVERY_ARGV_MAX + 1; i++)
		free(c->dhcp_command[i]);
	memset(c, 0, sizeof(*c));
}

int nw_recovery_cfg_copy(struct nw_recovery_cfg *dst, const struct nw_recovery_cfg *src)
{
	struct nw_recovery_cfg c = *src;
	int err = 0;

	/* the pointers are src's until replaced: clear them first so that a
	 * failure frees only what was duplicated here */
	memset(c.vpn_interfaces, 0, sizeof(c.vpn_interfaces));
	memset(c.dhcp_command, 0, sizeof(c.dhcp_command));
	c.resolv_conf = NULL;
	if (c.n_vpn_interfaces > NW_RECOVERY_PATTERNS_MAX)
		c.n_vpn_interfaces = NW_RECOVERY_PATTERNS_MAX;
	for (size_t i = 0; i < c.n_vpn_interfaces; i++) {
		if (!src->vpn_interfaces[i])
			continue;
		c.vpn_interfaces[i] = strdup(src->vpn_interfaces[i]);
		if (!c.vpn_interfaces[i]) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (src->resolv_conf && !(c.resolv_conf = strdup(src->resolv_conf))) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < NW_RECOVERY_ARGV_MAX && src->dhcp_command[i]; i++) {
		c.dhcp_command[i] = strdup(src->dhcp_command[i]);
		if (!c.dhcp_command[i]) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	*dst = c;
	return 0;
cleanup:
	nw_recovery_cfg_free(&c);
	memset(dst, 0, sizeof(*dst));
	return err;
}

bool nw_recovery_is_vpn(const struct nw_recovery_cfg *c, const char *ifname,
			const char *main_ifname)
{
	if (!c || !ifname || !*ifname || !strcmp(ifname, "lo"))
		return false;
	if (main_ifname && *main_ifname && !strcmp(ifname, main_ifname))
		return false;
	/* the configured main interface is never a VPN either */
	if (c->main_interface[0] && !strncmp(ifname, c->main_interface, IF_NAMESIZE))
		return false;
	for (size_t i = 0; i < c->n_vpn_interfaces && i < NW_RECOVERY_PATTERNS_MAX; i++)
		if (c->vpn_interfaces[i] && !fnmatch(c->vpn_interfaces[i], ifname, 0))
			return true;
	return false;
}

/* --- verdict ------------------------------------------------------------- */

void nw_verdict_compute(const struct nw_probe_cfg *cfgs, const struct nw_probe_state *const *st,
			size_t n, bool require_all, struct nw_verdict *v)
{
	uint8_t deciding = NW_ROLE_GATEWAY;
	uint32_t min_fail = UINT32_MAX, max_fail = 0;
	size_t gw_up = 0, gw_down = 0;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (cfgs[i].role == NW_ROLE_INTERNET)
			deciding = NW_ROLE_INTERNET;
	for (size_t i = 0; i < n; i++) {
		const struct nw_probe_state *s = st[i];

		if (!s || !s->known)
			continue;
		if (cfgs[i].role == NW_ROLE_GATEWAY) {
			if (s->up)
				gw_up++;
			else
				gw_down++;
		}
		if (cfgs[i].role != deciding)
			continue;
		if (s->up) {
			v->probes_up++;
			continue;
		}
		v->probes_down++;
		if (s->consec_fail < min_fail)
			min_fail = s->consec_fail;
		if (s->consec_fail > max_fail)
			max_fail = s->consec_fail;
	}

	if (!v->probes_up && !v->probes_down)
		v->connected = -1;
	else if (require_all)
		v->connected = !v->probes_down;
	else
		v->connected = v->probes_up > 0;
	if (v->connected == 0)
		v->failures = require_all ? max_fail : min_fail;

	if (gw_up)
		v->gateway = 1;
	else if (gw_down)
		v->gateway = 0;
	else
		v->gateway = -1;
}

/* --- ladder -------------------------------------------------------------- */

void nw_ladder_init(struct nw_ladder *l, const struct nw_recovery_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->running = -1;
}

void nw_ladder_set_cfg(struct nw_ladder *l, const struct nw_recovery_cfg *cfg)
{
	l->cfg = cfg;
}

/* Only one event per call: the first one wins. */
static void report(enum nw_ladder_event *ev, enum nw_ladder_event what)
{
	if (*ev == NW_LADDER_NONE)
		*ev = what;
}

/* The climb is over with the host still offline: the next one starts when
 * fail_threshold more failures have been counted from here. */
static void new_attempt(struct nw_ladder *l, const struct nw_verdict *v)
{
	l->cursor = 0;
	l->level = 0;
	l->upstream = false;
	l->base = v->failures;
}

static int start(struct nw_ladder *l, unsigned step)
{
	l->cursor = step;
	l->busy = true;
	l->running = (int)step;
	l->steps_run++;
	l->acted = true;
	return (int)step;
}

/* Moves the cursor through the gates and disabled steps: the step to start
 * now, or -1 (wait for more failures, or the attempt just ended). */
static int advance(struct nw_ladder *l, const struct nw_verdict *v, enum nw_ladder_event *ev)
{
	const struct nw_recovery_cfg *cfg = l->cfg;
	uint32_t eff = v->failures > l->base ? v->failures - l->base : 0;

	/* connected but not yet told so (a step ended): the next verdict
	 * restores, nothing more to start */
	if (!cfg || !cfg->enabled || !l->down || l->busy || v->connected == 1)
		return -1;
	for (;;) {
		unsigned lvl;

		if (l->cursor >= NW_STEP__MAX) {
			/* the reboot step came back: the machine is still here */
			new_attempt(l, v);
			return -1;
		}
		lvl = nw_step_level(l->cursor);
		if (lvl > l->level) {
			switch (lvl) {
			case 1:
				if (eff < cfg->fail_threshold)
					return -1;
				l->attempt++;	/* level 1 starts at cursor 0 */
				break;
			case 2:
				break;
			case 3:
				if (eff < cfg->emergency_threshold)
					return -1;
				if (v->gateway == 1) {
					/* the link works, the internet beyond it does not:
					 * bouncing our interface would not help */
					if (!l->upstream && *ev == NW_LADDER_NONE) {
						l->upstream = true;
						*ev = NW_LADDER_UPSTREAM;
					}
					return -1;
				}
				break;
			default:
				l->failed_attempts++;
				report(ev, NW_LADDER_ATTEMPT_FAILED);
				if (cfg->steps[NW_STEP_REBOOT] &&
				    l->failed_attempts >= cfg->reboot_after) {
					l->level = lvl;
					return start(l, NW_STEP_REBOOT);
				}
				new_attempt(l, v);
				return -1;
			}
			l->level = lvl;
		}
		if (!cfg->steps[l->cursor]) {
			l->cursor++;
			continue;
		}
		return start(l, l->cursor);
	}
}

/* Connectivity is back: every counter of the outage goes. A step still
 * running keeps busy/running until nw_ladder_step_done, a pending
 * re-probe until nw_ladder_reprobed. */
static void restored(struct nw_ladder *l, enum nw_ladder_event *ev)
{
	if (l->acted)
		l->recoveries++;
	l->down = false;
	l->cursor = 0;
	l->level = 0;
	l->attempt = 0;
	l->failed_attempts = 0;
	l->base = 0;
	l->upstream = false;
	l->acted = false;
	report(ev, NW_LADDER_RESTORED);
}

int nw_ladder_verdict(struct nw_ladder *l, const struct nw_verdict *v, uint64_t now_ns,
		      enum nw_ladder_event *ev)
{
	*ev = NW_LADDER_NONE;
	if (v->connected == 1) {
		if (l->down)
			restored(l, ev);
		return -1;
	}
	if (v->connected != 0)
		return -1;
	if (!l->down) {
		l->down = true;
		l->down_since_ns = now_ns;
		l->losses++;
		l->acted = false;
		report(ev, NW_LADDER_LOST);
	}
	return advance(l, v, ev);
}

int nw_ladder_step_done(struct nw_ladder *l, unsigned step, enum nw_step_result res,
			const struct nw_verdict *v, bool *reprobe, enum nw_ladder_event *ev)
{
	/* the step belongs to an outage that ended while it ran */
	bool stale = l->level == 0 || l->cursor != step;

	*ev = NW_LADDER_NONE;
	*reprobe = false;
	l->running = -1;
	if (!l->down || stale) {
		l->busy = false;
		l->changed_before = false;
		/* interfaces went: the rules they leave behind go too, even when
		 * connectivity came back meanwhile */
		if (step == NW_STEP_REMOVE_VPN_INTERFACES && res == NW_STEP_CHANGED &&
		    l->cfg->steps[NW_STEP_REMOVE_STALE]) {
			l->busy = true;
			l->running = NW_STEP_REMOVE_STALE;
			l->steps_run++;
			return NW_STEP_REMOVE_STALE;
		}
		return advance(l, v, ev);	/* -1 unless a new outage waits */
	}
	l->cursor = step + 1;
	/* interfaces and the rules they leave behind go together: remove_stale
	 * runs before the re-probe that remove_vpn_interfaces' changes call for */
	if (res == NW_STEP_CHANGED && step == NW_STEP_REMOVE_VPN_INTERFACES &&
	    l->cfg->steps[NW_STEP_REMOVE_STALE]) {
		l->changed_before = true;
		l->busy = false;
		return advance(l, v, ev);
	}
	if (l->changed_before) {
		l->changed_before = false;
		res = NW_STEP_CHANGED;
	}
	if (res == NW_STEP_CHANGED) {
		*reprobe = true;
		l->reprobing = true;
		return -1;
	}
	l->busy = false;
	return advance(l, v, ev);
}

int nw_ladder_reprobed(struct nw_ladder *l, const struct nw_verdict *v, uint64_t now_ns,
		       enum nw_ladder_event *ev)
{
	l->reprobing = false;
	if (l->running < 0)
		l->busy = false;
	return nw_ladder_verdict(l, v, now_ns, ev);
}
