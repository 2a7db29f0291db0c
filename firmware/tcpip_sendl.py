# Long sends: AT+CIPSENDL and AT+CIPSENDLCFG. Each chunk goes to the socket
# as soon as it has arrived, so the length is not bounded by RAM. A group of
# its own, so that AT+CIPSEND (and passthrough) need not load it.
import sys

from micropython import const

from firmware import errors, links, params
from firmware.at import DONE
from firmware.links import UDP
from firmware.tcpip_send import IPD_GAP_MS, SEND_FAIL, SEND_OK, Sink, link_for

_REPORT_STEP = const(1024)  # AT+CIPSENDLCFG's defaults
_TRANSMIT = const(2920)
_INTERVAL_MS = const(20)  # AT+TRANSINTVL's default (firmware/passthrough.py holds it)
_report_step = _REPORT_STEP
_transmit = _TRANSMIT


class _Streamer(Sink):
    """The sink of AT+CIPSENDL: sends the host's data on in pieces of the
    transmit size (datagrams for UDP) as it arrives, and reports progress."""

    def __init__(self, at, link, remote):
        super().__init__(link, 0, _transmit)
        self.at = at
        self.remote = remote
        self.sent = 0
        self.reported = 0  # the sent count last reported
        self.next_report = _report_step

    def __call__(self, chunk):
        n = len(chunk)
        self.received += n
        self.put(chunk, 0, n)
        return None

    def flush(self):
        if not self.filled:
            return
        link = self.link
        if not self.failed:
            try:
                if link.kind == UDP:
                    link.sock.sendto(self.view[: self.filled], self.remote or (link.host, link.port))
                else:
                    links.write_all(link.sock, self.filled, link.tcpopt[2] if link.tcpopt else 0)
                self.sent += self.filled
            except OSError:
                self.failed = True
        self.filled = 0
        if self.sent >= self.next_report:  # one report, however many steps passed
            self.report()
            self.next_report = (self.sent // _report_step + 1) * _report_step

    def report(self):
        self.at.write(b"\r\n+CIPSENDL:%d,%d\r\n" % (self.sent, self.received))
        self.reported = self.sent


def cipsendl_set(at, args):
    link_id = links.split_id(args, 1, 3)  # [<id>,]<len>[,"host",<port>]
    i = links.mux
    if links.raw_receive:
        raise errors.failed()
    link, length, remote = link_for(at, link_id, args, i, 0x7FFFFFFF)
    return _send_long(at, link, length, remote)


def _send_long(at, link, length, remote):
    streamer = _Streamer(at, link, remote)
    # Less than a transmit size goes after AT+TRANSINTVL of silence.
    passthrough = sys.modules.get("firmware.passthrough")
    interval = _INTERVAL_MS if passthrough is None else passthrough._interval_ms
    if (yield from at.receive(length, streamer, cancel=True, quiet=interval or 1)):
        at.write(b"\r\nSEND CANCELLED\r\n")  # (ESP-AT's spelling here)
        return DONE
    streamer.flush()
    if streamer.reported != streamer.sent:  # the last report is what was sent
        streamer.report()
    at.write(SEND_FAIL if streamer.failed else SEND_OK)
    links.hold_ipd(IPD_GAP_MS)
    return DONE


def cipsendlcfg_query(at):
    at.reply(b"+CIPSENDLCFG:%d,%d" % (_report_step, _transmit))


def cipsendlcfg_set(at, args):
    global _report_step, _transmit
    params.count(args, 1, 2)
    report = params.int_at(args, 0, 100, 1 << 20, _report_step)
    transmit = params.int_at(args, 1, 100, _TRANSMIT, _transmit)
    _report_step, _transmit = report, transmit


COMMANDS = (
    ("+CIPSENDL", None, None, cipsendl_set, None),
    ("+CIPSENDLCFG", None, cipsendlcfg_query, cipsendlcfg_set, None),
)


def register(at):
    # The group this one is built on, imported above, is registered as a
    # group too: its rows in place and let go like any other, after this one.
    at.load("tcpip_send")
    at.register(COMMANDS)


def unload(at):
    """Whether this group can go (firmware/at.py, make_room): only with
    AT+CIPSENDLCFG as at boot."""
    return _report_step == _REPORT_STEP and _transmit == _TRANSMIT
