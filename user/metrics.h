/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus metrics (issue 8): the text exposition format 0.0.4, written
 * atomically to metrics.textfile for node_exporter's textfile collector.
 * Counters of what netwardd saw (events by type, bind actions, the route
 * restore latency histogram) are kept here, fed from dispatch; the state
 * (probes, recovery, tunnels, SEGW, route guard) is read at each write from
 * the *_status() JSON of the modules. The file is rewritten every
 * interval_ms and soon after a change, at most once a second; a write that
 * fails is counted (and logged once per spell), never fatal.
 */
#ifndef NETWARD_METRICS_H
#define NETWARD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "counters.h"

#define NW_METRICS_INTERVAL_MS 10000
#define NW_METRICS_MIN_GAP_MS 1000	/* writes after changes: at most one a second */

/* "metrics": { "textfile": "/var/lib/node_exporter/textfile_collector/netward.prom",
 *              "interval_ms": 10000 } */
struct nw_metrics_cfg {
	char *textfile;			/* absolute; NULL: no metrics (the default) */
	uint32_t interval_ms;		/* 1000-3600000, default 10000 */
};

/* The state at one write. The cJSON trees are what the modules' status
 * functions return (NULL: that module is not running); the writer deletes
 * them after rendering. */
struct nw_metrics_input {
	const char *version;
	double start_time_s;		/* the daemon's start, Unix time */
	bool has_bpf;
	struct nw_counters bpf;		/* the pinned "counters" map, summed */
	cJSON *route_guard;		/* nw_route_guard_status */
	cJSON *connectivity;		/* nw_recovery_run_status */
	cJSON *tunnels;			/* nw_tunnels_status */
	cJSON *segw;			/* nw_segw_status */
	uint64_t reloads, reload_failures;
};

struct nw_metrics_ops {
	/* fills in (zeroed before) with the daemon's state */
	void (*collect)(void *ud, struct nw_metrics_input *in);
};

struct nw_metrics;

int nw_metrics_new(struct nw_metrics **out);
/* Removes the file it wrote (the daemon stops: no stale values). */
void nw_metrics_free(struct nw_metrics *m);

/* Every event dispatched: netward_events_total, netward_bind_events_total,
 * the restore latency histogram; then a write soon. */
void nw_metrics_note_event(struct nw_metrics *m, unsigned type, const cJSON *ev);

/* The exposition text of m and in: malloc'ed, NUL-terminated. 0 or -errno. */
int nw_metrics_render(const struct nw_metrics *m, const struct nw_metrics_input *in,
		      char **text, size_t *len);

/* Writes on e from here on, as cfg says (also a reload: a new path or
 * textfile null removes the old file). ops->collect gives the state. */
int nw_metrics_configure(struct nw_metrics *m, sd_event *e, const struct nw_metrics_cfg *cfg,
			 const struct nw_metrics_ops *ops, void *ud);
/* The state changed: write soon (at most once a second). */
void nw_metrics_changed(struct nw_metrics *m);
/* {"textfile", "interval_ms", "writes", "errors", "last_write", "last_error"} */
void nw_metrics_status(const struct nw_metrics *m, cJSON *out);

/* The file, replaced atomically without fsync (a temp file ".NAME.XXXXXX"
 * beside it, which the textfile collector ignores, renamed over it), mode
 * 0644. 0 or -errno; nothing left behind. */
int nw_metrics_write_file(const char *path, const char *text, size_t len);

#endif
