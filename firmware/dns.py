# Names: AT+CIPDOMAIN and AT+CIPDNS, and the DNS client the other groups
# use (lookup(); firmware.sntp and firmware.ping need this module).
#
# lwIP holds three DNS servers, but the ESP32 port sets and reads only the
# first (network.ipconfig(dns=)), and its getaddrinfo() blocks the AT loop
# for as long as a lookup takes. So this firmware has a DNS client of its
# own: an A-record query over UDP to the servers in turn (the next one after
# a timeout, none after an answer, as lwIP does), polled from a generator
# while the port answers "busy p...". All three AT+CIPDNS servers are thus
# really asked, on the chip too; the first is also handed to
# network.ipconfig(dns=), for the callers of getaddrinfo().
#
# AT+CIPDNS=0 (the default) follows DHCP: lwIP's first server is the lease's,
# the other two ESP-AT's defaults. AT+CIPDNS=1 sets servers that DHCP does
# not override: a ticker puts the first back whenever a lease replaced it.
import errno
import os
import select
import socket
import time

import network
from micropython import const

from firmware import addr, errors, params

_POLL_MS = const(10)  # how often a waiting lookup looks for its answer
_CHECK_MS = const(500)  # how often AT+CIPDNS=1's first server is checked
_NO_NAME = const(-202)  # OSError of a name without an address (lwIP's EAI_FAIL)

# ESP-AT's servers when none are given (and behind DHCP's).
DEFAULTS = ("208.67.222.222", "114.114.114.114", "8.8.8.8")

_manual = 0  # AT+CIPDNS <enable>
_servers: tuple = ()  # AT+CIPDNS=1's servers
_next_check = 0


def servers():
    """The DNS servers lookups ask, in order."""
    if _manual:
        return _servers
    first = network.ipconfig("dns")
    if first == "0.0.0.0":
        return DEFAULTS
    return (first,) + tuple(s for s in DEFAULTS[1:] if s != first)


def _skip(msg, i):
    """The index just past the (possibly compressed) name at i."""
    while msg[i]:
        if msg[i] >= 0xC0:
            return i + 2
        i += msg[i] + 1
    return i + 1


def _answer(msg, ident):
    """The IPv4 addresses of the answer to query ident, or None if msg is
    not that answer. OSError(_NO_NAME) if the server says there are none."""
    try:
        if len(msg) < 12 or msg[0] << 8 | msg[1] != ident or not msg[2] & 0x80:
            return None
        found = []
        if not msg[3] & 0x0F:  # else NXDOMAIN, SERVFAIL, REFUSED...: final
            i = 12
            for _ in range(msg[4] << 8 | msg[5]):
                i = _skip(msg, i) + 4
            for _ in range(msg[6] << 8 | msg[7]):
                i = _skip(msg, i) + 10
                # type A, class IN, 4 bytes of data
                if msg[i - 10 : i - 6] == b"\x00\x01\x00\x01" and msg[i - 2 : i] == b"\x00\x04" and i + 4 <= len(msg):
                    found.append("%d.%d.%d.%d" % (msg[i], msg[i + 1], msg[i + 2], msg[i + 3]))
                i += msg[i - 2] << 8 | msg[i - 1]
    except IndexError:
        return None  # truncated or malformed: not an answer
    if not found:
        raise OSError(_NO_NAME)  # no such name, or no A record (NODATA)
    return found


def lookup(name, timeout_ms=0):
    """Generator for handlers and tickers (yields ms to wait): the IPv4
    addresses of name, as dotted quads. Raises OSError(-202) when the name
    has none, OSError(ETIMEDOUT) when no server answers (within timeout_ms,
    if not 0)."""
    if name == "localhost":
        return ["127.0.0.1"]  # lwIP answers it itself
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    quad = len(labels) == 4
    ident = os.urandom(2)
    query = bytearray(ident)
    query.extend(b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")  # RD; one question
    for label in labels:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            raise OSError(_NO_NAME)
        quad = quad and len(raw) < 4 and raw.isdigit() and int(raw) < 256
        query.append(len(raw))
        query.extend(raw)
    if quad:
        return [".".join(str(int(label)) for label in labels)]  # an address already
    query.extend(b"\x00\x00\x01\x00\x01")  # root; type A, class IN
    start = time.ticks_ms()
    for server in servers():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect((server, 53))  # a reply from elsewhere is dropped
            poller = select.poll()
            poller.register(s, select.POLLIN)
            for wait in (1000, 2000):  # asked, then once again
                s.send(query)
                sent = time.ticks_ms()
                while time.ticks_diff(time.ticks_ms(), sent) < wait:
                    if timeout_ms and time.ticks_diff(time.ticks_ms(), start) >= timeout_ms:
                        raise OSError(errno.ETIMEDOUT)
                    yield _POLL_MS
                    if poller.poll(0):
                        found = _answer(s.recv(512), ident[0] << 8 | ident[1])
                        if found is not None:
                            return found
        except OSError as e:
            if e.errno in (errno.ETIMEDOUT, _NO_NAME):
                raise
            # No route to this server (on the virtual module also a
            # refusal): the next one.
        finally:
            s.close()
    raise OSError(errno.ETIMEDOUT)


# -- AT+CIPDOMAIN, AT+CIPDNS -----------------------------------------------------------


def cipdomain_set(at, args):
    # A generator from the start: errors in the parameters still come
    # before anything is sent.
    params.count(args, 1, 4)
    name = params.str_at(args, 0, 253, params.REQUIRED, 1)
    family = params.int_at(args, 1, 1, 3, 1)
    timeout = params.int_at(args, 2, 0, 60000, 0)
    every = params.int_at(args, 3, 0, 1, 0)
    if family == 3:
        raise errors.failed()  # IPv6 only: this firmware has no IPv6 network (AT+CIPV6)
    try:
        found = yield from lookup(name, timeout)
    except OSError:
        raise errors.failed()
    for ip in found if every else found[:1]:
        at.reply(b'+CIPDOMAIN:"%s"' % ip)


def cipdns_query(at):
    line = b"+CIPDNS:%d" % _manual
    for server in servers():
        line += b',"%s"' % server
    at.reply(line)


def cipdns_set(at, args):
    global _manual, _servers
    params.count(args, 1, 4)
    manual = params.int_at(args, 0, 0, 1)
    given = []
    for i in range(1, len(args)):
        ip = addr.ip_at(args, i, None)
        if ip is None:
            continue
        if ip == "0.0.0.0" or ip in given:
            raise errors.invalid(i)  # nothing, or a server given twice
        given.append(ip)
    # The servers given only count with <enable> 1.
    chosen = (tuple(given) or DEFAULTS) if manual else ()
    try:
        # As ESP-AT: manual servers at once; back to automatic, lwIP's
        # first server is ESP-AT's default until the next DHCP lease.
        network.ipconfig(dns=chosen[0] if manual else DEFAULTS[0])
    except (OSError, ValueError):
        raise errors.failed()
    _manual = manual
    _servers = chosen
    at.settings.put_str("dns", ",".join(chosen) if manual else "")


def _tick(now):
    """AT+CIPDNS=1: put the first server back when a DHCP lease replaced it."""
    global _next_check
    if not _manual or time.ticks_diff(now, _next_check) < 0:
        return
    _next_check = time.ticks_add(now, _CHECK_MS)
    try:
        if network.ipconfig("dns") != _servers[0]:
            network.ipconfig(dns=_servers[0])
    except (OSError, ValueError):
        pass


# Imported at boot only when manual servers are saved (firmware/main.py).
BOOT_SETTING = "dns"

COMMANDS = (
    ("+CIPDOMAIN", None, None, cipdomain_set, None),
    ("+CIPDNS", None, cipdns_query, cipdns_set, None),
)


def register(at):
    global _manual, _servers, _next_check
    saved = at.settings.get_str("dns", "")
    if saved and saved != "0":  # "0": automatic, as stored before
        _manual = 1
        _servers = tuple(saved.split(","))
        try:
            network.ipconfig(dns=_servers[0])
        except (OSError, ValueError):
            pass
    _next_check = time.ticks_ms()
    at.register(COMMANDS)
    at.tick(_tick)
