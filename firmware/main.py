# Boot: settings, the AT UART, the command groups, then "ready" and the loop.
import gc
import os
import sys

import esp32

from firmware import uartcfg
from firmware.at import Engine, log
from firmware.settings import Settings

# Command groups in AT+CMD? order. A build leaves a group out by deleting
# its module: a missing group is skipped.
GROUPS = (
    "basic", "uartcfg", "sleep", "rf", "storage", "ota",
    "wifi", "wifi_scan", "wifi_ap", "netif", "wifi_noapi", "eth",
    "tcpip", "tcpip_send", "tcpip_sendl", "tcpip_recv", "tcpip_server", "passthrough", "translink",
    "ssl", "dns", "sntp", "ping", "ota_update",
)

# Groups imported the first time one of their commands arrives, to spare
# the heap of those a host never uses: placeholder rows from
# firmware/cmdindex.py (python -m tools.cmdindex rewrites it) keep their
# place in AT+CMD? until then. Only groups whose register() has nothing to
# do at boot, or something only when a setting is saved: those name it in
# BOOT_SETTING and are imported at boot when it holds a value (translink:
# AT+SAVETRANSLINK, which loads passthrough; dns: manual AT+CIPDNS
# servers); wifi_ap is imported when the SoftAP comes up (see
# _import_with_softap). The others stay
# imported at boot: basic loads AT+SYSMSG for every group, uartcfg is
# imported anyway, wifi restores and auto-connects, netif applies its
# settings whenever an interface comes up, eth starts Ethernet, tcpip
# keeps the link table behind AT+CIPSTATUS. So does a group not named here.
# ssl (its settings, its hooks) is also imported by the first SSL link,
# passthrough by AT+CIPSEND in AT+CIPMODE=1, dns by the first name to look
# up.
LAZY = (
    "sleep", "rf", "storage", "ota", "wifi_scan", "wifi_ap", "wifi_noapi",
    "tcpip_send", "tcpip_sendl", "tcpip_recv", "tcpip_server", "passthrough", "translink", "ssl", "dns",
    "sntp", "ping", "ota_update",
)


_FOLDER = __file__.rsplit("/", 1)[0]  # firmware/, where this module is
_FROZEN = _FOLDER.startswith(".frozen")  # built into the image: no files to look at


def _present(name):
    """Whether the build has a group's module, without importing it."""
    for suffix in (".mpy", ".py"):
        try:
            os.stat("%s/%s%s" % (_FOLDER, name, suffix))
            return True
        except OSError:
            pass
    return _FROZEN  # all of it


def _intern_names():
    """Intern the names the firmware's code uses, read from the table of
    names at the start of each .mpy file, without loading the code.
    MicroPython grows its table of interned names by doubling it, in one
    block of the heap (14 KB for the last doubling on the unix port): this
    way that happens first thing at boot, while the heap is in one piece,
    instead of when a group is first used in a heap that long-lived objects
    and TLS sessions have fragmented, and the names' text lies together.
    Nothing to do for code run from .py files (compiled at import), frozen
    or in a ROMFS partition (/rom: its names are read in place, in flash;
    a copy interned here would put them in the heap)."""
    if _FROZEN or _FOLDER.startswith("/rom"):
        return
    for name in os.listdir(_FOLDER):
        if not name.endswith(".mpy"):
            continue
        with open(_FOLDER + "/" + name, "rb") as f:
            data = f.read()
        _intern_table(memoryview(data))
        data = None
        gc.collect()


def _intern_table(data):
    # .mpy version 6: b"M", 6, features (the architecture in bits 2-7: none
    # for bytecode), small int bits; the number of names, of constants; then
    # each name: (length << 1) as a varint, the text and a NUL, or
    # (index << 1) | 1 for one the firmware has built in.
    if len(data) < 6 or data[0] != 0x4D or data[1] != 6 or data[2] >> 2:
        return
    count, i = _varint(data, 4)
    _, i = _varint(data, i)
    for _ in range(count):
        value, i = _varint(data, i)
        if value & 1:
            continue
        end = i + (value >> 1)
        hasattr(_intern_table, str(data[i:end], "utf-8"))  # an attribute name is interned
        i = end + 1


def _varint(data, i):
    value = 0
    while True:
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, i


def _import_with_softap(at):
    """Have firmware.wifi_ap imported whenever the SoftAP is up (now, or
    after a mode change): it applies the saved AT+CWSAP and reports the
    SoftAP's stations."""
    from firmware import radio

    def hook(old, new):
        if new & radio.AP:
            at.load("wifi_ap")  # nothing once it is in

    radio.add_hook(hook)


def start(board):
    _intern_names()
    settings = Settings()
    at = Engine(uartcfg.open_uart(board, settings), board, settings)
    try:  # the data plane's buffers first, while the heap is in one piece
        from firmware import links
    except ImportError:
        pass
    else:
        links.preallocate(board)
    from firmware.cmdindex import table

    for name in GROUPS:
        index = table(name) if name in LAZY else None
        if index is not None:
            if _present(name):
                rows, aliases, boot_key = index
                at.register(rows, aliases)
                if boot_key is not None and settings.get_bytes(boot_key):
                    at.load(name)  # a saved setting needs it now
                    gc.collect()
            continue
        try:
            group = __import__("firmware." + name, None, None, ("register",))
        except ImportError as e:
            if name not in str(e):
                raise  # the group exists but something it imports does not
            continue
        group.register(at)
        # Collect after each group, so that what it keeps fills the heap
        # from the bottom up and the top stays in one piece for the
        # buffers of the groups loaded later (firmware.storage: 4 KB).
        gc.collect()
    if "wifi_ap" in LAZY and _present("wifi_ap"):
        _import_with_softap(at)
    # The bootloader rolls back an app that never confirms itself; getting
    # this far is the confirmation. Builds without rollback raise OSError.
    try:
        esp32.Partition.mark_app_valid_cancel_rollback()
    except OSError:
        pass
    log("boot done")
    at.write(b"\r\nready\r\n")
    at.run()
