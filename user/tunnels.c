// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tunnel poller's life cycle (see tunnels.h): tunnels grouped by token
 * (nw_secret_id), one round per group and effective interval (the
 * configured one, stretched so that the group stays within its token's
 * budget), a sliding window of the token's last requests that is never
 * exceeded, the gateway probe that pauses the rounds while it is silent,
 * and reloads that keep what each tunnel knows. Requests, answers, units
 * and status are in tunnel_*.c. ops->emit must not free or reconfigure the
 * poller (it is called from deep inside it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curl_event.h"
#include "log.h"
#include "probe.h"
#include "secret.h"
#include "sysbus.h"
#include "tunnels_impl.h"
#include "util.h"

#define WINDOW_NS ((uint64_t)NW_CF_BUDGET_WINDOW_S * 1000 * NW_TUN_MS)

uint64_t nw_tun_now(void)
{
	return nw_now_ns(CLOCK_MONOTONIC);
}

int nw_tunnel_health_feed(struct nw_tunnel_health *h, enum nw_tunnel_status s,
			  const struct nw_tunnel_cfg *c)
{
	uint32_t fall = c && c->fall ? c->fall : 2, rise = c && c->rise ? c->rise : 2;
	bool bad;

	switch (s) {
	case NW_TUNNEL_DOWN:
	case NW_TUNNEL_INACTIVE:
		bad = true;
		break;
	case NW_TUNNEL_DEGRADED:
		/* it still serves, unless the config says otherwise */
		bad = c && c->degraded_is_down;
		break;
	case NW_TUNNEL_HEALTHY:
		bad = false;
		break;
	default:
		return 0;
	}
	if (bad) {
		h->good = 0;
		if (h->bad < UINT32_MAX)
			h->bad++;
		if (!h->down && h->bad >= fall) {
			h->down = true;
			return 1;
		}
		return 0;
	}
	h->bad = 0;
	if (h->good < UINT32_MAX)
		h->good++;
	if (h->down && h->good >= rise) {
		h->down = false;
		return -1;
	}
	return 0;
}

/* --- the budget of a token ------------------------------------------------------ */

bool nw_tun_budget_take(struct tunnel_group *g, uint64_t now)
{
	if (now < g->blocked_until_ns)
		return false;
	if (g->ring_len < NW_CF_BUDGET_REQUESTS) {
		g->ring[(g->ring_head + g->ring_len++) % NW_CF_BUDGET_REQUESTS] = now;
		return true;
	}
	/* full: the oldest must have left the window */
	if (now - g->ring[g->ring_head] < WINDOW_NS)
		return false;
	g->ring[g->ring_head] = now;
	g->ring_head = (g->ring_head + 1) % NW_CF_BUDGET_REQUESTS;
	return true;
}

unsigned nw_tun_budget_used(const struct tunnel_group *g, uint64_t now)
{
	unsigned n = 0;

	for (size_t i = 0; i < g->ring_len; i++)
		if (now - g->ring[(g->ring_head + i) % NW_CF_BUDGET_REQUESTS] < WINDOW_NS)
			n++;
	return n;
}

/* --- gateway and rounds ----------------------------------------------------------- */

enum tunnel_gw nw_tun_gateway(struct nw_tunnels *t)
{
	const struct nw_probe_state *st;

	if (!t->has_gateway)
		return TUNNEL_GW_NONE;
	if (!t->gw || !(st = nw_probes_state(t->gw, 0)) || !st->known)
		return TUNNEL_GW_UNKNOWN;
	return st->up ? TUNNEL_GW_ANSWERS : TUNNEL_GW_SILENT;
}

static void round_run(struct tunnel_group *g)
{
	struct nw_tunnels *t = g->t;
	enum tunnel_gw gw = nw_tun_gateway(t);
	uint64_t now = nw_tun_now();

	g->rounds++;
	if (gw == TUNNEL_GW_SILENT) {
		for (size_t i = 0; i < t->n; i++)
			if (t->tun[i]->g == g)
				t->tun[i]->skipped++;
		if (!t->gw_noted) {
			t->gw_noted = true;
			nw_tun_note(t, "tunnels: gateway %s is silent: tunnel polls pause, and no "
				    "backup unit starts, until it answers", t->gateway_text);
		}
		return;
	}
	if (t->gw_noted && gw == TUNNEL_GW_ANSWERS) {
		t->gw_noted = false;
		log_notice("tunnels: gateway %s answers again: tunnel polls resume",
			   t->gateway_text);
	}
	for (size_t i = 0; i < t->n; i++) {
		struct tunnel *tun = t->tun[i];

		if (tun->g != g)
			continue;
		tun->refresh_due = true;
		nw_tun_poll(tun, now);
		nw_tun_unit_sync(tun, true);
	}
}

static int on_round(sd_event_source *s, uint64_t usec, void *ud)
{
	struct tunnel_group *g = ud;
	uint64_t next = usec + (uint64_t)g->interval_ms * 1000, now_us = nw_tun_now() / 1000;

	/* a late loop does not make a burst of rounds */
	if (next <= now_us)
		next = now_us + (uint64_t)g->interval_ms * 1000;
	(void)sd_event_source_set_time(s, next);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ON);
	round_run(g);
	return 0;
}

/* --- tunnels and groups ---------------------------------------------------------------- */

static void tunnel_free(struct tunnel *tun)
{
	if (!tun)
		return;
	nw_tun_xfer_cancel(tun);
	nw_tun_unit_cancel(tun);
	nw_secret_free(tun->token);
	free(tun->cfg.ready_url);
	free(tun);
}

static void group_free(struct tunnel_group *g)
{
	if (!g)
		return;
	sd_event_source_disable_unref(g->timer);
	free(g);
}

static struct tunnel_group *group_find(struct tunnel_group **groups, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(groups[i]->id, id))
			return groups[i];
	return NULL;
}

static int group_new(struct nw_tunnels *t, const char *id, struct tunnel_group **out)
{
	struct tunnel_group *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return -ENOMEM;
	g->t = t;
	snprintf(g->id, sizeof(g->id), "%s", id);
	/* armed when committed */
	if ((err = sd_event_add_time(t->e, &g->timer, CLOCK_MONOTONIC, 0, 1000, on_round, g)) < 0 ||
	    (err = sd_event_source_set_enabled(g->timer, SD_EVENT_OFF)) < 0) {
		group_free(g);
		return err;
	}
	*out = g;
	return 0;
}

static struct tunnel *tunnel_find(struct nw_tunnels *t, const char *tunnel_id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tun[i] && !strcmp(t->tun[i]->cfg.tunnel_id, tunnel_id))
			return t->tun[i];
	return NULL;
}

/* --- applying a configuration ------------------------------------------------------------ */

/* What a configuration needs, made before anything changes. */
struct plan {
	struct tunnel **tun;		/* kept or new */
	bool *fresh;			/* tun[i] is new */
	char **urls;			/* ready_url copies */
	struct tunnel_group **groups;	/* kept or new */
	bool *gfresh;
	size_t n, n_groups;
	char *api_base;
	struct nw_probes *gw;		/* a new gateway probe, NULL: keep (or none) */
	bool gw_replace;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->fresh && p->fresh[i])
			free(p->tun[i]);
		if (p->urls)
			free(p->urls[i]);
	}
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->gfresh[i])
			group_free(p->groups[i]);
	nw_probes_free(p->gw);
	free(p->api_base);
	free(p->tun);
	free(p->fresh);
	free(p->urls);
	free(p->groups);
	free(p->gfresh);
	memset(p, 0, sizeof(*p));
}

static int gateway_af(uint8_t family)
{
	return family == 6 || family == AF_INET6 ? AF_INET6 : AF_INET;
}

static bool gateway_same(const struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg)
{
	return t->gw && cfg->has_gateway && t->has_gateway &&
	       t->gateway_family == cfg->gateway_family &&
	       !memcmp(t->gateway, cfg->gateway, sizeof(t->gateway)) &&
	       t->interval_ms == cfg->interval_ms;
}

/* one icmp probe of role gateway at the tunnels' interval */
static int gateway_probe(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg,
			 struct nw_probes **out)
{
	struct nw_probe_cfg pc = { 0 };
	char text[INET6_ADDRSTRLEN] = "";
	int af = gateway_af(cfg->gateway_family);

	snprintf(pc.name, sizeof(pc.name), "tunnels-gateway");
	pc.type = NW_PROBE_ICMP;
	pc.role = NW_ROLE_GATEWAY;
	pc.family = (uint8_t)af;
	memcpy(pc.addr, cfg->gateway, sizeof(pc.addr));
	inet_ntop(af, cfg->gateway, text, sizeof(text));
	pc.target = text;
	pc.interval_ms = cfg->interval_ms;
	pc.timeout_ms = cfg->interval_ms / 2 < 1000 ? cfg->interval_ms / 2 : 1000;
	return nw_probes_new(out, t->e, &pc, 1, NULL, NULL);
}

static int plan_make(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg,
		     struct nw_secret **tokens, struct plan *p)
{
	size_t n = cfg->n_watch;
	int err = -ENOMEM;

	if (n > NW_TUNNELS_MAX || (n && !cfg->watch))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!tokens || !tokens[i] || !nw_secret_id(tokens[i]))
			return -EINVAL;
		/* each tunnel is one; the config says so already */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->watch[i].tunnel_id, cfg->watch[j].tunnel_id))
				return -EINVAL;
	}
	if (!(p->tun = calloc(n + 1, sizeof(*p->tun))) || !(p->fresh = calloc(n + 1, 1)) ||
	    !(p->urls = calloc(n + 1, sizeof(*p->urls))) ||
	    !(p->groups = calloc(n + 1, sizeof(*p->groups))) || !(p->gfresh = calloc(n + 1, 1)))
		return -ENOMEM;
	if (cfg->api_base && !(p->api_base = strdup(cfg->api_base)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct nw_tunnel_cfg *c = &cfg->watch[i];
		const char *id = nw_secret_id(tokens[i]);

		p->n = i + 1;	/* what plan_free undoes */

		if (c->ready_url && !(p->urls[i] = strdup(c->ready_url)))
			return -ENOMEM;
		if (!(p->tun[i] = tunnel_find(t, c->tunnel_id))) {
			if (!(p->tun[i] = calloc(1, sizeof(**p->tun))))
				return -ENOMEM;
			p->fresh[i] = true;
		}
		if (group_find(p->groups, p->n_groups, id))
			continue;
		if ((p->groups[p->n_groups] = group_find(t->groups, t->n_groups, id))) {
			p->n_groups++;
			continue;
		}
		if ((err = group_new(t, id, &p->groups[p->n_groups])) < 0)
			return err;
		p->gfresh[p->n_groups++] = true;
	}
	if (cfg->has_gateway && !gateway_same(t, cfg) && (err = gateway_probe(t, cfg, &p->gw)) < 0)
		return err;
	p->gw_replace = !cfg->has_gateway || p->gw;
	return 0;
}

/* the tunnel's configuration; what it knew stays unless its unit changed */
static void tunnel_set(struct nw_tunnels *t, struct tunnel *tun, bool fresh,
		       const struct nw_tunnel_cfg *c, char *url, struct nw_secret *token)
{
	bool unit_changed = !fresh && strcmp(tun->cfg.service, c->service);

	if (fresh) {
		tun->t = t;
		tun->ready_conns = -1;
	}
	free(tun->cfg.ready_url);
	nw_secret_free(tun->token);
	tun->cfg = *c;
	tun->cfg.token_file = NULL;
	tun->cfg.ready_url = url;
	tun->token = token;
	tun->keep = true;
	if (unit_changed) {
		/* another unit: what netward knew of the old one does not apply */
		nw_tun_unit_cancel(tun);
		tun->unit_state = NW_UNIT_UNKNOWN;
		tun->started_by_netward = false;
		tun->inherited = false;
		tun->inherit_pending = false;
		tun->unit_started[0] = 0;
		tun->stop_pending = false;
		tun->no_bus_reported = false;
		tun->unit_error[0] = 0;
	}
}

/* http://127.x.y.z, http://localhost, http://[::1], with a port or a path */
static bool loopback_host(const char *url)
{
	const char *h = url + strlen("http://");
	size_t n;

	if (!strncmp(h, "[::1]", 5))
		return strchr(":/", h[5]) != NULL;
	n = strcspn(h, ":/");
	if (n == 9 && !strncmp(h, "localhost", 9))
		return true;
	if (n < 7 || strncmp(h, "127.", 4))
		return false;
	return strspn(h, "0123456789.") >= n;
}

static void warn_clear(const char *old, const char *api_base)
{
	if (!api_base || strncmp(api_base, "http://", 7) || loopback_host(api_base))
		return;
	if (old && !strcmp(old, api_base))
		return;		/* said already */
	log_notice("tunnels: api_base %s is plain http: the token would travel in clear",
		   api_base);
}

static void group_arm(struct tunnel_group *g, bool fresh, uint32_t old_interval)
{
	uint64_t now_us = nw_tun_now() / 1000, at = now_us, cur = 0;

	if (!fresh && g->interval_ms == old_interval)
		return;
	/* a changed interval counts from the round that was planned */
	if (!fresh && sd_event_source_get_time(g->timer, &cur) >= 0 && cur > now_us) {
		at = cur - (uint64_t)old_interval * 1000 + (uint64_t)g->interval_ms * 1000;
		if (at < now_us)
			at = now_us;
	}
	(void)sd_event_source_set_time(g->timer, at);
	(void)sd_event_source_set_enabled(g->timer, SD_EVENT_ON);
}

static void plan_commit(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg,
			struct nw_secret **tokens, struct plan *p)
{
	uint32_t old_interval[NW_TUNNELS_MAX];

	for (size_t i = 0; i < t->n; i++)
		t->tun[i]->keep = false;
	for (size_t i = 0; i < t->n_groups; i++)
		t->groups[i]->keep = false;
	for (size_t i = 0; i < p->n_groups; i++) {
		old_interval[i] = p->groups[i]->interval_ms;
		p->groups[i]->n = 0;
		p->groups[i]->keep = true;
	}
	for (size_t i = 0; i < p->n; i++) {
		tunnel_set(t, p->tun[i], p->fresh[i], &cfg->watch[i], p->urls[i], tokens[i]);
		tokens[i] = NULL;
		p->urls[i] = NULL;
		p->tun[i]->g = group_find(p->groups, p->n_groups, nw_secret_id(p->tun[i]->token));
		p->tun[i]->g->n++;
	}
	for (size_t i = 0; i < t->n; i++)
		if (!t->tun[i]->keep)
			tunnel_free(t->tun[i]);
	for (size_t i = 0; i < t->n_groups; i++)
		if (!t->groups[i]->keep)
			group_free(t->groups[i]);
	free(t->tun);
	free(t->groups);
	t->tun = p->tun;
	t->n = p->n;
	t->groups = p->groups;
	t->n_groups = p->n_groups;
	p->tun = NULL;
	p->groups = NULL;

	warn_clear(t->api_base, p->api_base);
	free(t->api_base);
	t->api_base = p->api_base;
	p->api_base = NULL;
	t->interval_ms = cfg->interval_ms;
	t->dry_run = cfg->dry_run;
	t->timeout_ms = cfg->timeout_ms;
	if (p->gw_replace) {
		nw_probes_free(t->gw);
		t->gw = p->gw;
		p->gw = NULL;
		t->gw_noted = false;
	}
	t->has_gateway = cfg->has_gateway;
	t->gateway_family = cfg->gateway_family;
	memcpy(t->gateway, cfg->gateway, sizeof(t->gateway));
	t->gateway_text[0] = 0;
	if (t->has_gateway)
		inet_ntop(gateway_af(t->gateway_family), t->gateway, t->gateway_text,
			  sizeof(t->gateway_text));

	for (size_t i = 0; i < t->n_groups; i++) {
		struct tunnel_group *g = t->groups[i];

		g->interval_ms = nw_cf_budget_interval_ms(cfg->interval_ms, g->n);
		if (g->interval_ms > cfg->interval_ms && g->interval_ms != old_interval[i])
			log_notice("tunnels: token %s %s %u tunnel%s: polling every %u ms to stay "
				   "within %u requests per %u minutes", g->id,
				   g->n > 1 ? "is shared by" : "polls", g->n, g->n > 1 ? "s" : "",
				   g->interval_ms, NW_CF_BUDGET_REQUESTS,
				   NW_CF_BUDGET_WINDOW_S / 60);
		group_arm(g, p->gfresh[i], old_interval[i]);
	}
	/* what the backup units are, before they may be needed */
	for (size_t i = 0; i < t->n; i++)
		if (p->fresh[i])
			nw_tun_unit_query(t->tun[i]);
}

static int apply(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg, struct nw_secret **tokens)
{
	struct plan p = { 0 };
	int err;

	if ((err = plan_make(t, cfg, tokens, &p)) < 0)
		goto cleanup;
	plan_commit(t, cfg, tokens, &p);
	/* the new tunnels and groups are t's now */
	memset(p.fresh, 0, p.n);
	memset(p.gfresh, 0, p.n_groups);
	/* a tunnel that left, or whose unit changed, has no claim any more */
	nw_tun_state_sync(t);
cleanup:
	plan_free(&p);
	for (size_t i = 0; tokens && i < cfg->n_watch; i++) {
		nw_secret_free(tokens[i]);
		tokens[i] = NULL;
	}
	return err;
}

int nw_tunnels_new(struct nw_tunnels **out, sd_event *e, uint32_t netns,
		   const struct nw_tunnels_cfg *cfg, struct nw_secret **tokens,
		   const struct nw_tunnels_ops *ops, void *ud)
{
	struct nw_tunnels *t = NULL;
	int err;

	if (!out || !e || !cfg) {
		err = -EINVAL;
		goto cleanup;
	}
	if (!(t = calloc(1, sizeof(*t)))) {
		err = -ENOMEM;
		goto cleanup;
	}
	t->e = sd_event_ref(e);
	t->netns = netns;
	if (ops)
		t->ops = *ops;
	t->ud = ud;
	if ((err = nw_curl_new(&t->curl, e)) < 0)
		goto cleanup;
	/* no bus is no failure: failover is reported as impossible */
	if ((t->bus_err = nw_sysbus_open(e, &t->bus)) < 0) {
		t->bus = NULL;
		log_warn("tunnels: no system bus (%s): backup units cannot be started",
			 strerror(-t->bus_err));
	}
	if ((err = apply(t, cfg, tokens)) < 0) {
		tokens = NULL;	/* apply freed them */
		goto cleanup;
	}
	/* the units an earlier netwardd started are claimed again */
	nw_tun_state_restore(t, cfg->state_dir);
	*out = t;
	return 0;
cleanup:
	for (size_t i = 0; tokens && cfg && i < cfg->n_watch; i++) {
		nw_secret_free(tokens[i]);
		tokens[i] = NULL;
	}
	nw_tunnels_free(t);
	return err;
}

int nw_tunnels_reconfigure(struct nw_tunnels *t, const struct nw_tunnels_cfg *cfg,
			   struct nw_secret **tokens)
{
	if (!t || !cfg) {
		for (size_t i = 0; tokens && cfg && i < cfg->n_watch; i++) {
			nw_secret_free(tokens[i]);
			tokens[i] = NULL;
		}
		return -EINVAL;
	}
	return apply(t, cfg, tokens);
}

void nw_tunnels_free(struct nw_tunnels *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		tunnel_free(t->tun[i]);
	for (size_t i = 0; i < t->n_groups; i++)
		group_free(t->groups[i]);
	free(t->tun);
	free(t->groups);
	nw_probes_free(t->gw);
	nw_curl_free(t->curl);
	/* StartUnit/StopUnit requests already sent still go out */
	sd_bus_flush_close_unref(t->bus);
	sd_event_unref(t->e);
	free(t->api_base);
	/* nothing is written: the claims outlive this netwardd */
	nw_tun_state_free(t);
	free(t);
}
