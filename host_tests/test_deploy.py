"""tools/deploy end to end, against a real MicroPython (the unix port) that
plays the chip, and checks of the board files, package.json and manifest.py.

The virtual chip (VirtualChip below) is as close to the ESP32's boot as the
unix port allows, and no closer:

- its REPL is the unix port's REPL on a pty that socat serves (the chip's
  UART0/USB); mpremote, and so tools/deploy, reach it through the raw REPL
  and raw-paste mode, as on the chip;
- its filesystem is a folder, the process's working directory, so a deployed
  file is a file there and its sys.path is ['<root>', '.frozen', 'lib'] like
  the chip's ['', '.frozen', '/lib'] (the repository is not on it);
- "boot" starts the process with main.py when there is one and the REPL
  after it (micropython -i main.py), as the ESP32 port runs main.py and then
  the REPL; a power cycle is a new process;
- its AT UART (UART1) is the loopback connection that boards/unix's stand-in
  machine.UART opens (tools/sim would normally accept it; here the test
  does), so AT commands go to the deployed firmware and nowhere else.

What it does not cover: the ESP32 port's flash filesystem and its
machine.reset() (the unix target is not reset; the test power-cycles), the
soft reset mpremote does by default (tools/deploy never uses it), and real
UART timing.
"""

import ast
import hashlib
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tools import deploy as deploy_tool
from tools.sim import DEFAULT_HEAP

REPO = Path(__file__).resolve().parent.parent
MICROPYTHON = str(Path(sys.executable).parent / "micropython")
EPOCH = 1767225600  # 2026-01-01 00:00:00 UTC


def firmware_modules():
    return sorted(p.stem for p in (REPO / "firmware").glob("*.py"))


FINAL = re.compile(rb"\r\n(OK|ERROR)\r\n")
CHIP_BOARDS = sorted(p.stem for p in (REPO / "boards").glob("*.py") if p.stem != "__init__")


class VirtualChip:
    def __init__(self, tmp_path):
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.device = str(tmp_path / "repl")
        self.log = open(tmp_path / "socat.log", "ab")
        self.proc = None
        self.repl = None
        self.uart = None

    def boot(self):
        """Power on: main.py (if any), then the REPL."""
        self.uart_listener = self._listen()
        self.control_listener = self._listen()
        script = " -i main.py" if (self.root / "main.py").exists() else ""
        env = dict(
            os.environ,
            MICROPYPATH=".frozen:lib",
            ATSIM_UART_PORT=str(self.uart_listener.getsockname()[1]),
            ATSIM_CONTROL_PORT=str(self.control_listener.getsockname()[1]),
            # What tools/sim hands its firmware process; the paths are in the
            # device root (the world file is deployed with boards/unix/).
            ATSIM_STATE=".",
            ATSIM_WORLD="world.json",
            ATSIM_AIR="air",
        )
        if os.path.lexists(self.device):
            os.unlink(self.device)
        # rawer on both ptys: no echo, no CR/LF mapping (mpremote's raw REPL
        # needs the bytes as sent); isig=1 on the REPL's own pty so that a
        # Ctrl-C raises KeyboardInterrupt in running code, as on the chip.
        self.proc = subprocess.Popen(
            ["socat", "PTY,link=%s,rawer" % self.device,
             "EXEC:%s -X heapsize=%s%s,pty,setsid,ctty,rawer,isig=1,stderr" % (MICROPYTHON, DEFAULT_HEAP, script)],
            cwd=self.root, env=env, stdout=self.log, stderr=self.log,
        )
        deadline = time.monotonic() + 10
        while not os.path.exists(self.device):
            assert self.proc.poll() is None and time.monotonic() < deadline, "socat did not start"
            time.sleep(0.02)
        self.repl = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.repl_buffer = b""
        if not script:
            # Until the REPL runs, a Ctrl-C (which mpremote sends first) is a
            # SIGINT that MicroPython has no handler for yet: it would end
            # the process. A chip just ignores it during boot.
            self.read_repl(b">>> ")
        return self

    @staticmethod
    def _listen():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        return s

    def power_off(self):
        if self.uart is not None:
            self.uart.close()
            self.uart = None
        if self.repl is not None:
            os.close(self.repl)
            self.repl = None
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        for s in (self.uart_listener, self.control_listener):
            s.close()

    def power_cycle(self):
        self.power_off()
        return self.boot()

    def read_repl(self, until, timeout=10):
        """REPL output up to and including `until` (bytes)."""
        deadline = time.monotonic() + timeout
        while until not in self.repl_buffer:
            assert time.monotonic() < deadline, "REPL said %r, not %r" % (self.repl_buffer, until)
            try:
                self.repl_buffer += os.read(self.repl, 4096)
            except BlockingIOError:
                time.sleep(0.02)
        end = self.repl_buffer.index(until) + len(until)
        head, self.repl_buffer = self.repl_buffer[:end], self.repl_buffer[end:]
        return head

    def engine(self, timeout=10):
        """Wait for the AT engine to open its UART and say ready."""
        self.uart_listener.settimeout(timeout)
        self.uart, _ = self.uart_listener.accept()
        self.control_listener.settimeout(timeout)
        self.control, _ = self.control_listener.accept()
        self.uart.settimeout(timeout)
        self.buffer = b""
        self.read_until(b"\r\nready\r\n")
        return self

    def engine_started(self, wait):
        self.uart_listener.settimeout(wait)
        try:
            conn, _ = self.uart_listener.accept()
        except socket.timeout:
            return False
        conn.close()
        return True

    def read_until(self, marker):
        """AT UART bytes up to marker (bytes, or a compiled pattern)."""
        while True:
            m = marker.search(self.buffer) if hasattr(marker, "search") else None
            if m or (m is None and not hasattr(marker, "search") and marker in self.buffer):
                end = m.end() if m else self.buffer.index(marker) + len(marker)
                head, self.buffer = self.buffer[:end], self.buffer[end:]
                return head
            chunk = self.uart.recv(4096)
            assert chunk, "the AT UART closed; got %r" % self.buffer
            self.buffer += chunk

    def at(self, command, data=None):
        """Send a command (and after its '>' the data); its reply up to the
        final OK or ERROR."""
        self.uart.sendall(command + b"\r\n")
        if data is not None:
            self.read_until(b">")
            self.uart.sendall(data)
        return self.read_until(FINAL)

    def silent(self, command, wait=0.5):
        """True if the module does not answer the command."""
        self.uart.sendall(command + b"\r\n")
        self.uart.settimeout(wait)
        try:
            return not self.uart.recv(4096)
        except socket.timeout:
            return True
        finally:
            self.uart.settimeout(10)

    def files(self):
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())


@pytest.fixture
def chip(tmp_path):
    c = VirtualChip(tmp_path).boot()
    yield c
    c.power_off()
    c.log.close()


def run_deploy(chip, *args, epoch=EPOCH):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(epoch))
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy", "--port", chip.device] + list(args),
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )


def mpremote(chip, *args):
    """mpremote itself, entered as tools/deploy does (resume: no soft reset,
    which would end the unix port's process)."""
    result = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", chip.device, "resume"] + list(args),
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def deployed_files():
    unix = sorted(p for p in (REPO / "boards" / "unix").iterdir() if p.suffix in (".py", ".csv", ".json"))
    standins = [p.stem + ".mpy" if p.suffix == ".py" else p.name for p in unix if p.name != "main.py"]
    firmware = ["firmware/%s.mpy" % m for m in firmware_modules()]
    return sorted(["main.py", "at_deploy.json", "boards/__init__.mpy", "boards/esp32_wroom_32.mpy"] + standins + firmware)


# -- end to end ------------------------------------------------------------------


def test_deploy_installs_mpy_files_and_boot_runs_them(chip):
    # Leftovers on the board: an old source module that would shadow the
    # deployed .mpy (MicroPython tries x.py before x.mpy), and a user's file.
    (chip.root / "firmware").mkdir()
    (chip.root / "firmware" / "at.py").write_text("raise ImportError('stale source')\n")
    (chip.root / "boot.py").write_text("# the user's\n")

    result = run_deploy(chip, "--board", "unix", "--no-reset")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "remove firmware/at.py" in result.stdout
    assert "micropython-lib packages: none needed" in result.stdout
    n = len(deployed_files()) - 1  # the record is not counted
    assert "%d of %d files copied" % (n, n) in result.stdout
    assert chip.files() == sorted(deployed_files() + ["boot.py"])
    assert (chip.root / "boot.py").read_text() == "# the user's\n"

    # Every module is .mpy version 6 bytecode without native code (flags byte
    # 0: no architecture), so the same files serve the Xtensa and RISC-V
    # chips, with small ints of at most 31 bits (a 32-bit chip's).
    for path in chip.root.rglob("*.mpy"):
        header = path.read_bytes()[:4]
        assert header[:3] == b"M\x06\x00" and header[3] <= 31, (path, header)
    record = json.loads((chip.root / "at_deploy.json").read_text())
    assert record["board"] == "unix"
    for name, digest in record["files"].items():
        assert hashlib.sha256((chip.root / name).read_bytes()).hexdigest() == digest, name
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0:
        assert record["build"] in (commit.stdout.strip(), commit.stdout.strip() + "-dirty")
    main_py = (chip.root / "main.py").read_text()
    assert main_py.startswith("# Installed by tools/deploy for board unix")
    assert "import board as board" in main_py and "main.start(board)" in main_py

    # Power-cycle: main.py starts the AT engine on the AT UART.
    chip.power_cycle().engine()
    gmr = chip.at(b"AT+GMR").decode()
    assert "AT version:4.1.1.0(%s - LINUX - Jan  1 2026 00:00:00)" % record["build"] in gmr
    assert "compile time(%s):Jan  1 2026 00:00:00" % record["build"] in gmr
    assert "Bin version:0.1.0(VIRTUAL)" in gmr
    # Its filesystem (AT+FS) is in the device root.
    assert chip.at(b'AT+FS=0,1,"hello.txt",0,5', data=b"world").endswith(b"\r\nOK\r\n")
    assert (chip.root / "fs" / "hello.txt").read_bytes() == b"world"

    # mpremote gets in while the engine runs (its Ctrl-C stops it, as on the
    # chip), and the process it stopped had loaded only deployed .mpy files.
    out = mpremote(chip, "exec", "import sys\nprint(repr(("
                   "[(n, m.__file__) for n, m in sys.modules.items() if n.startswith('firmware') or n == 'board'],"
                   " sys.path)))")
    loaded, path = ast.literal_eval(out.strip())
    names = {n for n, _ in loaded}
    assert {"board", "firmware", "firmware.main", "firmware.at", "firmware.basic", "firmware.version"} <= names, names
    for name, file in loaded:
        assert file.startswith(str(chip.root) + "/") and file.endswith(".mpy"), (name, file)
    assert not any(str(REPO) in p for p in path), path
    assert chip.silent(b"AT"), "the engine still answers after Ctrl-C"


def test_redeploy_copies_only_what_changed(chip):
    assert run_deploy(chip, "--board", "unix", "--no-reset").returncode == 0
    files = len(deployed_files()) - 1

    again = run_deploy(chip, "--board", "unix", "--no-reset")
    assert again.returncode == 0, again.stderr
    assert "0 of %d files copied (0 bytes), 0 removed, %d unchanged" % (files, files) in again.stdout

    # A module of an earlier deploy that is no longer part of the firmware.
    record = json.loads((chip.root / "at_deploy.json").read_text())
    (chip.root / "firmware" / "gone.mpy").write_bytes(b"M\x06\x03\x1f")
    record["files"]["firmware/gone.mpy"] = "0" * 64
    (chip.root / "at_deploy.json").write_text(json.dumps(record))
    before = {p: (chip.root / p).stat().st_mtime_ns for p in deployed_files() if p != "at_deploy.json"}

    # A new build date changes version.mpy and nothing else.
    newer = run_deploy(chip, "--board", "unix", "--no-reset", epoch=EPOCH + 86400)
    assert newer.returncode == 0, newer.stderr
    copied = re.findall(r"^  copy (\S+)", newer.stdout, re.M)
    assert copied == ["firmware/version.mpy"], newer.stdout
    assert "remove firmware/gone.mpy" in newer.stdout and not (chip.root / "firmware" / "gone.mpy").exists()
    assert "1 of %d files copied" % files in newer.stdout
    for p, mtime in before.items():
        if p != "firmware/version.mpy":
            assert (chip.root / p).stat().st_mtime_ns == mtime, p  # not rewritten

    chip.power_cycle().engine()
    assert "Jan  2 2026 00:00:00" in chip.at(b"AT+GMR").decode()


def test_at_off_keeps_the_engine_off_and_remove_takes_it_all_off(chip):
    assert run_deploy(chip, "--board", "unix", "--no-reset").returncode == 0
    (chip.root / "boot.py").write_text("# the user's\n")
    chip.power_cycle().engine()
    assert chip.at(b'AT+FS=0,1,"keep.txt",0,4', data=b"data").endswith(b"\r\nOK\r\n")

    mpremote(chip, "fs", "touch", ":at_off")
    chip.power_cycle()
    assert chip.read_repl(b"the AT engine is not started").endswith(b"at_off exists: the AT engine is not started")
    assert not chip.engine_started(wait=1.0)
    chip.read_repl(b">>> ")  # and the REPL is there

    mpremote(chip, "fs", "rm", ":at_off")
    chip.power_cycle().engine()

    result = run_deploy(chip, "--board", "unix", "--remove", "--no-reset")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "%d files removed" % (len(deployed_files()) - 1) in result.stdout
    # What remains is the user's (boot.py, the AT filesystem) and the
    # simulated chip's own state (its NVS and radio files, in the root here).
    left = chip.files()
    assert not set(left) & set(deployed_files()), left
    assert "boot.py" in left and (chip.root / "fs" / "keep.txt").read_bytes() == b"data"
    assert not (chip.root / "firmware").exists() and not (chip.root / "boards").exists()

    chip.power_cycle()
    assert not chip.engine_started(wait=1.0)
    assert mpremote(chip, "exec", "print(6 * 7)").strip() == "42"


def test_the_survey_is_read_as_a_chip_prints_it():
    """A chip's REPL ends its lines in CR LF; the record may be missing."""
    text = (
        "(2822, 'xtensawin', 'esp32', '3.4.0; MicroPython v1.29.0')\r\n"
        "%s firmware/at.mpy\r\nNone firmware/gone.mpy\r\n+\r\n{\"files\": {}}" % ("ab" * 32)
    )
    mpy, machine, platform, version, record, hashes = deploy_tool.parse_survey(text)
    assert (mpy, machine, platform) == (2822, "xtensawin", "esp32")
    assert hashes == {"firmware/at.mpy": "ab" * 32, "firmware/gone.mpy": None}
    assert json.loads(record) == {"files": {}}
    assert deploy_tool.parse_survey(text.split("+")[0] + "-\r\n")[4] is None


def test_refuses_a_board_file_for_another_chip(chip):
    result = run_deploy(chip, "--board", "esp32_wroom_32")
    assert result.returncode == 2
    assert re.fullmatch(
        r"deploy: error: board esp32_wroom_32 is for esp32, but this one is 'linux \[.*\] version' \(linux\): "
        r"pick the board file for it with --board",
        result.stderr.strip(),
    ), result.stderr
    assert chip.files() == []


def test_refuses_an_mpy_version_mismatch(chip, monkeypatch, capsys):
    # As if mpy-cross wrote .mpy 6.2 (MicroPython 1.22): the board reports 6.3.
    monkeypatch.setattr(deploy_tool, "mpy_cross_version", lambda: ("MicroPython v1.22.2", (6, 2)))
    assert deploy_tool.main(["--port", chip.device, "--board", "unix", "--no-reset"]) == 2
    err = capsys.readouterr().err
    assert re.search(
        r"deploy: error: the board's MicroPython \(MicroPython [^)]*\) loads \.mpy version 6\.3, "
        r"but mpy-cross \(MicroPython v1\.22\.2\) writes 6\.2: flash the matching MicroPython", err), err
    assert chip.files() == []


def test_frozen_needs_an_image_with_the_firmware_frozen_in(chip):
    # The pip unix port has nothing of ours frozen in: --frozen must refuse
    # rather than install a main.py that cannot import anything.
    result = run_deploy(chip, "--board", "unix", "--frozen", "--no-reset")
    assert result.returncode == 2
    assert "deploy: error: this MicroPython has no frozen firmware and board: build it with manifest.py" in result.stderr
    assert chip.files() == []


def test_no_repl_on_the_port(tmp_path):
    master, slave = os.openpty()  # a port nobody answers on
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tools.deploy", "--port", os.ttyname(slave), "--board", "unix"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 2
    assert "deploy: error: no MicroPython REPL answers on" in result.stderr
    missing = subprocess.run([sys.executable, "-m", "tools.deploy", "--port", str(tmp_path / "none")],
                             cwd=REPO, capture_output=True, text=True)
    assert missing.returncode == 2 and "deploy: error: no serial port" in missing.stderr


def test_micropython_lib_deps_are_installed_with_mip(chip, tmp_path, monkeypatch):
    """The mip path, with a package index served on loopback: package.json's
    deps go to lib/ with `mpremote mip install`, and only once."""
    module = b"HELLO = 'from lib'\n"
    mpy = deploy_tool.compile_py(module.decode(), "greeting.py")
    short = hashlib.sha256(mpy).hexdigest()[:8]
    index = tmp_path / "index"
    (index / "package" / "6" / "greeting").mkdir(parents=True)
    (index / "package" / "6" / "greeting" / "latest.json").write_text(
        json.dumps({"hashes": [["greeting.mpy", short]], "version": "1.0"}))
    (index / "file" / short[:2]).mkdir(parents=True)
    (index / "file" / short[:2] / short).write_bytes(mpy)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(index), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    package_json = tmp_path / "package.json"
    package_json.write_text(json.dumps({"urls": [], "deps": [["greeting", "latest"]], "version": "0.1.0"}))
    monkeypatch.setattr(deploy_tool, "PACKAGE_JSON", package_json)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        deploy_tool.deploy(chip.device, "unix", reset=False, mip_index=url)
        assert (chip.root / "lib" / "greeting.mpy").read_bytes() == mpy
        assert mpremote(chip, "exec", "import greeting\nprint(greeting.HELLO, greeting.__file__)").split() == [
            "from", "lib", "lib/greeting.mpy"]
        stamp = (chip.root / "lib" / "greeting.mpy").stat().st_mtime_ns
        deploy_tool.deploy(chip.device, "unix", reset=False, mip_index=url)
        assert (chip.root / "lib" / "greeting.mpy").stat().st_mtime_ns == stamp  # mip found it there
    finally:
        server.shutdown()


def test_package_json_installs_with_mip(chip):
    """What `mpremote mip install github:OWNER/REPO` reads: this package.json,
    with URLs relative to it. Installed here from the checkout."""
    assert (REPO / "package.json").read_text() == deploy_tool.package_json_text(), (
        "package.json is out of date: python -m tools.deploy --package-json")
    package = json.loads((REPO / "package.json").read_text())
    version = re.search(r'^BIN_VERSION = "(.*)"', (REPO / "firmware" / "version.py").read_text(), re.M).group(1)
    assert package["version"] == version
    assert package["deps"] == []  # the firmware uses only modules built into the ESP32 port
    out = subprocess.run(
        [sys.executable, "-m", "mpremote", "connect", chip.device, "resume", "mip", "install", "--target", "lib",
         "./package.json"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for dest, _ in package["urls"]:
        assert (chip.root / "lib" / dest).read_bytes() == (REPO / dest).read_bytes(), dest
    # Modules that need no chip (the others import machine and esp32).
    loaded = mpremote(chip, "exec", "import firmware.version as v, boards.esp32_c3_mini_1 as b\n"
                                    "print(v.__file__, v.BIN_VERSION, b.__file__, b.TX, b.RX)")
    assert loaded.split() == ["lib/firmware/version.py", version, "lib/boards/esp32_c3_mini_1.py", "7", "6"]


# -- build, boards, manifest, measurements -----------------------------------------


# GPIOs each chip has, and those a board file must not use for the AT UART:
# SPI flash/PSRAM, the REPL's UART0 and USB, strapping pins.
CHIPS = {
    "esp32": (set(range(0, 34)) - {20, 24, 28, 29, 30, 31} | set(range(34, 40)),
              {6, 7, 8, 9, 10, 11, 1, 3, 0, 2, 12}),
    "esp32c3": (set(range(0, 22)), {11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 2, 8, 9}),
    "esp32s3": (set(range(0, 22)) | set(range(26, 49)),
                set(range(26, 38)) | {19, 20, 43, 44, 0, 3, 45, 46}),
}


@pytest.mark.parametrize("name", CHIP_BOARDS)
def test_board_files(name):
    board = {}
    exec((REPO / "boards" / (name + ".py")).read_text(), board)
    chip = board.get("CHIP", "esp32")
    gpios, reserved = CHIPS[chip]
    pins = [board[k] for k in ("TX", "RX", "CTS", "RTS")]
    assert len(set(pins)) == 4 and set(pins) <= gpios and not set(pins) & reserved, pins
    assert board["AT_UART"] == 1 and board["BAUDRATE"] == 115200 and board["FS_ROOT"] == "/at_fs"
    if board["ETH_PHY"] is not None:
        assert chip == "esp32"  # the only one of these with an Ethernet MAC
        eth = [board[k] for k in ("ETH_MDC", "ETH_MDIO", "ETH_POWER", "ETH_REF_CLK")]
        assert not set(eth) & set(pins) and board["ETH_PHY"] in ("IP101", "LAN8720", "RTL8201", "DP83848")
    # tools/deploy picks it for its chip and builds it.
    target = deploy_tool.pick_target(None, chip)
    assert target.name == name and target.chip == chip
    tree, _, _ = deploy_tool.build(target)
    assert "boards/%s.mpy" % name in tree and "import boards.%s as board" % name in tree["main.py"].decode()
    assert {"firmware/%s.mpy" % m for m in firmware_modules()} <= set(tree)


def test_board_pins_are_esp_ats():
    """ESP-AT's defaults (factory_param_data.csv; its hardware-connection
    guide): WROOM-32 TX 17 RX 16 CTS 15 RTS 14, C3 MINI-1 TX 7 RX 6 CTS 5
    RTS 4; Ethernet (at_eth_init.c): IP101, addr 1, MDC 23, MDIO 18, reset 5."""
    def load(name):
        board = {}
        exec((REPO / "boards" / (name + ".py")).read_text(), board)
        return board

    wroom, c3 = load("esp32_wroom_32"), load("esp32_c3_mini_1")
    assert [wroom[k] for k in ("TX", "RX", "CTS", "RTS")] == [17, 16, 15, 14]
    assert [c3[k] for k in ("TX", "RX", "CTS", "RTS")] == [7, 6, 5, 4] and c3["NAME"] == "MINI-1"
    assert [wroom[k] for k in ("ETH_PHY", "ETH_PHY_ADDR", "ETH_MDC", "ETH_MDIO", "ETH_POWER")] == ["IP101", 1, 23, 18, 5]


def test_manifest_freezes_the_firmware_and_the_chip_boards(tmp_path):
    """manifest.py run the way MicroPython's tools/manifestfile.py runs one
    (its directory as the working directory, package() taking every .py
    below the package, or the files listed)."""
    calls = []
    frozen = []

    def package(path, files=None, base_path=".", opt=None):
        base = REPO / base_path
        if files is None:
            found = sorted(p.relative_to(base).as_posix() for p in (base / path).rglob("*.py"))
        else:
            found = ["%s/%s" % (path, f) for f in files]
        for f in found:
            assert (base / f).is_file(), f
        frozen.extend(found)

    env = {
        "metadata": lambda **kw: calls.append(("metadata", kw)),
        "include": lambda p, **kw: calls.append(("include", p)),
        "require": lambda name, **kw: calls.append(("require", name)),
        "package": package,
        "module": lambda p, **kw: calls.append(("module", p)),
        "freeze": lambda p, **kw: calls.append(("freeze", p)),
    }
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        exec(compile((REPO / "manifest.py").read_text(), "manifest.py", "exec"), env)
    finally:
        os.chdir(cwd)
    assert calls[0][0] == "metadata"
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls
    assert [c for c in calls if c[0] == "require"] == [("require", d[0]) for d in json.loads((REPO / "package.json").read_text())["deps"]]
    expected = ["firmware/%s.py" % m for m in firmware_modules()] + ["boards/__init__.py"] + ["boards/%s.py" % b for b in CHIP_BOARDS]
    assert sorted(frozen) == sorted(expected)


def test_ram_measurements_hold():
    """The README's comparison, re-measured on the unix port: run in place
    from ROMFS the firmware holds far less heap than loaded from .mpy files;
    .mpy files are under half the source's size, and importing them needs a
    smaller heap than compiling the source does."""
    m = deploy_tool.measure(min_heap=True)
    assert m["romfs"]["heap"] < 0.8 * m["mpy"]["heap"], m
    assert m["mpy"]["bytes"] * 2 < m["py"]["bytes"], m
    assert m["romfs"]["min_heap"] < m["mpy"]["min_heap"] < m["py"]["min_heap"], m
    assert m["base"]["min_heap"] < m["romfs"]["min_heap"], m
    assert m["romfs"]["from"].startswith("/rom/firmware/") and m["mpy"]["from"].endswith(".mpy"), m
    assert m["py"]["from"].endswith("/py/firmware/main.py"), m
