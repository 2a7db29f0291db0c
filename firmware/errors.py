# ESP-AT error codes: ERR CODE:0x01SSEEEE (module 0x01, subcategory SS,
# extension EEEE). Subcategories follow esp_at_core.h; the 0xF0xx/0xF1xx
# extensions of SUB_EXEC_FAIL are this firmware's own and are listed in the
# README ("no MicroPython API on this chip").
from micropython import const

SUB_COMMON = const(0x01)
SUB_NO_TERMINATOR = const(0x02)
SUB_NO_AT = const(0x03)
SUB_PARA_LENGTH = const(0x04)
SUB_PARA_TYPE = const(0x05)
SUB_PARA_COUNT = const(0x06)
SUB_PARA_INVALID = const(0x07)
SUB_PARA_PARSE = const(0x08)
SUB_UNSUPPORTED = const(0x09)
SUB_EXEC_FAIL = const(0x0A)
SUB_BUSY = const(0x0B)
SUB_WRONG_FORM = const(0x0C)

# Extensions of SUB_EXEC_FAIL for what the chip's MicroPython cannot do.
EXT_NO_API = const(0xF000)  # the whole command has no MicroPython API
EXT_NO_API_PARAM = const(0xF100)  # | parameter index: that value has none


class ATError(Exception):
    """Raised by a command handler to answer ERROR with an ESP-AT code."""

    def __init__(self, sub, ext=0):
        self.code = 0x01000000 | (sub << 16) | (ext & 0xFFFF)


def invalid(index):
    return ATError(SUB_PARA_INVALID, index)


def failed(ext=0):
    return ATError(SUB_EXEC_FAIL, ext)


def no_api(param_index=-1):
    """No MicroPython API on the ESP32 for this command (or this parameter)."""
    if param_index < 0:
        return ATError(SUB_EXEC_FAIL, EXT_NO_API)
    return ATError(SUB_EXEC_FAIL, EXT_NO_API_PARAM | param_index)
