# ESP32-C3-MINI-1 (ESP32-C3-DevKitM-1 and most ESP32-C3 boards): ESP-AT's
# default AT port for the ESP32-C3 is UART1 on these pins (ESP-AT's
# factory_param_data.csv, row PLATFORM_ESP32C3,MINI-1, and its "Hardware
# Connection" guide). UART0 (GPIO21 TX, GPIO20 RX) and the USB Serial/JTAG
# port stay the MicroPython REPL.
NAME = "MINI-1"  # ESP-AT's module name for it (AT+GMR "Bin version")
CHIP = "esp32c3"  # esptool's chip name: tools/flash and tools/deploy check it
AT_UART = 1
TX = 7
RX = 6
CTS = 5
RTS = 4
BAUDRATE = 115200
RXBUF = 8192
TXBUF = 8192
# Root of the filesystem that AT+FS manages (kept apart from the firmware).
FS_ROOT = "/at_fs"
# No Ethernet: the ESP32-C3 has no Ethernet MAC.
ETH_PHY = None
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
