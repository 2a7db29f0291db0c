# Stand-in for `socket` on the virtual module: the unix port's own socket
# module (`socket` is one of MicroPython's extensible built-ins, so this file
# shadows it and takes everything from it), changed where the ESP32 port
# differs:
# - addresses are ("a.b.c.d", port) tuples both ways, as on the ESP32
#   (the unix port takes and returns raw sockaddr bytes);
# - names resolve through the simulated network's DNS server (resolver.py),
#   never through the host's resolver;
# - a socket is bound to the simulated interface's address before it
#   connects or sends, as lwIP picks the source address from the interface
#   that routes to the destination. So once the station has an address, the
#   firmware's sockets really come from it (127.x.y.z) on loopback; with no
#   interface up there is no route, as on the chip.
import errno
import io
import sys

_path = sys.path
sys.path = ()
try:
    from socket import *  # noqa: F401,F403
    from socket import socket as _socket
    from socket import getaddrinfo as _getaddrinfo
    from socket import sockaddr as _sockaddr
finally:
    sys.path = _path
    del _path


def _dotted(raw):
    family, ip, port = _sockaddr(raw)
    if len(ip) == 4:
        return ("%d.%d.%d.%d" % tuple(ip), port)
    return (":".join("%02x%02x" % (ip[i], ip[i + 1]) for i in range(0, len(ip), 2)), port)


def _is_dotted_quad(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True


def _raw(address):
    """("a.b.c.d", port) -> the unix port's sockaddr. Only numeric hosts:
    the ESP32's connect() resolves names too, through getaddrinfo()."""
    if type(address) is not tuple:
        return address  # already raw (the port's own callers)
    host, port = address
    if not host:
        host = "0.0.0.0"
    if not _is_dotted_quad(host):
        host = getaddrinfo(host, port)[0][-1][0]
    return _getaddrinfo(host, port)[0][-1]


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """The ESP32's answer: [(family, type, proto, "", ("a.b.c.d", port))]."""
    if host is None or host == "" or _is_dotted_quad(host):
        ip = host or "0.0.0.0"
    else:
        import resolver  # the simulated network's DNS client

        ip = resolver.resolve(host)
        if ip is None:
            raise OSError(-202)  # the ESP32's lwIP answer for an unknown name
    return [(AF_INET, type or SOCK_STREAM, proto, "", (ip, port))]


class socket(io.IOBase):
    """The unix port's socket, held rather than subclassed: select.poll
    sees its file descriptor (ioctl GET_FILENO), so POLLERR and POLLHUP
    come through as they do from the ESP32's sockets (a subclass of the
    built-in socket only ever reports the events asked for)."""

    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0):
        self._s = _socket(af, type, proto)
        self._stream = type == SOCK_STREAM
        self._bound = False
        self._port = 0  # a port asked for with an unspecified address

    def bind(self, address):
        if type(address) is tuple and address[0] in ("", "0.0.0.0"):
            if self._stream:
                # Bound for real when it connects (to the address of the
                # interface that routes there) or listens (to all).
                self._port = address[1]
                return
            import network

            address = (network._route(None) or "0.0.0.0", address[1])
        self._s.bind(_raw(address))
        self._bound = True

    def listen(self, backlog=2):
        if not self._bound:
            self._s.bind(_raw(("0.0.0.0", self._port)))
            self._bound = True
        return self._s.listen(backlog)

    def connect(self, address):
        self._source(address)
        return self._s.connect(_raw(address))

    def sendto(self, data, address):
        self._source(address)
        return self._s.sendto(data, _raw(address))

    def recvfrom(self, n):
        data, raw = self._s.recvfrom(n)
        return data, _dotted(raw)

    def accept(self):
        conn, raw = self._s.accept()
        return conn, _dotted(raw)

    def _source(self, address):
        if self._bound:
            return
        import network  # the simulated interfaces

        host = address[0] if type(address) is tuple else _dotted(address)[0]
        source = network._route(host)
        if source is None:
            raise OSError(errno.EHOSTUNREACH)
        self._s.bind(_getaddrinfo(source, self._port)[0][-1])
        self._bound = True

    # -- the rest as the port has it --

    def send(self, data):
        return self._s.send(data)

    def sendall(self, data):
        return self._s.sendall(data)

    def recv(self, n):
        return self._s.recv(n)

    def read(self, n=-1):
        return self._s.read() if n < 0 else self._s.read(n)

    def readinto(self, buf, nbytes=-1):
        return self._s.readinto(buf) if nbytes < 0 else self._s.readinto(buf, nbytes)

    def readline(self):
        return self._s.readline()

    def write(self, buf, offset=0, length=-1):
        if length < 0:
            return self._s.write(buf) if not offset else self._s.write(buf, offset, len(buf) - offset)
        return self._s.write(buf, offset, length)

    def setsockopt(self, level, option, value):
        return self._s.setsockopt(level, option, value)

    def setblocking(self, flag):
        return self._s.setblocking(flag)

    def settimeout(self, value):
        return self._s.settimeout(value)

    def makefile(self, mode="rb", buffering=0):
        return self

    def fileno(self):
        return self._s.fileno()

    def close(self):
        return self._s.close()

    def ioctl(self, request, arg):
        if request == 10:  # MP_STREAM_GET_FILENO: poll the real descriptor
            return self._s.fileno()
        return -1
