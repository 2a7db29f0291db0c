# Passive receive: AT+CIPRECVMODE (the old, global form), AT+CIPRECVTYPE
# (per link), AT+CIPRECVDATA and AT+CIPRECVLEN.
#
# A passive link keeps what arrives in its slots of the shared ring (at most
# links.PASSIVE_SLOTS of them, 5840 bytes, as ESP-AT's 5760-byte window) and
# tells the host once with +IPD,<id>,<len>; when its slots are full the
# socket is no longer read, so TCP holds the peer back.
from firmware import errors, links, params
from firmware.at import DONE
from firmware.links import MAX_LINKS


def ciprecvmode_query(at):
    at.reply(b"+CIPRECVMODE:%d" % links.recv_modes[0])


def ciprecvmode_set(at, args):
    params.count(args, 1, 1)
    mode = params.int_at(args, 0, 0, 1)
    _check_mode(mode)
    for i in range(MAX_LINKS):
        links.set_passive(i, mode)


def _check_mode(mode):
    if mode and links.passthrough is not None:
        raise errors.failed()  # no passive mode in passthrough


def ciprecvtype_query(at):
    if not links.mux:
        at.reply(b"+CIPRECVTYPE:%d" % links.recv_modes[0])
        return
    for i in range(MAX_LINKS):
        at.reply(b"+CIPRECVTYPE:%d,%d" % (i, links.recv_modes[i]))


def ciprecvtype_set(at, args):
    link_id = links.split_id(args, 1, 2, MAX_LINKS)
    i = links.mux
    mode = params.int_at(args, i, 0, 1)
    params.int_at(args, i + 1, 0, 0, 0)  # report mode: only "total buffered"
    _check_mode(mode)
    ids = range(MAX_LINKS) if link_id == MAX_LINKS else (link_id,)
    for k in ids:
        links.set_passive(k, mode)


def ciprecvdata_set(at, args):
    link_id = links.split_id(args, 1, 1)
    wanted = params.int_at(args, links.mux, 1, 0x7FFFFFFF)
    link = links.table[link_id]
    if link is None or not link.passive() or not link.queue.total:
        raise errors.failed()
    links.write_received(link, min(wanted, link.queue.total))  # and OK
    links.after_read(link)
    return DONE


def ciprecvlen_query(at):
    fields = []
    for link in links.table:
        fields.append(b"-1" if link is None else b"%d" % link.queue.total)
    at.reply(b"+CIPRECVLEN:" + b",".join(fields))


_TABLE = (
    ("+CIPRECVMODE", None, ciprecvmode_query, ciprecvmode_set, None),
    ("+CIPRECVTYPE", None, ciprecvtype_query, ciprecvtype_set, None),
    ("+CIPRECVDATA", None, None, ciprecvdata_set, None),
    ("+CIPRECVLEN", None, ciprecvlen_query, None, None),
)
_ALIASES = (("+CIPRCVLEN", "+CIPRECVLEN"),)


def register(at):
    at.register(_TABLE, _ALIASES)


def unload(at):
    # Nothing of this group outlives a command: it can go (firmware/at.py, make_room).
    return True
