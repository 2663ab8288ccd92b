// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the tunnel poller says: its events (tunnel_state, unit_started,
 * unit_stopped, and a daemon note when the gateway falls silent), its
 * status object and its one-line summary. A token is only ever named by
 * nw_secret_id().
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "tunnels_impl.h"
#include "units.h"

cJSON *nw_tun_event(struct tunnel *tun, unsigned type)
{
	cJSON *ev = nw_event_new(type, tun->t->netns);

	if (!ev)
		return NULL;
	cJSON_AddStringToObject(ev, "tunnel", tun->cfg.name);
	cJSON_AddStringToObject(ev, "tunnel_id", tun->cfg.tunnel_id);
	return ev;
}

void nw_tun_emit(struct nw_tunnels *t, unsigned type, cJSON *ev)
{
	if (!ev)
		return;
	if (t->ops.emit)
		t->ops.emit(t->ud, type, ev);
	cJSON_Delete(ev);
}

void nw_tun_emit_state(struct tunnel *tun, const char *status, const char *previous,
		       const char *message, const char *error, const char *outcome,
		       const char *alarm)
{
	cJSON *ev = nw_tun_event(tun, NW_EV_TUNNEL_STATE);

	if (!ev)
		return;
	cJSON_AddStringToObject(ev, "status", status);
	if (previous)
		cJSON_AddStringToObject(ev, "previous", previous);
	cJSON_AddBoolToObject(ev, "down", tun->health.down);
	cJSON_AddNumberToObject(ev, "http_status", (double)tun->http_status);
	if (tun->source)
		cJSON_AddStringToObject(ev, "source", tun->source);
	if (message)
		cJSON_AddStringToObject(ev, "message", message);
	if (error)
		cJSON_AddStringToObject(ev, "error", error);
	if (outcome)
		cJSON_AddStringToObject(ev, "outcome", outcome);
	if (alarm)
		cJSON_AddStringToObject(ev, "alarm", alarm);
	if (tun->cfg.service[0])
		cJSON_AddStringToObject(ev, "service", tun->cfg.service);
	cJSON_AddStringToObject(ev, "token", tun->g->id);
	nw_tun_emit(tun->t, NW_EV_TUNNEL_STATE, ev);
}

void nw_tun_note(struct nw_tunnels *t, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nw_tun_emit(t, NW_EV_DAEMON, nw_event_daemon(t->netns, msg));
}

static const char *gateway_name(enum tunnel_gw gw)
{
	switch (gw) {
	case TUNNEL_GW_ANSWERS: return "answers";
	case TUNNEL_GW_SILENT: return "silent";
	case TUNNEL_GW_UNKNOWN: return "unknown";
	default: return "none";
	}
}

static void group_status(struct tunnel_group *g, uint64_t now, cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();
	bool blocked = g->blocked_until_ns > now;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", g->id);
	cJSON_AddNumberToObject(o, "tunnels", g->n);
	cJSON_AddNumberToObject(o, "interval_ms", g->interval_ms);
	cJSON_AddNumberToObject(o, "blocked_until_s", blocked ? (double)g->blocked_until_s : 0);
	cJSON_AddNumberToObject(o, "blocked_for_ms",
				blocked ? (double)((g->blocked_until_ns - now) / NW_TUN_MS) : 0);
	cJSON_AddNumberToObject(o, "requests_in_window", nw_tun_budget_used(g, now));
	cJSON_AddNumberToObject(o, "budget", NW_CF_BUDGET_REQUESTS);
	cJSON_AddNumberToObject(o, "window_s", NW_CF_BUDGET_WINDOW_S);
	cJSON_AddNumberToObject(o, "rounds", (double)g->rounds);
	cJSON_AddItemToArray(arr, o);
}

static void tunnel_status(struct tunnel *tun, uint64_t now, cJSON *arr)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	cJSON_AddStringToObject(o, "name", tun->cfg.name);
	cJSON_AddStringToObject(o, "tunnel_id", tun->cfg.tunnel_id);
	cJSON_AddStringToObject(o, "account_id", tun->cfg.account_id);
	cJSON_AddStringToObject(o, "token", tun->g->id);
	cJSON_AddStringToObject(o, "status", nw_tunnel_status_name(tun->status));
	cJSON_AddStringToObject(o, "source", tun->source ? tun->source : "none");
	cJSON_AddBoolToObject(o, "down", tun->health.down);
	cJSON_AddNumberToObject(o, "bad_in_a_row", tun->health.bad);
	cJSON_AddNumberToObject(o, "good_in_a_row", tun->health.good);
	cJSON_AddNumberToObject(o, "fall", tun->cfg.fall);
	cJSON_AddNumberToObject(o, "rise", tun->cfg.rise);
	cJSON_AddStringToObject(o, "service", tun->cfg.service);
	cJSON_AddStringToObject(o, "unit", tun->cfg.service[0] ?
					   nw_unit_state_name(tun->unit_state) : "none");
	cJSON_AddBoolToObject(o, "started_by_netward", tun->started_by_netward);
	cJSON_AddBoolToObject(o, "started_by_earlier_netwardd", tun->inherited);
	cJSON_AddNumberToObject(o, "unit_starts", (double)tun->starts);
	cJSON_AddNumberToObject(o, "unit_stops", (double)tun->stops);
	if (tun->unit_error[0])
		cJSON_AddStringToObject(o, "unit_error", tun->unit_error);
	cJSON_AddStringToObject(o, "last_outcome", tun->answered ?
					   nw_cf_outcome_name(tun->outcome) : "none");
	cJSON_AddStringToObject(o, "last_error", tun->last_error);
	cJSON_AddNumberToObject(o, "http_status", (double)tun->http_status);
	cJSON_AddBoolToObject(o, "token_rejected", tun->auth_alarm);
	cJSON_AddNumberToObject(o, "requests", (double)tun->requests);
	cJSON_AddNumberToObject(o, "errors", (double)tun->errors);
	cJSON_AddNumberToObject(o, "skipped_rounds", (double)tun->skipped);
	cJSON_AddNumberToObject(o, "deferred", (double)tun->deferred);
	cJSON_AddNumberToObject(o, "backoff_ms", now < tun->backoff_until_ns ? tun->backoff_ms : 0);
	if (tun->cfg.ready_url) {
		cJSON_AddStringToObject(o, "ready_url", tun->cfg.ready_url);
		cJSON_AddNumberToObject(o, "ready_checks", (double)tun->ready_checks);
		cJSON_AddNumberToObject(o, "ready_ok", (double)tun->ready_ok);
		cJSON_AddNumberToObject(o, "ready_connections", tun->ready_conns);
	}
	cJSON_AddNumberToObject(o, "last_answer_ms_ago", tun->last_answer_ns ?
				(double)((now - tun->last_answer_ns) / NW_TUN_MS) : -1);
	cJSON_AddItemToArray(arr, o);
}

void nw_tunnels_status(struct nw_tunnels *t, cJSON *out)
{
	enum tunnel_gw gw;
	cJSON *arr;
	uint64_t now = nw_tun_now();

	if (!t || !out)
		return;
	gw = nw_tun_gateway(t);
	cJSON_AddStringToObject(out, "api_base", t->api_base ? t->api_base : NW_CF_API_BASE);
	cJSON_AddNumberToObject(out, "interval_ms", t->interval_ms);
	cJSON_AddNumberToObject(out, "timeout_ms", t->timeout_ms);
	cJSON_AddStringToObject(out, "gateway", gateway_name(gw));
	if (t->has_gateway)
		cJSON_AddStringToObject(out, "gateway_address", t->gateway_text);
	cJSON_AddBoolToObject(out, "system_bus", t->bus != NULL);
	if ((arr = cJSON_AddArrayToObject(out, "tokens")))
		for (size_t i = 0; i < t->n_groups; i++)
			group_status(t->groups[i], now, arr);
	if ((arr = cJSON_AddArrayToObject(out, "tunnels")))
		for (size_t i = 0; i < t->n; i++)
			tunnel_status(t->tun[i], now, arr);
}

void nw_tunnels_summary(struct nw_tunnels *t, char *buf, size_t size)
{
	size_t down = 0, started = 0, rejected = 0, l;

	if (!size)
		return;
	if (!t) {
		snprintf(buf, size, "off");
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		down += t->tun[i]->health.down;
		started += t->tun[i]->health.down && t->tun[i]->started_by_netward;
		rejected += t->tun[i]->auth_alarm;
	}
	snprintf(buf, size, "%zu tunnel%s, %zu down", t->n, t->n == 1 ? "" : "s", down);
	l = strlen(buf);
	if (started == 1 && down == 1)
		snprintf(buf + l, size - l, " (backup started)");
	else if (started)
		snprintf(buf + l, size - l, " (%zu backup%s started)", started,
			 started == 1 ? "" : "s");
	l = strlen(buf);
	if (rejected)
		snprintf(buf + l, size - l, ", %zu token%s rejected", rejected,
			 rejected == 1 ? "" : "s");
	l = strlen(buf);
	if (nw_tun_gateway(t) == TUNNEL_GW_SILENT)
		snprintf(buf + l, size - l, ", gateway silent");
}
