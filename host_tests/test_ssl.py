"""TLS: AT+CIPSSLCCONF (alias AT+CIPSSLCONF), AT+CIPSSLCSNI, AT+CIPSSLCCN,
AT+CIPSSLCALPN, AT+CIPSSLCPSK, AT+CIPSSLCPSKHEX, SSL links of AT+CIPSTART
(single and multiple connections, passthrough) and the SSL server of
AT+CIPSERVER (esp_at_commands_set.md 4.3.3, 4.10, 4.20; esp-at-modern.md
§3.7; wire-compat.md), against real TLS peers on loopback: Python's ssl
module and `openssl s_server`, with certificates `openssl` makes for the
test (host_tests/certs.py). The certificates and keys reach the module as
files of its AT+FS folder, installed by tools.certs or written directly."""

import errno
import hashlib
import os
import random
import re
import select
import shutil
import socket
import subprocess
import threading
import time

import pytest

from host_tests import codes, radio
from host_tests.certs import Pki, TlsPeer, install, tls_client
from host_tests.netpeers import connect_when_listening, recv_exactly
from host_tests.test_integrity import FLOW, read_raw, write_async
from tools import certs as certs_tool
from tools.sim import REPO, default_micropython

VERIFY_FAILED = b"+ERRNO:0x2700\r\n"  # MBEDTLS_ERR_X509_CERT_VERIFY_FAILED
CONNECT = b"CONNECT\r\n\r\nOK\r\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """Two RSA CAs and one EC CA; servers and clients signed by them."""
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.ca("ca")  # RSA
    p.ca("other_ca")  # RSA, trusted by nobody
    p.ca("ec_ca", "ec")
    p.leaf("server", "ca", "localhost")  # SAN DNS:localhost, IP:127.0.0.1
    p.leaf("ec_server", "ec_ca", "localhost", kind="ec")
    p.leaf("rogue", "other_ca", "localhost")  # right name, wrong CA
    p.leaf("named", "ca", "service.example", sans=("DNS:service.example",))  # not 127.0.0.1
    p.leaf("expired", "ca", "localhost", days=-1)
    p.leaf("client", "ca", "module-1")
    p.leaf("ec_client", "ec_ca", "module-2", kind="ec")
    p.leaf("rogue_client", "other_ca", "module-3")
    return p


@pytest.fixture
def net(online, tmp_path):
    """A module whose station has joined OpenNet; its state folder."""
    return online, tmp_path / "m"


@pytest.fixture
def peers():
    """TLS servers made by the test, closed at its end."""
    made = []

    def make(*args, **kwargs):
        peer = TlsPeer(*args, **kwargs)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


def send(module, command, data):
    module.write(command.encode() + b"\r\n")
    assert module.read_until(b">", 5).endswith(b"\r\nOK\r\n\r\n>")
    module.write(data)
    return module.read_until(re.compile(rb"SEND (OK|FAIL)\r\n"), 10)


def start(module, port, link=None, host="127.0.0.1"):
    prefix = "" if link is None else "%d," % link
    return module.at('AT+CIPSTART=%s"SSL","%s",%d' % (prefix, host, port), 30)


def refused(module, port):
    """An SSL AT+CIPSTART that must fail; its reply."""
    reply = start(module, port)
    assert reply.endswith(b"\r\nERROR\r\n"), reply
    assert b"CONNECT" not in reply
    assert module.ok("AT+CIPSTATE?") == b"\r\nOK\r\n"  # no link left behind
    return reply


def read_line(stream, timeout):
    """One line from a subprocess's pipe, within timeout s."""
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "nothing from the process"
    return stream.readline()


def ca_files(pki, ca="ca", number=0):
    return {"client_ca.%d" % number: pki.path(ca + ".pem")}


def server_files(pki):
    """The module's own certificate and key, for an SSL server."""
    return {"server_cert": pki.path("ec_server.pem"), "server_key": pki.path("ec_server.key")}


# -- the commands ------------------------------------------------------------------------


def test_defaults_and_the_queries_hosts_send_at_init(net):
    module, _ = net
    assert module.ok("AT+CIPSSLCCONF?") == b"".join(b"+CIPSSLCCONF:%d,0,0,0\r\n" % i for i in range(5)) + b"\r\nOK\r\n"
    assert module.ok("AT+CIPSSLCSNI?") == b"".join(b'+CIPSSLCSNI:%d,""\r\n' % i for i in range(5)) + b"\r\nOK\r\n"
    assert module.ok("AT+CIPSSLCCN?") == b"".join(b'+CIPSSLCCN:%d,""\r\n' % i for i in range(5)) + b"\r\nOK\r\n"
    assert module.ok("AT+CIPSSLCALPN?") == b"".join(b"+CIPSSLCALPN:%d\r\n" % i for i in range(5)) + b"\r\nOK\r\n"
    assert module.ok("AT+CIPSSLCPSK?") == b"".join(b'+CIPSSLCPSK:%d,"",""\r\n' % i for i in range(5)) + b"\r\nOK\r\n"
    # Sent before every AT+CIPSTART by host libraries, with the id whatever the mode.
    module.ok('AT+CIPSSLCSNI=0,""')
    module.ok('AT+CIPSSLCSNI=""')
    module.ok("AT+CIPMUX=1")
    module.ok('AT+CIPSSLCSNI=3,""')
    module.ok("AT+CIPSSLCCONF?")


def test_set_forms_single_and_multiple_and_the_old_name(net):
    module, _ = net
    module.ok("AT+CIPSSLCCONF=3,1,2")  # single connection: link 0
    module.ok('AT+CIPSSLCSNI="api.example"')
    module.ok('AT+CIPSSLCCN="api.example"')
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,3,1,2\r\n+CIPSSLCCONF:1,0,0,0\r\n")
    assert b'+CIPSSLCSNI:0,"api.example"\r\n+CIPSSLCSNI:1,""\r\n' in module.ok("AT+CIPSSLCSNI?")
    assert b'+CIPSSLCCN:0,"api.example"\r\n' in module.ok("AT+CIPSSLCCN?")
    module.ok("AT+CIPSSLCCONF=0")  # pki and ca may be left out
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,0,0,0\r\n")
    # The old spelling is the same command.
    module.ok("AT+CIPSSLCONF=2,0,1")
    assert module.ok("AT+CIPSSLCONF?") == module.ok("AT+CIPSSLCCONF?")
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,2,0,1\r\n")
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPSSLCCONF=2,1,4,7")
    module.ok('AT+CIPSSLCSNI=4,"four.example"')
    module.ok('AT+CIPSSLCCN=1,"one.example"')
    reply = module.ok("AT+CIPSSLCCONF?")
    assert b"+CIPSSLCCONF:2,1,4,7\r\n" in reply and b"+CIPSSLCCONF:1,0,0,0\r\n" in reply
    assert b'+CIPSSLCSNI:4,"four.example"\r\n' in module.ok("AT+CIPSSLCSNI?")
    module.ok("AT+CIPSSLCCONF=5,2,0,0")  # 5: every link
    assert module.ok("AT+CIPSSLCCONF?") == b"".join(b"+CIPSSLCCONF:%d,2,0,0\r\n" % i for i in range(5)) + b"\r\nOK\r\n"
    module.ok('AT+CIPSSLCSNI=5,"all.example"')
    assert module.ok("AT+CIPSSLCSNI?").count(b'"all.example"') == 5
    module.ok('AT+CIPSSLCCN=5,""')
    assert module.ok("AT+CIPSSLCCN?").count(b',""\r\n') == 5


def test_cipsslcconf_is_saved_as_sysstore_says(net):
    module, _ = net
    module.ok("AT+CIPSSLCCONF=3,1,1")
    module.ok('AT+CIPSSLCSNI="not.saved"')
    radio.restart(module)
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,3,1,1\r\n")
    assert module.ok("AT+CIPSSLCSNI?").startswith(b'+CIPSSLCSNI:0,""\r\n')  # RAM only, as ESP-AT
    module.ok("AT+SYSSTORE=0")
    module.ok("AT+CIPSSLCCONF=2,0,0")
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,2,0,0\r\n")
    radio.restart(module)
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,3,1,1\r\n")
    module.ok("AT+RESTORE")
    module.wait_ready()
    radio.make_quiet(module)
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,0,0,0\r\n")


def test_bad_input_to_every_command(net):
    module, _ = net
    e = module.error_code
    for name in ("CIPSSLCCONF", "CIPSSLCONF", "CIPSSLCSNI", "CIPSSLCCN", "CIPSSLCALPN", "CIPSSLCPSK", "CIPSSLCPSKHEX"):
        assert e("AT+%s" % name) == codes.code(codes.WRONG_FORM)
        assert e("AT+%s=?" % name) == codes.code(codes.WRONG_FORM)
    # AT+CIPSSLCCONF, single connection mode
    assert e("AT+CIPSSLCCONF=4") == codes.invalid(0)
    assert e("AT+CIPSSLCCONF=-1") == codes.invalid(0)
    assert e("AT+CIPSSLCCONF=1,256") == codes.invalid(1)
    assert e("AT+CIPSSLCCONF=1,0,-1") == codes.invalid(2)
    assert e('AT+CIPSSLCCONF="2"') == codes.type_mismatch(0)
    assert e("AT+CIPSSLCCONF=") == codes.invalid(0)
    assert e("AT+CIPSSLCCONF=0,0,0,0,0") == codes.count(3, 5)
    assert e("AT+CIPSSLCCONF=6,0,0,0") == codes.invalid(0)  # four: a link id first
    assert e('AT+CIPSSLCCONF=2,"0"') == codes.type_mismatch(1)
    assert e("AT+CIPSSLCCONF=2,0,0x100") == codes.invalid(2)
    assert e('AT+CIPSSLCCONF=2,"0') == codes.code(codes.PARA_PARSE, 1)
    # AT+CIPSSLCSNI, AT+CIPSSLCCN
    for name in ("CIPSSLCSNI", "CIPSSLCCN"):
        assert e('AT+%s="%s"' % (name, "a" * 65)) == codes.code(codes.PARA_LENGTH, 0)
        assert e("AT+%s=1" % name) == codes.type_mismatch(0)
        assert e('AT+%s=6,"x"' % name) == codes.invalid(0)
        assert e('AT+%s="x","y"' % name) == codes.count(1, 2)
        assert e("AT+%s=" % name) == codes.invalid(0)
    module.ok('AT+CIPSSLCSNI="%s"' % ("a" * 64))
    # AT+CIPSSLCALPN: checked in full, then no ALPN API
    assert e("AT+CIPSSLCALPN=6") == codes.invalid(0)
    assert e("AT+CIPSSLCALPN=-1") == codes.invalid(0)
    assert e('AT+CIPSSLCALPN=2,"h2"') == codes.count(3, 2)
    assert e('AT+CIPSSLCALPN=1,"h2","http/1.1"') == codes.count(2, 3)
    assert e('AT+CIPSSLCALPN=1,""') == codes.code(codes.PARA_LENGTH, 1)
    assert e("AT+CIPSSLCALPN=1,5") == codes.count(7, 2)  # two numbers: a link id, then 5 names missing
    assert e('AT+CIPSSLCALPN="h2"') == codes.type_mismatch(0)
    assert e('AT+CIPSSLCALPN=1,"h2"') == codes.no_api(0)
    assert e('AT+CIPSSLCALPN=0,2,"h2","http/1.1"') == codes.no_api(1)
    module.ok("AT+CIPSSLCALPN=0")  # nothing to clear
    # AT+CIPSSLCPSK, AT+CIPSSLCPSKHEX
    assert e('AT+CIPSSLCPSK="key"') == codes.count(2, 1)
    assert e('AT+CIPSSLCPSK="%s","id"' % ("k" * 33)) == codes.code(codes.PARA_LENGTH, 0)
    assert e('AT+CIPSSLCPSK="key","%s"' % ("i" * 33)) == codes.code(codes.PARA_LENGTH, 1)
    assert e('AT+CIPSSLCPSK=1,"id"') == codes.count(3, 2)  # a link id, then one string
    assert e('AT+CIPSSLCPSK=7,"key","id"') == codes.invalid(0)
    assert e('AT+CIPSSLCPSKHEX="abc","id"') == codes.invalid(0)  # odd length
    assert e('AT+CIPSSLCPSKHEX="zz","id"') == codes.invalid(0)
    assert e('AT+CIPSSLCPSKHEX="%s","id"' % ("00" * 33)) == codes.code(codes.PARA_LENGTH, 0)
    assert e('AT+CIPSSLCPSKHEX=1,"id"') == codes.count(3, 2)
    # Nothing was changed by all that.
    assert module.ok("AT+CIPSSLCCONF?").startswith(b"+CIPSSLCCONF:0,0,0,0\r\n")
    assert module.ok("AT+CIPSSLCPSK?").startswith(b'+CIPSSLCPSK:0,"",""\r\n')
    # Multiple connections: the link id comes first and is needed.
    module.ok("AT+CIPMUX=1")
    assert e("AT+CIPSSLCCONF=2") == codes.count(2, 1)
    assert e("AT+CIPSSLCCONF=6,2") == codes.invalid(0)
    assert e('AT+CIPSSLCSNI="x"') == codes.count(2, 1)
    assert e('AT+CIPSSLCPSK="k","i"') == codes.count(3, 2)
    assert e("AT+CIPSSLCALPN=9,0") == codes.invalid(0)


def test_psk_commands(net):
    module, _ = net
    module.ok('AT+CIPSSLCPSK="secret","device7"')
    assert module.ok("AT+CIPSSLCPSK?").startswith(b'+CIPSSLCPSK:0,"secret","device7"\r\n+CIPSSLCPSK:1,"",""\r\n')
    assert module.ok("AT+CIPSSLCPSKHEX?").startswith(b'+CIPSSLCPSKHEX:0,"736563726574","device7"\r\n')
    module.ok('AT+CIPSSLCPSKHEX="00ff10","id\\,2"')  # a key with a NUL byte; an escaped comma
    assert module.ok("AT+CIPSSLCPSKHEX?").startswith(b'+CIPSSLCPSKHEX:0,"00ff10","id,2"\r\n')
    module.ok("AT+CIPMUX=1")
    module.ok('AT+CIPSSLCPSK=3,"k3","i3"')
    assert b'+CIPSSLCPSK:3,"k3","i3"\r\n' in module.ok("AT+CIPSSLCPSK?")
    module.ok('AT+CIPSSLCPSK=5,"",""')
    assert module.ok("AT+CIPSSLCPSK?").count(b',"",""\r\n') == 5


# -- client links -------------------------------------------------------------------------


def test_no_verification_rsa_data_both_ways(net, pki, peers):
    module, _ = net
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    assert start(module, peer.port) == CONNECT
    conn = peer.conn()
    assert conn.peer[0] == radio.station_ip(module)
    assert peer.names == [None]  # no SNI for an address
    assert send(module, "AT+CIPSEND=5", b"hello") == b"\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n"
    assert conn.wait_data(5) == b"hello"
    conn.send(b"world")
    assert module.read_until(b"world", 5) == b"\r\n+IPD,5:world"
    body = bytes(range(256)) * 40  # more than one +IPD frame, several TLS records
    conn.send(body)
    got = b""
    while len(got) < len(body):
        header = module.read_until(re.compile(rb"\r\n\+IPD,(\d+):"), 10)
        got += module.read_exactly(int(re.search(rb"IPD,(\d+):", header).group(1)))
    assert got == body
    state = module.ok("AT+CIPSTATE?")
    assert state.startswith(b'+CIPSTATE:0,"SSL","127.0.0.1",%d,' % peer.port)
    assert module.at("AT+CIPCLOSE") == b"CLOSED\r\n\r\nOK\r\n"
    conn.wait_closed()
    # The server closes: CLOSED, as for TCP.
    assert start(module, peer.port) == CONNECT
    peer.conn(1).close()
    assert module.read_until(b"CLOSED\r\n", 5) == b"CLOSED\r\n"


def test_server_verified_against_the_ca_ec(net, pki, peers):
    module, state = net
    install(state, ca_files(pki, "ec_ca", 2))
    peer = peers(pki.path("ec_server.pem"), pki.path("ec_server.key"))
    module.ok("AT+CIPSSLCCONF=2,0,2")
    assert start(module, peer.port) == CONNECT  # IP:127.0.0.1 in the certificate
    assert send(module, "AT+CIPSEND=2", b"ec").endswith(b"SEND OK\r\n")
    assert peer.conn().wait_data(2) == b"ec"
    module.ok("AT+CIPCLOSE")
    module.ok('AT+CIPSSLCSNI="localhost"')  # sent, and the name checked
    assert start(module, peer.port) == CONNECT
    assert peer.names[-1] == "localhost"
    module.ok("AT+CIPCLOSE")
    # The same server against another CA file: refused.
    install(state, ca_files(pki, "ca", 2))
    assert VERIFY_FAILED in refused(module, peer.port)
    assert len(peer.conns) == 2


# Run by the unix port from the tree's root, as the virtual module runs.
READER_CHECK = """
import socket, sys, tls
sys.path[:0] = ["boards/unix", ""]
from firmware import ota_update, ssl_link

class Board:
    FS_ROOT = sys.argv[-1]

class At:
    board = Board

ssl_link._load_cas(At, tls.SSLContext(tls.PROTOCOL_TLS_CLIENT), "client_ca.0")
print("ssl_link", "firmware.pem" in sys.modules)
ota_update._tls(At, socket.socket(), "localhost")
print("ota_update", "firmware.pem" in sys.modules)
"""


def test_the_certificate_reader_goes_once_the_files_are_read(tmp_path, pki):
    """The reader of certificate files (firmware/pem.py) is no command
    group, so nothing would let it go with the TLS groups that use it: it
    goes once they have read their files."""
    shutil.copy(pki.path("ca.pem"), tmp_path / "client_ca.0")
    result = subprocess.run(
        [default_micropython(), "-c", READER_CHECK, str(tmp_path)],
        cwd=REPO,
        env=dict(os.environ, ATSIM_STATE=str(tmp_path)),  # the stand-ins' files
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "ssl_link False\nota_update False\n", result.stdout + result.stderr


def test_server_of_another_ca_is_refused_and_gets_nothing(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("rogue.pem"), pki.path("rogue.key"))
    module.ok("AT+CIPSSLCCONF=2,0,0")
    reply = refused(module, peer.port)
    assert VERIFY_FAILED in reply
    assert peer.failure() is not None and peer.conns == []  # the handshake never completed
    # Without verification the same server is accepted.
    module.ok("AT+CIPSSLCCONF=0")
    assert start(module, peer.port) == CONNECT


def test_server_with_another_name_is_refused(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("named.pem"), pki.path("named.key"))  # service.example only
    module.ok("AT+CIPSSLCCONF=2,0,0")
    assert VERIFY_FAILED in refused(module, peer.port)  # 127.0.0.1 is not its name
    module.ok('AT+CIPSSLCSNI="other.example"')
    assert VERIFY_FAILED in refused(module, peer.port)
    assert peer.conns == []
    # The expected common name (AT+CIPSSLCCN) is what is checked ...
    module.ok('AT+CIPSSLCSNI=""')
    module.ok('AT+CIPSSLCCN="service.example"')
    assert start(module, peer.port) == CONNECT
    assert peer.names[-1] == "service.example"
    module.ok("AT+CIPCLOSE")
    # ... and one name goes out as SNI and is checked: two different ones cannot.
    module.ok('AT+CIPSSLCSNI="front.example"')
    assert module.error_code('AT+CIPSTART="SSL","127.0.0.1",%d' % peer.port) == codes.code(codes.EXEC_FAIL, 0xF000)
    module.ok('AT+CIPSSLCSNI="service.example"')
    assert start(module, peer.port) == CONNECT


def test_expired_certificate_is_refused(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("expired.pem"), pki.path("expired.key"))
    module.ok("AT+CIPSSLCCONF=2,0,0")
    assert VERIFY_FAILED in refused(module, peer.port)
    assert peer.conns == []


def test_mutual_tls(net, pki, peers):
    module, state = net
    # pki 1 as DER, its key in the key type's own PEM form; the CA file holds
    # two certificates, the right one second.
    install(state, {
        "client_cert.1": pki.der("client"),
        "client_key.1": pki.traditional_key("client"),
        "client_cert.2": pki.path("rogue_client.pem"),
        "client_key.2": pki.path("rogue_client.key"),
        "client_ca.0": pki.path("other_ca.pem").read_bytes() + pki.path("ca.pem").read_bytes(),
    })
    peer = peers(pki.path("server.pem"), pki.path("server.key"), client_ca=pki.path("ca.pem"))
    module.ok("AT+CIPSSLCCONF=2,1,0")  # verifies the server, sends no certificate
    reply = refused(module, peer.port)
    assert b"+ERRNO:0x" in reply
    module.ok("AT+CIPSSLCCONF=3,1,0")
    assert start(module, peer.port) == CONNECT
    conn = peer.conn()
    assert conn.sock.getpeercert()["subject"] == ((("commonName", "module-1"),),)
    assert send(module, "AT+CIPSEND=4", b"mtls").endswith(b"SEND OK\r\n")
    assert conn.wait_data(4) == b"mtls"
    module.ok("AT+CIPCLOSE")
    module.ok("AT+CIPSSLCCONF=1,2,0")  # a certificate the server does not trust
    refused(module, peer.port)
    assert len(peer.conns) == 1


def test_missing_or_bad_files_fail_cleanly(net, pki, peers):
    module, state = net
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    module.ok("AT+CIPSSLCCONF=2,0,9")  # no client_ca.9
    refused(module, peer.port)
    module.ok("AT+CIPSSLCCONF=1,9,0")  # no client_cert.9 / client_key.9
    refused(module, peer.port)
    install(state, {"client_cert.8": b"not a certificate", "client_key.8": pki.path("client.key"), "client_ca.8": b"\x30\x03junk"})
    module.ok("AT+CIPSSLCCONF=1,8,0")
    refused(module, peer.port)
    module.ok("AT+CIPSSLCCONF=2,0,8")
    refused(module, peer.port)
    assert peer.conns == []
    module.ok("AT+CIPSSLCCONF=0")
    assert start(module, peer.port) == CONNECT


def test_handshake_timeout_keeps_the_port_answering(net):
    module, _ = net
    silent = socket.socket()  # accepts and never answers a ClientHello
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        port = silent.getsockname()[1]
        began = time.monotonic()
        module.write(b'AT+CIPSTART="SSL","127.0.0.1",%d\r\n' % port)
        time.sleep(1)
        module.write(b"AT\r\n")  # the AT loop is not blocked meanwhile
        assert module.read_until(b"busy p...\r\n", 5).endswith(b"\r\nbusy p...\r\n")
        reply = module.read_until(re.compile(rb"\r\n(OK|ERROR)\r\n"), 20)
        assert reply.endswith(b"\r\nERROR\r\n")
        assert b"+ERRNO:0x%x\r\n" % errno.ETIMEDOUT in reply
        assert 9 < time.monotonic() - began < 15  # 10 s, as ESP-AT
        assert module.ok("AT+CIPSTATE?") == b"\r\nOK\r\n"
    finally:
        silent.close()


def test_multiple_connections_each_with_its_configuration(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    trusted = peers(pki.path("server.pem"), pki.path("server.key"))
    rogue = peers(pki.path("rogue.pem"), pki.path("rogue.key"))
    module.ok("AT+CIPMUX=1")
    module.ok("AT+CIPSSLCCONF=1,2,0,0")  # link 1 verifies, link 3 does not
    module.ok('AT+CIPSSLCSNI=3,"three.example"')
    assert start(module, rogue.port, 1).endswith(b"\r\nERROR\r\n")
    assert start(module, rogue.port, 3) == b"3,CONNECT\r\n\r\nOK\r\n"
    assert rogue.names[-1] == "three.example"
    assert start(module, trusted.port, 1) == b"1,CONNECT\r\n\r\nOK\r\n"
    assert send(module, "AT+CIPSEND=1,3", b"one").endswith(b"SEND OK\r\n")
    assert send(module, "AT+CIPSEND=3,5", b"three").endswith(b"SEND OK\r\n")
    assert trusted.conn().wait_data(3) == b"one"
    assert rogue.conn().wait_data(5) == b"three"
    rogue.conn().send(b"to3")
    assert module.read_until(b"to3", 5) == b"\r\n+IPD,3,3:to3"
    trusted.conn().send(b"to1")
    assert module.read_until(b"to1", 5) == b"\r\n+IPD,1,3:to1"
    # Two TLS links at once (mbedTLS's buffers): a third is refused, TCP is not.
    assert start(module, trusted.port, 0).endswith(b"\r\nERROR\r\n")
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(1)
    try:
        assert module.at('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % plain.getsockname()[1]) == b"0,CONNECT\r\n\r\nOK\r\n"
        # The listener stays until the links are closed: closing it resets
        # link 0, whose CLOSED could then come on its own, after the OK.
        reply = module.ok("AT+CIPCLOSE=5")
    finally:
        plain.close()
    assert sorted(re.findall(rb"(\d),CLOSED", reply)) == [b"0", b"1", b"3"]
    assert start(module, trusted.port, 4) == b"4,CONNECT\r\n\r\nOK\r\n"  # room again


def test_passive_receive_and_cipsendl_on_an_ssl_link(net, pki, peers):
    module, _ = net
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    module.ok("AT+CIPRECVMODE=1")
    assert start(module, peer.port) == CONNECT
    conn = peer.conn()
    body = bytes(range(251)) * 200  # 50200 bytes: TLS records of 16 KB, a 5840-byte buffer
    threading.Thread(target=conn.send, args=(body,), daemon=True).start()
    got = b""
    while len(got) < len(body):
        module.read_until(re.compile(rb"\+IPD,\d+\r\n"), 10)
        reply = module.at("AT+CIPRECVDATA=4000")
        m = re.match(rb"\+CIPRECVDATA:(\d+),", reply)
        n = int(m.group(1))
        got += reply[m.end() : m.end() + n]
        assert reply[m.end() + n :] == b"\r\nOK\r\n"
    assert got == body
    data = random.Random(3).randbytes(20000)
    assert send(module, "AT+CIPSENDL=20000", data).endswith(b"SEND OK\r\n")
    assert conn.wait_data(20000) == data


def test_passthrough_1mb_each_way(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    module.ok(FLOW)
    module.ok("AT+SYSMSG=1")
    module.ok("AT+CIPMODE=1")
    module.ok("AT+CIPSSLCCONF=2,0,0")
    assert start(module, peer.port) == CONNECT
    conn = peer.conn()
    module.write(b"AT+CIPSEND\r\n")
    assert module.read_until(b">") == b"\r\nOK\r\n\r\n>"
    size = 1 << 20
    up = random.Random(1).randbytes(size)
    down = random.Random(2).randbytes(size)
    writer = write_async(module, up)
    sender = threading.Thread(target=conn.send, args=(down,), daemon=True)
    sender.start()
    assert read_raw(module, size, timeout=120) == hashlib.sha256(down).hexdigest()
    assert hashlib.sha256(conn.wait_data(size, 120)).hexdigest() == hashlib.sha256(up).hexdigest()
    writer.join(10)
    sender.join(10)
    time.sleep(0.1)
    module.write(b"+++")
    assert module.read_until(b"+QUITT\r\n", 3) == b"\r\n+QUITT\r\n"
    time.sleep(1)
    assert len(conn.data) == size  # nothing more came
    module.ok("AT+CIPMODE=0")
    conn.send(b"framed")
    assert module.read_until(b"framed", 5) == b"\r\n+IPD,6:framed"
    module.ok("AT+CIPCLOSE")


def test_passthrough_dials_a_lost_ssl_link_again_over_tls(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    module.ok("AT+CIPMODE=1")
    module.ok("AT+CIPSSLCCONF=2,0,0")
    module.ok('AT+CIPSSLCCN="localhost"')
    assert start(module, peer.port) == CONNECT
    module.write(b"AT+CIPSEND\r\n")
    module.read_until(b">")
    module.write(b"first")
    assert peer.conn(0).wait_data(5) == b"first"
    peer.conn(0).close()  # the server drops the link: dialled again, with TLS
    second = peer.conn(1)
    assert peer.names[-1] == "localhost"  # the same configuration, name and check
    time.sleep(0.2)
    module.write(b"second")
    assert second.wait_data(6) == b"second"
    second.send(b"back")
    assert module.read_exactly(4) == b"back"
    assert peer.failures == []  # never a byte in the clear
    time.sleep(0.1)
    module.write(b"+++")
    time.sleep(1.1)
    module.ok("AT+CIPMODE=0")
    module.ok("AT+CIPCLOSE")


def test_savetranslink_ssl_at_boot(net, pki, peers):
    module, state = net
    install(state, ca_files(pki))
    peer = peers(pki.path("server.pem"), pki.path("server.key"))
    module.ok("AT+CWAUTOCONN=1")
    module.ok("AT+CIPSSLCCONF=2,0,0")  # saved (AT+SYSSTORE=1): used at boot
    module.ok('AT+SAVETRANSLINK=1,"127.0.0.1",%d,"SSL",10' % peer.port)
    radio.restart(module, quiet=False)  # the UART is data from now on
    conn = peer.conn(timeout=20)
    assert peer.names == ["127.0.0.1"]  # verified against its address
    conn.send(b"hello host")
    assert module.read_until(b"hello host", 10).endswith(b"hello host")
    module.write(b"hello peer")
    assert conn.wait_data(10) == b"hello peer"
    time.sleep(0.1)
    module.write(b"+++")
    time.sleep(1.1)
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SAVETRANSLINK=0")


def test_savetranslink_ssl_server_at_boot(net, pki):
    module, state = net
    install(state, server_files(pki))
    ip = radio.station_ip(module)
    module.ok("AT+CWAUTOCONN=1")
    module.ok('AT+SAVETRANSLINK=3,8447,"SSL",0')
    radio.restart(module, quiet=False)  # the UART is data from now on
    client = connect_when_listening(lambda: tls_client(8447, ca=pki.path("ec_ca.pem"), host=ip, timeout=5))
    client.sendall(b"hello host")
    assert module.read_until(b"hello host", 10).endswith(b"hello host")
    module.write(b"hello client")
    assert recv_exactly(client, 12) == b"hello client"
    time.sleep(0.1)
    module.write(b"+++")
    time.sleep(1.1)
    module.ok("ATE0")
    module.buffer = b""
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8447,"SSL",0,0\r\n\r\nOK\r\n'
    client.close()
    module.ok("AT+SAVETRANSLINK=0")


def test_psk_against_openssl_s_server(net):
    module, _ = net
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-nocert", "-psk", "1a2b3c4d5e",
         "-psk_identity", "device7", "-tls1_2", "-cipher", "PSK", "-quiet"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)):
            assert time.monotonic() < deadline, "s_server did not start"
            time.sleep(0.1)
        module.ok('AT+CIPSSLCPSKHEX="1a2b3c4d5f","device7"')  # a wrong key
        assert start(module, port).endswith(b"\r\nERROR\r\n")
        module.ok('AT+CIPSSLCPSKHEX="1a2b3c4d5e","device7"')
        assert start(module, port) == CONNECT
        assert send(module, "AT+CIPSEND=6", b"psk!\r\n").endswith(b"SEND OK\r\n")
        assert read_line(server.stdout, 5) == b"psk!\r\n"  # s_server prints what it reads
        server.stdin.write(b"back\n")
        server.stdin.flush()
        assert module.read_until(b"back\n", 5) == b"\r\n+IPD,5:back\n"
    finally:
        server.kill()
        server.wait()


# -- the SSL server ------------------------------------------------------------------------


def test_ssl_server_with_a_python_client(net, pki):
    module, state = net
    install(state, server_files(pki))
    ip = radio.station_ip(module)
    module.ok("AT+CIPMUX=1")
    module.ok('AT+CIPSERVER=1,8443,"SSL",0')
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8443,"SSL",0,0\r\n\r\nOK\r\n'
    client = tls_client(8443, ca=pki.path("ec_ca.pem"), host=ip)
    assert module.read_until(b"0,CONNECT\r\n", 5) == b"0,CONNECT\r\n"
    client.sendall(b"over tls")
    assert module.read_until(b"over tls", 5) == b"\r\n+IPD,0,8:over tls"
    assert send(module, "AT+CIPSEND=0,5", b"reply").endswith(b"SEND OK\r\n")
    assert client.recv(10) == b"reply"
    assert b'+CIPSTATE:0,"SSL","%s",' % client.getsockname()[0].encode() in module.ok("AT+CIPSTATE?")
    # A client that is not TLS at all: never announced, closed after the timeout or at once.
    raw = socket.create_connection((ip, 8443), timeout=5)
    raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        raw.recv(100)  # an alert, or the end
    except OSError:
        pass
    raw.close()
    client.close()
    assert module.read_until(b"0,CLOSED\r\n", 5) == b"0,CLOSED\r\n"
    assert b"CONNECT" not in module.read_for(0.5)
    assert module.ok("AT+CIPSERVER=0,1").endswith(b"\r\nOK\r\n")


def test_ssl_server_checks_client_certificates(net, pki):
    module, state = net
    install(state, {
        "server_cert": pki.path("server.pem"),
        "server_key": pki.path("server.key"),
        "server_ca": pki.path("ca.pem"),
    })
    ip = radio.station_ip(module)
    module.ok("AT+CIPMUX=1")
    module.ok('AT+CIPSERVER=1,8444,"SSL",1')
    assert module.ok("AT+CIPSERVER?") == b'+CIPSERVER:1,8444,"SSL",1,0\r\n\r\nOK\r\n'
    with pytest.raises(OSError):  # no certificate
        tls_client(8444, ca=pki.path("ca.pem"), host=ip).recv(10)
    with pytest.raises(OSError):  # a certificate of another CA
        tls_client(8444, ca=pki.path("ca.pem"), cert=pki.path("rogue_client.pem"), key=pki.path("rogue_client.key"), host=ip).recv(10)
    assert b"CONNECT" not in module.read_for(0.5)
    client = tls_client(8444, ca=pki.path("ca.pem"), cert=pki.path("client.pem"), key=pki.path("client.key"), host=ip)
    assert module.read_until(b"0,CONNECT\r\n", 5) == b"0,CONNECT\r\n"
    client.sendall(b"mutual")
    assert module.read_until(b"mutual", 5) == b"\r\n+IPD,0,6:mutual"
    client.close()
    assert module.read_until(b"0,CLOSED\r\n", 5)


def test_ssl_server_without_its_certificate(net, pki):
    module, _ = net
    ip = radio.station_ip(module)
    module.ok("AT+CIPMUX=1")
    module.ok('AT+CIPSERVER=1,8445,"SSL"')  # no server_cert on the module
    with pytest.raises(OSError):
        tls_client(8445, host=ip).recv(10)
    assert b"CONNECT" not in module.read_for(0.5)
    assert module.error_code('AT+CIPSERVER=1,8446,"TLS"') == codes.invalid(2)


# -- tools.certs ------------------------------------------------------------------------------


def test_tools_certs_installs_onto_a_virtual_module(net, pki, peers, capsys):
    module, state = net
    peer = peers(pki.path("server.pem"), pki.path("server.key"), client_ca=pki.path("ca.pem"))
    code = certs_tool.main([
        "--state", str(state), "--pki", "2", "--ca", "3",
        "--client-cert", str(pki.path("client.pem")), "--client-key", str(pki.path("client.key")),
        "--client-ca", str(pki.path("ca.pem")), "--der",
        "--server-cert", str(pki.path("ec_server.pem")), "--server-key", str(pki.path("ec_server.key")),
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert "client_cert.2:" in out and "client_ca.3:" in out and "server_key:" in out
    assert (state / "fs" / "client_cert.2").read_bytes() == pki.der("client").read_bytes()
    module.ok("AT+CIPSSLCCONF=3,2,3")
    assert start(module, peer.port) == CONNECT  # read at once, no restart
    module.ok("AT+CIPCLOSE")
    # The module sees them as AT+FS files.
    listing = module.ok("AT+FS=0,4,\".\"")
    for name in (b"client_cert.2", b"client_key.2", b"client_ca.3", b"server_cert", b"server_key"):
        assert b"+FS:" + name + b"\r\n" in listing
    assert certs_tool.main(["--state", str(state), "--list"]) == 0
    assert "client_key.2\n" in capsys.readouterr().out
    assert certs_tool.main(["--state", str(state), "--remove", "client_key.2"]) == 0
    assert not (state / "fs" / "client_key.2").exists()
    refused(module, peer.port)
    # What the firmware could not load is refused before anything is written.
    bad = state.parent / "bad.pem"
    bad.write_text("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")
    assert certs_tool.main(["--state", str(state), "--client-key", str(bad)]) == 2
    assert certs_tool.main(["--state", str(state), "--client-cert", str(pki.path("client.key"))]) == 2
    assert "no certificate" in capsys.readouterr().err
    assert not (state / "fs" / "client_key.0").exists()


def test_tools_certs_installs_onto_a_board_through_its_repl(tmp_path, pki):
    """--port: through mpremote's raw REPL, onto the unix port playing the
    chip (host_tests/test_deploy.py), into a folder of its filesystem."""
    from host_tests.test_deploy import VirtualChip

    chip = VirtualChip(tmp_path).boot()
    try:
        code = certs_tool.main([
            "--port", chip.device, "--root", "at_fs",
            "--server-cert", str(pki.path("server.pem")), "--server-key", str(pki.path("server.key")),
            "--ca", "1", "--client-ca", str(pki.path("ca.pem")), "--der",
        ])
        assert code == 0
        folder = chip.root / "at_fs"
        assert (folder / "server_cert").read_bytes() == pki.der("server").read_bytes()
        assert (folder / "server_key").read_bytes().startswith(b"\x30")
        assert (folder / "client_ca.1").read_bytes() == pki.der("ca").read_bytes()
        assert certs_tool.main(["--port", chip.device, "--root", "at_fs", "--remove", "server_key", "--list"]) == 0
        assert not (folder / "server_key").exists()
    finally:
        chip.power_off()
        chip.log.close()
