# Stand-in for the ESP32 port's `machine` module on the unix port: the same
# names, signatures and return types, backed by the virtual module's launcher.
import io
import select
import sys
import time

import simlink

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
SLEEP = 2
DEEPSLEEP = 4
PIN_WAKE = 2
TIMER_WAKE = 4
EXT0_WAKE = 2
EXT1_WAKE = 3
TOUCHPAD_WAKE = 5
ULP_WAKE = 6

_PARITY_NAMES = {None: "None", 0: "0", 1: "1"}

# The RX ring of the AT UART's driver: on the chip IDF memory, not the
# Python heap, so it is made here, with the stand-ins, before the firmware
# starts (at the boards' rxbuf; another size gets a buffer of its own).
_rx_ring = bytearray(8192)


def reset_cause():
    return simlink.RESET_CAUSE


def wake_reason():
    return simlink.WAKE_REASON


def reset():
    simlink.send("reset")
    sys.exit(0)


def soft_reset():
    reset()


def deepsleep(time_ms=0):
    simlink.send("deepsleep %d" % time_ms)
    sys.exit(0)


def lightsleep(time_ms=-1):
    """Sleep with the UART asleep: the launcher drops host input meanwhile.
    Wakes on the timer or on a pin level set by esp32.wake_on_gpio/ext0."""
    import esp32  # the wake sources live there, as on the chip

    simlink.send("lightsleep")
    while simlink.wait_control(0):
        pass  # pin changes made while awake are still unread
    # Count the time down rather than set a ticks deadline: ticks_add() only
    # spans a few days, the chip's timer takes any int32 of milliseconds.
    left = time_ms
    last = time.ticks_ms()
    try:
        while not esp32._gpio_wake_met():
            if time_ms >= 0:
                now = time.ticks_ms()
                left -= time.ticks_diff(now, last)
                last = now
                if left <= 0:
                    break
                wait = min(left, 1000)
            elif esp32._gpio_wake_armed():
                wait = -1
            else:
                wait = 1000  # nothing can wake us: keep listening anyway
            simlink.wait_control(wait)
    finally:
        simlink.send("awake")


def idle():
    time.sleep_ms(1)


def freq(hz=None):
    if hz is None:
        return 160_000_000
    return None


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


# The GPIOs the ESP32 port accepts (ports/esp32/machine_pin.h, no PSRAM).
_GPIOS = tuple(range(24)) + (25, 26, 27) + tuple(range(32, 40))


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        if id not in _GPIOS:
            raise ValueError("invalid pin")
        self._id = id
        if value is not None:
            simlink.pins[id] = 1 if value else 0

    def value(self, x=None):
        if x is None:
            simlink.wait_control(0)
            return simlink.pins.get(self._id, 0)
        simlink.pins[self._id] = 1 if x else 0
        return None

    def __call__(self, x=None):
        return self.value(x)

    def __repr__(self):
        return "Pin(%d)" % self._id


class RTC:
    """The RTC runs on from the host clock plus an offset that survives
    reset and deep sleep (it lives in the state folder) but not power-off."""

    def __init__(self, id=0):
        pass

    def _offset(self):
        try:
            with open(simlink.state_path("rtc"), "r") as f:
                return float(f.read())
        except (OSError, ValueError):
            return 0.0

    def datetime(self, datetimetuple=None):
        if datetimetuple is None:
            now = time.time() + self._offset()
            t = time.gmtime(int(now))
            usec = int((now - int(now)) * 1_000_000)
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], usec)
        y, mo, d, _, h, mi, s, usec = datetimetuple
        target = _epoch(y, mo, d, h, mi, s) + usec / 1_000_000
        tmp = simlink.state_path("rtc.tmp")
        with open(tmp, "w") as f:
            f.write(repr(target - time.time()))
        import os

        os.rename(tmp, simlink.state_path("rtc"))
        return None

    def init(self, datetimetuple):
        self.datetime(datetimetuple)


def _epoch(y, mo, d, h, mi, s):
    # Days from the civil date, in UTC, independent of the host's time zone.
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + h * 3600 + mi * 60 + s


class UART(io.IOBase):
    """The AT UART, carried over a Unix socket to the launcher (simlink),
    which applies baud rate (pacing), data bits, parity, stop bits and
    RTS/CTS to the pty it serves."""

    RTS = 1
    CTS = 2
    INV_TX = 1
    INV_RX = 4
    INV_RTS = 64
    INV_CTS = 8
    IRQ_RX = 1
    IRQ_BREAK = 2
    IRQ_RXIDLE = 4096

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, **kw):
        self._id = id
        self._socket = None
        self._poll = select.poll()
        self._rxpoll = select.poll()
        self._rx = None  # bytes any() has taken off the socket
        self._size = 0  # the rxbuf it was made for
        self._rs = self._re = 0
        self._config = {
            "baudrate": 115200,
            "bits": 8,
            "parity": None,
            "stop": 1,
            "tx": -1,
            "rx": -1,
            "rts": -1,
            "cts": -1,
            "txbuf": 256,
            "rxbuf": 256,
            "timeout": 0,
            "timeout_char": 0,
            "flow": 0,
        }
        self.init(baudrate, bits, parity, stop, **kw)

    def init(self, baudrate=None, bits=None, parity=-1, stop=None, **kw):
        c = self._config
        if baudrate is not None:
            c["baudrate"] = baudrate
        if bits is not None:
            if bits not in (5, 6, 7, 8):
                raise ValueError("invalid data bits")
            c["bits"] = bits
        if parity != -1:
            if parity not in (None, 0, 1):
                raise ValueError("invalid parity")
            c["parity"] = parity
        if stop is not None:
            if stop not in (1, 2):
                raise ValueError("invalid stop bits")
            c["stop"] = stop
        for key in kw:
            if key not in c:
                raise TypeError("unexpected keyword argument '%s'" % key)
            c[key] = kw[key]
        if self._socket is None:
            self._socket = simlink.uart_socket()
            self._poll.register(self._socket, select.POLLOUT)
            self._rxpoll.register(self._socket, select.POLLIN)
        simlink.send(
            "uart %d %d %s %d %d"
            % (
                c["baudrate"],
                c["bits"],
                "N" if c["parity"] is None else ("O" if c["parity"] else "E"),
                c["stop"],
                c["flow"],
            )
        )

    def deinit(self):
        pass

    # The receive and transmit paths keep their frames small and slice only
    # where they must: MicroPython puts the frame of a call that needs more
    # than 11 words on the heap, and the chip's UART methods (C) allocate
    # nothing, so a stand-in that did would blur the firmware's own heap
    # figures (python -m tools.bench).

    def any(self):
        """Bytes waiting, as the ESP32 driver's RX ring counts them: what
        has come over the socket is moved into a buffer of rxbuf bytes."""
        if self._rx is None or (self._size != self._config["rxbuf"] and self._re == self._rs):
            self._resize()
        if self._rs == self._re:
            self._rs = self._re = 0
        if self._re == len(self._rx) and self._rs:
            self._compact()
        if self._re < len(self._rx):
            for _ in self._rxpoll.ipoll(0):
                self._fill()
        return self._re - self._rs

    def _resize(self):
        self._size = self._config["rxbuf"]
        size = max(self._size, 256)
        self._rx = _rx_ring if size == len(_rx_ring) else bytearray(size)
        self._rxmv = memoryview(self._rx)
        self._rs = self._re = 0

    def _compact(self):
        n = self._re - self._rs
        self._rx[0:n] = self._rxmv[self._rs : self._re]
        self._rs, self._re = 0, n

    def _fill(self):
        # Full: the sender waits (RTS) or loses bytes (the launcher decides).
        n = self._socket.readinto(self._rxmv if not self._re else self._rxmv[self._re :])
        if n == 0:
            raise SystemExit(0)  # the launcher has gone away
        if n:
            self._re += n

    def read(self, nbytes=-1):
        buf = bytearray(nbytes if nbytes > 0 else 1024)
        n = self.readinto(buf)
        return None if not n else bytes(buf[:n])

    def readinto(self, buf, nbytes=-1):
        if nbytes < 0:
            nbytes = len(buf)
        if self._re > self._rs:
            return self._copy_out(buf, nbytes)
        n = self._socket.readinto(buf, nbytes)  # None: nothing has come
        if n == 0:
            raise SystemExit(0)  # the launcher has gone away
        return n

    def _copy_out(self, buf, nbytes):
        n = self._re - self._rs
        if n > nbytes:
            n = nbytes
        start = self._rs
        self._rs = start + n
        buf[0:n] = self._rxmv[start : start + n]
        return n

    def write(self, buf, offset=0, length=-1):
        if length < 0:
            length = len(buf) - offset
        n = self._socket.write(buf, offset, length) or 0
        if n < length:
            self._write_rest(buf, offset + n, offset + length)
        return length

    def _write_rest(self, buf, offset, end):
        # The launcher is behind (CTS): wait for room, as the chip's driver
        # waits for room in its TX ring.
        while offset < end:
            offset += self._write_some(buf, offset, end - offset)

    def _write_some(self, buf, offset, length):
        n = self._socket.write(buf, offset, length)
        if n:
            return n
        for _ in self._poll.ipoll(-1):
            break
        return 0

    def flush(self):
        pass

    def txdone(self):
        return True

    def sendbreak(self):
        pass

    def irq(self, handler=None, trigger=0, hard=False):
        return None

    def ioctl(self, request, arg):
        if request == 10:  # MP_STREAM_GET_FILENO: select.poll uses the socket
            return self._socket.fileno()
        return -1

    def __repr__(self):
        c = self._config
        flow = ("", "RTS", "CTS", "RTS|CTS")[c["flow"] & 3]
        return (
            "UART(%d, baudrate=%d, bits=%d, parity=%s, stop=%d, tx=%d, rx=%d, "
            "rts=%d, cts=%d, txbuf=%d, rxbuf=%d, timeout=%d, timeout_char=%d, "
            "irq=0%s)"
            % (
                self._id,
                c["baudrate"],
                c["bits"],
                _PARITY_NAMES[c["parity"]],
                c["stop"],
                c["tx"],
                c["rx"],
                c["rts"],
                c["cts"],
                c["txbuf"],
                c["rxbuf"],
                c["timeout"],
                c["timeout_char"],
                ", flow=" + flow if flow else "",
            )
        )
