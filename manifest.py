# MicroPython manifest: freeze this firmware into your own MicroPython image,
# so that its bytecode runs from flash instead of being loaded into the heap
# (README, "Put it on an ESP32": about 45% less heap than .mpy files). In a
# MicroPython checkout with ESP-IDF set up:
#
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/this/manifest.py
#
# then flash that image (python -m tools.flash) and install only main.py and
# nothing that would shadow the frozen modules:
#
#   python -m tools.deploy --port PORT --frozen
metadata(version="0.1.0", description="ESP-AT modem firmware for MicroPython")

# What the stock image freezes (asyncio, networking, ...), so that nothing
# the port ships is lost.
include("$(PORT_DIR)/boards/manifest.py")

# The firmware: every module in firmware/.
package("firmware")

# The chip boards' configurations (not boards/unix/, the simulated board).
package("boards", files=("__init__.py", "esp32_wroom_32.py", "esp32_c3_mini_1.py", "esp32_s3_wroom_1.py"))

# micropython-lib packages the firmware needs, as require("name") lines: the
# same list as package.json's "deps", which is empty (it uses only modules
# built into the ESP32 port).
