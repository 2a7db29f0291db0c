# AT+PING: one ICMP echo request, built here (lwIP has a ping, but the
# ESP32 port has no binding for it) and sent over a raw socket
# (socket.SOCK_RAW, protocol 1: ICMP), whose replies come with their IPv4
# header. A name is looked up first (firmware.dns). +PING:<ms> then OK; no
# reply within 1 s (esp_ping's default), no route or a name that does not
# resolve: +PING:TIMEOUT then ERROR. A port that cannot make a raw socket
# answers ERROR alone.
import select
import socket
import time

from micropython import const

from firmware import dns, errors, params

_DATA = const(32)  # payload bytes, as lwIP's ping
_TIMEOUT_MS = const(1000)

_packet = bytearray(8 + _DATA)
_seq = 0


def checksum(buf):
    """The Internet checksum (RFC 1071) of buf."""
    total = 0
    for i in range(0, len(buf) - 1, 2):
        total += buf[i] << 8 | buf[i + 1]
    if len(buf) & 1:
        total += buf[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ping_set(at, args):
    # A generator from the start: errors in the parameters still come
    # before anything is sent.
    global _seq
    params.count(args, 1, 1)
    host = params.str_at(args, 0, 253, params.REQUIRED, 1)
    if not hasattr(socket, "SOCK_RAW"):
        raise errors.no_api()
    try:
        ip = (yield from dns.lookup(host))[0]
    except OSError:
        at.reply(b"+PING:TIMEOUT")
        raise errors.failed()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)
    except OSError:
        raise errors.failed()  # no raw socket (on the virtual module: not root)
    _seq = (_seq + 1) & 0xFFFF
    p = _packet
    p[0:8] = bytes((8, 0, 0, 0, 0x41, 0x54, _seq >> 8, _seq & 0xFF))  # echo request, id "AT"
    for i in range(_DATA):
        p[8 + i] = 0x61 + i % 23  # "abcdefghijklmnopqrstuvw..."
    c = checksum(p)
    p[2], p[3] = c >> 8, c & 0xFF
    target = bytes([int(part) for part in ip.split(".")])
    try:
        poller = select.poll()
        poller.register(s, select.POLLIN)
        sent = time.ticks_ms()
        try:
            s.sendto(p, (ip, 0))
        except OSError:
            sent = time.ticks_add(sent, -_TIMEOUT_MS)  # no route: nothing will come back
        while time.ticks_diff(time.ticks_ms(), sent) < _TIMEOUT_MS:
            yield 1  # the reply is timed to the loop turn
            while poller.poll(0):
                r = s.recv(128)
                # An IPv4 packet from the target (or a bare ICMP message):
                # the echo reply with this request's id and sequence.
                i = (r[0] & 15) * 4 if r[0] >> 4 == 4 else 0
                if (not i or r[12:16] == target) and r[i : i + 1] == b"\x00" and r[i + 4 : i + 8] == p[4:8]:
                    at.reply(b"+PING:%d" % time.ticks_diff(time.ticks_ms(), sent))
                    return
    finally:
        s.close()
    at.reply(b"+PING:TIMEOUT")
    raise errors.failed()


COMMANDS = (("+PING", None, None, ping_set, None),)


def register(at):
    at.register(COMMANDS)


def unload(at):
    # Nothing of this group outlives a command: it can go (firmware/at.py, make_room).
    return True
