"""An existing AT host library, unmodified, against the virtual module:
Adafruit's adafruit_espatcontrol (CircuitPython), run on CPython with a
small shim for the two CircuitPython modules it imports (busio.UART on
pyserial, digitalio for its optional pins). It joins the default world's
APs, resolves a name through the world's DNS server, fetches a page from a
local HTTP server and exchanges UDP datagrams (the library works in single
connection mode and active receive only)."""

import http.server
import sys
import threading
import types

import pytest
import serial

from host_tests import radio
from host_tests.netpeers import UdpPeer
from host_tests.peers import dns_server  # noqa: F401

PAGE = b"<html><body>" + b"virtual module " * 200 + b"</body></html>"


class _Uart:
    """busio.UART as the library uses it, on pyserial."""

    def __init__(self, device):
        self._serial = serial.Serial(device, 115200, timeout=0)

    @property
    def baudrate(self):
        return self._serial.baudrate

    @baudrate.setter
    def baudrate(self, value):
        self._serial.baudrate = value

    @property
    def in_waiting(self):
        return self._serial.in_waiting

    def read(self, n=1):
        return self._serial.read(n) or None

    def write(self, data):
        return self._serial.write(data)

    def reset_input_buffer(self):
        self._serial.reset_input_buffer()

    def close(self):
        self._serial.close()


@pytest.fixture
def espat(monkeypatch):
    """The library's module, imported with the shim in place."""
    digitalio = types.ModuleType("digitalio")
    digitalio.DigitalInOut = object
    digitalio.Direction = types.SimpleNamespace(INPUT=0, OUTPUT=1)
    busio = types.ModuleType("busio")
    busio.UART = _Uart
    monkeypatch.setitem(sys.modules, "digitalio", digitalio)
    monkeypatch.setitem(sys.modules, "busio", busio)
    monkeypatch.delitem(sys.modules, "adafruit_espatcontrol.adafruit_espatcontrol", raising=False)
    from adafruit_espatcontrol import adafruit_espatcontrol

    return adafruit_espatcontrol


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(PAGE)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAGE)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def esp(tmp_path, espat):
    module = radio.start(tmp_path / "m", quiet=False)
    uart = _Uart(module.device)
    esp = espat.ESP_ATcontrol(uart, 115200)
    esp.begin()
    yield esp
    uart.close()
    module.stop()


def _fetch(esp, host, port, path):
    assert esp.socket_connect("TCP", host, port)
    request = b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path.encode(), host.encode())
    assert esp.socket_send(request)
    response = b""
    while b"</html>" not in response:
        chunk = esp.socket_receive(timeout=5)
        assert chunk, response
        response += chunk
    esp.socket_disconnect()
    return response


def test_library_joins_both_default_aps(esp):
    # (The library's remote_AP property compares bytes with str and cannot
    # work on CPython; the address tells which AP the station is on.)
    esp.join_AP("HomeWPA2", "correct horse")
    assert esp.is_connected
    assert esp.status == esp.STATUS_APCONNECTED
    assert esp.local_ip.startswith("127.0.2.")
    esp.disconnect()
    assert not esp.is_connected
    esp.join_AP("OpenNet", "")
    assert esp.is_connected
    assert esp.local_ip.startswith("127.0.1.")


def test_library_resolves_a_name_and_fetches_a_page(esp, dns_server, http_server):  # noqa: F811
    dns_server.set("pages.example", "127.0.0.1")
    esp.join_AP("OpenNet", "")
    assert esp.nslookup("pages.example") == "127.0.0.1"
    response = _fetch(esp, "pages.example", http_server.server_port, "/index.html")
    assert response.startswith(b"HTTP/1.0 200 OK\r\n")
    assert response.endswith(PAGE)
    # And again by address, on a fresh link.
    assert _fetch(esp, "127.0.0.1", http_server.server_port, "/").endswith(PAGE)


def test_library_exchanges_udp(esp):
    esp.join_AP("OpenNet", "")
    peer = UdpPeer()
    try:
        # The library passes its keep-alive argument (10) in the UDP local
        # port's place: the module answers from port 10.
        assert esp.socket_connect("UDP", "127.0.0.1", peer.port)
        assert esp.socket_send(b"question")
        data, source = peer.recv()
        assert data == b"question" and source == (esp.local_ip, 10)
        peer.sock.sendto(b"answer", source)
        assert esp.socket_receive(timeout=5) == b"answer"
        esp.socket_disconnect()
    finally:
        peer.close()
