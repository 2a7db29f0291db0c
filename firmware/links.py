# The link table of the TCP/IP commands: up to five sockets (link ids 0-4),
# how data received on them reaches the host (+IPD frames, passive buffers or
# raw passthrough bytes), and how they end (CONNECT/CLOSED messages).
#
# Every link's socket is non-blocking and watched by the engine's poller.
# When data cannot be taken (a command is running, the ring is full, a
# passive buffer is full) the socket is simply not polled for input any more:
# TCP's window then slows the peer down, so nothing is lost.
import errno
import random
import select
import socket
import time

from micropython import const

from firmware import params, ring

MAX_LINKS = const(5)
IPD_MAX = const(2920)  # payload bytes per +IPD frame
# Room before each ring slot for the header of what it holds: the longest,
# +CIPRECVDATA:5840,"255.255.255.255",65535, is 42 bytes.
_HEADER_ROOM = const(44)
_TX_SIZE = const(2920)  # one packet; longer sends go out a buffer at a time

_IN = const(1)  # select.POLLIN
_HUP = const(24)  # select.POLLHUP | select.POLLERR
_EPHEMERAL_LOW = const(49152)
_EPHEMERAL_SPAN = const(16384)

TCP = "TCP"
UDP = "UDP"
SSL = "SSL"

# Settings of the TCP/IP group, in RAM as ESP-AT keeps them.
mux = 0  # AT+CIPMUX
dinfo = 0  # AT+CIPDINFO
recv_modes = bytearray(MAX_LINKS)  # AT+CIPRECVTYPE per link id (0 active, 1 passive)
passthrough = None  # the passthrough session (firmware.passthrough) while one runs
raw_receive = False  # AT+CIPMODE (1: data reaches the host raw, without +IPD)
table = [None] * MAX_LINKS
closed_since_got_ip = False  # AT+CIPSTATUS reports 4 after a link closed

_at = None
rx_ring = None
tx = None  # the transmit buffer, shared by every send path
tx_view = None
_holding = False  # hold_ipd: no +IPD is written before _hold_until
_hold_until = 0
_paused: list = []  # links not polled because a command was running
_next_port = 0  # bind_local's last port, from a random start at each boot
# The passive-receive group (firmware/tcpip_recv.py): in while any link
# id is passive, and the receive path hands passive links to it.
passive_group = None


class Link:
    def __init__(self, link_id, kind, sock, host, port, local_port, server):
        self.id = link_id
        self.kind = kind
        self.sock = sock
        self.host = host  # the remote address, "a.b.c.d"
        self.port = port
        self.local_port = local_port
        self.server = server  # 1: accepted by AT+CIPSERVER
        self.udp_mode = 0
        self.context = None  # an SSL client link's TLS context: passthrough dials again with it
        self.queue = ring.LinkQueue(rx_ring, len(rx_ring.lens))
        self.notified = False  # passive: +IPD,<id>,<len> sent, not yet read
        self.eof = False  # passive: the peer has closed, CLOSED is held back
        self.polled = 0  # events the socket is polled for
        self.last_ms = time.ticks_ms()  # last traffic (AT+CIPSTO)
        self.peer = None  # UDP: sender of the datagram at the head
        self.datagrams = None  # passive UDP: the datagrams held (firmware/tcpip_recv.py)
        self.peer_changed = False  # UDP mode 1: the remote changes once
        self.tcpopt = None  # AT+CIPTCPOPT values applied to this link
        # AT+CIPDINFO=1: ,"<ip>",<port> of the remote, made once per remote
        self.address_text = b""
        self.address_host = None
        self.address_port = 0

    def passive(self):
        return recv_modes[self.id] == 1 and not raw_receive

    def poll(self, events):
        if events == self.polled:
            return
        if self.polled < 0:
            _at.watch(self.sock, events, on_event)  # it was taken off the poller
        else:
            _at.rearm(self.sock, events)
        self.polled = events


def preallocate(board):
    """Allocate the ring and the transmit buffer (once, early at boot)."""
    global rx_ring, tx, tx_view
    if rx_ring is None:
        rx_ring = ring.SlotRing(getattr(board, "RING_SLOTS", 3), IPD_MAX, _HEADER_ROOM)
        tx = bytearray(_TX_SIZE)
        tx_view = memoryview(tx)


def init(at, board):
    global _at, _next_port
    _at = at
    _next_port = random.getrandbits(14)
    preallocate(board)
    at.tick(_resume_paused, True)


def bind_local(sock, local_ip=None, reuse=False):
    """Bind sock to the next free port of the ephemeral range: the port,
    or -1. The port has no getsockname() to tell which one lwIP would
    pick, and AT+CIPSTATE shows it. reuse: SO_REUSEADDR (TCP clients, so
    that a port in TIME_WAIT serves again)."""
    global _next_port
    if reuse:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        except (OSError, AttributeError):
            pass
    for _ in range(8):
        _next_port = (_next_port + 1) % _EPHEMERAL_SPAN
        try:
            sock.bind((local_ip or "0.0.0.0", _EPHEMERAL_LOW + _next_port))
            return _EPHEMERAL_LOW + _next_port
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                return -1
    return -1


def bind_udp(sock, local_ip, local_port):
    """A UDP link's socket bound to local_port, or without one to a port
    of the firmware's choice: the port, or -1."""
    if not local_port:
        return bind_local(sock, local_ip)
    try:
        sock.bind((local_ip or "0.0.0.0", local_port))
        return local_port
    except OSError:
        return -1


def split_id(args, least, most, top=MAX_LINKS - 1):
    """[<id>,]<rest> as AT+CIPMUX has it: the link id, with least..most
    parameters in <rest>, which starts at args[mux]; top is MAX_LINKS where
    5 means all. (One value: a tuple would cost heap on every command.)"""
    if mux:
        params.count(args, least + 1, most + 1)
        return params.int_at(args, 0, 0, top)
    params.count(args, least, most)
    return 0


def free_id():
    for i in range(MAX_LINKS):
        if table[i] is None:
            return i
    return -1


def count():
    n = 0
    for link in table:
        if link is not None:
            n += 1
    return n


def add(link):
    """Enter a connected socket into the table and start polling it."""
    global closed_since_got_ip
    table[link.id] = link
    link.sock.setblocking(False)
    link.polled = _IN
    _at.watch(link.sock, _IN, on_event)
    closed_since_got_ip = False


def find(sock):
    for link in table:
        if link is not None and link.sock is sock:
            return link
    return None


def connect_message(link):
    """CONNECT, <id>,CONNECT or +LINK_CONN (AT+SYSMSG bit 1)."""
    if _at.sysmsg & 2:
        return b'+LINK_CONN:0,%d,"%s",%d,"%s",%d,%d' % (
            link.id, link.kind, link.server, link.host, link.port, link.local_port)
    if mux:
        return b"%d,CONNECT" % link.id
    return b"CONNECT"


def closed_message(link_id):
    return b"%d,CLOSED" % link_id if mux else b"CLOSED"


def close(link, report=True):
    """Close a link; report=True queues its CLOSED message."""
    global closed_since_got_ip
    if table[link.id] is not link:
        return
    table[link.id] = None
    if link in _paused:
        _paused.remove(link)
    if link.sock is not None:  # None: a passthrough link down (dialled again)
        shut(link.sock)
    link.queue.clear()
    closed_since_got_ip = True
    if report:
        _at.urc(closed_message(link.id) + b"\r\n")


def shut(sock):
    """Stop watching a link's socket and close it."""
    _at.unwatch(sock)
    try:
        sock.close()
    except OSError:
        pass


# -- receiving --------------------------------------------------------------


def on_event(sock, events):
    link = find(sock)
    if link is None:
        _at.unwatch(sock)
        return
    if link.polled <= 0:
        # POLLHUP/POLLERR come even when no event is asked for: take the
        # socket off the poller until its link wants input again, or a
        # reset peer would spin the loop.
        _at.unwatch(sock)
        link.polled = -1
        return
    if passthrough is not None and passthrough.link is link:
        passthrough.on_readable(events)
        return
    if link.passive():
        passive_group.receive(link, events)
    else:
        _receive_active(link, events)


def read(link):
    """One read into the link's queue: bytes read, 0 at the end of the
    stream, None when nothing could be read."""
    if link.kind == UDP:
        return read_datagram(link)
    try:
        return link.queue.fill(link.sock)
    except OSError:
        return 0  # reset by the peer: the link is gone


def read_datagram(link):
    """One datagram into a free slot: its length, or None (nothing, or no
    room: then it is dropped, as ESP-AT drops UDP it cannot hold). A
    passive link may keep it behind the datagrams it holds."""
    room = not holds_enough(link)  # for one more slot
    slot = rx_ring.take()
    try:
        if slot < 0:
            link.sock.recv(1)  # the rest of a datagram goes with it
            return None
        n = _datagram_into(link, slot)
    except OSError:
        n = 0
    if n and link.passive():
        return passive_group.keep_datagram(link, slot, n, room)
    if not (n and room):
        rx_ring.give(slot)
        return None
    link.queue.push(slot, n)
    return n


def _datagram_into(link, slot):
    # One datagram, whole: a stream read (readinto()) would go on into the
    # datagrams queued behind it until the slot is full, cutting the last
    # one. recvfrom() reads one, into a bytes object copied to the slot.
    # When the heap has no 2920-byte block left (it can be broken up that
    # far), readinto() takes it, with those queued behind it, rather than
    # lose them.
    try:
        data, peer = link.sock.recvfrom(IPD_MAX)
    except MemoryError:
        return link.sock.readinto(rx_ring.views[slot])
    rx_ring.views[slot][0 : len(data)] = data
    link.peer = peer
    if link.udp_mode == 2 or (link.udp_mode == 1 and not link.peer_changed):
        if (link.host, link.port) != peer:
            link.host, link.port = peer  # the remote follows the sender
            link.peer_changed = True
    return len(data)


def _receive_active(link, events):
    if _at.busy() or _held(time.ticks_ms()):
        pause(link)
        return
    n = read(link)
    if n is None:
        if events & _HUP:
            peer_closed(link)
        elif not rx_ring.free_slots():
            pause(link)
        return
    if n == 0:
        peer_closed(link)
        return
    more = _read_more(link) if link.kind != UDP else True
    link.last_ms = time.ticks_ms()
    deliver_ipd(link)
    if not more:
        peer_closed(link)


def _read_more(link):
    """Fill the free slots while the socket has data: one loop turn then
    carries several frames. False when the stream ended meanwhile."""
    while rx_ring.free_slots() and not link.queue.full():
        n = read(link)
        if n is None:
            return True
        if n == 0:
            return False
    return True


def holds_enough(link):
    """No room for more: the queue is full, or a passive link holds its
    share (TCP then waits in the peer's window, UDP is dropped)."""
    queue = link.queue
    if queue.full():
        return True
    return link.passive() and passive_group.holds_share(link)


def deliver_ipd(link):
    """Write what the link's queue holds as +IPD frames."""
    _at.send_urcs()  # a CONNECT reported just now goes first
    queue = link.queue
    if raw_receive:
        queue.write_to(_at.uart, queue.total)
        return
    while queue.total:
        deliver_frame(link, queue, min(queue.head_length(), IPD_MAX))


# The functions below run for every frame: their frames stay small (see
# firmware/ring.py). A frame is one UART write: its header is built in the
# room the ring keeps before each slot, right in front of the data.


def deliver_frame(link, queue, n):
    """One +IPD frame of the next n bytes, all in the oldest slot."""
    end = queue.head_start()
    start = _frame_header(link, rx_ring.buf, end, n)
    _at.uart.write(rx_ring.buf, start, end - start + n)
    queue.consume(n)


def _frame_header(link, buf, end, n):
    # \r\n+IPD,[<id>,]<len>[,"<ip>",<port>]: written backwards so that it
    # ends at end; returns where it starts.
    i = end - 1
    buf[i] = 0x3A  # ':'
    if dinfo:
        i = put_address(link, buf, i)
    i = put_decimal(buf, i, n)
    if mux:
        buf[i - 1] = 0x2C  # ','
        buf[i - 2] = 0x30 + link.id
        i -= 2
    buf[i - 7 : i] = b"\r\n+IPD,"
    return i - 7


def put_decimal(buf, end, n):
    # n in decimal, ending at end; returns where it starts.
    while True:
        end -= 1
        buf[end] = 0x30 + n % 10
        n //= 10
        if not n:
            return end


def put_address(link, buf, end):
    text = _address_text(link)
    buf[end - len(text) : end] = text
    return end - len(text)


def _address_text(link):
    # Made again only when the remote changes (a UDP link's sender).
    if link.kind == UDP and link.peer:
        host, port = link.peer
    else:
        host = link.host
        port = link.port
    if port != link.address_port or host != link.address_host:
        link.address_text = b',"%s",%d' % (host, port)
        link.address_host = host
        link.address_port = port
    return link.address_text


def peer_closed(link):
    """The peer closed or reset the link."""
    if link.queue.total and link.passive():
        link.eof = True  # CLOSED waits until the host has read everything
        link.poll(0)
        passive_group.notify(link)
        return
    if passthrough is not None and passthrough.link is link:
        passthrough.on_link_lost()
        return
    close(link)


def pause(link):
    link.poll(0)
    if link not in _paused:
        _paused.append(link)


def resume_all():
    """Poll every link again that waited for room or for a command."""
    for link in table:
        if link is not None and not link.eof and link.polled <= 0:
            if link.passive() and holds_enough(link):
                continue
            link.poll(_IN)
    del _paused[:]


def _resume_paused(now):
    if _paused and not _at.busy() and rx_ring.free_slots() and not _held(now):
        resume_all()


def hold_ipd(ms):
    """Keep +IPD back for a moment after SEND OK: hosts read SEND OK as a
    message of its own and may drop what comes glued to it (wire-compat)."""
    global _holding, _hold_until
    _holding = True
    _hold_until = time.ticks_add(time.ticks_ms(), ms)


def _held(now):
    # A ticks value compares with ticks_diff() only within half the ticks
    # period (some 6 days): the hold is dropped as soon as it is over, and
    # no stale value is ever compared.
    global _holding
    if _holding and time.ticks_diff(_hold_until, now) <= 0:
        _holding = False
    return _holding


def address(host, port):
    """("a.b.c.d", port) for host, resolving a name (blocks, as ESP-AT)."""
    return socket.getaddrinfo(host, port)[0][-1]


def resolve(host, port):
    """Generator: ("a.b.c.d", port), through the firmware's own DNS client
    when the build has it (it does not block the AT loop). An address or
    localhost needs no lookup (lwIP reads them itself), nor the client in
    the heap."""
    from firmware.addr import is_ipv4  # here: a global of links costs boot heap

    if host == "localhost":
        return "127.0.0.1", port
    if is_ipv4(host):
        return host, port
    try:
        from firmware import dns
    except ImportError:
        return address(host, port)
    return ((yield from dns.lookup(host))[0], port)


def dial(sock, remote, deadline):
    """Generator: connect a TCP socket without blocking the AT loop; raises
    OSError (ECONNREFUSED, ETIMEDOUT at the ticks_ms deadline, or the
    connect's own) when it does not get through. sock stays open."""
    sock.setblocking(False)
    try:
        sock.connect(remote)
    except OSError as e:
        if e.errno != errno.EINPROGRESS:
            raise
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    while True:
        ready = poller.poll(0)
        if ready:
            if ready[0][1] & (select.POLLERR | select.POLLHUP):
                raise OSError(errno.ECONNREFUSED)
            return
        if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
            raise OSError(errno.ETIMEDOUT)
        yield 5


def write_all(sock, n, timeout_ms):
    """Write n bytes of tx to a TCP socket, blocking for at most timeout_ms
    between progress (0: no bound). The UART is not read meanwhile, so the
    host is held back (RTS) rather than losing bytes."""
    _set_timeout(sock, timeout_ms)
    _write_then_unblock(sock, n)


def _write_then_unblock(sock, n):
    try:
        _write_loop(sock, n)
    finally:
        sock.setblocking(False)


def _set_timeout(sock, timeout_ms):
    if not hasattr(sock, "settimeout"):  # a TLS socket: blocking with firmware/ssl_link.py's timeout
        sock.setblocking(True)
    elif timeout_ms % 1000:
        sock.settimeout(timeout_ms / 1000)
    else:  # whole seconds: an int, not a float on the heap
        sock.settimeout(timeout_ms // 1000 if timeout_ms else None)


def _write_loop(sock, n):
    done = 0
    while done < n:
        k = sock.write(tx, done, n - done)
        if not k:
            raise OSError(11)
        done += k
