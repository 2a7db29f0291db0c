"""Scanning over the pty: AT+CWLAP (execute and filtered set form) and
AT+CWLAPOPT (print mask, RSSI filter, authmode mask)."""

import re
import time

import pytest

from host_tests.codes import code, count, no_api, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.radio import make_world, start

# The default world as AT+CWLAP lists it: strongest first; the hidden AP
# without its SSID; FarAway (-97 dBm) out of range. Only <ecn>, <ssid>,
# <rssi>, <mac> and <channel> come from MicroPython's scan(); the reserved
# fields are 0, the ciphers 7 (unknown), <bgn> and <wps> 0 (unknown).
OPEN = b'+CWLAP:(0,"OpenNet",-45,"02:00:00:00:01:01",1,0,0,7,7,0,0)\r\n'
WPA2 = b'+CWLAP:(3,"HomeWPA2",-60,"02:00:00:00:02:02",6,0,0,7,7,0,0)\r\n'
HIDDEN = b'+CWLAP:(3,"",-70,"02:00:00:00:03:03",11,0,0,7,7,0,0)\r\n'
EAP = b'+CWLAP:(5,"CorpEAP",-75,"02:00:00:00:04:04",11,0,0,7,7,0,0)\r\n'
OK = b"\r\nOK\r\n"


@pytest.fixture
def m(tmp_path):
    # Scans take 0.3 s here instead of the default world's 1.5 s.
    module = start(tmp_path / "m", world=make_world(tmp_path / "world.json", scan_ms=300))
    yield module
    module.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One module for the tests that must change nothing."""
    folder = tmp_path_factory.mktemp("scan")
    module = start(folder / "m", world=make_world(folder / "world.json", scan_ms=300))
    module.ok("AT+CWLAPOPT=0,31")
    yield module
    module.stop()


def test_default_world_listing_with_the_default_timing(tmp_path):
    module = start(tmp_path / "m")
    try:
        start_time = time.monotonic()
        assert module.at("AT+CWLAP") == OPEN + WPA2 + HIDDEN + EAP + OK
        assert 1.4 < time.monotonic() - start_time < 3  # a full scan of all channels
    finally:
        module.stop()


@pytest.mark.parametrize(
    "mask, line",
    [
        (31, b'+CWLAP:(0,"OpenNet",-45,"02:00:00:00:01:01",1)\r\n'),
        (415, b'+CWLAP:(0,"OpenNet",-45,"02:00:00:00:01:01",1,7,7)\r\n'),  # 0x19f
        (0x7FF, OPEN),
        (2, b'+CWLAP:("OpenNet")\r\n'),
        (0x408, b'+CWLAP:("02:00:00:00:01:01",0)\r\n'),
        (0, b"+CWLAP:()\r\n"),
    ],
)
def test_print_mask(m, mask, line):
    assert m.at("AT+CWLAPOPT=1,%d" % mask) == OK
    assert m.at('AT+CWLAP="OpenNet"') == line + OK


def test_reserved_first_field_may_be_omitted(m):
    assert m.at("AT+CWLAPOPT=,31") == OK
    assert m.at("AT+CWLAP").startswith(b'+CWLAP:(0,"OpenNet",-45,"02:00:00:00:01:01",1)\r\n')
    assert m.at("AT+CWLAPOPT=0,2047") == OK
    assert m.at("AT+CWLAP") == OPEN + WPA2 + HIDDEN + EAP + OK


def test_rssi_filter(m):
    assert m.at("AT+CWLAPOPT=0,2047,-60") == OK
    assert m.at("AT+CWLAP") == OPEN + WPA2 + OK
    assert m.at("AT+CWLAPOPT=0,2047,-40") == OK
    assert m.at("AT+CWLAP") == OK  # nothing that strong: no lines


def test_authmode_mask(m):
    assert m.at("AT+CWLAPOPT=0,2047,-100,1") == OK  # bit 0: open only
    assert m.at("AT+CWLAP") == OPEN + OK
    assert m.at("AT+CWLAPOPT=0,2047,-100,0x28") == OK  # WPA2-PSK, WPA2-Enterprise
    assert m.at("AT+CWLAP") == WPA2 + HIDDEN + EAP + OK


@pytest.mark.parametrize(
    "command, lines",
    [
        ('AT+CWLAP="HomeWPA2"', [WPA2]),
        ('AT+CWLAP="Hideout"', []),  # no directed probe: the scan has no name for it
        ('AT+CWLAP=,"02:00:00:00:03:03"', [HIDDEN]),
        ('AT+CWLAP=,"02:00:00:00:04:04"', [EAP]),
        ("AT+CWLAP=,,11", [HIDDEN, EAP]),
        ("AT+CWLAP=,,6,0,0,0", [WPA2]),
        ("AT+CWLAP=,,0,,,,0x42", [OPEN, WPA2]),  # channel bitmap: 1 and 6
        ('AT+CWLAP="OpenNet",,6', []),
        ('AT+CWLAP="NoSuchNet"', []),
        ("AT+CWLAP=", [OPEN, WPA2, HIDDEN, EAP]),
    ],
)
def test_filters(m, command, lines):
    assert m.at(command) == b"".join(lines) + OK


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CWLAP=,,,1", no_api(3)),  # passive scan
        ("AT+CWLAP=,,,0,100", no_api(4)),  # scan times: the driver's own
        ("AT+CWLAP=,,,0,0,1500", no_api(5)),
        ("AT+CWLAP=,,15", code(PARA_INVALID, 2)),
        ("AT+CWLAP=,,,2", code(PARA_INVALID, 3)),
        ("AT+CWLAP=,,,0,1501", code(PARA_INVALID, 4)),
        ("AT+CWLAP=,,,0,0,-1", code(PARA_INVALID, 5)),
        ("AT+CWLAP=,,,,,,0x8000", code(PARA_INVALID, 6)),
        ('AT+CWLAP="%s"' % ("s" * 33), code(PARA_LENGTH, 0)),
        ('AT+CWLAP=,"02:00:00:00:01"', code(PARA_LENGTH, 1)),
        ('AT+CWLAP=,"zz:00:00:00:01:01"', code(PARA_INVALID, 1)),
        ("AT+CWLAP=1", code(PARA_TYPE, 0)),
        ("AT+CWLAP=,,,,,,,1", count(7, 8)),
        ("AT+CWLAP?", code(WRONG_FORM)),
        ("AT+CWLAP=?", code(WRONG_FORM)),
        ("AT+CWLAPOPT=1", count(2, 1)),
        ("AT+CWLAPOPT=1,31,-100,1,1", count(4, 5)),
        ("AT+CWLAPOPT=2,31", code(PARA_INVALID, 0)),
        ("AT+CWLAPOPT=1,2048", code(PARA_INVALID, 1)),
        ("AT+CWLAPOPT=1,-1", code(PARA_INVALID, 1)),
        ("AT+CWLAPOPT=1,", code(PARA_INVALID, 1)),
        ("AT+CWLAPOPT=1,31,-101", code(PARA_INVALID, 2)),
        ("AT+CWLAPOPT=1,31,41", code(PARA_INVALID, 2)),
        ("AT+CWLAPOPT=1,31,-100,0x10000", code(PARA_INVALID, 3)),
        ("AT+CWLAPOPT?", code(WRONG_FORM)),
        ("AT+CWLAPOPT", code(WRONG_FORM)),
    ],
)
def test_errors(shared, command, error):
    start_time = time.monotonic()
    assert shared.error_code(command) == error
    assert time.monotonic() - start_time < 0.25  # refused before any scan


def test_refused_options_keep_the_last_ones(m):
    m.ok("AT+CWLAPOPT=0,31,-60")
    assert m.error_code("AT+CWLAPOPT=0,2047,-101") == code(PARA_INVALID, 2)
    assert m.at("AT+CWLAP") == (
        b'+CWLAP:(0,"OpenNet",-45,"02:00:00:00:01:01",1)\r\n+CWLAP:(3,"HomeWPA2",-60,"02:00:00:00:02:02",6)\r\n' + OK
    )


def test_scan_needs_the_station(m):
    m.ok("AT+CWMODE=2")
    assert m.error_code("AT+CWLAP") == code(EXEC_FAIL)
    m.ok("AT+CWMODE=3")
    assert m.at('AT+CWLAP="OpenNet"') == OPEN + OK


def test_scan_while_connected(m):
    assert m.at('AT+CWJAP="OpenNet",""').endswith(b"WIFI GOT IP\r\n\r\nOK\r\n")
    assert m.at("AT+CWLAP") == OPEN + WPA2 + HIDDEN + EAP + OK
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:2,"OpenNet"\r\n\r\nOK\r\n'


def test_busy_during_a_scan_and_nothing_else_inside_the_listing(m):
    m.write(b"AT+CWLAP\r\n")
    time.sleep(0.2)
    m.write(b"AT\r\n")
    reply = m.read_until(b"\r\nOK\r\n", 5)
    assert reply == b"ERR CODE:0x010b0000\r\n\r\nbusy p...\r\n" + OPEN + WPA2 + HIDDEN + EAP + OK
    listing = reply[reply.index(b"+CWLAP") : -len(OK)]
    assert all(re.fullmatch(rb"\+CWLAP:\(.*\)", line) for line in listing.split(b"\r\n")[:-1])


def test_changes_to_the_world_show_in_the_next_scan(m, tmp_path):
    from host_tests.radio import edit_world

    def change(world):
        aps = {ap["ssid"]: ap for ap in world["access_points"]}
        aps["FarAway"]["rssi"] = -90  # comes into range
        aps["OpenNet"]["rssi"] = -99  # goes out of range
        world["access_points"].remove(aps["CorpEAP"])

    edit_world(tmp_path / "world.json", change)
    time.sleep(0.2)
    assert m.at("AT+CWLAP") == WPA2 + HIDDEN + b'+CWLAP:(0,"FarAway",-90,"02:00:00:00:05:05",3,0,0,7,7,0,0)\r\n' + OK
