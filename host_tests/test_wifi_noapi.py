"""Wi-Fi commands MicroPython on the ESP32 has no API for: SmartConfig, WPS,
WPA2-Enterprise, mDNS services. Their parameters are checked as ESP-AT
checks them; valid ones get ERR CODE:0x010af000 (no API), never a fake OK."""

import pytest

from host_tests.radio import start
from host_tests.codes import code, count, no_api, EXEC_FAIL, EXT_NO_API, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM

NO_API = code(EXEC_FAIL, EXT_NO_API)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    module = start(tmp_path_factory.mktemp("noapi") / "m")
    yield module
    module.stop()


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CWSTARTSMART", NO_API),
        ("AT+CWSTARTSMART=1", NO_API),
        ("AT+CWSTARTSMART=3,0", NO_API),
        ('AT+CWSTARTSMART=4,3,"0123456789abcdef"', NO_API),
        ("AT+CWSTARTSMART=0", code(PARA_INVALID, 0)),
        ("AT+CWSTARTSMART=5", code(PARA_INVALID, 0)),
        ("AT+CWSTARTSMART=1,16", code(PARA_INVALID, 1)),
        ('AT+CWSTARTSMART=4,0,"short"', code(PARA_LENGTH, 2)),
        ("AT+CWSTARTSMART=1,0,1", code(PARA_TYPE, 2)),
        ("AT+CWSTARTSMART=1,0,,1", count(3, 4)),
        ("AT+CWSTARTSMART?", code(WRONG_FORM)),
        ("AT+CWSTOPSMART", NO_API),
        ("AT+CWSTOPSMART=1", code(WRONG_FORM)),
        ("AT+WPS=1", NO_API),
        ("AT+WPS=0", NO_API),
        ("AT+WPS=1,3", NO_API),
        ("AT+WPS=2", code(PARA_INVALID, 0)),
        ("AT+WPS=1,16", code(PARA_INVALID, 1)),
        ("AT+WPS=1,1,1", count(2, 3)),
        ("AT+WPS", code(WRONG_FORM)),
        ("AT+WPS?", code(WRONG_FORM)),
        ('AT+CWJEAP="corp",0,"me@example.com",,,3', NO_API),  # EAP-TLS: no phase 2
        ('AT+CWJEAP="corp",1,"me@example.com","user","pass",0', NO_API),
        ('AT+CWJEAP="corp",1,"me","user","pass",0,15,-70,"02:00:00:00:04:04",11,1,1', NO_API),
        ("AT+CWJEAP?", NO_API),
        ('AT+CWJEAP="corp",1,"me@example.com",,,0', code(PARA_INVALID, 3)),  # PEAP needs a username
        ('AT+CWJEAP="corp",3,"me",,,0', code(PARA_INVALID, 1)),
        ('AT+CWJEAP="corp",0,"",,,0', code(PARA_LENGTH, 2)),
        ('AT+CWJEAP="corp",0,"me",,,4', code(PARA_INVALID, 5)),
        ('AT+CWJEAP="corp",0,"me",,,0,2', code(PARA_INVALID, 6)),
        ('AT+CWJEAP="corp",0,"me",,,0,,,"02:00:00"', code(PARA_LENGTH, 8)),
        ('AT+CWJEAP="corp",0,"me",,,0,,,,,,2', code(PARA_INVALID, 11)),
        ('AT+CWJEAP="corp",0,"me",,', count(6, 5)),
        ("AT+CWJEAP", code(WRONG_FORM)),
        # AT+MDNS: the port's responder only announces network.hostname().
        ('AT+MDNS=1,"espressif","_iot",8080', no_api(2)),
        ('AT+MDNS=1,"espressif","_iot",8080,"inst","_tcp",1,"version","1.0"', no_api(2)),
        ("AT+MDNS=0", no_api(0)),
        ('AT+MDNS=2,0,"_printer","_tcp"', no_api(0)),
        ('AT+MDNS=2,4,"host",1000,5', no_api(0)),
        ('AT+MDNS=1,"espressif","_iot"', count(4, 3)),
        ('AT+MDNS=1,"espressif","_iot",65536', code(PARA_INVALID, 3)),
        ('AT+MDNS=1,"espressif","_iot",80,"i","_tcp",2,"k","v"', count(11, 9)),
        ("AT+MDNS=0,1", count(1, 2)),
        ("AT+MDNS=3", code(PARA_INVALID, 0)),
        ('AT+MDNS=2,7,"x"', code(PARA_INVALID, 1)),
        ('AT+MDNS=2,4,"host",999', code(PARA_INVALID, 3)),
        ("AT+MDNS?", code(WRONG_FORM)),
    ],
)
def test_no_api_commands(shared, command, error):
    assert shared.error_code(command) == error
    assert shared.read_for(0.05) == b""  # nothing started behind the ERROR
