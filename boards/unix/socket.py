# Stand-in for `socket` on the virtual module: the unix port's own socket
# module (`socket` is one of MicroPython's extensible built-ins, so this file
# shadows it and takes everything from it), except that a socket is bound to
# the simulated interface's address before it connects or sends, as lwIP
# picks the source address from the interface that routes to the
# destination. So once the station has an address, the firmware's sockets
# really come from it (127.x.y.z) on loopback; with no interface up there is
# no route, as on the chip.
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


def _destination(address):
    # ESP32 sockets take ("ip", port); the unix port's take the raw sockaddr
    # that its getaddrinfo() returns.
    if type(address) is tuple:
        return address[0]
    family, ip, port = _sockaddr(address)
    return "%d.%d.%d.%d" % tuple(ip) if len(ip) == 4 else None


class socket(_socket):
    def __init__(self, *args):
        super().__init__(*args)
        self._bound = False

    def bind(self, address):
        super().bind(address)
        self._bound = True

    def connect(self, address):
        self._source(address)
        return super().connect(address)

    def sendto(self, data, address):
        self._source(address)
        return super().sendto(data, address)

    def _source(self, address):
        if self._bound:
            return
        import network  # the simulated interfaces

        source = network._route(_destination(address))
        if source is None:
            raise OSError(errno.EHOSTUNREACH)
        super().bind(_getaddrinfo(source, 0)[0][-1])
        self._bound = True
