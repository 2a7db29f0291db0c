# MAC and IPv4 address parameters, their text in responses, and the
# <"ip">[,<"gateway">,<"netmask">] commands (AT+CIPSTA, AT+CIPAP, AT+CIPETH).
from firmware import errors, params

_HEX = b"0123456789abcdef"
_MASK = "255.255.255.0"


def mac_at(args, index, default=params.REQUIRED):
    """A "xx:xx:xx:xx:xx:xx" parameter as 6 bytes (either case of hex)."""
    text = params.str_at(args, index, 17, default, 17)
    if text is default:
        return default
    parts = text.split(":")
    if len(parts) != 6:
        raise errors.invalid(index)
    mac = bytearray(6)
    for i in range(6):
        part = parts[i]
        if len(part) != 2 or _HEX.find(part[0].lower().encode()) < 0 or _HEX.find(part[1].lower().encode()) < 0:
            raise errors.invalid(index)
        mac[i] = int(part, 16)
    return bytes(mac)


def ip_at(args, index, default=params.REQUIRED):
    """A dotted-quad IPv4 parameter, as its canonical text."""
    text = params.str_at(args, index, 15, default, 7)
    if text is default:
        return default
    if not is_ipv4(text):
        raise errors.invalid(index)
    return "%d.%d.%d.%d" % tuple(int(p) for p in text.split("."))


def is_ipv4(text):
    """Whether text is a dotted-quad IPv4 address (not a host name)."""
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part or len(part) > 3 or not part.isdigit() or int(part) > 255:
            return False
    return True


def ip_int(text):
    value = 0
    for part in text.split("."):
        value = value << 8 | int(part)
    return value


def mac_text(mac):
    """b"aa:bb:cc:dd:ee:ff", lower case as ESP-AT prints MACs."""
    out = bytearray(17)
    for i in range(6):
        out[i * 3] = _HEX[mac[i] >> 4]
        out[i * 3 + 1] = _HEX[mac[i] & 15]
        if i < 5:
            out[i * 3 + 2] = 0x3A
    return bytes(out)


def pack_ips(ip, gw, mask):
    """Three dotted quads as 12 bytes, for NVS."""
    out = bytearray(12)
    for n, text in enumerate((ip, gw, mask)):
        value = ip_int(text)
        for i in range(4):
            out[n * 4 + i] = value >> (24 - 8 * i) & 255
    return bytes(out)


def unpack_ips(blob):
    """(ip, gw, mask) from pack_ips(); None if the blob is not one."""
    if blob is None or len(blob) != 12:
        return None
    return tuple("%d.%d.%d.%d" % tuple(blob[n : n + 4]) for n in (0, 4, 8))


def query_ips(at, name, nic):
    ip, mask, gw, _ = nic.ifconfig()
    at.reply(b'+%s:ip:"%s"' % (name, ip))
    at.reply(b'+%s:gateway:"%s"' % (name, gw))
    at.reply(b'+%s:netmask:"%s"' % (name, mask))


def ips_at(args):
    """(ip, gateway, netmask) of <"ip">[,<"gateway">,<"netmask">]: the
    gateway and netmask come together; without them, the .1 of the /24 and
    255.255.255.0."""
    params.count(args, 1, 3)
    if len(args) == 2:
        params.count(args, 3, 3)
    ip = ip_at(args, 0)
    if len(args) == 1:
        return ip, ip[: ip.rfind(".")] + ".1", _MASK
    return ip, ip_at(args, 1), ip_at(args, 2)


def set_ips(nic, ips):
    ip, gw, mask = ips
    try:
        nic.ifconfig((ip, mask, gw, nic.ifconfig()[3]))
    except (OSError, RuntimeError, ValueError):
        raise errors.failed()  # on the virtual module: not a 127.x.y.z address
