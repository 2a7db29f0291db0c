# The network drivers as every command group sees them: the station and
# SoftAP interfaces, the mode in AT+CWMODE terms, the station's state in
# AT+CWSTATE terms, and the Ethernet interface if there is one. The ESP32
# port keeps Wi-Fi settings in RAM only, so boot() restores the saved
# AT+CWMODE once per boot, and the groups that keep per-interface settings
# (MACs, addresses, the SoftAP's configuration) add a hook that applies them
# whenever an interface comes up.
import network
from micropython import const

STA = const(1)
AP = const(2)

# AT+CWSTATE: 0 no connection started, 2 connected with an IPv4 address,
# 3 connecting or reconnecting, 4 disconnected. 1 (associated, no address
# yet) cannot be told apart from 3: the port reports no association event.
state = 0

# The network.LAN object when the board has Ethernet (set by firmware.eth),
# for the commands that cover every interface (AT+CIFSR, AT+CWDHCP).
lan = None

_hooks: list = []
_booted = False


def sta():
    return network.WLAN(network.WLAN.IF_STA)


def ap():
    return network.WLAN(network.WLAN.IF_AP)


def mode():
    """The Wi-Fi mode in AT+CWMODE terms: 0 off, 1 station, 2 SoftAP, 3 both."""
    return (STA if sta().active() else 0) | (AP if ap().active() else 0)


def interface():
    """An active interface, for driver-wide settings; None when Wi-Fi is off."""
    if sta().active():
        return sta()
    if ap().active():
        return ap()
    return None


def set_mode(new):
    """Bring the interfaces up or down (those coming up first, so that the
    driver never stops in between), then run the hooks."""
    global state
    old = mode()
    if new & STA:
        sta().active(True)
    if new & AP:
        ap().active(True)
    if not new & STA:
        sta().active(False)
        state = 0
    if not new & AP:
        ap().active(False)
    for hook in tuple(_hooks):  # a hook may add one (an imported group's)
        hook(old, new)


def add_hook(hook):
    """hook(old_mode, new_mode) runs after every mode change, and once now
    for the interfaces that are already up."""
    _hooks.append(hook)
    hook(0, mode())


def boot(settings):
    """Restore the saved AT+CWMODE (ESP-AT's factory default: 1), once."""
    global _booted
    if not _booted:
        _booted = True
        set_mode(settings.get_int("cwmode", STA))
