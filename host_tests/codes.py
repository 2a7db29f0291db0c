"""ESP-AT error codes as the tests expect them (ERR CODE:0x01SSEEEE)."""

PARA_LENGTH = 0x04
PARA_TYPE = 0x05
PARA_COUNT = 0x06
PARA_INVALID = 0x07
PARA_PARSE = 0x08
UNSUPPORTED = 0x09
EXEC_FAIL = 0x0A
WRONG_FORM = 0x0C

EXT_NO_API = 0xF000  # with EXEC_FAIL: the whole command has no MicroPython API


def code(sub, ext=0):
    return 0x01000000 | sub << 16 | ext


def no_api(index):
    """ERROR for a parameter value the chip's MicroPython has no API for."""
    return code(EXEC_FAIL, 0xF100 | index)


def count(most, given):
    return code(PARA_COUNT, most << 8 | given)


FAILED = code(EXEC_FAIL)  # execution failed, no further detail


def invalid(index):
    return code(PARA_INVALID, index)


def type_mismatch(index):
    return code(PARA_TYPE, index)
