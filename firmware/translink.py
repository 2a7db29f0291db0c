# AT+SAVETRANSLINK: the passthrough session to start at boot, always saved.
#
# =1 saves a TCP, SSL or UDP link: at boot the UART is passthrough data at
# once and a TCP or SSL link is dialled until its server answers. =3 saves
# a TCP or SSL server of one client: at boot it listens and its session
# waits for a client (firmware/passthrough.py). =0 forgets either.
# Imported at boot only when a link is saved (BOOT_SETTING), so that the
# session does not carry this code.
import socket
import sys

from micropython import const

from firmware import errors, links, params
from firmware.links import SSL, TCP, UDP

_SERVER_PORT = const(333)  # =3's default port
# The setting that holds the saved session; firmware/main.py imports this
# group at boot only when it holds one.
BOOT_SETTING = "translink"


def savetranslink_set(at, args):
    params.count(args, 1, 6)
    mode = params.int_at(args, 0, 0, 3)
    if mode == 0:
        params.count(args, 1, 1)
        at.settings.put_bytes(BOOT_SETTING, b"", always=True)
    elif mode == 1:
        _save_client(at, args)
    elif mode == 3:
        _save_server(at, args)
    else:
        raise errors.invalid(0)  # 2: Bluetooth LE passthrough (no BLE group)


def _save_client(at, args):
    # =1,"<host>",<port>[,"TCP"|"SSL",<keep_alive>] or [,"UDP",<local port>]
    params.count(args, 3, 6)
    host = params.str_at(args, 1, 64, params.REQUIRED, 1)
    port = params.int_at(args, 2, 1, 65535)
    kind = params.str_at(args, 3, 8, TCP)
    if kind == TCP or kind == SSL:
        params.count(args, 3, 5)
        extra = params.int_at(args, 4, 0, 7200, 0)  # keep-alive
    elif kind == UDP:
        extra = params.int_at(args, 4, 0, 65535, 0)  # local port
    else:
        raise errors.invalid(3)
    at.settings.put_bytes(BOOT_SETTING, b"%s,%d,%d,%s" % (kind, port, extra, host), always=True)


def _save_server(at, args):
    # =3[,<port>][,"TCP"|"SSL"][,<CA enable>][,<netif>]
    params.count(args, 1, 5)
    port = params.int_at(args, 1, 1, 65535, _SERVER_PORT)
    kind = params.str_at(args, 2, 8, TCP)
    if kind != TCP and kind != SSL:
        raise errors.invalid(2)
    ca = params.int_at(args, 3, 0, 1, 0)
    if params.int_at(args, 4, 0, 3, 0):
        # One interface only: a socket on the port can neither listen on
        # one interface nor tell which one a client came in on.
        raise errors.no_api(4)
    at.settings.put_bytes(BOOT_SETTING, b"server,%s,%d,%d" % (kind, port, ca), always=True)


def _start_saved(at, record):
    """The saved session, as ESP-AT starts it after "ready"."""
    at.load("passthrough")
    passthrough = sys.modules.get("firmware.passthrough")
    if passthrough is None:
        return  # a build without passthrough
    if record.startswith(b"server,"):
        _start_server(at, passthrough, record)
        return
    kind, port, extra, host = record.decode().split(",", 3)
    port = int(port)
    extra = int(extra)
    links.raw_receive = True
    if kind == UDP:
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError:
            return
        extra = links.bind_udp(sock, None, extra)
        if extra < 0:
            sock.close()
            return
        link = links.Link(0, UDP, sock, host, port, extra, 0)
        links.add(link)
        passthrough.start(at, link)
        return
    link = links.Link(0, SSL if kind == SSL else TCP, None, host, port, 0, 0)
    links.table[0] = link
    passthrough.wait_for_link(at, link)


def _start_server(at, passthrough, record):
    _, kind, port, ca = record.decode().split(",")
    at.load("tcpip_server")
    server = sys.modules.get("firmware.tcpip_server")
    if server is None:
        return  # a build without the server
    links.mux = 1
    server.limit_clients(1)
    links.raw_receive = True
    passthrough.wait_for_link(at, None, (int(port), kind, int(ca)))


_TABLE = (("+SAVETRANSLINK", None, None, savetranslink_set, None),)


def register(at):
    at.register(_TABLE)
    record = at.settings.get_bytes(BOOT_SETTING)
    if record and not at.running:  # at boot, not when imported again later
        _start_saved(at, record)


def unload(at):
    """Nothing of this group stays in use (firmware/at.py, make_room)."""
    return True
