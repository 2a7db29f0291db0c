# Basic AT commands: AT, ATE, AT+RST, AT+GMR, AT+GSLP, AT+RESTORE,
# AT+SYSSTORE, AT+SYSLOG, AT+SYSMSG, AT+CMD, AT+SYSRAM, AT+SYSTIMESTAMP.
import gc
import sys

import esp32
import machine

from firmware import clock, params, version
from firmware.at import DONE

_INT32_MAX = 0x7FFFFFFF
_min_free = None  # the lowest free heap AT+SYSRAM? has measured since boot


def at_execute(at):
    pass


def ate_set(at, args):
    at.echo = params.int_at(args, 0, 0, 1) == 1


def rst_execute(at):
    at.ok()
    at.flush()
    machine.reset()
    return DONE


def _sdk_version():
    # sys.version is "3.4.0; MicroPython <build> on <date>" on every port.
    v = sys.implementation.version
    build = sys.version.split("; ", 1)[-1]
    return "MicroPython v%d.%d.%d (%s)" % (v[0], v[1], v[2], build)


def gmr_execute(at):
    chip = sys.platform.upper()
    at.reply(
        "AT version:%s(%s - %s - %s)" % (version.AT_VERSION, version.BUILD_HASH, chip, version.BUILD_DATE)
    )
    at.reply("SDK version:" + _sdk_version())
    at.reply("compile time(%s):%s" % (version.BUILD_HASH, version.BUILD_DATE))
    at.reply("Bin version:%s(%s)" % (version.BIN_VERSION, at.board.NAME))


def gslp_set(at, args):
    params.count(args, 1, 1)
    ms = params.int_at(args, 0, 0, _INT32_MAX)
    at.reply(b"%d" % ms)
    at.ok()
    at.flush()
    if ms == 0:
        machine.reset()  # ESP-AT: 0 means restart now
    machine.deepsleep(ms)
    return DONE


def restore_execute(at):
    at.settings.restore()
    at.ok()
    at.flush()
    machine.reset()
    return DONE


def sysstore_query(at):
    at.reply(b"+SYSSTORE:%d" % at.settings.store)


def sysstore_set(at, args):
    params.count(args, 1, 1)
    value = params.int_at(args, 0, 0, 1)
    at.settings.store = value == 1
    at.settings.put_int("sysstore", value, always=True)


def syslog_query(at):
    at.reply(b"+SYSLOG:%d" % at.syslog)


def syslog_set(at, args):
    params.count(args, 1, 1)
    at.syslog = params.int_at(args, 0, 0, 1) == 1


def sysmsg_query(at):
    at.reply(b"+SYSMSG:%d" % at.sysmsg)


def sysmsg_set(at, args):
    params.count(args, 1, 1)
    at.sysmsg = params.int_at(args, 0, 0, 7)
    at.settings.put_int("sysmsg", at.sysmsg)


def cmd_query(at):
    index = 0
    for row in at.rows:
        at.reply(
            '+CMD:%d,"AT%s",%d,%d,%d,%d'
            % (index, row[0], row[1] is not None, row[2] is not None, row[3] is not None, row[4] is not None)
        )
        index += 1


def sysram_query(at):
    global _min_free
    gc.collect()
    free = gc.mem_free()
    if _min_free is None or free < _min_free:
        _min_free = free
    at.reply(b"+SYSRAM:%d,%d" % (free, _min_free))


def sysram_set(at, args):
    params.count(args, 1, 1)
    caps = params.int_at(args, 0, 1, _INT32_MAX)
    regions = esp32.idf_heap_info(caps)
    total = free = largest = minimum = 0
    for size, region_free, region_largest, region_minimum in regions:
        total += size
        free += region_free
        minimum += region_minimum
        largest = max(largest, region_largest)
    at.reply(b"+SYSRAM:%d,%d,%d,%d" % (largest, free, minimum, total))


def systimestamp_query(at):
    at.reply(b"+SYSTIMESTAMP:%d" % clock.now())


def systimestamp_set(at, args):
    params.count(args, 1, 1)
    clock.set_unix(params.int_at(args, 0, 0, _INT32_MAX))


COMMANDS = (
    ("", None, None, None, at_execute),
    ("E", None, None, ate_set, None),
    ("+RST", None, None, None, rst_execute),
    ("+GMR", None, None, None, gmr_execute),
    ("+CMD", None, cmd_query, None, None),
    ("+GSLP", None, None, gslp_set, None),
    ("+RESTORE", None, None, None, restore_execute),
    ("+SYSRAM", None, sysram_query, sysram_set, None),
    ("+SYSMSG", None, sysmsg_query, sysmsg_set, None),
    ("+SYSTIMESTAMP", None, systimestamp_query, systimestamp_set, None),
    ("+SYSLOG", None, syslog_query, syslog_set, None),
    ("+SYSSTORE", None, sysstore_query, sysstore_set, None),
)

# Misspellings in the old command list, accepted as aliases.
ALIASES = (("+SYMSMSG", "+SYSMSG"),)


def register(at):
    at.sysmsg = at.settings.get_int("sysmsg", 0)
    at.register(COMMANDS, ALIASES)
