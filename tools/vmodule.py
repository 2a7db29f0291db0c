"""Drive a virtual module (python -m tools.sim) through its pty, byte for byte.

Used by the tests and the benchmark; also a small example of an AT host."""

import os
import re
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FINAL = re.compile(rb"\r\n(OK|ERROR|SEND OK|SEND FAIL|busy p\.\.\.)\r\n")


class Timeout(AssertionError):
    pass


class VirtualModule:
    """One launcher process and the host end of its pty."""

    def __init__(self, state, pace=True, extra_args=(), log_path=None):
        self.state = Path(state)
        self.pace = pace
        self.extra_args = list(extra_args)
        self.log_path = Path(log_path or self.state.parent / (self.state.name + ".log"))
        self.buffer = b""
        self.proc = None
        self.fd = None

    # -- life cycle -------------------------------------------------------

    def start(self, wait_ready=True):
        command = [sys.executable, "-m", "tools.sim", "--state", str(self.state)]
        if not self.pace:
            command.append("--no-pace")
        command += self.extra_args
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log)
        first = self.proc.stdout.readline().decode().split()
        second = self.proc.stdout.readline().decode().split()
        assert first[0] == "PTY", first
        assert second[0] == "CONTROL", second
        self.device = first[1]
        self.control_port = int(second[1])
        self.fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        attrs = termios.tcgetattr(self.fd)
        attrs[0] = attrs[1] = attrs[3] = 0  # raw: no echo, no CR/LF mapping
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)  # TCSANOW keeps "ready"
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        self.read_until(b"\r\nready\r\n", timeout)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.proc is not None:
            self.proc.stdout.close()
            self.log.close()
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def firmware_pid(self):
        return int((self.state / "module.pid").read_text())

    def control(self, line):
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=5) as s:
            s.sendall(line.encode() + b"\n")
            return s.makefile().readline().strip()

    # -- bytes ------------------------------------------------------------

    def write(self, data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 1)  # room again once the launcher has read (RTS lifted)
                continue
            view = view[n:]

    def _fill(self, deadline):
        """Wait for more bytes until the deadline; False if none came."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                chunk = b""
            if chunk:
                self.buffer += chunk
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            select.select([self.fd], [], [], remaining)

    def read_until(self, marker, timeout=10):
        """Everything up to and including the marker (bytes or regex)."""
        deadline = time.monotonic() + timeout
        while True:
            if isinstance(marker, bytes):
                i = self.buffer.find(marker)
                end = i + len(marker) if i >= 0 else -1
            else:
                m = marker.search(self.buffer)
                end = m.end() if m else -1
            if end >= 0:
                out, self.buffer = self.buffer[:end], self.buffer[end:]
                return out
            if not self._fill(deadline):
                raise Timeout("no %r within %ss; got %r" % (marker, timeout, self.buffer))

    def read_for(self, seconds):
        """Everything that arrives within the given time."""
        deadline = time.monotonic() + seconds
        while self._fill(deadline):
            pass
        out, self.buffer = self.buffer, b""
        return out

    def read_exactly(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.buffer) < count:
            if not self._fill(deadline):
                raise Timeout("wanted %d bytes, got %r" % (count, self.buffer))
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out

    # -- AT ---------------------------------------------------------------

    def at(self, command, timeout=10):
        """Send one command line; return every byte up to its final result."""
        if isinstance(command, str):
            command = command.encode()
        self.write(command + b"\r\n")
        return self.read_until(FINAL, timeout)

    def ok(self, command, timeout=10):
        """Send a command that must succeed; return its information lines."""
        reply = self.at(command, timeout)
        assert reply.endswith(b"\r\nOK\r\n"), "%r -> %r" % (command, reply)
        return reply

    def error_code(self, command, timeout=10):
        """Send a command that must fail (needs AT+SYSLOG=1): its ERR CODE."""
        reply = self.at(command, timeout)
        assert reply.endswith(b"\r\nERROR\r\n"), "%r -> %r" % (command, reply)
        m = re.search(rb"ERR CODE:0x([0-9a-f]{8})\r\n", reply)
        assert m, reply
        return int(m.group(1), 16)
