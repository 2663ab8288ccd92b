/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The stability barrier (netwardctl wait-stable): remembers when the
 * namespace last saw a route, rule, link or address change, and answers
 * waiters once it has been quiet for their window, or at their timeout.
 *
 * Every waiter has its own sd-event timer (CLOCK_MONOTONIC, accuracy 1 us)
 * due at min(last change + quiet, start + timeout). A change only records
 * its time (O(1), however many waiters there are); a waiter whose timer
 * fires before its window is over re-arms it to the new end of the window.
 * The answer therefore comes when the window ends, not up to a timer slack
 * later.
 */
#ifndef NETWARD_STABILITY_H
#define NETWARD_STABILITY_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#define NW_STABILITY_NO_TIMEOUT UINT64_MAX

struct nw_stability;
struct nw_stability_waiter;

/* stable: the namespace has been quiet for the waiter's window (false: the
 * timeout came first). waited_ns: since nw_stability_wait. quiet_ns: time
 * since the last change when answering (>= the window when stable).
 * Called from the event loop, never from within nw_stability_wait; the
 * waiter is gone once it returns (do not cancel it, from the callback or
 * later). */
typedef void (*nw_stability_cb)(void *ud, bool stable, uint64_t waited_ns, uint64_t quiet_ns);

/* start_ns (CLOCK_MONOTONIC) counts as the last change: what happened
 * before is not known, so a daemon that has just started is not quiet yet. */
int nw_stability_new(struct nw_stability **out, sd_event *e, uint64_t start_ns);
/* Frees pending waiters without calling their callbacks. NULL is fine. */
void nw_stability_free(struct nw_stability *s);

/* The network changed now (CLOCK_MONOTONIC). */
void nw_stability_changed(struct nw_stability *s);
/* The same at a given CLOCK_MONOTONIC time (not before the previous one). */
void nw_stability_changed_at(struct nw_stability *s, uint64_t mono_ns);

/* Calls cb once the namespace has seen no change for quiet_ns (> 0), or
 * with stable=false once timeout_ns has passed since this call
 * (NW_STABILITY_NO_TIMEOUT: never). Already quiet: cb runs on the next
 * loop iteration, without waiting. A timeout shorter than the window can
 * only give false, unless the namespace is quiet already. *handle (may be
 * NULL) is for nw_stability_cancel. 0 or -errno (cb will not be called). */
int nw_stability_wait(struct nw_stability *s, uint64_t quiet_ns, uint64_t timeout_ns,
		      nw_stability_cb cb, void *ud, struct nw_stability_waiter **handle);
/* The waiter's client went away: no callback. Only before the callback
 * ran; NULL is fine. */
void nw_stability_cancel(struct nw_stability_waiter *w);

/* Time since the last change. */
uint64_t nw_stability_quiet_ns(const struct nw_stability *s);
uint64_t nw_stability_changes(const struct nw_stability *s);
unsigned nw_stability_waiters(const struct nw_stability *s);
/* {"last_change_ago_ms", "changes", "waiters", "answered_stable",
 *  "answered_timeout", "cancelled"} into out */
void nw_stability_status(const struct nw_stability *s, cJSON *out);

#endif
