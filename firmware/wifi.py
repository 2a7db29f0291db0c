# The Wi-Fi station and mode: AT+CWMODE, AT+CWJAP, AT+CWQAP, AT+CWSTATE,
# AT+CWRECONNCFG, AT+CWAUTOCONN, AT+CWINIT, AT+CWCOUNTRY, and the WIFI
# CONNECTED, WIFI GOT IP and WIFI DISCONNECT messages.
#
# The ESP32 port gives Python no Wi-Fi events: everything here polls
# WLAN.status(). AT+CWJAP is a generator that polls until the station has an
# address, has failed or has timed out (the port meanwhile answers "busy
# p..."); between commands a ticker polls at 10 Hz for a lost connection and
# runs ESP-AT's reconnect policy (AT+CWRECONNCFG) itself: the driver's own
# reconnects have no interval and are turned off.
import time

import network
from micropython import const

from firmware import addr, errors, params, radio

_POLL_MS = const(100)  # the ticker's rate
_JOIN_POLL_MS = const(20)  # AT+CWJAP's: drivers read WIFI GOT IP promptly
# The port keeps the last disconnect reason until the next event, so right
# after connect() status() may still show the previous attempt's failure. A
# failure equal to that one is believed only once an attempt would have
# ended by itself (a missing AP takes about 2 s, a wrong password about 3 s).
_STALE_MS = const(5000)
_LEAVE_MS = const(1000)
_LISTEN_INTERVAL = const(3)  # the IDF's default, all the port can do
_PMF = const(1)  # the IDF always advertises PMF capability
_SSID_MAX = const(32)
_PWD_MAX = const(64)

_GOT_IP = network.STAT_GOT_IP
_CONNECTING = network.STAT_CONNECTING
_IDLE = network.STAT_IDLE

# AT+CWJAP's configuration (RAM; saved when AT+SYSSTORE=1).
_ssid = None  # None: no AP configured yet
_pwd = ""
_bssid = None  # 6 bytes when AT+CWJAP named one (or scan mode 1 chose it)
_timeout = 15  # <jap_timeout>, s
_scan_mode = 0
_interval = 0  # AT+CWRECONNCFG <interval_second>
_repeat = 0  # AT+CWRECONNCFG <repeat_count>

# The station as reported to the host.
_at = None
_reported = False  # WIFI CONNECTED and WIFI GOT IP said, WIFI DISCONNECT not yet
_want = False  # keep the station connected: reconnect when it drops
_joining = False  # AT+CWJAP owns the station while it runs
_attempt = False  # the ticker started a connection attempt
_start = 0  # when the current attempt started
_stale = 0  # status() right after connect()
_retry = False  # a (re)connection attempt is due at _retry_at
_retry_at = 0
_retries = 0
_next_poll = 0

_country_policy = 0
_country_start = 1
_country_count = 13


def _code(status):
    """The +CWJAP:<code> for a failed status(): 2 wrong password, 3 AP not
    found, 4 anything else (1, timeout, is decided by the caller)."""
    if status in (network.STAT_WRONG_PASSWORD, network.STAT_HANDSHAKE_TIMEOUT, 15):
        return 2
    if status in (network.STAT_NO_AP_FOUND, 210, 211, 212):
        return 3
    return 4


def _connect(now):
    """Start one connection attempt with the configured AP."""
    global _start, _stale
    wlan = radio.sta()
    connected = wlan.isconnected()
    try:
        wlan.disconnect()
    except OSError:
        pass
    if connected:
        # The port clears its connected flag in the driver's event task:
        # wait for it (milliseconds), or the old connection would pass for
        # the new one.
        deadline = time.ticks_add(time.ticks_ms(), _LEAVE_MS)
        while wlan.isconnected() and time.ticks_diff(deadline, time.ticks_ms()) > 0:
            time.sleep_ms(5)
    wlan.config(reconnects=0)  # ESP-AT's reconnect policy is ours
    if _bssid is None:
        wlan.connect(_ssid, _pwd)
    else:
        wlan.connect(_ssid, _pwd, bssid=_bssid)
    _start = now
    _stale = wlan.status()
    radio.state = 3


def _result(now):
    """The attempt's outcome: None while it runs, else its final status()."""
    status = radio.sta().status()
    if status == _GOT_IP:
        return status
    if status == _IDLE or status == _CONNECTING:
        return None
    if status == _stale and time.ticks_diff(now, _start) < _STALE_MS:
        return None
    return status


def _stop():
    global _attempt, _retry
    _attempt = False
    _retry = False
    try:
        radio.sta().disconnect()
    except OSError:
        pass


def _schedule(now, delay_s):
    global _retry, _retry_at
    _retry = True
    _retry_at = time.ticks_add(now, delay_s * 1000)
    radio.state = 3


def _given_up():
    global _want
    _want = False
    radio.state = 4
    _stop()


def _auto_connect(now):
    """Connect to the AP saved in flash, if there is one (power-up with
    AT+CWAUTOCONN=1, or AT+CWMODE into station mode)."""
    global _want, _retries
    saved = _saved(_at.settings)
    if saved is None or not radio.mode() & radio.STA:
        return
    _use(saved)
    _want = True
    _retries = -1  # the first attempt is no reconnection
    _schedule(now, 0)


def _tick(now):
    # Every 10 ms; the work in _poll, whose frame is too large for the C
    # stack (it would cost heap on every tick).
    if not _joining and time.ticks_diff(now, _next_poll) >= 0:
        _poll(now)


def _poll(now):
    global _next_poll, _reported, _attempt, _retries
    _next_poll = time.ticks_add(now, _POLL_MS)
    wlan = radio.sta()
    if not wlan.active():
        if _reported:
            _reported = False
            _at.urc(b"WIFI DISCONNECT\r\n")
        _attempt = False
        return
    if _attempt:
        status = _result(now)
        if status is None and time.ticks_diff(now, _start) < _timeout * 1000:
            return
        _attempt = False
        if status == _GOT_IP:
            _connected()
            return
        # Failed (or stuck past <jap_timeout>): try again after the interval.
        if _want and _interval and (_repeat == 0 or _retries < _repeat):
            _stop()
            _schedule(now, _interval)
        else:
            _given_up()
        return
    status = wlan.status()
    if _reported:
        if status == _GOT_IP:
            return
        _reported = False
        _at.urc(b"WIFI DISCONNECT\r\n")
        radio.state = 4
        if _want and _interval:
            _retries = 0
            _schedule(now, _interval)
        else:
            _given_up()
        return
    if status == _GOT_IP:
        _connected()
        return
    if _retry and time.ticks_diff(now, _retry_at) >= 0:
        _retry_start(now)


def _retry_start(now):
    global _retry, _attempt, _retries
    _retry = False
    if _start_attempt(now):
        _attempt = True
        _retries += 1


def _start_attempt(now):
    try:
        _connect(now)
    except (OSError, RuntimeError, ValueError):
        _given_up()
        return False
    return True


def _connected():
    global _reported, _want, _retries
    _reported = True
    _want = True
    _retries = 0
    radio.state = 2
    _at.urc(b"WIFI CONNECTED\r\n")
    _at.urc(b"WIFI GOT IP\r\n")


# -- saved configuration ------------------------------------------------------------


def _pack():
    ssid = _ssid.encode()
    pwd = _pwd.encode()
    return bytes((len(ssid),)) + ssid + bytes((len(pwd),)) + pwd + (_bssid or b"")


def _saved(settings):
    """(ssid, pwd, bssid) saved by AT+CWJAP, or None."""
    blob = settings.get_bytes("jap")
    if not blob:
        return None
    n = blob[0]
    ssid = blob[1 : 1 + n].decode()
    m = blob[1 + n]
    pwd = blob[2 + n : 2 + n + m].decode()
    bssid = blob[2 + n + m :]
    return ssid, pwd, bssid if len(bssid) == 6 else None


def _use(config):
    global _ssid, _pwd, _bssid
    _ssid, _pwd, _bssid = config


# -- AT+CWMODE ---------------------------------------------------------------------


def cwmode_query(at):
    at.reply(b"+CWMODE:%d" % radio.mode())


def cwmode_set(at, args):
    params.count(args, 1, 2)
    mode = params.int_at(args, 0, 0, 3)
    auto = params.int_at(args, 1, 0, 1, 1)
    old = radio.mode()
    if not mode & radio.STA:
        _stop_policy()
    try:
        radio.set_mode(mode)
    except (OSError, RuntimeError):
        raise errors.failed()
    at.settings.put_int("cwmode", mode)
    if mode & radio.STA and not old & radio.STA and auto:
        _auto_connect(time.ticks_ms())


def _stop_policy():
    global _want, _retry, _attempt
    _want = False
    _retry = False
    _attempt = False


# -- AT+CWJAP ----------------------------------------------------------------------


def cwjap_query(at):
    wlan = radio.sta()
    if not wlan.active():
        raise errors.failed()
    if wlan.status() != _GOT_IP:
        at.reply(b"No AP")
        return
    try:
        rssi = wlan.status("rssi")
    except OSError:
        at.reply(b"No AP")
        return
    # The port cannot tell which BSSID it associated with: known only when
    # AT+CWJAP named it or scan mode 1 chose it, else left empty.
    bssid = addr.mac_text(_bssid) if _bssid is not None else b""
    at.reply(
        b'+CWJAP:"%s","%s",%d,%d,%d,%d,%d,%d,%d'
        % (wlan.config("ssid"), bssid, wlan.config("channel"), rssi, 0, _interval, _LISTEN_INTERVAL, _scan_mode, _PMF)
    )


def cwjap_set(at, args):
    global _timeout, _scan_mode, _interval
    params.count(args, 1, 9)
    ssid = params.str_at(args, 0, _SSID_MAX, None, 1)
    pwd = params.str_at(args, 1, _PWD_MAX, None)
    bssid = addr.mac_at(args, 2, None)
    threshold = params.int_at(args, 3, 0, 16, 0)  # old lists: <pci_en> 0/1
    reconn = params.int_at(args, 4, 0, 7200, 1)  # old lists: <reconn> 0/1
    listen = params.int_at(args, 5, 1, 100, _LISTEN_INTERVAL)
    scan_mode = params.int_at(args, 6, 0, 1, 0)
    timeout = params.int_at(args, 7, 3, 600, 15)
    pmf = params.int_at(args, 8, 0, 3, _PMF)
    if ssid is None and (pwd is not None or bssid is not None):
        raise errors.invalid(0)
    if threshold:
        raise errors.no_api(3)  # connect() sets no authmode threshold
    if listen != _LISTEN_INTERVAL:
        raise errors.no_api(5)  # nor a listen interval
    if pmf != _PMF:
        raise errors.no_api(8)  # nor a PMF configuration
    if ssid is None:
        config = _current(at)
    else:
        config = (ssid, pwd or "", bssid)
    if not radio.sta().active():
        raise errors.failed()
    _use(config)
    _timeout = timeout
    _scan_mode = scan_mode
    _interval = reconn
    at.settings.put_bytes("jap", _pack())
    at.settings.put_int("jap_timeout", timeout)
    at.settings.put_int("jap_scan", scan_mode)
    at.settings.put_int("reconn_int", reconn)
    return _join(at, ssid is not None and bssid is None)


def cwjap_execute(at):
    if not radio.sta().active():
        raise errors.failed()
    _use(_current(at))
    return _join(at, False)


def _current(at):
    if _ssid is None:
        raise errors.failed()  # nothing to connect to
    return (_ssid, _pwd, _bssid)


def _join(at, choose_bssid):
    """Generator: connect, then poll until an address, a failure or
    <jap_timeout>."""
    global _joining, _reported, _bssid, _want, _retries
    _stop_policy()
    _joining = True
    try:
        wlan = radio.sta()
        if _reported:
            _reported = False
            at.write(b"WIFI DISCONNECT\r\n")
        if _scan_mode == 1 and choose_bssid:
            # All-channel scan: join the strongest AP with this SSID. (The
            # scan blocks; what the host sends meanwhile gets busy p....)
            try:
                found = wlan.scan()
            except OSError:
                raise errors.failed()
            ssid = _ssid.encode()
            best = None
            for record in found:
                if record[0] == ssid and (best is None or record[3] > best[3]):
                    best = record
            if best is not None:
                _bssid = best[1]
            yield 10  # a loop turn: input sent during the scan gets busy p...
        now = time.ticks_ms()
        try:
            _connect(now)
        except (OSError, RuntimeError, ValueError):
            radio.state = 4
            raise errors.failed()
        deadline = time.ticks_add(now, _timeout * 1000)
        while True:
            yield _JOIN_POLL_MS
            now = time.ticks_ms()
            status = _result(now)
            if status == _GOT_IP:
                at.write(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n")
                _reported = True
                _want = True
                _retries = 0
                radio.state = 2
                return
            if status is not None or time.ticks_diff(now, deadline) >= 0:
                break
        code = 1 if status is None else _code(status)
        _stop()
        radio.state = 4
        at.write(b"+CWJAP:%d\r\n" % code)
        raise errors.failed(code)
    finally:
        _joining = False


# -- AT+CWQAP, AT+CWSTATE, AT+CWRECONNCFG, AT+CWAUTOCONN -----------------------------------


def cwqap_execute(at):
    global _reported
    if not radio.sta().active():
        raise errors.failed()
    _stop_policy()
    _stop()
    if _reported:
        _reported = False
        at.urc(b"WIFI DISCONNECT\r\n")
    if radio.state:
        radio.state = 4


def cwstate_query(at):
    state = radio.state if radio.sta().active() else 0
    ssid = _ssid if state and _ssid is not None else ""
    at.reply(b'+CWSTATE:%d,"%s"' % (state, ssid))


def cwreconncfg_query(at):
    at.reply(b"+CWRECONNCFG:%d,%d" % (_interval, _repeat))


def cwreconncfg_set(at, args):
    global _interval, _repeat, _want, _retries
    params.count(args, 2, 3)
    interval = params.int_at(args, 0, 0, 7200)
    repeat = params.int_at(args, 1, 0, 1000)
    now_too = params.int_at(args, 2, 0, 1, 0)
    _interval = interval
    _repeat = repeat
    at.settings.put_int("reconn_int", interval)
    at.settings.put_int("reconn_rep", repeat)
    wlan = radio.sta()
    if now_too and wlan.active() and _ssid is not None and wlan.status() != _GOT_IP and not _attempt:
        _want = True
        _retries = -1
        _schedule(time.ticks_ms(), 0)


def cwautoconn_query(at):
    at.reply(b"+CWAUTOCONN:%d" % at.settings.get_int("autoconn", 1))


def cwautoconn_set(at, args):
    params.count(args, 1, 1)
    at.settings.put_int("autoconn", params.int_at(args, 0, 0, 1), always=True)


# -- AT+CWINIT, AT+CWCOUNTRY -----------------------------------------------------------------


def cwinit_query(at):
    at.reply(b"+CWINIT:1")  # the port initialises the driver with the first WLAN()


def cwinit_set(at, args):
    params.count(args, 1, 1)
    if params.int_at(args, 0, 0, 1) == 0:
        raise errors.no_api(0)  # no esp_wifi_deinit() binding: the RAM stays taken


def cwcountry_query(at):
    at.reply(
        b'+CWCOUNTRY:%d,"%s",%d,%d' % (_country_policy, network.country(), _country_start, _country_count)
    )


def cwcountry_set(at, args):
    global _country_policy, _country_start, _country_count
    params.count(args, 4, 4)
    policy = params.int_at(args, 0, 0, 1)
    code = params.str_at(args, 1, 3, params.REQUIRED, 2)
    start = params.int_at(args, 2, 1, 14)
    count = params.int_at(args, 3, 1, 14)
    if start + count - 1 > 14:
        raise errors.invalid(3)
    try:
        network.country(code[:2])
    except ValueError:
        raise errors.invalid(1)
    _country_policy = policy
    _country_start = start
    _country_count = count


COMMANDS = (
    ("+CWINIT", None, cwinit_query, cwinit_set, None),
    ("+CWMODE", None, cwmode_query, cwmode_set, None),
    ("+CWSTATE", None, cwstate_query, None, None),
    ("+CWJAP", None, cwjap_query, cwjap_set, cwjap_execute),
    ("+CWRECONNCFG", None, cwreconncfg_query, cwreconncfg_set, None),
    ("+CWQAP", None, None, None, cwqap_execute),
    ("+CWAUTOCONN", None, cwautoconn_query, cwautoconn_set, None),
    ("+CWCOUNTRY", None, cwcountry_query, cwcountry_set, None),
)


def register(at):
    global _at, _interval, _repeat, _timeout, _scan_mode
    _at = at
    radio.boot(at.settings)
    settings = at.settings
    saved = _saved(settings)
    if saved is not None:
        _use(saved)
    _interval = settings.get_int("reconn_int", 0)
    _repeat = settings.get_int("reconn_rep", 0)
    _timeout = settings.get_int("jap_timeout", 15)
    _scan_mode = settings.get_int("jap_scan", 0)
    at.register(COMMANDS)
    at.tick(_tick)
    if settings.get_int("autoconn", 1):
        # At the first tick, after every group has applied its settings
        # (MACs, addresses) and "ready" is out.
        _auto_connect(time.ticks_ms())
