# The simulated board of the virtual module: the ESP32-WROOM-32 entry's AT
# UART and Ethernet PHY wiring (the PHY's cable is the world file's
# "ethernet" object), with its name and filesystem root in the state folder.
# AT+CIUPDATE's update server is the world file's "ota_server" (read at
# boot): a host name or a loopback address, the HTTP and HTTPS ports, the
# image's path and the newest version's; none without it.
import simair
import simlink
from boards.esp32_wroom_32 import AT_UART, BAUDRATE, CTS, RTS, RX, RXBUF, TX, TXBUF  # noqa: F401
from boards.esp32_wroom_32 import ETH_MDC, ETH_MDIO, ETH_PHY, ETH_PHY_ADDR, ETH_POWER, ETH_REF_CLK  # noqa: F401
from boards.esp32_wroom_32 import OTA_LATEST, OTA_PATH, OTA_PORT, OTA_SSL_PORT

NAME = "VIRTUAL"
FS_ROOT = simlink.state_path("fs")


def _ota_server():
    server = simair.world().get("ota_server") or {}
    host = server.get("host")
    try:
        if host and not simair.is_loopback(simair.ip_int(host)):
            simair.log("world: ota_server %s is not a loopback address" % host)
            host = None
    except ValueError:
        pass  # a name: the world's DNS server answers for it
    return (
        host,
        server.get("port", OTA_PORT),
        server.get("ssl_port", OTA_SSL_PORT),
        server.get("path", OTA_PATH),
        server.get("latest", OTA_LATEST),
    )


OTA_HOST, OTA_PORT, OTA_SSL_PORT, OTA_PATH, OTA_LATEST = _ota_server()
del _ota_server
# The free heap kept for a command's own buffers (firmware/at.py's 16 KB
# default on the chip) in this port's 64-bit terms: 1.43 times as much
# (README, "RAM budget"). Below it, idle groups imported on first use go.
HEAP_RESERVE = 23552
