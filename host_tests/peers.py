"""Real name and time servers on loopback for the tests: dnsmasq answers DNS
and chronyd serves NTP, at the addresses the world file names
("dns_servers", "ntp_servers": 127.0.0.53 and 127.0.0.123 by default), as
the world's DHCP servers announce them. Every address is checked to be a
loopback one (127.0.0.0/8): nothing here listens or asks anywhere else.

dnsmasq (Debian: dnsmasq-base) answers only from its own hosts file
(--no-resolv --no-hosts --local=/#/: never forwards, NXDOMAIN for any other
name) and logs every query with its source address. chronyd (Debian:
chrony) serves the host's clock (`local stratum 8`) and never sets it (-x).
Both are started with configurations of their own, as root (ports 53 and
123), and stopped by the fixture that started them.

Use them from a test module by importing the fixtures:

    from host_tests.peers import dns_server, ntp_server  # noqa: F401

`dns_server` and `ntp_server` are the world's (one per test module);
`dns_servers` starts more DNS servers on other loopback addresses for a
test. `dns_query` and `ntp_time` are small clients for checking them."""

import errno
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from tools import world as world_tool

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
SBIN = os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/sbin"))
NTP_TO_UNIX = 2208988800


def loopback(address):
    """The address, if it is a loopback one; the test fails otherwise."""
    assert ipaddress.ip_address(address) in LOOPBACK, "%s is not a loopback address" % address
    return address


def world_servers(path=world_tool.DEFAULT):
    """(DNS servers, NTP servers) of a world file."""
    world = world_tool.load(path)
    return list(world.get("dns_servers") or ()), list(world.get("ntp_servers") or ())


def wait_free(address, port, timeout=180):
    """Wait until nothing holds address:port (UDP): another test run on this
    machine may have its own server there for a while."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((loopback(address), port))
                return
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        assert time.monotonic() < deadline, "%s:%d stays taken" % (address, port)
        time.sleep(0.2)


def program(name, package):
    found = shutil.which(name, path=SBIN)
    assert found, "%s is missing: install Debian's %s (./setup.sh does, as root)" % (name, package)
    return found


# -- DNS ----------------------------------------------------------------------------


def dns_query(server, name, timeout=2.0, source="127.0.0.1"):
    """Ask server for the A records of name: (rcode, [addresses])."""
    ident = int.from_bytes(os.urandom(2), "big")
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    message = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((loopback(source), 0))
        s.settimeout(timeout)
        s.sendto(message, (loopback(server), 53))
        while True:
            reply, _ = s.recvfrom(4096)
            if struct.unpack(">H", reply[:2])[0] == ident:
                break
    rcode = reply[3] & 15
    count = struct.unpack(">H", reply[6:8])[0]
    i = 12 + len(question) + 4
    found = []
    for _ in range(count):
        while reply[i] and reply[i] < 0xC0:
            i += reply[i] + 1
        i += 2 if reply[i] else 1
        kind, _, _, length = struct.unpack(">HHIH", reply[i : i + 10])
        i += 10
        if kind == 1:
            found.append(socket.inet_ntoa(reply[i : i + 4]))
        i += length
    return rcode, found


class DnsServer:
    """One dnsmasq on address:53 answering from its own records."""

    def __init__(self, folder, address, records=None):
        self.folder = folder
        self.address = loopback(address)
        self.records = dict(records or {})  # name -> [addresses]
        self.hosts = folder / "hosts"
        self.log_path = folder / "dnsmasq.log"
        self.proc = None

    def _write_hosts(self):
        lines = ["%s %s\n" % (loopback(ip), name) for name, ips in self.records.items() for ip in ips]
        tmp = self.hosts.with_suffix(".tmp")
        tmp.write_text("".join(lines))
        tmp.replace(self.hosts)

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_hosts()
        wait_free(self.address, 53)
        command = [
            program("dnsmasq", "dnsmasq-base"),
            "--no-daemon",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--local=/#/",
            "--addn-hosts=%s" % self.hosts,
            "--listen-address=%s" % self.address,
            "--bind-interfaces",
            "--port=53",
            "--cache-size=0",
            "--pid-file=",
            "--log-facility=-",
            "--log-queries",
            "--user=root",
        ]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while True:
            assert self.proc.poll() is None, "dnsmasq on %s ended: %s" % (self.address, self.log_path.read_text())
            try:
                dns_query(self.address, "ready.invalid", timeout=0.2)
                return self
            except OSError:
                assert time.monotonic() < deadline, "dnsmasq on %s does not answer" % self.address
                time.sleep(0.05)

    def set(self, name, *ips):
        """Answer name with these addresses (none: the name is gone)."""
        if ips:
            self.records[name] = list(ips)
        else:
            self.records.pop(name, None)
        self._write_hosts()
        self.proc.send_signal(signal.SIGHUP)  # dnsmasq reads its hosts files again
        deadline = time.monotonic() + 5
        while True:
            try:
                if sorted(dns_query(self.address, name, timeout=0.5)[1]) == sorted(ips):
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, "dnsmasq did not take %s %s" % (name, ips)
            time.sleep(0.05)

    def queries(self):
        """[(name, source address)] of the A queries asked so far."""
        text = self.log_path.read_text(errors="replace")
        return re.findall(r"query\[A\] (\S+) from (\S+)", text)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            self.proc = None


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory):
    """dnsmasq at the world's DNS server (the one DHCP hands out)."""
    server = DnsServer(tmp_path_factory.mktemp("dns"), world_servers()[0][0]).start()
    yield server
    server.stop()


@pytest.fixture
def dns_servers(tmp_path):
    """A factory: dns_servers(address, {name: [ips]}) starts one more
    dnsmasq on another loopback address, for this test only."""
    started = []

    def start(address, records=None):
        server = DnsServer(tmp_path / ("dns-" + address), address, records).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- NTP ----------------------------------------------------------------------------


def ntp_time(server, timeout=2.0, source="127.0.0.1"):
    """The server's transmit time, as Unix seconds (a float)."""
    request = bytearray(48)
    request[0] = 0x23  # version 4, client
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((loopback(source), 0))
        s.settimeout(timeout)
        s.sendto(request, (loopback(server), 123))
        reply, _ = s.recvfrom(512)
    seconds, fraction = struct.unpack(">II", reply[40:48])
    return seconds - NTP_TO_UNIX + fraction / 2**32


class NtpServer:
    """One chronyd serving NTP on address:123 from the host's clock, which
    it never sets (-x)."""

    def __init__(self, folder, address):
        self.folder = folder
        self.address = loopback(address)
        self.proc = None

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "chrony.conf"
        conf.write_text(
            "port 123\n"
            "bindaddress %s\n"
            "allow 127.0.0.0/8\n"
            "local stratum 8\n"
            "cmdport 0\n"
            "bindcmdaddress /\n"
            "pidfile %s\n" % (self.address, self.folder / "chronyd.pid")
        )
        self.log_path = self.folder / "chronyd.log"
        self.log = open(self.log_path, "ab")
        wait_free(self.address, 123)
        command = [program("chronyd", "chrony"), "-d", "-x", "-u", "root", "-f", str(conf)]
        self.proc = subprocess.Popen(command, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 15
        while True:
            assert self.proc.poll() is None, "chronyd on %s ended: %s" % (self.address, self.log_path.read_text())
            try:
                ntp_time(self.address, timeout=0.3)
                return self
            except OSError:
                assert time.monotonic() < deadline, "chronyd on %s does not answer" % self.address
                time.sleep(0.1)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
            self.proc = None


@pytest.fixture(scope="module")
def ntp_server(tmp_path_factory):
    """chronyd at the world's NTP server."""
    server = NtpServer(tmp_path_factory.mktemp("ntp"), world_servers()[1][0]).start()
    yield server
    server.stop()
