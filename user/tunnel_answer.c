// SPDX-License-Identifier: GPL-2.0-only
/*
 * What an answer does to a tunnel: a status (from the API, or "healthy"
 * from a ready cloudflared) feeds its hysteresis and may turn it down or
 * back up; a failed request starts or continues an error spell (one
 * tunnel_state event per spell and kind), backs the tunnel off (5xx,
 * transport: interval * 2^k, at most 60 s), blocks its token (429) or
 * raises the "token rejected" alarm (401/403, never a failover).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tunnels_impl.h"
#include "util.h"

#define BACKOFF_K_MAX 16

void nw_tun_answer(struct tunnel *tun, enum nw_tunnel_status s, const char *source,
		   const char *detail, uint64_t read_ns)
{
	enum nw_tunnel_status prev = tun->status;
	bool spell = tun->error_spell;
	char msg[320];
	int turned;

	tun->answered = true;
	tun->last_answer_ns = read_ns;
	tun->status = s;
	tun->source = source;
	tun->error_spell = false;
	turned = nw_tunnel_health_feed(&tun->health, s, &tun->cfg);
	if (turned == 1)
		snprintf(msg, sizeof(msg), "%s is down: %u bad answers in a row%s%s%s",
			 tun->cfg.name, tun->health.bad, tun->cfg.service[0] ? " (backup " : "",
			 tun->cfg.service, tun->cfg.service[0] ? ")" : "");
	else if (turned == -1)
		snprintf(msg, sizeof(msg), "%s is back: %u healthy answers in a row",
			 tun->cfg.name, tun->health.good);
	else if (spell)
		snprintf(msg, sizeof(msg), "%s: answers again: %s", tun->cfg.name,
			 nw_tunnel_status_name(s));
	else
		snprintf(msg, sizeof(msg), "%s: %s -> %s", tun->cfg.name,
			 nw_tunnel_status_name(prev), nw_tunnel_status_name(s));
	if (detail) {
		size_t l = strlen(msg);

		snprintf(msg + l, sizeof(msg) - l, " (%s)", detail);
	}
	if (turned || spell || s != prev)
		nw_tun_emit_state(tun, nw_tunnel_status_name(s),
				  spell ? "unknown" : nw_tunnel_status_name(prev), msg, NULL,
				  spell ? "ok" : NULL, NULL);
	if (turned)
		tun->inherit_pending = false;
	if (turned == 1)
		nw_tun_unit_down(tun, read_ns);
	else if (turned == -1)
		nw_tun_unit_up(tun);
	else if (tun->health.down)
		nw_tun_unit_sync(tun, true);
	else if (tun->inherit_pending &&
		 tun->health.good >= (tun->cfg.rise ? tun->cfg.rise : 2)) {
		/* an earlier netwardd started the unit while the tunnel was down;
		 * this one never saw it down: rise healthy answers are its recovery */
		tun->inherit_pending = false;
		nw_tun_unit_up(tun);
	}
}

void nw_tun_api_ok(struct tunnel *tun, const struct nw_cf_reply *r, uint64_t read_ns)
{
	tun->outcome = NW_CF_OK;
	tun->http_status = r->http_status;
	tun->last_error[0] = 0;
	tun->backoff_k = 0;
	tun->backoff_ms = 0;
	tun->backoff_until_ns = 0;
	tun->auth_alarm = false;
	nw_tun_answer(tun, r->status, "api", NULL, read_ns);
}

/* 5xx, transport: the next request after interval * 2^k (at most 60 s),
 * counted from this one's start so that it lands on a round */
static void back_off(struct tunnel *tun, uint64_t started_ns, char *msg, size_t size)
{
	uint64_t interval = tun->g->interval_ms, delay;

	if (tun->backoff_k < BACKOFF_K_MAX)
		tun->backoff_k++;
	delay = interval << tun->backoff_k;
	if (delay > NW_TUN_BACKOFF_MAX_MS)
		delay = NW_TUN_BACKOFF_MAX_MS > interval ? NW_TUN_BACKOFF_MAX_MS : interval;
	tun->backoff_ms = (uint32_t)delay;
	tun->backoff_until_ns = started_ns + delay * NW_TUN_MS - interval * NW_TUN_MS / 2;
	snprintf(msg, size, "%s: backing off: the next request in %llu ms", tun->cfg.name,
		 (unsigned long long)delay);
}

/* 429: no request with this token for Retry-After (default 300 s) */
static void block_token(struct tunnel *tun, uint32_t secs, char *msg, size_t size)
{
	struct tunnel_group *g = tun->g;
	uint64_t until = nw_tun_now() + (uint64_t)secs * 1000 * NW_TUN_MS;

	if (until > g->blocked_until_ns) {
		g->blocked_until_ns = until;
		g->blocked_until_s = (int64_t)(nw_now_ns(CLOCK_REALTIME) / 1000000000ull) + secs;
	}
	snprintf(msg, size, "%s: rate limited: token %s blocked for %u s (%u tunnel%s)",
		 tun->cfg.name, g->id, secs, g->n, g->n == 1 ? "" : "s");
}

void nw_tun_failed(struct tunnel *tun, const struct nw_cf_reply *r, uint64_t started_ns)
{
	const char *prev = tun->error_spell ? "unknown" : nw_tunnel_status_name(tun->status);
	char msg[256];

	tun->errors++;
	tun->answered = true;
	tun->outcome = r->outcome;
	tun->http_status = r->http_status;
	snprintf(tun->last_error, sizeof(tun->last_error), "%s", r->error);
	switch (r->outcome) {
	case NW_CF_RATE:
		block_token(tun, r->retry_after_s ? r->retry_after_s : NW_TUN_RATE_DEFAULT_S, msg,
			    sizeof(msg));
		break;
	case NW_CF_SERVER:
	case NW_CF_TRANSPORT:
		back_off(tun, started_ns, msg, sizeof(msg));
		break;
	case NW_CF_AUTH:
		snprintf(msg, sizeof(msg), "%s: token %s rejected: no failover on this answer",
			 tun->cfg.name, tun->g->id);
		if (tun->auth_alarm)
			return;
		tun->auth_alarm = true;
		tun->error_spell = true;
		tun->spell_outcome = r->outcome;
		nw_tun_emit_state(tun, "unknown", prev, msg, r->error,
				  nw_cf_outcome_name(r->outcome), "token rejected");
		return;
	default:
		snprintf(msg, sizeof(msg), "%s: the answer says nothing of the tunnel",
			 tun->cfg.name);
		break;
	}
	if (tun->error_spell && tun->spell_outcome == r->outcome)
		return;
	tun->error_spell = true;
	tun->spell_outcome = r->outcome;
	nw_tun_emit_state(tun, "unknown", prev, msg, r->error, nw_cf_outcome_name(r->outcome),
			  NULL);
}
