# AT+RFPOWER: the Wi-Fi TX power limit, through WLAN.config(txpower=) in dBm.
# The driver quantises the value (34/44/52/56/60/66/72/78 quarter-dBm in
# [40, 84]); the query reads back what it took. Never saved to flash.
# Bluetooth LE TX power has no MicroPython API (no esp_ble_tx_power_set
# binding), so the BLE fields are refused rather than pretended.
from firmware import errors, params, radio


def _wifi():
    # ESP-AT: no Wi-Fi TX power while Wi-Fi is off (CWMODE=0) or not initialised.
    wlan = radio.interface()
    if wlan is None:
        raise errors.failed()
    return wlan


def rfpower_query(at):
    # Only <wifi_power>: the BLE values are unknown to us, and this is the
    # form ESP-AT itself answers where it has no BLE power (ESP32-C2/S2).
    power = _wifi().config("txpower")
    at.reply(b"+RFPOWER:%d" % int(power * 4))


def rfpower_set(at, args):
    params.count(args, 1, 4)
    power = params.int_at(args, 0, 40, 84)
    ble = [params.int_at(args, i, 0, 7, None) for i in range(1, len(args))]
    for i in range(len(ble)):
        if ble[i] is not None:
            raise errors.no_api(i + 1)  # checked before anything is applied
    wlan = _wifi()
    try:
        wlan.config(txpower=power / 4)
    except (OSError, RuntimeError):
        raise errors.failed()


COMMANDS = (("+RFPOWER", None, rfpower_query, rfpower_set, None),)


def register(at):
    radio.boot(at.settings)
    at.register(COMMANDS)


def unload(at):
    # Nothing of this group outlives a command: it can go (firmware/at.py, make_room).
    return True
