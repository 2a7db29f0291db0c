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
