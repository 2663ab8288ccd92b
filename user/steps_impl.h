/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the recovery steps (recovery_steps.c and user/step_*.c): one run
 * of one step, its deadline and completion, and what the steps share:
 * the netlink worker thread (step_worker.c), asynchronous bus calls and
 * the "a, b, c" lists of the details. Not a public interface.
 *
 * A run lives from nw_steps_start until its done callback has returned.
 * step_complete() ends it: the step's own cleanup runs at once (event
 * sources, bus slots and the worker socket are released, so nothing of
 * the step fires any more) and done is called from a deferred event
 * source, never from inside nw_steps_start or a step's own callback.
 */
#ifndef NETWARD_STEPS_IMPL_H
#define NETWARD_STEPS_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "recovery.h"
#include "recovery_steps.h"
#include "rtnl.h"

#define STEP_SLOTS_MAX 32		/* bus calls in flight in one step */
#define STEP_VPN_TABLES_MAX 64		/* tables remembered as VPN-owned */
#define STEP_BUS_PROBE_MS 250	/* NameHasOwner: a synchronous call, kept short */
#define STEP_DUMP_MS 1000		/* one dump from the loop, at most */

struct step_run;

struct step_impl {
	/* Starts the work: completes r at once (step_complete) or sets up
	 * what will. A negative return completes r as FAILED, with the
	 * errno text unless a detail was written. */
	int (*start)(struct step_run *r);
	/* The deadline passed: fill leftover and complete, or arrange to
	 * complete soon (renew_dhcp's SIGTERM, then SIGKILL). NULL: TIMEOUT,
	 * "no answer within N ms". */
	void (*timeout)(struct step_run *r);
	/* Releases what start set up (r->priv); called exactly once, when r
	 * completes or is abandoned by nw_steps_free. May be NULL. */
	void (*cleanup)(struct step_run *r);
};

extern const struct step_impl nw_step_restore_routes_impl;
extern const struct step_impl nw_step_flush_neighbour_impl;
extern const struct step_impl nw_step_restore_dns_impl;
extern const struct step_impl nw_step_remove_vpn_impl;
extern const struct step_impl nw_step_remove_stale_impl;
extern const struct step_impl nw_step_bounce_impl;
extern const struct step_impl nw_step_renew_dhcp_impl;
extern const struct step_impl nw_step_kill_owner_impl;
extern const struct step_impl nw_step_reboot_impl;

struct nw_steps {
	struct nw_steps_env env;
	struct step_run *run;		/* NULL: idle */
	struct nw_rtnl *nl;		/* dumps from the loop */
	/* tables whose every route used an interface remove_vpn_interfaces
	 * deleted: remove_stale removes the rules that still look them up
	 * once they are empty */
	uint32_t vpn_tables[STEP_VPN_TABLES_MAX];
	size_t n_vpn_tables;
};

/* The loop's end of a netlink worker (step_worker.c). */
typedef void (*nlw_result_fn)(struct step_run *r, unsigned op, int err, const char *ext);
typedef void (*nlw_end_fn)(struct step_run *r);

struct nlw_conn {
	int fd;				/* -1: none */
	sd_event_source *src;
	size_t n_ops, n_results;
	nlw_result_fn on_result;
	nlw_end_fn on_end;		/* every op answered, or the worker ended early */
};

struct step_run {
	struct nw_steps *s;
	unsigned step;
	const struct step_impl *impl;
	nw_step_done_fn done;
	void *done_ud;
	/* what the run uses, taken at its start: nw_steps_set_env during the
	 * run changes nothing for it */
	sd_event *e;
	sd_bus *bus;			/* a reference, NULL without a bus */
	struct nw_recovery_cfg cfg;	/* a deep copy */
	bool dry_run;
	uint32_t timeout_ms;
	char main_if[IF_NAMESIZE];	/* "" none */
	uint64_t start_us, deadline_us;	/* CLOCK_MONOTONIC */
	sd_event_source *deadline, *defer;
	bool completed;
	struct nw_step_outcome out;
	sd_bus_slot *slots[STEP_SLOTS_MAX];
	size_t n_slots;
	struct nlw_conn nlw;
	void *priv;			/* the step's own state */
};

/* --- recovery_steps.c -------------------------------------------------------- */

/* Ends r with res (detail/leftover as written so far). Idempotent. */
void step_complete(struct step_run *r, enum nw_step_result res);
/* Writes the detail (replacing it) / the leftover, printf-style. */
void step_detail(struct step_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void step_leftover(struct step_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one item to a "a, b, c" list in buf; "..." once it is full. */
void step_list_add(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Milliseconds left before the deadline (0 when past it). */
uint64_t step_remaining_ms(const struct step_run *r);
uint64_t step_elapsed_ms(const struct step_run *r);
/* The timeout of one dump from the loop: STEP_DUMP_MS, or less near the
 * deadline (never under 100 ms: a dump is how a step learns anything). */
int step_dump_ms(const struct step_run *r);
uint64_t step_now_us(void);

/* NameHasOwner on the run's bus, bounded by STEP_BUS_PROBE_MS and the
 * deadline; false without a bus. */
bool step_bus_has(struct step_run *r, const char *name);
/* An asynchronous method call whose reply goes to cb(m, ud), with the
 * time left before the deadline as its timeout; the slot is released
 * when r completes (cb is then never called). 0 or -errno. */
int step_bus_call(struct step_run *r, sd_bus_message_handler_t cb, void *ud, const char *dest,
		  const char *path, const char *iface, const char *member, const char *types, ...);
/* The error of a method reply as text ("" when it is not an error). */
const char *step_bus_error(sd_bus_message *m);

/* Links of the namespace (RTM_GETLINK dump from the loop), for which
 * keep(r, link) is true, into a malloc'ed array. Count or -errno. */
int step_dump_links(struct step_run *r, bool (*keep)(struct step_run *r, const struct nw_link *l),
		    struct nw_link **out);

/* --- step_worker.c ----------------------------------------------------------- */

/* A netlink worker job: ops run one after the other in a thread with its
 * own socket; each op is one or two requests, answered together. */
#define NLW_OP_MSGS 2
#define NLW_FIRST_BEST_EFFORT 0x1	/* only -ENODEV of the first request ends the op */
#define NLW_FAULT_DELAY 0x2		/* NETWARD_FAULT_LINK_DEL_DELAY_MS applies */

struct nlw_job;

int nlw_job_new(struct nlw_job **out, size_t n_ops);
void nlw_job_free(struct nlw_job *j);
/* Appends a copy of nlh to op (at most NLW_OP_MSGS each). */
int nlw_job_add(struct nlw_job *j, size_t op, const struct nlmsghdr *nlh, unsigned flags);
void nlw_job_set_delay(struct nlw_job *j, unsigned delay_ms);
/* Starts the thread on j (always taken, freed by the thread or here).
 * Each op's answer goes to on_result from the loop; on_end once all are
 * in or the thread ended early. Either may complete r. When r completes
 * first, the loop closes its end: the thread starts no further op and
 * frees everything it owns when its current request returns. 0 or
 * -errno (detail written). */
int nlw_start(struct step_run *r, struct nlw_job *j, nlw_result_fn on_result, nlw_end_fn on_end);
/* The loop's end, closed (step_complete and abandonment do it). */
void nlw_close(struct nlw_conn *c);
/* Requests as the worker sends them. */
struct nlmsghdr *nlw_link_flags(void *buf, size_t size, int ifindex, unsigned flags,
				unsigned change);
struct nlmsghdr *nlw_link_del(void *buf, size_t size, int ifindex);
/* Worker threads alive, across every nw_steps (some may hang in the kernel). */
unsigned nlw_live(void);

#endif
