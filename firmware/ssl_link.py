# The TLS data plane of the SSL group (firmware/ssl.py), imported the first
# time an SSL link is opened or an SSL server accepts a client, so that a
# host that never uses TLS does not pay its heap: client links for
# AT+CIPSTART (connect), clients of the SSL server (accept, then admit once
# their handshake is over), contexts built from the certificate files.
#
# Handshakes never block the AT loop: the TCP socket is wrapped with
# do_handshake_on_connect=False and the handshake advances a step per loop
# turn. The tls module cannot tell when a handshake is over, so the socket
# it wraps is a _Wire that watches the TLS records go by (TLS 1.2, the only
# version MicroPython's mbedTLS configurations have: the handshake ends with
# the Finished message that follows a ChangeCipherSpec) and keeps
# application data back until the link exists.
import errno
import io
import select
import time

import tls
from micropython import const

from firmware import addr, errors, links, ssl, tcpip
from firmware.at import forget, log
from firmware.ssl import _auth, _ca, _cn, _hint, _names, _pki, _psk, _sni

_HANDSHAKE_MS = const(10000)  # per handshake packet, as ESP-AT
_WRITE_TIMEOUT_S = const(10)  # blocking writes (AT+CIPSENDL, passthrough)
_POLL = const(3)  # MP_STREAM_POLL
_CLOSE = const(4)  # MP_STREAM_CLOSE
_IN_OUT = const(5)  # select.POLLIN | select.POLLOUT
_ERR_HUP = const(24)  # select.POLLERR | select.POLLHUP
_CCS = const(20)  # TLS record types
_ALERT = const(21)
_VERIFY_FAILED = const(0x2700)  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED

_one = bytearray(1)  # what a handshake step reads into (it never gets data)
_pending: list = []  # server handshakes under way: [wire, tls socket, peer, deadline]
_ticking = False  # _serve is one of the engine's tickers


# -- the socket under the TLS layer ------------------------------------------------


class _Records:
    """Counts the TLS records going one way during the handshake."""

    def __init__(self):
        self.head = bytearray(5)
        self.got = 0  # header bytes of the current record seen
        self.left = 0  # its body bytes still to come
        self.kind = 0
        self.ccs = False  # a ChangeCipherSpec went by
        self.after = False  # and a whole record after it (Finished)

    def feed(self, buf, n):
        i = 0
        while i < n:
            if self.got < 5:
                take = min(5 - self.got, n - i)
                self.head[self.got : self.got + take] = buf[i : i + take]
                self.got += take
                i += take
                if self.got < 5:
                    return
                self.kind = self.head[0]
                self.left = self.head[3] << 8 | self.head[4]
            take = min(self.left, n - i)
            self.left -= take
            i += take
            if not self.left:
                self.got = 0
                if self.kind == _CCS:
                    self.ccs = True
                elif self.ccs and self.kind != _ALERT:
                    self.after = True


class _Wire(io.IOBase):
    """The TCP socket as the tls module sees it: passes bytes both ways,
    polls and closes the socket for it, and during the handshake tells
    when it is over. The client's ends with the server's Finished received,
    the server's with its own Finished sent; what follows is held back
    until the link is in the table (release())."""

    def __init__(self, sock, server):
        self.sock = sock
        self.server = server
        self.poller = select.poll()
        self.poller.register(sock, _IN_OUT)
        self.shaking = True
        self.done = False
        self.moved = False  # bytes arrived since the last look
        self.rx = _Records()
        self.tx = _Records()

    def release(self):
        self.shaking = False
        self.rx = self.tx = None

    def readinto(self, buf):
        if self.done and self.shaking:
            return None  # application data waits for the link
        try:
            n = self.sock.readinto(buf)
        except OSError as e:
            return -e.errno
        if n and self.shaking:
            self.moved = True
            self.rx.feed(buf, n)
            if not self.server and self.rx.after:
                self.done = True
        return n

    def write(self, buf):
        try:
            n = self.sock.write(buf)
        except OSError as e:
            return -e.errno
        if n and self.shaking:
            self.tx.feed(buf, n)
            if self.server and self.tx.after:
                self.done = True
        return n

    def setblocking(self, flag):
        # links.write_all() makes a TLS socket blocking while it writes.
        if flag:
            self.sock.settimeout(_WRITE_TIMEOUT_S)
        else:
            self.sock.setblocking(False)

    def ioctl(self, request, arg):
        if request == _POLL:
            for _, events in self.poller.ipoll(0):
                return events & (arg | _ERR_HUP)
            return 0
        if request == _CLOSE:
            self.close_socket()
            return 0
        return -errno.EINVAL

    def close_socket(self):
        sock = self.sock
        if sock is not None:
            self.sock = None
            self.poller.unregister(sock)
            try:
                sock.close()
            except OSError:
                pass


def _step(wire, sock):
    """One step of a handshake: True when it is over, False while it goes
    on; raises OSError or ValueError when it fails."""
    if sock.readinto(_one) == 0:
        raise OSError(errno.ECONNRESET)  # closed by the peer
    return wire.done


def _code(e):
    """The +ERRNO value for a failed handshake: the socket's errno, the
    mbedTLS error (positive), or a certificate that failed verification."""
    if isinstance(e, ValueError):
        return _VERIFY_FAILED  # the tls module words its verification failures
    code = e.args[0] if e.args and type(e.args[0]) is int else 0
    return -code if code < 0 else code


def _errno(at, code):
    if at.syslog:
        at.reply(b"+ERRNO:0x%x" % code)


# -- certificates and keys -----------------------------------------------------------


def _read(at, name):
    try:
        with open(at.board.FS_ROOT + "/" + name, "rb") as f:
            return f.read()
    except OSError:
        log("ssl: no file", name)
        raise errors.failed()


def _der_items(at, name, want_key):
    data = _read(at, name)
    # The reader goes again after each file: it is no group, so nothing
    # else would let it go, and a context reads its files once.
    from firmware import pem

    items = pem.der_items(data, want_key)
    forget("firmware.pem")
    return items


def _load_pair(at, ctx, cert_name, key_name):
    certs = _der_items(at, cert_name, False)
    keys = _der_items(at, key_name, True)
    if not certs or not keys:
        log("ssl: no certificate or key in", cert_name, key_name)
        raise errors.failed()
    try:
        ctx.load_cert_chain(certs[0], keys[0])  # the tls module takes the leaf only
    except (OSError, ValueError) as e:
        log("ssl:", cert_name, key_name, e)
        raise errors.failed()


def _load_cas(at, ctx, name):
    cas = _der_items(at, name, False)
    if not cas:
        log("ssl: no certificate in", name)
        raise errors.failed()
    try:
        for der in cas:
            ctx.load_verify_locations(der)  # each one adds to the chain
    except (OSError, ValueError) as e:
        log("ssl:", name, e)
        raise errors.failed()


# -- the client ------------------------------------------------------------------------


def _tls_in_use():
    n = len(_pending)
    for link in links.table:
        if link is not None and link.kind == links.SSL:
            n += 1
    return n


def _client(at, link_id, host, ctx):
    """The context of a client link, and the name to send (SNI) and verify.
    ctx: the context the link had, when passthrough dials it again (its
    certificates are loaded, and no new one needs room)."""
    auth = _auth[link_id]
    sni = _sni[link_id]
    cn = _cn[link_id]
    if auth & 2:
        # One name is both sent and checked (server_hostname): the expected
        # common name if set, else the SNI, else the host.
        if cn and sni and cn != sni:
            log("ssl: SNI and common name differ")
            raise errors.no_api()
        name = cn or sni or host
    else:
        name = sni or (None if addr.is_ipv4(host) else host)
    if ctx is not None:
        return ctx, name
    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    if auth & 1:
        _load_pair(at, ctx, "client_cert.%d" % _pki[link_id], "client_key.%d" % _pki[link_id])
    if auth & 2:
        _load_cas(at, ctx, "client_ca.%d" % _ca[link_id])
        setattr(ctx, "verify_mode", tls.CERT_REQUIRED)
    else:
        setattr(ctx, "verify_mode", tls.CERT_NONE)
    if _psk[link_id]:
        if not ssl.has_psk():
            raise errors.no_api()
        setattr(ctx, "psk_identity", _hint[link_id])
        setattr(ctx, "psk_key", _psk[link_id])
    return ctx, name


def connect(at, link_id, sock, host, ctx=None):
    """Generator (firmware/tcpip.py's ssl_connect): the TLS handshake on a connected
    TCP socket; returns (the TLS socket, its context), or closes sock and
    raises ATError. host None: the link is dialled again (passthrough), with
    the name of its AT+CIPSTART, the context it had (ctx) if it had one,
    and without +ERRNO (the UART carries data then)."""
    report = host is not None
    if host is None:  # the name of its AT+CIPSTART, else its AT+SAVETRANSLINK host
        host = _names[link_id] or links.table[link_id].host
    wire = None
    try:
        if _tls_in_use() >= ssl.tls_links:
            log("ssl: already", ssl.tls_links, "TLS links")
            raise errors.failed()
        ctx, name = _client(at, link_id, host, ctx)
        if tcpip.tcpopt[link_id][1]:
            try:
                sock.setsockopt(6, 1, 1)  # TCP_NODELAY: the TLS socket has no setsockopt
            except OSError:
                pass
        wire = _Wire(sock, False)
        secure = ctx.wrap_socket(wire, server_hostname=name, do_handshake_on_connect=False)
        _names[link_id] = host
        deadline = time.ticks_add(time.ticks_ms(), _HANDSHAKE_MS)
        while not _step(wire, secure):
            now = time.ticks_ms()
            if wire.moved:
                wire.moved = False
                deadline = time.ticks_add(now, _HANDSHAKE_MS)
            elif time.ticks_diff(deadline, now) <= 0:
                raise OSError(errno.ETIMEDOUT)
            yield 2
    except (OSError, ValueError) as e:
        log("ssl: handshake:", e)
        _close(wire, sock)
        if report:
            _errno(at, _code(e))
        raise errors.failed()
    except BaseException:  # ATError, or the generator closed (passthrough stopped)
        _close(wire, sock)
        raise
    wire.release()
    return secure, ctx


def _close(wire, sock):
    if wire is not None:
        wire.close_socket()  # the tls module does not close it after a failure
    else:
        try:
            sock.close()
        except OSError:
            pass


# -- the server -------------------------------------------------------------------------


def accept(at, sock, ca_enable, peer):
    """firmware/tcpip_server.py's ssl_accept: starts the handshake with a client
    just accepted and returns None; the link is entered and announced
    (tcpip_server.admit) once the handshake is over, and a client that
    fails it is closed without a word."""
    wire = None
    try:
        if _tls_in_use() >= ssl.tls_links:
            raise errors.failed()
        ctx = tls.SSLContext(tls.PROTOCOL_TLS_SERVER)
        _load_pair(at, ctx, "server_cert", "server_key")
        if ca_enable:
            _load_cas(at, ctx, "server_ca")
            setattr(ctx, "verify_mode", tls.CERT_REQUIRED)
        sock.setblocking(False)
        wire = _Wire(sock, True)
        secure = ctx.wrap_socket(wire, server_side=True, do_handshake_on_connect=False)
    except (OSError, ValueError, errors.ATError) as e:
        log("ssl: server:", e)
        _close(wire, sock)
        return None
    global _ticking
    if not _ticking:
        at.tick(_serve)
        _ticking = True
    _pending.append([wire, secure, peer, time.ticks_add(time.ticks_ms(), _HANDSHAKE_MS)])
    return None


def _serve(now):
    """Advance the server handshakes under way (once per loop turn)."""
    if not _pending:
        return
    for item in _pending[:]:
        wire, secure, peer, deadline = item
        try:
            done = _step(wire, secure)
        except (OSError, ValueError) as e:
            log("ssl: server handshake:", e)
            _pending.remove(item)
            wire.close_socket()
            continue
        if done:
            _pending.remove(item)
            wire.release()
            _admit(secure, peer)
        elif wire.moved:
            wire.moved = False
            item[3] = time.ticks_add(now, _HANDSHAKE_MS)
        elif time.ticks_diff(deadline, now) <= 0:
            log("ssl: server handshake timed out")
            _pending.remove(item)
            wire.close_socket()


def _admit(secure, peer):
    try:
        from firmware import tcpip_server
    except ImportError:
        secure.close()
        return
    tcpip_server.admit(secure, peer)


def unload(at):
    """Whether this module can go with the SSL group (firmware/ssl.py's
    unload): no server handshake under way."""
    global _ticking
    if _pending:
        return False
    if _ticking:
        at.untick(_serve)
        _ticking = False
    return True
