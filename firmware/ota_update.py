# Firmware updates over the network: AT+CIUPDATE (from the board's update
# server: OTA_HOST, OTA_PORT, OTA_SSL_PORT, OTA_PATH, OTA_LATEST) and
# AT+USEROTA (from a URL the host sends after '>').
#
# The image is fetched with HTTP/1.1 GET (a 200 answer with Content-Length;
# no redirects, no chunked bodies), over TLS for HTTPS (the server is
# verified against client_ca.0 of the AT+FS folder when that file exists,
# not verified otherwise), and streams into the OTA slot the running app
# does not occupy, 4 KB at a time through one buffer that lives as long as
# the update: the image is never held in RAM. Before anything is written,
# the answer must be no bigger than the slot and its first block must start
# with the image magic; set_boot() then verifies the whole image (checksum,
# SHA-256) before it switches the boot slot. The magic byte is written last,
# so a slot whose download was cut short (even by a reset) holds no image;
# a failure leaves the boot slot as it was and, if the download had
# started, the other slot's first sector erased. Names are resolved by firmware.dns,
# connections and handshakes never block the AT loop, and the whole update
# has ESP-AT's 3 minutes.
#
# Blocking AT+CIUPDATE runs as the command (the port answers busy p...),
# non-blocking it runs from a ticker: OK first, then +CIPUPDATE:<n> and
# +CIPUPDATE:-1 as unsolicited messages, and no restart (ESP-AT leaves it
# to the host). States, as ESP-AT's at_ota_cmd.c: 1 server found, 2 and 3
# (connected, version known) only when the newest version is asked for
# first, 4 done.
import errno
import socket
import sys
import time

import esp32
import machine
from micropython import const

from firmware import addr, errors, links, params
from firmware.at import DONE, forget, log

_BLOCK = const(4096)  # the flash sector: one erase, one write
_HEAD_MAX = const(1024)  # status line and headers of an answer
_TIMEOUT_MS = const(180000)  # ESP-AT's OTA timeout, 3 minutes
_WAIT_MS = const(5)
_NAME_MAX = const(64)  # <"version">, <"firmware name">
_URL_MAX = const(8192)
_MAGIC = const(0xE9)
_CA_FILE = "client_ca.0"

_state = 0  # AT+CIUPDATE?: 0 idle, 1..4 the last step, -1 failed
_job = None  # a non-blocking update: [generator, wake at ms, engine]
_ticking = False


def _token(text, index):
    """A version or name goes into a request line: no spaces, no CR LF."""
    if text.split() != [text]:
        raise errors.invalid(index)
    return text


def _idle():
    if _job is not None:
        log("ota: already in OTA")
        raise errors.failed()


def _say(at, report, n):
    global _state
    if report:
        _state = n
        if _job is not None:
            at.urc(b"+CIPUPDATE:%d\r\n" % n)
        else:
            at.reply(b"+CIPUPDATE:%d" % n)


def _tick(now):
    """Advance a non-blocking update."""
    global _job, _state
    job = _job
    if job is None or time.ticks_diff(now, job[1]) < 0:
        return
    try:
        wait = next(job[0])
    except StopIteration:
        _job = None
        return
    except Exception as e:  # ATError: the update failed; anything else is a bug
        if not isinstance(e, errors.ATError):
            sys.print_exception(e)
        _job = None
        _state = -1
        job[2].urc(b"+CIPUPDATE:-1\r\n")
        return
    job[1] = time.ticks_add(time.ticks_ms(), wait or 0)


# -- the network ------------------------------------------------------------


def _late(deadline):
    if time.ticks_diff(deadline, time.ticks_ms()) <= 0:
        raise OSError(errno.ETIMEDOUT)


def _tls(at, sock, host):
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    try:
        with open(at.board.FS_ROOT + "/" + _CA_FILE, "rb") as f:
            ca = f.read()
    except OSError:
        ca = None
    if ca:
        from firmware import pem  # let go again at once: it is no group

        cas = pem.der_items(ca, False)
        forget("firmware.pem")
        for der in cas:
            ctx.load_verify_locations(der)
        setattr(ctx, "verify_mode", tls.CERT_REQUIRED)
        name = host  # sent (SNI) and checked against the certificate
    else:
        setattr(ctx, "verify_mode", tls.CERT_NONE)
        name = None if addr.is_ipv4(host) else host
    # The handshake advances in the reads and writes that follow.
    return ctx.wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)


def _connect(at, held, secure, host, remote, deadline):
    """Generator: a stream connected to remote (TLS for secure)."""
    sock = socket.socket()
    held.append(sock)
    yield from links.dial(sock, remote, deadline)
    if not secure:
        return sock
    stream = _tls(at, sock, host)
    held.append(stream)
    return stream


def _request(stream, secure, host, port, path, buf, deadline):
    """Generator: GET path; returns (Content-Length, n) once the headers
    are in, with the first n bytes of the body at the start of buf."""
    if port != (443 if secure else 80):
        host = "%s:%d" % (host, port)
    request = memoryview(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode())
    while request:
        n = stream.write(request)
        if n:
            request = request[n:]
        else:
            _late(deadline)
            yield _WAIT_MS
    mv = memoryview(buf)
    got = 0
    end = -1
    while end < 0:
        if got == _HEAD_MAX:
            raise ValueError("headers too long")
        n = stream.readinto(mv[got:_HEAD_MAX])
        if n is None:
            _late(deadline)
            yield _WAIT_MS
            continue
        if not n:
            raise OSError(errno.ECONNRESET)
        got += n
        end = buf.find(b"\r\n\r\n", 0, got)
    head = bytes(mv[:end]).lower()
    status = head.split(b"\r\n", 1)[0]
    i = head.find(b"\r\ncontent-length:")
    if status.split()[1:2] != [b"200"] or i < 0:
        raise ValueError(status)
    j = head.find(b"\r\n", i + 2)
    length = int(head[i + 17 : j if j > 0 else len(head)])
    rest = bytes(mv[end + 4 : got])  # the body's start, moved to the front
    n = min(len(rest), length)
    buf[:n] = rest[:n]
    return length, n


def _fill(stream, mv, start, end, deadline):
    """Generator: read until mv[start:end] is full; the body must not end first."""
    while start < end:
        n = stream.readinto(mv[start:end])
        if n is None:
            _late(deadline)
            yield _WAIT_MS
        elif n:
            start += n
        else:
            raise OSError(errno.ECONNRESET)  # the body is shorter than announced


def _close(held):
    while held:  # the TLS layer first, then its socket
        try:
            held.pop().close()
        except OSError:
            pass


# -- the update ---------------------------------------------------------------


def _run(at, report, secure, host, port, path, template=None):
    """Generator: download, write, verify, switch the boot slot. path is the
    image's; with template, it is the newest version's name (a short text),
    which template's {version} turns into the image's path."""
    global _state
    held = []  # sockets to close
    target = None
    written = False
    done = False
    try:
        deadline = time.ticks_add(time.ticks_ms(), _TIMEOUT_MS)
        target = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
        size = target.info()[3]
        at.make_room("ota_update")  # idle groups go: the block and a TLS session need room
        buf = bytearray(_BLOCK)
        mv = memoryview(buf)
        remote = yield from links.resolve(host, port)
        _say(at, report, 1)
        if template is not None:
            stream = yield from _connect(at, held, secure, host, remote, deadline)
            _say(at, report, 2)
            length, n = yield from _request(stream, secure, host, port, path, buf, deadline)
            if length > 2 * _NAME_MAX:
                raise ValueError("version")
            yield from _fill(stream, mv, n, length, deadline)
            _close(held)
            version = bytes(mv[:length]).decode().strip()
            if not 0 < len(version) <= _NAME_MAX or version.split() != [version]:
                raise ValueError("version")
            _say(at, report, 3)
            path = template.replace("{version}", version)
        stream = yield from _connect(at, held, secure, host, remote, deadline)
        length, n = yield from _request(stream, secure, host, port, path, buf, deadline)
        if not 0 < length <= size:
            raise ValueError("%d bytes for a slot of %d" % (length, size))
        block = 0
        while block * _BLOCK < length:
            end = min(_BLOCK, length - block * _BLOCK)
            yield from _fill(stream, mv, n, end, deadline)
            n = 0
            if block == 0:
                if buf[0] != _MAGIC:
                    raise ValueError("not an app image")
                buf[0] = 0xFF  # the magic goes in last: no image until it is all there
            written = True
            target.ioctl(6, block)  # erase the sector, then write it
            target.writeblocks(block, mv[:end], 0)
            block += 1
            yield 0
        _close(held)
        target.writeblocks(0, b"\xe9", 0)  # 0xFF to 0xE9 only clears bits: no erase
        target.set_boot()  # the IDF verifies the whole image first
        done = True
        _say(at, report, 4)
    except (OSError, ValueError, MemoryError) as e:
        log("ota: failed:", repr(e))
        raise errors.failed()
    finally:
        _close(held)
        if not done:
            if report:
                _state = -1
            if written and target is not None:
                try:
                    target.ioctl(6, 0)  # no half image left in the slot
                except OSError:
                    pass


def _restart(at, update):
    yield from update
    at.ok()
    at.flush()
    machine.reset()
    return DONE


# -- AT+CIUPDATE, AT+USEROTA ----------------------------------------------------


def ciupdate_query(at):
    at.reply(b"+CIUPDATE:%d" % _state)


def ciupdate_execute(at):
    return _ciupdate(at, 0, None, "ota", 0)


def ciupdate_set(at, args):
    params.count(args, 1, 4)
    mode = params.int_at(args, 0, 0, 1)
    version = params.str_at(args, 1, _NAME_MAX, None)
    name = params.str_at(args, 2, _NAME_MAX, None)
    nonblocking = params.int_at(args, 3, 0, 1, 0)
    return _ciupdate(at, mode, _token(version, 1) if version else None, _token(name, 2) if name else "ota", nonblocking)


def _ciupdate(at, mode, version, name, nonblocking):
    global _job, _ticking
    _idle()
    board = at.board
    host = getattr(board, "OTA_HOST", None)
    if name != "ota" or not host:
        # Only the app: ESP-AT's certificate partitions are files here
        # (AT+FS); a board without an update server has nothing to ask.
        raise errors.failed()
    template = board.OTA_PATH.replace("{name}", name)
    if version:
        path, template = template.replace("{version}", version), None
    else:
        path = board.OTA_LATEST.replace("{name}", name)
    port = board.OTA_SSL_PORT if mode else board.OTA_PORT
    update = _run(at, True, mode == 1, host, port, path, template)
    if not nonblocking:
        return _restart(at, update)
    if not _ticking:
        at.tick(_tick)
        _ticking = True
    _job = [update, time.ticks_ms(), at]
    return None


def userota_set(at, args):
    params.count(args, 1, 1)
    length = params.int_at(args, 0, 1, _URL_MAX)
    _idle()
    try:
        box = [bytearray(length), 0]  # the URL, the bytes of it received
    except MemoryError:
        raise errors.failed()

    def sink(data):
        box[0][box[1] : box[1] + len(data)] = data
        box[1] += len(data)

    yield from at.receive(length, sink)
    at.write(b"\r\nRecv %d bytes\r\n" % length)
    try:
        secure, host, port, path = _split_url(box[0])
    except (ValueError, UnicodeError, MemoryError):  # MemoryError: a long URL in a short heap
        log("ota: bad URL")
        raise errors.failed()
    box[0] = None  # its RAM back before the update takes its own
    return (yield from _restart(at, _run(at, False, secure, host, port, path)))


def _split_url(url):
    """http[s]://host[:port][/path] (bytes) -> (secure, host, port, path).
    The scheme is checked first, in place: what is not a URL is refused
    without a copy of its up to 8 KB."""
    mark = url.find(b"://")
    scheme = bytes(memoryview(url)[:mark]).lower() if 0 < mark <= 5 else b""
    if scheme not in (b"http", b"https"):
        raise ValueError
    secure = scheme == b"https"
    rest = str(memoryview(url)[mark + 3 :], "utf-8")
    slash = rest.find("/")
    where, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:].split("#", 1)[0])
    host, colon, port = where.rpartition(":")
    if not colon:
        host, port = where, "443" if secure else "80"
    port = int(port)
    if not host or "@" in host or not 0 < port < 65536 or path.split() != [path]:
        raise ValueError
    return secure, host, port, path


COMMANDS = (
    ("+CIUPDATE", None, ciupdate_query, ciupdate_set, ciupdate_execute),
    ("+USEROTA", None, None, userota_set, None),
)


def register(at):
    at.register(COMMANDS)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): not while an
    update runs, nor after one that failed (AT+CIUPDATE? reports it)."""
    return _job is None and not _ticking and _state == 0
