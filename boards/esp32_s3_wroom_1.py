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
