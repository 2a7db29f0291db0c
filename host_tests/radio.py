"""Helpers for the Wi-Fi and Ethernet tests: virtual modules on a world file
of the test's own (a copy of the default one, which tools.world may edit
while they run) and, for several modules, a shared air folder."""

import re
import shutil

from tools import world as world_tool
from tools.vmodule import VirtualModule
from tools.world import DEFAULT

CONNECTED = b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n"


def make_world(path, **timing):
    """A copy of the default world at `path`, with timings overridden."""
    shutil.copyfile(DEFAULT, path)
    if timing:
        world = world_tool.load(path)
        world["timing"] = timing
        world_tool.save(path, world)
    return path


def edit_world(path, change):
    """Apply change(world) to the world file, atomically."""
    world = world_tool.load(path)
    change(world)
    world_tool.save(path, world)


def start(folder, world=None, air=None, pace=False, quiet=True):
    """A virtual module with echo off and error codes on (if quiet)."""
    args = []
    if world is not None:
        args += ["--world", str(world)]
    if air is not None:
        args += ["--air", str(air)]
    module = VirtualModule(folder, pace=pace, extra_args=args).start()
    if quiet:
        make_quiet(module)
    return module


def make_quiet(module):
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SYSLOG=1")


def restart(module, quiet=True, wait_ready=True):
    """Power-cycle on the same state folder, world and air (the same object,
    so that the fixture that made it still stops it)."""
    module.stop()
    module.buffer = b""
    module.start(wait_ready)
    if quiet:
        make_quiet(module)
    return module


def join(module, ssid, password="", timeout=20):
    reply = module.at('AT+CWJAP="%s","%s"' % (ssid, password), timeout)
    assert reply.endswith(CONNECTED), reply
    return reply


def station_ip(module):
    return re.search(rb'\+CIPSTA:ip:"([\d.]+)"', module.ok("AT+CIPSTA?")).group(1).decode()


def mac(module, command):
    """The MAC a +CIPSTAMAC / +CIPAPMAC / +CIPETHMAC query answers."""
    return re.search(rb':"([0-9a-f:]{17})"', module.ok(command + "?")).group(1).decode()


def line_with(module, marker, timeout):
    """Everything up to the end of the line holding `marker`, which must
    arrive within timeout s (unsolicited messages)."""
    return module.read_until(marker, timeout) + module.read_until(b"\r\n", 1)
