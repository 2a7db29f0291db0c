# Time: AT+CIPSNTPCFG, AT+CIPSNTPTIME, AT+CIPSNTPINTV and +TIME_UPDATED.
#
# The port's ntptime blocks and has no time zone, so this is an SNTP client
# of its own, run by a ticker as a generator that never blocks the AT loop:
# each server in turn (its name through firmware.dns), one request over UDP
# and 3 s for the answer (ESP-AT builds lwIP's SNTP so), the round trip
# halved into the result. The RTC gets UTC, to the microsecond; the time
# zone is applied when the time is shown. Each synchronisation prints
# +TIME_UPDATED; the next one follows AT+CIPSNTPINTV later, a failed round
# is retried after 3 s, doubling up to 30 s. As in ESP-AT, nothing here is
# saved: SNTP is off after a restart (the RTC keeps running).
import os
import select
import socket
import time

from micropython import const

from firmware import clock, dns, errors, params

_ANSWER_MS = const(3000)
_RETRY_MS = const(3000)
_RETRY_MAX_MS = const(30000)
_POLL_MS = const(10)
_CHUNK_MS = const(0x10000000)  # a wait up to this fits ticks_diff() and a small int

DEFAULTS = ("cn.ntp.org.cn", "ntp.sjtu.edu.cn", "us.pool.ntp.org")

_at = None
_servers: tuple = ()  # none: SNTP is off
_zone = 0  # the <timezone> the query shows
_offset = 0  # local time minus UTC, s
_INTERVAL_S = const(3600)  # AT+CIPSNTPINTV's default (lwIP's)
_interval = _INTERVAL_S
_job = None  # the running synchronisation (a generator)
_due = 0  # ticks_ms of the job's next step, or of the next synchronisation
_beyond = 0  # ms still to wait after _due (waits longer than _CHUNK_MS)
_retry = _RETRY_MS
_packet = bytearray(48)


def _ask(ip):
    """Generator: (unix seconds, microseconds) from the server at ip, or
    None; OSError when it cannot be reached."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((ip, 123))
        poller = select.poll()
        poller.register(s, select.POLLIN)
        p = _packet
        for i in range(40):
            p[i] = 0
        p[0] = 0x23  # no leap warning, version 4, client
        p[40:48] = os.urandom(8)  # the transmit time: the answer echoes it
        s.send(p)
        sent = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), sent) < _ANSWER_MS:
            yield _POLL_MS
            if not poller.poll(0):
                continue
            rtt = time.ticks_diff(time.ticks_ms(), sent)
            r = s.recv(64)
            if len(r) < 48 or r[24:32] != p[40:48]:
                continue  # not the answer to this request
            # A server (mode 4) in sync (leap indicator not 3, stratum 1-15)
            # with a time: else a kiss of death or garbage, try the next.
            w = [r[i] << 24 | r[i + 1] << 16 | r[i + 2] << 8 | r[i + 3] for i in (32, 36, 40, 44)]
            if r[0] & 7 != 4 or r[0] >> 6 == 3 or not 0 < r[1] < 16 or not w[2]:
                return None
            # The transmit time, plus half the round trip the server did not
            # hold the request for.
            held = (w[2] - w[0]) * 1000 + (w[3] * 1000 >> 32) - (w[1] * 1000 >> 32)
            usec = (w[3] * 1000000 >> 32) + max(0, rtt - max(0, held)) * 500
            # Seconds since 1900; below 2**31 they are of the era from 2036.
            seconds = w[2] + (0x100000000 if w[2] < 0x80000000 else 0) - 2208988800
            return seconds + usec // 1000000, usec % 1000000
        return None
    finally:
        s.close()


def _sync():
    """Generator: one synchronisation round; returns the ms to the next."""
    global _retry
    for server in _servers:
        try:
            ips = yield from dns.lookup(server)
            result = yield from _ask(ips[0])
        except OSError:
            continue
        if result is not None:
            clock.set_unix(result[0], result[1])
            _retry = _RETRY_MS
            _at.urc(b"+TIME_UPDATED\r\n")
            return _interval * 1000
    wait = _retry
    _retry = min(_retry * 2, _RETRY_MAX_MS)
    return wait


def _wait(now, ms):
    global _due, _beyond
    step = min(ms, _CHUNK_MS)
    _beyond = ms - step
    _due = time.ticks_add(now, step)


def _tick(now):
    # Every 10 ms: the work is in _step, whose try/except makes a frame
    # too large for the C stack (it would cost heap on every tick).
    if _servers and time.ticks_diff(now, _due) >= 0:
        _step(now)


def _step(now):
    global _job
    if _beyond:
        _wait(now, _beyond)
        return
    if _job is None:
        _job = _sync()
    try:
        _wait(now, next(_job))
    except StopIteration as done:
        _job = None
        _wait(now, done.value)
    except Exception as e:  # never take the AT loop down
        print("[at] sntp:", repr(e))
        _job = None
        _wait(now, _RETRY_MAX_MS)


# -- the commands -------------------------------------------------------------------


def cipsntpcfg_query(at):
    line = b"+CIPSNTPCFG:%d,%d" % (1 if _servers else 0, _zone)
    for server in _servers:
        line += b',"%s"' % server
    at.reply(line)


def cipsntpcfg_set(at, args):
    global _servers, _zone, _offset, _job, _retry
    params.count(args, 1, 5)
    first = args[0]
    if type(first) is int and not 0 <= first <= 1 or len(args) > 1 and type(args[1]) is str:
        # The old list, <timezone>[,<server>...]: no <enable> (it cannot be one).
        params.count(args, 1, 4)
        enable, index = 1, 0
    else:
        enable, index = params.int_at(args, 0, 0, 1), 1
    # <timezone>: whole hours in [-12,14], else [+|-]hhmm; the query shows
    # the hours.
    zone = params.int_at(args, index, -1259, 1459, 0)
    offset = zone * 3600
    if not -12 <= zone <= 14:
        hours, minutes = divmod(abs(zone), 100)
        if minutes > 59:
            raise errors.invalid(index)
        sign = -1 if zone < 0 else 1
        zone, offset = sign * hours, sign * (hours * 3600 + minutes * 60)
    given = []
    for i in range(index + 1, len(args)):
        server = params.str_at(args, i, 64, None, 1)
        if server is not None:
            given.append(server)
    if _job is not None:
        _job.close()  # its socket is closed
        _job = None
    _zone, _offset = zone, offset
    _servers = (tuple(given) or DEFAULTS) if enable else ()
    _retry = _RETRY_MS
    _wait(time.ticks_ms(), 0)  # at once


def cipsntptime_query(at):
    # C's asctime() without its newline: "Thu Sep  2 18:57:03 2021".
    y, m, d, hh, mm, ss, wd = clock.gmtime(clock.now() + _offset)
    at.reply(
        b"+CIPSNTPTIME:%s %s%3d %02d:%02d:%02d %d"
        % (b"MonTueWedThuFriSatSun"[wd * 3 : wd * 3 + 3], b"JanFebMarAprMayJunJulAugSepOctNovDec"[m * 3 - 3 : m * 3], d, hh, mm, ss, y)
    )


def cipsntpintv_query(at):
    at.reply(b"+CIPSNTPINTV:%d" % _interval)


def cipsntpintv_set(at, args):
    global _interval
    params.count(args, 1, 1)
    # Used from the next wait on, as lwIP's sntp_set_sync_interval().
    _interval = params.int_at(args, 0, 15, 4294967)


COMMANDS = (
    ("+CIPSNTPCFG", None, cipsntpcfg_query, cipsntpcfg_set, None),
    ("+CIPSNTPTIME", None, cipsntptime_query, None, None),
    ("+CIPSNTPINTV", None, cipsntpintv_query, cipsntpintv_set, None),
)


def register(at):
    global _at
    _at = at
    at.register(COMMANDS)
    at.tick(_tick)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): only while
    SNTP is off and its settings are as at boot."""
    if _servers or _job is not None or _zone or _offset or _interval != _INTERVAL_S:
        return False
    at.untick(_tick)
    return True
