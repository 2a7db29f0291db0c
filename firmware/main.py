# Boot: settings, the AT UART, the command groups, then "ready" and the loop.
import gc
import os

from firmware import uartcfg
from firmware.at import Engine, log
from firmware.settings import Settings

# Command groups in AT+CMD? order. A build leaves a group out by deleting
# its module: a missing group is skipped.
GROUPS = (
    "basic", "uartcfg", "sleep", "rf", "storage", "ota",
    "wifi", "wifi_scan", "wifi_ap", "netif", "wifi_noapi", "eth",
    "tcpip", "tcpip_send", "tcpip_recv", "tcpip_server", "passthrough", "ssl",
    "dns", "sntp", "ping",
)

# Groups imported the first time one of their commands arrives, to spare
# the heap of those a host never uses: placeholder rows from
# firmware/cmdindex.py (python -m tools.cmdindex rewrites it) keep their
# place in AT+CMD? until then. Only groups whose register() has nothing to
# do at boot: sleep, rf and wifi_scan just restore the Wi-Fi mode (wifi and
# netif do that at boot), storage allocates its buffer, wifi_noapi nothing.
# The others stay imported at boot: basic loads AT+SYSMSG for every group,
# uartcfg is imported anyway, ota confirms the running app to the
# bootloader, wifi restores and auto-connects, wifi_ap and netif apply their
# settings whenever an interface comes up, eth starts Ethernet, tcpip and
# passthrough restore AT+SAVETRANSLINK, dns restores AT+CIPDNS. So does a
# group not named here. Of the TCP/IP groups only the commands are lazy:
# tcpip_send, tcpip_recv, tcpip_server, sntp and ping keep nothing at boot,
# and ssl (its settings, its hooks) is imported by the first SSL link too.
LAZY = (
    "sleep", "rf", "storage", "wifi_scan", "wifi_noapi",
    "tcpip_send", "tcpip_recv", "tcpip_server", "ssl", "sntp", "ping",
)


def _present(name):
    """Whether the build has a group's module, without importing it."""
    folder = __file__.rsplit("/", 1)[0]  # firmware/, where this module is
    for suffix in (".mpy", ".py"):
        try:
            os.stat("%s/%s%s" % (folder, name, suffix))
            return True
        except OSError:
            pass
    return folder.startswith(".frozen")  # no files to look at: all of it


def start(board):
    settings = Settings()
    at = Engine(uartcfg.open_uart(board, settings), board, settings)
    try:  # the data plane's buffers first, while the heap is in one piece
        from firmware import links
    except ImportError:
        pass
    else:
        links.preallocate(board)
    from firmware.cmdindex import TABLES

    for name in GROUPS:
        if name in LAZY and name in TABLES:
            if _present(name):
                at.register(*TABLES[name])
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
    log("boot done")
    at.write(b"\r\nready\r\n")
    at.run()
