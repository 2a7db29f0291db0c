# Stand-in for the ESP32 port's `network` module on the unix port: WLAN (the
# station and SoftAP interfaces) and LAN, with the names, signatures, return
# values and exceptions of ports/esp32/network_wlan.c, network_lan.c and
# network_common.c, on the simulated radio of simair.py.
#
# Like the ESP32 port it reports no events to Python; unlike the chip it has
# no thread of its own either: the simulation advances whenever the firmware
# calls in, by time.ticks_ms(). A join takes a few hundred milliseconds, a
# wrong password fails after the handshake timeout, a missing AP after a
# scan, a vanished AP after the beacon timeout (simair.DEFAULT_TIMING).
#
# World APs (from the world file) are simulated here; another virtual
# module's SoftAP is joined over a loopback TCP link to that module's
# stand-in, which answers whenever its own firmware calls in.
import time

import simair

# Module-level constants kept by the port for backwards compatibility.
STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200  # the rest are the IDF's disconnect reasons
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = 210
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = 211
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = 212
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7
AUTH_WAPI_PSK = 8
AUTH_OWE = 9
MODE_11B = 1
MODE_11G = 2
MODE_11N = 4
MODE_LR = 8
PHY_LAN8710 = 0
PHY_LAN8720 = 1
PHY_IP101 = 2
PHY_RTL8201 = 3
PHY_DP83848 = 4
PHY_KSZ8041 = 5
PHY_KSZ8081 = 6
ETH_INITIALIZED = 0
ETH_STARTED = 1
ETH_STOPPED = 2
ETH_CONNECTED = 3
ETH_DISCONNECTED = 4
ETH_GOT_IP = 5

# IDF disconnect reasons the simulation produces besides the STAT_* ones.
_REASON_AUTH_LEAVE = 3  # the AP deauthenticated us (it stopped, or changed)
_REASON_ASSOC_TOOMANY = 5  # the SoftAP is full
_REASON_ASSOC_LEAVE = 8  # we left: disconnect(), or the STA interface stopped

# esp_wifi_set_max_tx_power() on the ESP32 (0.25 dBm units, range [8, 84])
# takes the highest of these levels that does not exceed the value; 78
# (19.5 dBm) is the top the ESP32 reaches (ESP-AT's AT+RFPOWER table).
_TX_LEVELS = (78, 72, 66, 60, 56, 52, 44, 34, 28, 20, 8)
_MAX_CONN = 10  # ESP_WIFI_MAX_CONN_NUM on the ESP32
_AP_CHANNELS = 11  # the IDF's default country ("01"): channels 1..11
_DHCPS_LEASES = 100  # the IDF's SoftAP DHCP pool: 100 addresses after its own
_HEARTBEAT_MS = 1000
_WATCH_MS = 100  # how often a joined station looks at its AP (the world file: as often)
_EADDRNOTAVAIL = 99  # Linux's; the unix port's errno module lacks the name

# Driver-wide state: in the IDF, power save and the TX power limit belong to
# the Wi-Fi driver, not to an interface.
_ps = 1  # WIFI_PS_MIN_MODEM, the IDF's default
_tx_power = _TX_LEVELS[0]
_interfaces = {}  # interface id -> its one WLAN object
_hostname = "mpy-esp32"
_country = "XX"
_base_mac = simair.base_mac()

# Station phases.
_IDLE = 0
_SEARCH = 1  # looking for the AP
_AUTH = 2  # authenticating, associating, 4-way handshake
_LINKED = 3  # associated (with an address once _connected is set)


def _started():
    # esp_wifi_start() has run while at least one interface is active.
    for wlan in _interfaces.values():
        if wlan._active:
            return True
    return False


def _invalid_arg():
    # ESP_ERR_INVALID_ARG: the port's esp_exceptions() has no text for it.
    return RuntimeError("Wifi Unknown Error 0x0102")


def _mac_for(offset):
    # The IDF derives the interface MACs from the base MAC: STA +0, AP +1,
    # (Bluetooth +2,) Ethernet +3.
    mac = bytearray(_base_mac)
    mac[5] = (mac[5] + offset) & 0xFF
    return bytes(mac)


def _hex(mac):
    return "".join("%02x" % b for b in mac)


def _check_address(text):
    value = simair.ip_int(text)  # ValueError, as netutils_parse_ipv4_addr
    if value and not simair.is_loopback(value):
        # A board difference: the virtual module's addresses are real
        # loopback addresses its sockets bind to.
        raise OSError(_EADDRNOTAVAIL)
    return value


def _service():
    """Advance every interface's simulation to now."""
    # By id, not through values(): that allocates on every call.
    wlan = _interfaces.get(STA_IF)
    if wlan is not None:
        wlan._sta_advance()
    wlan = _interfaces.get(AP_IF)
    if wlan is not None:
        wlan._ap_service()
    if _lan is not None:
        _lan._advance()


def _default_ap_net():
    # The SoftAP's subnet: ESP-IDF's is 192.168.4.0/24, which the virtual
    # module cannot bind to. Each module claims its own 127.<n>.<m>.0/24 in
    # the air folder, starting from one derived from its base MAC.
    owner = _hex(_base_mac)
    start = (_base_mac[4] << 8 | _base_mac[5]) % 32512
    for i in range(32512):
        n = (start + i) % 32512
        net = 127 << 24 | (128 + n // 254) << 16 | (1 + n % 254) << 8
        if simair.claim("net-" + simair.ip_str(net), owner):
            return net
    raise OSError(_EADDRNOTAVAIL)


class _Netif:
    """The IP side of an interface (network_common.c)."""

    def _netif_init(self):
        self._ip = self._mask = self._gw = self._dns = 0
        self._dhcp = True  # DHCP client (STA, ETH) or server (AP)

    def _addresses(self):
        return (self._ip, self._mask, self._gw, self._dns)

    def ifconfig(self, config=None):
        _service()
        if config is None:
            return tuple(simair.ip_str(v) for v in self._addresses())
        if type(config) is tuple or type(config) is list:
            if len(config) != 4:
                raise ValueError("requested length 4 but object has length %d" % len(config))
            ip = _check_address(config[0])
            if type(config[1]) is int:
                mask = simair.mask_int(config[1])
            else:
                mask = simair.ip_int(config[1])
            gw = simair.ip_int(config[2])
            dns = simair.ip_int(config[3])
            self._set_static(ip, mask, gw, dns)
            return None
        if not self._client() or config != "dhcp":
            raise ValueError("invalid arguments")
        self._start_dhcp()
        return None

    def ipconfig(self, *args, **kwargs):
        _service()
        if not kwargs:
            if len(args) != 1:
                raise TypeError("must query one param")
            key = args[0]
            if key == "dhcp4":
                if not self._client():
                    raise ValueError("unexpected key")
                return self._dhcp
            if key == "addr4":
                return (simair.ip_str(self._ip), simair.ip_str(self._mask))
            if key == "gw4":
                return simair.ip_str(self._gw)
            raise ValueError("unexpected key")
        if args:
            raise TypeError("can't specify pos and kw args")
        ip, mask, gw = self._ip, self._mask, self._gw
        touched = False
        dhcp = None
        for key in kwargs:
            value = kwargs[key]
            if key == "dhcp4":
                if not self._client():
                    raise ValueError("unexpected key")
                dhcp = bool(value)
            elif key == "addr4":
                if type(value) is str:
                    address, _, bits = value.partition("/")
                    ip = _check_address(address)
                    if bits:
                        mask = simair.mask_int(int(bits))
                elif value is not None:
                    ip = _check_address(value[0])
                    mask = simair.ip_int(value[1])
                touched = True
            elif key == "gw4":
                gw = simair.ip_int(value)
                touched = True
            else:
                raise ValueError("unexpected key")
        if dhcp is not None and dhcp != self._dhcp:
            if dhcp:
                self._start_dhcp()
            else:
                self._stop_dhcp()
        if touched or not self._client():
            self._set_static(ip, mask, gw, self._dns)
        return None


class WLAN(_Netif):
    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4
    SEC_WPA2_ENT = 5
    SEC_WPA3 = 6
    SEC_WPA2_WPA3 = 7
    SEC_WAPI = 8
    SEC_OWE = 9
    PROTOCOL_DEFAULT = 7
    PROTOCOL_LR = 8

    def __new__(cls, interface_id=0):
        # The port hands out one static object per interface.
        wlan = _interfaces.get(interface_id)
        if wlan is None:
            if interface_id not in (STA_IF, AP_IF):
                raise ValueError("invalid WLAN interface identifier")
            wlan = object.__new__(cls)
            wlan._init(interface_id)
            _interfaces[interface_id] = wlan
        return wlan

    def __init__(self, interface_id=0):
        pass

    def _init(self, interface_id):
        self._id = interface_id
        self._active = False
        self._mac = _mac_for(interface_id)
        self._netif_init()
        if interface_id == STA_IF:
            self._ssid = ""
            self._key = ""
            self._bssid = None
            self._requested = False  # wifi_sta_connect_requested
            self._reason = 0  # wifi_sta_disconn_reason
            self._connected = False  # wifi_sta_connected: associated with an address
            self._conf_reconnects = 0  # 0: forever; n + 1 for reconnects=n
            self._reconnects = 0
            self._phase = _IDLE
            self._since = 0
            self._ap = None
            self._link = None
            self._granted = False
            self._refused = 0
            self._offer = None
            self._need_lease = False
            self._lease_since = 0
            self._lost_at = None
            self._checked = 0
            self._watched = 0
        else:
            net = _default_ap_net()
            self._ip = self._gw = net + 1
            self._mask = simair.mask_int(24)
            self._ap_ssid = "ESP_%02X%02X%02X" % (self._mac[3], self._mac[4], self._mac[5])
            self._ap_key = ""
            self._ap_channel = 1
            self._ap_security = 0
            self._ap_hidden = False
            self._ap_max = 4  # the IDF's default max_connection
            self._listener = None
            self._port = 0
            self._stations = []  # [link, mac, ip] of associated stations
            self._leases = {}  # mac -> ip handed out by the DHCP server
            self._beat_at = 0
            self._published = None

    def _client(self):
        return self._id == STA_IF

    # -- interface on and off --------------------------------------------

    def active(self, is_active=None):
        if is_active is not None:
            active = bool(is_active)
            if active != self._active:
                if self._id == STA_IF and not active:
                    self._sta_event(_REASON_ASSOC_LEAVE, stopping=True)
                self._active = active
                if self._id == STA_IF and active:
                    self._reconnects = 0
                if self._id == AP_IF:
                    self._ap_restart()
        _service()
        return self._active

    # -- station ------------------------------------------------------------

    def connect(self, ssid=None, key=None, *, bssid=None):
        if self._id != STA_IF:
            # esp_wifi_connect() checks the STA mode.
            raise OSError("Wifi Invalid Mode")
        if not _started():
            raise OSError("Wifi Not Started")
        if not self._active:
            raise OSError("Wifi Invalid Mode")
        _service()
        if self._phase in (_SEARCH, _AUTH):
            raise OSError("Wifi Internal Error")  # "sta is connecting, return error"
        if ssid is not None or key is not None or bssid is not None:
            # The port zeroes the whole station configuration first.
            if bssid is not None and len(bssid) != 6:
                raise ValueError()
            self._ssid = "" if ssid is None else ssid[:32]
            self._key = "" if key is None else key[:64]
            self._bssid = None if bssid is None else bytes(bssid)
        if self._phase == _LINKED:
            self._sta_event(_REASON_ASSOC_LEAVE)
        self._reconnects = 0
        self._requested = True
        self._search()

    def disconnect(self):
        # esp_wifi_disconnect() acts on the station, whichever object it is
        # called on.
        sta = WLAN(STA_IF)
        sta._requested = False
        if not _started():
            raise OSError("Wifi Not Started")
        if not sta._active:
            raise OSError("Wifi Invalid Mode")
        _service()
        sta._sta_event(_REASON_ASSOC_LEAVE)

    def status(self, param=None):
        _service()
        if param is None:
            if self._id != STA_IF:
                return None
            reason = self._reason
            if self._connected:
                return STAT_GOT_IP
            if reason in (201, 210, 211, 212):
                return reason
            if reason in (202, 205):  # AUTH_FAIL, CONNECTION_FAIL
                return STAT_WRONG_PASSWORD
            if reason == _REASON_ASSOC_LEAVE:
                return STAT_IDLE
            if self._requested and (self._conf_reconnects == 0 or self._reconnects < self._conf_reconnects):
                return STAT_CONNECTING
            if reason == 0:
                return STAT_IDLE
            return reason
        if param == "stations":
            if self._id != AP_IF:
                raise OSError("AP required")
            if not self._active:
                raise OSError("Wifi Invalid Mode")
            return [(s[1], None if s[2] is None else simair.ip_str(s[2])) for s in self._stations if s[1] is not None]
        if param == "rssi":
            if self._id != STA_IF:
                raise OSError("STA required")
            if self._phase != _LINKED:
                raise OSError("Wifi Not Connected")
            return self._ap.rssi
        raise ValueError("unknown status param")

    def isconnected(self):
        _service()
        if self._id == STA_IF:
            return self._connected
        for station in self._stations:
            if station[1] is not None:
                return True
        return False

    def scan(self):
        if not (_interfaces.get(STA_IF) and _interfaces[STA_IF]._active):
            raise OSError("STA must be active")
        # esp_wifi_scan_start(block=true): the scan takes its time, while the
        # rest of the simulation (a SoftAP's stations) goes on.
        end = time.ticks_add(time.ticks_ms(), simair.timing("scan_ms"))
        while time.ticks_diff(end, time.ticks_ms()) > 0:
            _service()
            time.sleep_ms(min(20, max(1, time.ticks_diff(end, time.ticks_ms()))))
        own = _interfaces[AP_IF]._mac if AP_IF in _interfaces else None
        heard = simair.world_aps() + simair.air_aps(own)
        heard.sort(key=lambda ap: -ap.rssi)  # the IDF sorts by signal
        # The port always reports hidden as False; a hidden AP has no SSID.
        return [
            (b"" if ap.hidden else ap.ssid.encode(), ap.bssid, ap.channel, ap.rssi, ap.security, False)
            for ap in heard
        ]

    def _search(self):
        self._phase = _SEARCH
        self._since = time.ticks_ms()
        self._ap = None

    def _candidates(self):
        own = _interfaces[AP_IF]._mac if AP_IF in _interfaces else None
        found = []
        for ap in simair.world_aps() + simair.air_aps(own):
            if ap.ssid == self._ssid and (self._bssid is None or ap.bssid == self._bssid):
                found.append(ap)
        found.sort(key=lambda ap: -ap.rssi)
        return found

    def _sta_advance(self):
        if not self._active or self._phase == _IDLE:
            return
        if self._phase == _LINKED and not (self._need_lease and self._dhcp):
            self._sta_linked()  # the steady state: kept cheap (see _sta_linked)
            return
        self._sta_steps()

    def _sta_linked(self):
        # Runs on every call the firmware makes (status() and active() on
        # each turn of its Wi-Fi poll): small frames, nothing allocated
        # between two looks at the AP, so that the stand-in does not blur
        # the firmware's own heap figures.
        if self._link is not None:
            self._read_link()
            if self._phase != _LINKED:
                return
        now = time.ticks_ms()
        if time.ticks_diff(now, self._watched) >= _WATCH_MS:
            self._watched = now
            self._watch_ap(now)

    def _sta_steps(self):
        now = time.ticks_ms()
        elapsed = time.ticks_diff(now, self._since)
        if self._phase == _SEARCH:
            if elapsed < simair.timing("probe_ms"):
                return
            found = self._candidates()
            if not found:
                if elapsed >= simair.timing("scan_ms"):
                    self._sta_event(STAT_NO_AP_FOUND)
                return
            ap = found[0]
            if ap.security in (AUTH_WPA2_ENTERPRISE, AUTH_WAPI_PSK):
                # connect() sets no EAP or WAPI credentials.
                self._sta_event(STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY)
                return
            self._ap = ap
            self._phase = _AUTH
            self._since = now
            self._granted = False
            self._refused = 0
            self._offer = None
            self._need_lease = False
            if ap.port:
                sock = simair.connect_link(ap.port)
                if sock is None:
                    self._sta_event(STAT_NO_AP_FOUND)
                    return
                self._link = simair.Link(sock)
                self._link.send(t="auth", mac=simair.mac_str(self._mac), key=self._key, host=_hostname)
            else:
                self._granted = ap.security == AUTH_OPEN or ap.password == self._key
            return
        if self._phase == _AUTH:
            self._read_link()
            if self._phase != _AUTH:
                return
            if self._refused == _REASON_ASSOC_TOOMANY:
                self._sta_event(_REASON_ASSOC_TOOMANY)
                return
            if self._granted and elapsed >= simair.timing("assoc_ms"):
                self._phase = _LINKED
                self._since = now
                self._watched = now
                self._lost_at = None
                if self._dhcp:
                    self._ip = 0
                    self._ask_lease(now)
                elif self._ip:
                    self._got_ip()
                return
            if not self._granted and elapsed >= simair.timing("handshake_timeout_ms"):
                # WPA3's SAE fails authentication; WPA/WPA2 time out in the
                # 4-way handshake.
                sae = self._ap.security in (AUTH_WPA3_PSK, AUTH_WPA2_WPA3_PSK)
                self._sta_event(STAT_WRONG_PASSWORD if sae else STAT_HANDSHAKE_TIMEOUT)
            return
        # Associated: an address, then watch the AP.
        self._read_link()
        if self._phase != _LINKED:
            return
        if self._need_lease and self._dhcp and time.ticks_diff(now, self._lease_since) >= simair.timing("dhcp_ms"):
            if self._link:
                offer = self._offer
            else:
                address = simair.lease(self._ap.net, self._ap.bits, _hex(self._mac))
                offer = None
                if address:
                    mask = simair.mask_int(self._ap.bits)
                    offer = (simair.ip_int(address), mask, self._ap.net + 1, simair.ip_int(simair.dns_server()))
            if offer:
                self._need_lease = False
                self._ip, self._mask, self._gw, self._dns = offer
                self._got_ip()
        self._watch_ap(now)

    def _ask_lease(self, now):
        self._need_lease = True
        self._lease_since = now
        self._offer = None
        if self._link:
            self._link.send(t="dhcp", mac=simair.mac_str(self._mac))

    def _read_link(self):
        link = self._link
        if link is None:
            return
        for message in link.receive():
            kind = message.get("t")
            if kind == "assoc":
                self._granted = True
            elif kind == "refuse":
                self._refused = message.get("reason", 0)
            elif kind == "ip":
                try:
                    self._offer = tuple(simair.ip_int(message[k]) for k in ("ip", "mask", "gw", "dns"))
                except (KeyError, ValueError):
                    pass
            elif kind == "deauth" and self._phase == _LINKED:
                self._sta_event(_REASON_AUTH_LEAVE)
                return
        if link.closed and self._lost_at is None and self._phase != _IDLE:
            # The SoftAP's module went away without a word: its beacons stop.
            self._lost_at = time.ticks_ms()

    def _watch_ap(self, now):
        ap = self._ap
        if ap.port:
            if self._lost_at is None and time.ticks_diff(now, self._checked) >= _HEARTBEAT_MS:
                self._checked = now
                if not simair.beacon_fresh(ap.bssid):
                    self._lost_at = now
        else:
            current = None
            for other in simair.world_aps():
                if other.bssid == ap.bssid and other.ssid == ap.ssid:
                    current = other
            if current is not None and (current.password != ap.password or current.security != ap.security):
                # The AP was reconfigured: it restarts and deauthenticates
                # everyone; the next join meets the new settings.
                self._sta_event(_REASON_AUTH_LEAVE)
                return
            if current is not None:
                ap.rssi = current.rssi  # follow its signal
                ap.channel = current.channel
                self._lost_at = None
            elif self._lost_at is None:
                self._lost_at = now
        if self._lost_at is not None and time.ticks_diff(now, self._lost_at) >= simair.timing("beacon_timeout_ms"):
            self._sta_event(STAT_BEACON_TIMEOUT)

    def _got_ip(self):
        self._connected = True
        self._reason = 0

    def _sta_event(self, reason, stopping=False):
        """WIFI_EVENT_STA_DISCONNECTED, as network_wlan.c handles it."""
        if self._phase == _IDLE and reason == _REASON_ASSOC_LEAVE:
            return  # nothing to leave: no event
        if self._link is not None:
            self._link.close()
            self._link = None
        self._phase = _IDLE
        self._ap = None
        self._lost_at = None
        self._reason = reason
        self._connected = False
        if self._dhcp:
            self._ip = self._mask = self._gw = self._dns = 0
        if self._requested and not stopping and self._active:
            if self._conf_reconnects:
                self._reconnects += 1
                if self._reconnects >= self._conf_reconnects:
                    return
            self._search()  # the port's automatic reassociation

    def _set_static(self, ip, mask, gw, dns):
        if self._id == STA_IF:
            self._dhcp = False
            self._ip, self._mask, self._gw, self._dns = ip, mask, gw, dns
            if self._phase == _LINKED and ip:
                self._got_ip()  # esp_netif posts GOT_IP for the new address
        else:
            self._ip, self._mask, self._gw, self._dns = ip, mask, gw, dns
            self._leases = {}  # the DHCP server restarts on the new subnet

    def _start_dhcp(self):
        # The address goes back to 0.0.0.0 until the DHCP client has a
        # lease; the port's "connected" flag stays as it was (it only
        # follows the disconnect and got-IP events).
        self._dhcp = True
        self._ip = self._mask = self._gw = self._dns = 0
        if self._phase == _LINKED:
            self._ask_lease(time.ticks_ms())

    def _stop_dhcp(self):
        self._dhcp = False

    # -- SoftAP -------------------------------------------------------------

    def _ap_restart(self):
        """(Re)start the SoftAP after a change: stations are deauthenticated,
        the beacon changes."""
        for station in self._stations:
            station[0].send(t="deauth")
            station[0].close()
        self._stations = []
        if self._published is not None:
            simair.unpublish(self._published)
            self._published = None
        if not self._active:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            return
        if self._listener is None:
            self._listener, self._port = simair.listen_link()
        self._beat_at = time.ticks_add(time.ticks_ms(), -_HEARTBEAT_MS)
        self._ap_service()

    def _ap_service(self):
        # Called on every poll of the firmware: an inactive SoftAP costs
        # nothing (the frame of _ap_serve would be allocated on the heap).
        if self._active:
            self._ap_serve()

    def _ap_serve(self):
        now = time.ticks_ms()
        if time.ticks_diff(now, self._beat_at) >= _HEARTBEAT_MS:
            self._beat_at = now
            channel = self._radio_channel()
            simair.publish(self._mac, self._ap_ssid, channel, self._ap_security, self._ap_hidden, self._port)
            self._published = self._mac
        while True:
            conn = simair.accept(self._listener)
            if conn is None:
                break
            self._stations.append([simair.Link(conn), None, None])
        for station in list(self._stations):
            link = station[0]
            for message in link.receive():
                self._ap_message(station, message)
            if link.closed:
                link.close()
                if station in self._stations:
                    self._stations.remove(station)

    def _ap_message(self, station, message):
        link = station[0]
        kind = message.get("t")
        try:
            mac = simair.mac_bytes(message.get("mac", ""))
        except ValueError:
            link.close()
            return
        if kind == "auth":
            associated = [s for s in self._stations if s[1] is not None]
            if len(associated) >= self._ap_max:
                link.send(t="refuse", reason=_REASON_ASSOC_TOOMANY)
                link.close()
                return
            if self._ap_security != AUTH_OPEN and message.get("key") != self._ap_key:
                # The 4-way handshake fails: the station finds out by timeout.
                link.send(t="refuse", reason=STAT_HANDSHAKE_TIMEOUT)
                link.close()
                return
            station[1] = mac
            link.send(t="assoc")
        elif kind == "dhcp" and station[1] is not None:
            ip = self._dhcp_lease(mac)
            if ip is None:
                return  # pool exhausted: no offer
            station[2] = ip
            link.send(
                t="ip",
                ip=simair.ip_str(ip),
                mask=simair.ip_str(self._mask),
                gw=simair.ip_str(self._ip),
                dns=simair.ip_str(self._ip),  # the IDF's DHCP server offers itself as DNS
            )

    def _dhcp_lease(self, mac):
        ip = self._leases.get(mac)
        if ip is not None:
            return ip
        taken = set(self._leases.values())
        broadcast = (self._ip & self._mask) | (~self._mask & 0xFFFFFFFF)
        for host in range(self._ip + 1, min(self._ip + 1 + _DHCPS_LEASES, broadcast)):
            if host not in taken:
                self._leases[mac] = host
                return host
        return None

    def _radio_channel(self):
        # One radio: with the station associated, the SoftAP follows its channel.
        sta = _interfaces.get(STA_IF)
        if sta is not None and sta._phase == _LINKED:
            return sta._ap.channel
        return self._ap_channel

    # -- configuration ------------------------------------------------------

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        if kwargs:
            self._set(kwargs)
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        name = args[0]
        is_ap = self._id == AP_IF
        if name == "mac":
            return self._mac
        if name in ("ssid", "essid"):
            return self._ap_ssid if is_ap else self._ssid
        if name == "hidden":
            self._require(AP_IF)
            return self._ap_hidden
        if name in ("security", "authmode"):
            self._require(AP_IF)
            return self._ap_security
        if name == "channel":
            ap = _interfaces.get(AP_IF)
            sta = _interfaces.get(STA_IF)
            if sta is not None and sta._phase == _LINKED:
                return sta._ap.channel
            return ap._ap_channel if ap is not None else 1
        if name in ("hostname", "dhcp_hostname"):
            self._require(STA_IF)
            return _hostname
        if name == "max_clients":
            return self._ap_max if is_ap else 0
        if name == "reconnects":
            self._require(STA_IF)
            return self._conf_reconnects - 1
        if name == "pm":
            return _ps  # esp_wifi_get_ps() works before esp_wifi_start()
        if name == "txpower":
            if not _started():
                raise OSError("Wifi Not Started")
            return _tx_power * 0.25
        raise ValueError("unknown config param")

    def _require(self, interface_id):
        if self._id != interface_id:
            raise OSError("STA required" if interface_id == STA_IF else "AP required")

    def _set(self, kwargs):
        # All checks come first, so a refused call changes nothing (the port
        # applies each value in turn and may fail half-way).
        global _ps, _tx_power, _hostname
        ps = power = mac = reconnects = hostname = None
        ap = {}
        for name in kwargs:
            value = kwargs[name]
            if name == "pm":
                if type(value) is not int and type(value) is not bool:
                    raise TypeError("can't convert %s to int" % type(value).__name__)
                ps = int(value)
                if not 0 <= ps <= 2:
                    raise _invalid_arg()
            elif name == "txpower":
                if not _started():
                    raise OSError("Wifi Not Started")
                power = int(float(value) * 4)
                power = ((power + 128) & 0xFF) - 128  # the port casts to int8_t
                if not 8 <= power <= 84:
                    raise _invalid_arg()
            elif name == "mac":
                mac = bytes(value)
                if len(mac) != 6:
                    raise ValueError("invalid buffer length")
                if mac[0] & 1:
                    raise OSError("Wifi Invalid MAC Address")  # multicast bit
            elif name in ("ssid", "essid"):
                self._require(AP_IF)
                ap["ssid"] = str(value)[:32]
            elif name == "hidden":
                self._require(AP_IF)
                ap["hidden"] = bool(value)
            elif name in ("security", "authmode"):
                self._require(AP_IF)
                ap["security"] = int(value)
            elif name in ("key", "password"):
                self._require(AP_IF)
                ap["key"] = str(value)[:63]
            elif name == "channel":
                ap["channel"] = int(value)
            elif name == "max_clients":
                self._require(AP_IF)
                ap["max"] = int(value)
            elif name == "reconnects":
                self._require(STA_IF)
                reconnects = int(value)
            elif name in ("hostname", "dhcp_hostname"):
                hostname = str(value)
                if len(hostname) > 32:
                    raise ValueError()
            else:
                raise ValueError("unknown config param")
        if not self._active:
            # esp_wifi_set_config() fails on an interface that is not enabled.
            raise OSError("Wifi Invalid Mode")
        if self._id == AP_IF:
            ap_new = {
                "ssid": self._ap_ssid,
                "hidden": self._ap_hidden,
                "security": self._ap_security,
                "key": self._ap_key,
                "channel": self._ap_channel,
                "max": self._ap_max,
            }
            ap_new.update(ap)
            if ap_new["security"] == AUTH_WEP or not 0 <= ap_new["security"] <= 9:
                raise _invalid_arg()  # the SoftAP does no WEP
            if ap_new["security"] != AUTH_OPEN and len(ap_new["key"]) < 8:
                raise OSError("Wifi Invalid Password")
            if not 1 <= ap_new["channel"] <= _AP_CHANNELS or not 1 <= ap_new["max"] <= _MAX_CONN:
                raise _invalid_arg()
        if ps is not None:
            _ps = ps
        if power is not None:
            for level in _TX_LEVELS:
                if level <= power:
                    _tx_power = level
                    break
        if hostname is not None:
            _hostname = hostname
        if reconnects is not None:
            # -1 means retry forever, kept as 0; n as n + 1 (network_wlan.c).
            self._conf_reconnects = 0 if reconnects == -1 else (reconnects + 1) & 0xFF
        if self._id == AP_IF and (ap or mac is not None):
            if mac is not None:
                self._mac = mac
            self._ap_ssid = ap_new["ssid"]
            self._ap_hidden = ap_new["hidden"]
            self._ap_security = ap_new["security"]
            self._ap_key = ap_new["key"]
            self._ap_channel = ap_new["channel"]
            self._ap_max = ap_new["max"]
            self._ap_restart()
        elif mac is not None:
            self._mac = mac


# -- Ethernet -----------------------------------------------------------------

_lan = None
_PHYS = (PHY_LAN8710, PHY_LAN8720, PHY_IP101, PHY_RTL8201, PHY_DP83848, PHY_KSZ8041, PHY_KSZ8081)


class _LAN(_Netif):
    """The one Ethernet interface network.LAN() returns. Its cable is the
    world file's "ethernet" object: {"link": true|false, "subnet": ...}."""

    def __init__(self):
        self._netif_init()
        self._mac = _mac_for(3)
        self._active = False
        self._status = ETH_INITIALIZED
        self._since = 0

    def _client(self):
        return True

    def active(self, is_active=None):
        if is_active is not None:
            active = bool(is_active)
            if active != self._active:
                self._active = active
                self._status = ETH_STARTED if active else ETH_STOPPED
                self._since = time.ticks_ms()
                if not active and self._dhcp:
                    self._ip = self._mask = self._gw = self._dns = 0
        self._advance()
        return self._active

    def isconnected(self):
        self._advance()
        return self._active and self._status == ETH_GOT_IP

    def status(self):
        self._advance()
        return self._status

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        if kwargs:
            for name in kwargs:
                if name == "mac":
                    mac = bytes(kwargs[name])
                    if len(mac) != 6:
                        raise ValueError("invalid buffer length")
                    if mac[0] & 1:
                        raise OSError("failed setting MAC address")
                    self._mac = mac
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        if args[0] == "mac":
            return self._mac
        raise ValueError("unknown config param")

    def _advance(self):
        # On every call the firmware makes: the steady states (a cable and
        # an address, or no cable) return without allocating.
        if not self._active:
            return
        link = simair.world()["eth_link"]
        status = self._status
        if link:
            if status == ETH_GOT_IP or (status == ETH_CONNECTED and not self._dhcp):
                return
        elif status == ETH_STARTED or status == ETH_DISCONNECTED:
            self._since = time.ticks_ms()
            return
        self._advance_steps(link)

    def _advance_steps(self, link):
        world = simair.world()
        now = time.ticks_ms()
        if (self._status == ETH_CONNECTED or self._status == ETH_GOT_IP) and not link:
            self._status = ETH_DISCONNECTED
            if self._dhcp:
                self._ip = self._mask = self._gw = self._dns = 0
            return
        if self._status == ETH_STARTED or self._status == ETH_DISCONNECTED:
            if not link:
                self._since = now
                return
            if time.ticks_diff(now, self._since) >= simair.timing("link_ms"):
                self._status = ETH_CONNECTED
                self._since = now
                if not self._dhcp and self._ip:
                    self._status = ETH_GOT_IP
            return
        if self._status == ETH_CONNECTED and self._dhcp:
            if time.ticks_diff(now, self._since) >= simair.timing("dhcp_ms"):
                net, bits = world["eth_net"]
                address = simair.lease(net, bits, _hex(self._mac))
                if address:
                    self._ip = simair.ip_int(address)
                    self._mask = simair.mask_int(bits)
                    self._gw = net + 1
                    self._dns = simair.ip_int(simair.dns_server())
                    self._status = ETH_GOT_IP

    def _set_static(self, ip, mask, gw, dns):
        self._dhcp = False
        self._ip, self._mask, self._gw, self._dns = ip, mask, gw, dns
        if self._status == ETH_CONNECTED and ip:
            self._status = ETH_GOT_IP

    def _start_dhcp(self):
        self._dhcp = True
        if self._status == ETH_GOT_IP:
            self._status = ETH_CONNECTED
            self._since = time.ticks_ms() - simair.timing("dhcp_ms")
        self._ip = self._mask = self._gw = self._dns = 0

    def _stop_dhcp(self):
        self._dhcp = False


def LAN(id=None, *, mdc=None, mdio=None, reset=None, power=None, phy_addr, phy_type,
        spi=None, cs=None, int=None, ref_clk_mode=-1, ref_clk=None):
    """network.LAN(): the one Ethernet interface (initialised on first call)."""
    global _lan
    if _lan is not None:
        return _lan
    if id is not None and id != 0:
        raise ValueError("invalid LAN interface identifier")
    if not 0 <= phy_addr <= 0x1F:
        raise ValueError("invalid phy address")
    if phy_type not in _PHYS:
        raise ValueError("invalid phy type")
    if mdc is None or mdio is None:
        raise ValueError("mdc and mdio must be specified")
    _lan = _LAN()
    return _lan


# -- module functions -----------------------------------------------------------


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    if len(name) > 32:  # MICROPY_PY_NETWORK_HOSTNAME_MAX_LEN
        raise ValueError()
    _hostname = name
    return None


def country(code=None):
    # Kept by extmod/modnetwork.c; the ESP32 port hands it to no driver.
    global _country
    if code is None:
        return _country
    if len(code) != 2:
        raise ValueError()
    _country = code
    return None


def ipconfig(*args, **kwargs):
    if not kwargs:
        if len(args) != 1:
            raise TypeError("must query one param")
        if args[0] == "dns":
            # lwIP's first DNS server, one for all interfaces: modelled as the
            # station's, else Ethernet's (whichever lease or ipconfig(dns=)
            # set it).
            sta = _interfaces.get(STA_IF)
            dns = sta._dns if sta is not None else 0
            if not dns and _lan is not None:
                dns = _lan._dns
            return simair.ip_str(dns)
        raise ValueError("unexpected key")
    if args:
        raise TypeError("can't specify pos and kw args")
    for key in kwargs:
        if key != "dns":
            raise ValueError("unexpected key")
        sta = WLAN(STA_IF)
        sta._dns = simair.ip_int(kwargs[key])
    return None


def phy_mode(mode=None):
    return None


def _route(destination):
    """The source address lwIP would pick for a packet to `destination`
    (a dotted quad), or None when no interface routes there: the subnet
    that holds it, else the default interface (STA, then Ethernet, then
    the SoftAP: esp_netif's route priorities)."""
    _service()
    up = []
    sta = _interfaces.get(STA_IF)
    if sta is not None and sta._active and sta._connected and sta._ip:
        up.append((sta._ip, sta._mask))
    if _lan is not None and _lan._active and _lan._status == ETH_GOT_IP and _lan._ip:
        up.append((_lan._ip, _lan._mask))
    ap = _interfaces.get(AP_IF)
    if ap is not None and ap._active and ap._ip:
        up.append((ap._ip, ap._mask))
    if not up:
        return None
    try:
        target = simair.ip_int(destination)
    except (ValueError, AttributeError):
        target = None  # not an IPv4 address: the default interface
    for ip, mask in up:
        if target is not None and target & mask == ip & mask:
            return simair.ip_str(ip)
    return simair.ip_str(up[0][0])
