# The Wi-Fi driver as the non-Wi-Fi commands see it. A stopgap: the Wi-Fi
# command group (AT+CWMODE, which restores the saved mode at boot) replaces
# this module. Until then Wi-Fi comes up in station mode, ESP-AT's factory
# CWMODE=1, the first time a command group asks for it at boot.
import network

_booted = False


def sta():
    return network.WLAN(network.WLAN.IF_STA)


def ap():
    return network.WLAN(network.WLAN.IF_AP)


def boot():
    """Start Wi-Fi in station mode, once per boot."""
    global _booted
    if not _booted:
        _booted = True
        sta().active(True)


def mode():
    """The Wi-Fi mode in AT+CWMODE terms: 0 off, 1 station, 2 softAP, 3 both."""
    return (1 if sta().active() else 0) | (2 if ap().active() else 0)


def interface():
    """An active interface, for driver-wide settings; None when Wi-Fi is off."""
    if sta().active():
        return sta()
    if ap().active():
        return ap()
    return None
