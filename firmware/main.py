# Boot: settings, the AT UART, the command groups, then "ready" and the loop.
from firmware import uartcfg
from firmware.at import Engine, log
from firmware.settings import Settings

# Command groups in AT+CMD? order. A build leaves a group out by deleting
# its module: a missing group is skipped.
GROUPS = (
    "basic", "uartcfg", "sleep", "rf", "storage", "ota",
    "wifi", "wifi_scan", "wifi_ap", "netif", "wifi_noapi", "eth",
    "tcpip", "passthrough", "dns", "sntp", "ping",
)


def start(board):
    settings = Settings()
    at = Engine(uartcfg.open_uart(board, settings), board, settings)
    for name in GROUPS:
        try:
            group = __import__("firmware." + name, None, None, ("register",))
        except ImportError as e:
            if name not in str(e):
                raise  # the group exists but something it imports does not
            continue
        group.register(at)
    log("boot done")
    at.write(b"\r\nready\r\n")
    at.run()
