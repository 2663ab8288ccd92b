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

/* 1 when this kernel loads and attaches BPF LSM programs (lsm/netlink_send),
 * 0 when not (not built in, not in the active LSMs, or refused). */
int nw_lsm_supported(void);

/* Loads with the pinned shared maps of pin_dir; use_fexit picks the path for
 * route and rule changes. */
int nw_route_watch_load(struct nw_route_watch **out, const char *pin_dir, bool use_fexit);
/* The same; use_lsm (from nw_lsm_supported()) loads lsm_netlink_send too:
 * quarantined cgroups' write requests are then refused with EPERM instead
 * of their writers being killed. Falls back to the tracepoint path when the
 * LSM program does not load, or (in attach) does not attach. */
int nw_route_watch_load2(struct nw_route_watch **out, const char *pin_dir, bool use_fexit,
			 bool use_lsm);
int nw_route_watch_attach(struct nw_route_watch *w);
/* How quarantine is enforced once attached: "lsm" (EPERM, nothing changes)
 * or "tracepoint-kill" (SIGKILL at syscall entry, netwardd reverts). */
const char *nw_route_watch_quarantine_path(const struct nw_route_watch *w);
/* {"path": "fexit"|"tracepoint", "quarantine_path": "lsm"|"tracepoint-kill",
 *  "programs": [...]} */
void nw_route_watch_status(const struct nw_route_watch *w, cJSON *out);
bool nw_route_watch_adopted(const struct nw_route_watch *w);
/* detach: unpin the links (the maps are shared, see nw_bind_guard_destroy) */
void nw_route_watch_destroy(struct nw_route_watch *w, bool detach);

#endif
