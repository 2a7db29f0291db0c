"""Joining the default world's access points over the pty: AT+CWJAP (set,
execute, query; the old and the new parameter lists), AT+CWQAP, AT+CWSTATE,
the WIFI messages and the +CWJAP:<code> failures."""

import re
import time

import pytest

from host_tests.codes import code, count, no_api, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.radio import CONNECTED, edit_world, join, make_world, start, station_ip


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    """One module connected to OpenNet, shared by tests that must leave it so."""
    module = start(tmp_path_factory.mktemp("joined") / "m")
    join(module, "OpenNet")
    yield module
    module.stop()


def failure(module, command, timeout=20):
    """The +CWJAP:<code> of a join that must fail, and its ERR CODE."""
    reply = module.at(command, timeout)
    found = re.fullmatch(rb"(?:WIFI DISCONNECT\r\n)?\+CWJAP:(\d)\r\nERR CODE:0x([0-9a-f]{8})\r\n\r\nERROR\r\n", reply)
    assert found, reply
    assert int(found.group(2), 16) == code(EXEC_FAIL, int(found.group(1)))
    return int(found.group(1))


def test_join_open_ap(m):
    start_time = time.monotonic()
    assert m.at('AT+CWJAP="OpenNet",""') == CONNECTED
    assert time.monotonic() - start_time < 2  # a few hundred ms
    assert station_ip(m) == "127.0.1.2"
    assert m.ok("AT+CIPSTA?") == (
        b'+CIPSTA:ip:"127.0.1.2"\r\n+CIPSTA:gateway:"127.0.1.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
    )
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:2,"OpenNet"\r\n\r\nOK\r\n'
    # The port cannot tell the BSSID it joined: empty unless given.
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"OpenNet","",1,-45,0,1,3,0,1\r\n\r\nOK\r\n'


def test_join_wpa2_with_the_right_password(m):
    assert m.at('AT+CWJAP="HomeWPA2","correct horse"') == CONNECTED
    assert station_ip(m) == "127.0.2.2"
    assert m.ok("AT+CIPSTATUS") == b"STATUS:2\r\n\r\nOK\r\n"


def test_wrong_password_fails_after_the_handshake_timeout(m):
    start_time = time.monotonic()
    assert failure(m, 'AT+CWJAP="HomeWPA2","wrong horse"') == 2
    assert 1.8 < time.monotonic() - start_time < 4
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:4,"HomeWPA2"\r\n\r\nOK\r\n'
    assert m.ok("AT+CWJAP?") == b"No AP\r\n\r\nOK\r\n"
    assert m.ok("AT+CIPSTATUS") == b"STATUS:5\r\n\r\nOK\r\n"
    assert m.read_for(1.5) == b""  # no reconnection after a failed AT+CWJAP
    # The same failure twice in a row is told apart from the stale one.
    assert failure(m, 'AT+CWJAP="HomeWPA2","wrong horse"') == 2
    join(m, "HomeWPA2", "correct horse")


def test_missing_ap_is_not_found_after_a_scan(m):
    start_time = time.monotonic()
    assert failure(m, 'AT+CWJAP="NoSuchNet","whatever1"') == 3
    assert 1.4 < time.monotonic() - start_time < 3
    assert failure(m, 'AT+CWJAP="NoSuchNet","whatever1"') == 3


def test_out_of_range_ap_is_not_found(m):
    assert failure(m, 'AT+CWJAP="FarAway",""') == 3


def test_enterprise_ap_cannot_be_joined_with_a_password(m):
    assert failure(m, 'AT+CWJAP="CorpEAP","secret123"') == 3  # no compatible security


def test_hidden_ap_is_joined_by_name(m):
    assert b'"Hideout"' not in m.ok("AT+CWLAP")  # scans show it without a name
    join(m, "Hideout", "battery staple")
    assert station_ip(m) == "127.0.3.2"


def test_bssid_restricts_the_join(m):
    assert failure(m, 'AT+CWJAP="OpenNet","","02:00:00:00:02:02"') == 3
    assert m.at('AT+CWJAP="OpenNet","","02:00:00:00:01:01"') == CONNECTED
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"OpenNet","02:00:00:00:01:01",1,-45,0,1,3,0,1\r\n\r\nOK\r\n'


def test_scan_mode_1_picks_the_strongest_bssid(m):
    assert m.at('AT+CWJAP="HomeWPA2","correct horse",,,,,1') == CONNECTED
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"HomeWPA2","02:00:00:00:02:02",6,-60,0,1,3,1,1\r\n\r\nOK\r\n'


def test_joining_again_disconnects_first(m):
    join(m, "OpenNet")
    assert m.at('AT+CWJAP="HomeWPA2","correct horse"') == b"WIFI DISCONNECT\r\n" + CONNECTED
    assert m.at('AT+CWJAP="NoSuchNet",""', 20).startswith(b"WIFI DISCONNECT\r\n+CWJAP:3\r\n")
    assert m.read_for(0.5) == b""


def test_execute_rejoins_the_last_ap(m):
    assert m.error_code("AT+CWJAP") == code(EXEC_FAIL)  # nothing configured yet
    join(m, "HomeWPA2", "correct horse")
    assert m.at("AT+CWQAP") == b"\r\nOK\r\n"
    assert m.read_until(b"WIFI DISCONNECT\r\n", 2) == b"WIFI DISCONNECT\r\n"
    assert m.ok("AT+CWJAP?") == b"No AP\r\n\r\nOK\r\n"
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:4,"HomeWPA2"\r\n\r\nOK\r\n'
    assert m.at("AT+CWJAP") == CONNECTED
    assert m.at("AT+CWJAP=,") == b"WIFI DISCONNECT\r\n" + CONNECTED  # omitted: the last ones


def test_old_parameter_list(m):
    # <ssid>,<pwd>[,<bssid>][,<pci_en>][,<reconn>][,<listen_interval>]
    assert m.at('AT+CWJAP="OpenNet","",,0,1,3') == CONNECTED
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"OpenNet","",1,-45,0,1,3,0,1\r\n\r\nOK\r\n'
    assert m.at('AT+CWJAP="OpenNet","","02:00:00:00:01:01",0,0') == b"WIFI DISCONNECT\r\n" + CONNECTED
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:0,0\r\n\r\nOK\r\n"


def test_new_parameter_list(m):
    assert m.at('AT+CWJAP="HomeWPA2","correct horse",,0,30,3,0,20,1') == CONNECTED
    assert m.ok("AT+CWJAP?") == b'+CWJAP:"HomeWPA2","",6,-60,0,30,3,0,1\r\n\r\nOK\r\n'
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:30,0\r\n\r\nOK\r\n"


def test_escaped_characters_in_ssid_and_password(tmp_path):
    path = make_world(tmp_path / "world.json")
    odd = {"ssid": 'a,b"c\\d', "security": "wpa2_psk", "password": 'p,w"d\\1234', "channel": 4, "rssi": -50,
           "bssid": "02:00:00:00:06:06", "subnet": "127.0.6.0/24"}
    edit_world(path, lambda w: w["access_points"].append(odd))
    module = start(tmp_path / "m", world=path)
    try:
        assert module.at('AT+CWJAP="a\\,b\\"c\\\\d","p\\,w\\"d\\\\1234"') == CONNECTED
        assert module.ok("AT+CWJAP?").startswith(b'+CWJAP:"a,b"c\\d",')
    finally:
        module.stop()


def test_busy_while_joining(m):
    m.write(b'AT+CWJAP="HomeWPA2","correct horse"\r\n')
    time.sleep(0.1)
    m.write(b"AT\r\n")
    assert m.read_until(b"\r\nOK\r\n", 10) == b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n" + CONNECTED
    assert m.at("AT") == b"\r\nOK\r\n"


def test_jap_timeout_without_an_address(m):
    # No DHCP and no static address: associated, never an address.
    m.ok("AT+CWDHCP=0,1")
    start_time = time.monotonic()
    assert failure(m, 'AT+CWJAP="OpenNet","",,,,,,3') == 1
    assert 2.9 < time.monotonic() - start_time < 4.5
    m.ok("AT+CWDHCP=1,1")
    join(m, "OpenNet")


def test_join_needs_station_mode(m):
    m.ok("AT+CWMODE=2")
    assert m.error_code('AT+CWJAP="OpenNet",""') == code(EXEC_FAIL)
    assert m.error_code("AT+CWJAP?") == code(EXEC_FAIL)
    assert m.error_code("AT+CWQAP") == code(EXEC_FAIL)
    assert m.ok("AT+CIPSTATUS") == b"STATUS:0\r\n\r\nOK\r\n"


def test_mode_change_drops_the_connection(m):
    join(m, "OpenNet")
    assert m.at("AT+CWMODE=2") == b"\r\nOK\r\n"
    assert m.read_until(b"WIFI DISCONNECT\r\n", 2) == b"WIFI DISCONNECT\r\n"
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:0,""\r\n\r\nOK\r\n'
    # Back to station mode: the saved AP is joined again (<auto_connect> 1).
    assert m.at("AT+CWMODE=1") == b"\r\nOK\r\n"
    assert m.read_until(b"WIFI GOT IP\r\n", 5) == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"
    m.ok("AT+CWMODE=2")
    m.read_until(b"WIFI DISCONNECT\r\n", 2)
    assert m.at("AT+CWMODE=1,0") == b"\r\nOK\r\n"
    assert m.read_for(1.5) == b""


@pytest.mark.parametrize(
    "command, error",
    [
        ('AT+CWJAP="%s",""' % ("x" * 33), code(PARA_LENGTH, 0)),
        ('AT+CWJAP="","x"', code(PARA_LENGTH, 0)),
        ('AT+CWJAP="OpenNet","%s"' % ("p" * 65), code(PARA_LENGTH, 1)),
        ('AT+CWJAP="OpenNet","","02:00:00:00:01"', code(PARA_LENGTH, 2)),
        ('AT+CWJAP="OpenNet","","02:00:00:00:01:0g"', code(PARA_INVALID, 2)),
        ('AT+CWJAP="OpenNet","",,17', code(PARA_INVALID, 3)),
        ('AT+CWJAP="OpenNet","",,,7201', code(PARA_INVALID, 4)),
        ('AT+CWJAP="OpenNet","",,,,0', code(PARA_INVALID, 5)),
        ('AT+CWJAP="OpenNet","",,,,101', code(PARA_INVALID, 5)),
        ('AT+CWJAP="OpenNet","",,,,,2', code(PARA_INVALID, 6)),
        ('AT+CWJAP="OpenNet","",,,,,,2', code(PARA_INVALID, 7)),
        ('AT+CWJAP="OpenNet","",,,,,,601', code(PARA_INVALID, 7)),
        ('AT+CWJAP="OpenNet","",,,,,,,4', code(PARA_INVALID, 8)),
        ('AT+CWJAP="OpenNet","",,,,,,,1,1', count(9, 10)),
        ("AT+CWJAP=OpenNet", code(PARA_TYPE, 0)),
        ('AT+CWJAP=,"pwd"', code(PARA_INVALID, 0)),
        ("AT+CWJAP=?", code(WRONG_FORM)),
        # Valid values with no MicroPython API: refused after the checks above.
        ('AT+CWJAP="OpenNet","",,1', no_api(3)),  # <pci_en> / authmode threshold
        ('AT+CWJAP="OpenNet","",,3', no_api(3)),
        ('AT+CWJAP="OpenNet","",,,,10', no_api(5)),  # <listen_interval>
        ('AT+CWJAP="OpenNet","",,,,,,,0', no_api(8)),  # PMF off
        ('AT+CWJAP="OpenNet","",,,,,,,3', no_api(8)),  # PMF required
    ],
)
def test_join_errors_leave_the_station_alone(joined, command, error):
    assert joined.error_code(command) == error
    assert joined.ok("AT+CWJAP?").startswith(b'+CWJAP:"OpenNet"')
    assert joined.read_for(0.1) == b""


def test_cwqap_when_not_connected(m):
    assert m.at("AT+CWQAP") == b"\r\nOK\r\n"
    assert m.read_for(0.3) == b""
    assert m.error_code("AT+CWQAP?") == code(WRONG_FORM)
    assert m.error_code("AT+CWQAP=1") == code(WRONG_FORM)


def test_join_is_saved_only_with_sysstore(m):
    m.ok("AT+SYSSTORE=0")
    join(m, "OpenNet")
    m.ok("AT+RST")
    m.wait_ready()
    m.write(b"ATE0\r\n")
    m.read_until(b"\r\nOK\r\n")
    assert m.read_for(1.0) == b""  # nothing saved: no auto-connection
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:0,""\r\n\r\nOK\r\n'
