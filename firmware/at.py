# The AT engine: assembles command lines from the UART, dispatches them to
# the command tables, writes results, queues unsolicited messages so they
# never split a response, and runs long commands as generators so that the
# port keeps answering "busy p..." while they work.
import gc
import select
import sys
import time
from collections import deque

from micropython import const

from firmware import params
from firmware.errors import (
    ATError,
    SUB_BUSY,
    SUB_COMMON,
    SUB_NO_AT,
    SUB_NO_TERMINATOR,
    SUB_PARA_LENGTH,
    SUB_PARA_PARSE,
    SUB_UNSUPPORTED,
    SUB_WRONG_FORM,
)

MAX_COMMAND = const(256)  # bytes of a command line, CR LF not counted
_RX_CHUNK = const(1024)
_URC_SLOTS = const(32)
_IDLE_POLL_MS = const(1000)
_TICK_MS = const(10)  # how often tickers run: at most, and at the least
_FOREVER_MS = const(3_600_000)
_CANCEL_GUARD_MS = const(20)  # the silence after a "+++" that cancels a > block
_LF = const(0x0A)
_CR = const(0x0D)
_HEAP_RESERVE = const(16384)  # free heap kept for a command's own buffers (boards may say)

# Forms, also the index of a form's handler in a command table row.
TEST = const(1)
QUERY = const(2)
SET = const(3)
EXECUTE = const(4)

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
BUSY = b"\r\nbusy p...\r\n"
PROMPT = b"\r\nOK\r\n\r\n>"

# A handler returns DONE when it has written its own final result.
DONE = object()


def _generator():
    yield


_GENERATOR = type(_generator())


def log(*parts):
    # The log port: the REPL console on the chip, stderr of the virtual module.
    print("[at]", *parts)


class Engine:
    def __init__(self, uart, board, settings):
        self.uart = uart
        self.board = board  # pins and paths of the board (boards/*.py)
        self.settings = settings  # firmware.settings.Settings
        self.echo = True
        self.syslog = False
        self.sysmsg = 0
        self.rows = []  # command table rows in registration order (AT+CMD?)
        self._commands = {}  # name -> row, aliases included
        self._rx = bytearray(_RX_CHUNK)
        self._rxmv = memoryview(self._rx)
        self._line = bytearray(MAX_COMMAND + 1)  # + the CR
        self._line_len = 0
        self._line_too_long = False
        self._urc = deque((), _URC_SLOTS, 1)  # 1: raise when full, never drop silently
        self._task = None
        self._task_wake = 0
        self._block_left = 0
        self._block_sink = None
        self._block_taken = 0  # bytes of the > block so far
        self._block_head = bytearray(3)  # its first three (a "+++" cancels)
        self._block_at = 0  # when the last of them arrived
        self._block_quiet = 0  # receive()'s quiet
        self._watched = {}
        self._tickers = []
        self._prompt_tickers = []
        self._ticked = time.ticks_ms()
        self._poller = select.poll()
        self._poller.register(uart, select.POLLIN)
        self.tick_ms = _TICK_MS  # the longest the loop sleeps (passthrough: 2 ms while bytes wait)
        self._uart_taker = None  # passthrough's input callback (take_uart)
        self.running = False  # the loop has started: boot is over
        self._unloadable = []  # groups imported on first use that can go again, oldest first
        self.heap_reserve = getattr(board, "HEAP_RESERVE", _HEAP_RESERVE)
        self._last_raw_name = b""  # the last command's name (_name)
        self._last_name = ""
        self._dispatching = False  # a handler runs (_dispatch)
        self._dispatcher = self._dispatcher_loop()
        next(self._dispatcher)

    # -- registration -----------------------------------------------------

    def register(self, table, aliases=()):
        """Add a command group: rows of (name, test, query, set, execute).
        A row with a sixth item stands for a group not imported yet: its
        handlers are 1 (the form exists) or None, the sixth item names the
        group's module, imported when one of its commands first arrives
        (firmware/cmdindex.py). A row takes the place of such a row of the
        same name, in place: nothing is allocated while a group loads."""
        rows = self.rows
        commands = self._commands
        for row in table:
            old = commands.get(row[0])
            commands[row[0]] = row
            if old is not None and len(old) > 5:
                rows[rows.index(old)] = row
            else:
                rows.append(row)
        for alias, name in aliases:
            commands[alias] = commands[name]

    def watch(self, stream, events, callback):
        """Call callback(stream, events) from the loop when stream is ready."""
        self._watched[stream] = callback
        self._poller.register(stream, events)

    def unwatch(self, stream):
        if self._watched.pop(stream, None) is not None:
            self._poller.unregister(stream)

    def rearm(self, stream, events):
        """Change the events a watched stream is polled for (0: none, so a
        stream whose data cannot be taken yet does not spin the loop)."""
        self._poller.modify(stream, events)

    def tick(self, callback, prompt=False):
        """Call callback(now_ms) every _TICK_MS; prompt=True: on every
        loop turn, which may come thousands of times a second while data
        flows (keep it cheap: a call whose frame does not fit the C stack
        allocates it on the heap). Periodic tickers do not run on every
        turn: their frames would cost heap per event."""
        (self._prompt_tickers if prompt else self._tickers).append(callback)

    def untick(self, callback):
        # New lists: the loop may be going through the old ones right now.
        self._tickers = [t for t in self._tickers if t is not callback]
        self._prompt_tickers = [t for t in self._prompt_tickers if t is not callback]

    def busy(self):
        """True while a command runs: data for the host must wait."""
        return self._task is not None

    def take_uart(self, taken, on_input=None):
        """Passthrough takes the UART's input for itself (True) and gives it
        back (False); bytes left waiting are then read as commands. While it
        is taken, on_input(events) runs when the UART is readable, if the
        taker has armed it with rearm(uart, POLLIN)."""
        self._uart_taker = on_input if taken else None
        self._poller.modify(self.uart, 0 if taken else select.POLLIN)
        self.tick_ms = 2 if taken else _TICK_MS
        if not taken and self.uart.any():
            self._on_uart()

    # -- output -----------------------------------------------------------

    def write(self, data):
        self.uart.write(data)

    def reply(self, line):
        """An information line: the text, then CR LF."""
        self.uart.write(line)
        self.uart.write(b"\r\n")

    def ok(self):
        self.uart.write(OK)

    def error(self, code):
        if self.syslog:
            self.uart.write(b"ERR CODE:0x%08x\r\n" % code)
        self.uart.write(ERROR)

    def urc(self, message):
        """An unsolicited message (with its CR LF), sent between responses;
        in passthrough only if AT+SYSMSG bit 2 asks (it lands in the data)."""
        if self._uart_taker is not None and not self.sysmsg & 4:
            return
        try:
            self._urc.append(message)
        except IndexError:
            log("unsolicited message dropped:", message)

    def urc_from(self, buf, start, n):
        """An unsolicited message in the caller's buffer (n bytes from
        start): written at once when no command runs and none is queued
        before it, copied into the queue otherwise."""
        if self._task is None and not self._urc:
            self.uart.write(buf, start, n)
        else:
            self.urc(bytes(buf[start : start + n]))

    def flush(self):
        """Wait until everything written has left the UART."""
        self.uart.flush()

    def receive(self, length, sink, prompt=PROMPT, cancel=False, quiet=0):
        """Generator for handlers: prompt, then pass the next `length` raw
        bytes from the UART to sink(memoryview) as they arrive. A sink that
        finds the end of its data early returns how many bytes it used.
        cancel=True: a block that is only "+++" followed by silence ends
        there (ESP-AT's way out of AT+CIPSEND's data): returns True then.
        quiet: ms of silence in the block after which sink.flush() is
        called (AT+CIPSENDL sends on what has come)."""
        self._block_sink = sink
        self._block_left = length
        self._block_taken = 0
        self._block_quiet = quiet
        self._block_at = time.ticks_ms()
        self.uart.write(prompt)
        while self._block_left:
            idle = time.ticks_diff(time.ticks_ms(), self._block_at)
            if cancel and self._block_taken == 3 and self._block_head == b"+++":
                if idle >= _CANCEL_GUARD_MS:
                    self._block_left = 0
                    self._block_sink = None
                    return True
                yield _CANCEL_GUARD_MS - idle
            elif idle < quiet:
                yield quiet - idle
            else:
                if quiet:
                    sink.flush()
                yield _FOREVER_MS  # until bytes come (_feed_block)
        self._block_sink = None
        return False

    # -- the loop ---------------------------------------------------------

    def run(self):
        self.running = True
        while True:
            try:
                self._loop()
            except MemoryError:
                # A heap too full or too broken up for a step of the loop
                # (a ticker, a socket's event): let the idle groups go and
                # carry on, rather than restart and drop every link.
                log("out of memory in the loop")
                self.make_room(None, True)

    def _loop(self):
        poller = self._poller
        uart = self.uart
        while True:
            for stream, events in poller.ipoll(self._poll_timeout()):
                if stream is uart:
                    if self._uart_taker is None:
                        self._on_uart()
                    else:
                        self._uart_taker(events)
                else:
                    self._watched[stream](stream, events)
            now = time.ticks_ms()
            for ticker in self._prompt_tickers:
                ticker(now)
            if time.ticks_diff(now, self._ticked) >= _TICK_MS:
                self._ticked = now
                for ticker in self._tickers:
                    ticker(now)
            if self._task is not None and time.ticks_diff(now, self._task_wake) >= 0:
                self._step()
            self.send_urcs()

    def _poll_timeout(self):
        if self._urc and self._block_sink is None:
            return 0
        longest = _IDLE_POLL_MS
        if self._tickers or self._prompt_tickers:
            # Wake for the periodic tickers when they are due, at the latest.
            longest = time.ticks_diff(time.ticks_add(self._ticked, _TICK_MS), time.ticks_ms())
            longest = 0 if longest < 0 else min(longest, self.tick_ms)
        if self._task is None:
            return longest
        wait = time.ticks_diff(self._task_wake, time.ticks_ms())
        return 0 if wait < 0 else min(wait, longest)

    def send_urcs(self):
        """Send the queued unsolicited messages now (before data that must
        follow them, such as the +IPD of a link just reported); not between
        a prompt and the end of its data: drivers read up to the > and
        send, and would lose a message behind it."""
        if self._block_sink is not None:
            return
        urc = self._urc
        while urc:
            self.uart.write(urc.popleft())

    def _on_uart(self):
        n = self.uart.readinto(self._rxmv)
        if n:
            self.feed(n)

    # The command path runs for every command (passive mode reads data with
    # one AT+CIPRECVDATA per 5840 bytes): its functions keep their frames
    # small enough for the C stack (at most 11 words of locals and
    # operands, see firmware/ring.py) and parse the line where it lies.

    def feed(self, n):
        """Process n bytes at the start of the receive buffer."""
        i = 0
        while i < n:
            if self._block_left:
                i = self._feed_block(i, n)
            else:
                i = self._feed_line(i, n)

    def _feed_block(self, i, n):
        # Bytes of a > block: to its sink. Returns where the block's bytes end.
        take = min(n - i, self._block_left)
        used = self._block_sink(self._rxmv[i : i + take])
        if used is None:
            self._block_left -= take
        else:  # the sink found the end of its data early
            take = used
            self._block_left = 0
        if self._block_quiet:  # the handler looks again after that silence
            self._block_at = time.ticks_ms()
            self._task_wake = time.ticks_add(self._block_at, self._block_quiet)
        if self._block_taken < 3:  # keep the head: "+++" may cancel
            self._keep_head(i, take)
        self._block_taken += take
        i += take
        if not self._block_left:
            self._task_wake = time.ticks_ms()
            self._step()
            if i < n:
                # Bytes beyond the announced length arrived with the
                # data: ESP-AT drops them with one "busy p...".
                self._busy()
                return n
        return i

    def _keep_head(self, i, take):
        head = min(3 - self._block_taken, take)
        self._block_head[self._block_taken : self._block_taken + head] = self._rxmv[i : i + head]
        self._block_at = time.ticks_ms()
        self._task_wake = self._block_at  # the handler looks at it

    def _feed_line(self, i, n):
        # Bytes of a command line, up to and with its LF. Returns where they end.
        lf = self._rx.find(b"\n", i, n)
        end = n if lf < 0 else lf + 1
        if self._task is not None:
            if lf >= 0:
                self._busy()
            return end
        if self.echo:
            self.uart.write(self._rx, i, end - i)
        self._append(i, end if lf < 0 else lf)
        if lf >= 0:
            self._end_of_line()
        return end

    def _append(self, start, end):
        count = end - start
        if self._line_len + count > len(self._line):
            self._line_too_long = True
            return
        self._line[self._line_len : self._line_len + count] = self._rxmv[start:end]
        self._line_len += count

    def _busy(self):
        if self.syslog:
            self.uart.write(b"ERR CODE:0x%08x\r\n" % (0x01000000 | SUB_BUSY << 16))
        self.uart.write(BUSY)

    def _end_of_line(self):
        length = self._line_len
        self._line_len = 0
        if self._line_too_long:
            self._line_too_long = False
            self.error(0x01000000 | SUB_PARA_LENGTH << 16)
            return
        if length and self._line[length - 1] == _CR:
            length -= 1
        elif length:
            self.error(0x01000000 | SUB_NO_TERMINATOR << 16)
            return
        if length > MAX_COMMAND:
            self.error(0x01000000 | SUB_PARA_LENGTH << 16)
        elif length:  # blank lines are ignored
            self._dispatch(length)

    # -- dispatch ---------------------------------------------------------

    def _dispatch(self, n):
        # The line is the first n bytes of self._line; a handler's
        # arguments are parsed out of it before the handler runs.
        if self._dispatching:
            # A line read while a handler runs (one that gives the UART
            # back, take_uart): a dispatcher of its own.
            dispatcher = self._dispatcher_loop()
            next(dispatcher)
            dispatcher.send(n)
        else:
            self._dispatcher.send(n)

    def _dispatcher_loop(self):
        # A generator, made once: the frame that holds the try/except every
        # command needs stays allocated, where a function's frame that size
        # would be allocated on the heap for every command (see ring.py).
        while True:
            n = yield
            self._dispatching = True
            try:
                result = self._call(self._line, n)
            except ATError as e:
                result = e
            except Exception as e:  # a bug must not take the module down
                sys.print_exception(e)
                result = ATError(SUB_COMMON)
            if type(result) is ATError:
                self.error(result.code)
            elif type(result) is _GENERATOR:
                self._task = result
                self._task_wake = time.ticks_ms()
                self._step()
            elif result is not DONE:
                self.uart.write(OK)
            result = None  # what a handler left must not outlive it
            self._dispatching = False

    def _call(self, line, n):
        if n < 2 or line[0] != 0x41 or line[1] != 0x54:  # "AT"
            raise ATError(SUB_NO_AT)
        if n > 2 and line[2] == 0x2B:  # "+"
            return self._call_form(line, _name_end(line, n), n)
        return self._call_basic(line, n)

    def _call_basic(self, line, n):
        # AT, ATE0, ATE1: a basic command carries its digits as one integer.
        i = 2
        while i < n and 0x41 <= line[i] <= 0x5A:
            i += 1
        if i == n or not line[i : n].isdigit():
            return self._call_form(line, i, n)
        if n - i > 9:
            raise ATError(SUB_UNSUPPORTED)
        return self._handler(line, i, SET)(self, [int(line[i : n])])

    def _call_form(self, line, end, n):
        # The name ends at end; what follows it tells the form.
        form = _form(line, end, n)
        if form != SET:
            return self._handler(line, end, form)(self)
        args = params.parse(line, end + 1, n)
        return self._handler(line, end, SET)(self, args)

    def _handler(self, line, end, form):
        name = self._name(line, end)
        row = self._commands.get(name)
        if row is not None and len(row) > 5:
            row = self._load(row[5], name)
        if row is None:
            raise ATError(SUB_UNSUPPORTED)
        row = row[form]
        if row is None:
            raise ATError(SUB_WRONG_FORM)
        return row

    def _name(self, line, end):
        # The name as the table's key. Hosts repeat commands (a passive
        # reader sends AT+CIPRECVDATA again and again): the last name is
        # kept, and a line with the same one makes no new string.
        last = self._last_raw_name
        if end - 2 != len(last) or line.find(last, 2, end) != 2:
            self._last_raw_name = line[2:end]
            self._last_name = self._last_raw_name.decode()
        return self._last_name

    def load(self, group):
        """Import a group imported on first use now, because another group
        needs it (an SSL link needs the TLS group); nothing if it is in."""
        for row in self.rows:
            if len(row) > 5 and row[5] == group:
                self._load(group, row[0])
                return

    def _load(self, group, name):
        """Import a group on the first use of one of its commands: its rows
        take the place of its placeholder rows (register). The row for
        name, None when the build has no such group (its commands are then
        unknown)."""
        self.make_room(group)
        try:
            module = self._import(group)
        except MemoryError:
            forget("firmware." + group)  # half made
            self.make_room(group, True)
            module = self._import(group)
        if module is None:
            rows = self.rows
            rows[:] = [row for row in rows if row[-1] != group]
            commands = self._commands
            for key in [key for key in commands if commands[key][-1] == group]:
                del commands[key]
            return None
        module.register(self)
        if hasattr(module, "unload"):
            self._unloadable.append(group)
        return self._commands.get(name)

    def _import(self, group):
        try:
            return __import__("firmware." + group, None, None, ("register",))
        except ImportError as e:
            if group not in str(e):
                raise  # the group exists but something it imports does not
            return None

    def make_room(self, keep=None, everything=False):
        """Let groups imported on first use go again, oldest first, while
        the heap has less free than the reserve (everything: all that can),
        keeping the group named keep. A group goes only when its unload()
        agrees (nothing of it in use, its settings as a new import would
        have them); its placeholder rows come back, and its next command
        imports it again. On the chip the bytecode of a group loaded from a
        .mpy file lives in the heap: this is what lets a session use every
        group, a few at a time."""
        gc.collect()
        gone = True
        while gone:  # again after a group went: the one it was built on may go now
            gone = False
            for group in self._unloadable[:]:
                if not everything and gc.mem_free() >= self.heap_reserve:
                    return
                if group != keep and self._unload(group):
                    gc.collect()
                    gone = True

    def _unload(self, group):
        key = "firmware." + group
        module = sys.modules.get(key)
        if module is not None and not module.unload(self):
            return False
        from firmware.cmdindex import table

        placeholders, aliases, _ = table(group)
        rows = self.rows
        commands = self._commands
        for row in placeholders:  # in place, as register
            rows[rows.index(commands[row[0]])] = row
            commands[row[0]] = row
        for alias, name in aliases:
            commands[alias] = commands[name]
        forget(key)
        self._unloadable.remove(group)
        log("unloaded", group)
        return True

    def _step(self):
        task = self._task
        try:
            wait = next(task)
        except StopIteration as stop:
            self._end_task()
            if stop.value is not DONE:
                self.uart.write(OK)
            return
        except ATError as e:
            self._end_task()
            self.error(e.code)
            return
        except Exception as e:
            self._end_task()
            sys.print_exception(e)
            self.error(0x01000000 | SUB_COMMON << 16)
            return
        self._task_wake = time.ticks_add(time.ticks_ms(), wait or 0)

    def _end_task(self):
        self._task = None
        self._block_left = 0
        self._block_sink = None


def forget(key):
    """Drop a module from sys.modules and from its package (the firmware
    package keeps an attribute for each submodule imported)."""
    if sys.modules.pop(key, None) is not None and key.startswith("firmware."):
        package = sys.modules.get("firmware")
        short = key[9:]
        if package is not None and hasattr(package, short):
            delattr(package, short)


def _name_end(line, n):
    """Where the name of an extended command (AT+<name>) ends: at "=", "?"
    or the end of the line; a character no name has is an unknown command."""
    i = 3
    while i < n and line[i] != 0x3D and line[i] != 0x3F:  # '=' '?'
        c = line[i]
        if not (0x41 <= c <= 0x5A or 0x30 <= c <= 0x39 or c == 0x5F):
            raise ATError(SUB_UNSUPPORTED)
        i += 1
    return i


def _form(line, end, n):
    """The form of a command whose name ends at end."""
    if end == n:
        return EXECUTE
    c = line[end]
    if c == 0x3F and end + 1 == n:  # "?"
        return QUERY
    if c == 0x3D:  # "="
        return TEST if end + 2 == n and line[end + 1] == 0x3F else SET
    raise ATError(SUB_PARA_PARSE)
