// SPDX-License-Identifier: GPL-2.0-only
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "churn.h"

#define RTM_NEWLINK 16
#define RTM_SETLINK 19
#define RTM_NEWADDR 20
#define RTM_DELADDR 21
#define RTM_NEWROUTE 24
#define RTM_DELROUTE 25
#define RTM_NEWRULE 32
#define RTM_DELRULE 33

enum kind { K_ROUTE, K_RULE, K_LINK, K_ADDR };

/* one request in the window */
struct entry {
	uint64_t ns;
	uint32_t actor;		/* index into actors */
	uint8_t kind;
};

struct nw_churn_window {
	uint32_t threshold;
	uint64_t window_ns;
	/* ring of entries, oldest at head */
	struct entry *ring;
	size_t cap, head, len;
	/* actors seen in the window; a slot whose counts drop to 0 is reused */
	struct nw_churn_actor *actors;
	uint32_t *refs;
	size_t n_actors, cap_actors;
	bool storm;
	uint64_t storms;
};

static enum kind kind_of(uint16_t type)
{
	switch (type) {
	case RTM_NEWROUTE: case RTM_DELROUTE: return K_ROUTE;
	case RTM_NEWRULE: case RTM_DELRULE: return K_RULE;
	case RTM_NEWADDR: case RTM_DELADDR: return K_ADDR;
	default: return K_LINK;
	}
}

static uint32_t *kind_count(struct nw_churn_actor *a, uint8_t k)
{
	switch (k) {
	case K_ROUTE: return &a->route;
	case K_RULE: return &a->rule;
	case K_ADDR: return &a->addr;
	default: return &a->link;
	}
}

int nw_churn_new(struct nw_churn_window **out, uint32_t threshold, uint32_t window_ms)
{
	struct nw_churn_window *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	nw_churn_configure(w, threshold, window_ms);
	*out = w;
	return 0;
}

void nw_churn_free(struct nw_churn_window *w)
{
	if (!w)
		return;
	free(w->ring);
	free(w->actors);
	free(w->refs);
	free(w);
}

void nw_churn_configure(struct nw_churn_window *w, uint32_t threshold, uint32_t window_ms)
{
	w->threshold = threshold ? threshold : 20;
	w->window_ns = (uint64_t)(window_ms ? window_ms : 1000) * 1000000ull;
}

static void expire(struct nw_churn_window *w, uint64_t now)
{
	while (w->len) {
		struct entry *e = &w->ring[w->head];

		if (now - e->ns < w->window_ns)
			break;
		(*kind_count(&w->actors[e->actor], e->kind))--;
		w->refs[e->actor]--;
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	if (w->storm && 2 * w->len < w->threshold)	/* below half: over (threshold 1: empty) */
		w->storm = false;
}

static int grow_ring(struct nw_churn_window *w)
{
	size_t cap = w->cap ? w->cap * 2 : 256;
	struct entry *r = malloc(cap * sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < w->len; i++)
		r[i] = w->ring[(w->head + i) % w->cap];
	free(w->ring);
	w->ring = r;
	w->cap = cap;
	w->head = 0;
	return 0;
}

/* An actor is a command in a cgroup (a service, a worker): a script that
 * runs `ip` a thousand times is one actor, named by its latest pid. */
static int actor_of(struct nw_churn_window *w, const struct nw_rtnl_request *r, uint32_t *idx)
{
	size_t free_slot = (size_t)-1;

	for (size_t i = 0; i < w->n_actors; i++) {
		if (!w->refs[i]) {
			if (free_slot == (size_t)-1)
				free_slot = i;
			continue;
		}
		if (w->actors[i].cgroup_id == r->hdr.cgroup_id && w->actors[i].uid == r->hdr.uid &&
		    !strncmp(w->actors[i].comm, r->hdr.comm, sizeof(w->actors[i].comm) - 1)) {
			w->actors[i].tgid = r->hdr.tgid;
			*idx = (uint32_t)i;
			return 0;
		}
	}
	if (free_slot == (size_t)-1) {
		if (w->n_actors == w->cap_actors) {
			size_t cap = w->cap_actors ? w->cap_actors * 2 : 16;
			struct nw_churn_actor *a = realloc(w->actors, cap * sizeof(*a));
			uint32_t *refs;

			if (!a)
				return -ENOMEM;
			w->actors = a;
			refs = realloc(w->refs, cap * sizeof(*refs));
			if (!refs)
				return -ENOMEM;
			w->refs = refs;
			w->cap_actors = cap;
		}
		free_slot = w->n_actors++;
	}
	memset(&w->actors[free_slot], 0, sizeof(w->actors[free_slot]));
	w->refs[free_slot] = 0;
	w->actors[free_slot].tgid = r->hdr.tgid;
	w->actors[free_slot].uid = r->hdr.uid;
	w->actors[free_slot].cgroup_id = r->hdr.cgroup_id;
	memcpy(w->actors[free_slot].comm, r->hdr.comm, sizeof(w->actors[free_slot].comm));
	w->actors[free_slot].comm[sizeof(w->actors[free_slot].comm) - 1] = 0;
	*idx = (uint32_t)free_slot;
	return 0;
}

int nw_churn_add(struct nw_churn_window *w, const struct nw_rtnl_request *r, uint64_t now_ns)
{
	struct entry *e;
	uint32_t idx;

	expire(w, now_ns);
	if ((w->len == w->cap && grow_ring(w)) || actor_of(w, r, &idx))
		return 0;	/* out of memory: this request goes uncounted */
	e = &w->ring[(w->head + w->len) % w->cap];
	e->ns = now_ns;
	e->actor = idx;
	e->kind = (uint8_t)kind_of(r->nlmsg_type);
	w->len++;
	w->refs[idx]++;
	(*kind_count(&w->actors[idx], e->kind))++;
	if (!w->storm && w->len >= w->threshold) {
		w->storm = true;
		w->storms++;
		return 1;
	}
	return 0;
}

uint32_t nw_churn_count(struct nw_churn_window *w, uint64_t now_ns)
{
	expire(w, now_ns);
	return (uint32_t)w->len;
}

bool nw_churn_in_storm(const struct nw_churn_window *w)
{
	return w->storm;
}

static uint32_t total(const struct nw_churn_actor *a)
{
	return a->route + a->rule + a->link + a->addr;
}

size_t nw_churn_top(struct nw_churn_window *w, struct nw_churn_actor *out, size_t max)
{
	size_t n = 0;

	/* insertion into a short sorted list: max is small */
	for (size_t i = 0; i < w->n_actors; i++) {
		size_t j;

		if (!w->refs[i])
			continue;
		for (j = n; j > 0 && total(&out[j - 1]) < total(&w->actors[i]); j--)
			if (j < max)
				out[j] = out[j - 1];
		if (j < max) {
			out[j] = w->actors[i];
			if (n < max)
				n++;
		}
	}
	return n;
}

static void actors_json(struct nw_churn_window *w, cJSON *arr)
{
	struct nw_churn_actor top[NW_CHURN_TOP];
	size_t n = nw_churn_top(w, top, NW_CHURN_TOP);

	for (size_t i = 0; i < n; i++) {
		cJSON *a = cJSON_CreateObject();

		cJSON_AddNumberToObject(a, "pid", top[i].tgid);
		cJSON_AddStringToObject(a, "comm", top[i].comm);
		cJSON_AddNumberToObject(a, "uid", top[i].uid);
		cJSON_AddNumberToObject(a, "cgroup_id", (double)top[i].cgroup_id);
		cJSON_AddNumberToObject(a, "count", total(&top[i]));
		cJSON_AddNumberToObject(a, "route", top[i].route);
		cJSON_AddNumberToObject(a, "rule", top[i].rule);
		cJSON_AddNumberToObject(a, "link", top[i].link);
		cJSON_AddNumberToObject(a, "addr", top[i].addr);
		cJSON_AddItemToArray(arr, a);
	}
}

void nw_churn_storm_json(struct nw_churn_window *w, cJSON *ev)
{
	cJSON_AddNumberToObject(ev, "count", (double)w->len);
	cJSON_AddNumberToObject(ev, "threshold", w->threshold);
	cJSON_AddNumberToObject(ev, "window_ms", (double)(w->window_ns / 1000000ull));
	actors_json(w, cJSON_AddArrayToObject(ev, "actors"));
}

void nw_churn_status(struct nw_churn_window *w, uint64_t now_ns, cJSON *out)
{
	cJSON_AddNumberToObject(out, "window_ms", (double)(w->window_ns / 1000000ull));
	cJSON_AddNumberToObject(out, "threshold", w->threshold);
	cJSON_AddNumberToObject(out, "in_window", nw_churn_count(w, now_ns));
	cJSON_AddNumberToObject(out, "storms", (double)w->storms);
	cJSON_AddBoolToObject(out, "in_storm", w->storm);
	actors_json(w, cJSON_AddArrayToObject(out, "top"));
}
