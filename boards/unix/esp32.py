# Stand-in for the ESP32 port's `esp32` module on the unix port.
# NVS namespaces live in the state folder, one file each; commit() writes a
# new file and renames it over the old one, so a process killed at any
# instant leaves either the old or the new contents, never a damaged store.
import errno
import gc
import hashlib
import os
import struct

from micropython import const

import simlink

HEAP_DATA = 4
HEAP_EXEC = 1
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

_namespaces = {}  # namespace -> {key: int | bytes}; shared by all handles


def _nvs_path(namespace):
    return simlink.state_path("nvs-%s.bin" % namespace)


def _load(namespace):
    entries = {}
    try:
        with open(_nvs_path(namespace), "rb") as f:
            data = f.read()
    except OSError:
        return entries
    i = 0
    while i < len(data):
        kind = data[i]
        key_len = data[i + 1]
        key = data[i + 2 : i + 2 + key_len].decode()
        i += 2 + key_len
        (size,) = struct.unpack_from("<I", data, i)
        i += 4
        value = data[i : i + size]
        i += size
        entries[key] = struct.unpack("<i", value)[0] if kind == 0x69 else bytes(value)
    return entries


def _check_key(key):
    if not 0 < len(key) <= 15:  # the IDF's NVS_KEY_NAME_MAX_SIZE - 1
        raise OSError(-0x1109)  # ESP_ERR_NVS_KEY_TOO_LONG, negated as OSError


class NVS:
    def __init__(self, namespace):
        if not 0 < len(namespace) <= 15:
            raise OSError(-0x1109)
        self._namespace = namespace
        if namespace not in _namespaces:
            _namespaces[namespace] = _load(namespace)
        self._entries = _namespaces[namespace]

    def set_i32(self, key, value):
        _check_key(key)
        self._entries[key] = int(value)

    def get_i32(self, key):
        value = self._entries.get(key)
        if type(value) is not int:
            raise OSError(errno.ENOENT)
        return value

    def set_blob(self, key, value):
        _check_key(key)
        self._entries[key] = bytes(value)

    def get_blob(self, key, buffer):
        value = self._entries.get(key)
        if type(value) is not bytes:
            raise OSError(errno.ENOENT)
        if len(value) > len(buffer):
            raise OSError(-0x110C)  # ESP_ERR_NVS_INVALID_LENGTH
        buffer[: len(value)] = value
        return len(value)

    def erase_key(self, key):
        if key not in self._entries:
            raise OSError(errno.ENOENT)
        del self._entries[key]

    def commit(self):
        parts = []
        for key, value in self._entries.items():
            raw = struct.pack("<i", value) if type(value) is int else value
            kind = 0x69 if type(value) is int else 0x62  # 'i' or 'b'
            parts.append(bytes((kind, len(key))) + key.encode() + struct.pack("<I", len(raw)) + raw)
        path = _nvs_path(self._namespace)
        with open(path + ".tmp", "wb") as f:
            f.write(b"".join(parts))
        os.rename(path + ".tmp", path)


def idf_heap_info(capabilities):
    # The unix port has no IDF heap; report the MicroPython heap as one region
    # (total, free, largest free, minimum free) so callers see real numbers.
    gc.collect()
    free = gc.mem_free()
    total = free + gc.mem_alloc()
    return [(total, free, free, free)]


# Wake sources for machine.lightsleep(): pins and the level that wakes.
_wake_pins = ()
_wake_level = WAKEUP_ANY_HIGH


def wake_on_gpio(pins, level):
    global _wake_pins, _wake_level
    _wake_pins = tuple(pins or ())
    _wake_level = level


def wake_on_ext0(pin, level):
    wake_on_gpio((pin,) if pin is not None else (), level)


def wake_on_ext1(pins, level):
    wake_on_gpio(pins, level)


def _gpio_wake_armed():
    return bool(_wake_pins)


def _gpio_wake_met():
    if not _wake_pins:
        return False
    levels = [simlink.pins.get(_pin_number(p), 0) for p in _wake_pins]
    if _wake_level == WAKEUP_ANY_HIGH:
        return any(levels)
    return not any(levels)


def _pin_number(pin):
    return pin._id if hasattr(pin, "_id") else int(pin)


# -- flash partitions -------------------------------------------------------
# The 4 MB SPI flash is flash.bin in the state folder (tools/simflash.py
# creates it, erased, with a factory app in ota_0); the partition table is
# partitions.csv beside this file. As on NOR flash, a write can only clear
# bits (new = old AND data) and an erase sets a 4 KB sector back to 0xFF.
# The OTA boot selection (what esp_ota_set_boot_partition keeps in otadata)
# is the file "otaboot" in the state folder, holding the label to boot.

_SECTOR = const(4096)
# The flash model works on pieces this big: what it allocates for a piece
# (the big integers of a program or a checksum) is garbage at once and
# needs no large free block, as the IDF, working in C on the caller's
# buffer, needs none on the chip.
_PIECE = const(256)
_ESP_ERR_INVALID_ARG = const(0x102)
_ESP_ERR_INVALID_SIZE = const(0x104)
_ESP_ERR_OTA_VALIDATE_FAILED = const(0x1503)
_SUBTYPE_ANY = const(0xFF)
_OTA_MIN = const(0x10)
_OTA_MAX = const(0x1F)
_TYPE_NAMES = {"app": 0, "data": 1}
_SUBTYPE_NAMES = {
    "factory": 0x00,
    "test": 0x20,
    "ota": 0x00,
    "phy": 0x01,
    "nvs": 0x02,
    "coredump": 0x03,
    "nvs_keys": 0x04,
    "efuse": 0x05,
    "undefined": 0x06,
    "fat": 0x81,
    "spiffs": 0x82,
    "littlefs": 0x83,
}


def _csv_number(text):
    scale = 1
    if text[-1] in "kK":
        scale, text = 1024, text[:-1]
    elif text[-1] in "mM":
        scale, text = 1024 * 1024, text[:-1]
    return int(text, 0) * scale


def _load_table():
    # Rows (type, subtype, address, size, label) in table order.
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    rows = []
    with open(here + "/partitions.csv") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            label, kind, sub, offset, size = [p.strip() for p in line.split(",")[:5]]
            kind = _TYPE_NAMES[kind] if kind in _TYPE_NAMES else _csv_number(kind)
            if sub.startswith("ota_"):
                sub = _OTA_MIN + int(sub[4:])
            else:
                sub = _SUBTYPE_NAMES[sub] if sub in _SUBTYPE_NAMES else _csv_number(sub)
            rows.append((kind, sub, _csv_number(offset), _csv_number(size), label))
    return rows


_table = _load_table()


def _ota_rows():
    return [r for r in _table if r[0] == 0 and _OTA_MIN <= r[1] <= _OTA_MAX]


def _app_row(label):
    for r in _table:
        if r[0] == 0 and r[4] == label:
            return r
    return None


def _boot_row():
    # What the bootloader would pick: the otadata selection, else factory,
    # else the first OTA slot (a blank otadata).
    try:
        with open(simlink.state_path("otaboot")) as f:
            row = _app_row(f.read().strip())
        if row is not None:
            return row
    except OSError:
        pass
    for r in _table:
        if r[0] == 0 and r[1] == 0:
            return r
    ota = _ota_rows()
    return ota[0] if ota else None


_running_row = _boot_row()  # fixed at process start, like a booted app


def _flash():
    return open(simlink.state_path("flash.bin"), "r+b")


def _esp_error(code):
    return OSError(-code)  # how the port's check_esp_err reports IDF errors


class Partition:
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        if type(id) is int:
            if id == Partition.BOOT:
                row = _boot_row()
            elif id == Partition.RUNNING:
                row = _running_row
            else:
                raise ValueError
        else:
            row = _app_row(id)
            if row is None:
                for r in _table:
                    if r[0] == 1 and r[4] == id:
                        row = r
                        break
        if row is None:
            raise OSError(errno.ENOENT)
        if block_size <= 0:
            raise ValueError
        self._row = row
        self._block_size = block_size

    @staticmethod
    def find(type=TYPE_APP, subtype=_SUBTYPE_ANY, label=None, block_size=4096):
        found = []
        for r in _table:
            if r[0] == type and subtype in (_SUBTYPE_ANY, r[1]) and label in (None, r[4]):
                p = Partition(r[4], block_size)
                p._row = r  # a label could repeat across types: keep this row
                found.append(p)
        return found

    def info(self):
        t, st, addr, size, label = self._row
        return (t, st, addr, size, label, False)

    def __repr__(self):
        t, st, addr, size, label = self._row
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=0>" % (
            t,
            st,
            addr,
            size,
            label,
        )

    def _check(self, offset, length):
        size = self._row[3]
        if offset < 0 or offset > size:
            raise _esp_error(_ESP_ERR_INVALID_ARG)
        if offset + length > size:
            raise _esp_error(_ESP_ERR_INVALID_SIZE)
        return self._row[2] + offset

    def _read(self, offset, buf):
        addr = self._check(offset, len(buf))
        with _flash() as f:
            f.seek(addr)
            f.readinto(buf)

    def _program(self, offset, data):
        # NOR flash: programming only clears bits (a big-integer AND per piece).
        addr = self._check(offset, len(data))
        data = memoryview(data)
        with _flash() as f:
            for start in range(0, len(data), _PIECE):
                chunk = data[start : start + _PIECE]
                n = len(chunk)
                f.seek(addr + start)
                old = f.read(n)
                f.seek(addr + start)
                f.write((int.from_bytes(old, "little") & int.from_bytes(chunk, "little")).to_bytes(n, "little"))

    def _erase(self, offset, length):
        # esp_partition_erase_range: whole sectors only.
        addr = self._check(offset, length)
        if length % _SECTOR:
            raise _esp_error(_ESP_ERR_INVALID_SIZE)
        if offset % _SECTOR:
            raise _esp_error(_ESP_ERR_INVALID_ARG)
        blank = b"\xff" * _PIECE
        with _flash() as f:
            f.seek(addr)
            for _ in range(length // _PIECE):
                f.write(blank)

    def readblocks(self, block_num, buf, offset=0):
        self._read(block_num * self._block_size + offset, buf)

    def writeblocks(self, block_num, buf, offset=None):
        start = block_num * self._block_size
        if offset is not None:
            self._program(start + offset, buf)  # extended form: never erases
        elif self._block_size >= _SECTOR:
            self._erase(start, len(buf))
            self._program(start, buf)
        else:
            # Blocks smaller than a sector: read-modify-write each sector.
            data = memoryview(buf)
            sector = bytearray(_SECTOR)
            done = 0
            while done < len(data):
                pos = start + done
                base = pos - pos % _SECTOR
                n = min(len(data) - done, base + _SECTOR - pos)
                self._read(base, sector)
                sector[pos - base : pos - base + n] = data[done : done + n]
                self._erase(base, _SECTOR)
                self._program(base, sector)
                done += n

    def ioctl(self, op, arg):
        if op in (1, 2, 3):  # init, deinit, sync
            return 0
        if op == 4:  # block count
            return self._row[3] // self._block_size
        if op == 5:  # block size
            return self._block_size
        if op == 6:  # erase one block
            if self._block_size != _SECTOR:
                return -errno.EINVAL
            self._erase(arg * _SECTOR, _SECTOR)
            return 0
        return None

    def set_boot(self):
        # esp_ota_set_boot_partition: only an app partition holding an image
        # that passes the bootloader's checks is accepted.
        if self._row[0] != 0:
            raise _esp_error(_ESP_ERR_INVALID_ARG)
        if not self._image_valid():
            raise _esp_error(_ESP_ERR_OTA_VALIDATE_FAILED)
        path = simlink.state_path("otaboot")
        with open(path + ".tmp", "w") as f:
            f.write(self._row[4])
        os.rename(path + ".tmp", path)

    def get_next_update(self):
        # esp_ota_get_next_update_partition: the OTA slot after this one,
        # else the first OTA slot; none at all is ENOENT.
        ota = _ota_rows()
        if not ota:
            raise OSError(errno.ENOENT)
        for i in range(len(ota) - 1):
            if ota[i] == self._row:
                return Partition(ota[i + 1][4], self._block_size)
        return Partition(ota[0][4], self._block_size)

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        # This bootloader model boots every selected image as valid (there
        # is no pending-verify state), so there is no rollback to cancel:
        # the same answer the IDF gives for an app that is already valid.
        return None

    def _image_valid(self):
        # The bootloader's esp_image_verify: header magic and chip, segments
        # inside the partition, the XOR checksum after the 16-byte aligned
        # padding, and the appended SHA-256 when header byte 23 is 1.
        size = self._row[3]
        head = bytearray(24)
        self._read(0, head)
        if head[0] != 0xE9 or not 0 < head[1] <= 16 or struct.unpack_from("<H", head, 12)[0] != 0:
            return False
        digest = hashlib.sha256(head)
        buf = bytearray(_PIECE)
        view = memoryview(buf)
        fold = 0  # XOR of the segment data, piece upon piece, as a big integer
        pos = 24
        for _ in range(head[1]):
            if pos + 8 > size:
                return False
            self._read(pos, view[:8])
            digest.update(view[:8])
            length = struct.unpack_from("<I", buf, 4)[0]
            pos += 8
            if pos + length > size:
                return False
            while length:
                n = min(length, _PIECE)
                self._read(pos, view[:n])
                digest.update(view[:n])
                fold ^= int.from_bytes(view[:n], "little")
                pos += n
                length -= n
        pad = 16 - pos % 16  # the padding and the checksum byte
        if pos + pad > size:
            return False
        self._read(pos, view[:pad])
        digest.update(view[:pad])
        pos += pad
        checksum = 0xEF
        for byte in fold.to_bytes(_PIECE, "little"):
            checksum ^= byte
        if buf[pad - 1] != checksum:
            return False
        if head[23] == 1:
            if pos + 32 > size:
                return False
            self._read(pos, view[:32])
            return bytes(view[:32]) == digest.digest()
        return True
