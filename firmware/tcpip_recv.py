# Passive receive: AT+CIPRECVMODE (the old, global form), AT+CIPRECVTYPE
# (per link), AT+CIPRECVDATA and AT+CIPRECVLEN, and the receive path of a
# passive link (firmware/links.py hands such links here).
#
# A passive link keeps what arrives in its slots of the shared ring (at most
# PASSIVE_SLOTS of them, 5840 bytes, as ESP-AT's 5760-byte window) and
# tells the host once with +IPD,<id>,<len>; when it holds its share the
# socket is no longer read, so TCP holds the peer back. A UDP link's
# datagrams lie back to back in its slots, and link.datagrams lists the
# length left of each and its sender, oldest first: [<len>, <sender>, ...].
# What does not fit is lost, as on ESP-AT.
import sys
import time

from micropython import const

from firmware import errors, links, params
from firmware.at import DONE
from firmware.links import MAX_LINKS, UDP

PASSIVE_SLOTS = const(2)
_DATAGRAMS = const(32)  # at most, held by a passive UDP link
_IN = const(1)  # select.POLLIN
_HUP = const(24)  # select.POLLHUP | select.POLLERR

_at = None
_notice = bytearray(b"\r\n+IPD,4,2147483647\r\n")  # built in place (notify)
_covered = bytearray(6)  # _write_last
_report_modes = bytearray(MAX_LINKS)  # AT+CIPRECVTYPE's <data_len_report_mode> per link id


def ciprecvmode_query(at):
    at.reply(b"+CIPRECVMODE:%d" % links.recv_modes[0])


def ciprecvmode_set(at, args):
    params.count(args, 1, 1)
    mode = params.int_at(args, 0, 0, 1)
    _check_mode(mode)
    for i in range(MAX_LINKS):
        set_passive(i, mode)


def _check_mode(mode):
    if mode and links.passthrough is not None:
        raise errors.failed()  # no passive mode in passthrough


def ciprecvtype_query(at):
    for i in range(MAX_LINKS if links.mux else 1):  # single mode: link 0
        at.reply(b"+CIPRECVTYPE:%d,%d" % (i, links.recv_modes[i]))


def ciprecvtype_set(at, args):
    link_id = links.split_id(args, 1, 2, MAX_LINKS)
    i = links.mux
    mode = params.int_at(args, i, 0, 1)
    report = params.int_at(args, i + 1, 0, 1, 0)
    _check_mode(mode)
    ids = range(MAX_LINKS) if link_id == MAX_LINKS else (link_id,)
    for k in ids:
        _report_modes[k] = report
        set_passive(k, mode)


def ciprecvdata_set(at, args):
    # Few locals: a frame of more than 11 words would go on the heap, on
    # every read of a passive reader.
    link = links.table[links.split_id(args, 1, 2)]
    wanted = params.int_at(args, links.mux, 1, 0x7FFFFFFF)
    whole = _keep_datagrams(args)
    if link is None or not link.passive() or not link.queue.total:
        raise errors.failed()
    write_received(link, _take(link, wanted, whole))  # and OK
    after_read(link)
    return DONE


def _keep_datagrams(args):
    return params.int_at(args, links.mux + 1, 0, 1, 0)  # <keep_datagram_integrity>


def _take(link, wanted, whole):
    """The bytes this read takes; the datagrams they span are counted off,
    and the link shows the first one's sender (AT+CIPDINFO)."""
    if whole and link.kind == UDP:
        n = _next_datagram(link)  # whole
        if n > wanted:
            raise errors.failed()
    else:
        n = min(wanted, link.queue.total)
    grams = link.datagrams
    if grams:
        link.peer = grams[1]
        _count_off(grams, n)
    return n


def _count_off(grams, n):
    # n bytes were read: the datagrams they cover go, one read in part
    # keeps what is left of it.
    while n and grams:
        if n < grams[0]:
            grams[0] -= n
            return
        n -= grams[0]
        del grams[:2]


def _next_datagram(link):
    grams = link.datagrams
    if grams:
        return grams[0]
    return link.queue.head_length()  # one datagram a slot (held while active)


def _reported(link):
    """What +IPD and AT+CIPRECVLEN? tell: everything held, or with
    <data_len_report_mode> 1 the next datagram."""
    if _report_modes[link.id] and link.kind == UDP:
        return _next_datagram(link)
    return link.queue.total


def ciprecvlen_query(at):
    fields = []
    for link in links.table:
        fields.append(b"-1" if link is None else b"%d" % _reported(link))
    at.reply(b"+CIPRECVLEN:" + b",".join(fields))


# -- the receive path of a passive link --------------------------------------------


def receive(link, events):
    """The link's socket is readable (firmware/links.py, on_event)."""
    # (A datagram without room is read and dropped by links.read_datagram:
    # UDP is not held back.)
    if link.kind != UDP:
        if links.holds_enough(link):
            link.poll(0)  # TCP waits in the peer's window, until the host reads
            return
        if not (links.rx_ring.free_slots() or link.queue.tail_room()):
            links.pause(link)  # until a slot is free again
            return
    n = _read(link)
    if n is None:
        if events & _HUP:
            links.peer_closed(link)
        return
    if n == 0:
        links.peer_closed(link)
        return
    link.last_ms = time.ticks_ms()
    notify(link)


def _read(link):
    if link.kind == UDP or not link.queue.tail_room():
        return links.read(link)
    try:
        return link.queue.fill_tail(link.sock)
    except OSError:
        return 0  # reset by the peer


def keep_datagram(link, slot, n, room):
    """A datagram of n bytes read into slot, a free one of the ring
    (links.read_datagram): kept behind those the link holds when its
    newest slot has room, in slot when room says the link may take one
    more, else lost. Its length, or None."""
    queue = link.queue
    grams = link.datagrams
    if grams is None:
        grams = link.datagrams = []
    fits = queue.tail_room() >= n
    if len(grams) == 2 * _DATAGRAMS or not (fits or room):
        links.rx_ring.give(slot)
        return None
    if fits:
        queue.append(slot, n)
    else:
        queue.push(slot, n)
    grams.append(n)
    grams.append(link.peer)
    return n


def holds_share(link):
    """Whether a passive link holds its share: its PASSIVE_SLOTS, or the
    slots it has while the free ones are kept for links that hold none."""
    queue = link.queue
    if link.kind != UDP and queue.tail_room():
        return False  # its newest slot has room
    if queue.slots() >= PASSIVE_SLOTS:
        return True
    return queue.slots() > 0 and not _spare_slot(link)


def _spare_slot(link):
    # A free slot beyond one for each other link that holds none: ESP-AT
    # gives every socket a window of its own, and a host may wait for one
    # link's +IPD before it reads another's, so a passive link never takes
    # the last slots from links that have nothing announced yet.
    waiting = 0
    for other in links.table:
        if other is not None and other is not link and not other.queue.slots():
            waiting += 1
    return links.rx_ring.free_slots() > waiting


def notify(link):
    """+IPD,[<id>,]<buffered> once until the host reads."""
    if link.notified or not link.queue.total:
        return
    link.notified = True
    end = len(_notice) - 2  # its CR LF are in place
    start = links.put_decimal(_notice, end, _reported(link))
    if links.mux:
        start -= 2
        _notice[start] = 0x30 + link.id
        _notice[start + 1] = 0x2C  # ','
    _notice[start - 7 : start] = b"\r\n+IPD,"
    _at.urc_from(_notice, start - 7, len(_notice) - start + 7)


def after_read(link):
    """After AT+CIPRECVDATA took data: notify again, hand over a held
    CLOSED, or poll the socket again."""
    link.notified = False
    if link.queue.total:
        notify(link)
    elif link.eof:
        links.close(link)
        return
    if not link.eof:
        link.poll(_IN)
    links.resume_all()


def set_passive(link_id, passive):
    """AT+CIPRECVTYPE: switching a link to active mode delivers its data."""
    links.recv_modes[link_id] = 1 if passive else 0
    link = links.table[link_id]
    if link is None:
        return
    if not passive and link.queue.total:
        _deliver(link)
        link.notified = False
        if link.eof:
            links.close(link)
            return
    if not link.eof:
        link.poll(_IN)


def _deliver(link):
    # What a passive link holds, as +IPD frames: one for each datagram.
    grams = link.datagrams
    link.datagrams = None
    _at.send_urcs()
    while grams:
        link.peer = grams[1]
        links.deliver_frame(link, link.queue, grams[0])
        del grams[:2]
    links.deliver_ipd(link)  # what came while the link was active


def write_received(link, n):
    """AT+CIPRECVDATA's answer: +CIPRECVDATA:<n>,["<ip>",<port>,], n bytes
    of the link's queue and OK. The header is built in the room before the
    data and OK right after its last byte, so that the last write carries
    it: drivers read the data and then expect OK in the same burst."""
    start = _header(link, links.rx_ring.buf, link.queue.head_start(), n)
    while n > link.queue.head_length():
        n -= _write_head(link.queue, start)
        start = link.queue.head_start()
    _write_last(link.queue, start, n)


def _write_head(queue, start):
    # From start to the end of the oldest slot's bytes.
    n = queue.head_length()
    _at.uart.write(links.rx_ring.buf, start, queue.head_start() - start + n)
    queue.consume(n)
    return n


def _write_last(queue, start, n):
    # From start to n bytes into the oldest slot, and OK after them. What
    # follows the slot's bytes is free; in a partial read OK covers bytes
    # still to be read for the moment of the write.
    end = queue.head_start() + n
    partial = n < queue.head_length()
    if partial:
        _covered[:] = links.rx_ring.view[end : end + 6]
    links.rx_ring.buf[end : end + 6] = b"\r\nOK\r\n"
    _at.uart.write(links.rx_ring.buf, start, end + 6 - start)
    if partial:
        links.rx_ring.buf[end : end + 6] = _covered
    queue.consume(n)


def _header(link, buf, end, n):
    # +CIPRECVDATA:<n>,["<ip>",<port>,]: backwards, as links' +IPD header.
    i = end - 1
    buf[i] = 0x2C  # ','
    if links.dinfo:
        i = links.put_address(link, buf, i)
    i = links.put_decimal(buf, i, n)
    buf[i - 13 : i] = b"+CIPRECVDATA:"
    return i - 13


_TABLE = (
    ("+CIPRECVMODE", None, ciprecvmode_query, ciprecvmode_set, None),
    ("+CIPRECVTYPE", None, ciprecvtype_query, ciprecvtype_set, None),
    ("+CIPRECVDATA", None, None, ciprecvdata_set, None),
    ("+CIPRECVLEN", None, ciprecvlen_query, None, None),
)
_ALIASES = (("+CIPRCVLEN", "+CIPRECVLEN"),)


def register(at):
    global _at
    _at = at
    at.register(_TABLE, _ALIASES)
    links.passive_group = sys.modules[__name__]


def unload(at):
    # Not while a link id is passive: the receive path needs this group then
    # (firmware/at.py, make_room); nor while a report mode is set, which a
    # fresh import would lose.
    for i in range(MAX_LINKS):
        if links.recv_modes[i] or _report_modes[i]:
            return False
    links.passive_group = None
    return True
