"""Real network peers for the data-plane tests, on 127.0.0.1 in the test
process: a TCP server that records what it receives and can send, and a
UDP socket. The module's station reaches them through its own loopback
address. And the client side of the module's own servers."""

import socket
import threading
import time


class TcpPeer:
    """A listening TCP socket; each accepted connection is a Conn."""

    def __init__(self):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.conns = []
        self._ready = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, peer = self.server.accept()
            except OSError:
                return
            conn = Conn(sock, peer)
            with self._ready:
                self.conns.append(conn)
                self._ready.notify_all()

    def conn(self, index=0, timeout=10):
        """The index-th accepted connection, waiting for it."""
        with self._ready:
            if not self._ready.wait_for(lambda: len(self.conns) > index, timeout):
                raise AssertionError("no connection %d" % index)
            return self.conns[index]

    def close(self):
        self.server.close()
        for conn in self.conns:
            conn.close()


class Conn:
    def __init__(self, sock, peer):
        self.sock = sock
        self.peer = peer
        self.data = bytearray()
        self.closed = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            with self._changed:
                if not chunk:
                    self.closed = True
                    self._changed.notify_all()
                    return
                self.data += chunk
                self._changed.notify_all()

    def wait_data(self, length, timeout=10):
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.data) >= length or self.closed, timeout):
                raise AssertionError("peer got %d of %d bytes" % (len(self.data), length))
            return bytes(self.data)

    def wait_closed(self, timeout=10):
        with self._changed:
            assert self._changed.wait_for(lambda: self.closed, timeout), "peer not closed"

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        # shutdown() first: a close() alone does not end a connection that
        # the reader thread is blocked on.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def reset(self):
        """Close with RST instead of FIN."""
        import struct

        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.shutdown(socket.SHUT_RD)  # wakes the reader; RST on close
        self.sock.close()


class UdpPeer:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]

    def recv(self):
        return self.sock.recvfrom(65536)

    def close(self):
        self.sock.close()


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def connect_when_listening(connect, timeout=20):
    """connect() (a client of the module's server) once it succeeds: after
    a boot, the station joins before the server can be reached."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def recv_exactly(conn, count):
    """count bytes from a socket (plain or TLS)."""
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        assert chunk, data
        data += chunk
    return data
