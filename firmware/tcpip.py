# Connections: AT+CIPSTART, AT+CIPSTARTEX, AT+CIPCLOSE, AT+CIPMUX,
# AT+CIPSTATE, AT+CIPDINFO, AT+CIPTCPOPT and AT+CIPSTATUS's link lines.
#
# Keep-alive: the ESP32 port's setsockopt() has no SO_KEEPALIVE, so the
# keep-alive values of AT+CIPSTART and AT+CIPTCPOPT are checked and kept
# (the queries show them) but cannot reach the TCP stack; the README says so.
# Local ports: MicroPython has no getsockname(), so a client link binds a
# local port of its own choosing to be able to report it (links.bind_local).
import socket
import sys
import time

from micropython import const

from firmware import errors, links, netif, params
from firmware.links import MAX_LINKS, SSL, TCP, UDP

_CONNECT_TIMEOUT_MS = const(5000)
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)

_at = None
ssl_connect = None  # set by the SSL group: generator(at, link_id, sock, host[, context]) -> (TLS socket, context)

# AT+CIPTCPOPT per link id: so_linger, tcp_nodelay, so_sndtimeo, keep_alive.
tcpopt = [[-1, 0, 0, 0] for _ in range(MAX_LINKS)]


# -- AT+CIPSTART / AT+CIPSTARTEX -----------------------------------------------


def cipstart_set(at, args):
    link_id = None
    i = 0
    if args and type(args[0]) is int:
        link_id = links.split_id(args, 3, 7)
        i = links.mux
    if link_id is None:
        if links.mux:
            raise errors.invalid(0)
        params.count(args, 3, 6)
        link_id = 0
    return _start(at, link_id, args, i)


def cipstartex_set(at, args):
    params.count(args, 3, 6)
    link_id = links.free_id() if links.mux else 0
    if link_id < 0:
        raise errors.failed()
    return _start(at, link_id, args, 0)


def _start(at, link_id, args, i):
    kind = params.str_at(args, i, 8)
    if kind not in (TCP, UDP, SSL):
        raise errors.invalid(i)
    host = params.str_at(args, i + 1, 64, params.REQUIRED, 1)
    port = params.int_at(args, i + 2, 0, 65535)
    rest = len(args) - (i + 3)
    keepalive = local_port = udp_mode = 0
    local_ip = None
    timeout = _CONNECT_TIMEOUT_MS
    j = i + 3
    if kind == UDP:
        if rest >= 1:
            local_port = params.int_at(args, j, 0, 65535, 0)
            udp_mode = params.int_at(args, j + 1, 0, 2, 0)
            j += 2
    elif rest >= 1:
        keepalive = params.int_at(args, j, 0, 7200, 0)
        j += 1
    if j < len(args):
        local_ip = params.str_at(args, j, 64, None) or None
        j += 1
    if j < len(args):
        timeout = params.int_at(args, j, 0, 60000, 0) or _CONNECT_TIMEOUT_MS
        j += 1
    if j < len(args):
        raise errors.ATError(errors.SUB_PARA_COUNT, (j << 8) | len(args))
    if port == 0:
        raise errors.invalid(i + 2)
    if udp_mode and links.raw_receive:
        raise errors.failed()  # UDP passthrough has one remote: mode 0
    if links.table[link_id] is not None:
        at.reply(b"ALREADY CONNECTED")
        raise errors.failed()
    if links.passthrough is not None or (links.mux and links.raw_receive):
        raise errors.failed()  # a server's passthrough is point to point
    return _open(at, link_id, kind, host, port, keepalive, local_port, udp_mode, local_ip, timeout)


def _open(at, link_id, kind, host, port, keepalive, local_port, udp_mode, local_ip, timeout):
    try:
        remote = yield from links.resolve(host, port)
    except OSError as e:
        _errno(at, e.errno)
        raise errors.failed()
    if kind == UDP:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        local_port = links.bind_udp(sock, local_ip, local_port)
        if local_port < 0:
            sock.close()
            raise errors.failed()
        link = links.Link(link_id, kind, sock, remote[0], port, local_port, 0)
        link.udp_mode = udp_mode
        _apply_tcpopt(link, keepalive)
        links.add(link)
        at.reply(links.connect_message(link))
        return
    sock = socket.socket()
    local = links.bind_local(sock, local_ip, True)
    if local < 0:
        sock.close()
        raise errors.failed()
    try:
        yield from links.dial(sock, remote, time.ticks_add(time.ticks_ms(), timeout))
    except OSError as e:
        sock.close()
        _errno(at, e.errno)
        raise errors.failed()
    yield from _connected(at, link_id, kind, sock, host, remote, local, keepalive)


def _connected(at, link_id, kind, sock, host, remote, local, keepalive):
    if kind == SSL:
        at.load("ssl")
        if ssl_connect is None:
            sock.close()
            raise errors.no_api()
        sock, context = yield from ssl_connect(at, link_id, sock, host)
    link = links.Link(link_id, kind, sock, remote[0], remote[1], local, 0)
    if kind == SSL:
        link.context = context
    _apply_tcpopt(link, keepalive)
    links.add(link)
    at.reply(links.connect_message(link))


def _errno(at, code):
    if code < 0:
        code = -code  # lwIP's DNS codes are negative
    if at.syslog:
        at.reply(b"+ERRNO:0x%x" % code)


def _apply_tcpopt(link, keepalive=0):
    opt = tcpopt[link.id]
    if keepalive:
        opt[3] = keepalive
    link.tcpopt = opt
    if link.kind != UDP and opt[1]:
        try:
            link.sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except (OSError, AttributeError):  # a TLS socket has none (firmware/ssl_link.py sets it)
            pass


# -- AT+CIPCLOSE ---------------------------------------------------------------


def cipclose_execute(at):
    if links.mux:
        raise errors.invalid(0)  # multiple connections need the id
    return _close(at, 0)


def cipclose_set(at, args):
    params.count(args, 1, 1)
    link_id = params.int_at(args, 0, 0, MAX_LINKS)
    if not links.mux and link_id != 0:
        raise errors.invalid(0)
    if link_id == MAX_LINKS:
        for link in links.table:
            if link is not None:
                links.close(link, False)
                at.reply(links.closed_message(link.id))
        return None
    return _close(at, link_id)


def _close(at, link_id):
    link = links.table[link_id]
    if link is None:
        raise errors.failed()
    if links.passthrough is not None and links.passthrough.link is link:
        links.passthrough.stop()
    links.close(link, False)
    at.reply(links.closed_message(link_id))
    return None


# -- AT+CIPMUX -------------------------------------------------------------------


def cipmux_query(at):
    at.reply(b"+CIPMUX:%d" % links.mux)


def cipmux_set(at, args):
    params.count(args, 1, 1)
    value = params.int_at(args, 0, 0, 1)
    if value == links.mux:
        return None
    if links.count():
        raise errors.failed()  # only without connections
    if value == 1 and links.raw_receive:
        raise errors.failed()
    if value == 0 and _server_running():
        raise errors.failed()
    links.mux = value
    return None


def _server_running():
    server = sys.modules.get("firmware.tcpip_server")  # not imported: no server
    return server is not None and server.running()


# -- AT+CIPSTATE, AT+CIPSTATUS -----------------------------------------------------


def cipstate_query(at):
    for link in links.table:
        if link is not None:
            at.reply(b'+CIPSTATE:%d,"%s","%s",%d,%d,%d' % (
                link.id, link.kind, link.host, link.port, link.local_port, link.server))


class _Status:
    """netif's AT+CIPSTATUS asks this for the TCP/IP part."""

    def status(self, wifi_stat):
        if wifi_stat != 2:
            return wifi_stat
        if links.count():
            return 3
        return 4 if links.closed_since_got_ip else 2

    def report(self, at):
        for link in links.table:
            if link is not None:
                at.reply(b'+CIPSTATUS:%d,"%s","%s",%d,%d,%d' % (
                    link.id, link.kind, link.host, link.port, link.local_port, link.server))


# -- AT+CIPDINFO -------------------------------------------------------------------


def cipdinfo_query(at):
    at.reply(b"+CIPDINFO:true" if links.dinfo else b"+CIPDINFO:false")


def cipdinfo_set(at, args):
    params.count(args, 1, 1)
    links.dinfo = params.int_at(args, 0, 0, 1)


# -- AT+CIPTCPOPT --------------------------------------------------------------------


def ciptcpopt_query(at):
    for i in range(MAX_LINKS if links.mux else 1):
        at.reply(b"+CIPTCPOPT:%d,%d,%d,%d,%d" % ((i,) + tuple(tcpopt[i])))


def ciptcpopt_set(at, args):
    link_id = links.split_id(args, 3, 4, MAX_LINKS)
    i = links.mux
    linger = params.int_at(args, i, -1, 0x7FFFFFFF, -1)
    nodelay = params.int_at(args, i + 1, 0, 1, 0)
    sndtimeo = params.int_at(args, i + 2, 0, 0x7FFFFFFF, 0)
    keepalive = params.int_at(args, i + 3, 0, 7200, 0)
    if linger != -1:
        raise errors.no_api(i)  # SO_LINGER: no setsockopt on the ESP32
    ids = range(MAX_LINKS) if link_id == MAX_LINKS else (link_id,)
    for k in ids:
        tcpopt[k][:] = [linger, nodelay, sndtimeo, keepalive]
        link = links.table[k]
        if link is not None:
            _apply_tcpopt(link)
    at.settings.put_bytes("tcpopt", _pack_tcpopt())


def _pack_tcpopt():
    return ",".join(",".join(str(v) for v in opt) for opt in tcpopt).encode()


def _load_tcpopt(settings):
    saved = settings.get_bytes("tcpopt")
    if not saved:
        return
    try:
        values = [int(v) for v in saved.decode().split(",")]
        for k in range(MAX_LINKS):
            tcpopt[k][:] = values[k * 4 : k * 4 + 4]
    except (ValueError, IndexError):
        pass


_TABLE = (
    ("+CIPSTART", None, None, cipstart_set, None),
    ("+CIPSTARTEX", None, None, cipstartex_set, None),
    ("+CIPCLOSE", None, None, cipclose_set, cipclose_execute),
    ("+CIPMUX", None, cipmux_query, cipmux_set, None),
    ("+CIPSTATE", None, cipstate_query, None, None),
    ("+CIPDINFO", None, cipdinfo_query, cipdinfo_set, None),
    ("+CIPTCPOPT", None, ciptcpopt_query, ciptcpopt_set, None),
)


def register(at):
    global _at
    _at = at
    links.init(at, at.board)
    _load_tcpopt(at.settings)
    netif.links = _Status()
    at.register(_TABLE)
