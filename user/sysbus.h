/* SPDX-License-Identifier: GPL-2.0-only */
/* The system D-Bus as netward uses it: one connection attached to the
 * loop (DBUS_SYSTEM_BUS_ADDRESS is honoured, so tests use a private bus),
 * "does this service run" (a name has an owner), and asynchronous calls
 * with a deadline. */
#ifndef NETWARD_SYSBUS_H
#define NETWARD_SYSBUS_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

/* Opens the system bus and attaches it to e. -errno (no bus: -ENOENT,
 * -ECONNREFUSED). */
int nw_sysbus_open(sd_event *e, sd_bus **out);

/* The well-known name has an owner right now (a bounded synchronous
 * NameHasOwner call, at most timeout_ms). */
bool nw_sysbus_has_owner(sd_bus *bus, const char *name, uint64_t timeout_ms);

#define NW_BUS_SYSTEMD "org.freedesktop.systemd1"
#define NW_BUS_RESOLVED "org.freedesktop.resolve1"
#define NW_BUS_NETWORKD "org.freedesktop.network1"
#define NW_BUS_NM "org.freedesktop.NetworkManager"

#endif
