# The virtual module's radio environment, for the network stand-in:
#
# - the world file (ATSIM_WORLD): access points, the Ethernet cable, the
#   name and time servers, optional timings. It is read again whenever it
#   changes (inode, size or mtime), so a host tool can edit it while modules
#   run; write it atomically (a new file renamed over the old one).
# - the air folder (ATSIM_AIR), shared by every virtual module that should
#   hear the others: each running SoftAP publishes a beacon file there, and
#   addresses on shared subnets are claimed there (mkdir is atomic), so no
#   two modules are handed the same one.
#
# Every simulated address is a loopback one (127.0.0.0/8): sockets really
# bind and connect with them.
import json
import os
import time

import simlink

_socket = simlink.socket  # the unix port's own, not boards/unix/socket.py

WORLD = os.getenv("ATSIM_WORLD") or ""
AIR = os.getenv("ATSIM_AIR") or simlink.state_path("air")

SENSITIVITY = -95  # dBm: an AP heard weaker than this is out of range
BEACON_FRESH_S = 3  # a SoftAP whose beacon is older than this has gone
AIR_RSSI = -50  # how strong another virtual module's SoftAP is heard

# The authmode numbers of network.WLAN.SEC_* (and of AT+CWLAP's <ecn>).
SECURITY = {
    "open": 0,
    "wep": 1,
    "wpa_psk": 2,
    "wpa2_psk": 3,
    "wpa_wpa2_psk": 4,
    "wpa2_enterprise": 5,
    "wpa3_psk": 6,
    "wpa2_wpa3_psk": 7,
    "wapi_psk": 8,
    "owe": 9,
}

# Simulated delays in ms; a world's "timing" object overrides them.
DEFAULT_TIMING = {
    "probe_ms": 100,  # connect: the AP answers the probe
    "assoc_ms": 100,  # authentication, association, 4-way handshake
    "handshake_timeout_ms": 2000,  # a wrong password is noticed after this
    "dhcp_ms": 150,  # DHCP discover .. ack
    "scan_ms": 1500,  # a full scan; also how long a missing AP is looked for
    "beacon_timeout_ms": 6000,  # beacons missed this long: disconnected (IDF default)
    "link_ms": 300,  # Ethernet autonegotiation
}


def log(*parts):
    print("[sim]", *parts)


# -- addresses ---------------------------------------------------------------


def ip_int(text):
    """Dotted quad -> int; ValueError if it is not one."""
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError(text)
    value = 0
    for part in parts:
        if not part.isdigit() or len(part) > 3 or int(part) > 255:
            raise ValueError(text)
        value = value << 8 | int(part)
    return value


def ip_str(value):
    return "%d.%d.%d.%d" % (value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255)


def mask_int(bits):
    return (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF


def is_loopback(value):
    return value >> 24 == 127


def parse_subnet(text):
    """"127.0.1.0/24" -> (network int, prefix bits)."""
    address, _, bits = text.partition("/")
    bits = int(bits or "24")
    if not 8 <= bits <= 30:
        raise ValueError(text)
    net = ip_int(address) & mask_int(bits)
    if not is_loopback(net):
        raise ValueError(text + " is not a loopback subnet")
    return net, bits


def mac_str(mac):
    return ":".join("%02x" % b for b in mac)


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(text)
    return bytes(int(p, 16) for p in parts)


# -- files ------------------------------------------------------------------


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _mkdirs(path):
    try:
        os.mkdir(path)
    except OSError:
        pass


_mkdirs(AIR)


def base_mac():
    """The module's base MAC (the station's), made once per state folder:
    Espressif's OUI and three random bytes."""
    path = simlink.state_path("mac")
    try:
        mac = _read(path)
        if len(mac) == 6:
            return mac
    except OSError:
        pass
    mac = b"\x24\x0a\xc4" + os.urandom(3)
    write_atomic(path, mac)
    return mac


def claim(name, owner):
    """True if `owner` holds `name` in the air folder (taking it if free)."""
    path = AIR + "/" + name
    try:
        os.mkdir(path)
    except OSError:
        try:
            return _read(path + "/owner").decode() == owner
        except OSError:
            return False  # being taken by another module right now
    write_atomic(path + "/owner", owner.encode())
    return True


def lease(net, bits, owner, first=2):
    """A DHCP address on a shared subnet for `owner` (a MAC in hex): the one
    it already holds, or the lowest free one. None when the pool is full."""
    for host in range(first, (1 << (32 - bits)) - 1):
        address = ip_str(net + host)
        if claim("ip-" + address, owner):
            return address
    return None


# -- the world ------------------------------------------------------------------


class AP:
    """An access point as the station sees it: from the world file, or a
    virtual module's SoftAP heard through the air folder (port != 0)."""

    def __init__(self, ssid, bssid, channel, rssi, security, password, hidden):
        self.ssid = ssid  # str
        self.bssid = bssid  # 6 bytes
        self.channel = channel
        self.rssi = rssi
        self.security = security
        self.password = password
        self.hidden = hidden
        self.net = 0  # world APs: their subnet (DHCP and gateway)
        self.bits = 24
        self.port = 0  # SoftAPs of other modules: their association port
        self.beat = 0.0


_world = {}
_world_id = None
_world_checked = None
_timing = dict(DEFAULT_TIMING)


def _load_world(data):
    world = json.loads(data)
    aps = []
    for item in world.get("access_points", ()):
        try:
            security = SECURITY[item.get("security", "open")]
            ap = AP(
                item["ssid"],
                mac_bytes(item["bssid"]),
                int(item.get("channel", 1)),
                int(item.get("rssi", -60)),
                security,
                item.get("password", ""),
                bool(item.get("hidden", False)),
            )
            ap.net, ap.bits = parse_subnet(item.get("subnet", "127.0.1.0/24"))
        except (KeyError, ValueError, TypeError) as e:
            log("world: access point %r ignored: %r" % (item, e))
            continue
        aps.append(ap)
    world["aps"] = aps
    eth = world.get("ethernet") or {}
    try:
        world["eth_net"] = parse_subnet(eth.get("subnet", "127.0.9.0/24"))
    except ValueError as e:
        log("world: ethernet subnet ignored: %r" % e)
        world["eth_net"] = None
    world["eth_link"] = bool(eth.get("link", False)) and world["eth_net"] is not None
    return world


def world():
    """The world file's contents, read again when the file has changed
    (looked at every 100 ms at most)."""
    now = time.ticks_ms()
    if _world_checked is not None and time.ticks_diff(now, _world_checked) < 100:
        return _world
    return _check_world(now)


def _check_world(now):
    # Apart from world(): the radio asks for the world on every poll of the
    # firmware, and a frame this size would be allocated on the heap each
    # time (MicroPython keeps small frames on the C stack).
    global _world, _world_id, _world_checked, _timing
    _world_checked = now
    try:
        st = os.stat(WORLD)
        ident = (st[1], st[6], st[8])
    except OSError:
        ident = None
    if ident != _world_id:
        try:
            _world = _load_world(_read(WORLD)) if ident else _load_world(b"{}")
        except (OSError, ValueError) as e:
            log("world: %s unreadable (%r), keeping the last one" % (WORLD, e))
            return _world  # half-written by a non-atomic editor: try again later
        _world_id = ident
        _timing = dict(DEFAULT_TIMING)
        for key in _timing:
            value = (_world.get("timing") or {}).get(key)
            if type(value) is int and value >= 0:
                _timing[key] = value
    return _world


def timing(name):
    world()
    return _timing[name]


def dns_server():
    servers = world().get("dns_servers") or ()
    return servers[0] if servers else "0.0.0.0"


_in_range = (None, [])  # (the world it was made from, its APs in range)


def world_aps():
    """The world's access points that are in range (a list the caller must
    not change: it is made again only when the world file has changed)."""
    global _in_range
    current = world()
    if _in_range[0] is not current:
        _in_range = (current, [ap for ap in current["aps"] if ap.rssi >= SENSITIVITY])
    return _in_range[1]


# -- SoftAP beacons in the air folder --------------------------------------------


def _beacon_path(bssid):
    return AIR + "/ap-" + "".join("%02x" % b for b in bssid) + ".json"


def publish(bssid, ssid, channel, security, hidden, port):
    record = {
        "ssid": ssid,
        "bssid": mac_str(bssid),
        "channel": channel,
        "security": security,
        "hidden": hidden,
        "port": port,
        "beat": time.time(),
    }
    write_atomic(_beacon_path(bssid), json.dumps(record).encode())


def unpublish(bssid):
    try:
        os.remove(_beacon_path(bssid))
    except OSError:
        pass


def air_aps(own=None):
    """The SoftAPs of other virtual modules whose beacons are fresh."""
    found = []
    now = time.time()
    try:
        names = os.listdir(AIR)
    except OSError:
        return found
    for name in names:
        if not (name.startswith("ap-") and name.endswith(".json")):
            continue
        try:
            record = json.loads(_read(AIR + "/" + name))
            bssid = mac_bytes(record["bssid"])
            if bssid == own or now - record["beat"] > BEACON_FRESH_S:
                continue
            ap = AP(
                record["ssid"],
                bssid,
                record["channel"],
                world().get("air_rssi", AIR_RSSI),
                record["security"],
                None,  # only the SoftAP itself knows its password
                record["hidden"],
            )
            ap.port = record["port"]
            ap.beat = record["beat"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being replaced, or not a beacon
        found.append(ap)
    return found


def beacon_fresh(bssid):
    try:
        record = json.loads(_read(_beacon_path(bssid)))
        return time.time() - record["beat"] <= BEACON_FRESH_S
    except (OSError, ValueError, KeyError):
        return False


# -- the association link between a station and another module's SoftAP -------


def connect_link(port):
    """A non-blocking TCP connection to a SoftAP's association port."""
    s = _socket.socket()
    try:
        s.connect(_socket.getaddrinfo("127.0.0.1", port)[0][-1])
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def listen_link():
    """(listening socket, port) for this module's SoftAP."""
    seed = os.urandom(2)
    for i in range(200):
        port = 20000 + ((seed[0] << 8 | seed[1]) + i * 7919) % 40000
        s = _socket.socket()
        try:
            s.bind(_socket.getaddrinfo("127.0.0.1", port)[0][-1])
            s.listen(8)
        except OSError:
            s.close()
            continue
        s.setblocking(False)
        return s, port
    raise OSError("no free port for the SoftAP")


def accept(listener):
    try:
        conn, _ = listener.accept()
    except OSError:
        return None
    conn.setblocking(False)
    return conn


class Link:
    """Newline-delimited JSON messages over a non-blocking socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def send(self, **message):
        if self.closed:
            return
        try:
            self.sock.write(json.dumps(message).encode() + b"\n")
        except OSError:
            self.closed = True

    def receive(self):
        """The messages that have arrived (sets .closed at end of stream)."""
        messages = []
        while not self.closed:
            try:
                data = self.sock.recv(512)
            except OSError:
                break  # nothing more for now (EAGAIN), or reset
            if not data:
                self.closed = True
                break
            self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            try:
                messages.append(json.loads(line))
            except ValueError:
                pass
        return messages

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
