"""Time over the pty: AT+CIPSNTPCFG, AT+CIPSNTPTIME, AT+CIPSNTPINTV,
+TIME_UPDATED and AT+SYSTIMESTAMP, against a real NTP server (chronyd,
host_tests/peers.py) on loopback that serves the host's clock."""

import calendar
import re
import time

import pytest

from host_tests.codes import code, count, PARA_INVALID, PARA_LENGTH, PARA_TYPE, WRONG_FORM
from host_tests.peers import dns_server, ntp_server, ntp_time  # noqa: F401
from host_tests.radio import join, restart, station_ip

OK = b"\r\nOK\r\n"
UPDATED = b"+TIME_UPDATED\r\n"
ASCTIME = re.compile(
    rb"\+CIPSNTPTIME:((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" [ 123]\d \d\d:\d\d:\d\d \d{4})\r\n\r\nOK\r\n"
)
LONG_AGO = 1000000000  # Sun Sep  9 01:46:40 2001


def shown(module):
    """AT+CIPSNTPTIME?'s local time, as seconds since 1970 (as if UTC)."""
    reply = module.ok("AT+CIPSNTPTIME?")
    found = ASCTIME.fullmatch(reply)
    assert found, reply
    return calendar.timegm(time.strptime(found.group(1).decode(), "%a %b %d %H:%M:%S %Y"))


def timestamp(module):
    reply = module.ok("AT+SYSTIMESTAMP?")
    found = re.fullmatch(rb"\+SYSTIMESTAMP:(\d+)\r\n\r\nOK\r\n", reply)
    assert found, reply
    return int(found.group(1))


def synced(module, timeout=8):
    """Wait for +TIME_UPDATED; nothing else may come meanwhile."""
    assert module.read_until(UPDATED, timeout) == UPDATED


def test_defaults(m):
    assert m.ok("AT+CIPSNTPCFG?") == b"+CIPSNTPCFG:0,0\r\n" + OK
    assert m.ok("AT+CIPSNTPINTV?") == b"+CIPSNTPINTV:3600\r\n" + OK
    # The RTC starts from the host's clock at power-on; no zone: UTC.
    assert abs(shown(m) - time.time()) < 2
    assert abs(timestamp(m) - time.time()) < 2


def test_asctime_format(m):
    # C's asctime(): the day of the month padded with a space.
    for stamp in (1630609023, 1795507200, LONG_AGO, 0):
        m.ok("AT+SYSTIMESTAMP=%d" % stamp)
        expected = time.asctime(time.gmtime(stamp)).encode()
        assert m.ok("AT+CIPSNTPTIME?") in (
            b"+CIPSNTPTIME:%s\r\n" % expected + OK,
            b"+CIPSNTPTIME:%s\r\n" % time.asctime(time.gmtime(stamp + 1)).encode() + OK,
        )
    m.ok("AT+SYSTIMESTAMP=1630609023")
    assert m.ok("AT+CIPSNTPTIME?").startswith(b"+CIPSNTPTIME:Thu Sep  2 18:57:0")


def test_time_follows_the_server(m, ntp_server):
    join(m, "OpenNet")
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    assert timestamp(m) < LONG_AGO + 5
    assert m.at('AT+CIPSNTPCFG=1,0,"127.0.0.123"') == OK
    assert m.ok("AT+CIPSNTPCFG?") == b'+CIPSNTPCFG:1,0,"127.0.0.123"\r\n' + OK
    synced(m)
    assert abs(timestamp(m) - ntp_time(ntp_server.address)) < 2  # AT+SYSTIMESTAMP follows
    assert abs(shown(m) - time.time()) < 2  # the server serves the host's clock
    assert m.read_for(1) == b""  # one update, then the interval (an hour)


def test_time_zone_of_a_synchronised_clock(m, ntp_server):
    join(m, "OpenNet")
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    m.ok('AT+CIPSNTPCFG=1,530,"127.0.0.123"')
    synced(m)
    assert m.ok("AT+CIPSNTPCFG?") == b'+CIPSNTPCFG:1,5,"127.0.0.123"\r\n' + OK
    assert abs(shown(m) - (time.time() + 5 * 3600 + 30 * 60)) < 2
    assert abs(timestamp(m) - time.time()) < 2  # the RTC keeps UTC


@pytest.mark.parametrize(
    "zone, query, offset",
    [
        ("0", 0, 0),
        ("8", 8, 8 * 3600),
        ("-5", -5, -5 * 3600),
        ("14", 14, 14 * 3600),
        ("-12", -12, -12 * 3600),
        ("800", 8, 8 * 3600),
        ("-500", -5, -5 * 3600),
        ("530", 5, 5 * 3600 + 30 * 60),
        ("1245", 12, 12 * 3600 + 45 * 60),
        ("1459", 14, 14 * 3600 + 59 * 60),
        ("-1259", -12, -(12 * 3600 + 59 * 60)),
        ("015", 0, 15 * 60),  # ESP-AT's own example: 15 is not a whole-hour zone, so 00:15
        ("-30", 0, -30 * 60),
    ],
)
def test_time_zones(m, zone, query, offset):
    assert m.at("AT+CIPSNTPCFG=0,%s" % zone) == OK
    assert m.ok("AT+CIPSNTPCFG?") == b"+CIPSNTPCFG:0,%d\r\n" % query + OK
    utc = timestamp(m)
    assert abs(shown(m) - utc - offset) <= 1


def test_default_servers_are_found_by_name(m, ntp_server, dns_server):
    dns_server.set("cn.ntp.org.cn", ntp_server.address)
    try:
        join(m, "OpenNet")
        m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
        assert m.at("AT+CIPSNTPCFG=1,8") == OK
        assert m.ok("AT+CIPSNTPCFG?") == (
            b'+CIPSNTPCFG:1,8,"cn.ntp.org.cn","ntp.sjtu.edu.cn","us.pool.ntp.org"\r\n' + OK
        )
        synced(m)
        assert ("cn.ntp.org.cn", station_ip(m)) in dns_server.queries()
        assert abs(shown(m) - (time.time() + 8 * 3600)) < 2
    finally:
        dns_server.set("cn.ntp.org.cn")


def test_the_next_server_when_one_fails(m, ntp_server, dns_server):
    join(m, "OpenNet")
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    # A name nobody knows, an address where no server listens, then chronyd.
    assert m.at('AT+CIPSNTPCFG=1,0,"nothing.sim","127.0.0.124","127.0.0.123"') == OK
    synced(m)
    assert abs(timestamp(m) - time.time()) < 2


def test_enabled_before_the_network(m, ntp_server):
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    assert m.at('AT+CIPSNTPCFG=1,-5,"127.0.0.123"') == OK
    assert m.read_for(1) == b""  # no route yet: retried
    join(m, "OpenNet")
    synced(m, 10)
    assert abs(shown(m) - (time.time() - 5 * 3600)) < 2


def test_interval_resync_and_off(m, ntp_server):
    join(m, "OpenNet")
    assert m.at("AT+CIPSNTPINTV=15") == OK
    assert m.ok("AT+CIPSNTPINTV?") == b"+CIPSNTPINTV:15\r\n" + OK
    m.ok('AT+CIPSNTPCFG=1,0,"127.0.0.123"')
    synced(m)
    first = time.monotonic()
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    synced(m, 20)
    assert 14 < time.monotonic() - first < 17
    assert abs(timestamp(m) - time.time()) < 2
    assert m.at("AT+CIPSNTPCFG=0") == OK
    assert m.ok("AT+CIPSNTPCFG?") == b"+CIPSNTPCFG:0,0\r\n" + OK
    m.ok("AT+SYSTIMESTAMP=%d" % LONG_AGO)
    assert m.read_for(17) == b""  # off: no more synchronisation
    assert LONG_AGO + 15 < timestamp(m) < LONG_AGO + 20


def test_nothing_is_saved(m, ntp_server):
    join(m, "OpenNet")
    m.ok("AT+CIPSNTPINTV=60")
    m.ok('AT+CIPSNTPCFG=1,8,"127.0.0.123"')
    synced(m)
    m = restart(m)
    assert m.ok("AT+CIPSNTPCFG?") == b"+CIPSNTPCFG:0,0\r\n" + OK
    assert m.ok("AT+CIPSNTPINTV?") == b"+CIPSNTPINTV:3600\r\n" + OK
    assert abs(timestamp(m) - time.time()) < 2  # the RTC runs on


def test_old_parameter_list(m):
    # <timezone>[,<server>...]: the first parameter cannot be <enable>.
    assert m.at('AT+CIPSNTPCFG=8,"127.0.0.123"') == OK
    assert m.ok("AT+CIPSNTPCFG?") == b'+CIPSNTPCFG:1,8,"127.0.0.123"\r\n' + OK
    assert m.at('AT+CIPSNTPCFG=1,"127.0.0.123","127.0.0.124"') == OK
    assert m.ok("AT+CIPSNTPCFG?") == b'+CIPSNTPCFG:1,1,"127.0.0.123","127.0.0.124"\r\n' + OK
    assert m.at("AT+CIPSNTPCFG=-5") == OK
    assert m.ok("AT+CIPSNTPCFG?") == (
        b'+CIPSNTPCFG:1,-5,"cn.ntp.org.cn","ntp.sjtu.edu.cn","us.pool.ntp.org"\r\n' + OK
    )
    assert m.at("AT+CIPSNTPCFG=0") == OK
    assert m.ok("AT+CIPSNTPCFG?") == b"+CIPSNTPCFG:0,0\r\n" + OK


def test_interval_range(m):
    assert m.at("AT+CIPSNTPINTV=4294967") == OK
    assert m.ok("AT+CIPSNTPINTV?") == b"+CIPSNTPINTV:4294967\r\n" + OK


@pytest.mark.parametrize(
    "command, error",
    [
        ("AT+CIPSNTPCFG", code(WRONG_FORM)),
        ("AT+CIPSNTPCFG=?", code(WRONG_FORM)),
        ("AT+CIPSNTPCFG=", code(PARA_INVALID, 0)),
        ('AT+CIPSNTPCFG="1"', code(PARA_TYPE, 0)),
        ("AT+CIPSNTPCFG=1,99", code(PARA_INVALID, 1)),  # 00:99
        ("AT+CIPSNTPCFG=1,1460", code(PARA_INVALID, 1)),
        ("AT+CIPSNTPCFG=1,1500", code(PARA_INVALID, 1)),
        ("AT+CIPSNTPCFG=1,-1300", code(PARA_INVALID, 1)),
        ("AT+CIPSNTPCFG=1,-1260", code(PARA_INVALID, 1)),
        ('AT+CIPSNTPCFG=1,8,""', code(PARA_LENGTH, 2)),
        ('AT+CIPSNTPCFG=1,8,"%s"' % ("n" * 65), code(PARA_LENGTH, 2)),
        ("AT+CIPSNTPCFG=1,8,1", code(PARA_TYPE, 2)),
        ('AT+CIPSNTPCFG=1,8,"a","b","c","d"', count(5, 6)),
        ('AT+CIPSNTPCFG=8,"a","b","c","d"', count(4, 5)),  # the old list has no <enable>
        ('AT+CIPSNTPCFG=99,"a"', code(PARA_INVALID, 0)),  # old list: 00:99
        ('AT+CIPSNTPCFG=1,8,"a', 0x01080002),
        ("AT+CIPSNTPTIME", code(WRONG_FORM)),
        ("AT+CIPSNTPTIME=?", code(WRONG_FORM)),
        ("AT+CIPSNTPTIME=1", code(WRONG_FORM)),
        ("AT+CIPSNTPINTV", code(WRONG_FORM)),
        ("AT+CIPSNTPINTV=?", code(WRONG_FORM)),
        ("AT+CIPSNTPINTV=", code(PARA_INVALID, 0)),
        ("AT+CIPSNTPINTV=14", code(PARA_INVALID, 0)),
        ("AT+CIPSNTPINTV=4294968", code(PARA_INVALID, 0)),
        ("AT+CIPSNTPINTV=-15", code(PARA_INVALID, 0)),
        ('AT+CIPSNTPINTV="60"', code(PARA_TYPE, 0)),
        ("AT+CIPSNTPINTV=60,1", count(1, 2)),
    ],
)
def test_errors(m, command, error):
    before = m.ok("AT+CIPSNTPCFG?") + m.ok("AT+CIPSNTPINTV?")
    assert m.error_code(command) == error
    assert m.ok("AT+CIPSNTPCFG?") + m.ok("AT+CIPSNTPINTV?") == before
