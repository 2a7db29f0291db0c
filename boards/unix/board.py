# The simulated board of the virtual module: the same pins as the
# ESP32-WROOM-32 entry, with its filesystem in the state folder.
import simlink

NAME = "VIRTUAL"
AT_UART = 1
TX = 17
RX = 16
CTS = 15
RTS = 14
BAUDRATE = 115200
RXBUF = 8192
TXBUF = 8192
FS_ROOT = simlink.state_path("fs")
