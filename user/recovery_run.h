/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Probes and the recovery ladder put together on the daemon's loop: probe
 * results become probe_ok/probe_failed events and verdicts, verdicts climb
 * the ladder, its steps run (nw_steps) and are re-probed, and events that
 * say the network just broke or was just repaired start every probe at
 * once instead of waiting for the next interval.
 */
#ifndef NETWARD_RECOVERY_RUN_H
#define NETWARD_RECOVERY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "probe.h"
#include "recovery.h"
#include "recovery_steps.h"

struct nw_recovery_run_ops {
	/* every event (probe_ok, probe_failed, recovery_step,
	 * connectivity_lost, connectivity_restored, recovery_failed); the
	 * caller does not keep ev */
	void (*emit)(void *ud, unsigned type, cJSON *ev);
};

struct nw_recovery_run;

/* probes/recovery are copied. env: the steps' environment without cfg,
 * dry_run and bus (filled in here). netns goes into the events. */
int nw_recovery_run_new(struct nw_recovery_run **out, sd_event *e, uint32_t netns,
			const struct nw_probe_cfg *probes, size_t n_probes,
			const struct nw_recovery_cfg *recovery, const struct nw_steps_env *env,
			const struct nw_recovery_run_ops *ops, void *ud);
/* A reload: probes start over with the new list; the ladder keeps its
 * state (a running step finishes under the old settings first). */
int nw_recovery_run_reconfigure(struct nw_recovery_run *r, const struct nw_probe_cfg *probes,
				size_t n_probes, const struct nw_recovery_cfg *recovery);
/* Something just broke or was just repaired (route deleted or restored,
 * no_route, link down): probe now. Kicks within 50 ms are merged. */
void nw_recovery_run_kick(struct nw_recovery_run *r, const char *why);
/* {"state": "connected"|"offline"|"unknown", "level", "attempt", ...,
 *  "probes": [...], "last_steps": [...]} */
void nw_recovery_run_status(struct nw_recovery_run *r, cJSON *out);
/* one line for STATUS=: "3 probes up, level 0" */
void nw_recovery_run_summary(struct nw_recovery_run *r, char *buf, size_t size);
/* netwardctl probes --now: every probe once; done when all reported.
 * -ENOENT without probes. */
int nw_recovery_run_probe_now(struct nw_recovery_run *r, void (*done)(void *ud), void *ud);
void nw_recovery_run_probe_cancel(struct nw_recovery_run *r, void *ud);
void nw_recovery_run_free(struct nw_recovery_run *r);

#endif
