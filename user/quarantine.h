/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Quarantine, netwardd's side. Where lsm/netlink_send is not available the
 * kernel side kills a writer from a quarantined cgroup at syscall entry, but
 * its request still runs (a signal cannot stop that syscall). This module
 * undoes it: every killed request waits here (about a second) for the
 * notification of the change it made, seen on its own rtnetlink monitor
 * socket (route, rule, address and link groups, v4 and v6), and the change
 * is reverted from the notification's own contents:
 *
 *   RTM_NEWRULE  -> RTM_DELRULE with that payload    RTM_DELRULE  -> RTM_NEWRULE
 *   RTM_NEWROUTE -> RTM_DELROUTE                     RTM_DELROUTE -> RTM_NEWROUTE
 *   RTM_NEWADDR  -> RTM_DELADDR                      RTM_DELADDR  -> RTM_NEWADDR
 *   RTM_NEWLINK that created a link -> RTM_DELLINK by index
 *   RTM_NEWLINK/SETLINK that took a link up or down -> the other way back
 *
 * Re-adds use NLM_F_CREATE|NLM_F_EXCL: EEXIST means somebody (the route
 * guard) already put it back. A deleted link cannot be re-created: reported.
 * Each killed writer raises a `quarantined` event (action "killed"), and
 * each request a follow-up with the outcome ("reverted": true/false).
 */
#ifndef NETWARD_QUARANTINE_H
#define NETWARD_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>
#include <linux/netlink.h>

#include "netward/route_watch.h"

/* nw_rtnl_request.quarantined */
/* NW_QUARANTINE_KILLED, _DENIED, _WOULD_KILL: include/netward/route_watch.h */

struct nw_quarantine_cfg {
	/* how quarantine is enforced, for status: "lsm" | "tracepoint-kill"
	 * (nw_route_watch_quarantine_path()); NULL = "tracepoint-kill" */
	const char *path;
	const char *pin_dir;	/* status lists the pinned map's entries; NULL: no list */
	const char *cg_mount;	/* status names the entries' cgroups; NULL: ids only */
	bool dry_run;		/* report what would be reverted, revert nothing */
	uint32_t window_ms;	/* how long a killed request waits for its change; 0 = 1000 */
	int rcvbuf;		/* monitor socket receive buffer; 0 = 4 MiB */
};

struct nw_quarantine_ops {
	/* `quarantined` events (type NW_EV_QUARANTINED); the module owns ev
	 * and frees it after the call. The actor is named by cgroup_id. */
	void (*emit)(void *ud, unsigned type, cJSON *ev);
	/* Optional: called before a batch of notifications is handled, so
	 * that the daemon consumes the BPF ring buffer first and the killed
	 * requests are known (they were submitted before the change was made).
	 * Without it, notifications are kept about a second for requests
	 * that come later. */
	void (*drain_requests)(void *ud);
};

struct nw_quarantine;

/* cfg may be NULL (defaults). Opens the monitor socket and a request socket
 * in the caller's network namespace. */
int nw_quarantine_new(struct nw_quarantine **out, sd_event *e, const struct nw_quarantine_cfg *cfg,
		      const struct nw_quarantine_ops *ops, void *ud);
/* A request event from the kernel side: only those with r->quarantined are
 * acted on (others return at once). */
void nw_quarantine_note_request(struct nw_quarantine *q, const struct nw_rtnl_request *r);
/* {"path", "dry_run", "entries":[{"cgroup","cgroup_id","flags"}], "kills",
 *  "denied", "reverted", "revert_failures", "not_revertible", "unmatched",
 *  "pending", "enobufs"} */
void nw_quarantine_status(struct nw_quarantine *q, cJSON *out);
void nw_quarantine_free(struct nw_quarantine *q);

/* --- the pure parts, exported for unit tests ---------------------------- */

/* "RTM_NEWRULE", ..., or "RTM_<number>" into buf */
const char *nw_rtm_name(uint16_t type, char buf[16]);

/* Is the notification nlh the change request r made? Same kind (a
 * NEWRULE request and a NEWRULE notification, a NEWLINK or SETLINK and a
 * NEWLINK ...), same family, the sequence number of the request when the
 * notification names a requester (nlmsg_pid != 0), and every field the
 * request gave: table, priority, dst/len, fwmark, uid range, action for
 * rules; table (0 = main), dst/len, metric, gateway, device for routes;
 * device and address for addresses; device for links. */
bool nw_quarantine_match(const struct nw_rtnl_request *r, const struct nlmsghdr *nlh);

/* The request that undoes the change notified by nlh, built into buf:
 * 0 and *out, -EOPNOTSUPP when it cannot be undone (a deleted link, a link
 * change other than up/down), -EBADMSG malformed, -E2BIG buf too small.
 * *readd tells a re-add (EEXIST then means it is already back). */
int nw_quarantine_revert_msg(const struct nlmsghdr *nlh, void *buf, size_t size,
			     struct nlmsghdr **out, bool *readd);

#endif
