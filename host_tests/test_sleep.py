"""Sleep over the pty: AT+SLEEP (Wi-Fi modem sleep), AT+SYSLSPCFG and
AT+SLEEPWKCFG (light-sleep wake sources), AT+SYSLSP (light sleep now) and
AT+GSLP (deep sleep), with their effects on the virtual module."""

import time

import pytest

from host_tests.codes import code, no_api, count, PARA_TYPE, PARA_INVALID, EXEC_FAIL, WRONG_FORM


def assert_asleep(module, seconds):
    """Input sent now is lost: it gets no echo and no answer, now or later."""
    module.write(b"AT+SYSLOG=0\r\n")  # would turn error codes off if heard
    assert module.read_for(seconds) == b""


def assert_awake_and_unchanged(module):
    """Answers at once; RAM state (echo off, SYSLOG on) survived the sleep."""
    assert module.at("AT+SYSLOG?", 2) == b"+SYSLOG:1\r\n\r\nOK\r\n"


# -- AT+SLEEP ------------------------------------------------------------


def test_sleep_after_boot_is_modem_sleep(quiet):
    # Wi-Fi starts in station mode, where the IDF's default is DTIM modem sleep.
    assert quiet.ok("AT+SLEEP?") == b"+SLEEP:1\r\n\r\nOK\r\n"


@pytest.mark.parametrize("mode", [0, 3, 1])
def test_sleep_set_then_query(quiet, mode):
    assert quiet.at("AT+SLEEP=%d" % mode) == b"\r\nOK\r\n"
    assert quiet.ok("AT+SLEEP?") == b"+SLEEP:%d\r\n\r\nOK\r\n" % mode


def test_sleep_modes_follow_each_other(quiet):
    for mode in (0, 3, 0, 1, 3):
        quiet.ok("AT+SLEEP=%d" % mode)
        assert quiet.ok("AT+SLEEP?") == b"+SLEEP:%d\r\n\r\nOK\r\n" % mode


def test_automatic_light_sleep_has_no_api(quiet):
    quiet.ok("AT+SLEEP=3")
    assert quiet.error_code("AT+SLEEP=2") == no_api(0)
    assert quiet.ok("AT+SLEEP?") == b"+SLEEP:3\r\n\r\nOK\r\n"  # unchanged
    assert quiet.at("AT") == b"\r\nOK\r\n"  # and it did not go to sleep


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+SLEEP=4", code(PARA_INVALID, 0)),
        ("AT+SLEEP=-1", code(PARA_INVALID, 0)),
        ("AT+SLEEP=", code(PARA_INVALID, 0)),
        ('AT+SLEEP="1"', code(PARA_TYPE, 0)),
        ("AT+SLEEP=1,1", count(1, 2)),
        ("AT+SLEEP", code(WRONG_FORM)),
        ("AT+SLEEP=?", code(WRONG_FORM)),
    ],
)
def test_sleep_errors(quiet, command, error):
    quiet.ok("AT+SLEEP=0")
    assert quiet.error_code(command) == error
    assert quiet.ok("AT+SLEEP?") == b"+SLEEP:0\r\n\r\nOK\r\n"


def test_sleep_is_not_saved(quiet):
    quiet.ok("AT+SYSSTORE=1")
    quiet.ok("AT+SLEEP=0")
    quiet.ok("AT+RST")
    quiet.wait_ready()
    assert quiet.at("AT+SLEEP?") == b"AT+SLEEP?\r\n+SLEEP:1\r\n\r\nOK\r\n"


# -- wake sources --------------------------------------------------------


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+SYSLSPCFG=3,1000", code(PARA_INVALID, 0)),
        ("AT+SYSLSPCFG=-1,1000", code(PARA_INVALID, 0)),
        ('AT+SYSLSPCFG="0",1000', code(PARA_TYPE, 0)),
        ("AT+SYSLSPCFG=0,0", code(PARA_INVALID, 1)),
        ("AT+SYSLSPCFG=0,-5", code(PARA_INVALID, 1)),
        ("AT+SYSLSPCFG=0,", code(PARA_INVALID, 1)),
        ("AT+SYSLSPCFG=0,2147483648", code(PARA_TYPE, 1)),
        ("AT+SYSLSPCFG=0,1000,1", count(2, 3)),  # a level only for GPIO
        ("AT+SYSLSPCFG=0", count(2, 1)),
        ("AT+SYSLSPCFG=2,12", count(3, 2)),  # GPIO needs its level
        ("AT+SYSLSPCFG=2,12,1,1", count(3, 4)),
        ("AT+SYSLSPCFG=2,40,1", code(PARA_INVALID, 1)),
        ("AT+SYSLSPCFG=2,-1,1", code(PARA_INVALID, 1)),
        ("AT+SYSLSPCFG=2,24,1", code(PARA_INVALID, 1)),  # no GPIO24 on the ESP32
        ("AT+SYSLSPCFG=2,30,0", code(PARA_INVALID, 1)),
        ('AT+SYSLSPCFG=2,"12",1', code(PARA_TYPE, 1)),
        ("AT+SYSLSPCFG=2,12,2", code(PARA_INVALID, 2)),
        ("AT+SYSLSPCFG=2,12,", code(PARA_INVALID, 2)),
        ("AT+SYSLSPCFG", code(WRONG_FORM)),
        ("AT+SYSLSPCFG?", code(WRONG_FORM)),
        ("AT+SYSLSPCFG=?", code(WRONG_FORM)),
        ("AT+SLEEPWKCFG=0,1000", code(PARA_INVALID, 0)),  # reserved upstream
        ("AT+SLEEPWKCFG=1,1", code(PARA_INVALID, 0)),  # reserved upstream
        ("AT+SLEEPWKCFG=3,12,1", code(PARA_INVALID, 0)),
        ("AT+SLEEPWKCFG=2,12", count(3, 2)),
        ("AT+SLEEPWKCFG=2", count(2, 1)),
        ("AT+SLEEPWKCFG=2,99,1", code(PARA_INVALID, 1)),
        ("AT+SLEEPWKCFG=2,12,-1", code(PARA_INVALID, 2)),
        ("AT+SLEEPWKCFG", code(WRONG_FORM)),
        ("AT+SLEEPWKCFG?", code(WRONG_FORM)),
        ("AT+SLEEPWKCFG=?", code(WRONG_FORM)),
        ("AT+SYSLSP?", code(WRONG_FORM)),
        ("AT+SYSLSP=?", code(WRONG_FORM)),
        ("AT+SYSLSP=1000", code(WRONG_FORM)),
    ],
)
def test_wake_source_errors(quiet, command, error):
    assert quiet.error_code(command) == error
    # A refused configuration leaves no wake source behind.
    assert quiet.error_code("AT+SYSLSP") == code(EXEC_FAIL)


def test_uart_wake_source_has_no_api(quiet):
    assert quiet.error_code("AT+SYSLSPCFG=1,1") == no_api(0)
    assert quiet.error_code("AT+SYSLSPCFG=1,0") == no_api(0)
    assert quiet.error_code("AT+SYSLPCFG=1,1") == no_api(0)  # old misspelling
    assert quiet.error_code("AT+SYSLSP") == code(EXEC_FAIL)  # nothing configured


def test_valid_wake_sources_are_accepted(quiet):
    for command in (
        "AT+SYSLSPCFG=0,1",
        "AT+SYSLSPCFG=0,2147483647",
        "AT+SYSLSPCFG=2,0,0",
        "AT+SYSLSPCFG=2,39,1",
        "AT+SYSLSPCFG=2,16,0",  # the AT port's RX pin
        "AT+SLEEPWKCFG=2,12,0",
        "AT+SYSLPCFG=0,500",  # old misspelling
    ):
        assert quiet.at(command) == b"\r\nOK\r\n", command


# -- AT+SYSLSP -----------------------------------------------------------


def test_light_sleep_without_wake_source_is_refused(quiet):
    assert quiet.error_code("AT+SYSLSP") == code(EXEC_FAIL)
    assert quiet.error_code("AT+SYSLSLSP") == code(EXEC_FAIL)  # old misspelling
    assert quiet.at("AT", 1) == b"\r\nOK\r\n"  # still awake


def test_light_sleep_on_timer(quiet):
    pid = quiet.firmware_pid()
    quiet.ok("AT+SYSLSPCFG=0,1000")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    start = time.monotonic()
    time.sleep(0.3)  # well inside the sleep
    assert_asleep(quiet, 0.5)
    while time.monotonic() - start < 1.2:
        time.sleep(0.05)
    assert_awake_and_unchanged(quiet)
    assert quiet.read_for(0.3) == b""  # no "ready": it was no reset
    assert quiet.firmware_pid() == pid


def test_light_sleep_timer_is_kept_for_the_next_sleep(quiet):
    quiet.ok("AT+SYSLSPCFG=0,600")
    for _ in range(2):
        assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
        time.sleep(0.15)
        assert_asleep(quiet, 0.25)
        time.sleep(0.4)
        assert_awake_and_unchanged(quiet)


def test_old_misspelt_light_sleep_sleeps(quiet):
    quiet.ok("AT+SYSLPCFG=0,800")
    assert quiet.at("AT+SYSLSLSP") == b"\r\nOK\r\n"
    time.sleep(0.2)
    assert_asleep(quiet, 0.3)
    time.sleep(0.5)
    assert_awake_and_unchanged(quiet)


def test_light_sleep_until_gpio_goes_high(quiet):
    pid = quiet.firmware_pid()
    quiet.ok("AT+SYSLSPCFG=2,12,1")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    time.sleep(0.3)
    assert_asleep(quiet, 1.5)  # no timer: it sleeps until the pin moves
    assert quiet.control("pin 13 1") == "ok"  # another pin does nothing
    assert_asleep(quiet, 0.5)
    assert quiet.control("pin 12 1") == "ok"
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)
    assert quiet.firmware_pid() == pid


def test_light_sleep_until_gpio_goes_low(quiet):
    assert quiet.control("pin 12 1") == "ok"
    quiet.ok("AT+SLEEPWKCFG=2,12,0")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    time.sleep(0.3)
    assert_asleep(quiet, 1.0)
    assert quiet.control("pin 12 0") == "ok"
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)


def test_gpio_already_at_the_wake_level_wakes_at_once(quiet):
    # The wake is level-triggered, as gpio_wakeup_enable() sets it up.
    assert quiet.control("pin 4 1") == "ok"
    quiet.ok("AT+SYSLSPCFG=2,4,1")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)


def test_gpio_wakes_before_the_timer_when_both_are_set(quiet):
    quiet.ok("AT+SYSLSPCFG=0,10000")
    quiet.ok("AT+SYSLSPCFG=2,12,1")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    start = time.monotonic()
    time.sleep(0.3)
    assert_asleep(quiet, 0.5)
    quiet.control("pin 12 1")
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)
    assert time.monotonic() - start < 5


def test_new_gpio_source_replaces_the_old_one(quiet):
    quiet.ok("AT+SYSLSPCFG=2,12,1")
    quiet.ok("AT+SLEEPWKCFG=2,13,1")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    time.sleep(0.3)
    quiet.control("pin 12 1")
    assert_asleep(quiet, 0.5)
    quiet.control("pin 13 1")
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)


def test_deep_sleep_still_works_after_a_gpio_light_sleep(quiet):
    quiet.ok("AT+SYSLSPCFG=2,12,1")
    quiet.control("pin 12 1")
    assert quiet.at("AT+SYSLSP") == b"\r\nOK\r\n"
    time.sleep(0.2)
    assert_awake_and_unchanged(quiet)
    assert quiet.at("AT+GSLP=300") == b"300\r\n\r\nOK\r\n"
    quiet.wait_ready(5)


# -- AT+GSLP -------------------------------------------------------------


def test_deep_sleep_then_reboot(quiet):
    pid = quiet.firmware_pid()
    assert quiet.at("AT+GSLP=1000") == b"1000\r\n\r\nOK\r\n"
    start = time.monotonic()
    time.sleep(0.3)
    quiet.write(b"AT\r\n")  # lost: the chip is off
    quiet.wait_ready(10)
    assert time.monotonic() - start >= 0.95
    assert quiet.read_for(0.3) == b""  # the AT above was never heard
    assert quiet.firmware_pid() != pid
    # A wake from deep sleep is a boot: RAM settings are back to defaults.
    assert quiet.at("AT") == b"AT\r\n\r\nOK\r\n"  # echo on again
    assert quiet.ok("AT+SYSLOG?").endswith(b"+SYSLOG:0\r\n\r\nOK\r\n")


def test_deep_sleep_zero_restarts_at_once(quiet):
    pid = quiet.firmware_pid()
    assert quiet.at("AT+GSLP=0") == b"0\r\n\r\nOK\r\n"
    start = time.monotonic()
    quiet.wait_ready(10)
    assert time.monotonic() - start < 1.0
    assert quiet.firmware_pid() != pid
    assert quiet.at("AT") == b"AT\r\n\r\nOK\r\n"


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+GSLP=-1", code(PARA_INVALID, 0)),
        ("AT+GSLP=2147483648", code(PARA_TYPE, 0)),
        ('AT+GSLP="1000"', code(PARA_TYPE, 0)),
        ("AT+GSLP=", code(PARA_INVALID, 0)),
        ("AT+GSLP=1000,1", count(1, 2)),
        ("AT+GSLP", code(WRONG_FORM)),
        ("AT+GSLP?", code(WRONG_FORM)),
        ("AT+GSLP=?", code(WRONG_FORM)),
    ],
)
def test_deep_sleep_errors_keep_the_module_awake(quiet, command, error):
    pid = quiet.firmware_pid()
    assert quiet.error_code(command) == error
    assert quiet.at("AT", 1) == b"\r\nOK\r\n"
    assert quiet.firmware_pid() == pid
