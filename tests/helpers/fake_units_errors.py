#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
# A systemd1 stand-in that misbehaves, for the unit tests of user/units.c,
# on a private bus made by the test (never the machine's). By unit name:
#   slow*          StartUnit, StopUnit and GetUnit never answer
#   slowstate*     GetUnit answers, Properties.Get never does
#   denied*        StartUnit/StopUnit fail with AccessDenied (EACCES)
#   ghost*         GetUnit answers a path where no object lives
#   failed*, maintenance*, reloading*, inactive*: loaded, with that ActiveState
#   badreply*      StartUnit answers a string instead of an object path
#   late*          StartUnit/StopUnit answer after 300 ms ("late answer NAME")
# Every call is printed on one line, flushed, before it is (not) answered.
# Usage: fake_units_errors.py BUS_ADDRESS
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
SD = "org.freedesktop.systemd1"
UNITS = "/org/freedesktop/systemd1/unit/"
STATES = ("failed", "maintenance", "reloading", "inactive", "slowstate")


def say(*words):
    print(*words, flush=True)


def base(name):
    return name.split(".")[0].split("_")[0]


class Unit(dbus.service.Object):
    def __init__(self, bus, state):
        self.state = state
        super().__init__(bus, UNITS + state)

    @dbus.service.method(dbus.PROPERTIES_IFACE, in_signature="ss", out_signature="v",
                         async_callbacks=("ok", "err"))
    def Get(self, iface, prop, ok, err):
        say("Get", self.state, iface, prop)
        if self.state == "slowstate":
            return  # never answered
        ok(dbus.String(self.state, variant_level=1))


class Systemd(dbus.service.Object):
    def __init__(self, bus):
        self.jobs = 0
        super().__init__(bus, "/org/freedesktop/systemd1")

    def job(self, name, mode, ok, err):
        if name.startswith("slow"):
            return  # never answered
        if name.startswith("denied"):
            err(dbus.exceptions.DBusException(
                "Access denied to %s" % name, name="org.freedesktop.DBus.Error.AccessDenied"))
            return
        if name.startswith("badreply"):
            ok("not a path")
            return
        if name.startswith("late"):
            def answer():
                ok(dbus.ObjectPath("/org/freedesktop/systemd1/job/late"))
                say("late answer", name)
                return False
            GLib.timeout_add(300, answer)
            return
        self.jobs += 1
        ok(dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.jobs))

    # no out_signature: badreply answers a string where a path belongs
    @dbus.service.method(SD + ".Manager", in_signature="ss", async_callbacks=("ok", "err"))
    def StartUnit(self, name, mode, ok, err):
        say("StartUnit", name, mode)
        self.job(name, mode, ok, err)

    @dbus.service.method(SD + ".Manager", in_signature="ss", async_callbacks=("ok", "err"))
    def StopUnit(self, name, mode, ok, err):
        say("StopUnit", name, mode)
        self.job(name, mode, ok, err)

    @dbus.service.method(SD + ".Manager", in_signature="s", out_signature="o",
                         async_callbacks=("ok", "err"))
    def GetUnit(self, name, ok, err):
        say("GetUnit", name)
        b = base(name)
        if b in STATES:
            ok(dbus.ObjectPath(UNITS + b))
        elif b.startswith("ghost"):
            ok(dbus.ObjectPath(UNITS + "ghost"))
        elif b.startswith("slow"):
            pass  # never answered
        else:
            err(dbus.exceptions.DBusException(
                "Unit %s not loaded." % name, name=SD + ".NoSuchUnit"))


bus = dbus.bus.BusConnection(sys.argv[1])
name = dbus.service.BusName(SD, bus)
Systemd(bus)
units = [Unit(bus, s) for s in STATES]
say("fake units ready")
GLib.MainLoop().run()
