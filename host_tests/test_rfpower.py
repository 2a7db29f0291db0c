"""AT+RFPOWER over the pty: the Wi-Fi TX power limit, its quantisation on the
ESP32, the Bluetooth LE fields (no MicroPython API) and that it is never
saved."""

import re

import pytest

from host_tests.codes import code, no_api, PARA_TYPE, PARA_COUNT, PARA_INVALID, WRONG_FORM


# ESP-AT's ESP32 table: set value range -> the value the query reads back.
LEVELS = [
    (40, 43, 34),
    (44, 51, 44),
    (52, 55, 52),
    (56, 59, 56),
    (60, 65, 60),
    (66, 71, 66),
    (72, 77, 72),
    (78, 84, 78),
]


def expected(value):
    for low, high, level in LEVELS:
        if low <= value <= high:
            return level
    raise ValueError(value)


def wifi_power(module):
    reply = module.ok("AT+RFPOWER?")
    # Only the Wi-Fi field: the BLE powers cannot be read on MicroPython.
    m = re.fullmatch(rb"(?:AT\+RFPOWER\?\r\n)?\+RFPOWER:(\d+)\r\n\r\nOK\r\n", reply)
    assert m, reply
    return int(m.group(1))


def test_query_after_boot_is_the_top_level(quiet):
    assert quiet.ok("AT+RFPOWER?") == b"+RFPOWER:78\r\n\r\nOK\r\n"


def test_every_value_reads_back_quantised(quiet):
    got = {}
    for value in range(40, 85):
        assert quiet.at("AT+RFPOWER=%d" % value) == b"\r\nOK\r\n"
        got[value] = wifi_power(quiet)
    assert got == {value: expected(value) for value in range(40, 85)}
    assert all(got[value] <= value for value in got)  # never above the set value


def test_hex_value_is_an_integer_too(quiet):
    quiet.ok("AT+RFPOWER=0x3c")
    assert wifi_power(quiet) == 60


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+RFPOWER=39", code(PARA_INVALID, 0)),
        ("AT+RFPOWER=85", code(PARA_INVALID, 0)),
        ("AT+RFPOWER=0", code(PARA_INVALID, 0)),
        ("AT+RFPOWER=-78", code(PARA_INVALID, 0)),
        ("AT+RFPOWER=", code(PARA_INVALID, 0)),
        ("AT+RFPOWER=,0,0,0", code(PARA_INVALID, 0)),
        ('AT+RFPOWER="78"', code(PARA_TYPE, 0)),
        ("AT+RFPOWER=19.5", code(PARA_TYPE, 0)),
        ("AT+RFPOWER=78,0,0,0,0", code(PARA_COUNT, 4 << 8 | 5)),
        ("AT+RFPOWER=78,8,0,0", code(PARA_INVALID, 1)),  # out of range before "no API"
        ("AT+RFPOWER=78,0,-1,0", code(PARA_INVALID, 2)),
        ('AT+RFPOWER=78,"0",0,0', code(PARA_TYPE, 1)),
        ("AT+RFPOWER", code(WRONG_FORM)),
        ("AT+RFPOWER=?", code(WRONG_FORM)),
    ],
)
def test_errors_leave_the_power_alone(quiet, command, error):
    quiet.ok("AT+RFPOWER=52")
    assert quiet.error_code(command) == error
    assert wifi_power(quiet) == 52


@pytest.mark.parametrize(
    "command, index",
    [
        ("AT+RFPOWER=78,0,0,0", 1),
        ("AT+RFPOWER=78,7,7,7", 1),
        ("AT+RFPOWER=84,3", 1),
        ("AT+RFPOWER=78,,5", 2),  # the first BLE field given is the one named
        ("AT+RFPOWER=78,,,0", 3),
    ],
)
def test_ble_power_has_no_api(quiet, command, index):
    quiet.ok("AT+RFPOWER=44")
    assert quiet.error_code(command) == no_api(index)
    assert wifi_power(quiet) == 44  # refused as a whole: Wi-Fi not changed either


def test_omitted_ble_fields_set_only_wifi(quiet):
    assert quiet.at("AT+RFPOWER=66,,,") == b"\r\nOK\r\n"
    assert wifi_power(quiet) == 66


def test_never_saved(quiet):
    quiet.ok("AT+SYSSTORE=1")
    quiet.ok("AT+RFPOWER=44")
    assert wifi_power(quiet) == 44
    quiet.ok("AT+RST")
    quiet.wait_ready()
    assert wifi_power(quiet) == 78
