"""The AT engine over the pty: framing, echo, forms, parameters, errors."""

import time

import pytest

from host_tests.codes import code


def test_ready_then_at(module):
    assert module.at("AT") == b"AT\r\n\r\nOK\r\n"  # echo is on after boot


def test_echo_off_and_on(module):
    assert module.at("ATE0") == b"ATE0\r\n\r\nOK\r\n"  # echoed before it took effect
    assert module.at("AT") == b"\r\nOK\r\n"
    assert module.at("ATE1") == b"\r\nOK\r\n"
    assert module.at("AT") == b"AT\r\n\r\nOK\r\n"


def test_echo_is_immediate_without_terminator(module):
    module.write(b"AT+G")
    assert module.read_until(b"AT+G", 2) == b"AT+G"
    module.write(b"MR\r\n")
    reply = module.read_until(b"\r\nOK\r\n")
    assert reply.startswith(b"MR\r\nAT version:")


def test_command_split_across_writes(quiet):
    for piece in (b"A", b"T+SYS", b"LOG?", b"\r", b"\n"):
        quiet.write(piece)
        time.sleep(0.05)
    assert quiet.read_until(b"\r\nOK\r\n") == b"+SYSLOG:1\r\n\r\nOK\r\n"


def test_blank_lines_are_ignored(quiet):
    quiet.write(b"\r\n\r\n\r\n")
    assert quiet.read_for(0.3) == b""
    assert quiet.at("\r\nAT") == b"\r\nOK\r\n"


def test_several_commands_in_one_write(quiet):
    quiet.write(b"AT\r\nAT+SYSLOG?\r\nAT\r\n")
    expected = b"\r\nOK\r\n+SYSLOG:1\r\n\r\nOK\r\n\r\nOK\r\n"
    assert quiet.read_exactly(len(expected), 5) == expected
    assert quiet.read_for(0.3) == b""


def test_unknown_command(quiet):
    assert quiet.at("AT+FAKE") == b"ERR CODE:0x01090000\r\n\r\nERROR\r\n"


def test_error_without_syslog_has_no_code(module):
    module.ok("ATE0")
    assert module.at("AT+FAKE") == b"\r\nERROR\r\n"


def test_lower_case_is_rejected(quiet):
    assert quiet.error_code("at") == code(0x03)
    assert quiet.error_code("aT+GMR") == code(0x03)
    assert quiet.error_code("AT+gmr") == code(0x09)


def test_missing_form_is_an_error(quiet):
    assert quiet.error_code("AT+GMR?") == code(0x0C)
    assert quiet.error_code("AT+GMR=?") == code(0x0C)
    assert quiet.error_code("AT+GMR=1") == code(0x0C)
    assert quiet.error_code("AT+SYSLOG") == code(0x0C)


def test_lone_lf_is_not_a_terminator(quiet):
    quiet.write(b"AT\n")
    assert quiet.read_until(b"\r\nERROR\r\n") == b"ERR CODE:0x01020000\r\n\r\nERROR\r\n"


def test_longest_command_is_accepted_and_one_more_byte_is_not(quiet):
    # 256 bytes: AT+SYSTIMESTAMP= and a zero-padded number would be too long
    # for an int, so use a quoted parameter of a command that rejects it.
    longest = b"AT+SYSLOG=" + b"0" * 0 + b"1" + b"," + b'"' + b"x" * (256 - 14) + b'"'
    assert len(longest) == 256
    assert quiet.error_code(longest) == code(0x06, 1 << 8 | 2)  # too many parameters
    assert quiet.error_code(longest + b"x") == code(0x04)  # too long


def test_overlong_line_is_not_buffered_without_bound(quiet):
    quiet.write(b"AT+" + b"A" * 100_000 + b"\r\n")
    reply = quiet.read_until(b"\r\nERROR\r\n", 30)
    assert reply == b"ERR CODE:0x01040000\r\n\r\nERROR\r\n"
    assert quiet.at("AT") == b"\r\nOK\r\n"


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+SYSLOG=2", code(0x07, 0)),  # out of range
        ("AT+SYSLOG=-1", code(0x07, 0)),
        ('AT+SYSLOG="1"', code(0x05, 0)),  # a string where an int is due
        ("AT+SYSLOG=abc", code(0x05, 0)),
        ("AT+SYSLOG=1 ", code(0x05, 0)),
        ("AT+SYSLOG=+1", code(0x05, 0)),
        ("AT+SYSLOG=99999999999", code(0x05, 0)),  # beyond int32
        ("AT+SYSLOG=0x100000000", code(0x05, 0)),
        ("AT+SYSLOG=", code(0x07, 0)),  # omitted
        ("AT+SYSLOG=1,2", code(0x06, 1 << 8 | 2)),  # count
        ('AT+SYSLOG="abc', code(0x08, 0)),  # unterminated string
        ('AT+SYSLOG="a"b', code(0x08, 0)),
        ("AT+SYSLOG?x", code(0x08)),
    ],
)
def test_parameter_errors(quiet, command, error):
    assert quiet.error_code(command) == error


def test_hex_and_negative_integers(quiet):
    quiet.ok("AT+SYSLOG=0x0")
    assert quiet.ok("AT+SYSLOG?") == b"+SYSLOG:0\r\n\r\nOK\r\n"
    quiet.ok("AT+SYSLOG=0X1")
    assert quiet.ok("AT+SYSLOG?") == b"+SYSLOG:1\r\n\r\nOK\r\n"
    assert quiet.error_code("AT+SYSMSG=-0x1") == code(0x07, 0)


def test_bytes_beyond_a_data_block_get_busy(state):
    """ESP-AT takes exactly <length> bytes after '>'; more in the same burst
    are dropped with one busy p... ."""
    from tools.vmodule import VirtualModule

    module = VirtualModule(state, pace=False).start()  # unpaced: one burst
    try:
        module.ok("ATE0")
        module.ok("AT+SYSLOG=1")
        module.write(b'AT+FS=0,1,"busy.txt",0,4\r\n')
        assert module.read_until(b">", 5) == b"\r\nOK\r\n\r\n>"
        module.write(b"abcdEXTRA\r\n")
        assert module.read_until(b"busy p...\r\n", 5) == b"\r\nOK\r\nERR CODE:0x010b0000\r\n\r\nbusy p...\r\n"
        assert module.read_for(0.3) == b""
        assert module.ok('AT+FS=0,2,"busy.txt",0,100') == b"+FS:4,abcd\r\nOK\r\n"
    finally:
        module.stop()
