# The data plane's buffers, allocated once at boot and never grown.
#
# Network data waits in a ring of fixed-size slots: a TCP read fills one
# whole slot (readinto() at the start of a preallocated memoryview, which
# allocates nothing; a datagram is copied in, see links.read_datagram), and
# each link keeps its own small FIFO of slot numbers.
# Active +IPD frames, passive-mode buffers and raw reception outside a
# passthrough session all take their slots from this one ring, so a link
# that holds data (passive mode) and a link that streams (+IPD) share the
# same RAM. (A passthrough session reads TCP data into the transmit buffer
# below, which is idle between two packets to the network.) Data leaves
# a slot by stream.write(buf, offset, length), which allocates nothing either.
#
# Outgoing data (AT+CIPSEND and its kin, passthrough packets) is collected in
# one contiguous transmit buffer: a UDP datagram must be one piece, and only
# one command or passthrough session sends at a time.
#
# The methods here run for every slot of data, so each keeps its frame small
# (few locals, shallow expressions): MicroPython puts the frame of a call
# that needs more than 11 words on the heap (VM_MAX_STATE_ON_STACK), which
# would cost heap for every slot forwarded.
from micropython import const

_FREE = const(0xFF)
_END_ROOM = const(8)


class SlotRing:
    def __init__(self, slots, slot_size, room=0):
        self.size = slot_size
        self.room = room  # bytes kept before each slot, for a frame's header
        self.stride = room + slot_size
        # + _END_ROOM: a reply's last bytes may follow a slot's data (the
        # next slot's header room takes them, or this for the last slot).
        self.buf = bytearray(slots * self.stride + _END_ROOM)
        self.view = mv = memoryview(self.buf)
        self.views = [mv[i * self.stride + room : (i + 1) * self.stride] for i in range(slots)]
        self.lens = [0] * slots
        self._free = bytearray(range(slots))  # a stack of free slot numbers
        self._nfree = slots

    def free_slots(self):
        return self._nfree

    def take(self):
        """A free slot number, or -1 when every slot holds data."""
        if not self._nfree:
            return -1
        self._nfree -= 1
        return self._free[self._nfree]

    def next_free(self):
        """The slot take() would give next, or -1."""
        return self._free[self._nfree - 1] if self._nfree else -1

    def give(self, slot):
        self._free[self._nfree] = slot
        self._nfree += 1


class LinkQueue:
    """One link's received data: slot numbers in arrival order, the bytes
    already consumed from the first one, and the total left."""

    def __init__(self, ring, depth):
        self.ring = ring
        self._slots = bytearray(depth)
        self._head = 0
        self._count = 0
        self._offset = 0  # bytes of the head slot already consumed
        self.total = 0

    def full(self):
        return self._count == len(self._slots)

    def slots(self):
        return self._count

    def fill(self, stream):
        """Read once from stream into a fresh slot: the number of bytes, 0 at
        end of stream, None when the stream has nothing or no slot is free."""
        if self._count == len(self._slots):
            return None
        ring = self.ring
        slot = ring.next_free()  # taken once it holds data
        if slot < 0:
            return None
        n = stream.readinto(ring.views[slot])
        if n:
            ring.take()
            self.push(slot, n)
        return n

    def tail_room(self):
        """Bytes free at the end of the newest slot."""
        if not self._count:
            return 0
        return self.ring.size - self.ring.lens[self._tail()]

    def fill_tail(self, stream):
        """Read once from stream into the room at the end of the newest
        slot (a passive link's small segments then share a slot)."""
        ring = self.ring
        slot = self._tail()
        n = stream.readinto(ring.views[slot][ring.lens[slot] :])
        if n:
            ring.lens[slot] += n
            self.total += n
        return n

    def append(self, slot, n):
        """Move n bytes from slot, a fresh one, behind the newest slot's
        bytes, and free it (a passive link's short datagrams then share a
        slot). The caller has checked tail_room()."""
        ring = self.ring
        tail = self._tail()
        at = tail * ring.stride + ring.room + ring.lens[tail]
        start = slot * ring.stride + ring.room
        ring.buf[at : at + n] = ring.view[start : start + n]
        ring.lens[tail] += n
        self.total += n
        ring.give(slot)

    def _tail(self):
        return self._slots[(self._head + self._count - 1) % len(self._slots)]

    def push(self, slot, length):
        depth = len(self._slots)
        self._slots[(self._head + self._count) % depth] = slot
        self._count += 1
        self.ring.lens[slot] = length
        self.total += length

    def head_length(self):
        """Bytes left in the oldest slot (one datagram for UDP)."""
        if not self._count:
            return 0
        return self.ring.lens[self._slots[self._head]] - self._offset

    def write_to(self, out, limit):
        """Write up to limit bytes, slot by slot, to out (a stream). Returns
        the number written; stops early when out takes less than offered."""
        done = 0
        while done < limit and self._count:
            want = self.head_length()
            if want > limit - done:
                want = limit - done
            n = self._write_head(out, want)
            done += n
            if n < want:
                break
        return done

    def _write_head(self, out, n):
        start = self.head_start()
        n = out.write(self.ring.buf, start, n) or 0
        self.consume(n)
        return n

    def head_start(self):
        """Where the oldest slot's unconsumed bytes start in ring.buf; the
        ring's room (and what was consumed) lies before them."""
        ring = self.ring
        return self._slots[self._head] * ring.stride + ring.room + self._offset

    def consume(self, n):
        """Drop n bytes from the front (they have been delivered)."""
        ring = self.ring
        self.total -= n
        while n and self._count:
            slot = self._slots[self._head]
            left = ring.lens[slot] - self._offset
            if n < left:
                self._offset += n
                return
            n -= left
            self._drop_head()

    def drop_head_slot(self):
        """Drop what is left of the oldest slot (the rest of a datagram)."""
        if self._count:
            self.total -= self.head_length()
            self._drop_head()

    def _drop_head(self):
        self.ring.give(self._slots[self._head])
        self._head = (self._head + 1) % len(self._slots)
        self._count -= 1
        self._offset = 0

    def clear(self):
        while self._count:
            self._drop_head()
        self.total = 0
