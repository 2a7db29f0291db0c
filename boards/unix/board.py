# The simulated board of the virtual module: the ESP32-WROOM-32 entry's AT
# UART and Ethernet PHY wiring (the PHY's cable is the world file's
# "ethernet" object), with its name and filesystem root in the state folder.
import simlink
from boards.esp32_wroom_32 import AT_UART, BAUDRATE, CTS, RTS, RX, RXBUF, TX, TXBUF  # noqa: F401
from boards.esp32_wroom_32 import ETH_MDC, ETH_MDIO, ETH_PHY, ETH_PHY_ADDR, ETH_POWER, ETH_REF_CLK  # noqa: F401

NAME = "VIRTUAL"
FS_ROOT = simlink.state_path("fs")
