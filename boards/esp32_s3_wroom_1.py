# ESP32-S3-WROOM-1 (ESP32-S3-DevKitC-1 and most ESP32-S3 boards). ESP-AT
# ships no ESP32-S3 firmware and so defines no AT pins for it ("there is no
# AT firmware available for the ... ESP32-S3 series"); these are this
# project's choice: UART1 on its IO MUX pins for TX and RX (GPIO17, GPIO18).
# The IO MUX pins for RTS and CTS (GPIO19, GPIO20) are USB D-/D+, which carry
# MicroPython's REPL on the S3, so CTS and RTS take GPIO15 and GPIO14, the
# numbers the ESP32-WROOM-32 uses (GPIO15 is XTAL_32K_P, free on the
# WROOM-1, which has no 32 kHz crystal). UART0 (GPIO43 TX, GPIO44 RX) and USB
# stay the MicroPython REPL. GPIO26-37 (flash, octal PSRAM) are avoided.
NAME = "S3-WROOM-1"
CHIP = "esp32s3"  # esptool's chip name: tools/flash and tools/deploy check it
AT_UART = 1
TX = 17
RX = 18
CTS = 15
RTS = 14
BAUDRATE = 115200
RXBUF = 8192
TXBUF = 8192
# Root of the filesystem that AT+FS manages (kept apart from the firmware).
FS_ROOT = "/at_fs"
# No Ethernet: the ESP32-S3 has no Ethernet MAC.
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
