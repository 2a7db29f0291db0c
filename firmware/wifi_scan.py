# Scanning: AT+CWLAPOPT and AT+CWLAP.
#
# WLAN.scan() takes no parameters and returns (ssid, bssid, channel, RSSI,
# authmode, hidden) for every AP heard: the filters of AT+CWLAP=... are
# applied to its result, passive scans and scan times have no API. Of the
# eleven fields of a +CWLAP line only <ecn>, <ssid>, <rssi>, <mac> and
# <channel> come from the scan; the others are printed as what ESP-AT calls
# them or as unknown: <freq_offset> and <freqcal_val> are reserved (0), the
# ciphers are 7 (ESP-AT's "unknown"), <bgn> and <wps> are 0 (nothing known).
from micropython import const

from firmware import addr, errors, params, radio

_UNKNOWN_CIPHER = const(7)
_MASK_ALL = const(0x7FF)
_TURN_MS = const(10)

_sort = 0  # <reserved> (the old <sort_enable>): 1 orders by RSSI
_mask = _MASK_ALL  # <print mask>
_RSSI_MIN = const(-100)  # <rssi filter>: all
_AUTH_ALL = const(0xFFFF)  # <authmode mask>: all
_rssi_min = _RSSI_MIN
_auth_mask = _AUTH_ALL


def cwlapopt_set(at, args):
    global _sort, _mask, _rssi_min, _auth_mask
    params.count(args, 2, 4)
    sort = params.int_at(args, 0, 0, 1, 0)
    mask = params.int_at(args, 1, 0, _MASK_ALL)
    rssi_min = params.int_at(args, 2, _RSSI_MIN, 40, _RSSI_MIN)
    auth_mask = params.int_at(args, 3, 0, _AUTH_ALL, _AUTH_ALL)
    _sort, _mask, _rssi_min, _auth_mask = sort, mask, rssi_min, auth_mask


def cwlap_execute(at):
    return _list(at, None, None, 0, 0)


def cwlap_set(at, args):
    params.count(args, 1, 7)
    ssid = params.str_at(args, 0, 32, None)
    mac = addr.mac_at(args, 1, None)
    channel = params.int_at(args, 2, 0, 14, 0)
    scan_type = params.int_at(args, 3, 0, 1, 0)
    time_min = params.int_at(args, 4, 0, 1500, 0)
    time_max = params.int_at(args, 5, 0, 1500, 0)
    bitmap = params.int_at(args, 6, 0, 0x7FFE, 0)
    if scan_type:
        raise errors.no_api(3)  # scan() is always active
    if time_min:
        raise errors.no_api(4)  # and takes the driver's default times
    if time_max:
        raise errors.no_api(5)
    return _list(at, ssid, mac, channel, bitmap)


def _list(at, ssid, mac, channel, bitmap):
    """Generator: scan (blocking), then print the listing in one go."""
    wlan = radio.sta()
    if not wlan.active():
        raise errors.failed()  # scanning needs the station
    try:
        found = wlan.scan()
    except OSError:
        raise errors.failed()
    # The loop turns once before the listing, so that what the host sent
    # during the scan gets "busy p..." first, as on ESP-AT.
    yield _TURN_MS
    if _sort:
        found.sort(key=lambda r: -r[3])
    want_ssid = ssid.encode() if ssid is not None else None
    for record in found:
        r_ssid, bssid, r_channel, rssi, authmode = record[0], record[1], record[2], record[3], record[4]
        if want_ssid is not None and r_ssid != want_ssid:
            continue
        if mac is not None and bssid != mac:
            continue
        if channel and r_channel != channel:
            continue
        if not channel and bitmap and not bitmap >> r_channel & 1:
            continue
        if rssi < _rssi_min or not _auth_mask >> authmode & 1:
            continue
        at.write(_line(r_ssid, bssid, r_channel, rssi, authmode))


def _line(ssid, bssid, channel, rssi, authmode):
    fields = (
        b"%d" % authmode,
        b'"%s"' % ssid,
        b"%d" % rssi,
        b'"%s"' % addr.mac_text(bssid),
        b"%d" % channel,
        b"0",  # <freq_offset>: reserved
        b"0",  # <freqcal_val>: reserved
        b"%d" % _UNKNOWN_CIPHER,  # <pairwise_cipher>
        b"%d" % _UNKNOWN_CIPHER,  # <group_cipher>
        b"0",  # <bgn>
        b"0",  # <wps>
    )
    shown = [fields[i] for i in range(11) if _mask >> i & 1]
    return b"+CWLAP:(" + b",".join(shown) + b")\r\n"


COMMANDS = (
    ("+CWLAPOPT", None, None, cwlapopt_set, None),
    ("+CWLAP", None, None, cwlap_set, cwlap_execute),
)


def register(at):
    radio.boot(at.settings)
    at.register(COMMANDS)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): only with
    AT+CWLAPOPT as at boot."""
    return _sort == 0 and _mask == _MASK_ALL and _rssi_min == _RSSI_MIN and _auth_mask == _AUTH_ALL
