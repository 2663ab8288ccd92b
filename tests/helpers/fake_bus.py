#!/usr/bin/python3
# Stand-ins for the system services netward talks to over D-Bus, on a
# private bus made by the test (never the machine's): systemd1 (StartUnit,
# StopUnit, GetUnit, Unit.ActiveState), network1 (RenewLink) and resolve1
# (RevertLink). Every call is printed on one line, flushed, so the test can
# assert what netward asked for (a reboot is only ever recorded here).
# FAKE_BUS_TLOG=FILE also appends {"t": monotonic, "call": [...]} lines.
# Usage: fake_bus.py BUS_ADDRESS [systemd1] [network1] [resolve1]
import json
import os
import re
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
SD = "org.freedesktop.systemd1"


def unit_path(name):
    esc = re.sub(r"[^A-Za-z0-9]", lambda m: "_%02x" % ord(m.group()), name)
    return "/org/freedesktop/systemd1/unit/" + esc


TLOG = os.environ.get("FAKE_BUS_TLOG")


def say(*words):
    print(*words, flush=True)
    if TLOG:  # when each call arrived, on the host's monotonic clock
        with open(TLOG, "a") as f:
            f.write(json.dumps({"t": time.monotonic(), "call": list(map(str, words))}) + "\n")


class Unit(dbus.service.Object):
    def __init__(self, bus, name):
        self.name, self.state = name, "inactive"
        super().__init__(bus, unit_path(name))

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v")
    def Get(self, iface, prop):
        if prop == "ActiveState":
            return self.state
        raise dbus.exceptions.DBusException(
            "no property " + prop, name="org.freedesktop.DBus.Error.UnknownProperty")


class Systemd(dbus.service.Object):
    def __init__(self, bus):
        self.bus, self.units, self.jobs = bus, {}, 0
        super().__init__(bus, "/org/freedesktop/systemd1")

    def job(self):
        self.jobs += 1
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.jobs)

    @dbus.service.method(SD + ".Manager", in_signature="ss", out_signature="o")
    def StartUnit(self, name, mode):
        say("StartUnit", name, mode)
        if name not in self.units:  # one object per path: register it once
            self.units[name] = Unit(self.bus, name)
        self.units[name].state = "active"
        return self.job()

    @dbus.service.method(SD + ".Manager", in_signature="ss", out_signature="o")
    def StopUnit(self, name, mode):
        say("StopUnit", name, mode)
        if name in self.units:
            self.units[name].state = "inactive"
        return self.job()

    @dbus.service.method(SD + ".Manager", in_signature="s", out_signature="o")
    def GetUnit(self, name):
        if name not in self.units or self.units[name].state == "inactive":
            raise dbus.exceptions.DBusException(
                "Unit %s not loaded." % name, name=SD + ".NoSuchUnit")
        return dbus.ObjectPath(unit_path(name))


class Networkd(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/network1")

    @dbus.service.method("org.freedesktop.network1.Manager", in_signature="i")
    def RenewLink(self, ifindex):
        say("RenewLink", ifindex)


class Resolved(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/resolve1")

    @dbus.service.method("org.freedesktop.resolve1.Manager", in_signature="i")
    def RevertLink(self, ifindex):
        say("RevertLink", ifindex)


bus = dbus.bus.BusConnection(sys.argv[1])
names = []
for svc in sys.argv[2:] or ["systemd1"]:
    names.append(dbus.service.BusName("org.freedesktop." + svc, bus))
    {"systemd1": Systemd, "network1": Networkd, "resolve1": Resolved}[svc](bus)
say("fake bus ready:", " ".join(sys.argv[2:] or ["systemd1"]))
GLib.MainLoop().run()
