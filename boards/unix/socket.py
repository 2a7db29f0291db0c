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


class socket(_socket):
    def __init__(self, *args):
        super().__init__(*args)
        self._bound = False

    def bind(self, address):
        super().bind(_raw(address))
        self._bound = True

    def connect(self, address):
        self._source(address)
        return super().connect(_raw(address))

    def sendto(self, data, address):
        self._source(address)
        return super().sendto(data, _raw(address))

    def recvfrom(self, n):
        data, raw = super().recvfrom(n)
        return data, _dotted(raw)

    def accept(self):
        conn, raw = super().accept()
        return conn, _dotted(raw)

    def _source(self, address):
        if self._bound:
            return
        import network  # the simulated interfaces

        host = address[0] if type(address) is tuple else _dotted(address)[0]
        source = network._route(host)
        if source is None:
            raise OSError(errno.EHOSTUNREACH)
        super().bind(_getaddrinfo(source, 0)[0][-1])
        self._bound = True
