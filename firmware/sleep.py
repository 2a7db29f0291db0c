# Power saving: AT+SLEEP (Wi-Fi modem sleep), AT+SLEEPWKCFG and the older
# AT+SYSLSPCFG (light-sleep wake sources), AT+SYSLSP (light sleep now).
# AT+GSLP (deep sleep) is in basic.py.
import esp32
import machine
import network

from firmware import errors, params, radio
from firmware.at import DONE

_INT32_MAX = 0x7FFFFFFF
_GPIO_MAX = 39

# AT+SLEEP mode -> WLAN power management. Mode 2, automatic light sleep, has
# no MicroPython API: it needs esp_pm_configure(light_sleep_enable=true),
# which the port never binds (machine.freq() calls it with light sleep off).
# Calling machine.lightsleep() whenever the AT loop idles would not be the
# same thing: there is no UART wake source, so the host could not wake the
# chip, and a manual light sleep loses the Wi-Fi association that automatic
# light sleep keeps. So AT+SLEEP=2 answers the no-API error.
_PM = (network.WLAN.PM_NONE, network.WLAN.PM_PERFORMANCE, None, network.WLAN.PM_POWERSAVE)

_off_mode = None  # an AT+SLEEP value accepted while Wi-Fi was off
_timer_ms = 0  # light-sleep timer wake, 0 when not configured
_gpio = -1  # light-sleep GPIO wake pin, -1 when not configured
_level = 1  # the level of _gpio that wakes: 0 low, 1 high


def sleep_query(at):
    if _off_mode is not None and radio.mode() == 0:
        mode = _off_mode
    else:
        mode = _PM.index(radio.sta().config("pm"))  # what the driver does
    at.reply(b"+SLEEP:%d" % mode)


def sleep_set(at, args):
    global _off_mode
    params.count(args, 1, 1)
    mode = params.int_at(args, 0, 0, 3)
    if mode == 2:
        raise errors.no_api(0)
    wifi = radio.mode()
    if wifi == 0:
        # ESP-AT accepts it without effect when Wi-Fi is off (old hosts).
        _off_mode = mode
        return
    if mode and wifi != 1:
        raise errors.failed()  # modem sleep only in station mode
    try:
        radio.interface().config(pm=_PM[mode])
    except (OSError, RuntimeError):
        raise errors.failed()  # e.g. the IDF refuses PM_NONE while BLE is on
    _off_mode = None


def _gpio_source(args):
    # <gpio>,<level>. Any GPIO can wake the ESP32 from light sleep
    # (gpio_wakeup_enable); machine.Pin refuses numbers the chip lacks.
    global _gpio, _level
    params.count(args, 3, 3)
    pin = params.int_at(args, 1, 0, _GPIO_MAX)
    try:
        machine.Pin(pin)  # no mode given: the pin's set-up is left alone
    except ValueError:
        raise errors.invalid(1)
    _level = params.int_at(args, 2, 0, 1)
    _gpio = pin


def syslspcfg_set(at, args):
    global _timer_ms
    params.count(args, 2, 3)
    source = params.int_at(args, 0, 0, 2)
    if source == 1:
        # UART wake: esp_sleep_enable_uart_wakeup() has no binding.
        raise errors.no_api(0)
    if source == 2:
        _gpio_source(args)
        return
    params.count(args, 2, 2)
    _timer_ms = params.int_at(args, 1, 1, _INT32_MAX)


def sleepwkcfg_set(at, args):
    params.count(args, 2, 3)
    params.int_at(args, 0, 2, 2)  # sources 0 and 1 are reserved upstream
    _gpio_source(args)


def syslsp_execute(at):
    if not _timer_ms and _gpio < 0:
        raise errors.failed()  # no wake source: the chip would never wake
    at.ok()
    at.flush()
    # The GPIO source is armed only for this sleep: while wake pins are set,
    # machine.deepsleep() raises on the ESP32 (no GPIO deep-sleep wake), which
    # would break AT+GSLP.
    level = esp32.WAKEUP_ANY_HIGH if _level else esp32.WAKEUP_ALL_LOW
    if _gpio >= 0:
        esp32.wake_on_gpio((machine.Pin(_gpio),), level)
    try:
        if _timer_ms:
            machine.lightsleep(_timer_ms)
        else:
            machine.lightsleep()
    finally:
        if _gpio >= 0:
            esp32.wake_on_gpio((), level)
    return DONE


COMMANDS = (
    ("+SLEEP", None, sleep_query, sleep_set, None),
    ("+SLEEPWKCFG", None, None, sleepwkcfg_set, None),
    ("+SYSLSPCFG", None, None, syslspcfg_set, None),
    ("+SYSLSP", None, None, None, syslsp_execute),
)

# Misspellings in the old command list, accepted as aliases.
ALIASES = (("+SYSLPCFG", "+SYSLSPCFG"), ("+SYSLSLSP", "+SYSLSP"))


def register(at):
    radio.boot(at.settings)
    at.register(COMMANDS, ALIASES)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): only with its
    wake-up settings as at boot."""
    return _off_mode is None and _timer_ms == 0 and _gpio == -1 and _level == 1
