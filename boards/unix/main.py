# Entry point of the virtual module, run by the MicroPython unix port from
# tools/sim.py. This folder comes first on sys.path, so `machine`, `esp32`
# and `network` resolve to the stand-ins here; the firmware is imported
# unchanged from the repository root.
import sys

_here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
sys.path.append(_here + "/../..")

import board  # noqa: E402
from firmware import main  # noqa: E402

main.start(board)
