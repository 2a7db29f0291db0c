"""Interface addresses over the pty: AT+CIPSTAMAC, AT+CIPAPMAC, AT+CIPSTA
(static address versus DHCP), AT+CWDHCP, AT+CWHOSTNAME, AT+CIFSR and
AT+CIPSTATUS, with their persistence."""

import pytest

from host_tests.codes import code, count, no_api, EXEC_FAIL, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.radio import join, mac, restart, start, station_ip

OK = b"\r\nOK\r\n"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One module for the tests that must change nothing."""
    module = start(tmp_path_factory.mktemp("netif") / "m")
    yield module
    module.stop()


# -- MAC addresses ---------------------------------------------------------------


def test_macs_are_the_base_mac_and_its_neighbours(m):
    """As ESP-IDF derives them: the base MAC's last byte plus 1 (SoftAP) or
    3 (Ethernet), wrapping within that byte (esp_read_mac adds to mac[5])."""
    sta = mac(m, "AT+CIPSTAMAC")
    assert sta.startswith("24:0a:c4:")  # Espressif's OUI
    head, last = sta[:-2], int(sta[-2:], 16)
    assert mac(m, "AT+CIPAPMAC") == head + "%02x" % ((last + 1) & 0xFF)
    assert mac(m, "AT+CIPETHMAC") == head + "%02x" % ((last + 3) & 0xFF)
    assert m.ok("AT+CIFSR").count(sta.encode()) == 1


def test_each_module_has_its_own_mac(tmp_path, m):
    other = start(tmp_path / "other")
    try:
        assert mac(other, "AT+CIPSTAMAC") != mac(m, "AT+CIPSTAMAC")
    finally:
        other.stop()


def test_mac_is_kept_in_the_state_folder(m):
    before = mac(m, "AT+CIPSTAMAC")
    m = restart(m)
    assert mac(m, "AT+CIPSTAMAC") == before


def test_station_mac_set_query_and_save(m):
    assert m.at('AT+CIPSTAMAC="1A:FE:35:98:D3:7B"') == OK
    assert m.ok("AT+CIPSTAMAC?") == b'+CIPSTAMAC:"1a:fe:35:98:d3:7b"\r\n\r\nOK\r\n'
    assert b'+CIFSR:STAMAC,"1a:fe:35:98:d3:7b"' in m.ok("AT+CIFSR")
    m = restart(m)
    assert m.ok("AT+CIPSTAMAC?") == b'+CIPSTAMAC:"1a:fe:35:98:d3:7b"\r\n\r\nOK\r\n'
    m.ok("AT+SYSSTORE=0")
    m.ok('AT+CIPSTAMAC="1a:fe:35:98:d3:7c"')
    m = restart(m)
    assert m.ok("AT+CIPSTAMAC?") == b'+CIPSTAMAC:"1a:fe:35:98:d3:7b"\r\n\r\nOK\r\n'


def test_softap_mac_is_applied_when_the_softap_comes_up(m):
    m.ok("AT+CWMODE=3")
    assert m.at('AT+CIPAPMAC="18:fe:35:98:d3:7b"') == OK
    m.ok("AT+CWMODE=1")
    assert m.error_code('AT+CIPAPMAC="18:fe:35:98:d3:7c"') == code(EXEC_FAIL)  # SoftAP off
    m = restart(m)
    m.ok("AT+CWMODE=2")
    assert m.ok("AT+CIPAPMAC?") == b'+CIPAPMAC:"18:fe:35:98:d3:7b"\r\n\r\nOK\r\n'
    assert m.ok("AT+CWSAP?").startswith(b'+CWSAP:"ESP_')


@pytest.mark.parametrize(
    "command, error",
    [
        ('AT+CIPSTAMAC="15:fe:35:98:d3:7b"', code(PARA_INVALID, 0)),  # multicast bit
        ('AT+CIPSTAMAC="ff:ff:ff:ff:ff:ff"', code(PARA_INVALID, 0)),
        ('AT+CIPSTAMAC="00:00:00:00:00:00"', code(PARA_INVALID, 0)),
        ('AT+CIPSTAMAC="1a:fe:35:98:d3"', code(PARA_LENGTH, 0)),
        ('AT+CIPSTAMAC="1a-fe-35-98-d3-7b"', code(PARA_INVALID, 0)),
        ('AT+CIPSTAMAC="1a:fe:35:98:d3:7b",1', count(1, 2)),
        ("AT+CIPSTAMAC=1", code(PARA_TYPE, 0)),
        ("AT+CIPSTAMAC", code(WRONG_FORM)),
        ("AT+CIPSTAMAC=?", code(WRONG_FORM)),
    ],
)
def test_mac_errors(shared, command, error):
    before = shared.ok("AT+CIPSTAMAC?")
    assert shared.error_code(command) == error
    assert shared.ok("AT+CIPSTAMAC?") == before


def test_station_and_softap_macs_must_differ(m):
    m.ok("AT+CWMODE=3")
    ap_mac = mac(m, "AT+CIPAPMAC")
    assert m.error_code('AT+CIPSTAMAC="%s"' % ap_mac) == code(EXEC_FAIL)


# -- static address versus DHCP ---------------------------------------------------------


def test_static_address_then_dhcp_again(m):
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:7\r\n\r\nOK\r\n"
    assert m.at('AT+CIPSTA="127.0.1.50","127.0.1.1","255.255.255.0"') == OK
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:6\r\n\r\nOK\r\n"  # station DHCP off
    join(m, "OpenNet")
    assert station_ip(m) == "127.0.1.50"
    assert m.ok("AT+CIPSTA?") == (
        b'+CIPSTA:ip:"127.0.1.50"\r\n+CIPSTA:gateway:"127.0.1.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
    )
    m = restart(m)  # saved, and the AP joined again with it
    assert m.read_until(b"WIFI GOT IP\r\n", 5).endswith(b"WIFI GOT IP\r\n")
    assert station_ip(m) == "127.0.1.50"
    assert m.at("AT+CWDHCP=1,1") == OK
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:7\r\n\r\nOK\r\n"
    m.at("AT+CWQAP")
    m.read_until(b"WIFI DISCONNECT\r\n", 2)
    join(m, "OpenNet")
    assert station_ip(m) == "127.0.1.2"


def test_static_address_while_connected_takes_effect_at_once(m):
    join(m, "HomeWPA2", "correct horse")
    assert station_ip(m) == "127.0.2.2"
    assert m.at('AT+CIPSTA="127.0.2.99"') == OK  # gateway .1 and /24 by default
    assert m.ok("AT+CIPSTA?") == (
        b'+CIPSTA:ip:"127.0.2.99"\r\n+CIPSTA:gateway:"127.0.2.1"\r\n+CIPSTA:netmask:"255.255.255.0"\r\n\r\nOK\r\n'
    )
    assert m.read_for(0.5) == b""  # still connected


def test_static_address_must_be_loopback_on_the_virtual_module(m):
    assert m.error_code('AT+CIPSTA="192.168.6.100","192.168.6.1","255.255.255.0"') == code(EXEC_FAIL)
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:7\r\n\r\nOK\r\n"


@pytest.mark.parametrize(
    "command, error",
    [
        ('AT+CIPSTA="127.0.1"', code(PARA_INVALID, 0)),
        ('AT+CIPSTA="1.2.3"', code(PARA_LENGTH, 0)),
        ('AT+CIPSTA="127.0.1.300"', code(PARA_INVALID, 0)),
        ('AT+CIPSTA="127.0.1.5","127.0.1.x","255.255.255.0"', code(PARA_INVALID, 1)),
        ('AT+CIPSTA="127.0.1.5",,"255.255.255.0"', code(PARA_INVALID, 1)),
        ('AT+CIPSTA="127.0.1.5","127.0.1.1",', code(PARA_INVALID, 2)),
        ('AT+CIPSTA="127.0.1.5","127.0.1.1"', count(3, 2)),
        ('AT+CIPSTA="127.0.1.5","127.0.1.1","255.255.255.0",1', count(3, 4)),
        ("AT+CIPSTA=127", code(PARA_TYPE, 0)),
        ("AT+CIPSTA", code(WRONG_FORM)),
        ("AT+CWDHCP=2,1", code(PARA_INVALID, 0)),
        ("AT+CWDHCP=1,8", code(PARA_INVALID, 1)),
        ("AT+CWDHCP=1", count(2, 1)),
        ("AT+CWDHCP=0,2", no_api(1)),  # the SoftAP's DHCP server cannot be stopped
        ("AT+CWDHCP=0,3", no_api(1)),
        ("AT+CWDHCP", code(WRONG_FORM)),
    ],
)
def test_address_errors_change_nothing(shared, command, error):
    assert shared.error_code(command) == error
    assert shared.ok("AT+CWDHCP?") == b"+CWDHCP:7\r\n\r\nOK\r\n"
    assert shared.ok("AT+CIPSTA?").startswith(b'+CIPSTA:ip:"0.0.0.0"\r\n')


def test_dhcp_bits(m):
    assert m.at("AT+CWDHCP=1,2") == OK  # already on
    assert m.at("AT+CWDHCP=0,1") == OK
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:6\r\n\r\nOK\r\n"
    assert m.at("AT+CWDHCP=0,4") == OK  # Ethernet
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:2\r\n\r\nOK\r\n"
    assert m.at("AT+CWDHCP=1,5") == OK
    assert m.ok("AT+CWDHCP?") == b"+CWDHCP:7\r\n\r\nOK\r\n"
    assert m.at("AT+CWDHCP=0,0") == OK


def test_station_address_commands_need_station_mode(m):
    m.ok("AT+CWMODE=2")
    assert m.error_code("AT+CIPSTA?") == code(EXEC_FAIL)
    assert m.error_code('AT+CIPSTA="127.0.1.50"') == code(EXEC_FAIL)
    assert m.error_code('AT+CIPSTAMAC="1a:fe:35:98:d3:7b"') == code(EXEC_FAIL)
    assert m.error_code('AT+CWHOSTNAME="x"') == code(EXEC_FAIL)


# -- AT+CWHOSTNAME --------------------------------------------------------------------


def test_hostname(m):
    assert m.ok("AT+CWHOSTNAME?") == b"+CWHOSTNAME:mpy-esp32\r\n\r\nOK\r\n"  # the port's default
    assert m.at('AT+CWHOSTNAME="my_test"') == OK
    assert m.ok("AT+CWHOSTNAME?") == b"+CWHOSTNAME:my_test\r\n\r\nOK\r\n"
    assert m.error_code('AT+CWHOSTNAME="%s"' % ("h" * 33)) == code(PARA_LENGTH, 0)
    assert m.error_code('AT+CWHOSTNAME=""') == code(PARA_LENGTH, 0)
    assert m.error_code("AT+CWHOSTNAME") == code(WRONG_FORM)
    m.ok("AT+RST")
    m.wait_ready()
    assert m.at("AT+CWHOSTNAME?") == b"AT+CWHOSTNAME?\r\n+CWHOSTNAME:mpy-esp32\r\n\r\nOK\r\n"  # not saved


# -- AT+CIFSR, AT+CIPSTATUS --------------------------------------------------------------


def test_cifsr_follows_the_interfaces(m):
    sta = mac(m, "AT+CIPSTAMAC").encode()
    eth = mac(m, "AT+CIPETHMAC").encode()
    assert m.ok("AT+CIFSR") == (
        b'+CIFSR:STAIP,"0.0.0.0"\r\n+CIFSR:STAMAC,"%s"\r\n+CIFSR:ETHIP,"0.0.0.0"\r\n+CIFSR:ETHMAC,"%s"\r\n\r\nOK\r\n'
        % (sta, eth)
    )
    join(m, "OpenNet")
    assert m.ok("AT+CIFSR").startswith(b'+CIFSR:STAIP,"127.0.1.2"\r\n+CIFSR:STAMAC,"%s"\r\n' % sta)
    m.ok("AT+CWMODE=0")
    m.read_until(b"WIFI DISCONNECT\r\n", 2)
    assert m.ok("AT+CIFSR") == b'+CIFSR:ETHIP,"0.0.0.0"\r\n+CIFSR:ETHMAC,"%s"\r\n\r\nOK\r\n' % eth
    assert m.error_code("AT+CIFSR?") == code(WRONG_FORM)


def test_cipstatus_wifi_part(m):
    assert m.ok("AT+CIPSTATUS") == b"STATUS:1\r\n\r\nOK\r\n"
    join(m, "OpenNet")
    assert m.ok("AT+CIPSTATUS") == b"STATUS:2\r\n\r\nOK\r\n"
    m.at('AT+CWJAP="NoSuchNet",""', 10)
    assert m.ok("AT+CIPSTATUS") == b"STATUS:5\r\n\r\nOK\r\n"
    m.ok("AT+CWMODE=2")
    assert m.ok("AT+CIPSTATUS") == b"STATUS:0\r\n\r\nOK\r\n"
    assert m.error_code("AT+CIPSTATUS?") == code(WRONG_FORM)
