/* SPDX-License-Identifier: GPL-2.0-only */
/* Loads bpf/route_watch.bpf.c: the rtnetlink request tracepoints (or the
 * fexit variants where the kernel allows them) and the fib lookup ones. */
#ifndef NETWARD_USER_ROUTE_WATCH_H
#define NETWARD_USER_ROUTE_WATCH_H

#include <stdbool.h>
#include <cjson/cJSON.h>

struct nw_route_watch;

/* 1 when this kernel loads and attaches fexit programs, 0 when not. */
int nw_fexit_supported(void);

/* Loads with the pinned shared maps of pin_dir; use_fexit picks the path for
 * route and rule changes. */
int nw_route_watch_load(struct nw_route_watch **out, const char *pin_dir, bool use_fexit);
int nw_route_watch_attach(struct nw_route_watch *w);
/* {"path": "fexit"|"tracepoint", "programs": [...]} */
void nw_route_watch_status(const struct nw_route_watch *w, cJSON *out);
bool nw_route_watch_adopted(const struct nw_route_watch *w);
/* detach: unpin the links (the maps are shared, see nw_bind_guard_destroy) */
void nw_route_watch_destroy(struct nw_route_watch *w, bool detach);

#endif
