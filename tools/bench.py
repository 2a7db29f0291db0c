"""Benchmarks of the virtual module: python -m tools.bench [--json]

Measured in one run on this machine, against a fresh virtual module:
- boot: seconds from launch to "ready";
- heap: MicroPython heap in use right after boot (AT+SYSRAM), how much of
  it the unix board's stand-in modules take (they are built into the chip's
  firmware, so the chip does not pay for them), and the heap size used;
- latency: AT -> OK round trip, median and 99th percentile, over the pty
  both paced at 115200 baud (what a host sees) and unpaced (the firmware's
  own cost).
"""

import argparse
import json
import re
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.sim import DEFAULT_HEAP, ENTRY, default_micropython
from tools.vmodule import VirtualModule

# Heap taken by the unix board's stand-ins, measured in a bare interpreter.
STANDINS = """
import gc, sys
sys.path.insert(0, %r)
gc.collect()
before = gc.mem_alloc()
import simlink, machine, esp32, network, socket, board
gc.collect()
print(gc.mem_alloc() - before)
"""

ROUND_TRIPS = 500


def heap_bytes(size):
    size = size.upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(size[-1], 1)
    return int(size.rstrip("KM")) * scale


def standins_heap(folder):
    script = STANDINS % str(ENTRY.parent)
    env = dict(os.environ, ATSIM_STATE=str(folder))
    command = [default_micropython(), "-X", "heapsize=" + DEFAULT_HEAP, "-c", script]
    return int(subprocess.run(command, env=env, capture_output=True, check=True, text=True).stdout)


def round_trips(module, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        module.at("AT")
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3), "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3)}


def measure(folder):
    results = {"heap_size_bytes": heap_bytes(DEFAULT_HEAP)}
    for paced in (True, False):
        start = time.perf_counter()
        module = VirtualModule(Path(folder) / ("paced" if paced else "fast"), pace=paced).start()
        try:
            if paced:
                results["boot_to_ready_s"] = round(time.perf_counter() - start, 3)
                module.ok("ATE0")
                free = int(re.search(rb"\+SYSRAM:(\d+),", module.ok("AT+SYSRAM?")).group(1))
                total = int(re.search(rb"\+SYSRAM:\d+,\d+,\d+,(\d+)", module.ok("AT+SYSRAM=0x1800")).group(1))
                results["heap_in_use_after_boot_bytes"] = total - free
                standins = standins_heap(folder)
                results["heap_of_unix_standins_bytes"] = standins
                results["heap_of_firmware_after_boot_bytes"] = total - free - standins
            else:
                module.ok("ATE0")
            key = "at_round_trip_115200" if paced else "at_round_trip_unpaced"
            round_trips(module, 50)  # warm up
            results[key] = round_trips(module, ROUND_TRIPS)
        finally:
            module.stop()
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atbench-") as folder:
        results = measure(folder)
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        for key, value in sorted(results.items()):
            print("%-32s %s" % (key, value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
