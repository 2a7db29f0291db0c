"""Type-check firmware/ against the ESP32's MicroPython stubs, not CPython.

    python -m tools.typecheck

mypy treats modules such as time, socket, select, os or sys as standard
library and looks for them only in its typeshed, so the MicroPython stubs
have to *be* the typeshed: this builds one in build/typeshed from the two
installed stub packages (micropython-stdlib-stubs' reduced typeshed, then
every module of micropython-esp32-stubs laid over it, with a VERSIONS file
naming exactly those modules) and runs mypy with mypy.ini, which points
custom_typeshed_dir there and turns site-packages off. A module the chip
does not have (threading, pathlib, pytest, ...) is then simply not found.

The typeshed also carries helper modules that mypy needs but the chip does
not have (typing, abc, enum, types, ...): a second check reads firmware's
import statements and accepts only modules the ESP32 firmware provides.
Only firmware/ is checked: boards/, tools/ and host_tests/ run on the host.
"""

import ast
import os
import shutil
import sys
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
TYPESHED = REPO / "build" / "typeshed"
PORT_STUBS = "micropython-esp32-stubs"
STDLIB_STUBS = "micropython-stdlib-stubs"
NOT_MODULES = {"__builtins__", "_mpy_shed"}  # stub helpers, not importable on the chip


def stub_files(dist):
    """(relative path, installed file) for each .pyi of an installed distribution."""
    for f in metadata.files(dist) or ():
        if f.suffix == ".pyi":
            yield Path(*f.parts), Path(f.locate())


def top_modules(folder):
    return {p.stem if p.suffix == ".pyi" else p.name for p in folder.iterdir()
            if p.suffix == ".pyi" or (p / "__init__.pyi").exists()}


def build_typeshed():
    shutil.rmtree(TYPESHED, ignore_errors=True)
    stdlib = TYPESHED / "stdlib"
    port = set()
    for dist in (STDLIB_STUBS, PORT_STUBS):  # the port's stubs win
        for rel, src in stub_files(dist):
            if rel.parts[0] == "stubs":  # typeshed's third-party part (mypy-extensions)
                dest = TYPESHED / rel
            elif rel.parts[0] == "stdlib":  # micropython-stdlib-stubs' reduced typeshed
                dest = TYPESHED / rel
            else:  # flat modules: _mpy_shed, and every module of the port
                dest = stdlib / rel
                if dist == PORT_STUBS:
                    port.add(rel.parts[0].removesuffix(".pyi"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
    if not port:
        sys.exit(f"typecheck: {PORT_STUBS} is not installed (run ./setup.sh)")
    names = sorted(top_modules(stdlib))
    (stdlib / "VERSIONS").write_text("".join(f"{name}: 3.0-\n" for name in names))
    # On the chip: the port's modules, and the standard ones it has under a
    # u-prefixed alias too (uos -> os, usys -> sys, ustruct -> struct, ...).
    on_chip = {m for m in port if m not in NOT_MODULES}
    on_chip |= {m[1:] for m in port if m.startswith("u") and m[1:] in names}
    return on_chip


def foreign_imports(on_chip):
    """firmware's imports of modules the ESP32 does not have, as mypy-style lines."""
    allowed = on_chip | {"firmware"}
    for path in sorted(FIRMWARE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] not in allowed:
                    rel = path.relative_to(REPO)
                    yield f'{rel}:{node.lineno}: error: module "{name}" does not exist on the ESP32'


def main():
    from mypy import api

    os.chdir(REPO)  # mypy.ini's paths are relative to the repository
    on_chip = build_typeshed()
    stdout, stderr, status = api.run(["--config-file", str(REPO / "mypy.ini")])
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    foreign = list(foreign_imports(on_chip))
    for line in foreign:
        print(line)
    if foreign:
        print(f"typecheck: {len(foreign)} import(s) of modules the ESP32 does not have")
    return 1 if foreign else status


if __name__ == "__main__":
    sys.exit(main())
