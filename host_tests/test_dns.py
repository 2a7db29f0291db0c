"""Names over the pty: AT+CIPDOMAIN and AT+CIPDNS against real DNS servers
(dnsmasq, host_tests/peers.py) on loopback, and the unix board's resolver
behind the socket stand-in's getaddrinfo()."""

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from host_tests.codes import code, count, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.peers import dns_server, dns_servers, wait_free  # noqa: F401
from host_tests.radio import edit_world, join, make_quiet, make_world, restart, start, station_ip
from tools.sim import DEFAULT_WORLD, default_micropython

OK = b"\r\nOK\r\n"
DEFAULT_SERVERS = b'"208.67.222.222","114.114.114.114","8.8.8.8"'
HERE = Path(__file__).resolve().parent


@pytest.fixture
def names(dns_server):
    """The world's DNS server, answering a few names for this test."""
    dns_server.set("example.sim", "127.0.7.7")
    dns_server.set("two.sim", "127.0.7.8", "127.0.7.9")
    yield dns_server
    dns_server.set("example.sim")
    dns_server.set("two.sim")


@pytest.fixture
def silent():
    """A "DNS server" on 127.0.0.55 that takes queries and never answers."""
    wait_free("127.0.0.55", 53)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.55", 53))
    yield s
    s.close()


def domain(module, name, *more, timeout=15):
    command = 'AT+CIPDOMAIN="%s"' % name + "".join(",%s" % m for m in more)
    return module.at(command, timeout)


def asked(server, name):
    """The source addresses name was asked from at server."""
    return [source for query, source in server.queries() if query == name]


# -- AT+CIPDOMAIN ----------------------------------------------------------------


def test_name_is_resolved_by_the_dhcp_server(m, names):
    join(m, "OpenNet")
    before = len(asked(names, "example.sim"))
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK
    # Really asked, over UDP from the station's address.
    assert asked(names, "example.sim")[before:] == [station_ip(m)]


def test_every_address_or_the_first(m, names):
    join(m, "OpenNet")
    one = re.fullmatch(rb'\+CIPDOMAIN:"(127\.0\.7\.[89])"\r\n\r\nOK\r\n', domain(m, "two.sim"))
    assert one, one
    every = domain(m, "two.sim", 1, 0, 1)
    assert sorted(re.findall(rb'\+CIPDOMAIN:"([\d.]+)"\r\n', every)) == [b"127.0.7.8", b"127.0.7.9"]
    assert every.endswith(b'"\r\n' + OK)
    assert domain(m, "two.sim", 2, 0, 0).count(b"+CIPDOMAIN:") == 1  # IPv4 only
    assert domain(m, "example.sim", 1, 5000) == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK
    assert domain(m, "example.sim.") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK  # fully qualified


def test_addresses_and_localhost_need_no_server(m, names):
    queries = len(names.queries())
    assert domain(m, "127.0.7.7") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK  # no network needed
    assert domain(m, "127.0.07.7.") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK
    assert domain(m, "localhost") == b'+CIPDOMAIN:"127.0.0.1"\r\n' + OK
    assert len(names.queries()) == queries


def test_unknown_name_fails(m, names):
    join(m, "OpenNet")
    started = time.monotonic()
    assert m.error_code('AT+CIPDOMAIN="nothing.sim"') == code(EXEC_FAIL)
    assert time.monotonic() - started < 1  # NXDOMAIN is final: no other server is asked
    assert m.error_code('AT+CIPDOMAIN="a..b"') == code(EXEC_FAIL)  # not a name
    assert m.error_code('AT+CIPDOMAIN="%s.sim"' % ("x" * 64)) == code(EXEC_FAIL)  # a label > 63


def test_no_network_no_name(m, names):
    before = len(asked(names, "example.sim"))
    assert m.error_code('AT+CIPDOMAIN="example.sim"') == code(EXEC_FAIL)
    assert len(asked(names, "example.sim")) == before  # no route: nothing was sent
    join(m, "OpenNet")
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK


def test_ipv6_only_is_refused(m, names):
    join(m, "OpenNet")
    assert m.error_code('AT+CIPDOMAIN="example.sim",3') == code(EXEC_FAIL)


def test_lookup_over_ethernet(tmp_path, names):
    world = make_world(tmp_path / "world.json")
    edit_world(world, lambda w: w["ethernet"].update(link=True))
    module = start(tmp_path / "eth", world=world)
    try:
        module.read_until(b"+ETH_GOT_IP:", 5)
        module.read_until(b"\r\n", 1)
        before = len(asked(names, "example.sim"))
        assert domain(module, "example.sim") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK
        assert asked(names, "example.sim")[before:][0].startswith("127.0.9.")
    finally:
        module.stop()


def test_a_silent_server_times_out_and_the_port_stays_busy(m, names, silent):
    join(m, "OpenNet")
    m.ok('AT+CIPDNS=1,"127.0.0.55"')
    started = time.monotonic()
    m.write(b'AT+CIPDOMAIN="example.sim",1,800\r\n')
    time.sleep(0.2)
    m.write(b"AT\r\n")
    reply = m.read_until(re.compile(rb"\r\nERROR\r\n"), 5)
    assert b"busy p..." in reply, reply
    assert 0.7 < time.monotonic() - started < 2  # <timeout> 800 ms
    assert reply.endswith(b"ERR CODE:0x%08x\r\n\r\nERROR\r\n" % code(EXEC_FAIL)), reply
    # Asked once, then again after 1 s: 3 s without <timeout>.
    silent.settimeout(0)
    while True:
        try:
            silent.recvfrom(512)
        except BlockingIOError:
            break
    started = time.monotonic()
    assert m.error_code('AT+CIPDOMAIN="example.sim"') == code(EXEC_FAIL)
    assert 2.8 < time.monotonic() - started < 4
    sources = []
    while True:
        try:
            sources.append(silent.recvfrom(512)[1][0])
        except BlockingIOError:
            break
    assert sources == [station_ip(m)] * 2


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CIPDOMAIN", code(WRONG_FORM)),
        ("AT+CIPDOMAIN?", code(WRONG_FORM)),
        ("AT+CIPDOMAIN=?", code(WRONG_FORM)),
        ("AT+CIPDOMAIN=", code(PARA_INVALID, 0)),
        ('AT+CIPDOMAIN=""', code(PARA_LENGTH, 0)),
        ('AT+CIPDOMAIN="%s"' % ("a" * 254), code(PARA_LENGTH, 0)),
        ("AT+CIPDOMAIN=1", code(PARA_TYPE, 0)),
        ('AT+CIPDOMAIN="example.sim",0', code(PARA_INVALID, 1)),
        ('AT+CIPDOMAIN="example.sim",4', code(PARA_INVALID, 1)),
        ('AT+CIPDOMAIN="example.sim","1"', code(PARA_TYPE, 1)),
        ('AT+CIPDOMAIN="example.sim",1,-1', code(PARA_INVALID, 2)),
        ('AT+CIPDOMAIN="example.sim",1,60001', code(PARA_INVALID, 2)),
        ('AT+CIPDOMAIN="example.sim",1,0,2', code(PARA_INVALID, 3)),
        ('AT+CIPDOMAIN="example.sim",1,0,0,1', count(4, 5)),
        ('AT+CIPDOMAIN="example.sim', 0x01080000),
    ],
)
def test_cipdomain_errors(m, command, error):
    assert m.error_code(command) == error


# -- AT+CIPDNS --------------------------------------------------------------------------


def test_query_follows_dhcp_by_default(m, names):
    assert m.ok("AT+CIPDNS?") == b"+CIPDNS:0," + DEFAULT_SERVERS + b"\r\n" + OK
    join(m, "OpenNet")
    # DHCP's server first; lwIP keeps ESP-AT's defaults behind it.
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:0,"127.0.0.53","114.114.114.114","8.8.8.8"\r\n' + OK


def test_manual_servers_are_used(m, names, dns_servers):
    other = dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    join(m, "OpenNet")
    assert m.at('AT+CIPDNS=1,"127.0.0.54"') == OK
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.54"\r\n' + OK
    before = len(asked(names, "example.sim"))
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.8.8"\r\n' + OK
    assert asked(other, "example.sim") == [station_ip(m)]
    assert len(asked(names, "example.sim")) == before  # the DHCP server was not asked


def test_manual_servers_are_asked_in_turn(m, names, dns_servers, silent):
    third = dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    join(m, "OpenNet")
    # Nobody at the first (refused at once on loopback), the second never
    # answers (3 s), the third does.
    assert m.at('AT+CIPDNS=1,"127.0.0.57","127.0.0.55","127.0.0.54"') == OK
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.57","127.0.0.55","127.0.0.54"\r\n' + OK
    started = time.monotonic()
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.8.8"\r\n' + OK
    assert 2.8 < time.monotonic() - started < 5
    assert asked(third, "example.sim") == [station_ip(m)]
    silent.settimeout(1)
    assert silent.recvfrom(512)[1][0] == station_ip(m)


def test_manual_servers_without_addresses_are_espat_defaults(m):
    assert m.at("AT+CIPDNS=1") == OK
    assert m.ok("AT+CIPDNS?") == b"+CIPDNS:1," + DEFAULT_SERVERS + b"\r\n" + OK
    assert m.at('AT+CIPDNS=1,,"127.0.0.54"') == OK  # an omitted one is skipped
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.54"\r\n' + OK


def test_manual_servers_outlive_dhcp(m, names, dns_servers):
    other = dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    m.ok('AT+CIPDNS=1,"127.0.0.54"')
    join(m, "OpenNet")  # the lease names 127.0.0.53
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.54"\r\n' + OK
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.8.8"\r\n' + OK
    assert asked(other, "example.sim") == [station_ip(m)]


def test_back_to_dhcp(m, names, dns_servers):
    dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    join(m, "OpenNet")
    m.ok('AT+CIPDNS=1,"127.0.0.54"')
    assert m.at("AT+CIPDNS=0") == OK
    # As ESP-AT: the defaults until the next DHCP lease.
    assert m.ok("AT+CIPDNS?") == b"+CIPDNS:0," + DEFAULT_SERVERS + b"\r\n" + OK
    m.ok("AT+CWQAP")
    m.read_until(b"WIFI DISCONNECT\r\n", 2)
    join(m, "OpenNet")
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:0,"127.0.0.53","114.114.114.114","8.8.8.8"\r\n' + OK
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.7.7"\r\n' + OK


def test_saved_as_sysstore_says(m, names, dns_servers):
    dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    m.ok('AT+CIPDNS=1,"127.0.0.54","127.0.0.53"')
    m = restart(m)
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.54","127.0.0.53"\r\n' + OK
    join(m, "OpenNet")
    assert domain(m, "example.sim") == b'+CIPDOMAIN:"127.0.8.8"\r\n' + OK
    m.ok("AT+SYSSTORE=0")
    m.ok('AT+CIPDNS=1,"127.0.0.53"')
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.53"\r\n' + OK
    m = restart(m)
    assert m.ok("AT+CIPDNS?") == b'+CIPDNS:1,"127.0.0.54","127.0.0.53"\r\n' + OK
    m.ok("AT+SYSSTORE=1")
    m.ok("AT+CIPDNS=0")
    m = restart(m)
    assert m.ok("AT+CIPDNS?") == b"+CIPDNS:0," + DEFAULT_SERVERS + b"\r\n" + OK
    m.ok('AT+CIPDNS=1,"127.0.0.54"')
    m.write(b"AT+RESTORE\r\n")
    m.read_until(b"\r\nready\r\n", 10)
    make_quiet(m)
    assert m.ok("AT+CIPDNS?") == b"+CIPDNS:0," + DEFAULT_SERVERS + b"\r\n" + OK


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CIPDNS", code(WRONG_FORM)),
        ("AT+CIPDNS=?", code(WRONG_FORM)),
        ("AT+CIPDNS=", code(PARA_INVALID, 0)),
        ("AT+CIPDNS=2", code(PARA_INVALID, 0)),
        ("AT+CIPDNS=-1", code(PARA_INVALID, 0)),
        ('AT+CIPDNS="1"', code(PARA_TYPE, 0)),
        ("AT+CIPDNS=1,1", code(PARA_TYPE, 1)),
        ('AT+CIPDNS=1,""', code(PARA_LENGTH, 1)),
        ('AT+CIPDNS=1,"127.000.000.1234"', code(PARA_LENGTH, 1)),
        ('AT+CIPDNS=1,"127.0.0.1234"', code(PARA_INVALID, 1)),
        ('AT+CIPDNS=1,"127.0.0"', code(PARA_INVALID, 1)),
        ('AT+CIPDNS=1,"127.0.0.256"', code(PARA_INVALID, 1)),
        ('AT+CIPDNS=1,"240c::6666"', code(PARA_INVALID, 1)),  # no IPv6
        ('AT+CIPDNS=1,"0.0.0.0"', code(PARA_INVALID, 1)),
        ('AT+CIPDNS=1,"127.0.0.54","127.0.0.54"', code(PARA_INVALID, 2)),  # the same twice
        ('AT+CIPDNS=1,"127.0.0.54","127.0.0.55","127.0.0.54"', code(PARA_INVALID, 3)),
        ('AT+CIPDNS=1,"127.0.0.54","127.0.0.55","127.0.0.56","127.0.0.57"', count(4, 5)),
        ('AT+CIPDNS=0,"127.0.0.5x"', code(PARA_INVALID, 1)),
    ],
)
def test_cipdns_errors(m, command, error):
    before = m.ok("AT+CIPDNS?")
    assert m.error_code(command) == error
    assert m.ok("AT+CIPDNS?") == before


# -- the unix board's resolver (getaddrinfo) -----------------------------------------------

RESOLVER_CHECKS = r"""
import sys
sys.path.insert(0, sys.argv[1] + "/boards/unix")
import network
import socket
import time


def name_error(name):
    try:
        socket.getaddrinfo(name, 80)
    except OSError as e:
        return e.args[0]
    return None


sta = network.WLAN(network.WLAN.IF_STA)
sta.active(True)
assert name_error("example.sim") == -202  # no interface up: no route to the server
sta.connect("OpenNet", "")
deadline = time.ticks_add(time.ticks_ms(), 5000)
while sta.status() != network.STAT_GOT_IP:
    assert time.ticks_diff(deadline, time.ticks_ms()) > 0, sta.status()
    time.sleep_ms(10)
assert network.ipconfig("dns") == "127.0.0.53", network.ipconfig("dns")
print("dhcp", socket.getaddrinfo("example.sim", 80)[0][-1])
print("unknown", name_error("nothing.sim"))
print("localhost", socket.getaddrinfo("localhost", 80)[0][-1])
network.ipconfig(dns="127.0.0.54")
print("manual", socket.getaddrinfo("example.sim", 443)[0][-1])
s = socket.socket()
try:
    s.connect(("example.sim", 9))  # connect() resolves names too
except OSError as e:
    print("connect", e.args[0])
s.close()
"""


def test_resolver_behind_getaddrinfo(tmp_path, names, dns_servers):
    other = dns_servers("127.0.0.54", {"example.sim": ["127.0.8.8"]})
    script = tmp_path / "resolver_checks.py"
    script.write_text(RESOLVER_CHECKS)
    env = dict(os.environ, ATSIM_STATE=str(tmp_path), ATSIM_WORLD=str(DEFAULT_WORLD), ATSIM_AIR=str(tmp_path / "air"))
    done = subprocess.run(
        [default_micropython(), str(script), str(HERE.parent)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == [
        "dhcp ('127.0.7.7', 80)",
        "unknown -202",
        "localhost ('127.0.0.1', 80)",
        "manual ('127.0.8.8', 443)",
    ], done.stdout + done.stderr
    assert re.fullmatch(r"connect \d+", lines[4]), lines  # 127.0.8.8:9 refuses: the name was resolved
    assert asked(names, "example.sim")[-1] == "127.0.1.2"
    assert asked(other, "example.sim") == ["127.0.1.2", "127.0.1.2"]
