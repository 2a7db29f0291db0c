"""AT+UART_CUR / AT+UART_DEF: applied to the simulated UART and its pty."""

import termios

from tools.vmodule import VirtualModule


def line_settings(module):
    """What the pty's termios shows: (baud constant, stop bits, RTS/CTS).
    A Linux pty always reports 8 data bits and no parity."""
    attrs = termios.tcgetattr(module.fd)
    cflag = attrs[2]
    return attrs[4], 2 if cflag & termios.CSTOPB else 1, bool(cflag & termios.CRTSCTS)


def test_factory_configuration(quiet):
    assert quiet.ok("AT+UART_CUR?") == b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n"
    assert quiet.ok("AT+UART_DEF?") == b"+UART_DEF:115200,8,1,0,0\r\n\r\nOK\r\n"
    assert line_settings(quiet) == (termios.B115200, 1, False)


def test_uart_cur_applies_after_the_ok_and_is_not_saved(quiet):
    assert quiet.at("AT+UART_CUR=57600,8,3,2,3") == b"\r\nOK\r\n"
    assert quiet.ok("AT+UART_CUR?") == b"+UART_CUR:57600,8,3,2,3\r\n\r\nOK\r\n"
    assert line_settings(quiet) == (termios.B57600, 2, True)
    assert quiet.ok("AT+UART_DEF?") == b"+UART_DEF:115200,8,1,0,0\r\n\r\nOK\r\n"
    quiet.write(b"AT+RST\r\n")
    quiet.read_until(b"\r\nOK\r\n")
    quiet.wait_ready()
    assert quiet.ok("AT+UART_CUR?").endswith(b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n")
    assert line_settings(quiet) == (termios.B115200, 1, False)


def test_uart_def_is_saved_and_applied_at_boot(module):
    module.ok("ATE0")
    module.ok("AT+UART_DEF=9600,8,1,1,0")
    assert module.ok("AT+UART_CUR?") == b"+UART_CUR:9600,8,1,1,0\r\n\r\nOK\r\n"
    module.stop()
    module = VirtualModule(module.state).start()
    try:
        module.ok("ATE0")
        assert module.ok("AT+UART_DEF?") == b"+UART_DEF:9600,8,1,1,0\r\n\r\nOK\r\n"
        assert module.ok("AT+UART_CUR?") == b"+UART_CUR:9600,8,1,1,0\r\n\r\nOK\r\n"
        assert line_settings(module) == (termios.B9600, 1, False)
    finally:
        module.stop()


def test_seven_data_bits_drop_the_eighth(quiet):
    quiet.ok("AT+UART_CUR=115200,7,1,0,0")
    quiet.write(bytes([0x41 | 0x80, 0x54 | 0x80]) + b"\r\n")  # "AT" with bit 7 set
    assert quiet.read_until(b"\r\nOK\r\n", 5) == b"\r\nOK\r\n"


def test_one_and_a_half_stop_bits_have_no_api(quiet):
    assert quiet.error_code("AT+UART_CUR=115200,8,2,0,0") == 0x010AF102
    assert quiet.error_code("AT+UART_DEF=115200,8,2,0,0") == 0x010AF102


def test_parameter_checks(quiet):
    assert quiet.error_code("AT+UART_CUR=79,8,1,0,0") == 0x01070000
    assert quiet.error_code("AT+UART_CUR=5000001,8,1,0,0") == 0x01070000
    assert quiet.error_code("AT+UART_CUR=115200,4,1,0,0") == 0x01070001
    assert quiet.error_code("AT+UART_CUR=115200,8,0,0,0") == 0x01070002
    assert quiet.error_code("AT+UART_CUR=115200,8,1,3,0") == 0x01070003
    assert quiet.error_code("AT+UART_CUR=115200,8,1,0,4") == 0x01070004
    assert quiet.error_code("AT+UART_CUR=115200,8,1,0") == 0x01060504
    assert quiet.error_code("AT+UART_CUR=115200,8,1,0,0,0") == 0x01060506
    assert quiet.error_code("AT+UART_CUR") == 0x010C0000
    assert quiet.error_code("AT+UART_CUR=?") == 0x010C0000
    assert quiet.ok("AT+UART_CUR?") == b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n"


def test_high_baud_rates_are_accepted(quiet):
    quiet.ok("AT+UART_CUR=5000000,8,1,0,3")
    assert quiet.ok("AT+UART_CUR?") == b"+UART_CUR:5000000,8,1,0,3\r\n\r\nOK\r\n"
    quiet.ok("AT+UART_CUR=80,8,1,0,0")  # slowest: 8 bytes per second
    quiet.write(b"AT+UART_CUR=115200,8,1,0,0\r\n")
    assert quiet.read_until(b"\r\nOK\r\n", 15) == b"\r\nOK\r\n"
    assert quiet.ok("AT+UART_CUR?") == b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n"
