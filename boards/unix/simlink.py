# The virtual module's wiring to its launcher (tools/sim.py): one loopback
# TCP connection carries the AT UART's bytes, a second carries control lines
# (UART settings, reset, sleep, pin levels). The launcher hands the ports,
# the state folder, the world file and the air folder over in the
# environment.
import errno
import os
import select
import sys

# The launcher's connections are no part of the simulated network: the unix
# port's own socket, not boards/unix/socket.py (which binds to the
# simulated interfaces).
_path = sys.path
sys.path = ()
try:
    import socket
finally:
    sys.path = _path
    del _path

STATE = os.getenv("ATSIM_STATE") or "."
RESET_CAUSE = int(os.getenv("ATSIM_RESET_CAUSE") or "1")
WAKE_REASON = int(os.getenv("ATSIM_WAKE_REASON") or "0")

_control = None
_control_buf = b""
pins = {}  # pin number -> level, as the launcher last reported


def _connect(env_name):
    port = os.getenv(env_name)
    if not port:
        raise OSError(errno.ENODEV)
    s = socket.socket()
    s.connect(socket.getaddrinfo("127.0.0.1", int(port))[0][-1])
    return s


def uart_socket():
    s = _connect("ATSIM_UART_PORT")
    s.setblocking(False)
    return s


def _control_socket():
    global _control
    if _control is None:
        _control = _connect("ATSIM_CONTROL_PORT")
        _load_pins()
    return _control


def _load_pins():
    levels = os.getenv("ATSIM_PINS") or ""
    for item in levels.split(","):
        if "=" in item:
            pin, level = item.split("=")
            pins[int(pin)] = int(level)


def send(line):
    """Send one control line to the launcher."""
    _control_socket().write(line.encode() + b"\n")


def wait_control(timeout_ms):
    """Read control lines from the launcher (pin changes) for up to
    timeout_ms (-1: until one arrives). Returns True if any arrived."""
    global _control_buf
    s = _control_socket()
    poller = select.poll()
    poller.register(s, select.POLLIN)
    if not poller.poll(timeout_ms):
        return False
    data = s.recv(256)
    if not data:
        raise SystemExit(0)  # the launcher has gone away
    _control_buf += data
    while b"\n" in _control_buf:
        line, _control_buf = _control_buf.split(b"\n", 1)
        words = line.split()
        if len(words) == 3 and words[0] == b"pin":
            pins[int(words[1])] = int(words[2])
    return True


def state_path(name):
    return STATE + "/" + name
