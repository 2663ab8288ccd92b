/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * systemd units over the system bus, asynchronously on the daemon's loop:
 * ask a unit's ActiveState, start it, stop it. After StopUnit a unit is
 * often unloaded and GetUnit answers org.freedesktop.systemd1.NoSuchUnit:
 * that means "inactive", not an error.
 */
#ifndef NETWARD_UNITS_H
#define NETWARD_UNITS_H

#include <stdint.h>
#include <systemd/sd-bus.h>

/* ActiveState as systemd names it, plus "unknown" before any answer. */
enum nw_unit_state {
	NW_UNIT_UNKNOWN,
	NW_UNIT_INACTIVE,
	NW_UNIT_ACTIVATING,
	NW_UNIT_ACTIVE,
	NW_UNIT_DEACTIVATING,
	NW_UNIT_FAILED,
	NW_UNIT_RELOADING,
};

const char *nw_unit_state_name(unsigned state);	/* "active", ... */
int nw_unit_state_parse(const char *name);	/* enum or -EINVAL */
/* A valid unit name: [A-Za-z0-9:_.\\@-]{1,255} with a known type suffix
 * (.service, .target, .socket, .timer, .path, .mount, .scope, .slice). */
int nw_unit_name_valid(const char *name);

/* err: 0, or -errno with msg (the bus error's name and message). */
typedef void (*nw_unit_state_fn)(void *ud, int err, enum nw_unit_state state, const char *msg);
typedef void (*nw_unit_job_fn)(void *ud, int err, const char *job, const char *msg);

/* Each call sends its request at once (never blocks; the reply comes
 * through the loop the bus is attached to) and calls the callback exactly
 * once, unless cancelled. timeout_ms bounds the wait for the reply
 * (-ETIMEDOUT). *slot (may be NULL) lets the caller cancel: sd_bus_slot_unref. */
int nw_unit_get_state(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_state_fn cb,
		      void *ud, sd_bus_slot **slot);
/* StartUnit(unit, "replace") / StopUnit(unit, "replace"): job is the job's
 * object path. */
int nw_unit_start(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_job_fn cb, void *ud,
		  sd_bus_slot **slot);
int nw_unit_stop(sd_bus *bus, const char *unit, uint64_t timeout_ms, nw_unit_job_fn cb, void *ud,
		 sd_bus_slot **slot);

#endif
