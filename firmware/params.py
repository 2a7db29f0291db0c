# ESP-AT parameter parsing: integers (decimal, negative, 0x hex, int32),
# double-quoted strings with \\ \, \" escapes (any other \x gives x), and
# empty fields meaning "omitted" (None), which is not the same as "".
from micropython import const

from firmware.errors import (
    ATError,
    SUB_PARA_COUNT,
    SUB_PARA_INVALID,
    SUB_PARA_LENGTH,
    SUB_PARA_PARSE,
    SUB_PARA_TYPE,
)

_QUOTE = const(0x22)
_BACKSLASH = const(0x5C)
_COMMA = const(0x2C)
_INT32_MAX = const(0x7FFFFFFF)

REQUIRED = object()


# Parsing runs for every command: its functions parse where the bytes lie,
# without slices, and keep their frames small (see firmware/at.py).


def parse(text, start=0, end=-1):
    """Split text[start:end] (the bytes after '=') into a list of int, str
    or None (omitted)."""
    if end < 0:
        end = len(text)
    args = []
    i = start
    while True:
        if i < end and text[i] == _QUOTE:
            i = _quoted(text, i + 1, end, args)
            if i < end and text[i] != _COMMA:
                raise ATError(SUB_PARA_PARSE, len(args) - 1)
        else:
            i = _field(text, i, end, args)
        if i >= end:
            return args
        i += 1  # past the comma; a trailing comma leaves one omitted field


def _field(text, i, end, args):
    # An unquoted field: a number, or nothing (omitted). Returns its end.
    comma = text.find(b",", i, end)
    if comma < 0:
        comma = end
    value = _number(text, i, comma, args) if comma > i else None
    args.append(value)
    return comma


def _quoted(text, i, end, args):
    # A string from i (past the opening quote): appended to args. Returns
    # the index just past the closing quote.
    q = text.find(b'"', i, end)
    if q < 0:
        raise ATError(SUB_PARA_PARSE, len(args))  # unterminated string
    if text.find(b"\\", i, q) >= 0:
        return _escaped(text, i, end, args)
    value = _decoded(text[i:q], args)
    args.append(value)
    return q + 1


def _escaped(text, i, end, args):
    # A string with escapes: \\ \, \" (any other \x gives x).
    parts = []
    while True:
        q = text.find(b'"', i, end)
        b = text.find(b"\\", i, end)
        if q < 0:
            raise ATError(SUB_PARA_PARSE, len(args))  # unterminated string
        if 0 <= b < q:
            if b + 1 >= end:
                raise ATError(SUB_PARA_PARSE, len(args))
            parts.append(text[i:b])
            parts.append(text[b + 1 : b + 2])
            i = b + 2
            continue
        parts.append(text[i:q])
        args.append(_decoded(b"".join(parts), args))
        return q + 1


def _decoded(raw, args):
    try:
        return raw.decode()
    except UnicodeError:
        raise ATError(SUB_PARA_TYPE, len(args))


def _number(text, i, end, args):
    # Decimal or 0x hex, optionally negative, within int32.
    if text[i] == 0x2D:  # '-'
        return -_unsigned(text, i + 1, end, args, _INT32_MAX + 1)
    return _unsigned(text, i, end, args, _INT32_MAX)


def _unsigned(text, i, end, args, top):
    if end - i > 2 and text[i] == 0x30 and text[i + 1] | 0x20 == 0x78:  # 0x
        value = _digits(text, i + 2, end, 16)
    else:
        value = _digits(text, i, end, 10)
    if value < 0 or value > top:
        raise ATError(SUB_PARA_TYPE, len(args))
    return value


# The value of each character from '0' to 'f' as a digit; 0xFF: none.
_DIGIT_VALUES = (
    b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"  # 0-9
    b"\xff\xff\xff\xff\xff\xff\xff"
    b"\x0a\x0b\x0c\x0d\x0e\x0f"  # A-F
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
    b"\x0a\x0b\x0c\x0d\x0e\x0f"  # a-f
)


def _digits(text, i, end, base):
    """The value of text[i:end] in base (at most 10 digits); -1 when it is
    anything else (ESP-AT takes no sign, space or '_' there)."""
    if i >= end or end - i > 10:
        return -1
    value = 0
    while i < end:
        d = text[i] - 0x30
        d = _DIGIT_VALUES[d] if 0 <= d < len(_DIGIT_VALUES) else 0xFF
        if d >= base:
            return -1
        value = value * base + d
        i += 1
    return value


def count(args, least, most):
    """Check the number of parameters; ESP-AT reports (need << 8) | given."""
    given = len(args)
    if given < least:
        raise ATError(SUB_PARA_COUNT, (least << 8) | given)
    if given > most:
        raise ATError(SUB_PARA_COUNT, (most << 8) | given)


def int_at(args, index, low, high, default=REQUIRED):
    value = args[index] if index < len(args) else None
    if value is None:
        if default is REQUIRED:
            raise ATError(SUB_PARA_INVALID, index)
        return default
    if type(value) is not int:
        raise ATError(SUB_PARA_TYPE, index)
    if value < low or value > high:
        raise ATError(SUB_PARA_INVALID, index)
    return value


def str_at(args, index, longest, default=REQUIRED, shortest=0):
    value = args[index] if index < len(args) else None
    if value is None:
        if default is REQUIRED:
            raise ATError(SUB_PARA_INVALID, index)
        return default
    if type(value) is not str:
        raise ATError(SUB_PARA_TYPE, index)
    if not shortest <= len(value) <= longest:
        raise ATError(SUB_PARA_LENGTH, index)
    return value
