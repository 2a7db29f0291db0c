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


def parse(text):
    """Split the bytes after '=' into a list of int, str or None (omitted)."""
    args = []
    n = len(text)
    i = 0
    while True:
        if i < n and text[i] == _QUOTE:
            value, i = _quoted(text, i + 1, len(args))
            args.append(value)
            if i < n and text[i] != _COMMA:
                raise ATError(SUB_PARA_PARSE, len(args) - 1)
        else:
            end = text.find(b",", i)
            if end < 0:
                end = n
            args.append(_number(text[i:end], len(args)) if end > i else None)
            i = end
        if i >= n:
            return args
        i += 1  # past the comma; a trailing comma leaves one omitted field


def _quoted(text, i, index):
    # Returns (str, index just past the closing quote).
    parts = []
    n = len(text)
    while True:
        q = text.find(b'"', i)
        b = text.find(b"\\", i)
        if q < 0:
            raise ATError(SUB_PARA_PARSE, index)  # unterminated string
        if 0 <= b < q:
            parts.append(text[i:b])
            if b + 1 >= n:
                raise ATError(SUB_PARA_PARSE, index)
            parts.append(text[b + 1 : b + 2])
            i = b + 2
            continue
        parts.append(text[i:q])
        try:
            return b"".join(parts).decode(), q + 1
        except UnicodeError:
            raise ATError(SUB_PARA_TYPE, index)


def _number(token, index):
    negative = token[0] == 0x2D  # '-'
    digits = token[1:] if negative else token
    base = 10
    if len(digits) > 2 and digits[0] == 0x30 and digits[1] in b"xX":
        base = 16
        digits = digits[2:]
    if not digits or len(digits) > 10:
        raise ATError(SUB_PARA_TYPE, index)
    try:
        value = int(digits, base)
    except ValueError:
        raise ATError(SUB_PARA_TYPE, index)
    # int() accepts '_', '+' and spaces, ESP-AT does not.
    for c in digits:
        if not (0x30 <= c <= 0x39 or (base == 16 and c | 0x20 in b"abcdef")):
            raise ATError(SUB_PARA_TYPE, index)
    if value > _INT32_MAX + negative:
        raise ATError(SUB_PARA_TYPE, index)
    return -value if negative else value


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
