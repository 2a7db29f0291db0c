# Interface addresses: AT+CIPSTAMAC, AT+CIPAPMAC, AT+CIPSTA, AT+CIPAP,
# AT+CWDHCP, AT+CWHOSTNAME, AT+CIFSR, AT+MDNS and AT+CIPSTATUS's Wi-Fi part.
#
# The ESP32 port keeps MACs and addresses in RAM: the saved ones are applied
# whenever their interface comes up (a radio hook). DHCP and static
# addresses exclude each other as in ESP-AT: the last command wins. The
# SoftAP's DHCP server cannot be stopped (every WLAN.ifconfig() on the AP
# restarts it), so it always reads as enabled.
import network

from firmware import addr, errors, params, radio

_STA_DHCP = 1
_AP_DHCP = 2
_ETH_DHCP = 4

_at = None

# The TCP/IP group sets this to an object with status(wifi_stat) -> the
# <stat> to print, and report(at) -> prints its +CIPSTATUS lines.
links = None


def _apply(old, new):
    """radio hook: saved MACs and addresses for interfaces coming up."""
    settings = _at.settings
    up = new & ~old
    try:
        if up & radio.STA:
            sta = radio.sta()
            mac = settings.get_bytes("stamac")
            if mac:
                sta.config(mac=mac)
            if not settings.get_int("cwdhcp", 7) & _STA_DHCP:
                _static(sta, addr.unpack_ips(settings.get_bytes("cipsta")))
        if up & radio.AP:
            ap = radio.ap()
            mac = settings.get_bytes("apmac")
            if mac:
                ap.config(mac=mac)
            ips = addr.unpack_ips(settings.get_bytes("cipap"))
            if ips is not None:
                _static(ap, ips)
    except (OSError, RuntimeError, ValueError) as e:
        print("[at] saved address not applied:", e)


def _static(wlan, ips):
    if ips is None:
        wlan.ipconfig(dhcp4=False)  # DHCP off and no address given: none
    else:
        ip, gw, mask = ips
        wlan.ifconfig((ip, mask, gw, wlan.ifconfig()[3]))


# -- MAC addresses -------------------------------------------------------------------


def _mac_query(at, name, wlan):
    at.reply(b'+%s:"%s"' % (name, addr.mac_text(wlan.config("mac"))))


def _mac_set(at, args, wlan, other, key):
    params.count(args, 1, 1)
    mac = addr.mac_at(args, 0)
    if mac[0] & 1 or mac == b"\x00\x00\x00\x00\x00\x00":
        raise errors.invalid(0)  # multicast (FF:...:FF too) or all zero
    if not wlan.active():
        raise errors.failed()
    if mac == other.config("mac"):
        raise errors.failed()  # STA and SoftAP need different MACs
    try:
        wlan.config(mac=mac)
    except (OSError, RuntimeError, ValueError):
        raise errors.failed()
    _at.settings.put_bytes(key, mac)


def cipstamac_query(at):
    _mac_query(at, b"CIPSTAMAC", radio.sta())


def cipstamac_set(at, args):
    _mac_set(at, args, radio.sta(), radio.ap(), "stamac")


def cipapmac_query(at):
    _mac_query(at, b"CIPAPMAC", radio.ap())


def cipapmac_set(at, args):
    _mac_set(at, args, radio.ap(), radio.sta(), "apmac")


# -- IPv4 addresses ------------------------------------------------------------------


def _need(wlan):
    if not wlan.active():
        raise errors.failed()
    return wlan


def cipsta_query(at):
    addr.query_ips(at, b"CIPSTA", _need(radio.sta()))


def cipsta_set(at, args):
    ips = addr.ips_at(args)
    addr.set_ips(_need(radio.sta()), ips)
    settings = at.settings
    settings.put_bytes("cipsta", addr.pack_ips(*ips))
    settings.put_int("cwdhcp", settings.get_int("cwdhcp", 7) & ~_STA_DHCP)


def cipap_query(at):
    addr.query_ips(at, b"CIPAP", _need(radio.ap()))


def cipap_set(at, args):
    ips = addr.ips_at(args)
    addr.set_ips(_need(radio.ap()), ips)
    at.settings.put_bytes("cipap", addr.pack_ips(*ips))


# -- AT+CWDHCP ---------------------------------------------------------------------


def _dhcp_state():
    state = _AP_DHCP  # the SoftAP's server always runs
    if radio.sta().ipconfig("dhcp4"):
        state |= _STA_DHCP
    if radio.lan is not None and radio.lan.ipconfig("dhcp4"):
        state |= _ETH_DHCP
    return state


def cwdhcp_query(at):
    at.reply(b"+CWDHCP:%d" % _dhcp_state())


def cwdhcp_set(at, args):
    params.count(args, 2, 2)
    enable = params.int_at(args, 0, 0, 1)
    which = params.int_at(args, 1, 0, 7 if radio.lan is not None else 3)
    if which & _AP_DHCP and not enable:
        raise errors.no_api(1)  # the SoftAP's DHCP server cannot be stopped
    try:
        if which & _STA_DHCP:
            radio.sta().ipconfig(dhcp4=bool(enable))
        if which & _ETH_DHCP:
            radio.lan.ipconfig(dhcp4=bool(enable))
    except (OSError, RuntimeError, ValueError):
        raise errors.failed()
    at.settings.put_int("cwdhcp", _dhcp_state())


# -- AT+CWHOSTNAME -------------------------------------------------------------------


def cwhostname_query(at):
    at.reply(b"+CWHOSTNAME:%s" % network.hostname())


def cwhostname_set(at, args):
    params.count(args, 1, 1)
    name = params.str_at(args, 0, 32, params.REQUIRED, 1)
    _need(radio.sta())
    network.hostname(name)  # sent with the next connection's DHCP request


# -- AT+CIFSR, AT+CIPSTATUS --------------------------------------------------------------


def cifsr_execute(at):
    for name, nic in ((b"AP", radio.ap()), (b"STA", radio.sta()), (b"ETH", radio.lan)):
        if nic is not None and nic.active():
            at.reply(b'+CIFSR:%sIP,"%s"' % (name, nic.ifconfig()[0]))
            at.reply(b'+CIFSR:%sMAC,"%s"' % (name, addr.mac_text(nic.config("mac"))))


def cipstatus_execute(at):
    # 0 station off, 1 no connection started, 2 connected with an address,
    # 5 connecting or disconnected; 3 and 4 are about links (TCP/IP group).
    if not radio.sta().active():
        stat = 0
    else:
        stat = (1, 1, 2, 5, 5)[radio.state]
    if links is not None:
        stat = links.status(stat)
    at.reply(b"STATUS:%d" % stat)
    if links is not None:
        links.report(at)


# -- AT+MDNS -------------------------------------------------------------------------


def mdns_set(at, args):
    # The port's responder announces network.hostname() by itself once an
    # interface has an address; it cannot register services, stop, or run
    # queries for the host. The parameters are checked all the same.
    mode = params.int_at(args, 0, 0, 2)
    if mode == 0:
        params.count(args, 1, 1)
        raise errors.no_api(0)
    if mode == 1:
        params.count(args, 4, 47)
        params.str_at(args, 1, 63, params.REQUIRED, 1)  # hostname
        params.str_at(args, 2, 63, params.REQUIRED, 1)  # service type
        params.int_at(args, 3, 0, 65535)  # port
        params.str_at(args, 4, 63, None, 1)  # instance
        params.str_at(args, 5, 63, None, 1)  # proto
        pairs = params.int_at(args, 6, 1, 20, 0)
        params.count(args, 7 + 2 * pairs if pairs else 4, 7 + 2 * pairs if pairs else 6)
        for i in range(7, 7 + 2 * pairs):
            params.str_at(args, i, 63)
        raise errors.no_api(2)
    kind = params.int_at(args, 1, 0, 6)
    names = 2 if kind == 0 else (3 if kind <= 3 else 1)
    params.count(args, 2 + names, 4 + names)
    for i in range(2, 2 + names):
        params.str_at(args, i, 64, params.REQUIRED, 1)
    params.int_at(args, 2 + names, 1000, 180000, 5000)  # timeout
    params.int_at(args, 3 + names, 1, 255, 1)  # max results
    raise errors.no_api(0)


COMMANDS = (
    ("+CIPSTAMAC", None, cipstamac_query, cipstamac_set, None),
    ("+CIPAPMAC", None, cipapmac_query, cipapmac_set, None),
    ("+CIPSTA", None, cipsta_query, cipsta_set, None),
    ("+CIPAP", None, cipap_query, cipap_set, None),
    ("+CWDHCP", None, cwdhcp_query, cwdhcp_set, None),
    ("+CWHOSTNAME", None, cwhostname_query, cwhostname_set, None),
    ("+CIFSR", None, None, None, cifsr_execute),
    ("+CIPSTATUS", None, None, None, cipstatus_execute),
    ("+MDNS", None, None, mdns_set, None),
)


def register(at):
    global _at
    _at = at
    radio.boot(at.settings)
    radio.add_hook(_apply)
    at.register(COMMANDS)
