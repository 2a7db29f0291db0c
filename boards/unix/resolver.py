# The simulated network's DNS client, used by the socket stand-in's
# getaddrinfo() as lwIP's resolver serves the ESP32 port's: names are looked
# up at the DNS server the interfaces were given (by DHCP: the world file's
# "dns_servers"; or network.ipconfig(dns=), which AT+CIPDNS uses), over real
# UDP on loopback from the interface's address. It blocks, as getaddrinfo()
# does on the chip: 1 s for an answer, then 2 s after asking again (a
# refusal ends it at once). Nothing is ever sent beyond 127.0.0.0/8: a
# server elsewhere is no server.
import os
import select
import socket  # the stand-in: bound to the interface that routes to the server
import time

import network

_TRIES_MS = (1000, 2000)


def _query(name):
    labels = name[:-1].split(".") if name.endswith(".") else name.split(".")
    ident = os.urandom(2)
    out = bytearray(ident)
    out.extend(b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00")  # recursion desired, one question
    for label in labels:
        raw = label.encode()
        if not 0 < len(raw) < 64:
            return None, 0
        out.append(len(raw))
        out.extend(raw)
    out.extend(b"\x00\x00\x01\x00\x01")  # type A, class IN
    return out, ident[0] << 8 | ident[1]


def _skip(msg, i):
    while True:
        n = msg[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def _answer(msg, ident):
    """False if msg is not the answer to query ident; else its first IPv4
    address, or None when the server has none for the name."""
    try:
        if len(msg) < 12 or msg[0] << 8 | msg[1] != ident or not msg[2] & 0x80:
            return False
        if msg[3] & 0x0F:
            return None  # NXDOMAIN and other errors: lwIP asks no further
        i = 12
        for _ in range(msg[4] << 8 | msg[5]):
            i = _skip(msg, i) + 4
        for _ in range(msg[6] << 8 | msg[7]):
            i = _skip(msg, i)
            kind = msg[i] << 8 | msg[i + 1]
            length = msg[i + 8] << 8 | msg[i + 9]
            i += 10
            if kind == 1 and length == 4 and i + 4 <= len(msg):
                return "%d.%d.%d.%d" % (msg[i], msg[i + 1], msg[i + 2], msg[i + 3])
            i += length
    except IndexError:
        return False
    return None


def resolve(name):
    """The first IPv4 address of name, or None (no such name, no server, no
    route to it, no answer)."""
    if name == "localhost":
        return "127.0.0.1"  # lwIP answers it itself
    server = network.ipconfig("dns")
    if server == "0.0.0.0" or not server.startswith("127."):
        return None
    query, ident = _query(name)
    if query is None:
        return None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((server, 53))
        poller = select.poll()
        poller.register(s, select.POLLIN)
        for wait in _TRIES_MS:
            s.send(query)
            end = time.ticks_add(time.ticks_ms(), wait)
            while poller.poll(max(0, time.ticks_diff(end, time.ticks_ms()))):
                found = _answer(s.recv(512), ident)
                if found is not False:
                    return found
    except OSError:
        return None  # no interface routes there, or the server refused
    finally:
        s.close()
    return None
