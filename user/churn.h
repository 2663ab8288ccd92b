/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Churn accounting: a sliding window over rtnetlink write requests (from the
 * BPF request events, so every one has its actor), per actor and per kind.
 * When storm_threshold requests fall within window_ms, one rule_storm event
 * names the top actors; the storm ends when the window holds fewer than half
 * the threshold. Pure: the caller passes the time.
 */
#ifndef NETWARD_CHURN_H
#define NETWARD_CHURN_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "netward/route_watch.h"

#define NW_CHURN_TOP 5

/* A command (comm) of a uid in a cgroup; tgid is its latest process. */
struct nw_churn_actor {
	uint32_t tgid;
	uint32_t uid;
	uint64_t cgroup_id;
	char comm[16];
	uint32_t route, rule, link, addr;	/* in the window */
};

struct nw_churn_window;

int nw_churn_new(struct nw_churn_window **out, uint32_t threshold, uint32_t window_ms);
void nw_churn_free(struct nw_churn_window *w);
/* New settings (reload); the window's content is kept. */
void nw_churn_configure(struct nw_churn_window *w, uint32_t threshold, uint32_t window_ms);

/* Accounts one request at now_ns. Returns 1 when this request starts a
 * storm (the caller raises rule_storm with nw_churn_storm_json), else 0. */
int nw_churn_add(struct nw_churn_window *w, const struct nw_rtnl_request *r, uint64_t now_ns);

/* Requests in the window at now_ns (old ones leave first). */
uint32_t nw_churn_count(struct nw_churn_window *w, uint64_t now_ns);
bool nw_churn_in_storm(const struct nw_churn_window *w);
/* The top actors of the window, most requests first; returns how many. */
size_t nw_churn_top(struct nw_churn_window *w, struct nw_churn_actor *out, size_t max);
/* Fills ev with count, threshold, window_ms and "actors": [...] */
void nw_churn_storm_json(struct nw_churn_window *w, cJSON *ev);
/* {"window_ms","threshold","in_window","storms","in_storm","top":[...]} */
void nw_churn_status(struct nw_churn_window *w, uint64_t now_ns, cJSON *out);

#endif
