# The TCP server: AT+CIPSERVER, AT+CIPSERVERMAXCONN and AT+CIPSTO.
#
# One listening socket; each client it accepts takes the lowest free link id
# and is announced with <id>,CONNECT (or +LINK_CONN). Clients beyond
# AT+CIPSERVERMAXCONN are closed at once. AT+CIPSTO closes server links that
# have been idle for that many seconds. A server of one client can carry a
# passthrough session (firmware/passthrough.py): a client that comes while
# the session waits for one is handed to it, unannounced.
import select
import socket
import sys
import time

from micropython import const

from firmware import errors, links, params, radio
from firmware.links import MAX_LINKS, TCP

_DEFAULT_PORT = const(333)
_TIMEOUT_S = const(180)  # AT+CIPSTO's default
_BACKLOG = const(2)

_at = None
_listener = None
_port = 0
_kind = TCP
_ca = 0
_netif = 0  # 0 every interface, 1 station, 2 SoftAP, 3 Ethernet
_max_conn = MAX_LINKS
_timeout_s = _TIMEOUT_S
# Set by the SSL group: (at, sock, ca_enable, peer) -> the TLS socket, or
# None when the group enters the link itself (admit) once its handshake is over.
ssl_accept = None


def running():
    return _listener is not None


def cipserver_query(at):
    if _listener is None:
        at.reply(b"+CIPSERVER:0")
    else:
        at.reply(b'+CIPSERVER:1,%d,"%s",%d,%d' % (_port, _kind, _ca, _netif))


def cipserver_set(at, args):
    params.count(args, 1, 5)
    mode = params.int_at(args, 0, 0, 1)
    if mode == 0:
        if len(args) > 2:
            raise errors.ATError(errors.SUB_PARA_COUNT, (2 << 8) | len(args))
        close_clients = params.int_at(args, 1, 0, 1, 0)
        if _listener is None:
            return None  # no server: nothing to do, as ESP-AT
        _stop()
        if close_clients:
            for link in links.table:
                if link is not None and link.server:
                    links.close(link, False)
                    at.reply(links.closed_message(link.id))
        return None
    if not links.mux:
        raise errors.failed()  # a server needs AT+CIPMUX=1
    port = params.int_at(args, 1, 1, 65535, _DEFAULT_PORT)
    kind = params.str_at(args, 2, 8, TCP)
    ca = params.int_at(args, 3, 0, 1, 0)
    netif = params.int_at(args, 4, 0, 3, 0)
    if kind not in (TCP, links.SSL):
        raise errors.invalid(2)
    start(port, kind, ca, netif)
    return None


def start(port, kind, ca, netif=0):
    """Listen (AT+CIPSERVER=1, or AT+SAVETRANSLINK's server at boot) on
    every interface or on one; raises ATError."""
    global _listener, _port, _kind, _ca, _netif
    if kind == links.SSL:
        _at.load("ssl")
    if kind == links.SSL and ssl_accept is None:
        raise errors.no_api(2)
    if _listener is not None:
        raise errors.failed()  # one server only
    ip = _address_of(netif)
    sock = socket.socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(_BACKLOG)
    except OSError:
        sock.close()
        raise errors.failed()
    sock.setblocking(False)
    _listener, _port, _kind, _ca, _netif = sock, port, kind, ca, netif
    _at.watch(sock, select.POLLIN, _on_accept)


def _address_of(netif):
    # The address of the interface <netif> names: it must be up.
    if not netif:
        return "0.0.0.0"
    nic = radio.sta() if netif == 1 else radio.ap() if netif == 2 else radio.lan
    ip = nic.ifconfig()[0] if nic is not None and nic.active() else "0.0.0.0"
    if ip == "0.0.0.0":
        raise errors.failed()
    return ip


def single_client():
    """Whether a server of one client at most listens: passthrough can
    use it (ESP-AT's server passthrough is point to point)."""
    return _listener is not None and _max_conn == 1


def _stop():
    global _listener
    _at.unwatch(_listener)
    _listener.close()
    _listener = None


def _on_accept(sock, events):
    try:
        conn, peer = sock.accept()
    except OSError:
        return
    link_id = links.free_id()
    if link_id < 0 or _server_links() >= _max_conn:
        conn.close()
        return
    if _kind == links.SSL:
        conn = ssl_accept(_at, conn, _ca, peer)
        if conn is None:
            return
    admit(conn, peer)


def admit(conn, peer):
    """Enter an accepted client as a link and announce it."""
    link_id = links.free_id()
    if _listener is None or link_id < 0 or _server_links() >= _max_conn:
        conn.close()  # the server stopped or filled up meanwhile (SSL handshake)
        return
    link = links.Link(link_id, _kind, conn, peer[0], peer[1], _port, 1)
    links.add(link)
    session = links.passthrough
    if session is not None and session.take_client(link):
        return  # the UART is passthrough data: no message
    _at.urc(links.connect_message(link) + b"\r\n")


def serving(kind):
    """Whether a server of that kind (TCP, SSL) is listening."""
    return _listener is not None and _kind == kind


def _server_links():
    n = 0
    for link in links.table:
        if link is not None and link.server:
            n += 1
    return n


def cipservermaxconn_query(at):
    at.reply(b"+CIPSERVERMAXCONN:%d" % _max_conn)


def cipservermaxconn_set(at, args):
    params.count(args, 1, 1)
    limit_clients(params.int_at(args, 0, 1, MAX_LINKS))


def limit_clients(count):
    global _max_conn
    if _listener is not None:
        raise errors.failed()  # set it before the server starts
    _max_conn = count


def cipsto_query(at):
    at.reply(b"+CIPSTO:%d" % _timeout_s)


def cipsto_set(at, args):
    global _timeout_s
    params.count(args, 1, 1)
    _timeout_s = params.int_at(args, 0, 0, 7200)


def _idle_check(now):
    if not _timeout_s:
        return
    limit = _timeout_s * 1000
    session = links.passthrough
    for link in links.table:
        if link is not None and link.server and not link.eof:
            if session is not None and session.link is link:
                continue  # its UART is data: no CLOSED in the middle of it
            if time.ticks_diff(now, link.last_ms) > limit:
                links.close(link)


_TABLE = (
    ("+CIPSERVER", None, cipserver_query, cipserver_set, None),
    ("+CIPSERVERMAXCONN", None, cipservermaxconn_query, cipservermaxconn_set, None),
    ("+CIPSTO", None, cipsto_query, cipsto_set, None),
)


def register(at):
    global _at, ssl_accept
    _at = at
    ssl = sys.modules.get("firmware.ssl")  # imported again after the SSL group
    if ssl is not None:
        ssl_accept = ssl.ssl_accept
    at.tick(_idle_check)
    at.register(_TABLE)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): no server,
    no client of one, the settings as at boot."""
    if _listener is not None or _server_links() or _max_conn != MAX_LINKS or _timeout_s != _TIMEOUT_S:
        return False
    at.untick(_idle_check)
    return True
