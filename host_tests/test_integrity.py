"""Data integrity of the TCP/IP data plane under load (esp-at-modern.md §2.5,
§3.3-§3.6, wire-compat.md "Sending" and "Receiving"): at least 10 MB each
way through passthrough, active +IPD with AT+CIPSEND and AT+CIPSENDL,
passive mode (AT+CIPRECVDATA) and five links at once, each compared by
SHA-256; slow peers and slow hosts hold the other side back and lose
nothing; peers that reset, and a server that vanishes and comes back.

The peers are real sockets on 127.0.0.1 in this process (threads); the
module's station has joined OpenNet. The module runs unpaced with RTS/CTS
on (AT+UART_CUR=...,3), as ESP-AT's throughput guide runs it: without flow
control a host that reads the UART slower than the module writes loses
bytes, on the virtual module as on a real UART. `-m "not slow"` leaves out
the bulk transfers while working on something else; the suite runs them."""

import hashlib
import os
import random
import re
import select
import socket
import struct
import threading
import time

import pytest


MB = 1024 * 1024
BULK = 10 * MB
FLOW = "AT+UART_CUR=115200,8,1,0,3"  # RTS and CTS
IPD_MAX = 2920

slow = pytest.mark.slow


def payload(size, seed):
    """Reproducible random bytes."""
    return random.Random(seed).randbytes(size)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# -- network peers -------------------------------------------------------------------


class Server:
    """A TCP server on 127.0.0.1; each accepted connection becomes a Peer
    with the given options."""

    def __init__(self, port=0, **options):
        self.options = options
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if options.get("rcvbuf"):  # inherited by the accepted sockets
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options["rcvbuf"])
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.peers = []
        self.accepted_at = []
        self._changed = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, address = self.sock.accept()
            except OSError:
                return
            peer = Peer(sock, address, **self.options)
            with self._changed:
                self.peers.append(peer)
                self.accepted_at.append(time.monotonic())
                self._changed.notify_all()

    def peer(self, index=0, timeout=10):
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.peers) > index, timeout), "no connection %d" % index
            return self.peers[index]

    def close(self):
        """The server vanishes: no more listening, its connections reset."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self.sock.close()
        for peer in self.peers:
            peer.reset()


class Peer:
    """One connection: hashes what it receives (slowly, with read_delay
    after each recv of `chunk` bytes) and sends from a thread."""

    def __init__(self, sock, address, read_delay=0.0, chunk=65536, sndbuf=None, rcvbuf=None, on_accept=None,
                 reset_after=None):
        self.sock = sock
        self.reset_after = reset_after  # reset once this many bytes came
        self.address = address
        self.read_delay = read_delay
        self.chunk = chunk
        if sndbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        self.hash = hashlib.sha256()
        self.received = 0
        self.head = bytearray()  # the first bytes received, for messages
        self.closed = False
        self.sent = 0
        self.send_done = None  # time the last byte went into the socket
        self.send_error = None
        self._changed = threading.Condition()
        if on_accept is not None:
            on_accept(self)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                data = self.sock.recv(self.chunk)
            except OSError:
                data = b""
            with self._changed:
                if not data:
                    self.closed = True
                    self._changed.notify_all()
                    return
                self.hash.update(data)
                if len(self.head) < 64:
                    self.head += data[: 64 - len(self.head)]
                self.received += len(data)
                self._changed.notify_all()
            if self.reset_after is not None and self.received >= self.reset_after:
                self.reset()
                continue  # the next recv fails: closed
            if self.read_delay:
                time.sleep(self.read_delay)

    def wait_received(self, count, timeout=60):
        with self._changed:
            done = self._changed.wait_for(lambda: self.received >= count or self.closed, timeout)
            assert done and self.received >= count, "peer got %d of %d bytes" % (self.received, count)
            assert self.received == count, "peer got %d bytes, more than the %d sent" % (self.received, count)
            return self.hash.hexdigest()

    def wait_count(self, count, timeout=10):
        """Wait until at least count bytes came (or the connection ended)."""
        with self._changed:
            self._changed.wait_for(lambda: self.received >= count or self.closed, timeout)
            return self.received

    def wait_closed(self, timeout=10):
        with self._changed:
            assert self._changed.wait_for(lambda: self.closed, timeout), "the module did not close"

    def send_async(self, data, stop_after=None):
        """Send data from a thread; with stop_after, reset the connection
        once that many bytes have gone into the socket."""

        def run():
            view = memoryview(data)
            try:
                while self.sent < len(data):
                    n = self.sock.send(view[self.sent : self.sent + 65536])
                    self.sent += n
                    if stop_after is not None and self.sent >= stop_after:
                        self.reset()
                        return
            except OSError as e:
                self.send_error = e
            self.send_done = time.monotonic()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def reset(self):
        """Close with RST rather than FIN."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.shutdown(socket.SHUT_RD)  # wakes the reading thread
        except OSError:
            pass
        self.sock.close()


# -- the host's side of the pty --------------------------------------------------------


def write_all(module, data, chunk=65536):
    """Write everything to the pty, waiting for room (the launcher holds
    the host back with RTS)."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(module.fd, view[:chunk])
        except BlockingIOError:
            select.select([], [module.fd], [], 1)
            continue
        view = view[n:]


def write_async(module, data):
    thread = threading.Thread(target=write_all, args=(module, data), daemon=True)
    thread.start()
    return thread


def read_raw(module, count, timeout=60, read_delay=0.0, chunk=65536, progress=None):
    """Read exactly count raw bytes from the pty (passthrough); their
    SHA-256. With read_delay, sleep after each read (a slow host)."""
    digest = hashlib.sha256()
    got = 0
    if module.buffer:
        head = module.buffer[:count]
        module.buffer = module.buffer[len(head) :]
        digest.update(head)
        got = len(head)
    deadline = time.monotonic() + timeout
    while got < count:
        try:
            data = os.read(module.fd, min(chunk, count - got))
        except BlockingIOError:
            data = b""
        if data:
            digest.update(data)
            got += len(data)
            if progress is not None:
                progress[0] = got
            if read_delay:
                time.sleep(read_delay)
            continue
        left = deadline - time.monotonic()
        assert left > 0, "host got %d of %d bytes" % (got, count)
        select.select([module.fd], [], [], left)
    return digest.hexdigest()


IPD = re.compile(rb"\r\n\+IPD,(?:(\d),)?(\d+)(?:,\"[\d.]+\",\d+)?:")
IPD_START = b"\r\n+IPD,"


class Host:
    """Reads the module's output in a thread: +IPD frames are hashed per
    link, everything else collects as text that expect() waits on."""

    def __init__(self, module, read_delay=0.0, chunk=262144):
        self.module = module
        self.read_delay = read_delay
        self.chunk = chunk
        self.buf = bytearray(module.buffer)
        module.buffer = b""
        self.text = bytearray()
        self.hashes = {}
        self.counts = {}
        self.frames = 0
        self.largest = 0
        self._changed = threading.Condition()
        self._stop = False
        self.error = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        fd = self.module.fd
        try:
            while not self._stop:
                select.select([fd], [], [], 0.1)
                try:
                    data = os.read(fd, self.chunk)
                except BlockingIOError:
                    continue
                with self._changed:
                    self.buf += data
                    self._parse()
                    self._changed.notify_all()
                if self.read_delay:
                    time.sleep(self.read_delay)
        except Exception as e:  # noqa: BLE001 - reported by the waiting test
            with self._changed:
                self.error = e
                self._changed.notify_all()

    def _parse(self):
        buf = self.buf
        i = 0
        while True:
            j = buf.find(IPD_START, i)
            if j < 0:
                end = len(buf)
                for k in range(len(IPD_START) - 1, 0, -1):  # a header cut in two
                    if buf.endswith(IPD_START[:k]):
                        end -= k
                        break
                self.text += buf[i:end]
                i = end
                break
            self.text += buf[i:j]
            m = IPD.match(buf, j)
            if m is None:
                assert len(buf) - j < 40, "not an +IPD header: %r" % bytes(buf[j : j + 40])
                i = j
                break
            length = int(m.group(2))
            if len(buf) < m.end() + length:
                i = j
                break
            link = int(m.group(1) or 0)
            self.hashes.setdefault(link, hashlib.sha256()).update(memoryview(buf)[m.end() : m.end() + length])
            self.counts[link] = self.counts.get(link, 0) + length
            self.frames += 1
            self.largest = max(self.largest, length)
            i = m.end() + length
        del buf[:i]

    def wait(self, predicate, timeout=60, what="condition"):
        with self._changed:
            done = self._changed.wait_for(lambda: self.error is not None or predicate(), timeout)
            if self.error is not None:
                raise self.error
            assert done, "%s not met; +IPD bytes %r; text %r" % (what, self.counts, bytes(self.text[-300:]))

    def expect(self, marker, timeout=30):
        """Text up to and including marker (bytes or a compiled regex). A
        marker must not end in CR LF: output that ends so may go on as an
        +IPD header, so those bytes wait for what follows."""
        found = []

        def seen():
            if isinstance(marker, bytes):
                i = self.text.find(marker)
                found[:] = [i + len(marker)] if i >= 0 else []
            else:
                m = marker.search(self.text)
                found[:] = [m.end()] if m else []
            return bool(found)

        self.wait(seen, timeout, "%r" % (marker,))
        with self._changed:
            out = bytes(self.text[: found[0]])
            del self.text[: found[0]]
            return out

    def received(self, link=0):
        return self.counts.get(link, 0)

    def digest(self, link=0):
        with self._changed:
            return self.hashes[link].hexdigest() if link in self.hashes else sha(b"")

    def close(self):
        """Stop reading; what is left goes back to the module's buffer."""
        self._stop = True
        self._thread.join()
        assert IPD_START.startswith(self.buf), "a frame was cut: %r" % bytes(self.buf[:60])
        self.module.buffer = bytes(self.text + self.buf)


def send(host, module, command, data):
    """AT+CIPSEND and its kin while a Host reads: the final line."""
    module.write(command.encode() + b"\r\n")
    assert host.expect(b">").endswith(b"\r\nOK\r\n\r\n>")
    write_all(module, data)
    return host.expect(re.compile(rb"SEND (OK|FAIL)"))


def escape(module):
    """+++ alone, with the silence rules around it."""
    time.sleep(0.1)
    module.write(b"+++")
    time.sleep(0.1)


def enter_passthrough(module, server):
    module.ok("AT+CIPMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
    peer = server.peer()
    module.write(b"AT+CIPSEND\r\n")
    assert module.read_until(b">") == b"\r\nOK\r\n\r\n>"
    return peer


def leave_passthrough(module):
    escape(module)
    time.sleep(1)  # ESP-AT wants a second before the next command
    assert module.at("AT") == b"\r\nOK\r\n"


@pytest.fixture
def net(online):
    """A quiet, unpaced module on OpenNet with RTS/CTS on."""
    module = online
    module.ok(FLOW)
    servers = []

    def serve(**options):
        server = Server(**options)
        servers.append(server)
        return server

    yield module, serve
    for server in servers:
        server.close()


# -- 10 MB each way ------------------------------------------------------------------------


@slow
def test_passthrough_10mb_each_way_at_once(net):
    module, serve = net
    peer = enter_passthrough(module, serve())
    up, down = payload(BULK, 1), payload(BULK, 2)
    peer.send_async(down)
    write_async(module, up)
    assert read_raw(module, BULK) == sha(down)
    assert peer.wait_received(BULK) == sha(up)
    assert module.read_for(0.3) == b""  # not a byte more
    leave_passthrough(module)
    module.ok("AT+CIPCLOSE")


@slow
def test_active_ipd_and_cipsend_10mb_each_way_at_once(net):
    module, serve = net
    server = serve()
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
    peer = server.peer()
    up, down = payload(BULK, 3), payload(BULK, 4)
    host = Host(module)
    peer.send_async(down)
    for offset in range(0, BULK, 8192):
        reply = send(host, module, "AT+CIPSEND=8192", up[offset : offset + 8192])
        assert reply == b"\r\nRecv 8192 bytes\r\n\r\nSEND OK", reply
    host.wait(lambda: host.received() >= BULK, 60, "10 MB of +IPD")
    assert host.received() == BULK and host.digest() == sha(down)
    assert host.largest <= IPD_MAX
    assert peer.wait_received(BULK) == sha(up)
    time.sleep(0.3)
    host.close()
    assert module.buffer.strip() == b""  # nothing but the line ends
    module.buffer = b""
    assert module.at("AT+CIPCLOSE") == b"CLOSED\r\n\r\nOK\r\n"


@slow
def test_cipsendl_10mb_to_the_network(net):
    module, serve = net
    server = serve()
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
    peer = server.peer()
    up = payload(BULK, 3)
    host = Host(module)
    module.write(b"AT+CIPSENDL=%d\r\n" % BULK)
    assert host.expect(b">").endswith(b"\r\nOK\r\n\r\n>")
    write_async(module, up)
    reports = host.expect(re.compile(rb"SEND (OK|FAIL)"), 60)
    assert reports.endswith(b"\r\nSEND OK"), reports[-200:]
    progress = [(int(a), int(b)) for a, b in re.findall(rb"\+CIPSENDL:(\d+),(\d+)\r\n", reports)]
    assert progress and progress[-1] == (BULK, BULK)
    assert all(a <= b and p <= q for (a, p), (b, q) in zip(progress, progress[1:]))  # never backwards
    assert all(sent <= received for sent, received in progress)
    assert peer.wait_received(BULK) == sha(up)
    host.close()
    assert module.buffer == b"\r\n"  # the end of SEND OK
    module.buffer = b""
    assert module.ok("AT+CIPSTATE?").startswith(b'+CIPSTATE:0,"TCP"')


@slow
def test_passive_mode_10mb_to_the_host(net):
    module, serve = net
    server = serve()
    module.ok("AT+CIPRECVMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
    peer = server.peer()
    down = payload(BULK, 5)
    sender = peer.send_async(down)
    digest = hashlib.sha256()
    got = 0
    notice = re.compile(rb"\r\n\+IPD,(\d+)\r\n")
    header = re.compile(rb"\+CIPRECVDATA:(\d+),")
    while got < BULK:
        buffered = int(notice.search(module.read_until(notice, 10)).group(1))
        assert 0 < buffered <= 5840  # a link holds at most two slots
        module.write(b"AT+CIPRECVDATA=65536\r\n")
        n = int(header.search(module.read_until(header, 10)).group(1))
        assert n >= buffered  # what was announced, and what came since
        digest.update(module.read_exactly(n))
        assert module.read_exactly(6) == b"\r\nOK\r\n"
        got += n
    assert got == BULK and digest.hexdigest() == sha(down)
    sender.join(10)
    assert peer.send_error is None
    assert module.ok("AT+CIPRECVLEN?") == b"+CIPRECVLEN:0,-1,-1,-1,-1\r\n\r\nOK\r\n"
    peer.reset()
    assert module.read_until(b"CLOSED\r\n", 5) == b"CLOSED\r\n"


def link_ports(module):
    """{local port: link id} from AT+CIPSTATE?."""
    state = module.ok("AT+CIPSTATE?")
    return {int(port): int(link) for link, port in re.findall(rb'\+CIPSTATE:(\d),"TCP","[\d.]+",\d+,(\d+),0', state)}


@slow
def test_five_links_at_once_2mb_each_way_on_each(net):
    module, serve = net
    server = serve()
    size = BULK // 5
    module.ok("AT+CIPMUX=1")
    for link in range(5):
        assert module.at('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, server.port)) == b"%d,CONNECT\r\n\r\nOK\r\n" % link
    ports = link_ports(module)
    peers = {ports[server.peer(i).address[1]]: server.peer(i) for i in range(5)}
    assert sorted(peers) == [0, 1, 2, 3, 4]
    up = {link: payload(size, 10 + link) for link in peers}
    down = {link: payload(size, 20 + link) for link in peers}
    host = Host(module)
    for link, peer in peers.items():
        peer.send_async(down[link])
    for offset in range(0, size, 8192):  # round robin over the links
        for link in range(5):
            chunk = up[link][offset : offset + 8192]
            reply = send(host, module, "AT+CIPSEND=%d,%d" % (link, len(chunk)), chunk)
            assert reply == b"\r\nRecv %d bytes\r\n\r\nSEND OK" % len(chunk), reply
    host.wait(lambda: all(host.received(link) >= size for link in peers), 60, "2 MB on every link")
    for link, peer in peers.items():
        assert host.received(link) == size and host.digest(link) == sha(down[link]), link
        assert peer.wait_received(size) == sha(up[link]), link
    assert host.largest <= IPD_MAX
    time.sleep(0.3)
    host.close()
    assert module.buffer.strip() == b""
    module.buffer = b""
    assert module.at("AT+CIPCLOSE=5").endswith(b"\r\nOK\r\n")


@slow
def test_five_passive_links_at_once(net):
    """Five links whose data waits in the shared ring: each is read in
    turn as its notice comes, none is starved, nothing is lost."""
    module, serve = net
    server = serve()
    size = MB
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPRECVTYPE=5,1")  # all links passive
    for link in range(5):
        module.ok('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, server.port))
    ports = link_ports(module)
    peers = {ports[server.peer(i).address[1]]: server.peer(i) for i in range(5)}
    down = {link: payload(size, 30 + link) for link in peers}
    for link, peer in peers.items():
        peer.send_async(down[link])
    digests = {link: hashlib.sha256() for link in peers}
    got = dict.fromkeys(peers, 0)
    notice = re.compile(rb"\r\n\+IPD,(\d),(\d+)\r\n")
    header = re.compile(rb"\+CIPRECVDATA:(\d+),")
    pending = []  # links announced and not read since
    while any(n < size for n in got.values()):
        if not pending:
            pending += [int(i) for i, _ in notice.findall(module.read_until(notice, 10))]
        link = pending.pop(0)
        module.write(b"AT+CIPRECVDATA=%d,8192\r\n" % link)
        reply = module.read_until(header, 10)
        pending += [int(i) for i, _ in notice.findall(reply)]  # notices that came first
        n = int(header.search(reply).group(1))
        digests[link].update(module.read_exactly(n))
        assert module.read_exactly(6) == b"\r\nOK\r\n"
        got[link] += n
    for link in peers:
        assert got[link] == size and digests[link].hexdigest() == sha(down[link]), link


# -- backpressure ----------------------------------------------------------------------------


def kernel_limit(name):
    """The largest TCP buffer Linux gives a socket (tcp_wmem, tcp_rmem)."""
    with open("/proc/sys/net/ipv4/" + name) as f:
        return int(f.read().split()[2])


@pytest.mark.parametrize("path", ["passthrough", "cipsendl"])
def test_slow_peer_holds_the_host_back(net, path):
    """A peer that reads 16 KB every 2 ms: the module's socket fills, the
    module stops reading the UART and RTS stops the host. Every byte
    arrives; when the host has written the last byte, the peer has read all
    but what the module's socket can buffer (Linux's largest send buffer)
    and the UART's small buffers."""
    module, serve = net
    server = serve(read_delay=0.002, chunk=16384, rcvbuf=16384)
    size = 8 * MB
    up = payload(size, 40)
    if path == "passthrough":
        peer = enter_passthrough(module, server)
    else:
        module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
        peer = server.peer()
        host = Host(module)
        module.write(b"AT+CIPSENDL=%d\r\n" % size)
        assert host.expect(b">").endswith(b">")
    write_all(module, up)
    read_then = peer.received
    assert peer.wait_received(size, 60) == sha(up)
    assert read_then >= size - kernel_limit("tcp_wmem") - MB, "the host was not held back"
    if path == "passthrough":
        leave_passthrough(module)
    else:
        assert host.expect(re.compile(rb"SEND (OK|FAIL)"), 10).endswith(b"SEND OK")
        host.close()


@pytest.mark.parametrize("path", ["passthrough", "ipd"])
def test_slow_host_holds_the_peer_back(net, path):
    """A host that reads 16 KB every 2 ms: CTS holds the module, which
    stops reading its socket, and TCP holds the peer back. Every byte
    arrives, and the peer spends most of the transfer waiting."""
    module, serve = net
    server = serve(sndbuf=16384)
    size = 6 * MB
    down = payload(size, 41)
    if path == "passthrough":
        peer = enter_passthrough(module, server)
    else:
        module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.port)
        peer = server.peer()
    start = time.monotonic()
    peer.send_async(down)
    if path == "passthrough":
        assert read_raw(module, size, 60, read_delay=0.002, chunk=16384) == sha(down)
    else:
        host = Host(module, read_delay=0.002, chunk=16384)
        host.wait(lambda: host.received() >= size, 60, "6 MB of +IPD")
        assert host.received() == size and host.digest() == sha(down)
        host.close()
    done = time.monotonic()
    assert peer.send_done is not None and peer.send_error is None
    assert peer.send_done - start > 0.5 * (done - start), "the peer was not held back"
    if path == "passthrough":
        leave_passthrough(module)
    else:
        assert module.at("AT+CIPCLOSE") == b"CLOSED\r\n\r\nOK\r\n"


# -- links that break ----------------------------------------------------------------------


def test_peers_that_reset_mid_transfer(net):
    """One peer resets while it sends to the host, another while the host
    streams AT+CIPSENDL to it: each link reports CLOSED, what arrived is an
    intact prefix, and the module stays healthy (AT, the other link, new
    links)."""
    module, serve = net
    server = serve()
    module.ok("AT+CIPMUX=1")
    for link in range(3):
        module.ok('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, server.port))
    ports = link_ports(module)
    peers = {ports[server.peer(i).address[1]]: server.peer(i) for i in range(3)}
    host = Host(module)

    # Link 0: the peer sends 4 MB and resets after 1 MB.
    down = payload(4 * MB, 50)
    peers[0].send_async(down, stop_after=MB)
    assert host.expect(b"0,CLOSED", 20).endswith(b"0,CLOSED")
    got = host.received(0)
    assert 0 < got <= peers[0].sent
    assert host.digest(0) == sha(down[:got])  # a prefix, intact

    # Link 1: the host streams 4 MB; the peer resets after 1 MB.
    peers[1].reset_after = MB
    up = payload(4 * MB, 51)
    module.write(b"AT+CIPSENDL=1,%d\r\n" % len(up))
    assert host.expect(b">").endswith(b">")
    write_all(module, up)  # the module takes every byte it announced
    reply = host.expect(re.compile(rb"SEND (OK|FAIL)"), 20)
    assert reply.endswith(b"\r\nSEND FAIL"), reply[-200:]
    assert host.expect(b"1,CLOSED", 10).endswith(b"1,CLOSED")
    peers[1].wait_closed()
    assert peers[1].received >= MB
    assert peers[1].hash.hexdigest() == sha(up[: peers[1].received])

    # Healthy: AT answers, link 2 still carries data both ways, new links open.
    host.close()
    assert module.buffer.replace(b"\r\n", b"") == b""
    module.buffer = b""
    assert module.at("AT") == b"\r\nOK\r\n"
    state = module.ok("AT+CIPSTATE?")
    assert state.startswith(b'+CIPSTATE:2,"TCP"') and state.count(b"+CIPSTATE:") == 1
    host = Host(module)
    up, down = payload(MB, 52), payload(MB, 53)
    peers[2].send_async(down)
    for offset in range(0, MB, 8192):
        assert send(host, module, "AT+CIPSEND=2,8192", up[offset : offset + 8192]).endswith(b"SEND OK")
    host.wait(lambda: host.received(2) >= MB, 30, "1 MB on link 2")
    assert host.digest(2) == sha(down)
    assert peers[2].wait_received(MB) == sha(up)
    host.close()
    module.buffer = b""
    for link in (0, 1):
        assert module.at('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, server.port)) == b"%d,CONNECT\r\n\r\nOK\r\n" % link
    assert module.ok("AT+CIPSTATE?").count(b"+CIPSTATE:") == 3


def test_server_vanishes_in_passthrough_and_comes_back(net):
    """The server goes away (its connection reset, nobody listening); the
    module stays in passthrough, silent, and dials again every
    AT+CIPRECONNINTV; once the server is back, data flows both ways."""
    module, serve = net
    module.ok("AT+CIPRECONNINTV=5")  # 500 ms
    server = serve()
    port = server.port
    peer = enter_passthrough(module, server)
    before = payload(256 * 1024, 60)
    write_all(module, before)
    assert peer.wait_received(len(before)) == sha(before)

    server.close()  # gone: refused from now on
    time.sleep(1.2)

    # A server that resets every connection at once: the redials it sees
    # come one AT+CIPRECONNINTV apart.
    flapping = serve(port=port, on_accept=lambda p: p.reset())
    time.sleep(2.6)
    flapping.close()
    times = list(flapping.accepted_at)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) >= 3, times
    assert all(0.45 <= gap <= 0.5 + 0.4 for gap in gaps), gaps

    time.sleep(0.3)
    back = serve(port=port)
    returned = time.monotonic()
    peer = back.peer(timeout=5)
    assert back.accepted_at[0] - returned <= 0.5 + 0.4
    up, down = payload(MB, 61), payload(MB, 62)
    peer.send_async(down)
    write_async(module, up)
    assert read_raw(module, MB, 30) == sha(down)
    assert peer.wait_received(MB) == sha(up)
    assert module.read_for(0.3) == b""  # no CLOSED, no +QUITT: still passthrough
    leave_passthrough(module)


# -- +++ ---------------------------------------------------------------------------------------


def test_plus_signs_inside_binary_data_are_data(net):
    """+++ ends passthrough only alone between silences: inside data,
    right after data (also where a packet boundary leaves it last in the
    UART buffer), or right before more data, it is data."""
    module, serve = net
    server = serve()
    peer = enter_passthrough(module, server)
    sent = bytearray()

    def burst(data, pause=0.1):
        time.sleep(pause)  # silence before
        write_all(module, data)
        sent.extend(data)

    rng = random.Random(70)
    blob = bytearray()
    for _ in range(1000):  # 1 MB with +++ everywhere in it
        blob += rng.randbytes(rng.randrange(0, 2000)) + b"+++"
    burst(bytes(blob))
    burst(rng.randbytes(2920) + b"+++")  # a packet, then +++ left alone in the buffer
    burst(rng.randbytes(2 * 2920) + b"+++")
    burst(b"x+++")
    burst(b"+++y")  # silence before, none after
    burst(b"++++")
    burst(b"++")
    burst(b"+")
    time.sleep(0.1)
    assert peer.wait_received(len(sent), 20) == sha(bytes(sent))
    burst(b"still passthrough")
    assert peer.wait_received(len(sent)) == sha(bytes(sent))
    assert module.read_for(0.2) == b""
    leave_passthrough(module)  # AT+SYSMSG bit 0 is clear: no +QUITT
    assert peer.received == len(sent)  # the +++ itself was not sent


def test_real_escape_ends_passthrough_with_quitt(net):
    """Data, silence, +++, silence: the data arrives whole, +++ is not
    sent, passthrough ends with +QUITT (AT+SYSMSG bit 0), and the link
    stays open."""
    module, serve = net
    module.ok("AT+SYSMSG=1")
    server = serve()
    peer = enter_passthrough(module, server)
    data = payload(512 * 1024, 80)
    write_all(module, data)
    escape(module)
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    assert peer.wait_received(len(data)) == sha(data)
    time.sleep(1)
    assert module.at("AT") == b"\r\nOK\r\n"
    assert module.ok("AT+CIPSTATE?").startswith(b'+CIPSTATE:0,"TCP"')
    time.sleep(0.2)
    assert peer.received == len(data)
