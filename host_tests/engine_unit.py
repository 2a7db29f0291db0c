# Runs under the MicroPython unix port (see test_engine_unit.py): checks the
# engine's mechanisms that later command groups rely on, with a fake UART.
import io
import random
import sys
import time

sys.path.append(sys.argv[1])

from firmware import params  # noqa: E402
from firmware.at import DONE, Engine  # noqa: E402
from firmware.errors import ATError  # noqa: E402


class FakeUART(io.IOBase):
    def __init__(self):
        self.out = bytearray()

    def write(self, data):
        self.out.extend(data)
        return len(data)

    def flush(self):
        pass

    def readinto(self, buf):
        return 0  # nothing from the host

    def ioctl(self, request, arg):
        return 0


def taken(uart):
    out = bytes(uart.out)
    uart.out = bytearray()
    return out


uart = FakeUART()
at = Engine(uart, None, None)
at.echo = False
received = bytearray()


def feed(data):
    at._rx[: len(data)] = data
    at.feed(len(data))


def urc_inside(at):
    at.urc(b"+URC:1\r\n")  # raised while the response is being written
    at.reply(b"+LIST:1")
    at.reply(b"+LIST:2")


def slow(at):
    at.reply(b"+SLOW:1")
    yield 10_000
    at.reply(b"+SLOW:2")


def block(at, args):
    yield from at.receive(params.int_at(args, 0, 1, 100), received.extend)
    at.reply(b"+GOT:%d" % len(received))


def nested(at):
    # As a handler that gives the UART back (passthrough's end): a line
    # waiting there is dispatched while this handler still runs.
    at.reply(b"+OUTER:1")
    feed(b"AT+NAMEA?\r\n")
    at.reply(b"+OUTER:2")


def bug(at):
    raise KeyError("a bug")


def step_error(at):
    at.reply(b"+STEP:1")
    yield 0
    raise ATError(0x0A, 0x42)


def step_done(at):
    yield 0
    at.write(b"\r\nSEND OK\r\n")
    return DONE


at.register(
    (
        ("", None, None, None, lambda at: None),  # plain AT
        ("+NAMEA", None, lambda at: at.reply(b"+A"), None, None),
        ("+NAMEB", None, lambda at: at.reply(b"+B"), None, None),
        ("+NESTED", None, None, None, nested),
        ("+BUG", None, None, None, bug),
        ("+STEPERR", None, None, None, step_error),
        ("+STEPDONE", None, None, None, step_done),
        ("+URCIN", None, None, None, urc_inside),
        ("+SLOW", None, None, None, slow),
        ("+BLOCK", None, None, block, None),
    )
)

# An unsolicited message never splits a response: it follows the final OK.
feed(b"AT+URCIN\r\n")
at.send_urcs()
assert taken(uart) == b"+LIST:1\r\n+LIST:2\r\n\r\nOK\r\n+URC:1\r\n"

# A long command: input meanwhile gets "busy p..." (one per line), the
# command goes on, and a message queued while it waits comes out between its
# steps, not inside a line.
feed(b"AT+SLOW\r\n")
assert taken(uart) == b"+SLOW:1\r\n"
feed(b"AT\r\nAT+GMR\r\nAT")
assert taken(uart) == b"\r\nbusy p...\r\n\r\nbusy p...\r\n"
at.urc(b"+URC:2\r\n")
at.send_urcs()
at._step()
assert taken(uart) == b"+URC:2\r\n+SLOW:2\r\n\r\nOK\r\n"
feed(b"\r\n")  # the rest of the discarded "AT": a blank line, ignored
feed(b"AT\r\n")
out = taken(uart); assert out == b"\r\nOK\r\n", out

# A > data block takes exactly its length, raw; bytes beyond it in the same
# burst get one "busy p...".
uart.out = bytearray()
feed(b"AT+BLOCK=5\r\n")
out = taken(uart); assert out == b"\r\nOK\r\n\r\n>", out
feed(b"a\r\nb")
feed(b"\x00Zextra\r\n")
assert bytes(received) == b"a\r\nb\x00", received
assert taken(uart) == b"+GOT:5\r\n\r\nOK\r\n\r\nbusy p...\r\n"
feed(b"AT\r\n")
out = taken(uart); assert out == b"\r\nOK\r\n", out

# Names of the same length, one after the other, reach their own handlers
# (the engine keeps the last name it decoded).
for name in (b"A", b"B", b"B", b"A", b"A"):
    feed(b"AT+NAME" + name + b"?\r\n")
    out = taken(uart); assert out == b"+" + name + b"\r\n\r\nOK\r\n", out
feed(b"AT+NAMEC?\r\n")
out = taken(uart); assert out == b"\r\nERROR\r\n", out

# A line dispatched while a handler runs gets its own answer, inside.
feed(b"AT+NESTED\r\n")
out = taken(uart); assert out == b"+OUTER:1\r\n+A\r\n\r\nOK\r\n+OUTER:2\r\n\r\nOK\r\n", out
# A bug in a handler is an ERROR; the next command is served as before.
feed(b"AT+BUG\r\n")
out = taken(uart); assert out == b"\r\nERROR\r\n", out
at.syslog = True
feed(b"AT+BUG\r\nAT+NAMEB=1\r\nAT+NAMEB?\r\n")
out = taken(uart)
assert out == b"ERR CODE:0x01010000\r\n\r\nERROR\r\nERR CODE:0x010c0000\r\n\r\nERROR\r\n+B\r\n\r\nOK\r\n", out
at.syslog = False

# A command's later step: an error ends it with ERROR, DONE with its own
# final line; the next command is served as before.
at.syslog = True
feed(b"AT+STEPERR\r\n")
at._step()
out = taken(uart); assert out == b"+STEP:1\r\nERR CODE:0x010a0042\r\n\r\nERROR\r\n", out
at.syslog = False
feed(b"AT+STEPDONE\r\n")
at._step()
feed(b"AT\r\n")
out = taken(uart); assert out == b"\r\nSEND OK\r\n\r\nOK\r\n", out

# Parameters: random strings survive ESP-AT escaping; ints and omissions.
random.seed(5)
alphabet = b'ab,"\\=?xyz09 \x7f'
for _ in range(3000):
    raw = bytes(alphabet[random.getrandbits(4) % len(alphabet)] for _ in range(random.getrandbits(4)))
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b",", b"\\,")
    number = random.getrandbits(31) - (1 << 30)
    args = params.parse(b'"%s",%d,,0x%x,' % (escaped, number, number & 0x7FFFFFFF))
    assert args == [raw.decode(), number, None, number & 0x7FFFFFFF, None], (raw, args)
assert params.parse(b'"a\\qb"') == ["aqb"]  # any other escape drops the backslash
assert params.parse(b'""') == [""]  # an empty string is not "omitted"
assert params.parse(b"-2147483648") == [-2147483648]
assert params.parse(b"0x7fffffff,0XaB,-0x10,007") == [0x7FFFFFFF, 0xAB, -16, 7]
assert params.parse(b'x=5,"a\\"b"', 2) == [5, 'a"b']  # from an offset, as the engine parses
assert params.parse(b"1,2,3", 0, 3) == [1, 2]  # up to an end
for bad in (b"2147483648", b'"ab', b"1,2x", b"0x", b"- 1", b"1_000", b"+1", b"1 ", b"0x1g", b"12345678901", b"-", b"0x@"):
    try:
        params.parse(bad)
    except ATError:
        continue
    raise AssertionError(bad)
# The queue of unsolicited messages is bounded: when it is full the message
# is refused (and logged), never an older one silently replaced.
for i in range(40):
    at.urc(b"+U:%d\r\n" % i)
at.send_urcs()
assert taken(uart) == b"".join(b"+U:%d\r\n" % i for i in range(32))

# Tickers run while a long command waits, not only when the port is idle:
# once they have run, the loop sleeps no longer than until they are due.
at.tick(lambda now: None)
feed(b"AT+SLOW\r\n")
at._ticked = time.ticks_ms()  # as a loop turn leaves it
assert 0 < at._poll_timeout() <= 10
at._step()
taken(uart)


# A MemoryError in a turn of the loop (a ticker, a socket's event) is not the
# end of the firmware: the loop lets idle groups go and carries on.
class _StopLoop(Exception):
    pass


turns = []


def short_of_memory(now):
    turns.append(now)
    if len(turns) == 1:
        raise MemoryError
    raise _StopLoop


at.tick(short_of_memory, True)
try:
    at.run()
except _StopLoop:
    pass
at.untick(short_of_memory)
assert len(turns) == 2, turns
print("engine unit checks passed")
