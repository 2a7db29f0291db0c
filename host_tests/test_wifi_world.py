"""The world changing under running modules (tools.world edits the world
file): APs that vanish, come back, move out of range or change their
password; reconnection (AT+CWRECONNCFG) and auto-connection at power-up
(AT+CWAUTOCONN)."""

import subprocess
import sys
import time

import pytest

from host_tests.radio import CONNECTED, edit_world, join, make_world, restart, start, station_ip
from tools import world as world_tool
from tools.vmodule import REPO

GOT_IP = b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"


@pytest.fixture
def world(tmp_path):
    # Beacons lost for 1.5 s count as gone (the default world: 6 s).
    return make_world(tmp_path / "world.json", beacon_timeout_ms=1500)


@pytest.fixture
def m(tmp_path, world):
    module = start(tmp_path / "m", world=world)
    yield module
    module.stop()


def tool(world, *args):
    """python -m tools.world, as a user runs it."""
    result = subprocess.run([sys.executable, "-m", "tools.world", str(world)] + list(args), cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_ap_vanishes_and_comes_back(m, world):
    join(m, "OpenNet")
    removed = world_tool.find(world_tool.load(world), "OpenNet")
    tool(world, "remove", "OpenNet")
    start_time = time.monotonic()
    assert m.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    assert 1.3 < time.monotonic() - start_time < 3  # after the beacon timeout
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:3,"OpenNet"\r\n\r\nOK\r\n'  # reconnecting every second
    assert m.ok("AT+CIPSTATUS") == b"STATUS:5\r\n\r\nOK\r\n"
    assert m.read_for(2.5) == b""  # attempts fail silently
    edit_world(world, lambda w: w["access_points"].append(removed))
    assert m.read_until(b"WIFI GOT IP\r\n", 10) == GOT_IP
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:2,"OpenNet"\r\n\r\nOK\r\n'
    assert station_ip(m) == "127.0.1.2"  # the same lease


def test_ap_moves_out_of_range_and_back(m, world):
    join(m, "HomeWPA2", "correct horse")
    tool(world, "set", "HomeWPA2", "rssi=-100")
    assert m.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    tool(world, "set", "02:00:00:00:02:02", "rssi=-80")
    assert m.read_until(b"WIFI GOT IP\r\n", 10) == GOT_IP
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"HomeWPA2","",6,-80,0,1,3,0,1\r\n\r\nOK\r\n'


def test_password_change_deauthenticates_at_once(m, world):
    join(m, "HomeWPA2", "correct horse")
    tool(world, "set", "HomeWPA2", "password=new password")
    start_time = time.monotonic()
    assert m.read_until(b"WIFI DISCONNECT\r\n", 2) == b"WIFI DISCONNECT\r\n"
    assert time.monotonic() - start_time < 1
    assert m.read_for(3) == b""  # reconnecting with the old password fails
    tool(world, "set", "HomeWPA2", "password=correct horse")
    assert m.read_until(b"WIFI GOT IP\r\n", 12) == GOT_IP


def test_no_reconnection_when_the_interval_is_0(m, world):
    join(m, "OpenNet")
    assert m.at("AT+CWRECONNCFG=0,0") == b"\r\nOK\r\n"
    tool(world, "set", "OpenNet", "rssi=-100")
    assert m.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:4,"OpenNet"\r\n\r\nOK\r\n'
    tool(world, "set", "OpenNet", "rssi=-45")
    assert m.read_for(2.5) == b""
    assert m.at("AT+CWJAP") == CONNECTED  # by hand


def test_reconnection_gives_up_after_repeat_count(m, world):
    join(m, "OpenNet")
    assert m.at("AT+CWRECONNCFG=1,1") == b"\r\nOK\r\n"
    tool(world, "remove", "OpenNet")
    assert m.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    # One attempt a second later, failing after a scan; then no more.
    deadline = time.monotonic() + 10
    while m.ok("AT+CWSTATE?") != b'+CWSTATE:4,"OpenNet"\r\n\r\nOK\r\n':
        assert time.monotonic() < deadline
        time.sleep(0.5)
    tool(world, "add", "OpenNet", "--bssid", "02:00:00:00:01:01", "--subnet", "127.0.1.0/24", "--rssi", "-45")
    assert m.read_for(2.5) == b""  # gave up


def test_reconnect_now(m, world):
    assert m.at("AT+CWRECONNCFG=1,0,1") == b"\r\nOK\r\n"  # no AP configured: nothing to do
    assert m.read_for(1) == b""
    join(m, "OpenNet")
    m.ok("AT+CWRECONNCFG=0,0")
    tool(world, "set", "OpenNet", "rssi=-100")
    assert m.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    tool(world, "set", "OpenNet", "rssi=-45")
    assert m.read_for(1.5) == b""
    assert m.at("AT+CWRECONNCFG=1,0,1") == b"\r\nOK\r\n"
    assert m.read_until(b"WIFI GOT IP\r\n", 5) == GOT_IP
    assert m.at("AT+CWRECONNCFG=1,0,1") == b"\r\nOK\r\n"  # connected: stays as it is
    assert m.read_for(1) == b""


def test_autoconnect_at_power_up(m, world):
    join(m, "HomeWPA2", "correct horse")
    m = restart(m, quiet=False, wait_ready=False)
    # The saved AP is joined after "ready", unasked.
    assert m.read_until(b"WIFI GOT IP\r\n", 10) == b"\r\nready\r\n" + GOT_IP
    assert m.at("AT+CWSTATE?") == b'AT+CWSTATE?\r\n+CWSTATE:2,"HomeWPA2"\r\n\r\nOK\r\n'
    m.ok("AT+CWAUTOCONN=0")
    m = restart(m, quiet=False, wait_ready=False)
    assert m.read_until(b"\r\nready\r\n", 10) == b"\r\nready\r\n"
    assert m.read_for(1.5) == b""
    assert m.at("AT+CWSTATE?") == b'AT+CWSTATE?\r\n+CWSTATE:0,""\r\n\r\nOK\r\n'
    assert m.at("AT+CWJAP") == b"AT+CWJAP\r\n" + CONNECTED  # the saved AP is still there


def test_autoconnect_retries_until_the_ap_appears(m, world):
    join(m, "OpenNet")
    m.ok("AT+CWRECONNCFG=1,0")
    tool(world, "set", "OpenNet", "rssi=-100")
    m = restart(m, quiet=False, wait_ready=False)
    assert m.read_until(b"\r\nready\r\n", 10) == b"\r\nready\r\n"
    assert m.read_for(2) == b""
    tool(world, "set", "OpenNet", "rssi=-45")
    assert m.read_until(b"WIFI GOT IP\r\n", 12) == GOT_IP


def test_world_tool_init_copies_the_default_world(tmp_path):
    copy = tmp_path / "copy.json"
    tool(copy, "init")
    assert world_tool.load(copy) == world_tool.load(world_tool.DEFAULT)
    tool(copy, "add", "Cafe", "--password", "espresso1", "--channel", "9")
    cafe = world_tool.find(world_tool.load(copy), "Cafe")
    assert cafe["security"] == "wpa2_psk" and cafe["subnet"] == "127.0.6.0/24"
    assert cafe["bssid"] == "02:00:00:10:00:01"


def test_ethernet_cable_in_the_world_tool(world):
    tool(world, "ethernet", "up")
    assert world_tool.load(world)["ethernet"]["link"] is True
    tool(world, "timing", "scan_ms=700")
    assert world_tool.load(world)["timing"]["scan_ms"] == 700
    assert '"HomeWPA2"' in tool(world, "show")


def test_world_tool_refuses_nonsense(world):
    for args in (["set", "NoSuchNet", "rssi=-50"], ["set", "OpenNet", "colour=red"], ["add", "OpenNet"], ["timing", "x=1"]):
        result = subprocess.run([sys.executable, "-m", "tools.world", str(world)] + args, cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 2, args
        assert result.stderr.startswith("tools.world: "), result.stderr
