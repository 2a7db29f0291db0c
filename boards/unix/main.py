# Entry point of the virtual module, run by the MicroPython unix port from
# tools/sim.py. This folder comes first on sys.path, so `machine`, `esp32`,
# `network` and `socket` resolve to the stand-ins here; the firmware is
# imported unchanged from the repository root.
import sys

_here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
sys.path.append(_here + "/../..")

# The stand-ins for the chip's built-in modules load first, into an empty
# heap, as their C counterparts are there before any Python runs: the
# firmware's imports then find them loaded, and their bytecode does not
# fragment the heap the firmware compiles in.
import esp32  # noqa: E402,F401
import machine  # noqa: E402,F401
import network  # noqa: E402,F401
import socket  # noqa: E402,F401

import board  # noqa: E402
from firmware import main  # noqa: E402

main.start(board)
