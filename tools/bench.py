"""Benchmarks of the virtual module: python -m tools.bench [--json]

Measured in one run on this machine, against a fresh virtual module:
- boot: seconds from launch to "ready";
- heap: MicroPython heap in use right after boot (AT+SYSRAM), the firmware
  loaded from .mpy files as on the chip (ATSIM_SOURCE=1: from source), how
  much of it the unix board's stand-in modules take (they are built into the
  chip's firmware, so the chip does not pay for them), and the heap size;
- latency: AT -> OK round trip, median and 99th percentile, over the pty
  both paced at 115200 baud (what a host sees) and unpaced (the firmware's
  own cost); and the floor of an unpaced one: the same 4 bytes through the
  ceiling's relay (below) to a loopback echo process and back, with no
  launcher nor firmware (passive mode makes a round trip per command);
- data: throughput of passthrough (host -> network and network -> host),
  active +IPD (network -> host) and passive mode (AT+CIPRECVDATA, network
  -> host), unpaced with RTS/CTS, against a peer on 127.0.0.1; each beside
  its ceiling, the same bytes copied by a relay process between a pty of
  the same kind and a loopback socket, in the chunk sizes the launcher and
  the firmware use, with the same host and peer code, in the same run (a
  ceiling transfer before each transfer through the module);
- heap per KB forwarded: micropython.mem_total() (every byte allocated,
  frames freed at once included) read over the launcher's control port
  before and after each transfer, per KB moved; "over_idle" subtracts what
  the module allocates in the same time when no data flows (its periodic
  Wi-Fi and status polling, measured beforehand).

Throughputs are in MB/s of payload (10^6 bytes), the median of REPEAT
transfers of TRANSFER bytes each after a warm-up; the heap figures count
all REPEAT transfers. ATSIM_HEAPSIZE sets the heap, as for tools.sim.
"""

import argparse
import json
import os
import re
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from pathlib import Path

from tools import deploy
from tools.sim import DEFAULT_HEAP, ENTRY, default_micropython
from tools.vmodule import VirtualModule

# Heap taken by the unix board's stand-ins, measured in a bare interpreter.
STANDINS = """
import gc, sys
sys.path[:0] = ["boards/unix", ""]  # as the launcher runs them, from the tree's root
gc.collect()
before = gc.mem_alloc()
import simlink, machine, esp32, network, socket, board
gc.collect()
print(gc.mem_alloc() - before)
"""

ROUND_TRIPS = 500
HEAP = os.environ.get("ATSIM_HEAPSIZE") or DEFAULT_HEAP  # what tools.sim will use
TRANSFER = 10 * 1024 * 1024
WARMUP = 1024 * 1024
REPEAT = 5
CHUNK = 65536  # host reads and writes of the pty (the launcher reads as much)
FLOW = "AT+UART_CUR=115200,8,1,0,3"  # RTS/CTS: unpaced, a host that lags holds the module back


def heap_bytes(size):
    size = size.upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(size[-1], 1)
    return int(size.rstrip("KM")) * scale


def standins_heap(folder):
    # The same files as the modules run: build/mpy/ (which the launcher
    # has compiled by now) unless from source.
    root = deploy.REPO if os.environ.get("ATSIM_SOURCE") == "1" else deploy.MPY_TREE
    env = dict(os.environ, ATSIM_STATE=str(folder))
    command = [default_micropython(), "-X", "heapsize=" + HEAP, "-c", STANDINS]
    return int(subprocess.run(command, env=env, cwd=root, capture_output=True, check=True, text=True).stdout)


def round_trips(module, count):
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        module.at("AT")
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 3), "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3)}


def measure(folder):
    results = {"heap_size_bytes": heap_bytes(HEAP)}
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
    results["relay_round_trip_unpaced"] = relay_round_trips(ROUND_TRIPS)
    return results


# -- data ------------------------------------------------------------------


class Peer:
    """A TCP server on 127.0.0.1 with one connection: counts what it
    receives, sends on request (threads)."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.sock = None
        self.received = 0
        self.changed = threading.Condition()

    def accept(self):
        self.sock, _ = self.server.accept()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                n = len(self.sock.recv(CHUNK))
            except OSError:
                n = 0
            with self.changed:
                self.received += n if n else 0
                self.changed.notify_all()
            if not n:
                return

    def wait_received(self, count, timeout=60):
        with self.changed:
            if not self.changed.wait_for(lambda: self.received >= count, timeout):
                raise RuntimeError("the peer got %d of %d bytes" % (self.received, count))

    def send_async(self, data):
        threading.Thread(target=self.sock.sendall, args=(data,), daemon=True).start()

    def close(self):
        for s in (self.sock, self.server):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


def pty_write(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view[:CHUNK]) :]
        except BlockingIOError:
            select.select([], [fd], [], 1)


def pty_read(fd, count, timeout=60):
    """Read count bytes (thrown away); returns the time the last came."""
    deadline = time.monotonic() + timeout
    while count > 0:
        try:
            count -= len(os.read(fd, min(CHUNK, count)))
            continue
        except BlockingIOError:
            pass
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise RuntimeError("the host is %d bytes short" % count)
    return time.perf_counter()


IPD = re.compile(rb"\r\n\+IPD,(\d+):")


def ipd_read(fd, count, timeout=60):
    """Read +IPD frames until count payload bytes came."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    got = 0
    while got < count:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise RuntimeError("the host is %d payload bytes short" % (count - got))
        try:
            buf += os.read(fd, CHUNK * 4)
        except BlockingIOError:
            continue
        i = 0
        while True:
            m = IPD.search(buf, i)
            if m is None or len(buf) < m.end() + int(m.group(1)):
                break
            got += int(m.group(1))
            i = m.end() + int(m.group(1))
        del buf[:i]
    return time.perf_counter()


def passive_read(module, count):
    """AT+CIPRECVDATA each time +IPD,<n> announces data."""
    notice = re.compile(rb"\r\n\+IPD,(\d+)\r\n")
    header = re.compile(rb"\+CIPRECVDATA:(\d+),")
    got = 0
    while got < count:
        module.read_until(notice, 10)
        module.write(b"AT+CIPRECVDATA=65536\r\n")
        n = int(header.search(module.read_until(header, 10)).group(1))
        module.read_exactly(n + 6)  # the data and \r\nOK\r\n
        got += n
    return time.perf_counter()


def to_network(fd, peer, data):
    target = peer.received + len(data)
    start = time.perf_counter()
    threading.Thread(target=pty_write, args=(fd, data), daemon=True).start()
    peer.wait_received(target)
    return len(data) / (time.perf_counter() - start) / 1e6


def to_host(peer, data, read):
    start = time.perf_counter()
    peer.send_async(data)
    return len(data) / (read(len(data)) - start) / 1e6


def firmware_sizes():
    """(transmit buffer, ring slot) as firmware/links.py sets them: the
    largest write to a socket and the largest read from one."""
    text = (ENTRY.parent.parent.parent / "firmware" / "links.py").read_text()
    tx = int(re.search(r"^_TX_SIZE = const\((\d+)\)", text, re.M).group(1))
    slot = int(re.search(r"^IPD_MAX = const\((\d+)\)", text, re.M).group(1))
    return tx, slot


RELAY = r"""
import os, socket, sys, threading, tty
master, slave = os.openpty()
tty.setraw(slave)
os.set_blocking(master, True)
print(os.ttyname(slave), flush=True)
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def up():  # the pty read as the launcher reads it, sent as the firmware sends
    while True:
        data = memoryview(os.read(master, %(launcher)d))
        for i in range(0, len(data), %(packet)d):
            sock.sendall(data[i : i + %(packet)d])

def down():  # received in the firmware's slots, written to the pty
    while True:
        data = memoryview(sock.recv(%(slot)d))
        if not data:
            return
        while data:
            data = data[os.write(master, data) :]

threading.Thread(target=up, daemon=True).start()
down()
""" % {"launcher": 65536, "packet": firmware_sizes()[0], "slot": firmware_sizes()[1]}


ECHO = r"""
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
while True:
    data = conn.recv(65536)
    if not data:
        break
    conn.sendall(data)
"""


def relay_round_trips(count):
    """The floor of an AT round trip: b"AT\r\n" through the ceiling's relay
    to an echo process and back."""
    echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    port = int(echo.stdout.readline())
    relay = subprocess.Popen([sys.executable, "-c", RELAY, str(port)], stdout=subprocess.PIPE, text=True)
    fd = os.open(relay.stdout.readline().strip(), os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    try:
        samples = []
        for i in range(count + 50):  # 50 to warm up
            start = time.perf_counter()
            pty_write(fd, b"AT\r\n")
            samples.append((pty_read(fd, 4, 10) - start) * 1000)
        samples = sorted(samples[50:])
    finally:
        os.close(fd)
        for proc in (relay, echo):
            proc.kill()
            proc.wait()
    return {"median_ms": round(statistics.median(samples), 3), "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3)}


class Relay:
    """The ceiling: a relay process copying between a pty and a loopback
    socket, driven by the same host and peer code as the module."""

    def __init__(self):
        self.peer = Peer()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RELAY, str(self.peer.port)], stdout=subprocess.PIPE, text=True
        )
        device = self.proc.stdout.readline().strip()
        self.peer.accept()
        self.fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd)

    def to_network(self, data):
        return to_network(self.fd, self.peer, data)

    def to_host(self, data):
        return to_host(self.peer, data, lambda n: pty_read(self.fd, n))

    def close(self):
        os.close(self.fd)
        self.proc.kill()
        self.proc.wait()
        self.peer.close()


def heap_total(module):
    return int(module.control("heap").split()[1])


def idle_rate(module, seconds=2.0):
    before = heap_total(module)
    time.sleep(seconds)
    return (heap_total(module) - before) / seconds


def data_figures(folder):
    """Each figure: REPEAT rounds of one ceiling transfer and one through
    the module, so that both see the same load on the machine."""
    payload = os.urandom(TRANSFER)
    relay = Relay()
    module = VirtualModule(Path(folder) / "data", pace=False).start()
    peer = Peer()
    figures = {}
    try:
        relay.to_network(payload[:WARMUP])
        relay.to_host(payload[:WARMUP])
        module.ok("ATE0")
        module.buffer = b""
        reply = module.at('AT+CWJAP="OpenNet",""', 20)
        assert reply.endswith(b"WIFI GOT IP\r\n\r\nOK\r\n"), reply
        module.ok(FLOW)
        command_idle = idle_rate(module)
        probe = -heap_total(module) + heap_total(module)  # what one reading allocates
        fd = module.fd

        def figure(name, run, ceiling, idle_per_s):
            speeds, ceilings = [], []
            allocated = seconds = 0
            for _ in range(REPEAT):
                ceilings.append(ceiling(payload))
                before = heap_total(module)
                start = time.perf_counter()
                speeds.append(run())
                seconds += time.perf_counter() - start
                allocated += heap_total(module) - before - probe
            kb = REPEAT * TRANSFER / 1024
            speed, top = statistics.median(speeds), statistics.median(ceilings)
            figures[name] = {
                "MB_per_s": round(speed, 1),
                "ceiling_MB_per_s": round(top, 1),
                "of_ceiling": round(speed / top, 2),
                "heap_bytes_per_kb": round(allocated / kb, 2),
                "heap_bytes_per_kb_over_idle": round(max(0.0, allocated - idle_per_s * seconds) / kb, 2),
            }

        # Passthrough.
        module.ok("AT+CIPMODE=1")
        module.write(b'AT+CIPSTART="TCP","127.0.0.1",%d\r\n' % peer.port)
        peer.accept()
        module.read_until(b"\r\nOK\r\n")
        module.write(b"AT+CIPSEND\r\n")
        module.read_until(b">")
        passthrough_idle = idle_rate(module)
        to_network(fd, peer, payload[:WARMUP])
        figure("passthrough_host_to_network", lambda: to_network(fd, peer, payload), relay.to_network, passthrough_idle)
        to_host(peer, payload[:WARMUP], lambda n: pty_read(fd, n))
        figure(
            "passthrough_network_to_host",
            lambda: to_host(peer, payload, lambda n: pty_read(fd, n)),
            relay.to_host,
            passthrough_idle,
        )
        time.sleep(0.1)
        module.write(b"+++")
        time.sleep(1.1)
        module.buffer = b""
        module.ok("AT+CIPMODE=0")

        # Active +IPD, then passive mode, on the same link.
        to_host(peer, payload[:WARMUP], lambda n: ipd_read(fd, n))
        figure(
            "ipd_network_to_host", lambda: to_host(peer, payload, lambda n: ipd_read(fd, n)), relay.to_host, command_idle
        )
        module.buffer = b""
        module.ok("AT+CIPRECVMODE=1")
        to_host(peer, payload[:WARMUP], lambda n: passive_read(module, n))
        figure(
            "passive_network_to_host",
            lambda: to_host(peer, payload, lambda n: passive_read(module, n)),
            relay.to_host,
            command_idle,
        )
        figures["heap_alloc_idle_bytes_per_s"] = {
            "command_mode": round(command_idle),
            "passthrough": round(passthrough_idle),
        }
        figures["data_transfer_bytes"] = TRANSFER
        figures["data_repeats"] = REPEAT
        tx, slot = firmware_sizes()
        figures["data_chunk_bytes"] = {"pty_read": 65536, "socket_write": tx, "socket_read": slot}
    finally:
        module.stop()
        peer.close()
        relay.close()
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="atbench-") as folder:
        results = measure(folder)
        results.update(data_figures(folder))
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        for key, value in sorted(results.items()):
            print("%-32s %s" % (key, value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
