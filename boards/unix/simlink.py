# The virtual module's wiring to its launcher (tools/sim.py): one Unix
# stream socket carries the AT UART's bytes, a loopback TCP connection
# carries control lines (UART settings, reset, sleep, pin levels, heap
# counters). The launcher hands their addresses, the state folder, the world
# file and the air folder over in the environment.
import errno
import os
import select
import struct
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


# Linux's numbers: the unix port's socket has no names for them.
_IPPROTO_TCP = 6
_TCP_NODELAY = 1
_SOL_SOCKET = 1
_SO_SNDBUF = 7
_UART_BUFFER = 64 * 1024  # as tools/sim.py's UART_SOCKET_BUFFER


def uart_socket():
    """The AT UART's bytes: a Unix stream socket in the abstract namespace
    (the launcher's, ATSIM_UART_UNIX), or a TCP port (ATSIM_UART_PORT, as
    host_tests/test_deploy.py serves it)."""
    name = os.getenv("ATSIM_UART_UNIX")
    if name:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setsockopt(_SOL_SOCKET, _SO_SNDBUF, _UART_BUFFER)
        s.connect(struct.pack("H", socket.AF_UNIX) + b"\0" + name.encode())
    else:
        s = _connect("ATSIM_UART_PORT")
        # A UART sends each byte as it is written: without this, Nagle
        # holds a short write (SEND OK after Recv <n> bytes) until the
        # other end's delayed ACK, some 40 ms later.
        s.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
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
    s = _control_socket()
    poller = select.poll()
    poller.register(s, select.POLLIN)
    if not poller.poll(timeout_ms):
        return False
    on_control(s, select.POLLIN)
    return True


def control_stream():
    """The control connection, for the engine's poller (boards/unix/main.py
    watches it with on_control)."""
    return _control_socket()


def on_control(stream, events):
    """Take the control lines that came: a pin level, or a request for the
    heap counters, answered at once."""
    global _control_buf
    data = _control_socket().recv(256)
    if not data:
        raise SystemExit(0)  # the launcher has gone away
    _control_buf += data
    while b"\n" in _control_buf:
        line, _control_buf = _control_buf.split(b"\n", 1)
        words = line.split()
        if len(words) == 3 and words[0] == b"pin":
            pins[int(words[1])] = int(words[2])
        elif words == [b"heap"]:
            send(heap_counters())


def heap_counters():
    """"heap <allocated ever> <in use> <free>": micropython.mem_total() (the
    bytes allocated since start, garbage included; -1 in a build without
    it), gc.mem_alloc(), gc.mem_free(). The counters are read before this
    line is made, so its own allocation shows in the next reading."""
    import gc
    import micropython

    total = micropython.mem_total() if hasattr(micropython, "mem_total") else -1
    used = gc.mem_alloc()
    free = gc.mem_free()
    return "heap %d %d %d" % (total, used, free)


def state_path(name):
    return STATE + "/" + name
