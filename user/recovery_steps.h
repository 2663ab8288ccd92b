/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The recovery steps themselves (enum nw_step in recovery.h): each one runs
 * on the daemon's loop, never blocks it (work that can hang in the kernel,
 * such as deleting an interface, runs in a worker thread; programs run as
 * child processes), and ends within cfg->step_timeout_ms: at the deadline
 * it reports NW_STEP_TIMEOUT and what was left over. Only objects the
 * config names are ever touched; --dry-run changes nothing and says what
 * it would do.
 */
#ifndef NETWARD_RECOVERY_STEPS_H
#define NETWARD_RECOVERY_STEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <net/if.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "recovery.h"
#include "rtnl.h"

struct nw_gateway {
	uint8_t family;
	uint8_t addr[16];
	int ifindex;		/* 0 unknown */
};

/* a wildcard listener the bind guard reported (bind_audit, wildcard_listener) */
struct nw_wildcard_owner {
	pid_t pid;		/* process (tgid) */
	char comm[16];
	uint16_t port;
	uint8_t proto;		/* 6 / 17 */
	uint8_t family;		/* 4 / 6 */
	uint64_t cgroup_id;
};

/* What the steps may use, given by the daemon. Callbacks may be NULL: the
 * step that needs one is then skipped. */
struct nw_steps_env {
	sd_event *e;
	sd_bus *bus;		/* system bus, NULL when there is none */
	const struct nw_recovery_cfg *cfg;	/* kept alive by the caller */
	bool dry_run;
	const char *state_dir;	/* reboot budget, saved resolv.conf */
	const char *cg_mount;	/* cgroup2 mount (unit of a process) */
	void *ud;
	/* restore_routes: put every missing protected route and rule back now,
	 * ignoring anti-flap backoff and routes.restore=false. Returns how
	 * many were put back or -errno; detail names them. */
	int (*restore_routes)(void *ud, bool dry_run, char *detail, size_t len);
	/* the device of the learned main-table default route ("" none): the
	 * main interface when cfg->main_interface is "" */
	void (*main_interface)(void *ud, char out[IF_NAMESIZE]);
	/* gateways of the main-table default routes netward protects */
	size_t (*gateways)(void *ud, struct nw_gateway *out, size_t max);
	/* a rule the route guard protects: never removed as stale */
	bool (*rule_protected)(void *ud, const struct nw_rule *r);
	/* wildcard listeners reported by the bind guard, newest first */
	size_t (*wildcard_owners)(void *ud, struct nw_wildcard_owner *out, size_t max);
};

struct nw_step_outcome {
	enum nw_step_result result;
	unsigned changes;	/* objects changed */
	uint64_t duration_us;
	char detail[512];	/* "deleted wg-worker-1, wg-worker-2" */
	char leftover[256];	/* "wg-worker-3 still present after 2000 ms", "" none */
};

typedef void (*nw_step_done_fn)(void *ud, unsigned step, const struct nw_step_outcome *o);

struct nw_steps;

/* env is copied (its pointers must stay valid). */
int nw_steps_new(struct nw_steps **out, const struct nw_steps_env *env);
/* the config or the bus changed (reload, reconnect) */
void nw_steps_set_env(struct nw_steps *s, const struct nw_steps_env *env);
/* Frees; a running step is abandoned (its worker thread finishes alone,
 * a child process gets SIGKILL). */
void nw_steps_free(struct nw_steps *s);

/* Starts step (one at a time: -EBUSY otherwise). done is called exactly
 * once, from the loop, never from inside this call. */
int nw_steps_start(struct nw_steps *s, unsigned step, nw_step_done_fn done, void *ud);
/* The step running, or -1. */
int nw_steps_running(const struct nw_steps *s);

/* Test hook: NETWARD_FAULT_LINK_DEL_DELAY_MS=N makes the worker thread of
 * remove_vpn_interfaces wait N ms before each deletion, standing in for
 * `ip link del wg103` hanging in the kernel (seed 002). */
#define NW_FAULT_LINK_DEL_DELAY_ENV "NETWARD_FAULT_LINK_DEL_DELAY_MS"

#endif
