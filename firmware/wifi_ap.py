# The SoftAP: AT+CWSAP, AT+CWLIF, AT+CWQIF, AT+CWDHCPS, and the
# +STA_CONNECTED, +DIST_STA_IP and +STA_DISCONNECTED messages, from polling
# WLAN.status("stations") (the port reports no station events).
#
# The SoftAP's password cannot be read back from the driver: the one last
# set is kept here (and in NVS with the rest of AT+CWSAP when AT+SYSSTORE=1)
# and applied again whenever the SoftAP comes up.
import time

from micropython import const

from firmware import addr, errors, params, radio

_POLL_MS = const(250)
_MAX_CONN = const(10)  # ESP_WIFI_MAX_CONN_NUM on the ESP32

_at = None
_key = ""  # the SoftAP's password, as last set
_known: dict = {}  # station MAC -> its address (None until DHCP gave one)
_next_poll = 0


def _apply(old, new):
    """radio hook: the saved AT+CWSAP when the SoftAP comes up."""
    global _key
    if not new & radio.AP or old & radio.AP:
        return
    blob = _at.settings.get_bytes("cwsap")
    if not blob:
        return
    n = blob[0]
    ssid = blob[1 : 1 + n].decode()
    m = blob[1 + n]
    key = blob[2 + n : 2 + n + m].decode()
    channel, ecn, max_conn, hidden = blob[2 + n + m : 6 + n + m]
    try:
        radio.ap().config(ssid=ssid, key=key, channel=channel, security=ecn, max_clients=max_conn, hidden=bool(hidden))
        _key = key
    except (OSError, RuntimeError, ValueError) as e:
        print("[at] saved AT+CWSAP not applied:", e)


def _tick(now):
    global _next_poll
    if time.ticks_diff(now, _next_poll) < 0:
        return
    _next_poll = time.ticks_add(now, _POLL_MS)
    wlan = radio.ap()
    stations = wlan.status("stations") if wlan.active() else ()
    for mac, ip in stations:
        if mac not in _known:
            _known[mac] = None
            _at.urc(b'+STA_CONNECTED:"%s"\r\n' % addr.mac_text(mac))
        if ip is not None and _known[mac] != ip:
            _known[mac] = ip
            _at.urc(b'+DIST_STA_IP:"%s","%s"\r\n' % (addr.mac_text(mac), ip))
    if len(_known) != len(stations):
        for mac in list(_known):
            if not _listed(mac, stations):
                del _known[mac]
                _at.urc(b'+STA_DISCONNECTED:"%s"\r\n' % addr.mac_text(mac))


def _listed(mac, stations):
    for station in stations:
        if station[0] == mac:
            return True
    return False


def _need_ap():
    wlan = radio.ap()
    if not wlan.active():
        raise errors.failed()  # only in AT+CWMODE=2 or 3
    return wlan


# -- AT+CWSAP ------------------------------------------------------------------------


def cwsap_query(at):
    wlan = _need_ap()
    at.reply(
        b'+CWSAP:"%s","%s",%d,%d,%d,%d'
        % (
            wlan.config("ssid"),
            _key,
            wlan.config("channel"),
            wlan.config("security"),
            wlan.config("max_clients"),
            wlan.config("hidden"),
        )
    )


def cwsap_set(at, args):
    global _key
    params.count(args, 4, 6)
    ssid = params.str_at(args, 0, 32, params.REQUIRED, 1)
    key = params.str_at(args, 1, 64)
    channel = params.int_at(args, 2, 1, 14)
    ecn = params.int_at(args, 3, 0, 4)
    max_conn = params.int_at(args, 4, 1, _MAX_CONN, None)
    hidden = params.int_at(args, 5, 0, 1, 0)
    if ecn == 1:
        raise errors.invalid(3)  # WEP: no SoftAP does it
    if ecn and len(key) < 8:
        raise errors.ATError(errors.SUB_PARA_LENGTH, 1)
    if len(key) == 64:
        raise errors.no_api(1)  # WLAN.config(key=) keeps 63 characters
    if not ecn:
        key = ""
    wlan = _need_ap()
    if max_conn is None:
        max_conn = wlan.config("max_clients")  # omitted: as it is
    try:
        wlan.config(ssid=ssid, key=key, channel=channel, security=ecn, max_clients=max_conn, hidden=bool(hidden))
    except (OSError, RuntimeError, ValueError):
        raise errors.failed()  # e.g. a channel the driver's country lacks
    _key = key
    ssid_b = ssid.encode()
    key_b = key.encode()
    at.settings.put_bytes(
        "cwsap",
        bytes((len(ssid_b),)) + ssid_b + bytes((len(key_b),)) + key_b + bytes((channel, ecn, max_conn, hidden)),
    )


# -- stations --------------------------------------------------------------------------


def cwlif_execute(at):
    for mac, ip in _need_ap().status("stations"):
        at.reply(b"+CWLIF:%s,%s" % (ip or "0.0.0.0", addr.mac_text(mac)))


def cwqif_execute(at):
    # Disconnect every station: there is no deauthentication API, but
    # restarting the SoftAP deauthenticates them all (and it keeps its
    # configuration: the driver holds it in RAM).
    wlan = _need_ap()
    try:
        wlan.active(False)
        wlan.active(True)
    except (OSError, RuntimeError):
        raise errors.failed()


def cwqif_set(at, args):
    params.count(args, 1, 1)
    addr.mac_at(args, 0)
    raise errors.no_api(0)  # no esp_wifi_deauth_sta() binding


# -- AT+CWDHCPS ------------------------------------------------------------------------


def cwdhcps_query(at):
    raise errors.no_api()  # no esp_netif_dhcps_option() binding to read it


def cwdhcps_set(at, args):
    params.count(args, 1, 4)
    enable = params.int_at(args, 0, 0, 1)
    if enable:
        params.count(args, 4, 4)
        params.int_at(args, 1, 1, 2880)
        start = addr.ip_at(args, 2)
        end = addr.ip_at(args, 3)
        if addr.ip_int(start) > addr.ip_int(end):
            raise errors.invalid(3)
        raise errors.no_api(0)  # no esp_netif_dhcps_option() binding
    params.count(args, 1, 1)
    _need_ap()  # the default range is the only one the port has: nothing to do


COMMANDS = (
    ("+CWSAP", None, cwsap_query, cwsap_set, None),
    ("+CWLIF", None, None, None, cwlif_execute),
    ("+CWQIF", None, None, cwqif_set, cwqif_execute),
    ("+CWDHCPS", None, cwdhcps_query, cwdhcps_set, None),
)


def register(at):
    global _at
    _at = at
    radio.boot(at.settings)
    radio.add_hook(_apply)
    at.register(COMMANDS)
    at.tick(_tick)
