"""TCP/UDP connections, sending and active +IPD (section 4 of the spec,
esp-at-modern.md §2.5 and §3.4-§3.5, wire-compat.md), byte for byte over the
pty against real peers on loopback."""

import re
import socket
import time

import pytest

from host_tests import codes, radio
from host_tests.netpeers import UdpPeer, wait_until
from host_tests.peers import dns_server  # noqa: F401


def prompt(module, command, timeout=10):
    """Send a command that opens a > block; what came up to the prompt."""
    module.write(command.encode() + b"\r\n")
    return module.read_until(b">", timeout)


def send(module, command, data):
    assert prompt(module, command, 5).endswith(b"\r\nOK\r\n\r\n>")
    module.write(data)
    return module.read_until(re.compile(rb"SEND (OK|FAIL)\r\n"), 10)


# -- connections ----------------------------------------------------------------


def test_tcp_connect_send_receive_close_single_mode(net):
    module, peer = net
    reply = module.at('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    assert reply == b"CONNECT\r\n\r\nOK\r\n"
    conn = peer.conn()
    assert conn.peer[0] == radio.station_ip(module)  # from the station's address

    assert send(module, "AT+CIPSEND=5", b"hello") == b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n"
    assert conn.wait_data(5) == b"hello"

    conn.send(b"world")
    assert module.read_until(b"world", 5) == b"\r\n+IPD,5:world"

    state = module.ok("AT+CIPSTATE?")
    assert state == b'+CIPSTATE:0,"TCP","127.0.0.1",%d,%d,0\r\n\r\nOK\r\n' % (peer.port, conn.peer[1])
    assert module.ok("AT+CIPSTATUS").startswith(b"STATUS:3\r\n+CIPSTATUS:0,\"TCP\"")

    assert module.at("AT+CIPCLOSE") == b"CLOSED\r\n\r\nOK\r\n"
    conn.wait_closed()
    assert module.ok("AT+CIPSTATUS") == b"STATUS:4\r\n\r\nOK\r\n"
    assert module.ok("AT+CIPSTATE?") == b"\r\nOK\r\n"
    assert module.error_code("AT+CIPCLOSE") == codes.FAILED


def test_already_connected_and_refused(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    reply = module.at('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    assert reply.startswith(b"ALREADY CONNECTED\r\n") and reply.endswith(b"\r\nERROR\r\n")
    module.ok("AT+CIPCLOSE")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nobody listens there
    reply = module.at('AT+CIPSTART="TCP","127.0.0.1",%d' % port)
    assert reply.endswith(b"\r\nERROR\r\n") and b"+ERRNO:" in reply
    assert module.ok("AT+CIPSTATE?") == b"\r\nOK\r\n"


def test_peer_close_reports_closed(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    peer.conn().close()
    assert module.read_until(b"CLOSED\r\n", 5) == b"CLOSED\r\n"
    assert module.ok("AT+CIPSTATE?") == b"\r\nOK\r\n"


def test_multiple_connections_and_close_all(net):
    module, peer = net
    module.ok("AT+CIPMUX=1")
    assert module.ok("AT+CIPMUX?") == b"+CIPMUX:1\r\n\r\nOK\r\n"
    for i in (0, 3):
        assert module.at('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (i, peer.port)) == b"%d,CONNECT\r\n\r\nOK\r\n" % i
    assert module.at('AT+CIPSTARTEX="TCP","127.0.0.1",%d' % peer.port) == b"1,CONNECT\r\n\r\nOK\r\n"
    peer.conn(2)
    assert send(module, "AT+CIPSEND=3,4", b"abcd").endswith(b"SEND OK\r\n")
    wait_until(lambda: any(len(c.data) for c in peer.conns))  # SEND OK can come first
    got = {bytes(c.wait_data(4)) for c in peer.conns if len(c.data)}
    assert got == {b"abcd"}
    peer.conns[0].send(b"xyz")
    assert module.read_until(b"xyz", 5) == b"\r\n+IPD,0,3:xyz"
    assert module.error_code("AT+CIPMUX=0") == codes.FAILED  # links are open
    reply = module.ok("AT+CIPCLOSE=5")
    assert sorted(re.findall(rb"(\d),CLOSED\r\n", reply)) == [b"0", b"1", b"3"]
    module.ok("AT+CIPMUX=0")


def test_ipd_frames_hold_at_most_2920_bytes_and_dinfo(net):
    module, peer = net
    module.ok("AT+CIPDINFO=1")
    assert module.ok("AT+CIPDINFO?") == b"+CIPDINFO:true\r\n\r\nOK\r\n"
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    body = bytes(range(256)) * 40  # 10240 bytes
    conn.send(body)
    got = b""
    while len(got) < len(body):
        header = module.read_until(re.compile(rb'\r\n\+IPD,(\d+),"127\.0\.0\.1",%d:' % peer.port), 10)
        n = int(re.search(rb"IPD,(\d+),", header).group(1))
        assert 0 < n <= 2920
        got += module.read_exactly(n)
    assert got == body
    module.ok("AT+CIPDINFO=0")
    assert module.ok("AT+CIPDINFO?") == b"+CIPDINFO:false\r\n\r\nOK\r\n"


def test_link_conn_message_with_sysmsg_bit1(net):
    module, peer = net
    module.ok("AT+SYSMSG=2")
    module.ok("AT+CIPMUX=1")
    reply = module.at('AT+CIPSTART=2,"TCP","127.0.0.1",%d' % peer.port)
    lport = peer.conn().peer[1]
    assert reply == b'+LINK_CONN:0,2,"TCP",0,"127.0.0.1",%d,%d\r\n\r\nOK\r\n' % (peer.port, lport)


# -- sending -----------------------------------------------------------------------


def test_cipsend_bad_input(net):
    module, peer = net
    assert module.error_code("AT+CIPSEND=5") == codes.FAILED  # no link
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    assert module.error_code("AT+CIPSEND=0") == codes.invalid(0)
    assert module.error_code("AT+CIPSEND=8193") == codes.invalid(0)
    assert module.error_code('AT+CIPSEND=4,"127.0.0.1",9') == codes.invalid(1)  # TCP has no remote
    assert module.error_code("AT+CIPSEND=1,2") != 0  # single mode has no id
    assert module.error_code("AT+CIPSEND=x") == codes.type_mismatch(0)
    # Bytes beyond the announced length: one busy p..., only n are sent.
    prompt(module, "AT+CIPSEND=3")
    module.write(b"abcdef")
    reply = module.read_until(b"SEND OK\r\n", 5)
    assert b"Recv 3 bytes" in reply
    assert peer.conn().wait_data(3) == b"abc"
    assert (reply + module.read_for(0.3)).count(b"\r\nbusy p...\r\n") == 1
    assert module.at("AT").endswith(b"\r\nOK\r\n")


def test_cipsend_8192_bytes(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    data = bytes((i * 7) & 0xFF for i in range(8192))
    assert send(module, "AT+CIPSEND=8192", data) == b"\r\nRecv 8192 bytes\r\n\r\nSEND OK\r\n"
    assert peer.conn().wait_data(8192) == data


def test_cipsend_waits_for_data_split_over_writes(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    prompt(module, "AT+CIPSEND=6")
    module.write(b"ab")
    assert module.read_for(0.5) == b""  # still waiting for the rest
    module.write(b"cdef")
    assert module.read_until(b"SEND OK\r\n") == b"\r\nRecv 6 bytes\r\n\r\nSEND OK\r\n"
    assert peer.conn().wait_data(6) == b"abcdef"


def test_plus_plus_plus_alone_cancels_a_cipsend_block(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    prompt(module, "AT+CIPSEND=10")
    module.write(b"+++")
    assert module.read_until(b"\r\n", 2) + module.read_until(b"\r\n", 2) == b"\r\nSEND Canceled\r\n"
    assert module.ok("AT") == b"\r\nOK\r\n"  # commands again
    # "+++" that data follows, "+++" inside the data, and "+++" as all the
    # announced bytes are data.
    prompt(module, "AT+CIPSEND=5")
    module.write(b"+++ab")
    assert module.read_until(b"SEND OK\r\n") == b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n"
    assert send(module, "AT+CIPSEND=7", b"ab+++cd").endswith(b"\r\nSEND OK\r\n")
    assert send(module, "AT+CIPSEND=3", b"+++").endswith(b"\r\nSEND OK\r\n")
    assert conn.wait_data(15) == b"+++abab+++cd+++"
    time.sleep(0.2)
    assert len(conn.data) == 15  # the cancelled "+++" never went out


def test_plus_plus_plus_cancels_cipsendex_and_cipsendl(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    conn = peer.conn()
    prompt(module, "AT+CIPSENDEX=10")
    module.write(b"+++")
    assert module.read_until(b"Canceled\r\n", 2) == b"\r\nSEND Canceled\r\n"
    prompt(module, "AT+CIPSENDL=5000")
    module.write(b"+++")
    assert module.read_until(b"CANCELLED\r\n", 2) == b"\r\nSEND CANCELLED\r\n"
    assert send(module, "AT+CIPSEND=2", b"ok").endswith(b"\r\nSEND OK\r\n")
    assert conn.wait_data(2) == b"ok"
    time.sleep(0.2)
    assert conn.data == b"ok"


def test_cipsendex_ends_at_backslash_zero(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    reply = send(module, "AT+CIPSENDEX=20", b"ab\\\\0c\\,d\\0")
    assert reply == b"\r\nRecv 11 bytes\r\n\r\nSEND OK\r\n"
    assert peer.conn().wait_data(7) == b"ab\\0c,d"


def test_cipsendl_streams_and_reports(net):
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    assert module.ok("AT+CIPSENDLCFG?") == b"+CIPSENDLCFG:1024,2920\r\n\r\nOK\r\n"
    module.ok("AT+CIPSENDLCFG=4096,1000")
    data = bytes((i * 13) & 0xFF for i in range(20000))
    reply = send(module, "AT+CIPSENDL=20000", data)
    assert reply.endswith(b"\r\nSEND OK\r\n")
    reports = [(int(a), int(b)) for a, b in re.findall(rb"\+CIPSENDL:(\d+),(\d+)", reply)]
    assert reports and reports[-1][0] == 20000
    assert all(sent <= received for sent, received in reports)
    assert len(set(reports)) == len(reports)  # no report repeated
    assert peer.conn().wait_data(20000) == data
    assert module.error_code("AT+CIPSENDLCFG=99") == codes.invalid(0)
    assert module.error_code("AT+CIPSENDLCFG=100,2921") == codes.invalid(1)


def test_cipsendl_reports_what_was_sent_once_at_the_end(net):
    """With the default configuration a 5000-byte send is reported after
    its first transmit block and at its end: the final report, the length
    sent, comes once."""
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    reply = send(module, "AT+CIPSENDL=5000", bytes(5000))
    assert reply.endswith(b"\r\n+CIPSENDL:5000,5000\r\n\r\nSEND OK\r\n"), reply
    assert reply.count(b"+CIPSENDL:5000,5000") == 1, reply
    assert peer.conn().wait_data(5000) == bytes(5000)


def test_cipsendl_sends_what_came_once_the_host_is_quiet(net):
    """Less than a transmit block goes to the network after AT+TRANSINTVL
    of silence from the host, not only once a block is full or the length
    has come: a host may wait for an answer in the middle of its stream."""
    module, peer = net
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    for interval in (20, 0):
        module.ok("AT+TRANSINTVL=%d" % interval)
        assert prompt(module, "AT+CIPSENDL=3000").endswith(b"\r\nOK\r\n\r\n>")
        conn = peer.conn()
        start = len(conn.data)
        module.write(b"question")
        assert conn.wait_data(start + 8, 5)[start:] == b"question"
        module.write(bytes(2992))
        reply = module.read_until(re.compile(rb"SEND (OK|FAIL)\r\n"), 10)
        assert reply.endswith(b"\r\n+CIPSENDL:3000,3000\r\n\r\nSEND OK\r\n"), reply
        assert conn.wait_data(start + 3000)[start:] == b"question" + bytes(2992)


# -- UDP -----------------------------------------------------------------------------


def test_udp_local_port_mode_and_remote_override(net):
    module, _ = net
    a, b = UdpPeer(), UdpPeer()
    try:
        module.ok("AT+CIPMUX=1")
        assert module.at('AT+CIPSTART=1,"UDP","127.0.0.1",%d,10,2' % a.port) == b"1,CONNECT\r\n\r\nOK\r\n"
        ip = radio.station_ip(module)
        assert send(module, "AT+CIPSEND=1,3", b"one").endswith(b"SEND OK\r\n")
        data, source = a.recv()
        assert data == b"one" and source == (ip, 10)
        # Mode 2: the remote follows whoever sends.
        b.sock.sendto(b"from-b", (ip, 10))
        assert module.read_until(b"from-b", 5) == b"\r\n+IPD,1,6:from-b"
        assert send(module, "AT+CIPSEND=1,2", b"hi").endswith(b"SEND OK\r\n")
        assert b.recv() == (b"hi", (ip, 10))
        # A remote given with the send.
        assert send(module, 'AT+CIPSEND=1,3,"127.0.0.1",%d' % a.port, b"two").endswith(b"SEND OK\r\n")
        assert a.recv()[0] == b"two"
        state = module.ok("AT+CIPSTATE?")
        assert state == b'+CIPSTATE:1,"UDP","127.0.0.1",%d,10,0\r\n\r\nOK\r\n' % b.port
    finally:
        a.close()
        b.close()


def test_udp_without_a_local_port_takes_one_and_shows_it(net):
    """As lwIP binds a UDP link without <local port> to a port of its own,
    AT+CIPSTATE? shows the port the datagrams leave from, and replies to it
    reach the link."""
    module, _ = net
    udp = UdpPeer()
    try:
        module.ok('AT+CIPSTART="UDP","127.0.0.1",%d' % udp.port)
        assert send(module, "AT+CIPSEND=5", b"hello").endswith(b"SEND OK\r\n")
        data, source = udp.recv()
        assert data == b"hello" and 49152 <= source[1] <= 65535
        state = module.ok("AT+CIPSTATE?")
        assert state == b'+CIPSTATE:0,"UDP","127.0.0.1",%d,%d,0\r\n\r\nOK\r\n' % (udp.port, source[1])
        udp.sock.sendto(b"back", source)
        assert module.read_until(b"back", 5) == b"\r\n+IPD,4:back"
    finally:
        udp.close()


def test_datagrams_that_wait_together_still_come_one_frame_each(net):
    """Datagrams that queue up while a command runs (here the data of an
    AT+CIPSEND) are each an +IPD frame of their own, whole, never merged
    nor cut at a slot's end."""
    module, _ = net
    udp = UdpPeer()
    try:
        module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,4410,0' % udp.port)
        ip = radio.station_ip(module)
        module.write(b"AT+CIPSEND=4\r\n")
        module.read_until(b">", 5)
        sent = [bytes([97 + i]) * 700 for i in range(6)]  # 4200 bytes: more than a slot
        for data in sent:
            udp.sock.sendto(data, (ip, 4410))
        time.sleep(0.3)
        module.write(b"ping")
        module.read_until(b"SEND OK\r\n", 5)
        assert udp.recv()[0] == b"ping"
        frames = b"".join(b"\r\n+IPD,700:" + data for data in sent)
        assert module.read_until(sent[-1], 5) == frames
    finally:
        udp.close()


# -- servers -----------------------------------------------------------------------------


def test_server_clients_maxconn_and_delete(net):
    module, _ = net
    ip = radio.station_ip(module)
    assert module.error_code("AT+CIPSERVER=1,8081") == codes.FAILED  # needs CIPMUX=1
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPSERVERMAXCONN=2")
    assert module.ok("AT+CIPSERVERMAXCONN?") == b"+CIPSERVERMAXCONN:2\r\n\r\nOK\r\n"
    module.ok("AT+CIPSERVER=1,8081")
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8081,"TCP",0,0\r\n\r\nOK\r\n'
    assert module.error_code("AT+CIPSERVERMAXCONN=3") == codes.FAILED  # server running
    assert module.error_code("AT+CIPMUX=0") == codes.FAILED
    c0 = socket.create_connection((ip, 8081), timeout=5)
    assert module.read_until(b"0,CONNECT\r\n", 5) == b"0,CONNECT\r\n"
    c1 = socket.create_connection((ip, 8081), timeout=5)
    assert module.read_until(b"1,CONNECT\r\n", 5) == b"1,CONNECT\r\n"
    c2 = socket.create_connection((ip, 8081), timeout=5)  # over the limit
    assert c2.recv(10) == b""  # closed by the module
    c1.sendall(b"ping")
    assert module.read_until(b"ping", 5) == b"\r\n+IPD,1,4:ping"
    assert send(module, "AT+CIPSEND=0,4", b"pong").endswith(b"SEND OK\r\n")
    assert c0.recv(10) == b"pong"
    state = module.ok("AT+CIPSTATE?")
    assert b'+CIPSTATE:0,"TCP","%s",' % c0.getsockname()[0].encode() in state
    assert b",8081,1\r\n" in state
    c0.close()
    assert module.read_until(b"0,CLOSED\r\n", 5) == b"0,CLOSED\r\n"
    # Deleting the server keeps its clients unless asked to close them.
    module.ok("AT+CIPSERVER=0")
    assert module.ok("AT+CIPSERVER?") == b"+CIPSERVER:0\r\n\r\nOK\r\n"
    assert b"+CIPSTATE:1," in module.ok("AT+CIPSTATE?")
    with pytest.raises(OSError):
        socket.create_connection((ip, 8081), timeout=2)
    module.ok("AT+CIPSERVER=1,8081")
    assert module.ok("AT+CIPSERVER=0,1") == b"1,CLOSED\r\n\r\nOK\r\n"
    assert c1.recv(10) == b""
    assert module.ok("AT+CIPSERVER=0") == b"\r\nOK\r\n"  # no server: nothing to do
    module.ok("AT+CIPMUX=0")


def test_server_on_one_interface(net):
    """AT+CIPSERVER's <netif>: the server listens on that interface's
    address only, which must be up; the query shows it."""
    module, _ = net
    ip = radio.station_ip(module)
    module.ok("AT+CIPMUX=1")
    assert module.error_code('AT+CIPSERVER=1,8083,"TCP",0,2') == codes.FAILED  # the SoftAP is off
    assert module.error_code('AT+CIPSERVER=1,8083,"TCP",0,4') == codes.invalid(4)
    module.ok('AT+CIPSERVER=1,8083,"TCP",0,1')
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8083,"TCP",0,1\r\n\r\nOK\r\n'
    client = socket.create_connection((ip, 8083), timeout=5)
    assert module.read_until(b"0,CONNECT\r\n", 5) == b"0,CONNECT\r\n"
    client.close()
    assert module.read_until(b"0,CLOSED\r\n", 5) == b"0,CLOSED\r\n"
    module.ok("AT+CIPSERVER=0")


def test_server_idle_timeout(net):
    module, _ = net
    ip = radio.station_ip(module)
    module.ok("AT+CIPMUX=1")
    assert module.ok("AT+CIPSTO?") == b"+CIPSTO:180\r\n\r\nOK\r\n"
    module.ok("AT+CIPSTO=1")
    module.ok("AT+CIPSERVER=1")
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,333,"TCP",0,0\r\n\r\nOK\r\n'
    client = socket.create_connection((ip, 333), timeout=5)
    assert module.read_until(b"0,CONNECT\r\n", 5)
    assert module.read_until(b"0,CLOSED\r\n", 5)  # idle for a second
    assert client.recv(10) == b""
    assert module.error_code("AT+CIPSTO=7201") == codes.invalid(0)


# -- options ---------------------------------------------------------------------


def test_ciptcpopt(net):
    module, peer = net
    assert module.ok("AT+CIPTCPOPT?") == b"+CIPTCPOPT:0,-1,0,0,0\r\n\r\nOK\r\n"  # single mode: link 0
    module.ok("AT+CIPMUX=1")
    reply = module.ok("AT+CIPTCPOPT?")
    assert reply.count(b"+CIPTCPOPT:") == 5 and b"+CIPTCPOPT:4,-1,0,0,0\r\n" in reply
    module.ok("AT+CIPMUX=0")
    module.ok("AT+CIPTCPOPT=-1,1,2000,60")
    assert b"+CIPTCPOPT:0,-1,1,2000,60\r\n" in module.ok("AT+CIPTCPOPT?")
    assert module.error_code("AT+CIPTCPOPT=5,1,0") == codes.no_api(0)  # SO_LINGER
    assert module.error_code("AT+CIPTCPOPT=-1,2,0") == codes.invalid(1)
    module.ok('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port)
    assert send(module, "AT+CIPSEND=2", b"ok").endswith(b"SEND OK\r\n")


def test_cipstart_bad_input(net):
    module, peer = net
    assert module.error_code('AT+CIPSTART="FTP","127.0.0.1",21') == codes.invalid(0)
    assert module.error_code('AT+CIPSTART="TCP","127.0.0.1",70000') == codes.invalid(2)
    assert module.error_code('AT+CIPSTART="UDP","127.0.0.1",0') == codes.invalid(2)
    assert module.error_code('AT+CIPSTART="TCP","127.0.0.1"') >> 16 == 0x0106
    # single connection mode: the first parameter is the type, not an id
    assert module.error_code('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % peer.port) == codes.type_mismatch(0)
    module.ok("AT+CIPMUX=1")
    assert module.error_code('AT+CIPSTART=5,"TCP","127.0.0.1",%d' % peer.port) == codes.invalid(0)
    assert module.error_code('AT+CIPSTART="TCP","127.0.0.1",%d' % peer.port) == codes.invalid(0)
    assert module.error_code('AT+CIPSTART=0,"TCP","127.0.0.1",%d,7201' % peer.port) == codes.invalid(4)


def test_forms(net):
    module, _ = net
    for command in ("AT+CIPSTART", "AT+CIPSTART?", "AT+CIPSTART=?", "AT+CIPSEND?", "AT+CIPMUX", "AT+CIPSTATE",
                    "AT+CIPSERVER", "AT+CIPDINFO", "AT+CIPRECVDATA?", "AT+CIPRECVLEN", "AT+CIPCLOSE?"):
        assert module.error_code(command) == codes.code(codes.WRONG_FORM), command


def test_cipstart_by_name_through_the_worlds_dns(net, dns_server):  # noqa: F811
    module, peer = net
    dns_server.set("peer.test", "127.0.0.1")
    assert module.at('AT+CIPSTART="TCP","peer.test",%d' % peer.port) == b"CONNECT\r\n\r\nOK\r\n"
    assert ("peer.test", radio.station_ip(module)) in dns_server.queries()
    module.ok("AT+CIPCLOSE")
    reply = module.at('AT+CIPSTART="TCP","nowhere.test",%d' % peer.port)
    assert reply.endswith(b"\r\nERROR\r\n") and b"+ERRNO:0xca\r\n" in reply
