# Passthrough ("transparent transmission"): AT+CIPMODE, AT+CIPSEND's
# execute form, +++, AT+TRANSINTVL and AT+CIPRECONNINTV.
#
# In a session every UART byte is data for link 0. Bytes wait in the UART
# driver's RX buffer and leave at once when 2920 of them are there (on TCP
# all that waits, a transmit buffer's worth per write, until the buffer is
# empty; on UDP one 2920-byte datagram), or when the line has been silent
# for AT+TRANSINTVL ms: counting them with UART.any() and reading a
# whole packet at once keeps Python off the bytes. "+++" ends the session
# only when it arrives alone: silence of at least 20 ms before the first
# "+", the three within 20 ms, and 20 ms of silence after, whatever waits
# before it. Bytes left in the buffer after a packet went out came right
# after data, so they are never alone. A client link that breaks is
# dialled again every AT+CIPRECONNINTV; meanwhile the host's bytes stay in
# the UART buffer (RTS holds the host back when it fills) and go out once
# the link is back. What the network
# sends comes through the transmit buffer too (TCP) or a slot of the ring
# (UDP) and goes to the UART as it is.
#
# A TCP or SSL server of one client (AT+CIPMUX=1, AT+CIPSERVERMAXCONN=1)
# carries a session too, on its client's link: when that client goes, the
# server listens again and the session waits for the next one, the host's
# bytes waiting as they do while a client link is dialled again.
# AT+SAVETRANSLINK (firmware/translink.py) starts a session at boot.
import errno
import select
import socket
import sys
import time

from micropython import const

from firmware import errors, links, params
from firmware.at import DONE
from firmware.links import TCP, UDP

_PACKET = const(2920)
_GUARD_MS = const(20)  # the +++ silence rule
_WAIT_TICK_MS = const(2)  # how often waiting bytes are looked at
_IDLE_TICK_MS = const(10)  # the engine's own tick, when none wait
_SEND_TIMEOUT_MS = const(10000)
_PLUS = const(0x2B)
_IN = const(1)  # select.POLLIN

_INTERVAL_MS = const(20)  # AT+TRANSINTVL's default
_interval_ms = _INTERVAL_MS
_reconnect_100ms = 1  # AT+CIPRECONNINTV
_at = None
_session = None


class Session:
    def __init__(self, at, link, serving=False):
        self.at = at
        self.link = link  # None while a server's session waits for a client
        self.serving = serving  # on a server's client: waits for the next one
        self.waiting = 0  # bytes left in the UART buffer at the last look
        self.arrived_ms = time.ticks_ms()  # when bytes last arrived
        # Where among them the last burst that came after 20 ms of silence
        # starts (it could be +++); -1: none did.
        self.burst_from = 0
        self.held = 0  # bytes taken into the transmit buffer, still to go
        self.armed = False  # woken by the UART's input (when none waits)
        self.down = False  # the link broke: dialling again
        self.dial = None  # the socket being connected
        self.dial_poll = None
        self.shaking = None  # an SSL link's TLS handshake (generator), once connected
        self.retry_ms = 0
        self.listen = None  # AT+SAVETRANSLINK=3: (port, type, CA) of the server to start

    # -- host -> network --

    def tick(self, now):
        # While no byte waits, arriving bytes wake the loop (on_input): the
        # loop turns of the network side need not look. A client link being
        # dialled again is looked at on every turn; a server's session
        # waiting for a client is not: the server hands it one.
        if not self.armed or (self.down and not self.serving):
            self.on_input(0)

    def on_input(self, events):
        now = time.ticks_ms()
        if self.listen is not None:
            self._start_server()
        elif self.down and not self.serving:
            self._redial(now)
        self._take(now)
        if _session is not self:
            return  # +++, or a link that cannot come back, ended it
        # Bytes that arrive wake the loop while none wait; while some do
        # (for the interval, or the silence after +++), the loop comes back
        # every 2 ms to look.
        armed = not self.waiting and (self.serving or not self.down)
        if armed != self.armed:
            self.armed = armed
            self.at.rearm(self.at.uart, _IN if armed else 0)
            self.at.tick_ms = _IDLE_TICK_MS if armed else _WAIT_TICK_MS

    def _take(self, now):
        n = self.at.uart.any()
        if n > self.waiting:  # bytes arrived (only this session takes any)
            if time.ticks_diff(now, self.arrived_ms) >= _GUARD_MS:
                self.burst_from = self.waiting
            self.arrived_ms = now
        self.waiting = n
        if not n and not self.held:
            return
        # "+++" is found whatever waits before it (ESP-AT's UART looks for
        # the pattern itself): three bytes after silence, then silence.
        if self.burst_from >= 0 and 0 < n - self.burst_from <= 3:
            if time.ticks_diff(now, self.arrived_ms) < _GUARD_MS:
                return  # could be +++: wait for the silence after it
            if n - self.burst_from == 3:
                if self._is_escape(n):
                    return
                n = self.waiting  # all of it was taken, and held
        if self.down:
            return  # keep the bytes until the link is back
        if self.held and not self._send_held():
            return
        if n >= _PACKET:
            n = self._forward_packets(n)
        if n and time.ticks_diff(now, self.arrived_ms) >= _interval_ms:
            self._forward(n)
            self.waiting = self.at.uart.any()
            self.burst_from = -1  # what is left came right after data

    def _forward_packets(self, n):
        """Send while a packet's worth waits; returns what is left. On TCP
        a stream keeps flowing: what is left after the packets goes too,
        as it came right after them (a UDP datagram holds one packet, or
        what the interval gathered)."""
        tcp = self.link.kind != UDP
        most = len(links.tx) if tcp else _PACKET
        while n >= _PACKET or (tcp and n):
            sent = self._forward(n if n < most else most)
            if not sent:
                return 0
            left = n - sent
            n = self.at.uart.any()
            if n > left:
                self.arrived_ms = time.ticks_ms()
            self.burst_from = -1  # what is left came right after data
            self.waiting = n
        return n

    def _is_escape(self, n):
        """The last three of the n bytes waiting came alone: take them all
        behind what is held and look. "+++" ends the session; what came
        before it goes out first (or with the link down, nowhere: the host
        left). Anything else is data, held until it can go."""
        tx = links.tx
        held = self.held
        if held + n > len(tx):
            return False  # no room to look (RTS holds the host back)
        got = self.at.uart.readinto(links.tx_view[held:], n)
        end = held + (got or 0)
        self.waiting = self.at.uart.any()
        self.burst_from = -1
        if got == n and tx[end - 3] == _PLUS and tx[end - 2] == _PLUS and tx[end - 1] == _PLUS:
            self.held = end - 3
            if not self.down:
                self._send_held()
            self.held = 0
            self.stop()
            return True
        self.held = end
        return False

    def _send_held(self):
        n = self.held
        self.held = 0
        return not n or self._send(n)

    def _forward(self, n):
        """Send n bytes from the UART: the number sent, 0 on failure."""
        got = self.at.uart.readinto(links.tx, n)
        if not got or not self._send(got):
            return 0
        return got

    def _send(self, n):
        try:
            if self.link.kind == UDP:
                self._send_datagram(n)
            else:
                links.write_all(self.link.sock, n, _SEND_TIMEOUT_MS)
        except OSError:
            if self.link.kind == UDP:
                return True  # lost, as a datagram may be: the session goes on
            self.on_link_lost()
            return False
        return True

    def _send_datagram(self, n):
        link = self.link
        link.sock.sendto(links.tx_view[:n], (link.host, link.port))

    # -- network -> host --

    def on_readable(self, events):
        if self.link.kind == UDP:
            n = links.read(self.link)  # a datagram, into a slot of the ring
        else:
            n = self._read_stream()
        if n is None:
            if events & (select.POLLHUP | select.POLLERR):
                self.on_link_lost()
            return
        if n == 0:
            self.on_link_lost()
            return
        if self.link.kind == UDP:
            self.link.queue.write_to(self.at.uart, n)
        else:
            self.at.uart.write(links.tx, 0, n)

    def _read_stream(self):
        # TCP goes straight through the transmit buffer, a buffer at a time: it
        # is free between two packets to the network, and the UART write
        # blocks until the bytes have left it.
        try:
            return self.link.sock.readinto(links.tx)
        except OSError:
            return 0  # reset by the peer

    # -- a broken link --

    def on_link_lost(self):
        link = self.link
        if self.serving:
            # Let the client go, unannounced (the UART is data): the server
            # hands the session its next client (take_client).
            links.close(link, False)
            self.link = None
            self.down = True
            return
        if link.kind == UDP:
            self.stop()
            links.close(link)
            return
        # Let go of the dead socket while the link is down (a TLS link's
        # context stays with the link: the next handshake takes it again).
        links.shut(link.sock)
        link.sock = None
        link.queue.clear()
        self.down = True
        self._retry_later(time.ticks_ms())

    def _retry_later(self, now):
        # The link is not back (the socket being dialled, if any, closed):
        # the next try after AT+CIPRECONNINTV.
        self.dial = None
        self.retry_ms = time.ticks_add(now, _reconnect_100ms * 100)

    def _redial(self, now):
        if self.dial is None:
            if time.ticks_diff(now, self.retry_ms) < 0:
                return
            link = self.link
            sock = socket.socket()
            link.local_port = max(links.bind_local(sock, None, True), 0)  # 0: unbound, lwIP's choice
            sock.setblocking(False)
            try:
                sock.connect(links.address(link.host, link.port))
            except OSError as e:
                if e.errno != errno.EINPROGRESS:
                    sock.close()
                    self._retry_later(now)
                    return
            self.dial = sock
            if self.dial_poll is None:
                self.dial_poll = select.poll()  # one per session: dialled again and again
            self.dial_poll.register(sock, select.POLLOUT)
            self.dial_deadline = time.ticks_add(now, 5000)
            return
        if self.shaking is None:
            ready = self.dial_poll.poll(0)
            if not ready and time.ticks_diff(now, self.dial_deadline) <= 0:
                return  # still connecting
            self.dial_poll.unregister(self.dial)
            if not ready or ready[0][1] & (select.POLLERR | select.POLLHUP):
                self.dial.close()
                self._retry_later(now)
                return
        link = self.link
        if link.kind == links.SSL and not self._handshake(now):
            return
        link.sock = self.dial
        self.dial = None
        self.down = False
        link.polled = _IN
        links.table[link.id] = link
        self.at.watch(link.sock, _IN, links.on_event)

    def _handshake(self, now):
        """An SSL link dialled again: a step of its TLS handshake (never in
        the clear); True once self.dial is the TLS socket."""
        if self.shaking is None:
            from firmware import tcpip

            self.at.load("ssl")  # a saved SSL link at boot: not yet imported
            if tcpip.ssl_connect is None:  # a build without TLS
                self.dial.close()
                self._retry_later(now)
                return False
            self.shaking = tcpip.ssl_connect(self.at, self.link.id, self.dial, None, self.link.context)
        try:
            next(self.shaking)
            return False
        except StopIteration as done:
            self.shaking = None
            self.dial, self.link.context = done.value
            return True
        except Exception:  # refused or timed out: its socket is closed
            self.shaking = None
            self._retry_later(now)
            return False

    def _start_server(self):
        # On the loop's first turn, once every group is in: an SSL server
        # needs the SSL group, registered after this one.
        port, kind, ca = self.listen
        self.listen = None
        try:
            sys.modules["firmware.tcpip_server"].start(port, kind, ca)
        except errors.ATError:
            self.stop()  # the port is taken, or no TLS: AT commands, as usual

    def take_client(self, link):
        """A client the server accepted (firmware/tcpip_server.py): whether
        this session takes it, waiting for one."""
        if not self.serving or self.link is not None:
            return False
        self.link = link
        self.down = False
        if link.queue.total:
            link.queue.write_to(self.at.uart, link.queue.total)
        if self.held:
            self.on_input(0)  # what the host sent meanwhile goes first
        return True

    def stop(self):
        global _session
        if self.shaking is not None:
            self.shaking.close()  # closes its socket
            self.shaking = None
            self.dial = None
        if self.dial is not None:
            self.dial.close()
            self.dial = None
        _session = None
        links.passthrough = None
        self.at.take_uart(False)
        link = self.link  # None: a server's session without a client
        if link is not None and self.down:
            if links.table[link.id] is link:
                links.table[link.id] = None  # the link never came back
            links.closed_since_got_ip = True  # AT+CIPSTATUS: 4, as after a close
        elif link is not None:
            link.last_ms = time.ticks_ms()  # AT+CIPSTO counts from here
        if self.at.sysmsg & 1:
            self.at.write(b"\r\n+QUITT\r\n")


def _tick(now):
    if _session is not None:
        _session.tick(now)


def enter(at):
    """AT+CIPSEND with no parameters: start a session on link 0, or with
    AT+CIPMUX=1 on the client of a server of one client."""
    if not links.raw_receive or (links.mux and not _server_ready()):
        raise errors.failed()
    link = _server_client() if links.mux else links.table[0]
    if link is None or (link.kind == UDP and link.udp_mode != 0):
        raise errors.failed()
    at.write(b"\r\nOK\r\n\r\n>")
    start(at, link)
    return DONE


def _server_client():
    for link in links.table:
        if link is not None and link.server:
            return link
    return None


def _server_ready():
    """Whether AT+CIPMODE=1 may come with AT+CIPMUX=1: a server of one
    client listens, and no link but its client is open (passthrough is
    point to point)."""
    server = sys.modules.get("firmware.tcpip_server")
    if server is None or not server.single_client():
        return False
    for link in links.table:
        if link is not None and not link.server:
            return False
    return True


def start(at, link):
    """A session on a link that is up (AT+CIPSEND, AT+SAVETRANSLINK's UDP
    link at boot)."""
    global _session
    _session = Session(at, link, link.server)
    links.passthrough = _session
    at.take_uart(True, _session.on_input)
    if link.queue.total:
        link.queue.write_to(at.uart, link.queue.total)
    link.poll(_IN)


def wait_for_link(at, link, listen=None):
    """A session whose link is not up yet (AT+SAVETRANSLINK at boot): a
    client link (in the table, without a socket) dialled until its server
    answers, or with link None the first client of a server started on the
    loop's first turn (listen: its port, type and CA flag)."""
    global _session
    _session = Session(at, link, link is None)
    _session.down = True
    _session.listen = listen
    links.passthrough = _session
    at.take_uart(True, _session.on_input)


# -- AT+CIPMODE, AT+TRANSINTVL, AT+CIPRECONNINTV ----------------------------------


def cipmode_query(at):
    at.reply(b"+CIPMODE:%d" % links.raw_receive)


def cipmode_set(at, args):
    params.count(args, 1, 1)
    value = params.int_at(args, 0, 0, 1)
    if value and links.mux and not _server_ready():
        raise errors.failed()  # AT+CIPMUX=0, or a server of one client
    links.raw_receive = value == 1


def transintvl_query(at):
    at.reply(b"+TRANSINTVL:%d" % _interval_ms)


def transintvl_set(at, args):
    global _interval_ms
    params.count(args, 1, 1)
    _interval_ms = params.int_at(args, 0, 0, 1000)


def cipreconnintv_query(at):
    at.reply(b"+CIPRECONNINTV:%d" % _reconnect_100ms)


def cipreconnintv_set(at, args):
    global _reconnect_100ms
    params.count(args, 1, 1)
    _reconnect_100ms = params.int_at(args, 0, 1, 36000)
    at.settings.put_int("reconnintv", _reconnect_100ms)


_TABLE = (
    ("+CIPMODE", None, cipmode_query, cipmode_set, None),
    ("+TRANSINTVL", None, transintvl_query, transintvl_set, None),
    ("+CIPRECONNINTV", None, cipreconnintv_query, cipreconnintv_set, None),
)


def register(at):
    global _at, _reconnect_100ms
    _at = at
    _reconnect_100ms = at.settings.get_int("reconnintv", 1)
    at.tick(_tick, True)
    at.register(_TABLE)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): not in
    AT+CIPMODE=1 nor during a session, and with its settings as a new import
    would have them."""
    if links.raw_receive or _session is not None or links.passthrough is not None:
        return False
    if _interval_ms != _INTERVAL_MS or _reconnect_100ms != at.settings.get_int("reconnintv", 1):
        return False
    at.untick(_tick)
    return True
