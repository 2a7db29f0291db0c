# Ethernet: AT+CIPETHMAC and AT+CIPETH on network.LAN, and the
# +ETH_CONNECTED, +ETH_GOT_IP:<ip> and +ETH_DISCONNECTED messages from
# polling LAN.status() (the port reports no events). Ethernet starts at boot
# when the board wires a PHY (board.ETH_PHY, see boards/); without one these
# commands do not exist, as in an ESP-AT build without Ethernet.
import time

import machine
import network
from micropython import const

from firmware import addr, errors, params, radio

_POLL_MS = const(250)
_DHCP = const(4)  # AT+CWDHCP's Ethernet bit

_at = None
_lan = None
_linked = False  # +ETH_CONNECTED said, +ETH_DISCONNECTED not yet
_ip = None  # the address +ETH_GOT_IP last said
_next_poll = 0


def _open(board):
    """The started LAN interface, or None when the board has no PHY."""
    phy = getattr(board, "ETH_PHY", None)
    if phy is None:
        return None
    config = {
        "mdc": machine.Pin(board.ETH_MDC),
        "mdio": machine.Pin(board.ETH_MDIO),
        "phy_addr": board.ETH_PHY_ADDR,
        "phy_type": getattr(network, "PHY_" + phy),
    }
    if getattr(board, "ETH_POWER", None) is not None:
        config["power"] = machine.Pin(board.ETH_POWER)
    if getattr(board, "ETH_REF_CLK", None) is not None:
        config["ref_clk"] = machine.Pin(board.ETH_REF_CLK)
        config["ref_clk_mode"] = machine.Pin.IN  # the PHY drives the RMII clock
    return network.LAN(**config)


def _restore(lan, settings):
    mac = settings.get_bytes("ethmac")
    if mac:
        lan.config(mac=mac)
    if not settings.get_int("cwdhcp", 7) & _DHCP:
        ips = addr.unpack_ips(settings.get_bytes("cipeth"))
        if ips is None:
            lan.ipconfig(dhcp4=False)
        else:
            ip, gw, mask = ips
            lan.ifconfig((ip, mask, gw, lan.ifconfig()[3]))


def _tick(now):
    global _next_poll, _linked, _ip
    if time.ticks_diff(now, _next_poll) < 0:
        return
    _next_poll = time.ticks_add(now, _POLL_MS)
    status = _lan.status()
    if status == network.ETH_CONNECTED or status == network.ETH_GOT_IP:
        if not _linked:
            _linked = True
            _at.urc(b"+ETH_CONNECTED\r\n")
        if status == network.ETH_GOT_IP:
            ip = _lan.ifconfig()[0]
            if ip != _ip:
                _ip = ip
                _at.urc(b"+ETH_GOT_IP:%s\r\n" % ip)
    elif _linked:
        _linked = False
        _ip = None
        _at.urc(b"+ETH_DISCONNECTED\r\n")


def cipethmac_query(at):
    at.reply(b'+CIPETHMAC:"%s"' % addr.mac_text(_lan.config("mac")))


def cipethmac_set(at, args):
    params.count(args, 1, 1)
    mac = addr.mac_at(args, 0)
    if mac[0] & 1 or mac == b"\x00\x00\x00\x00\x00\x00":
        raise errors.invalid(0)
    if mac == radio.sta().config("mac") or mac == radio.ap().config("mac"):
        raise errors.failed()  # every interface needs its own MAC
    try:
        _lan.config(mac=mac)
    except (OSError, ValueError):
        raise errors.failed()
    at.settings.put_bytes("ethmac", mac)


def cipeth_query(at):
    addr.query_ips(at, b"CIPETH", _lan)


def cipeth_set(at, args):
    ips = addr.ips_at(args)
    addr.set_ips(_lan, ips)
    settings = at.settings
    settings.put_bytes("cipeth", addr.pack_ips(*ips))
    settings.put_int("cwdhcp", settings.get_int("cwdhcp", 7) & ~_DHCP)


COMMANDS = (
    ("+CIPETHMAC", None, cipethmac_query, cipethmac_set, None),
    ("+CIPETH", None, cipeth_query, cipeth_set, None),
)


def register(at):
    global _at, _lan
    try:
        lan = _open(at.board)
        if lan is None:
            return
        _restore(lan, at.settings)
        lan.active(True)
    except (OSError, ValueError, RuntimeError) as e:
        print("[at] no Ethernet:", e)  # no PHY answers on this board
        return
    _at = at
    _lan = lan
    radio.lan = lan
    at.register(COMMANDS)
    at.tick(_tick)
