"""Ethernet over the pty: the simulated PHY's cable is the world file's
"ethernet" object. +ETH_CONNECTED, +ETH_GOT_IP and +ETH_DISCONNECTED,
AT+CIPETH, AT+CIPETHMAC and AT+CWDHCP's Ethernet bit."""

import pytest

from host_tests.codes import code, count, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, WRONG_FORM
from host_tests.radio import edit_world, mac, make_world, restart, start

OK = b"\r\nOK\r\n"


def cable(world, up):
    edit_world(world, lambda w: w["ethernet"].update(link=up))


@pytest.fixture
def world(tmp_path):
    path = make_world(tmp_path / "world.json")
    cable(path, True)
    return path


@pytest.fixture
def m(tmp_path, world):
    module = start(tmp_path / "m", world=world, quiet=False, pace=False)
    yield module
    module.stop()


def test_cable_plugged_at_power_up(m):
    # After "ready": the link, then the DHCP lease.
    assert m.read_until(b"+ETH_GOT_IP:127.0.9.2\r\n", 5) == b"+ETH_CONNECTED\r\n+ETH_GOT_IP:127.0.9.2\r\n"
    m.ok("ATE0")
    assert m.ok("AT+CIPETH?") == (
        b'+CIPETH:ip:"127.0.9.2"\r\n+CIPETH:gateway:"127.0.9.1"\r\n+CIPETH:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
    )
    assert b'+CIFSR:ETHIP,"127.0.9.2"\r\n' in m.ok("AT+CIFSR")


def test_cable_unplugged_and_plugged(m, world):
    m.read_until(b"+ETH_GOT_IP", 5)
    m.read_until(b"\r\n", 1)
    cable(world, False)
    assert m.read_until(b"\r\n", 3) == b"+ETH_DISCONNECTED\r\n"
    m.write(b"ATE0\r\n")
    m.read_until(OK)
    assert m.ok("AT+CIPETH?").startswith(b'+CIPETH:ip:"0.0.0.0"\r\n')
    cable(world, True)
    assert m.read_until(b"+ETH_GOT_IP:127.0.9.2\r\n", 5) == b"+ETH_CONNECTED\r\n+ETH_GOT_IP:127.0.9.2\r\n"


def test_static_address(m, world):
    m.read_until(b"+ETH_GOT_IP", 5)
    m.read_until(b"\r\n", 1)
    m.ok("ATE0")
    m.ok("AT+SYSLOG=1")
    assert m.at('AT+CIPETH="127.0.9.77","127.0.9.1","255.255.255.0"') == OK
    assert m.read_until(b"\r\n", 2) == b"+ETH_GOT_IP:127.0.9.77\r\n"
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:3\r\n\r\nOK\r\n"  # Ethernet DHCP off
    assert m.error_code('AT+CIPETH="10.0.0.5"') == code(EXEC_FAIL)  # loopback only on the virtual module
    assert m.error_code('AT+CIPETH="127.0.9.5","127.0.9.1"') == count(3, 2)
    assert m.error_code('AT+CIPETH="127.0.9.256"') == code(PARA_INVALID, 0)
    assert m.error_code("AT+CIPETH") == code(WRONG_FORM)
    m = restart(m, quiet=False, wait_ready=False)
    assert m.read_until(b"+ETH_GOT_IP:127.0.9.77\r\n", 5).endswith(b"\r\nready\r\n+ETH_CONNECTED\r\n+ETH_GOT_IP:127.0.9.77\r\n")
    m.ok("ATE0")
    assert m.at("AT+CWDHCP=1,4") == OK
    cable(world, False)
    m.read_until(b"+ETH_DISCONNECTED\r\n", 3)
    cable(world, True)
    assert m.read_until(b"+ETH_GOT_IP:127.0.9.2\r\n", 5).endswith(b"+ETH_CONNECTED\r\n+ETH_GOT_IP:127.0.9.2\r\n")


def test_ethernet_mac(m):
    m.read_until(b"+ETH_GOT_IP", 5)
    m.read_until(b"\r\n", 1)
    m.ok("ATE0")
    m.ok("AT+SYSLOG=1")
    assert m.at('AT+CIPETHMAC="1a:fe:35:98:d4:7b"') == OK
    assert m.ok("AT+CIPETHMAC?") == b'+CIPETHMAC:"1a:fe:35:98:d4:7b"\r\n\r\nOK\r\n'
    assert m.error_code('AT+CIPETHMAC="1b:fe:35:98:d4:7b"') == code(PARA_INVALID, 0)  # multicast
    assert m.error_code('AT+CIPETHMAC="1a:fe:35:98:d4"') == code(PARA_LENGTH, 0)
    sta = mac(m, "AT+CIPSTAMAC")
    assert m.error_code('AT+CIPETHMAC="%s"' % sta) == code(EXEC_FAIL)  # taken by the station
    assert m.error_code("AT+CIPETHMAC") == code(WRONG_FORM)
    m = restart(m)
    assert m.ok("AT+CIPETHMAC?") == b'+CIPETHMAC:"1a:fe:35:98:d4:7b"\r\n\r\nOK\r\n'


def test_unplugged_by_default(tmp_path):
    module = start(tmp_path / "m", quiet=False)
    try:
        assert module.read_for(1) == b""
        assert module.at("AT+CIPETH?") == (
            b'AT+CIPETH?\r\n+CIPETH:ip:"0.0.0.0"\r\n+CIPETH:gateway:"0.0.0.0"\r\n'
            b'+CIPETH:netmask:"0.0.0.0"\r\n\r\nOK\r\n'
        )
    finally:
        module.stop()
