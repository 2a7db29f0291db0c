"""Bad input never crashes, hangs or leaks; a kill never damages settings."""

import os
import random
import re
import signal
import time

import pytest

from tools.vmodule import VirtualModule

# Commands whose mutations could reboot, sleep or re-frame the module are
# left out of the corpus: their effects are tested on their own.
CORPUS = [
    b"AT",
    b"AT+GMR",
    b"AT+SYSLOG?",
    b"AT+SYSMSG=3",
    b'AT+SYSMSG="3"',
    b"AT+SYSSTORE?",
    b"AT+CMD?",
    b"AT+SYSRAM=0x1800",
    b"AT+SYSTIMESTAMP=1565853509",
    b"AT+UART_CUR?",
    b'AT+FS=0,3,"a\\"b\\,c"',
    b"AT+SYSMSG=0x7fffffff,-2147483648,,",
]
FINAL = re.compile(rb"\r\n(OK|ERROR)\r\n")


@pytest.fixture
def fast(state):
    m = VirtualModule(state, pace=False).start()
    m.ok("ATE0")
    m.buffer = b""
    yield m
    m.stop()


def mutate(rng, line):
    line = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        pos = rng.randrange(len(line) + 1)
        if op == 0 and line:
            del line[min(pos, len(line) - 1)]
        elif op == 1:
            line.insert(pos, rng.choice(b'",\\=?+-0x9AZaz \x00\xff\x7f'))
        elif op == 2 and line:
            line[min(pos, len(line) - 1)] = rng.randrange(256)
        else:
            line[pos:pos] = line[: rng.randrange(len(line) + 1)]
    return bytes(line).replace(b"\r", b"").replace(b"\n", b"")


def sync(module):
    """End any partial line, then prove the module still answers. The junk
    cannot hold "AT", so only this query can produce its reply."""
    module.write(b"\r\nAT+SYSSTORE?\r\n")
    module.read_until(b"+SYSSTORE:1\r\n\r\nOK\r\n", 10)
    assert module.read_for(0.02) == b""


def test_every_line_gets_exactly_one_answer(fast):
    rng = random.Random(2)
    for _ in range(1500):
        line = mutate(rng, rng.choice(CORPUS))
        if not line:
            continue
        if re.match(rb"AT(E\d|\+(RST|GSLP|RESTORE|UART|SYSLSP|SLEEP|FS|SYSFLASH|SYSROLLBACK))", line):
            continue  # mutated into a command with side effects on the link
        fast.write(line + b"\r\n")
        reply = fast.read_until(FINAL, 10)
        assert not FINAL.search(reply[:-1]), (line, reply)  # exactly one final result
        assert fast.read_for(0) == b"", line


@pytest.mark.parametrize("seed", range(3))
def test_random_bytes_never_stop_the_module(fast, seed):
    rng = random.Random(seed)
    pid = fast.firmware_pid()
    for _ in range(30):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600)))
        junk = junk.replace(b"AT", b"at")  # keep random commands out
        fast.write(junk)
        sync(fast)
    assert fast.firmware_pid() == pid  # never restarted behind our back


def test_unterminated_quotes_and_huge_numbers(fast):
    fast.ok("AT+SYSLOG=1")
    for line in [
        b'AT+SYSMSG="',
        b'AT+SYSMSG="\\',
        b'AT+SYSMSG="\\"',
        b"AT+SYSMSG=" + b"9" * 200,
        b"AT+SYSMSG=0x" + b"f" * 200,
        b"AT+SYSMSG=-" + b"9" * 200,
        b"AT+SYSMSG=" + b"," * 240,
        b'AT+SYSMSG="' + b"\\" * 240 + b'"',
    ]:
        reply = fast.at(line)
        assert reply.endswith(b"\r\nERROR\r\n") and reply.startswith(b"ERR CODE:0x010"), (line, reply)


def test_heap_does_not_grow_after_thousands_of_bad_lines(fast):
    def free():
        return int(re.search(rb"\+SYSRAM:(\d+),", fast.ok("AT+SYSRAM?")).group(1))

    rng = random.Random(7)
    bad = [mutate(rng, rng.choice(CORPUS)) for _ in range(200)]
    bad = [b for b in bad if b and not re.match(rb"AT(E\d|\+(RST|GSLP|RESTORE|UART|FS|SYSFLASH))", b)]
    for line in bad:  # warm up: first-use allocations are not growth
        fast.at(line)
    before = free()
    for _ in range(15):
        for line in bad:
            fast.at(line)
    after = free()
    assert len(bad) * 15 >= 2500
    assert after >= before - 256, (before, after)


def test_kill_during_settings_writes_leaves_old_or_new(state):
    """SIGKILL the firmware while it saves AT+UART_DEF (always written to
    NVS) with a new baud rate each time. The store must come back readable
    and hold the last acknowledged value or a later one: a kill can also
    swallow OKs still on their way out, as a crash loses the UART's transmit
    buffer, but it must never lose or damage an acknowledged write."""
    module = VirtualModule(state, pace=False).start()
    try:
        module.ok("ATE0")
        rng = random.Random(11)
        previous = 115200
        for round_ in range(8):
            values = [100_000 + round_ * 10_000 + i for i in range(2000)]
            module.write(b"".join(b"AT+UART_DEF=%d,8,1,0,0\r\n" % v for v in values))
            time.sleep(rng.uniform(0.0, 0.1))
            os.kill(module.firmware_pid(), signal.SIGKILL)
            acked = module.read_until(b"\r\nready\r\n", 20).count(b"\r\nOK\r\n")
            module.ok("ATE0")
            reply = module.ok("AT+UART_DEF?")
            stored = int(re.fullmatch(rb"\+UART_DEF:(\d+),8,1,0,0\r\n\r\nOK\r\n", reply).group(1))
            if acked:
                assert stored in values[acked - 1 :], (round_, acked, stored)
            else:
                assert stored == previous or stored in values, (round_, stored)
            assert module.ok("AT+UART_CUR?").startswith(b"+UART_CUR:%d," % stored)  # applied at boot
            previous = stored
    finally:
        module.stop()
