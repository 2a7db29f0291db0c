"""Virtual modules sharing the air (--air): one module's SoftAP is heard in
another's scans, the other joins it and gets an address from its DHCP
server, and the SoftAP reports +STA_CONNECTED, +DIST_STA_IP and
+STA_DISCONNECTED. Also AT+CWSAP, AT+CWLIF, AT+CWQIF, AT+CWDHCPS and
AT+CIPAP."""

import re
import time

import pytest

from host_tests.codes import code, count, no_api, EXEC_FAIL, EXT_NO_API, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.radio import join, line_with, mac, make_world, restart, start, station_ip

OK = b"\r\nOK\r\n"


@pytest.fixture
def world(tmp_path):
    # Beacons lost for 1.5 s count as gone (the default world: 6 s).
    return make_world(tmp_path / "world.json", beacon_timeout_ms=1500)


@pytest.fixture
def ap(tmp_path, world):
    module = start(tmp_path / "ap", world=world, air=tmp_path / "air")
    module.ok("AT+CWMODE=2")
    module.ok('AT+CWSAP="MeshAP","password1",5,3')
    yield module
    module.stop()


@pytest.fixture
def sta(tmp_path, world):
    module = start(tmp_path / "sta", world=world, air=tmp_path / "air")
    yield module
    module.stop()


def ap_ip(module):
    return re.search(rb'\+CIPAP:ip:"([\d.]+)"', module.ok("AT+CIPAP?")).group(1).decode()


def test_join_another_modules_softap(ap, sta):
    ap_mac = mac(ap, "AT+CIPAPMAC")
    sta_mac = mac(sta, "AT+CIPSTAMAC")
    assert ap.ok("AT+CWSAP?") == b'+CWSAP:"MeshAP","password1",5,3,4,0\r\n\r\nOK\r\n'
    assert sta.at('AT+CWLAP="MeshAP"') == b'+CWLAP:(3,"MeshAP",-50,"%s",5,0,0,7,7,0,0)\r\n' % ap_mac.encode() + OK
    gateway = ap_ip(ap)
    prefix = gateway.rsplit(".", 1)[0]
    assert gateway.startswith("127.") and gateway.endswith(".1")
    join(sta, "MeshAP", "password1")
    assert sta.ok("AT+CIPSTA?") == (
        b'+CIPSTA:ip:"%s.2"\r\n+CIPSTA:gateway:"%s"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
        % (prefix.encode(), gateway.encode())
    )
    assert sta.ok("AT+CWJAP?") == b'+CWJAP:"MeshAP","",5,-50,0,1,3,0,1\r\n\r\nOK\r\n'
    # The SoftAP's side, in order.
    events = line_with(ap, b"+DIST_STA_IP", 2)
    assert events == b'+STA_CONNECTED:"%s"\r\n+DIST_STA_IP:"%s","%s.2"\r\n' % (
        sta_mac.encode(),
        sta_mac.encode(),
        prefix.encode(),
    )
    assert ap.ok("AT+CWLIF") == b"+CWLIF:%s.2,%s\r\n\r\nOK\r\n" % (prefix.encode(), sta_mac.encode())
    assert ap.ok("AT+CIFSR").startswith(b'+CIFSR:APIP,"%s"\r\n+CIFSR:APMAC,"%s"\r\n' % (gateway.encode(), ap_mac.encode()))
    # The station leaves.
    assert sta.at("AT+CWQAP") == OK
    assert line_with(ap, b"+STA_DISCONNECTED", 2) == b'+STA_DISCONNECTED:"%s"\r\n' % sta_mac.encode()
    assert ap.ok("AT+CWLIF") == OK


def test_wrong_password_gets_no_association(ap, sta):
    reply = sta.at('AT+CWJAP="MeshAP","password2"', 10)
    assert reply == b"+CWJAP:2\r\nERR CODE:0x010a0002\r\n\r\nERROR\r\n"
    assert ap.read_for(0.5) == b""
    assert ap.ok("AT+CWLIF") == OK


def test_open_and_hidden_softap(ap, sta):
    ap.ok('AT+CWSAP="Secret",\"\",1,0,4,1')
    assert ap.ok("AT+CWSAP?") == b'+CWSAP:"Secret","",1,0,4,1\r\n\r\nOK\r\n'
    ap_mac = mac(ap, "AT+CIPAPMAC").encode()
    listing = sta.ok("AT+CWLAP")
    assert b'+CWLAP:(0,"",-50,"%s",1,0,0,7,7,0,0)\r\n' % ap_mac in listing  # no name in the beacon
    assert b"Secret" not in listing
    join(sta, "Secret")


def test_cwqif_disconnects_every_station_and_they_come_back(ap, sta):
    join(sta, "MeshAP", "password1")
    line_with(ap, b"+DIST_STA_IP", 2)
    sta_mac = mac(sta, "AT+CIPSTAMAC").encode()
    assert ap.at("AT+CWQIF") == OK
    assert sta.read_until(b"WIFI DISCONNECT\r\n", 2) == b"WIFI DISCONNECT\r\n"
    assert ap.read_until(b"\r\n", 2) == b'+STA_DISCONNECTED:"%s"\r\n' % sta_mac
    # AT+CWJAP set a reconnection interval of 1 s.
    assert sta.read_until(b"WIFI GOT IP\r\n", 5) == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"
    assert ap.read_until(b"+DIST_STA_IP", 3).endswith(b'+STA_CONNECTED:"%s"\r\n+DIST_STA_IP' % sta_mac)


def test_softap_switched_off_and_on(ap, sta):
    join(sta, "MeshAP", "password1")
    line_with(ap, b"+DIST_STA_IP", 2)
    assert ap.at("AT+CWMODE=1") == OK
    assert sta.read_until(b"WIFI DISCONNECT\r\n", 2) == b"WIFI DISCONNECT\r\n"  # deauthenticated at once
    assert sta.ok("AT+CWSTATE?") == b'+CWSTATE:3,"MeshAP"\r\n\r\nOK\r\n'  # reconnecting
    assert ap.at("AT+CWMODE=2") == OK  # the SoftAP keeps its configuration
    assert sta.read_until(b"WIFI GOT IP\r\n", 8) == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"


def test_softap_module_crashes_and_comes_back(ap, sta):
    join(sta, "MeshAP", "password1")
    assert ap.control("kill") == "ok"  # no deauthentication: the beacons stop
    start_time = time.monotonic()
    assert sta.read_until(b"WIFI DISCONNECT\r\n", 4) == b"WIFI DISCONNECT\r\n"
    assert time.monotonic() - start_time > 1.0  # after the beacon timeout
    ap.wait_ready()  # the launcher restarts it: saved AT+CWMODE and AT+CWSAP
    assert sta.read_until(b"WIFI GOT IP\r\n", 10) == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"
    ap.ok("ATE0")
    ap.buffer = b""
    assert ap.ok("AT+CWLIF").startswith(b"+CWLIF:")


def test_softap_full(tmp_path, world, ap, sta):
    ap.ok('AT+CWSAP="MeshAP","password1",5,3,1')
    join(sta, "MeshAP", "password1")
    third = start(tmp_path / "third", world=world, air=tmp_path / "air")
    try:
        reply = third.at('AT+CWJAP="MeshAP","password1"', 10)
        assert reply == b"+CWJAP:4\r\nERR CODE:0x010a0004\r\n\r\nERROR\r\n"  # association refused
    finally:
        third.stop()


def test_station_mac_change_shows_on_the_softap(ap, sta):
    assert sta.at('AT+CIPSTAMAC="1a:fe:35:98:d3:7b"') == OK
    join(sta, "MeshAP", "password1")
    assert ap.read_until(b"\r\n", 2) == b'+STA_CONNECTED:"1a:fe:35:98:d3:7b"\r\n'
    assert ap.ok("AT+CWLIF").endswith(b",1a:fe:35:98:d3:7b\r\n\r\nOK\r\n")


def test_static_station_address_is_not_listed_with_an_ip(ap, sta):
    prefix = ap_ip(ap).rsplit(".", 1)[0]
    assert sta.at('AT+CIPSTA="%s.77"' % prefix) == OK
    join(sta, "MeshAP", "password1")
    assert station_ip(sta) == prefix + ".77"
    sta_mac = mac(sta, "AT+CIPSTAMAC").encode()
    assert ap.read_until(b"\r\n", 2) == b'+STA_CONNECTED:"%s"\r\n' % sta_mac
    assert ap.read_for(0.5) == b""  # no +DIST_STA_IP: no DHCP
    assert ap.ok("AT+CWLIF") == b"+CWLIF:0.0.0.0,%s\r\n\r\nOK\r\n" % sta_mac


def test_softap_address(ap, sta):
    assert ap.at('AT+CIPAP="127.50.0.1"') == OK
    assert ap.ok("AT+CIPAP?") == (
        b'+CIPAP:ip:"127.50.0.1"\r\n+CIPAP:gateway:"127.50.0.1"\r\n+CIPAP:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
    )
    join(sta, "MeshAP", "password1")
    assert station_ip(sta) == "127.50.0.2"
    assert line_with(ap, b"+DIST_STA_IP", 2).endswith(b',"127.50.0.2"\r\n')
    # A board difference: the virtual module only has loopback addresses.
    assert ap.error_code('AT+CIPAP="192.168.4.1"') == code(EXEC_FAIL)
    assert ap.error_code('AT+CIPAP="127.50.0"') == code(PARA_INVALID, 0)
    assert ap.error_code('AT+CIPAP="1.2.3"') == code(PARA_LENGTH, 0)
    assert ap.error_code('AT+CIPAP="127.50.0.1","127.50.0.1000","255.255.255.0"') == code(PARA_INVALID, 1)
    assert ap.error_code('AT+CIPAP="127.50.0.1","127.050.000.0001","255.255.255.0"') == code(PARA_LENGTH, 1)
    assert ap.error_code('AT+CIPAP="127.50.0.1","127.50.0.1","255.255.x.0"') == code(PARA_INVALID, 2)
    assert ap.error_code('AT+CIPAP="127.50.0.256"') == code(PARA_INVALID, 0)
    assert ap.error_code('AT+CIPAP="127.50.0.1","127.50.0.1","255.255.255.0",1') == count(3, 4)
    ap = restart(ap)
    assert ap.ok("AT+CIPAP?").startswith(b'+CIPAP:ip:"127.50.0.1"\r\n')


def test_softap_configuration_is_saved(ap):
    ap.ok('AT+CWSAP="Saved","password9",3,4,2,1')
    ap = restart(ap)
    assert ap.ok("AT+CWSAP?") == b'+CWSAP:"Saved","password9",3,4,2,1\r\n\r\nOK\r\n'
    ap.ok("AT+SYSSTORE=0")
    ap.ok('AT+CWSAP="NotSaved","password8",2,3')
    ap = restart(ap)
    assert ap.ok("AT+CWSAP?") == b'+CWSAP:"Saved","password9",3,4,2,1\r\n\r\nOK\r\n'


@pytest.mark.parametrize(
    "command, error",
    [
        ('AT+CWSAP="X","password1",5,1', code(PARA_INVALID, 3)),  # WEP
        ('AT+CWSAP="X","passwd",5,3', code(PARA_LENGTH, 1)),
        ('AT+CWSAP="X","%s",5,3' % ("k" * 64), no_api(1)),  # the driver keeps 63
        ('AT+CWSAP="X","%s",5,3' % ("k" * 65), code(PARA_LENGTH, 1)),
        ('AT+CWSAP="%s","password1",5,3' % ("s" * 33), code(PARA_LENGTH, 0)),
        ('AT+CWSAP="","password1",5,3', code(PARA_LENGTH, 0)),
        ('AT+CWSAP="X","password1",0,3', code(PARA_INVALID, 2)),
        ('AT+CWSAP="X","password1",15,3', code(PARA_INVALID, 2)),
        ('AT+CWSAP="X","password1",12,3', code(EXEC_FAIL)),  # not in the driver's default country
        ('AT+CWSAP="X","password1",5,5', code(PARA_INVALID, 3)),
        ('AT+CWSAP="X","password1",5,3,11', code(PARA_INVALID, 4)),
        ('AT+CWSAP="X","password1",5,3,0', code(PARA_INVALID, 4)),
        ('AT+CWSAP="X","password1",5,3,4,2', code(PARA_INVALID, 5)),
        ('AT+CWSAP="X","password1",5', count(4, 3)),
        ('AT+CWSAP="X","password1",5,3,4,0,1', count(6, 7)),
        ('AT+CWSAP=X,"password1",5,3', code(PARA_TYPE, 0)),
        ("AT+CWSAP", code(WRONG_FORM)),
        ("AT+CWSAP=?", code(WRONG_FORM)),
    ],
)
def test_cwsap_errors(ap, command, error):
    assert ap.error_code(command) == error
    assert ap.ok("AT+CWSAP?") == b'+CWSAP:"MeshAP","password1",5,3,4,0\r\n\r\nOK\r\n'


def test_softap_commands_need_softap_mode(sta):
    for command in ("AT+CWSAP?", 'AT+CWSAP="X","password1",5,3', "AT+CWLIF", "AT+CWQIF", "AT+CWDHCPS=0", "AT+CIPAP?"):
        assert sta.error_code(command) == code(EXEC_FAIL), command


def test_cwqif_for_one_station_has_no_api(ap):
    assert ap.error_code('AT+CWQIF="1a:fe:35:98:d3:7b"') == no_api(0)
    assert ap.error_code('AT+CWQIF="1a:fe:35:98:d3"') == code(PARA_LENGTH, 0)
    assert ap.error_code('AT+CWQIF="1a:fe:35:98:d3:7x"') == code(PARA_INVALID, 0)
    assert ap.error_code("AT+CWQIF=1") == code(PARA_TYPE, 0)
    assert ap.error_code("AT+CWQIF?") == code(WRONG_FORM)


def test_dhcp_server_range(ap):
    assert ap.error_code("AT+CWDHCPS?") == code(EXEC_FAIL, EXT_NO_API)
    assert ap.at("AT+CWDHCPS=0") == OK  # the default range: all the port has
    prefix = ap_ip(ap).rsplit(".", 1)[0]
    assert ap.error_code('AT+CWDHCPS=1,3,"%s.10","%s.15"' % (prefix, prefix)) == no_api(0)
    assert ap.error_code('AT+CWDHCPS=1,0,"%s.10","%s.15"' % (prefix, prefix)) == code(PARA_INVALID, 1)
    assert ap.error_code('AT+CWDHCPS=1,2881,"%s.10","%s.15"' % (prefix, prefix)) == code(PARA_INVALID, 1)
    assert ap.error_code('AT+CWDHCPS=1,3,"%s.20","%s.15"' % (prefix, prefix)) == code(PARA_INVALID, 3)
    assert ap.error_code('AT+CWDHCPS=1,3,"%s.10"' % prefix) == count(4, 3)
    assert ap.error_code("AT+CWDHCPS=0,3") == count(1, 2)
    assert ap.error_code("AT+CWDHCPS=2") == code(PARA_INVALID, 0)
    assert ap.error_code("AT+CWDHCPS") == code(WRONG_FORM)
