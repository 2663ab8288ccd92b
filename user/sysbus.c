// SPDX-License-Identifier: GPL-2.0-only
/*
 * The system D-Bus: one connection attached to the loop
 * (sd_bus_open_system honours DBUS_SYSTEM_BUS_ADDRESS), and "does this
 * service run" as a bounded NameHasOwner call. Library-like: no logging.
 */
#define _GNU_SOURCE
#include <errno.h>

#include "sysbus.h"

int nw_sysbus_open(sd_event *e, sd_bus **out)
{
	sd_bus *bus = NULL;
	int err;

	if ((err = sd_bus_open_system(&bus)) < 0)
		goto cleanup;
	sd_bus_set_description(bus, "netward");
	if ((err = sd_bus_attach_event(bus, e, SD_EVENT_PRIORITY_NORMAL)) < 0)
		goto cleanup;
	*out = bus;
	return 0;
cleanup:
	sd_bus_unref(bus);
	return err;
}

bool nw_sysbus_has_owner(sd_bus *bus, const char *name, uint64_t timeout_ms)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	int has = 0;

	if (!bus || !name)
		return false;
	if (sd_bus_message_new_method_call(bus, &m, "org.freedesktop.DBus",
					   "/org/freedesktop/DBus", "org.freedesktop.DBus",
					   "NameHasOwner") < 0 ||
	    sd_bus_message_append(m, "s", name) < 0)
		goto cleanup;
	/* 0 would mean sd-bus's default of 25 s */
	if (sd_bus_call(bus, m, (timeout_ms ? timeout_ms : 1) * 1000, &error, &reply) < 0 ||
	    sd_bus_message_read(reply, "b", &has) < 0)
		has = 0;
cleanup:
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	return has > 0;
}
