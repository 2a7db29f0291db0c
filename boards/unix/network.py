# Stand-in for the ESP32 port's `network` module on the unix port. So far it
# models only the Wi-Fi driver state that needs no radio: interfaces on and
# off, power save, the TX power limit and the MAC addresses. Names, return
# types and exceptions follow ports/esp32/network_wlan.c and esp_wifi.h; no
# scanning or connecting yet (that comes with the simulated Wi-Fi world).
import machine

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

# esp_wifi_set_max_tx_power() on the ESP32 (0.25 dBm units, range [8, 84])
# takes the highest of these levels that does not exceed the value; 78
# (19.5 dBm) is the top the ESP32 reaches (ESP-AT's AT+RFPOWER table).
_TX_LEVELS = (78, 72, 66, 60, 56, 52, 44, 34, 28, 20, 8)

# Driver-wide state: in the IDF, power save and the TX power limit belong to
# the Wi-Fi driver, not to an interface.
_ps = 1  # WIFI_PS_MIN_MODEM, the IDF's default
_tx_power = _TX_LEVELS[0]
_interfaces = {}  # interface id -> its one WLAN object


def _started():
    # esp_wifi_start() has run while at least one interface is active.
    for wlan in _interfaces.values():
        if wlan._active:
            return True
    return False


def _invalid_arg():
    # ESP_ERR_INVALID_ARG: the port's esp_exceptions() has no text for it.
    return RuntimeError("Wifi Unknown Error 0x0102")


class WLAN:
    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    def __new__(cls, interface_id=0):
        # The port hands out one static object per interface.
        wlan = _interfaces.get(interface_id)
        if wlan is None:
            if interface_id not in (STA_IF, AP_IF):
                raise ValueError("invalid WLAN interface identifier")
            wlan = object.__new__(cls)
            wlan._active = False
            mac = bytearray(machine.unique_id())  # the base MAC is the STA's
            mac[5] = (mac[5] + interface_id) & 0xFF  # the AP's is base + 1
            wlan._mac = bytes(mac)
            _interfaces[interface_id] = wlan
        return wlan

    def __init__(self, interface_id=0):
        pass

    def active(self, is_active=None):
        if is_active is not None:
            self._active = bool(is_active)
        return self._active

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        if kwargs:
            self._set(kwargs)
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        name = args[0]
        if name == "mac":
            return self._mac
        if name == "pm":
            return _ps  # esp_wifi_get_ps() works before esp_wifi_start()
        if name == "txpower":
            if not _started():
                raise OSError("Wifi Not Started")
            return _tx_power * 0.25
        raise ValueError("unknown config param")

    def _set(self, kwargs):
        # All checks come first, so a refused call changes nothing (the port
        # applies each value in turn and may fail half-way).
        global _ps, _tx_power
        ps = power = mac = None
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
            else:
                raise ValueError("unknown config param")
        if not self._active:
            # esp_wifi_set_config() fails on an interface that is not enabled.
            raise OSError("Wifi Invalid Mode")
        if ps is not None:
            _ps = ps
        if power is not None:
            for level in _TX_LEVELS:
                if level <= power:
                    _tx_power = level
                    break
        if mac is not None:
            self._mac = mac
