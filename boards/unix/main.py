# Entry point of the virtual module, run by the MicroPython unix port from
# tools/sim.py. This folder comes first on sys.path, so `machine`, `esp32`,
# `network` and `socket` resolve to the stand-ins here; the firmware is
# imported unchanged from the repository root. By default tools/sim runs the
# copy of this file in build/mpy/, laid out the same with .mpy files.
import os
import sys

# tools/sim runs this file as `micropython -m boards.unix.main` from the root
# of the tree (the repository, or build/mpy/), where the firmware is found:
# sys.path holds no absolute path then (a script's would be its folder's
# real path), so the names of the modules' files, interned one per module,
# are as short as on the chip whatever the clone's path. A longer one
# would take heap from the firmware.
sys.path.insert(0, "boards/unix")

# The stand-ins for the chip's built-in modules load first, into an empty
# heap, as their C counterparts are there before any Python runs: the
# firmware's imports then find them loaded, and their bytecode does not
# fragment the heap the firmware compiles in.
import esp32  # noqa: E402,F401
import machine  # noqa: E402,F401
import network  # noqa: E402,F401
import socket  # noqa: E402,F401

import simlink  # noqa: E402

import board  # noqa: E402

_heap_log = os.getenv("ATSIM_HEAP_LOG")
if _heap_log:
    # Measuring (python -m tools.ram): the live heap after a collection, at
    # every write to the AT UART (a response's data is still held then),
    # appended to a file of the state folder's whenever it is the highest.
    import gc

    gc.collect()
    _heap_log += "/" + simlink.STATE.replace("/", "%") + ".heap"
    _peak = [gc.mem_alloc()]
    with open(_heap_log, "a") as f:
        f.write("base %d\n" % _peak[0])  # the interpreter and the stand-ins
    _write = machine.UART.write

    def _measured_write(uart, *args):
        gc.collect()
        used = gc.mem_alloc()
        if used > _peak[0]:
            _peak[0] = used
            with open(_heap_log, "a") as f:
                f.write("peak %d\n" % used)
        return _write(uart, *args)

    machine.UART.write = _measured_write

from firmware import at as _at  # noqa: E402
from firmware import main  # noqa: E402

_run = _at.Engine.run


def _run_with_control(engine):
    # The launcher's control lines (pin levels, heap counter requests) are
    # taken whenever they come, not only while the firmware sleeps or reads
    # a pin: the engine polls the control connection with the rest.
    import select

    engine.watch(simlink.control_stream(), select.POLLIN, simlink.on_control)
    _run(engine)


_at.Engine.run = _run_with_control

main.start(board)
