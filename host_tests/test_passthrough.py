"""Passthrough and passive receive: AT+CIPMODE, AT+CIPSEND's execute form,
+++, AT+TRANSINTVL, AT+CIPRECONNINTV, AT+SAVETRANSLINK (esp-at-modern.md
§3.3; TCP server passthrough as in ESP-AT's example "Network passthrough
transmission when the ESP32 works as a TCP server"), and AT+CIPRECVMODE/CIPRECVTYPE/CIPRECVDATA/CIPRECVLEN (§3.6,
wire-compat.md "Receiving")."""

import re
import socket
import threading
import time

from host_tests import codes, radio
from host_tests.netpeers import UdpPeer, connect_when_listening, recv_exactly


def escape(module):
    """+++ with the silence rules around it."""
    time.sleep(0.1)
    module.write(b"+++")
    time.sleep(0.1)


# -- passthrough ------------------------------------------------------------------


def test_passthrough_both_ways_and_escape(net):
    module, peer = net
    module.ok("AT+SYSMSG=1")
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:0\r\n\r\nOK\r\n"
    module.ok("AT+CIPMODE=1")
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:1\r\n\r\nOK\r\n"
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    assert module.error_code("AT+CIPSEND=4") == codes.FAILED  # no length in passthrough
    module.write(b"AT+CIPSEND\r\n")
    assert module.read_until(b">") == b"\r\nOK\r\n\r\n>"
    module.write(b"AT+GMR\r\nraw bytes ++ +++x")
    assert conn.wait_data(25) == b"AT+GMR\r\nraw bytes ++ +++x"
    conn.send(b"from the peer")
    assert module.read_exactly(13) == b"from the peer"  # raw, no +IPD
    escape(module)
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    time.sleep(1)  # ESP-AT wants a second before the next command
    assert module.ok("AT") == b"\r\nOK\r\n"
    # Still passthrough-receiving: network data comes raw.
    conn.send(b"later")
    assert module.read_exactly(5) == b"later"
    # AT+CIPSEND enters again on the same link.
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    module.write(b"again")
    assert conn.wait_data(30).endswith(b"again")
    escape(module)
    module.read_until(b"+QUITT\r\n", 3)
    time.sleep(1)
    module.ok("AT+CIPMODE=0")
    conn.send(b"framed")
    assert module.read_until(b"framed", 5) == b"\r\n+IPD,6:framed"
    module.ok("AT+CIPCLOSE")


def test_plus_signs_without_silence_are_data(net):
    module, peer = net
    module.ok("AT+CIPMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    module.write(b"a+++")  # no silence before
    time.sleep(0.1)
    module.write(b"+++b")  # no silence after
    assert conn.wait_data(8) == b"a++++++b"
    escape(module)
    time.sleep(1)
    assert module.at("AT").endswith(b"\r\nOK\r\n")


def test_plus_plus_plus_ends_a_session_whatever_waits_before_it(net):
    """+++ is found after bytes still waiting for AT+TRANSINTVL, as ESP-AT's
    UART finds the pattern itself: they go out, then the session ends."""
    module, peer = net
    module.ok("AT+SYSMSG=1")
    module.ok("AT+TRANSINTVL=500")
    module.ok("AT+CIPMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    module.write(b"hello")
    escape(module)  # 0.1 s later: hello still waits for the interval
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    assert conn.wait_data(5) == b"hello"
    time.sleep(1)
    assert module.ok("AT") == b"\r\nOK\r\n"
    assert conn.data == b"hello"  # the +++ never went out


def test_plus_plus_plus_leaves_a_link_that_does_not_come_back(online):
    """With its server gone, a link is dialled again and again, and what
    the host sends meanwhile waits for it: +++ still ends the session
    (the host's probe is dropped with the link), and AT+CIPSTATUS tells
    that a link was closed."""
    module = online
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    module.ok("AT+SYSMSG=1")
    module.ok("AT+CIPMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % server.getsockname()[1])
    conn, _ = server.accept()
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    server.close()  # nothing listens there any more
    conn.close()
    time.sleep(0.5)  # the module has seen the link go
    module.write(b"AT\r\n")  # data: it waits for the link
    escape(module)
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    time.sleep(1)
    assert module.ok("AT+CIPSTATUS") == b"STATUS:4\r\n\r\nOK\r\n"


def test_a_lost_station_ends_no_udp_session_and_prints_nothing_into_it(tmp_path):
    """The station loses its AP in a UDP passthrough session: its datagrams
    cannot go (no route) and are lost, as datagrams may be, and the session
    goes on. With AT+SYSMSG bit 2 clear nothing but the peer's data reaches
    the host meanwhile (no WIFI DISCONNECT, no CLOSED): it would be data."""
    world = radio.make_world(tmp_path / "world.json")
    module = radio.start(tmp_path / "m", world=world)
    udp = UdpPeer()
    try:
        radio.join(module, "HomeWPA2", "correct horse")
        module.ok("AT+SYSMSG=1")
        module.ok("AT+CIPMODE=1")
        module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,4401,0' % udp.port)
        module.write(b"AT+CIPSEND\r\n")
        module.read_until(b">")
        module.write(b"before")
        data, source = udp.recv()
        assert data == b"before"
        radio.edit_world(world, lambda w: [ap.update(password="changed") for ap in w["access_points"] if ap["ssid"] == "HomeWPA2"])
        time.sleep(1.5)  # deauthenticated at once
        module.write(b"lost")
        time.sleep(0.5)
        module.write(b"AT+GMR\r\n")  # still data, not a command
        time.sleep(0.5)
        escape(module)
        assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"  # nothing before it
    finally:
        udp.close()
        module.stop()


def test_cipmode_rules(net):
    module, peer = net
    module.ok("AT+CIPMUX=1")
    assert module.error_code("AT+CIPMODE=1") == codes.FAILED  # needs single mode
    module.ok("AT+CIPMUX=0")
    module.ok("AT+CIPMODE=1")
    assert module.error_code("AT+CIPMUX=1") == codes.FAILED
    assert module.error_code("AT+CIPSEND") == codes.FAILED  # no link yet
    assert module.error_code("AT+CIPMODE=2") == codes.invalid(0)
    udp = UdpPeer()
    try:
        # UDP passthrough has one remote: mode 0 only.
        assert module.error_code('AT+CIPSTART="UDP","127.0.0.1",%d,4321,2' % udp.port) == codes.FAILED
        module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,4321,0' % udp.port)
        ip = radio.station_ip(module)
        module.write(b"AT+CIPSEND\r\n")
        module.read_until(b">")
        module.write(b"datagram")
        data, source = udp.recv()
        assert data == b"datagram" and source == (ip, 4321)
        udp.sock.sendto(b"back", source)
        assert module.read_exactly(4) == b"back"
        escape(module)
        time.sleep(1)
        module.ok("AT+CIPCLOSE")
    finally:
        udp.close()


def test_transintvl_and_reconnintv(net):
    module, _ = net
    assert module.ok("AT+TRANSINTVL?") == b"+TRANSINTVL:20\r\n\r\nOK\r\n"
    module.ok("AT+TRANSINTVL=0")
    assert module.ok("AT+TRANSINTVL?") == b"+TRANSINTVL:0\r\n\r\nOK\r\n"
    assert module.error_code("AT+TRANSINTVL=1001") == codes.invalid(0)
    assert module.ok("AT+CIPRECONNINTV?") == b"+CIPRECONNINTV:1\r\n\r\nOK\r\n"
    module.ok("AT+CIPRECONNINTV=5")
    assert module.ok("AT+CIPRECONNINTV?") == b"+CIPRECONNINTV:5\r\n\r\nOK\r\n"
    assert module.error_code("AT+CIPRECONNINTV=0") == codes.invalid(0)
    assert module.error_code("AT+CIPRECONNINTV=36001") == codes.invalid(0)


def test_savetranslink_enters_passthrough_at_boot(net):
    module, peer = net
    module.ok("AT+CWAUTOCONN=1")
    module.ok('AT+SAVETRANSLINK=1,"127.0.0.1",%d,"TCP",10' % peer.port)
    radio.restart(module, quiet=False)  # the UART is data from now on
    conn = peer.conn(timeout=20)
    conn.send(b"hello host")
    assert module.read_until(b"hello host", 10).endswith(b"hello host")
    module.write(b"hello peer")
    assert conn.wait_data(10) == b"hello peer"
    escape(module)
    time.sleep(1)
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SYSLOG=1")
    # The link stays, and shows the local port its peer sees.
    local = conn.sock.getpeername()[1]
    state = module.ok("AT+CIPSTATE?")
    assert state == b'+CIPSTATE:0,"TCP","127.0.0.1",%d,%d,0\r\n\r\nOK\r\n' % (peer.port, local)
    module.ok("AT+SAVETRANSLINK=0")
    assert module.error_code('AT+SAVETRANSLINK=1,"127.0.0.1",1,"FTP"') == codes.invalid(3)
    radio.restart(module)  # no passthrough at boot any more
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:0\r\n\r\nOK\r\n"


# -- server passthrough -----------------------------------------------------------


def test_server_passthrough(net):
    module, peer = net
    ip = radio.station_ip(module)
    module.ok("AT+SYSMSG=1")
    module.ok("AT+CIPMUX=1")
    assert module.error_code("AT+CIPMODE=1") == codes.FAILED  # no server
    module.ok("AT+CIPSERVER=1,8091")
    assert module.error_code("AT+CIPMODE=1") == codes.FAILED  # a server of more than one client
    module.ok("AT+CIPSERVER=0")
    module.ok("AT+CIPSERVERMAXCONN=1")
    module.ok("AT+CIPSERVER=1,8091")
    module.ok("AT+CIPMODE=1")
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:1\r\n\r\nOK\r\n"
    assert module.error_code("AT+CIPSEND") == codes.FAILED  # no client yet
    # Passthrough is point to point: no other link beside the server's client.
    assert module.error_code('AT+CIPSTART=1,"TCP","127.0.0.1",%d' % peer.port) == codes.FAILED
    first = socket.create_connection((ip, 8091), timeout=5)
    assert module.read_until(b"0,CONNECT\r\n", 5) == b"0,CONNECT\r\n"
    assert module.error_code("AT+CIPSEND=0,4") == codes.FAILED  # no length in passthrough
    module.write(b"AT+CIPSEND\r\n")
    assert module.read_until(b">") == b"\r\nOK\r\n\r\n>"
    module.write(b"to the first client")
    assert recv_exactly(first, 19) == b"to the first client"
    first.sendall(b"from the first")
    assert module.read_exactly(14) == b"from the first"  # raw, no +IPD
    extra = socket.create_connection((ip, 8091), timeout=5)
    assert extra.recv(10) == b""  # one client only: turned away at once
    extra.close()
    # The client goes, the server listens again, and the next client carries
    # on the session: nothing is written to the UART, which is data.
    first.close()
    time.sleep(0.3)  # the module has seen it go
    second = socket.create_connection((ip, 8091), timeout=5)
    second.sendall(b"from the second")
    assert module.read_exactly(15) == b"from the second"
    module.write(b"to the second client")
    assert recv_exactly(second, 20) == b"to the second client"
    escape(module)
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    time.sleep(1)
    # The server and its client stay, in normal mode.
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8091,"TCP",0,0\r\n\r\nOK\r\n'
    assert b"+CIPSTATE:0," in module.ok("AT+CIPSTATE?")
    second.sendall(b"still raw")
    assert module.read_exactly(9) == b"still raw"
    # Without its server (the client stays) there is no session to enter.
    module.ok("AT+CIPSERVER=0")
    assert module.error_code("AT+CIPSEND") == codes.FAILED
    module.ok("AT+CIPMODE=0")
    second.sendall(b"framed")
    assert module.read_until(b"framed", 5) == b"\r\n+IPD,0,6:framed"
    assert module.ok("AT+CIPCLOSE=0") == b"0,CLOSED\r\n\r\nOK\r\n"
    assert second.recv(10) == b""


def test_savetranslink_server_mode_at_boot(net):
    module, _ = net
    ip = radio.station_ip(module)
    module.ok("AT+SYSLOG=1")
    assert module.error_code("AT+SAVETRANSLINK=3,0") == codes.invalid(1)
    assert module.error_code('AT+SAVETRANSLINK=3,8092,"FTP"') == codes.invalid(2)
    assert module.error_code('AT+SAVETRANSLINK=3,8092,"TCP",2') == codes.invalid(3)
    assert module.error_code('AT+SAVETRANSLINK=3,8092,"TCP",0,4') == codes.invalid(4)
    # Listening on one interface only: the port cannot tell a client's interface.
    assert module.error_code('AT+SAVETRANSLINK=3,8092,"TCP",0,1') == codes.no_api(4)
    assert module.error_code("AT+SAVETRANSLINK=2,1,1,1,1,1") == codes.invalid(0)
    module.ok("AT+CWAUTOCONN=1")
    module.ok('AT+SAVETRANSLINK=3,8092,"TCP",0,0')
    radio.restart(module, quiet=False)  # the UART is data from now on
    first = connect_when_listening(lambda: socket.create_connection((ip, 8092), timeout=5))
    first.sendall(b"hello host")
    assert module.read_until(b"hello host", 10).endswith(b"hello host")
    module.write(b"hello client")
    assert recv_exactly(first, 12) == b"hello client"
    first.close()
    time.sleep(0.3)
    second = socket.create_connection((ip, 8092), timeout=5)
    module.write(b"hello again")
    assert recv_exactly(second, 11) == b"hello again"
    escape(module)
    time.sleep(1)
    module.ok("ATE0")
    module.buffer = b""
    assert module.ok("AT+CIPMUX?") == b"+CIPMUX:1\r\n\r\nOK\r\n"
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:1\r\n\r\nOK\r\n"
    assert module.ok("AT+CIPSERVERMAXCONN?") == b"+CIPSERVERMAXCONN:1\r\n\r\nOK\r\n"
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8092,"TCP",0,0\r\n\r\nOK\r\n'
    # AT+CIPSEND enters the session again with the client that is there.
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    second.sendall(b"back in")
    assert module.read_exactly(7) == b"back in"
    escape(module)
    time.sleep(1)
    second.close()
    module.ok("AT+SAVETRANSLINK=0")
    radio.restart(module)  # no passthrough at boot any more
    assert module.ok("AT+CIPMODE?") == b"+CIPMODE:0\r\n\r\nOK\r\n"
    assert module.ok("AT+CIPSERVER?") == b"+CIPSERVER:0\r\n\r\nOK\r\n"


# -- passive receive -------------------------------------------------------------------


def test_passive_receive_notifies_once_and_again_after_partial_read(net):
    module, peer = net
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPRECVTYPE=2,1")
    assert b"+CIPRECVTYPE:2,1\r\n" in module.ok("AT+CIPRECVTYPE?")
    module.ok('AT+CIPSTART=2,"TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    conn.send(b"0123456789")
    assert module.read_until(b"+IPD,2,10\r\n", 5) == b"\r\n+IPD,2,10\r\n"
    conn.send(b"abc")
    assert module.read_for(0.5) == b""  # once, until the host reads
    assert module.ok("AT+CIPRECVLEN?") == b"+CIPRECVLEN:-1,-1,13,-1,-1\r\n\r\nOK\r\n"
    assert module.at("AT+CIPRECVDATA=2,4") == b"+CIPRECVDATA:4,0123\r\nOK\r\n"
    assert module.read_until(b"+IPD,2,9\r\n", 5) == b"\r\n+IPD,2,9\r\n"
    module.ok("AT+CIPDINFO=1")
    reply = module.at("AT+CIPRECVDATA=2,100")
    assert reply == b'+CIPRECVDATA:9,"127.0.0.1",%d,456789abc\r\nOK\r\n' % peer.port
    assert module.error_code("AT+CIPRECVDATA=2,1") == codes.FAILED  # nothing buffered
    assert module.error_code("AT+CIPRECVDATA=0,1") == codes.FAILED  # no such link


def test_passive_udp_keeps_datagrams_whole_when_asked(net):
    """AT+CIPRECVDATA's <keep_datagram_integrity>: 1 reads the next
    datagram whole, or fails when it is longer than asked; 0 (the
    default) reads as much as asked. The query shows link 0 in single
    connection mode."""
    module, _ = net
    udp = UdpPeer()
    try:
        assert module.ok("AT+CIPRECVTYPE?") == b"+CIPRECVTYPE:0,0\r\n\r\nOK\r\n"
        module.ok("AT+CIPRECVTYPE=1")
        assert module.ok("AT+CIPRECVTYPE?") == b"+CIPRECVTYPE:0,1\r\n\r\nOK\r\n"
        module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,4402,0' % udp.port)
        ip = radio.station_ip(module)
        udp.sock.sendto(b"first", (ip, 4402))
        assert module.read_until(b"+IPD,5\r\n", 5) == b"\r\n+IPD,5\r\n"
        udp.sock.sendto(b"second", (ip, 4402))
        time.sleep(0.3)
        assert module.error_code("AT+CIPRECVDATA=4,1") == codes.FAILED  # longer than 4
        assert module.at("AT+CIPRECVDATA=100,1") == b"+CIPRECVDATA:5,first\r\nOK\r\n"
        assert module.read_until(b"+IPD,6\r\n", 5) == b"\r\n+IPD,6\r\n"
        assert module.at("AT+CIPRECVDATA=100,0") == b"+CIPRECVDATA:6,second\r\nOK\r\n"
        assert module.error_code("AT+CIPRECVDATA=100,2") == codes.invalid(1)
        module.ok("AT+CIPCLOSE")
        module.ok("AT+CIPRECVTYPE=0")
    finally:
        udp.close()


def _recvlen(module, link_id):
    """AT+CIPRECVLEN?'s field for link_id."""
    reply = module.ok("AT+CIPRECVLEN?")
    return int(reply.split(b":")[1].split(b"\r")[0].split(b",")[link_id])


def _buffered(module, link_id, want, timeout=5):
    """_recvlen() once it reads want (datagrams are still on their way
    through loopback), or at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        held = _recvlen(module, link_id)
        if held == want or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


def _passive_udp_link(module, udp, local_port, datagrams):
    """A passive UDP link in single connection mode on local_port, sent the
    datagrams from udp; returns once the first notice has come."""
    module.ok("AT+CIPRECVTYPE=1")
    module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,%d,0' % (udp.port, local_port))
    ip = radio.station_ip(module)
    for data in datagrams:
        udp.sock.sendto(data, (ip, local_port))
    module.read_until(re.compile(rb"\r\n\+IPD,\d+\r\n"), 5)
    return ip


def test_passive_udp_holds_many_short_datagrams_each_with_its_sender(net):
    """A passive UDP link keeps short datagrams back to back (ESP-AT's
    window holds 5760 bytes of them, not a number of datagrams); with
    <keep_datagram_integrity> 1 the host reads them one by one, in order,
    each with its own sender under AT+CIPDINFO=1, and a fresh notice
    tells what is left after each read."""
    module, _ = net
    first, second = UdpPeer(), UdpPeer()
    try:
        module.ok("AT+CIPMUX=1")
        module.ok("AT+CIPRECVTYPE=3,1")
        module.ok('AT+CIPSTART=3,"UDP","127.0.0.1",%d,4404,2' % first.port)
        ip = radio.station_ip(module)
        sent = []
        for i in range(24):
            peer = (first, second)[i % 2]
            data = b"datagram %d" % i
            peer.sock.sendto(data, (ip, 4404))
            sent.append((peer.port, data))
        total = sum(len(data) for _, data in sent)
        module.read_until(re.compile(rb"\r\n\+IPD,3,\d+\r\n"), 5)
        assert _buffered(module, 3, total) == total
        module.ok("AT+CIPDINFO=1")
        for port, data in sent:
            reply = module.at("AT+CIPRECVDATA=3,100,1")
            assert reply == b'+CIPRECVDATA:%d,"127.0.0.1",%d,%s\r\nOK\r\n' % (len(data), port, data)
            total -= len(data)
            if total:
                assert module.read_until(b"+IPD,3,%d\r\n" % total, 5) == b"\r\n+IPD,3,%d\r\n" % total
        assert module.read_for(0.3) == b""
        assert module.error_code("AT+CIPRECVDATA=3,100,1") == codes.FAILED  # nothing left
    finally:
        first.close()
        second.close()


def test_passive_udp_drops_only_what_its_share_cannot_hold(net):
    """Datagrams beyond a passive link's 5840-byte share are lost (ESP-AT
    loses UDP when its buffer is full); those kept are the first ones,
    whole, and the link takes datagrams again once the host has read."""
    module, _ = net
    udp = UdpPeer()
    try:
        sent = [bytes([65 + i]) * 500 for i in range(30)]
        ip = _passive_udp_link(module, udp, 4405, sent)
        time.sleep(0.5)  # every datagram has come, and most are lost
        held = _recvlen(module, 0)
        kept = held // 500
        assert held == kept * 500 and 10 <= kept and held <= 5840, held
        reply = module.at("AT+CIPRECVDATA=10000")
        assert reply == b"+CIPRECVDATA:%d,%s\r\nOK\r\n" % (held, b"".join(sent[:kept]))
        assert module.read_for(0.3) == b""
        udp.sock.sendto(b"after", (ip, 4405))
        assert module.read_until(b"+IPD,5\r\n", 5) == b"\r\n+IPD,5\r\n"
        assert module.at("AT+CIPRECVDATA=100") == b"+CIPRECVDATA:5,after\r\nOK\r\n"
        module.ok("AT+CIPCLOSE")
        module.ok("AT+CIPRECVTYPE=0")
    finally:
        udp.close()


def test_passive_udp_holds_at_most_32_datagrams(net):
    """However short, a passive link holds 32 datagrams at most (their
    lengths and senders are kept beside the data); later ones are lost
    until the host reads."""
    module, _ = net
    udp = UdpPeer()
    try:
        sent = [b"%03d" % i for i in range(40)]
        _passive_udp_link(module, udp, 4408, sent)
        time.sleep(0.5)
        assert _recvlen(module, 0) == 96
        assert module.at("AT+CIPRECVDATA=1000") == b"+CIPRECVDATA:96,%s\r\nOK\r\n" % b"".join(sent[:32])
        module.ok("AT+CIPCLOSE")
        module.ok("AT+CIPRECVTYPE=0")
    finally:
        udp.close()


def test_passive_report_mode_1_tells_the_next_datagrams_length(net):
    """AT+CIPRECVTYPE's <data_len_report_mode> 1: +IPD and AT+CIPRECVLEN?
    give the length of the next datagram, not the total; on a TCP link,
    which has no datagrams, what it holds."""
    module, peer = net
    udp = UdpPeer()
    try:
        module.ok("AT+CIPMUX=1")
        module.ok("AT+CIPRECVTYPE=1,1,1")
        assert b"+CIPRECVTYPE:1,1\r\n" in module.ok("AT+CIPRECVTYPE?")
        module.ok('AT+CIPSTART=1,"UDP","127.0.0.1",%d,4406,0' % udp.port)
        ip = radio.station_ip(module)
        udp.sock.sendto(b"seven!!", (ip, 4406))
        assert module.read_until(b"+IPD,1,7\r\n", 5) == b"\r\n+IPD,1,7\r\n"
        udp.sock.sendto(b"three", (ip, 4406))
        udp.sock.sendto(b"xyz", (ip, 4406))
        time.sleep(0.5)
        assert _recvlen(module, 1) == 7  # the next one only
        assert module.at("AT+CIPRECVDATA=1,100,1") == b"+CIPRECVDATA:7,seven!!\r\nOK\r\n"
        assert module.read_until(b"+IPD,1,5\r\n", 5) == b"\r\n+IPD,1,5\r\n"
        assert module.at("AT+CIPRECVDATA=1,100") == b"+CIPRECVDATA:8,threexyz\r\nOK\r\n"
        assert module.read_for(0.3) == b""
        assert module.error_code("AT+CIPRECVTYPE=1,1,2") == codes.invalid(2)
        module.ok("AT+CIPRECVTYPE=2,1,1")
        module.ok('AT+CIPSTART=2,"TCP","127.0.0.1",%d' % peer.port)
        peer.conn().send(b"stream")
        assert module.read_until(b"+IPD,2,6\r\n", 5) == b"\r\n+IPD,2,6\r\n"
        assert module.at("AT+CIPRECVDATA=2,100") == b"+CIPRECVDATA:6,stream\r\nOK\r\n"
    finally:
        udp.close()


def test_switching_to_active_delivers_held_datagrams_one_frame_each(net):
    module, _ = net
    udp = UdpPeer()
    try:
        _passive_udp_link(module, udp, 4407, (b"one", b"two", b"three"))
        assert _buffered(module, 0, 11) == 11
        reply = module.at("AT+CIPRECVTYPE=0")
        assert reply == b"\r\n+IPD,3:one\r\n+IPD,3:two\r\n+IPD,5:three\r\nOK\r\n"
    finally:
        udp.close()


def test_nothing_comes_between_the_prompt_and_the_data(net):
    """Between AT+CIPSEND's > and the end of its data the module writes
    nothing else: a passive link's +IPD notice and another link's CLOSED
    wait until SEND OK. Drivers read up to > and send their data; a
    message right behind the prompt is lost to them."""
    module, peer = net
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPRECVTYPE=5,1")
    for link in range(3):
        module.ok('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, peer.port))
    module.write(b"AT+CIPSEND=1,4\r\n")
    assert module.read_until(b">", 5) == b"\r\nOK\r\n\r\n>"
    peer.conn(0).send(b"hello")
    peer.conn(2).close()
    assert module.read_for(0.5) == b""
    module.write(b"ping")
    assert module.read_until(b"SEND OK\r\n", 5) == b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n"
    # Then the two messages, in the order the module saw their events.
    later = module.read_for(0.5)
    assert later in (b"\r\n+IPD,0,5\r\n2,CLOSED\r\n", b"2,CLOSED\r\n\r\n+IPD,0,5\r\n"), later
    assert peer.conn(1).wait_data(4) == b"ping"


def test_closed_is_held_until_the_buffer_is_drained(net):
    module, peer = net
    module.ok("AT+CIPRECVMODE=1")
    assert module.ok("AT+CIPRECVMODE?") == b"+CIPRECVMODE:1\r\n\r\nOK\r\n"
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    conn.send(b"last words")
    conn.close()
    assert module.read_until(b"+IPD,10\r\n", 5) == b"\r\n+IPD,10\r\n"
    assert module.read_for(0.5) == b""  # no CLOSED yet
    assert module.at("AT+CIPRECVDATA=10") == b"+CIPRECVDATA:10,last words\r\nOK\r\n"
    assert module.read_until(b"CLOSED\r\n", 5) == b"CLOSED\r\n"


def test_passive_backpressure_keeps_everything(net):
    module, peer = net
    module.ok("AT+CIPRECVMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    body = bytes(range(251)) * 400  # 100400 bytes, far beyond the buffer
    threading.Thread(target=conn.send, args=(body,), daemon=True).start()
    got = b""
    while len(got) < len(body):
        module.read_until(re.compile(rb"\+IPD,\d+\r\n"), 10)
        reply = module.at("AT+CIPRECVDATA=3000")
        m = re.match(rb"\+CIPRECVDATA:(\d+),", reply)
        n = int(m.group(1))
        assert n <= 3000
        got += reply[m.end() : m.end() + n]
        assert reply[m.end() + n :] == b"\r\nOK\r\n"
    assert got == body


def test_each_passive_link_is_announced_while_others_hold_data(net):
    """Three links receive at once; the host waits for the last one's notice
    and reads it to the end before it reads the others (as a driver whose
    socket API reads the link it was asked for). ESP-AT gives every socket a
    window of its own: here the links share the ring, and a link that holds
    data leaves a slot for each link that holds none."""
    module, peer = net
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPRECVTYPE=5,1")
    bodies = {}
    conns = {}
    for link in range(3):
        module.ok('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, peer.port))
        conns[link] = peer.conn(link)
        bodies[link] = bytes((link * 7 + i) % 251 for i in range(20000))
    for link in range(3):
        threading.Thread(target=conns[link].send, args=(bodies[link],), daemon=True).start()
    notice = re.compile(rb"\r\n\+IPD,(\d),\d+\r\n")
    seen = b""
    for link in (2, 1, 0):
        got = b""
        while len(got) < len(bodies[link]):
            while b"+IPD,%d," % link not in seen:
                seen += module.read_until(notice, 10)
            seen = seen.replace(b"+IPD,%d," % link, b"", 1)
            reply = module.at("AT+CIPRECVDATA=%d,8192" % link)
            m = re.search(rb"\+CIPRECVDATA:(\d+),", reply)
            seen += reply[: m.start()]  # notices of other links that came first
            n = int(m.group(1))
            got += reply[m.end() : m.end() + n]
            assert reply[m.end() + n :] == b"\r\nOK\r\n"
        assert got == bodies[link], link


def test_switching_to_active_delivers_the_buffer(net):
    module, peer = net
    module.ok("AT+CIPRECVMODE=1")
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    peer.conn().send(b"held")
    module.read_until(b"+IPD,4\r\n", 5)
    assert module.at("AT+CIPRECVMODE=0") == b"\r\n+IPD,4:held\r\nOK\r\n"
    assert module.error_code("AT+CIPRECVDATA=4") == codes.FAILED  # active mode
