"""AT+PING over the pty: a real ICMP echo from the station's loopback
address (the kernel answers for all of 127.0.0.0/8), names through the DNS
server of host_tests/peers.py."""

import re
import socket
import time

import pytest

from host_tests.codes import code, count, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.peers import dns_server  # noqa: F401
from host_tests.radio import join, station_ip

PINGED = re.compile(rb"\+PING:(\d+)\r\n\r\nOK\r\n")
TIMEOUT = b"+PING:TIMEOUT\r\nERR CODE:0x%08x\r\n\r\nERROR\r\n" % code(EXEC_FAIL)


def checksum(data):
    if len(data) & 1:
        data += b"\0"
    total = sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@pytest.fixture
def icmp():
    """Every ICMP packet the host's loopback carries (a raw socket's copy)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(0.2)
    yield s
    s.close()


def captured(s):
    """[(source, destination, ICMP message)] received so far."""
    packets = []
    while True:
        try:
            data = s.recv(2048)
        except (socket.timeout, BlockingIOError):
            return packets
        start = (data[0] & 15) * 4
        packets.append((socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20]), data[start:]))


def test_ping_an_address(m, icmp):
    join(m, "OpenNet")
    reply = m.at('AT+PING="127.0.0.53"', 5)
    assert PINGED.fullmatch(reply), reply
    assert int(PINGED.fullmatch(reply).group(1)) < 100
    me = station_ip(m)
    packets = captured(icmp)
    requests = [p for s, d, p in packets if (s, d) == (me, "127.0.0.53") and p[0] == 8]
    assert len(requests) == 1, packets  # one echo request, from the station
    request = requests[0]
    assert request[1] == 0 and checksum(request) == 0 and len(request) == 8 + 32
    replies = [p for s, d, p in packets if (s, d) == ("127.0.0.53", me) and p[0] == 0]
    assert [r[4:8] for r in replies] == [request[4:8]]  # answered: same id and sequence


def test_ping_a_name(m, dns_server):
    dns_server.set("host.sim", "127.0.7.7")
    try:
        join(m, "OpenNet")
        assert PINGED.fullmatch(m.at('AT+PING="host.sim"', 5))
        assert ("host.sim", station_ip(m)) in dns_server.queries()
    finally:
        dns_server.set("host.sim")


def test_each_ping_is_a_new_request(m, icmp):
    join(m, "OpenNet")
    for _ in range(3):
        assert PINGED.fullmatch(m.at('AT+PING="127.0.1.1"', 5))  # the gateway
    requests = [p for s, d, p in captured(icmp) if d == "127.0.1.1" and p[0] == 8]
    assert len({r[6:8] for r in requests}) == 3  # three sequence numbers


def test_unknown_name_times_out(m, dns_server):
    join(m, "OpenNet")
    started = time.monotonic()
    assert m.at('AT+PING="nothing.sim"', 5) == TIMEOUT
    assert time.monotonic() - started < 1


def test_no_network_times_out(m):
    assert m.at('AT+PING="127.0.0.53"', 5) == TIMEOUT  # no interface up: no route


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+PING", code(WRONG_FORM)),
        ("AT+PING?", code(WRONG_FORM)),
        ("AT+PING=?", code(WRONG_FORM)),
        ("AT+PING=", code(PARA_INVALID, 0)),
        ('AT+PING=""', code(PARA_LENGTH, 0)),
        ('AT+PING="%s"' % ("a" * 254), code(PARA_LENGTH, 0)),
        ("AT+PING=1", code(PARA_TYPE, 0)),
        ('AT+PING="127.0.0.53",1', count(1, 2)),
        ('AT+PING="127.0.0.53', 0x01080000),
    ],
)
def test_errors(m, command, error):
    assert m.error_code(command) == error
