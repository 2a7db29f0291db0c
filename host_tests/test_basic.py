"""Basic AT commands: version, restart, settings and their persistence."""

import re
import time

from tools.vmodule import VirtualModule

NO_FORM = b"ERR CODE:0x010c0000\r\n\r\nERROR\r\n"


def restart(module):
    """Power-cycle: stop the launcher and start it again on the same state."""
    module.stop()
    return VirtualModule(module.state).start()


def test_gmr_has_the_four_lines_drivers_parse(quiet):
    reply = quiet.ok("AT+GMR").decode()
    lines = reply.split("\r\n")
    assert re.fullmatch(r"AT version:(\d+)\.(\d+)\.(\d+)\.(\d+)\(source - LINUX - .+\)", lines[0])
    assert lines[1].startswith("SDK version:MicroPython v1.")
    assert re.fullmatch(r"compile time\(source\):.+", lines[2])
    assert re.fullmatch(r"Bin version:\d+\.\d+\.\d+\(VIRTUAL\)", lines[3])
    assert lines[4:] == ["", "OK", ""]
    assert tuple(map(int, re.match(r"AT version:([\d.]+)", lines[0]).group(1).split("."))) >= (2, 2, 1, 0)


def test_at_has_only_the_execute_form(quiet):
    assert quiet.error_code("AT?") == 0x010C0000
    assert quiet.error_code("AT=?") == 0x010C0000
    assert quiet.error_code("ATX") == 0x01090000
    assert quiet.error_code("ATE0x") == 0x01080000
    assert quiet.error_code("ATE") == 0x010C0000
    assert quiet.error_code("ATE2") == 0x01070000


def test_cmd_lists_every_command_with_its_forms(quiet):
    reply = quiet.ok("AT+CMD?").decode()
    rows = re.findall(r'\+CMD:(\d+),"(AT[^"]*)",([01]),([01]),([01]),([01])\r\n', reply)
    assert [int(r[0]) for r in rows] == list(range(len(rows)))
    forms = {r[1]: tuple(int(x) for x in r[2:]) for r in rows}
    assert forms["AT"] == (0, 0, 0, 1)
    assert forms["AT+GMR"] == (0, 0, 0, 1)
    assert forms["AT+SYSLOG"] == (0, 1, 1, 0)
    assert forms["AT+UART_CUR"] == (0, 1, 1, 0)
    assert forms["AT+CMD"] == (0, 1, 0, 0)
    assert "AT+SYMSMSG" not in forms  # aliases are not listed


def test_rst_answers_ok_then_reboots_with_boot_defaults(quiet):
    quiet.write(b"AT+RST\r\n")
    assert quiet.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    quiet.wait_ready()
    assert quiet.at("AT") == b"AT\r\n\r\nOK\r\n"  # echo is on again
    assert quiet.at("AT+SYSLOG?") == b"AT+SYSLOG?\r\n+SYSLOG:0\r\n\r\nOK\r\n"  # not persisted


def test_sysstore_query_and_default(quiet):
    assert quiet.ok("AT+SYSSTORE?") == b"+SYSSTORE:1\r\n\r\nOK\r\n"
    assert quiet.error_code("AT+SYSSTORE=2") == 0x01070000
    assert quiet.error_code("AT+SYSSTORE") == 0x010C0000
    assert quiet.error_code("AT+SYSSTORE=?") == 0x010C0000


def test_sysmsg_accepts_three_bits_and_the_old_name(quiet):
    assert quiet.ok("AT+SYSMSG?") == b"+SYSMSG:0\r\n\r\nOK\r\n"
    quiet.ok("AT+SYSMSG=7")
    assert quiet.ok("AT+SYSMSG?") == b"+SYSMSG:7\r\n\r\nOK\r\n"
    assert quiet.error_code("AT+SYSMSG=8") == 0x01070000
    quiet.ok("AT+SYMSMSG=2")  # the old spec's spelling
    assert quiet.ok("AT+SYMSMSG?") == b"+SYSMSG:2\r\n\r\nOK\r\n"


def test_sysmsg_is_saved_only_when_sysstore_is_1(module):
    module.ok("ATE0")
    module.ok("AT+SYSMSG=3")  # SYSSTORE=1: saved
    module.ok("AT+SYSSTORE=0")
    module.ok("AT+SYSMSG=1")  # not saved, but live
    assert module.ok("AT+SYSMSG?") == b"+SYSMSG:1\r\n\r\nOK\r\n"
    module = restart(module)
    try:
        module.ok("ATE0")
        assert module.ok("AT+SYSMSG?") == b"+SYSMSG:3\r\n\r\nOK\r\n"
        assert module.ok("AT+SYSSTORE?") == b"+SYSSTORE:0\r\n\r\nOK\r\n"  # itself always saved
    finally:
        module.stop()


def test_restore_returns_every_setting_to_factory(module):
    module.ok("ATE0")
    module.ok("AT+SYSMSG=5")
    module.ok("AT+SYSSTORE=0")
    module.ok("AT+UART_DEF=57600,8,1,0,0")
    module.write(b"AT+RESTORE\r\n")
    assert module.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
    module.wait_ready()
    module.ok("ATE0")
    assert module.ok("AT+SYSMSG?") == b"+SYSMSG:0\r\n\r\nOK\r\n"
    assert module.ok("AT+SYSSTORE?") == b"+SYSSTORE:1\r\n\r\nOK\r\n"
    assert module.ok("AT+UART_DEF?") == b"+UART_DEF:115200,8,1,0,0\r\n\r\nOK\r\n"
    assert module.ok("AT+UART_CUR?") == b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n"


def test_settings_survive_a_power_cycle(module):
    module.ok("ATE0")
    module.ok("AT+SYSMSG=6")
    module = restart(module)
    try:
        module.ok("ATE0")
        assert module.ok("AT+SYSMSG?") == b"+SYSMSG:6\r\n\r\nOK\r\n"
    finally:
        module.stop()


def test_syslog(module):
    module.ok("ATE0")
    assert module.ok("AT+SYSLOG?") == b"+SYSLOG:0\r\n\r\nOK\r\n"
    assert module.at("AT+FAKE") == b"\r\nERROR\r\n"
    module.ok("AT+SYSLOG=1")
    assert module.at("AT+FAKE") == b"ERR CODE:0x01090000\r\n\r\nERROR\r\n"


def test_sysram_query_and_caps_form(quiet):
    free, minimum = map(int, re.fullmatch(rb"\+SYSRAM:(\d+),(\d+)\r\n\r\nOK\r\n", quiet.ok("AT+SYSRAM?")).groups())
    assert 0 < minimum <= free
    m = re.fullmatch(rb"\+SYSRAM:(\d+),(\d+),(\d+),(\d+)\r\n\r\nOK\r\n", quiet.ok("AT+SYSRAM=0x1800"))
    largest, caps_free, caps_min, total = map(int, m.groups())
    assert largest <= caps_free <= total and caps_min <= total
    assert quiet.error_code("AT+SYSRAM=0") == 0x01070000


def test_systimestamp_set_and_follow(quiet):
    quiet.ok("AT+SYSTIMESTAMP=1565853509")
    first = int(re.fullmatch(rb"\+SYSTIMESTAMP:(\d+)\r\n\r\nOK\r\n", quiet.ok("AT+SYSTIMESTAMP?")).group(1))
    assert 1565853509 <= first <= 1565853511
    time.sleep(2.1)
    later = int(re.fullmatch(rb"\+SYSTIMESTAMP:(\d+)\r\n\r\nOK\r\n", quiet.ok("AT+SYSTIMESTAMP?")).group(1))
    assert 2 <= later - first <= 3
    assert quiet.error_code("AT+SYSTIMESTAMP=-1") == 0x01070000
    assert quiet.error_code('AT+SYSTIMESTAMP="1"') == 0x01050000


def test_systimestamp_survives_reset_but_not_power_off(quiet):
    quiet.ok("AT+SYSTIMESTAMP=1000000000")
    quiet.write(b"AT+RST\r\n")
    quiet.read_until(b"\r\nOK\r\n")
    quiet.wait_ready()
    quiet.ok("ATE0")
    stamp = int(re.search(rb"\+SYSTIMESTAMP:(\d+)", quiet.ok("AT+SYSTIMESTAMP?")).group(1))
    assert 1000000000 <= stamp < 1000000010  # the RTC keeps running across a reset
    module = restart(quiet)
    try:
        module.ok("ATE0")
        stamp = int(re.search(rb"\+SYSTIMESTAMP:(\d+)", module.ok("AT+SYSTIMESTAMP?")).group(1))
        assert abs(stamp - time.time()) < 5  # power-on: the host clock again
    finally:
        module.stop()


def test_gslp_range(quiet):
    assert quiet.error_code("AT+GSLP=-1") == 0x01070000
    assert quiet.error_code("AT+GSLP=2147483648") == 0x01050000
    assert quiet.error_code("AT+GSLP") == 0x010C0000


# Executing these restarts, sleeps or reflashes the module: their own tests
# cover them. Every other advertised form is sent bare.
SIDE_EFFECTS = {"AT+RST", "AT+RESTORE", "AT+SYSLSP", "AT+SYSROLLBACK"}


def test_every_form_answers_as_at_cmd_says(quiet):
    """A form AT+CMD? lists as missing answers the wrong-form error; a listed
    one is dispatched (it may still refuse its parameters)."""
    rows = re.findall(rb'\+CMD:\d+,"(AT[^"]*)",([01]),([01]),([01]),([01])', quiet.ok("AT+CMD?"))
    basic = {"AT", "ATE", "AT+RST", "AT+GMR", "AT+CMD", "AT+GSLP", "AT+RESTORE", "AT+UART_CUR", "AT+UART_DEF"}
    basic |= {"AT+SLEEP", "AT+SYSRAM", "AT+SYSMSG", "AT+SYSFLASH", "AT+FS", "AT+RFPOWER", "AT+SYSROLLBACK"}
    basic |= {"AT+SYSTIMESTAMP", "AT+SYSLOG", "AT+SYSLSP", "AT+SYSLSPCFG", "AT+SLEEPWKCFG", "AT+SYSSTORE"}
    assert basic <= {name.decode() for name, *_ in rows}
    for name, *flags in rows:
        for suffix, flag in zip((b"=?", b"?", b"=", b""), flags):
            if name.decode() in SIDE_EFFECTS and suffix == b"" and flag == b"1":
                continue
            if name == b"ATE" and suffix == b"=":
                continue  # ATE takes its digit without '='
            reply = quiet.at(name + suffix)
            wrong_form = reply == b"ERR CODE:0x010c0000\r\n\r\nERROR\r\n"
            assert wrong_form == (flag == b"0"), (name + suffix, reply)
