"""Heap figures of the virtual module (README, "RAM budget").

    python -m tools.ram boot [--micropython PATH] [--heapsize N]
    python -m tools.ram peak [--micropython PATH] [--heapsize N] [PYTEST ARGS...]

`boot` starts one virtual module and reports, as JSON, the heap in use after
boot (AT+SYSRAM), how much of it the interpreter and the unix board's
stand-ins held before the firmware started ("base"), and the same once every
group imported on first use is loaded (each gets one command).

`peak` runs the test suite (host_tests, or the pytest arguments given) with
every virtual module logging its live heap, after a collection, at each write
to the AT UART; it reports the highest, less the base, and the state folders
(test names) where the highest were seen.

Both run the firmware from .mpy files unless ATSIM_SOURCE=1. A unix port of
another word size (a 32-bit build, --micropython) gives the figures to
compare with.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import cmdindex
from tools.sim import DEFAULT_HEAP
from tools.vmodule import VirtualModule

REPO = Path(__file__).resolve().parent.parent


def read_logs(folder):
    """{state folder: (base, peak)} from the modules' heap logs."""
    found = {}
    for path in Path(folder).glob("*.heap"):
        base = peak = 0
        for line in path.read_text().splitlines():
            word, _, number = line.partition(" ")
            if word == "base":
                base = max(base, int(number))
            elif word == "peak":
                peak = max(peak, int(number))
        found[path.stem.replace("%", "/")] = (base, max(peak, base))
    return found


def _env(log, micropython, heapsize):
    env = dict(os.environ, ATSIM_HEAP_LOG=str(log))
    if micropython:
        env["ATSIM_MICROPYTHON"] = str(Path(micropython).resolve())
    if heapsize:
        env["ATSIM_HEAPSIZE"] = heapsize
    return env


def in_use(module):
    free = int(re.search(rb"\+SYSRAM:(\d+),", module.ok("AT+SYSRAM?")).group(1))
    total = int(re.search(rb"\+SYSRAM:\d+,\d+,\d+,(\d+)", module.ok("AT+SYSRAM=0x1800")).group(1))
    return total, total - free


def load_lazy_groups(module):
    """Import every group loaded on first use: its first command's test form
    (it imports the group, whether or not the form exists, and does nothing)."""
    groups, lazy = cmdindex.main_lists()
    for group in lazy:
        if (cmdindex.FIRMWARE / (group + ".py")).exists():
            rows, _ = cmdindex.group_table(group)
            module.at("AT%s=?" % rows[0][0])


def boot(micropython=None, heapsize=None):
    with tempfile.TemporaryDirectory(prefix="atram-") as tmp:
        log = Path(tmp) / "log"
        log.mkdir()
        saved = dict(os.environ)
        os.environ.update(_env(log, micropython, heapsize))  # the launcher's
        module = VirtualModule(Path(tmp) / "state", pace=False)
        try:
            try:
                module.start()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            module.ok("ATE0")
            total, after_boot = in_use(module)
            load_lazy_groups(module)
            _, all_loaded = in_use(module)
        finally:
            module.stop()
        (base, _), = read_logs(log).values()
    return {
        "heap_size_bytes": total,
        "base_bytes": base,
        "in_use_after_boot_bytes": after_boot,
        "firmware_after_boot_bytes": after_boot - base,
        "in_use_all_groups_loaded_bytes": all_loaded,
        "firmware_all_groups_loaded_bytes": all_loaded - base,
    }


def peak(pytest_args, micropython=None, heapsize=None):
    with tempfile.TemporaryDirectory(prefix="atram-") as tmp:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"] + (pytest_args or ["host_tests"])
        result = subprocess.run(command, cwd=REPO, env=_env(tmp, micropython, heapsize))
        logs = read_logs(tmp)
    if not logs:
        raise SystemExit("ram: no virtual module logged its heap")
    ranked = sorted(logs.items(), key=lambda kv: kv[1][1] - kv[1][0], reverse=True)
    state, (base, high) = ranked[0]
    return {
        "pytest_exit_status": result.returncode,
        "modules": len(logs),
        "base_bytes": max(b for b, _ in logs.values()),
        "peak_in_use_bytes": max(p for _, p in logs.values()),
        "peak_firmware_bytes": high - base,
        "highest": [[s, p - b] for s, (b, p) in ranked[:5]],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.ram", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("boot", "peak"))
    parser.add_argument("--micropython", help="the unix port to run (default: the launcher's)")
    parser.add_argument("--heapsize", help="heap size (default: the launcher's, %s)" % DEFAULT_HEAP)
    args, rest = parser.parse_known_args(argv)
    if args.what == "boot":
        if rest:
            parser.error("unexpected arguments: %s" % " ".join(rest))
        result = boot(args.micropython, args.heapsize)
    else:
        result = peak(rest, args.micropython, args.heapsize)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
