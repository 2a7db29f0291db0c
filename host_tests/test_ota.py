"""Firmware updates over the network: AT+CIUPDATE and AT+USEROTA
(esp_at_commands_set.md 4.17; esp-at-modern.md §1(a), §1(b) "User", §2.3,
§2.5, §3.2, §4 "OTA timeout 3 min"; ESP-AT's at_ota_cmd.c and
at_user_cmd.c for the bytes), with AT+SYSROLLBACK to check and undo them.
Images in the real ESP32 format (tools/esp_image.py) are served by real
HTTP and HTTPS servers (Python's http.server in threads, ssl with
certificates `openssl` makes) on the world's update server,
boards/unix/world.json "ota_server": 127.0.0.80, HTTP on 8080 and HTTPS on
8443, the image of a version at /<name>/<version>.bin and the newest
version's name at /<name>/latest."""

import http.server
import os
import re
import ssl
import threading
import time

import pytest

from host_tests import codes, radio
from host_tests.certs import Pki, install
from host_tests.peers import dns_server, loopback  # noqa: F401
from tools import esp_image, simflash
from tools import world as world_tool

SERVER = world_tool.load(world_tool.DEFAULT)["ota_server"]
HOST = loopback(SERVER["host"])
HTTP_PORT = SERVER["port"]
HTTPS_PORT = SERVER["ssl_port"]
TABLE = simflash.partitions()
OTA_0, SLOT_SIZE = TABLE["ota_0"]
OTA_1 = TABLE["ota_1"][0]
FACTORY = simflash.bin_version()
PROJECT = simflash.PROJECT
PROMPT = b"\r\nOK\r\n\r\n>"
FAILED = b"ERR CODE:0x%08x\r\n\r\nERROR\r\n" % codes.FAILED


# -- the update servers ---------------------------------------------------------------


class Route:
    """What the server answers for a path: status and body; length is the
    Content-Length sent (None: the body's, False: no header), cut the bytes
    of the body sent before the connection closes (after stall seconds),
    delay seconds of silence before the answer."""

    def __init__(self, body, status=200, length=None, cut=None, delay=0.0, stall=0.0):
        self.body = body
        self.status = status
        self.length = len(body) if length is None else length
        self.cut = cut
        self.delay = delay
        self.stall = stall


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        owner = self.server.owner
        owner.requests.append((self.requestline, self.headers.get("Host"), dict(self.headers)))
        route = owner.routes.get(self.path) or Route(b"<html>not here</html>\n", 404)
        time.sleep(route.delay)
        self.send_response(route.status)
        if route.length is not False:
            self.send_header("Content-Length", str(route.length))
        self.send_header("Connection", "close")
        self.end_headers()
        body = route.body if route.cut is None else route.body[: route.cut]
        try:
            self.wfile.write(body)
            self.wfile.flush()
            time.sleep(route.stall)
        except OSError:
            pass  # the module hung up: it had seen enough
        self.close_connection = True


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner, address, context):
        self.owner = owner
        self.context = context
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        if self.context is None:
            return super().finish_request(request, client_address)
        request.settimeout(15)
        try:
            secure = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.owner.failures.append(e)
            return
        try:
            self.RequestHandlerClass(secure, client_address, self)
        finally:
            secure.close()


class UpdateServer:
    """HTTP (or HTTPS, with a context) on the world's update server address."""

    def __init__(self, port, context=None):
        self.routes = {}
        self.requests = []
        self.failures = []
        deadline = time.monotonic() + 60
        while True:  # another run on this machine may hold it for a while
            try:
                self.httpd = _Server(self, (HOST, port), context)
                break
            except OSError:
                assert time.monotonic() < deadline, "%s:%d stays taken" % (HOST, port)
                time.sleep(0.2)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, path, body, **kwargs):
        self.routes[path] = Route(body, **kwargs)

    def paths(self):
        return [line.split()[1] for line, _, _ in self.requests]

    def reset(self):
        self.routes.clear()
        self.requests.clear()
        self.failures.clear()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    p = Pki(tmp_path_factory.mktemp("pki"))
    p.ca("ca")
    p.ca("other_ca")
    p.leaf("ota", "ca", "ota.test", sans=("DNS:ota.test", "IP:%s" % HOST))
    return p


@pytest.fixture(scope="module")
def servers(pki):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.path("ota.pem")), str(pki.path("ota.key")))
    plain, secure = UpdateServer(HTTP_PORT), UpdateServer(HTTPS_PORT, context)
    yield plain, secure
    plain.close()
    secure.close()


@pytest.fixture
def web(servers):
    """The HTTP server, its routes and request log fresh for the test."""
    for server in servers:
        server.reset()
    return servers[0]


@pytest.fixture
def tls_web(servers):
    for server in servers:
        server.reset()
    return servers[1]


# -- helpers -------------------------------------------------------------------------------


def image(version, size=150_000):
    return esp_image.build(version, PROJECT, os.urandom(size))


def rollback(running, running_version, other, other_version):
    """AT+SYSROLLBACK?'s answer."""
    return b'+SYSROLLBACK:0x%x,"%s",0x%x,"%s"\r\n\r\nOK\r\n' % (
        running, running_version.encode(), other, other_version.encode())


def slot(module, label, length):
    offset, _ = TABLE[label]
    with open(module.state / "flash.bin", "rb") as f:
        f.seek(offset)
        return f.read(length)


def rebooted(module):
    """After the module's restart: echo off, error codes on, and the
    station back on the AP it had joined (saved, auto-connect)."""
    module.wait_ready()
    module.read_until(b"WIFI GOT IP\r\n", 10)
    radio.make_quiet(module)


def userota(module, url, timeout=30):
    """AT+USEROTA with the URL after '>': everything after the prompt."""
    url = url.encode()
    module.write(b"AT+USEROTA=%d\r\n" % len(url))
    assert module.read_until(b">", 5) == PROMPT
    module.write(url)
    return module.read_until(re.compile(rb"\r\n(OK|ERROR)\r\n"), timeout)


def unchanged(module, other_version=""):
    """The module still runs the factory app from ota_0, booted from there."""
    assert module.ok("AT+SYSROLLBACK?") == rollback(OTA_0, FACTORY, OTA_1, other_version)
    assert (module.state / "otaboot").read_text() == "ota_0"


# -- forms and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CIUPDATE=?", codes.code(codes.WRONG_FORM)),
        ("AT+CIUPDATE=2", codes.invalid(0)),
        ("AT+CIUPDATE=-1", codes.invalid(0)),
        ('AT+CIUPDATE="0"', codes.type_mismatch(0)),
        ("AT+CIUPDATE=0,1", codes.type_mismatch(1)),
        ('AT+CIUPDATE=0,"v1",2', codes.type_mismatch(2)),
        ('AT+CIUPDATE=0,"v1","ota",2', codes.invalid(3)),
        ('AT+CIUPDATE=0,"v1","ota","1"', codes.type_mismatch(3)),
        ('AT+CIUPDATE=0,"v1","ota",0,1', codes.count(4, 5)),
        ('AT+CIUPDATE=0,"%s"' % ("v" * 65), codes.code(codes.PARA_LENGTH, 1)),
        ('AT+CIUPDATE=0,"v1","%s"' % ("o" * 65), codes.code(codes.PARA_LENGTH, 2)),
        ('AT+CIUPDATE=0,"v 1"', codes.invalid(1)),  # it goes into a request line
        ('AT+CIUPDATE=0,"v1","client_ca"', codes.FAILED),  # certificates are files here
        ("AT+USEROTA=?", codes.code(codes.WRONG_FORM)),
        ("AT+USEROTA?", codes.code(codes.WRONG_FORM)),
        ("AT+USEROTA", codes.code(codes.WRONG_FORM)),
        ("AT+USEROTA=0", codes.invalid(0)),
        ("AT+USEROTA=-5", codes.invalid(0)),
        ("AT+USEROTA=8193", codes.invalid(0)),
        ('AT+USEROTA="20"', codes.type_mismatch(0)),
        ("AT+USEROTA=20,1", codes.count(1, 2)),
    ],
)
def test_bad_input(quiet, command, error):
    assert quiet.error_code(command) == error
    assert quiet.ok("AT+CIUPDATE?") == b"+CIUPDATE:0\r\n\r\nOK\r\n"  # nothing started
    assert quiet.read_for(0.2) == b""


def test_query_is_idle_at_boot_and_listed(quiet):
    assert quiet.ok("AT+CIUPDATE?") == b"+CIUPDATE:0\r\n\r\nOK\r\n"
    listed = quiet.ok("AT+CMD?")
    assert re.search(rb'\+CMD:\d+,"AT\+CIUPDATE",0,1,1,1\r\n', listed)
    assert re.search(rb'\+CMD:\d+,"AT\+USEROTA",0,0,1,0\r\n', listed)


def test_userota_url_of_the_longest_length_is_taken_then_refused(quiet):
    """8192 bytes: ESP-AT's limit; the URL is not one (no scheme)."""
    url = "x" * 8192
    reply = userota(quiet, url)
    assert reply == b"\r\nRecv 8192 bytes\r\n" + FAILED
    unchanged(quiet)


@pytest.mark.parametrize("url", ["ftp://127.0.0.80/ota.bin", "http://", "http://127.0.0.80:99999/x",
                                 "http://127.0.0.80:port/x", "http://user@127.0.0.80/x", "http://127.0.0.80/a b"])
def test_userota_refuses_what_is_not_an_http_url(quiet, url):
    assert userota(quiet, url) == b"\r\nRecv %d bytes\r\n" % len(url) + FAILED


def test_userota_extra_bytes_after_the_url_are_one_busy(online, web):
    """As AT+CIPSEND: Recv <n> bytes, then busy p... for what came after."""
    web.serve("/x.bin", b"nope", status=404)
    url = b"http://127.0.0.80:8080/x.bin"
    online.write(b"AT+USEROTA=%d\r\n" % len(url))
    assert online.read_until(b">", 5) == PROMPT
    online.write(url + b"AT\r\n")
    reply = online.read_until(b"\r\nERROR\r\n", 10)
    assert reply.startswith(b"\r\nRecv %d bytes\r\n" % len(url))
    assert reply.count(b"busy p...") == 1
    assert online.ok("AT") == b"\r\nOK\r\n"


# -- updates that succeed ---------------------------------------------------------------


def test_http_update_of_the_newest_version_restarts_into_it_and_rolls_back(online, web):
    new = image("9.1.0")
    web.serve("/ota/latest", b"9.1.0\n")
    web.serve("/ota/9.1.0.bin", new)
    online.write(b"AT+CIUPDATE\r\n")
    reply = online.read_until(b"\r\nOK\r\n", 30)
    assert reply == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    assert web.requests[0][0] == "GET /ota/latest HTTP/1.1"
    assert web.requests[1][0] == "GET /ota/9.1.0.bin HTTP/1.1"
    assert web.requests[1][1] == "%s:%d" % (HOST, HTTP_PORT)
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.1.0", OTA_0, FACTORY)
    assert slot(online, "ota_1", len(new)) == new
    assert (online.state / "otaboot").read_text() == "ota_1"
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:0\r\n\r\nOK\r\n"  # a new boot
    # Back to the factory app with AT+SYSROLLBACK.
    online.write(b"AT+SYSROLLBACK\r\n")
    assert online.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_0, FACTORY, OTA_1, "9.1.0")


def test_update_of_a_given_version_reports_found_and_done(online, web):
    """ESP-AT asks for the newest version (states 2 and 3) only without one."""
    web.serve("/ota/9.2.0.bin", image("9.2.0"))
    online.write(b'AT+CIUPDATE=0,"9.2.0","ota",0\r\n')
    assert online.read_until(b"\r\nOK\r\n", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    assert web.paths() == ["/ota/9.2.0.bin"]
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.2.0", OTA_0, FACTORY)


def test_an_image_that_fills_most_of_the_slot_streams_through(online, web):
    """1.4 MB, several times the heap: it goes to flash a block at a time."""
    new = image("9.2.1", 1_400_000)
    assert len(new) > 1_400_000 and len(new) <= SLOT_SIZE
    web.serve("/ota/9.2.1.bin", new)
    online.write(b'AT+CIUPDATE=0,"9.2.1"\r\n')
    assert online.read_until(b"\r\nOK\r\n", 120) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    rebooted(online)
    assert slot(online, "ota_1", len(new)) == new
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.2.1", OTA_0, FACTORY)


def test_the_port_is_busy_during_a_blocking_update(online, web):
    web.serve("/ota/9.2.2.bin", image("9.2.2"), delay=1.0)
    online.write(b'AT+CIUPDATE=0,"9.2.2"\r\n')
    assert online.read_until(b"+CIPUPDATE:1\r\n", 5) == b"+CIPUPDATE:1\r\n"
    online.write(b"AT\r\n")
    assert online.read_until(b"\r\nbusy p...\r\n", 5).endswith(b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n")
    assert online.read_until(b"\r\nOK\r\n", 30) == b"+CIPUPDATE:4\r\n\r\nOK\r\n"
    rebooted(online)


def test_https_update_without_a_ca_file_is_not_verified(online, tls_web):
    tls_web.serve("/ota/latest", b"9.3.0")
    tls_web.serve("/ota/9.3.0.bin", image("9.3.0"))
    online.write(b"AT+CIUPDATE=1\r\n")
    reply = online.read_until(b"\r\nOK\r\n", 30)
    assert reply == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    assert tls_web.paths() == ["/ota/latest", "/ota/9.3.0.bin"]
    assert tls_web.requests[1][1] == "%s:%d" % (HOST, HTTPS_PORT)
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.3.0", OTA_0, FACTORY)


def test_https_update_verified_against_the_ca_file(online, tls_web, pki):
    install(online.state, {"client_ca.0": pki.path("ca.pem")})
    tls_web.serve("/ota/9.3.1.bin", image("9.3.1"))
    online.write(b'AT+CIUPDATE=1,"9.3.1"\r\n')
    assert online.read_until(b"\r\nOK\r\n", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.3.1", OTA_0, FACTORY)


def test_https_server_that_the_ca_file_does_not_vouch_for_is_refused(online, tls_web, pki):
    install(online.state, {"client_ca.0": pki.path("other_ca.pem")})
    tls_web.serve("/ota/9.3.2.bin", image("9.3.2"))
    reply = online.at('AT+CIUPDATE=1,"9.3.2"', 30)
    assert reply == b"+CIPUPDATE:1\r\n" + FAILED
    assert tls_web.paths() == []  # nothing was asked of it
    assert online.read_for(1.0) == b""
    unchanged(online)


def test_userota_over_http(online, web):
    web.serve("/builds/at-9.4.0.bin", image("9.4.0"))
    url = "http://%s:%d/builds/at-9.4.0.bin" % (HOST, HTTP_PORT)
    assert userota(online, url) == b"\r\nRecv %d bytes\r\n\r\nOK\r\n" % len(url)
    assert web.paths() == ["/builds/at-9.4.0.bin"]
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.4.0", OTA_0, FACTORY)
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:0\r\n\r\nOK\r\n"


def test_userota_over_https_by_name_verified(online, tls_web, dns_server, pki):  # noqa: F811
    """The name goes through the module's DNS client to dnsmasq; the server's
    certificate must carry it (client_ca.0 installed)."""
    dns_server.set("ota.test", HOST)
    try:
        install(online.state, {"client_ca.0": pki.path("ca.pem")})
        station = radio.station_ip(online)
        tls_web.serve("/fw/9.4.1.bin", image("9.4.1"))
        url = "https://ota.test:%d/fw/9.4.1.bin" % HTTPS_PORT
        assert userota(online, url) == b"\r\nRecv %d bytes\r\n\r\nOK\r\n" % len(url)
        assert tls_web.requests[0][1] == "ota.test:%d" % HTTPS_PORT
        assert ("ota.test", station) in dns_server.queries()
        rebooted(online)
        assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.4.1", OTA_0, FACTORY)
    finally:
        dns_server.set("ota.test")


def test_userota_unknown_name_fails(online, dns_server):  # noqa: F811
    url = "http://nowhere.test:%d/x.bin" % HTTP_PORT
    assert userota(online, url) == b"\r\nRecv %d bytes\r\n" % len(url) + FAILED
    unchanged(online)


def test_ciupdate_by_host_name_from_the_world(tmp_path, web, dns_server):  # noqa: F811
    """The update server of a world file given by name, resolved by dnsmasq."""
    world = radio.make_world(tmp_path / "world.json")
    radio.edit_world(world, lambda w: w["ota_server"].update(host="updates.test"))
    dns_server.set("updates.test", HOST)
    module = radio.start(tmp_path / "m", world=world)
    try:
        radio.join(module, "OpenNet")
        web.serve("/ota/9.5.0.bin", image("9.5.0"))
        module.write(b'AT+CIUPDATE=0,"9.5.0"\r\n')
        assert module.read_until(b"\r\nOK\r\n", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
        assert web.requests[0][1] == "updates.test:%d" % HTTP_PORT
        rebooted(module)
        assert module.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.5.0", OTA_0, FACTORY)
    finally:
        module.stop()
        dns_server.set("updates.test")


# -- non-blocking ----------------------------------------------------------------------------


def test_nonblocking_update_answers_ok_first_and_does_not_restart(online, web):
    web.serve("/ota/latest", b"9.6.0")
    web.serve("/ota/9.6.0.bin", image("9.6.0", 400_000), delay=0.5)
    assert online.at("AT+CIUPDATE=0,,,1") == b"\r\nOK\r\n"
    assert online.read_until(b"+CIPUPDATE:3\r\n", 10) == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n"
    # The port takes commands meanwhile; another update is refused.
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:3\r\n\r\nOK\r\n"
    assert online.error_code('AT+CIUPDATE=0,"9.6.0"') == codes.FAILED
    assert online.error_code("AT+USEROTA=10") == codes.FAILED
    assert online.at("AT") == b"\r\nOK\r\n"
    assert online.read_until(b"+CIPUPDATE:4\r\n", 30).endswith(b"+CIPUPDATE:4\r\n")
    assert online.read_for(1.0) == b""  # no restart: the host decides
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:4\r\n\r\nOK\r\n"
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_0, FACTORY, OTA_1, "9.6.0")
    assert (online.state / "otaboot").read_text() == "ota_1"
    online.write(b"AT+RST\r\n")
    online.read_until(b"\r\nOK\r\n")
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.6.0", OTA_0, FACTORY)


def test_nonblocking_failure_is_reported_with_minus_one(online, web):
    web.serve("/ota/latest", b"9.7.0")
    assert online.at("AT+CIUPDATE=0,,,1") == b"\r\nOK\r\n"
    reply = online.read_until(b"+CIPUPDATE:-1\r\n", 10)
    assert reply == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n+CIPUPDATE:3\r\n+CIPUPDATE:-1\r\n"  # no image: 404
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:-1\r\n\r\nOK\r\n"
    unchanged(online)
    # Another update may start now.
    web.serve("/ota/9.7.0.bin", image("9.7.0"))
    assert online.at('AT+CIUPDATE=0,"9.7.0",,1') == b"\r\nOK\r\n"
    assert online.read_until(b"+CIPUPDATE:4\r\n", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n"
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_0, FACTORY, OTA_1, "9.7.0")


# -- updates that fail -----------------------------------------------------------------------


def _corrupt(where):
    new = bytearray(image("9.8.0"))
    at = {
        "payload": 24 + 8 + 256 + 1000,  # checksum and SHA-256 both wrong
        "checksum": len(new) - 33,
        "sha256": len(new) - 1,
    }[where]
    new[at] ^= 0x20
    return bytes(new)


@pytest.mark.parametrize("where", ["payload", "checksum", "sha256"])
def test_a_corrupted_image_is_rejected_and_the_running_firmware_stays(online, web, where):
    web.serve("/ota/9.8.0.bin", _corrupt(where))
    assert online.at('AT+CIUPDATE=0,"9.8.0"', 30) == b"+CIPUPDATE:1\r\n" + FAILED
    assert web.paths() == ["/ota/9.8.0.bin"]  # it was all downloaded
    assert online.read_for(1.0) == b""  # no restart
    assert online.ok("AT+CIUPDATE?") == b"+CIUPDATE:-1\r\n\r\nOK\r\n"
    unchanged(online)  # and the slot holds no half image
    assert slot(online, "ota_1", 4096) == b"\xff" * 4096
    assert online.error_code("AT+SYSROLLBACK") == codes.FAILED


@pytest.fixture
def seeded(online):
    """The online module with an older image in ota_1 (the rollback slot)."""
    online.stop()
    simflash.write_partition(online.state, "ota_1", image("1.0.0-old", 20_000))
    online.buffer = b""
    online.start(wait_ready=False)
    rebooted(online)
    unchanged(online, "1.0.0-old")
    return online


@pytest.mark.parametrize(
    "route, expected",
    [
        (None, FAILED),  # 404: nothing there
        (Route(b"<html>error</html>", status=500), FAILED),
        (Route(b"\xe9" + bytes(100), length=False), FAILED),  # no Content-Length
        (Route(image("9.9.0"), length=SLOT_SIZE + 4096), FAILED),  # bigger than the slot
        (Route(b"<!DOCTYPE html><html>" + bytes(5000)), FAILED),  # not an app image
        (Route(b""), FAILED),  # empty
    ],
    ids=["404", "500", "no-length", "too-big", "not-an-image", "empty"],
)
def test_refused_before_anything_is_written(seeded, web, route, expected):
    """The rollback slot keeps its old image: nothing was written."""
    if route is not None:
        web.routes["/ota/9.9.0.bin"] = route
    assert seeded.at('AT+CIUPDATE=0,"9.9.0"', 30) == b"+CIPUPDATE:1\r\n" + expected
    assert seeded.read_for(0.5) == b""
    unchanged(seeded, "1.0.0-old")
    assert seeded.ok("AT+CIUPDATE?") == b"+CIUPDATE:-1\r\n\r\nOK\r\n"


def test_a_truncated_body_fails(online, web):
    new = image("9.9.1", 100_000)
    web.serve("/ota/9.9.1.bin", new, cut=len(new) // 2)  # then the server closes
    assert online.at('AT+CIUPDATE=0,"9.9.1"', 30) == b"+CIPUPDATE:1\r\n" + FAILED
    assert online.read_for(0.5) == b""
    unchanged(online)
    assert slot(online, "ota_1", 4096) == b"\xff" * 4096


def test_a_reset_mid_download_leaves_no_image_in_the_slot(online, web):
    """The image magic is written last: a download cut short by a restart
    leaves a slot that holds no app (AT+SYSROLLBACK? shows no version)."""
    new = image("9.9.3", 300_000)
    web.serve("/ota/9.9.3.bin", new, cut=200_000, stall=5.0)
    assert online.at('AT+CIUPDATE=0,"9.9.3",,1') == b"\r\nOK\r\n"
    assert online.read_until(b"+CIPUPDATE:1\r\n", 10) == b"+CIPUPDATE:1\r\n"
    deadline = time.monotonic() + 10
    while slot(online, "ota_1", 8192)[4096:] != new[4096:8192]:  # block 1 is written
        assert time.monotonic() < deadline, "the download does not start"
        time.sleep(0.05)
    first = slot(online, "ota_1", 4096)
    assert first[0] == 0xFF and first[1:] == new[1:4096]
    online.write(b"AT+RST\r\n")
    online.read_until(b"\r\nOK\r\n")
    rebooted(online)
    unchanged(online)
    assert online.error_code("AT+SYSROLLBACK") == codes.FAILED


def test_the_newest_version_unknown_fails_after_connecting(online, web):
    assert online.at("AT+CIUPDATE", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n" + FAILED
    assert web.paths() == ["/ota/latest"]
    web.serve("/ota/latest", b"not a version\n")
    assert online.at("AT+CIUPDATE", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:2\r\n" + FAILED
    unchanged(online)


def test_userota_to_a_port_where_nothing_listens(online):
    url = "http://%s:%d/ota.bin" % (HOST, HTTP_PORT + 1)
    assert userota(online, url) == b"\r\nRecv %d bytes\r\n" % len(url) + FAILED
    unchanged(online)


def test_ciupdate_where_nothing_listens(tmp_path):
    world = radio.make_world(tmp_path / "world.json")
    radio.edit_world(world, lambda w: w["ota_server"].update(port=HTTP_PORT + 1))
    module = radio.start(tmp_path / "m", world=world)
    try:
        radio.join(module, "OpenNet")
        assert module.at('AT+CIUPDATE=0,"1.0"', 30) == b"+CIPUPDATE:1\r\n" + FAILED
        assert module.ok("AT+CIUPDATE?") == b"+CIUPDATE:-1\r\n\r\nOK\r\n"
        unchanged(module)
    finally:
        module.stop()


def test_without_a_network_it_fails(m):
    """The station has not joined: no route to the server."""
    assert m.at('AT+CIUPDATE=0,"1.0"', 30) == b"+CIPUPDATE:1\r\n" + FAILED
    unchanged(m)


def test_a_server_that_stops_mid_body_then_the_port_answers_again(online, web):
    """A reset connection mid-body is a failure like a short one."""
    new = image("9.9.2", 300_000)
    web.serve("/ota/9.9.2.bin", new, cut=200_000)
    assert online.at('AT+CIUPDATE=0,"9.9.2"', 30) == b"+CIPUPDATE:1\r\n" + FAILED
    assert online.ok("AT") == b"\r\nOK\r\n"
    # and a good one after it goes through
    web.serve("/ota/9.9.2.bin", new)
    online.write(b'AT+CIUPDATE=0,"9.9.2"\r\n')
    assert online.read_until(b"\r\nOK\r\n", 30) == b"+CIPUPDATE:1\r\n+CIPUPDATE:4\r\n\r\nOK\r\n"
    rebooted(online)
    assert online.ok("AT+SYSROLLBACK?") == rollback(OTA_1, "9.9.2", OTA_0, FACTORY)

