# AT+UART_CUR / AT+UART_DEF: the AT port's baud rate, framing and flow
# control. UART_DEF is always saved; both apply at once, after the OK.
import machine
import struct

from firmware import errors, params
from firmware.at import DONE

_MIN_BAUD = 80
_MAX_BAUD = 5_000_000
_KEY = "uart_def"

# The live configuration in AT terms: baud, data bits, stop bits (1, 2=1.5,
# 3=2), parity (0 none, 1 odd, 2 even), flow (bit 0 RTS, bit 1 CTS).
_current = None
_uart = None
_board = None


def _factory(board):
    return [board.BAUDRATE, 8, 1, 0, 0]


def _saved(board, settings):
    raw = settings.get_bytes(_KEY)
    if raw is None or len(raw) != 20:
        return _factory(board)
    return list(struct.unpack("<5i", raw))


def _apply(config):
    baud, bits, stop, parity, flow = config
    _uart.init(
        baudrate=baud,
        bits=bits,
        parity=(None, 1, 0)[parity],  # MicroPython: 0 even, 1 odd
        stop=2 if stop == 3 else 1,
        flow=flow,
    )


def open_uart(board, settings):
    """Open the AT UART with the UART_DEF configuration."""
    global _uart, _board, _current
    _board = board
    _current = _saved(board, settings)
    baud, bits, stop, parity, flow = _current
    _uart = machine.UART(
        board.AT_UART,
        baudrate=baud,
        bits=bits,
        parity=(None, 1, 0)[parity],
        stop=2 if stop == 3 else 1,
        tx=board.TX,
        rx=board.RX,
        rts=board.RTS,
        cts=board.CTS,
        flow=flow,
        rxbuf=board.RXBUF,
        txbuf=board.TXBUF,
        timeout=0,
        timeout_char=0,
    )
    return _uart


def _actual_baud():
    # The port has no getter: repr() shows the rate the divider really gives.
    text = repr(_uart)
    start = text.find("baudrate=") + 9
    end = text.find(",", start)
    return int(text[start:end])


def _parse(args):
    params.count(args, 5, 5)
    config = [
        params.int_at(args, 0, _MIN_BAUD, _MAX_BAUD),
        params.int_at(args, 1, 5, 8),
        params.int_at(args, 2, 1, 3),
        params.int_at(args, 3, 0, 2),
        params.int_at(args, 4, 0, 3),
    ]
    if config[2] == 2:
        raise errors.no_api(2)  # 1.5 stop bits: the ESP32 port refuses them
    return config


def _report(at, name, config):
    at.reply(b"+%s:%d,%d,%d,%d,%d" % (name, config[0], config[1], config[2], config[3], config[4]))


def _switch(at, config):
    global _current
    at.ok()
    at.flush()  # the OK leaves at the old settings
    _current = config
    _apply(config)
    return DONE


def query_cur(at):
    config = list(_current)
    config[0] = _actual_baud()
    _report(at, b"UART_CUR", config)


def set_cur(at, args):
    return _switch(at, _parse(args))


def query_def(at):
    _report(at, b"UART_DEF", _saved(_board, at.settings))


def set_def(at, args):
    config = _parse(args)
    at.settings.put_bytes(_KEY, struct.pack("<5i", *config), always=True)
    return _switch(at, config)


COMMANDS = (
    ("+UART_CUR", None, query_cur, set_cur, None),
    ("+UART_DEF", None, query_def, set_def, None),
)


def register(at):
    at.register(COMMANDS)
