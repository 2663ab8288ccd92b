/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Tunnel health poller with systemd failover (Cloudflare Tunnel, seed 004).
 * Every tunnel is polled concurrently on the daemon's loop (libcurl multi):
 * its local readiness endpoint first when there is one, then the API. When
 * a tunnel turns down (fall answers in a row) and the gateway answers, its
 * backup unit is started over the system bus, once: never again while it
 * is active; after rise healthy answers it is stopped if stop_on_recovery.
 * Each token's requests stay within Cloudflare's budget: intervals stretch
 * (and say so), 429 Retry-After blocks that token, 5xx backs off, 401/403
 * raise an alarm and never fail over. The units it started are kept in
 * <state_dir>/tunnels.json, so that a later netwardd (after a crash, a kill
 * or a restart) still stops them on recovery.
 */
#ifndef NETWARD_TUNNELS_H
#define NETWARD_TUNNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "cf_api.h"
#include "secret.h"

#define NW_TUNNELS_MAX 1024
#define NW_UNIT_NAME_MAX 256

/* tunnels.watch[i] */
struct nw_tunnel_cfg {
	char name[64];			/* "name", default: tunnel_id */
	char account_id[33];		/* 32 hex digits */
	char tunnel_id[37];		/* a UUID */
	char *token_file;		/* absolute; owner-only */
	char service[NW_UNIT_NAME_MAX];	/* the backup unit, "" none (report only) */
	char *ready_url;		/* cloudflared's /ready, NULL none */
	uint32_t fall;			/* default 2 */
	uint32_t rise;			/* default 2 */
	bool degraded_is_down;		/* default false */
	bool stop_on_recovery;		/* default false */
};

/* "tunnels" */
struct nw_tunnels_cfg {
	bool enabled;			/* the section is present with at least one tunnel */
	char *api_base;			/* NULL: https://api.cloudflare.com/client/v4 */
	uint32_t interval_ms;		/* default 3000 */
	uint32_t timeout_ms;		/* one request, default 2000, < interval_ms */
	bool has_gateway;		/* skip rounds (and never fail over) while it is silent */
	uint8_t gateway_family;
	uint8_t gateway[16];
	struct nw_tunnel_cfg *watch;
	size_t n_watch;
	bool dry_run;			/* not a key: netwardd --dry-run (units are only
					 * reported as "would start/stop") */
	const char *state_dir;		/* not a key: netwardd --state-dir, read by
					 * nw_tunnels_new only: <state_dir>/tunnels.json
					 * keeps the backup units netward started across
					 * restarts; NULL: they are not kept */
};

#define NW_CF_API_BASE "https://api.cloudflare.com/client/v4"

void nw_tunnels_cfg_free(struct nw_tunnels_cfg *c);

/* Hysteresis of one tunnel (pure): unknown answers do not count; down,
 * inactive (and degraded when degraded_is_down) are bad; healthy is good. */
struct nw_tunnel_health {
	bool down;
	uint32_t bad, good;		/* answers in a row */
};
/* Returns 1 when the tunnel just turned down (fall bad answers), -1 when it
 * just came back (rise good answers while down), 0 otherwise. */
int nw_tunnel_health_feed(struct nw_tunnel_health *h, enum nw_tunnel_status s,
			  const struct nw_tunnel_cfg *c);

struct nw_tunnels_ops {
	/* tunnel_state, unit_started, unit_stopped (and daemon notes); the
	 * callee does not keep ev */
	void (*emit)(void *ud, unsigned type, cJSON *ev);
};

struct nw_tunnels;

/* tokens[i] belongs to cfg->watch[i]; the poller owns them from here on
 * (also on failure). The system bus is opened here (DBUS_SYSTEM_BUS_ADDRESS
 * honoured); without one, failover is reported as impossible. The units an
 * earlier netwardd started (cfg->state_dir) are claimed again here. */
int nw_tunnels_new(struct nw_tunnels **out, sd_event *e, uint32_t netns,
		   const struct nw_tunnels_cfg *cfg, struct nw_secret **tokens,
		   const struct nw_tunnels_ops *ops, void *ud);
/* A reload: tunnels are matched by tunnel_id and keep their state (and
 * whether netward started their unit); tokens as for _new; cfg->state_dir
 * is not looked at. */
int nw_tunnels_reconfigure(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg,
			   struct nw_secret **tokens);
/* {"api_base", "interval_ms", "gateway": "answers"|"silent"|"none",
 *  "tokens": [{"id": "sha256:…", "tunnels", "interval_ms", "blocked_until_s"}],
 *  "tunnels": [{"name", "tunnel_id", "status", "down", "service", "unit",
 *   "started_by_netward", "started_by_earlier_netwardd", "last_error",
 *   "requests", ...}]} — never a token */
void nw_tunnels_status(struct nw_tunnels *t, cJSON *out);
/* "3 tunnels, 1 down (backup started)" */
void nw_tunnels_summary(struct nw_tunnels *t, char *buf, size_t size);
void nw_tunnels_free(struct nw_tunnels *t);

#endif
