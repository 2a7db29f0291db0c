# Wi-Fi commands MicroPython on the ESP32 has no API for: SmartConfig
# (AT+CWSTARTSMART, AT+CWSTOPSMART), WPS (AT+WPS) and WPA2/WPA3-Enterprise
# (AT+CWJEAP). The port binds none of esp_smartconfig, esp_wps or
# esp_eap_client. Each command still checks its parameters as ESP-AT does,
# so a host gets the ordinary parameter errors first, then
# ERR CODE:0x010af000 (README, "Error codes").
from micropython import const

from firmware import addr, errors, params

_AUTH_MAX = const(15)


def cwstartsmart_execute(at):
    raise errors.no_api()


def cwstartsmart_set(at, args):
    params.count(args, 1, 3)
    params.int_at(args, 0, 1, 4)  # 1 ESP-Touch, 2 AirKiss, 3 both, 4 ESP-Touch v2
    params.int_at(args, 1, 0, _AUTH_MAX, 0)  # <auth floor>
    params.str_at(args, 2, 16, None, 16)  # <"esptouch v2 key">
    raise errors.no_api()


def cwstopsmart_execute(at):
    raise errors.no_api()


def wps_set(at, args):
    params.count(args, 1, 2)
    params.int_at(args, 0, 0, 1)
    params.int_at(args, 1, 0, _AUTH_MAX, 0)
    raise errors.no_api()


def cwjeap_query(at):
    raise errors.no_api()


def cwjeap_set(at, args):
    params.count(args, 6, 12)
    params.str_at(args, 0, 32, params.REQUIRED, 1)  # ssid
    method = params.int_at(args, 1, 0, 2)  # 0 EAP-TLS, 1 EAP-PEAP, 2 EAP-TTLS
    params.str_at(args, 2, 32, params.REQUIRED, 1)  # identity
    # Phase 2 username and password: needed by PEAP and TTLS only.
    required = params.REQUIRED if method else None
    params.str_at(args, 3, 32, required, 1)
    params.str_at(args, 4, 32, required, 1)
    params.int_at(args, 5, 0, 3)  # <security>
    params.int_at(args, 6, 3, 600, 15)  # <jeap_timeout>
    params.int_at(args, 7, -128, 127, -127)  # <rssi>
    addr.mac_at(args, 8, None)  # <"bssid">
    params.int_at(args, 9, 1, 14, 1)  # <channel>
    params.int_at(args, 10, 0, 1, 0)  # <scan_mode>
    params.int_at(args, 11, 0, 1, 0)  # <auth_mode>: the ESP32 has no 192-bit mode
    raise errors.no_api()


COMMANDS = (
    ("+CWSTARTSMART", None, None, cwstartsmart_set, cwstartsmart_execute),
    ("+CWSTOPSMART", None, None, None, cwstopsmart_execute),
    ("+WPS", None, None, wps_set, None),
    ("+CWJEAP", None, cwjeap_query, cwjeap_set, None),
)


def register(at):
    at.register(COMMANDS)


def unload(at):
    # Nothing of this group outlives a command: it can go (firmware/at.py, make_room).
    return True
