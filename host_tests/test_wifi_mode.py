"""Wi-Fi mode and driver settings over the pty: AT+CWMODE, AT+CWINIT,
AT+CWSTATE, AT+CWAUTOCONN, AT+CWRECONNCFG, AT+CWCOUNTRY, with their
persistence under AT+SYSSTORE."""

import pytest

from host_tests.codes import code, count, no_api, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.radio import restart


def test_boot_mode_is_station(m):
    assert m.ok("AT+CWMODE?") == b"+CWMODE:1\r\n\r\nOK\r\n"
    assert m.ok("AT+CWSTATE?") == b'+CWSTATE:0,""\r\n\r\nOK\r\n'


@pytest.mark.parametrize("mode, lines", [(0, []), (1, [b"STA"]), (2, [b"AP"]), (3, [b"AP", b"STA"])])
def test_each_mode_brings_its_interfaces_up(m, mode, lines):
    assert m.at("AT+CWMODE=%d" % mode) == b"\r\nOK\r\n"
    assert m.ok("AT+CWMODE?") == b"+CWMODE:%d\r\n\r\nOK\r\n" % mode
    reply = m.ok("AT+CIFSR")
    wifi = [line for line in (b"AP", b"STA") if b"+CIFSR:%sIP," % line in reply]
    assert wifi == lines


def test_mode_with_auto_connect_flag(m):
    assert m.at("AT+CWMODE=2,0") == b"\r\nOK\r\n"
    assert m.at("AT+CWMODE=1,1") == b"\r\nOK\r\n"  # nothing saved: nothing to connect to
    assert m.read_for(0.5) == b""


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CWMODE=4", code(PARA_INVALID, 0)),
        ("AT+CWMODE=-1", code(PARA_INVALID, 0)),
        ('AT+CWMODE="1"', code(PARA_TYPE, 0)),
        ("AT+CWMODE=", code(PARA_INVALID, 0)),
        ("AT+CWMODE=1,2", code(PARA_INVALID, 1)),
        ("AT+CWMODE=1,1,1", count(2, 3)),
        ("AT+CWMODE", code(WRONG_FORM)),
        ("AT+CWMODE=?", code(WRONG_FORM)),
    ],
)
def test_mode_errors_change_nothing(m, command, error):
    m.ok("AT+CWMODE=3")
    assert m.error_code(command) == error
    assert m.ok("AT+CWMODE?") == b"+CWMODE:3\r\n\r\nOK\r\n"


def test_mode_is_saved_when_sysstore_is_1(m):
    m.ok("AT+CWMODE=2")
    m = restart(m)
    assert m.ok("AT+CWMODE?") == b"+CWMODE:2\r\n\r\nOK\r\n"
    m.ok("AT+SYSSTORE=0")
    m.ok("AT+CWMODE=3")
    m.ok("AT+RST")
    m.wait_ready()
    assert m.at("AT+CWMODE?") == b"AT+CWMODE?\r\n+CWMODE:2\r\n\r\nOK\r\n"


def test_restore_brings_back_station_mode(m):
    m.ok("AT+CWMODE=0")
    m.ok("AT+RESTORE")
    m.wait_ready()
    assert m.at("AT+CWMODE?") == b"AT+CWMODE?\r\n+CWMODE:1\r\n\r\nOK\r\n"


def test_sleep_follows_the_mode(m):
    m.ok("AT+CWMODE=0")
    assert m.at("AT+SLEEP=1") == b"\r\nOK\r\n"  # accepted without effect while off
    m.ok("AT+CWMODE=2")
    assert m.error_code("AT+SLEEP=1") == code(0x0A)  # modem sleep needs station mode
    m.ok("AT+CWMODE=1")
    assert m.at("AT+SLEEP=3") == b"\r\nOK\r\n"
    assert m.ok("AT+SLEEP?") == b"+SLEEP:3\r\n\r\nOK\r\n"


def test_rfpower_needs_wifi_on(m):
    m.ok("AT+CWMODE=0")
    assert m.error_code("AT+RFPOWER?") == code(0x0A)
    m.ok("AT+CWMODE=2")
    assert m.ok("AT+RFPOWER?") == b"+RFPOWER:78\r\n\r\nOK\r\n"


# -- AT+CWINIT ---------------------------------------------------------------


def test_cwinit(m):
    assert m.ok("AT+CWINIT?") == b"+CWINIT:1\r\n\r\nOK\r\n"
    assert m.at("AT+CWINIT=1") == b"\r\nOK\r\n"
    assert m.error_code("AT+CWINIT=0") == no_api(0)  # no esp_wifi_deinit() binding
    assert m.error_code("AT+CWINIT=2") == code(PARA_INVALID, 0)
    assert m.error_code("AT+CWINIT") == code(WRONG_FORM)
    assert m.error_code("AT+CWINIT=?") == code(WRONG_FORM)
    assert m.ok("AT+CWINIT?") == b"+CWINIT:1\r\n\r\nOK\r\n"


# -- AT+CWAUTOCONN -------------------------------------------------------------


def test_autoconn_is_always_saved(m):
    assert m.ok("AT+CWAUTOCONN?") == b"+CWAUTOCONN:1\r\n\r\nOK\r\n"
    m.ok("AT+SYSSTORE=0")
    assert m.at("AT+CWAUTOCONN=0") == b"\r\nOK\r\n"
    m = restart(m)
    assert m.ok("AT+CWAUTOCONN?") == b"+CWAUTOCONN:0\r\n\r\nOK\r\n"
    assert m.error_code("AT+CWAUTOCONN=2") == code(PARA_INVALID, 0)
    assert m.error_code("AT+CWAUTOCONN=1,1") == count(1, 2)
    assert m.error_code("AT+CWAUTOCONN") == code(WRONG_FORM)


# -- AT+CWRECONNCFG -------------------------------------------------------------


def test_reconncfg_query_set_and_save(m):
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:0,0\r\n\r\nOK\r\n"
    assert m.at("AT+CWRECONNCFG=5,100") == b"\r\nOK\r\n"
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:5,100\r\n\r\nOK\r\n"
    assert m.at("AT+CWRECONNCFG=7200,1000,1") == b"\r\nOK\r\n"  # nothing to reconnect to
    m = restart(m)
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:7200,1000\r\n\r\nOK\r\n"


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CWRECONNCFG=7201,0", code(PARA_INVALID, 0)),
        ("AT+CWRECONNCFG=-1,0", code(PARA_INVALID, 0)),
        ("AT+CWRECONNCFG=1,1001", code(PARA_INVALID, 1)),
        ("AT+CWRECONNCFG=1,1,2", code(PARA_INVALID, 2)),
        ("AT+CWRECONNCFG=1", count(2, 1)),
        ("AT+CWRECONNCFG=1,1,1,1", count(3, 4)),
        ('AT+CWRECONNCFG="1",1', code(PARA_TYPE, 0)),
        ("AT+CWRECONNCFG", code(WRONG_FORM)),
    ],
)
def test_reconncfg_errors(m, command, error):
    assert m.error_code(command) == error
    assert m.ok("AT+CWRECONNCFG?") == b"+CWRECONNCFG:0,0\r\n\r\nOK\r\n"


# -- AT+CWCOUNTRY ------------------------------------------------------------------


def test_country_query_and_set(m):
    # network.country() says "XX" until set; the channel range is the one given.
    assert m.ok("AT+CWCOUNTRY?") == b'+CWCOUNTRY:0,"XX",1,13\r\n\r\nOK\r\n'
    assert m.at('AT+CWCOUNTRY=1,"US",1,11') == b"\r\nOK\r\n"
    assert m.ok("AT+CWCOUNTRY?") == b'+CWCOUNTRY:1,"US",1,11\r\n\r\nOK\r\n'
    assert m.at('AT+CWCOUNTRY=0,"CN",1,13') == b"\r\nOK\r\n"
    assert m.ok("AT+CWCOUNTRY?") == b'+CWCOUNTRY:0,"CN",1,13\r\n\r\nOK\r\n'
    m.ok("AT+RST")
    m.wait_ready()
    assert m.at("AT+CWCOUNTRY?") == b'AT+CWCOUNTRY?\r\n+CWCOUNTRY:0,"XX",1,13\r\n\r\nOK\r\n'  # never saved


@pytest.mark.parametrize(
    "command, error",
    [
        ('AT+CWCOUNTRY=2,"CN",1,13', code(PARA_INVALID, 0)),
        ('AT+CWCOUNTRY=0,"C",1,13', code(PARA_LENGTH, 1)),
        ('AT+CWCOUNTRY=0,"CNXX",1,13', code(PARA_LENGTH, 1)),
        ('AT+CWCOUNTRY=0,"CN",0,13', code(PARA_INVALID, 2)),
        ('AT+CWCOUNTRY=0,"CN",15,1', code(PARA_INVALID, 2)),
        ('AT+CWCOUNTRY=0,"CN",2,14', code(PARA_INVALID, 3)),
        ('AT+CWCOUNTRY=0,"CN",1', count(4, 3)),
        ("AT+CWCOUNTRY=0,CN,1,13", code(PARA_TYPE, 1)),
        ("AT+CWCOUNTRY", code(WRONG_FORM)),
    ],
)
def test_country_errors(m, command, error):
    assert m.error_code(command) == error
    assert m.ok("AT+CWCOUNTRY?") == b'+CWCOUNTRY:0,"XX",1,13\r\n\r\nOK\r\n'


def test_cwstate_has_only_the_query(m):
    assert m.error_code("AT+CWSTATE") == code(WRONG_FORM)
    assert m.error_code("AT+CWSTATE=1") == code(WRONG_FORM)
    assert m.error_code("AT+CWSTATE=?") == code(WRONG_FORM)
