# ESP32-WROOM-32 (ESP32-DevKitC and most ESP32 boards): ESP-AT's default
# AT port is UART1 on these pins; UART0 stays the MicroPython REPL.
NAME = "WROOM-32"
AT_UART = 1
TX = 17
RX = 16
CTS = 15
RTS = 14
BAUDRATE = 115200
RXBUF = 8192
TXBUF = 8192
# Root of the filesystem that AT+FS manages (kept apart from the firmware).
FS_ROOT = "/at_fs"
# Ethernet, for a board that wires a PHY to the ESP32's RMII MAC: ESP-AT's
# defaults for the ESP32 (components/at/src/at_eth_init.c, made for the
# ESP32-Ethernet-Kit): IP101 PHY at address 1, MDC on GPIO23, MDIO on
# GPIO18, PHY reset/power on GPIO5, the 50 MHz RMII clock from the PHY into
# GPIO0. In MicroPython: network.LAN(mdc=Pin(ETH_MDC), mdio=Pin(ETH_MDIO),
# power=Pin(ETH_POWER), phy_addr=ETH_PHY_ADDR, phy_type=network.PHY_IP101,
# ref_clk=Pin(ETH_REF_CLK), ref_clk_mode=Pin.IN). ETH_PHY = None: no PHY.
ETH_PHY = "IP101"  # network.PHY_<ETH_PHY>
ETH_PHY_ADDR = 1
ETH_MDC = 23
ETH_MDIO = 18
ETH_POWER = 5
ETH_REF_CLK = 0
# AT+CIUPDATE's update server (ESP-AT fixes it when it is built:
# CONFIG_AT_OTA_SERVER_IP/_PORT, CONFIG_AT_OTA_SSL_SERVER_IP/_PORT). By
# default a machine named esp-at-ota on the local network (most routers'
# DNS answers for their DHCP clients' names); put your own server here. It
# serves, over HTTP on OTA_PORT (<ota mode> 0) and HTTPS on OTA_SSL_PORT
# (<ota mode> 1), each image at OTA_PATH and the newest version's name, as
# text, at OTA_LATEST ({name}: <"firmware name">, "ota" for the app;
# {version}: <"version">). OTA_HOST = None: no server, AT+CIUPDATE fails.
OTA_HOST = "esp-at-ota"
OTA_PORT = 80
OTA_SSL_PORT = 443
OTA_PATH = "/{name}/{version}.bin"
OTA_LATEST = "/{name}/latest"
