# Sending: AT+CIPSEND (length form; the execute form enters passthrough)
# and AT+CIPSENDEX (AT+CIPSENDL and AT+CIPSENDLCFG: firmware/tcpip_sendl.py).
#
# AT+CIPSEND/CIPSENDEX collect the host's bytes in the shared transmit
# buffer, print "Recv <n> bytes", then hand them to the socket and print
# SEND OK or SEND FAIL.
import sys
import time

from micropython import const

from firmware import errors, links, params
from firmware.at import DONE
from firmware.links import UDP

_SEND_MAX = const(8192)
IPD_GAP_MS = const(20)  # quiet time after SEND OK before network data
_BACKSLASH = const(0x5C)
_ZERO = const(0x30)

SEND_OK = b"\r\nSEND OK\r\n"
SEND_FAIL = b"\r\nSEND FAIL\r\n"

_at = None


def link_for(at, link_id, args, i, longest):
    length = params.int_at(args, i, 1, longest)
    link = links.table[link_id]
    if link is None or link.eof:
        raise errors.failed()
    if links.passthrough is not None:
        raise errors.failed()
    remote = None
    if len(args) > i + 1:
        if link.kind != UDP:
            raise errors.invalid(i + 1)
        host = params.str_at(args, i + 1, 64, params.REQUIRED, 1)
        port = params.int_at(args, i + 2, 1, 65535)
        try:
            remote = links.address(host, port)
        except OSError:
            raise errors.failed()
    return link, length, remote


def cipsend_set(at, args):
    link_id = links.split_id(args, 1, 3)  # [<id>,]<len>[,"host",<port>]
    i = links.mux
    if links.raw_receive:
        raise errors.failed()  # passthrough takes no length
    link, length, remote = link_for(at, link_id, args, i, _SEND_MAX)
    return _send(at, link, length, remote, False)


def cipsendex_set(at, args):
    link_id = links.split_id(args, 1, 3)  # [<id>,]<len>[,"host",<port>]
    i = links.mux
    if links.raw_receive:
        raise errors.failed()
    link, length, remote = link_for(at, link_id, args, i, _SEND_MAX)
    return _send(at, link, length, remote, True)


def cipsend_execute(at):
    # AT+CIPMODE=1 is set by passthrough's group, which stays in while it
    # holds: in normal transmission mode the error needs none of its code
    # (imported here, it would stay behind, never registered nor let go).
    if not links.raw_receive:
        raise errors.failed()
    return sys.modules["firmware.passthrough"].enter(at)


class Sink:
    """Where the host's bytes go during a > block: a send buffer (the
    shared transmit buffer, or for a UDP datagram longer than it one of its
    own: a datagram leaves in one piece), handed on by flush() whenever it
    is full."""

    def __init__(self, link, length, cap):
        self.link = link
        if link.kind == UDP and length > cap:
            self.buf = bytearray(length)
            cap = length
        else:
            self.buf = links.tx
        self.view = memoryview(self.buf)
        self.cap = cap
        self.filled = 0  # bytes in buf
        self.received = 0  # bytes taken from the UART
        self.failed = False

    def put(self, chunk, i, j):
        while i < j:
            if self.filled == self.cap:
                self.flush()
            take = min(self.cap - self.filled, j - i)
            self.view[self.filled : self.filled + take] = chunk if take == len(chunk) else chunk[i : i + take]
            self.filled += take
            i += take

    def flush(self):
        """A full buffer of a TCP link goes to the stack now, blocking: the
        UART is not read meanwhile, so the host waits (RTS)."""
        link = self.link
        if not self.failed:
            try:
                links.write_all(link.sock, self.filled, link.tcpopt[2] if link.tcpopt else 0)
            except OSError:
                self.failed = True
        self.filled = 0


class _Collector(Sink):
    """AT+CIPSEND's and AT+CIPSENDEX's sink; with escapes (CIPSENDEX), \\0
    ends the data early and a backslash takes the next byte literally."""

    def __init__(self, link, length, escapes):
        super().__init__(link, length, len(links.tx))
        self.escapes = escapes
        self.pending_escape = False

    def __call__(self, chunk):
        n = len(chunk)
        if not self.escapes:
            self.put(chunk, 0, n)
            self.received += n
            return None
        data = bytes(chunk)  # for find(); CIPSENDEX is not a bulk path
        i = 0
        while i < n:
            if self.pending_escape:
                self.pending_escape = False
                if data[i] == _ZERO:
                    self.received += i + 1
                    return i + 1  # \0: the end of the data
                self.put(chunk, i, i + 1)
                i += 1
                continue
            j = data.find(b"\\", i)
            if j < 0:
                j = n
            self.put(chunk, i, j)
            if j < n:
                self.pending_escape = True
                j += 1
            i = j
        self.received += n
        return None


def _send(at, link, length, remote, escapes):
    collector = _Collector(link, length, escapes)
    if (yield from at.receive(length, collector, cancel=True)):
        at.write(b"\r\nSEND Canceled\r\n")
        return DONE
    at.write(b"\r\nRecv %d bytes\r\n" % collector.received)
    ok = not collector.failed
    if ok:
        ok = yield from send_buffer(link, collector.buf, collector.filled, remote)
    at.write(SEND_OK if ok else SEND_FAIL)
    links.hold_ipd(IPD_GAP_MS)
    return DONE


def send_buffer(link, buf, n, remote=None):
    """Generator: send n bytes of buf on link; returns True once the stack
    has them all, False when the link fails or times out."""
    if link.kind == UDP:
        try:
            link.sock.sendto(memoryview(buf)[:n], remote or (link.host, link.port))
        except OSError:
            return False
        link.last_ms = time.ticks_ms()
        return True
    timeout = link.tcpopt[2] if link.tcpopt else 0
    start = time.ticks_ms()
    done = 0
    while done < n:
        if links.table[link.id] is not link:
            return False  # closed meanwhile
        try:
            k = link.sock.write(buf, done, n - done)
        except OSError:
            return False
        if k:
            done += k
            continue
        if timeout and time.ticks_diff(time.ticks_ms(), start) > timeout:
            return False
        yield 2
    link.last_ms = time.ticks_ms()
    return True


_TABLE = (
    ("+CIPSEND", None, None, cipsend_set, cipsend_execute),
    ("+CIPSENDEX", None, None, cipsendex_set, None),
)


def register(at):
    global _at
    _at = at
    at.register(_TABLE)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): not while
    AT+CIPSENDL's group, built on it, is in."""
    return "firmware.tcpip_sendl" not in sys.modules
