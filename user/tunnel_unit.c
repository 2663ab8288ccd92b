// SPDX-License-Identifier: GPL-2.0-only
/*
 * A tunnel's backup unit follows its health, over the system bus
 * (units.h, asynchronous): when the tunnel is down and the gateway answers
 * (or none is configured) the unit is started, unless it is active
 * already; while the tunnel stays down its state is asked again at most
 * once a round, so a unit that died is started again; when the tunnel is
 * back and stop_on_recovery is set, a unit netward started is stopped.
 * What is known of the unit counts for one round: when the tunnel turns
 * down the state is asked first unless it is that fresh (an admin may
 * have started the unit meanwhile, and netward must not claim it, nor
 * stop it on recovery).
 * A unit an earlier netwardd started (tunnels.json, tunnel_state.c) is
 * netward's too: stopped on recovery, and said so; if it is found inactive
 * or failed, it is not netward's any more (someone stopped it meanwhile).
 * One bus call per tunnel at a time; whatever changed meanwhile is looked
 * at again when it returns. reaction_us of unit_started: from the moment
 * the down answer was read to the moment StartUnit was sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "netward/event.h"
#include "tunnels_impl.h"

static bool unit_up(enum nw_unit_state s)
{
	return s == NW_UNIT_ACTIVE || s == NW_UNIT_ACTIVATING || s == NW_UNIT_RELOADING;
}

/* the tunnel is down and the gateway answers (or there is none) */
static bool want_backup(struct tunnel *tun)
{
	enum tunnel_gw gw;

	if (!tun->health.down)
		return false;
	gw = nw_tun_gateway(tun->t);
	return gw == TUNNEL_GW_NONE || gw == TUNNEL_GW_ANSWERS;
}

/* the state was learnt within the tunnel's round */
static bool state_fresh(struct tunnel *tun)
{
	return tun->unit_state != NW_UNIT_UNKNOWN &&
	       nw_tun_now() - tun->unit_known_ns < (uint64_t)tun->g->interval_ms * NW_TUN_MS;
}

static void set_state(struct tunnel *tun, enum nw_unit_state s)
{
	tun->unit_state = s;
	tun->unit_known_ns = nw_tun_now();
}

static void unit_error(struct tunnel *tun, const char *what, const char *msg)
{
	snprintf(tun->unit_error, sizeof(tun->unit_error), "%s %s: %s", what, tun->cfg.service,
		 msg && *msg ? msg : "failed");
	if (tun->unit_err_reported)
		return;
	tun->unit_err_reported = true;
	nw_tun_emit_state(tun, nw_tunnel_status_name(tun->status), NULL, tun->unit_error,
			  tun->unit_error, NULL, NULL);
}

/* a call returned: whatever changed meanwhile is looked at now */
static void call_done(struct tunnel *tun)
{
	tun->op = TUNNEL_OP_NONE;
	tun->slot = sd_bus_slot_unref(tun->slot);
	nw_tun_unit_sync(tun, false);
}

/* a unit an earlier netwardd started is not running: nothing of it is
 * netward's to stop (if the tunnel is down, it is started as any other) */
static void forget(struct tunnel *tun, enum nw_unit_state state)
{
	log_notice("tunnels: %s: %s, started by an earlier netwardd, is %s: no longer "
		   "netward's to stop", tun->cfg.name, tun->cfg.service, nw_unit_state_name(state));
	tun->started_by_netward = false;
	tun->inherited = false;
	tun->inherit_pending = false;
	tun->stop_pending = false;
	tun->unit_started[0] = 0;
	nw_tun_state_sync(tun->t);
}

static void on_state(void *ud, int err, enum nw_unit_state state, const char *msg)
{
	struct tunnel *tun = ud;

	if (err < 0) {
		/* the start that follows (if the tunnel is down) says more */
		snprintf(tun->unit_error, sizeof(tun->unit_error), "state of %s: %s",
			 tun->cfg.service, msg && *msg ? msg : strerror(-err));
		tun->unit_state = NW_UNIT_UNKNOWN;
	} else {
		set_state(tun, state);
		if (tun->inherited && (state == NW_UNIT_INACTIVE || state == NW_UNIT_FAILED))
			forget(tun, state);
		/* it died while the tunnel is down: the reaction counts from now */
		if (tun->health.down && !unit_up(state) && !tun->react_from_ns)
			tun->react_from_ns = nw_tun_now();
	}
	call_done(tun);
}

static void started(struct tunnel *tun, const char *job)
{
	cJSON *ev;

	tun->starts++;
	/* netward's, whatever it was before; kept for a later netwardd */
	if (!tun->started_by_netward || tun->inherited || !tun->unit_started[0])
		nw_format_realtime(nw_now_ns(CLOCK_REALTIME), tun->unit_started);
	tun->started_by_netward = true;
	tun->inherited = false;
	tun->inherit_pending = false;
	set_state(tun, NW_UNIT_ACTIVATING);	/* until the next query says more */
	tun->unit_err_reported = false;
	tun->unit_error[0] = 0;
	nw_tun_state_sync(tun->t);
	if (!(ev = nw_tun_event(tun, NW_EV_UNIT_STARTED)))
		return;
	char msg[NW_UNIT_NAME_MAX + 160];

	cJSON_AddStringToObject(ev, "unit", tun->cfg.service);
	cJSON_AddStringToObject(ev, "job", job ? job : "");
	cJSON_AddNumberToObject(ev, "reaction_us", (double)tun->reaction_us);
	snprintf(msg, sizeof(msg), "tunnel %s is down: started %s, %llu us after the answer",
		 tun->cfg.name, tun->cfg.service, (unsigned long long)tun->reaction_us);
	cJSON_AddStringToObject(ev, "message", msg);
	nw_tun_emit(tun->t, NW_EV_UNIT_STARTED, ev);
}

static void stopped(struct tunnel *tun, const char *job)
{
	bool earlier = tun->inherited;
	cJSON *ev;

	tun->stops++;
	tun->started_by_netward = false;
	tun->inherited = false;
	tun->inherit_pending = false;
	tun->unit_started[0] = 0;
	set_state(tun, NW_UNIT_DEACTIVATING);
	tun->unit_err_reported = false;
	tun->unit_error[0] = 0;
	nw_tun_state_sync(tun->t);
	if (!(ev = nw_tun_event(tun, NW_EV_UNIT_STOPPED)))
		return;
	char msg[NW_UNIT_NAME_MAX + 128];

	cJSON_AddStringToObject(ev, "unit", tun->cfg.service);
	cJSON_AddStringToObject(ev, "job", job ? job : "");
	if (earlier)
		cJSON_AddBoolToObject(ev, "started_by_earlier_netwardd", 1);
	snprintf(msg, sizeof(msg), "tunnel %s is back: stopped %s%s", tun->cfg.name,
		 tun->cfg.service, earlier ? " (started by an earlier netwardd)" : "");
	cJSON_AddStringToObject(ev, "message", msg);
	nw_tun_emit(tun->t, NW_EV_UNIT_STOPPED, ev);
}

static void on_job(void *ud, int err, const char *job, const char *msg)
{
	struct tunnel *tun = ud;
	const char *why = msg && *msg ? msg : err < 0 ? strerror(-err) : NULL;

	if (tun->op == TUNNEL_OP_START) {
		if (err >= 0) {
			started(tun, job);
		} else {
			tun->unit_state = NW_UNIT_UNKNOWN;
			unit_error(tun, "start", why);
		}
	} else if (tun->op == TUNNEL_OP_STOP) {
		tun->stop_pending = false;
		if (err >= 0)
			stopped(tun, job);
		else
			unit_error(tun, "stop", why);
	}
	call_done(tun);
}

static void query(struct tunnel *tun)
{
	int r;

	tun->refresh_due = false;
	tun->op = TUNNEL_OP_STATE;
	r = nw_unit_get_state(tun->t->bus, tun->cfg.service, NW_TUN_BUS_TIMEOUT_MS, on_state, tun,
			      &tun->slot);
	if (r < 0) {
		tun->op = TUNNEL_OP_NONE;
		tun->unit_state = NW_UNIT_UNKNOWN;
		unit_error(tun, "query", strerror(-r));
	}
}

static void start(struct tunnel *tun)
{
	uint64_t from = tun->react_from_ns;
	int r;

	tun->op = TUNNEL_OP_START;
	tun->react_from_ns = 0;
	tun->announce = false;
	r = nw_unit_start(tun->t->bus, tun->cfg.service, NW_TUN_BUS_TIMEOUT_MS, on_job, tun,
			  &tun->slot);
	if (r < 0) {
		tun->op = TUNNEL_OP_NONE;
		unit_error(tun, "start", strerror(-r));
		return;
	}
	/* sent: from the down answer read to here */
	tun->reaction_us = from ? (nw_tun_now() - from) / 1000 : 0;
	log_notice("tunnels: %s is down: starting %s", tun->cfg.name, tun->cfg.service);
}

static void stop(struct tunnel *tun)
{
	int r;

	tun->op = TUNNEL_OP_STOP;
	r = nw_unit_stop(tun->t->bus, tun->cfg.service, NW_TUN_BUS_TIMEOUT_MS, on_job, tun,
			 &tun->slot);
	if (r < 0) {
		tun->op = TUNNEL_OP_NONE;
		tun->stop_pending = false;
		unit_error(tun, "stop", strerror(-r));
		return;
	}
	log_notice("tunnels: %s is back: stopping %s%s", tun->cfg.name, tun->cfg.service,
		   tun->inherited ? " (started by an earlier netwardd)" : "");
}

static void no_bus(struct tunnel *tun)
{
	char err[NW_UNIT_NAME_MAX + 64], msg[NW_UNIT_NAME_MAX + 160];

	if (tun->no_bus_reported)
		return;
	tun->no_bus_reported = true;
	snprintf(err, sizeof(err), "no system bus: cannot start %s", tun->cfg.service);
	snprintf(msg, sizeof(msg), "%s is down and %s (%s)", tun->cfg.name, err,
		 strerror(-tun->t->bus_err));
	nw_tun_emit_state(tun, nw_tunnel_status_name(tun->status), NULL, msg, err, NULL, NULL);
}

static void already_active(struct tunnel *tun)
{
	tun->announce = false;
	tun->react_from_ns = 0;
	log_info("tunnels: %s is down: %s is already active", tun->cfg.name, tun->cfg.service);
}

/* --dry-run: say what would be done, once per down spell, touch nothing */
static void dry(struct tunnel *tun, unsigned type)
{
	cJSON *ev = nw_tun_event(tun, type);
	char msg[NW_UNIT_NAME_MAX + 128];

	tun->dry_active = type == NW_EV_UNIT_STARTED;
	if (type == NW_EV_NONE || !ev) {
		cJSON_Delete(ev);
		return;
	}
	cJSON_AddStringToObject(ev, "unit", tun->cfg.service);
	cJSON_AddBoolToObject(ev, "dry_run", 1);
	if (type == NW_EV_UNIT_STOPPED && tun->inherited)
		cJSON_AddBoolToObject(ev, "started_by_earlier_netwardd", 1);
	snprintf(msg, sizeof(msg), "dry-run: would %s %s%s",
		 type == NW_EV_UNIT_STARTED ? "start" : "stop", tun->cfg.service,
		 type == NW_EV_UNIT_STOPPED && tun->inherited ?
		 " (started by an earlier netwardd)" : "");
	cJSON_AddStringToObject(ev, "message", msg);
	nw_tun_emit(tun->t, type, ev);
}

void nw_tun_unit_sync(struct tunnel *tun, bool may_query)
{
	if (!tun->cfg.service[0])
		return;
	if (tun->t->dry_run) {
		if (want_backup(tun) && !tun->dry_active)
			dry(tun, NW_EV_UNIT_STARTED);
		else if (!tun->health.down && tun->dry_active)
			dry(tun, tun->cfg.stop_on_recovery ? NW_EV_UNIT_STOPPED : NW_EV_NONE);
		else if (!tun->health.down && tun->stop_pending)
			dry(tun, NW_EV_UNIT_STOPPED);	/* an earlier netwardd's unit */
		tun->stop_pending = false;
		return;
	}
	if (tun->op != TUNNEL_OP_NONE)
		return;		/* call_done comes back here */
	if (want_backup(tun)) {
		tun->stop_pending = false;
		if (!tun->t->bus)
			no_bus(tun);
		else if (may_query && (tun->unit_state == NW_UNIT_UNKNOWN || tun->refresh_due))
			query(tun);
		else if (!unit_up(tun->unit_state))
			start(tun);
		else if (tun->announce)
			already_active(tun);
		return;
	}
	if (!tun->health.down && tun->stop_pending && tun->started_by_netward && tun->t->bus)
		stop(tun);
}

void nw_tun_unit_down(struct tunnel *tun, uint64_t read_ns)
{
	enum tunnel_gw gw = nw_tun_gateway(tun->t);

	tun->react_from_ns = read_ns;
	tun->unit_err_reported = false;
	if (!tun->cfg.service[0])
		return;
	tun->announce = true;
	if (gw == TUNNEL_GW_SILENT || gw == TUNNEL_GW_UNKNOWN) {
		log_info("tunnels: %s is down but the gateway %s %s: %s waits", tun->cfg.name,
			 tun->t->gateway_text, gw == TUNNEL_GW_SILENT ? "is silent" :
			 "has not answered yet", tun->cfg.service);
		return;
	}
	/* what is known of this round is good enough; older is asked again */
	tun->refresh_due = !state_fresh(tun);
	nw_tun_unit_sync(tun, true);
}

void nw_tun_unit_up(struct tunnel *tun)
{
	tun->react_from_ns = 0;
	tun->unit_err_reported = false;
	if (tun->cfg.service[0] && tun->cfg.stop_on_recovery && tun->started_by_netward) {
		tun->stop_pending = true;
		nw_tun_unit_sync(tun, false);
	}
}

void nw_tun_unit_query(struct tunnel *tun)
{
	if (tun->cfg.service[0] && tun->t->bus && tun->op == TUNNEL_OP_NONE)
		query(tun);
}

void nw_tun_unit_cancel(struct tunnel *tun)
{
	tun->slot = sd_bus_slot_unref(tun->slot);
	tun->op = TUNNEL_OP_NONE;
}
