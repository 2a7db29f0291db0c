# AT+SYSFLASH (user partitions of the flash), AT+FS and AT+FSMOUNT (files in
# the board's FS_ROOT folder, the root directory AT+FS manages). Reads go
# out through one buffer, allocated when the group is loaded (at its first
# command: firmware/main.py, LAZY), a chunk at a time; data after
# '>' goes from the UART buffer straight to flash or file as it arrives, so
# no command ever holds a whole block in RAM. Commands run one at a time, so
# the buffer is never shared by two.
import binascii
import hashlib
import os

import esp32
from micropython import const

from firmware import errors, params

_CHUNK = const(4096)
_SECTOR = const(4096)  # the flash erase unit
_INT32_MAX = const(0x7FFFFFFF)
_LABEL_MAX = const(16)  # esp_partition_t label
_NAME_MAX = const(255)  # LittleFS file name
# System partitions: never listed by AT+SYSFLASH? nor touched by it.
_SYSTEM = ("nvs", "phy_init", "otadata", "vfs", "ffat")

_view = None  # memoryview of the shared buffer, made by register()
_mounted = False


# -- AT+SYSFLASH ------------------------------------------------------------


def _user_partition(label):
    if label in _SYSTEM:
        raise errors.invalid(1)
    found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label=label)
    if not found:
        raise errors.invalid(1)
    return found[0]


def sysflash_query(at):
    for part in esp32.Partition.find(esp32.Partition.TYPE_DATA):
        kind, subtype, addr, size, label, _ = part.info()
        if label not in _SYSTEM:
            at.reply('+SYSFLASH:"%s",%d,%d,0x%x,0x%x' % (label, kind, subtype, addr, size))


def sysflash_set(at, args):
    params.count(args, 2, 4)
    op = params.int_at(args, 0, 0, 2)
    part = _user_partition(params.str_at(args, 1, _LABEL_MAX, shortest=1))
    size = part.info()[3]
    offset = params.int_at(args, 2, 0, _INT32_MAX, None)
    length = params.int_at(args, 3, 1, _INT32_MAX, None)
    if op == 0 and offset is None and length is None:
        offset, length = 0, size  # erase the whole partition
    if offset is None or offset >= size:
        raise errors.invalid(2)
    if length is None or length > size - offset:
        raise errors.invalid(3)
    if op == 0:
        if offset % _SECTOR:
            raise errors.invalid(2)
        if length % _SECTOR:
            raise errors.invalid(3)
        return _flash_erase(part, offset // _SECTOR, length // _SECTOR)
    if op == 1:
        return _flash_write(at, part, offset, length)
    _flash_read(at, part, offset, length)


def _flash_erase(part, first, count):
    # One sector per loop turn: the port keeps answering "busy p..." meanwhile.
    for block in range(first, first + count):
        try:
            part.ioctl(6, block)
        except OSError:
            raise errors.failed()
        yield


def _flash_write(at, part, offset, length):
    state = [offset, False]  # next partition offset, a write failed

    def sink(data):
        # Called from the UART loop: an exception here would end the loop.
        if not state[1]:
            try:
                part.writeblocks(state[0] // _SECTOR, data, state[0] % _SECTOR)
            except OSError:
                state[1] = True
        state[0] += len(data)

    yield from at.receive(length, sink)
    if state[1]:
        raise errors.failed()


def _flash_read(at, part, offset, length):
    at.write(b"+SYSFLASH:%d," % length)
    while length:
        chunk = _view[: min(length, _CHUNK)]
        try:
            part.readblocks(offset // _SECTOR, chunk, offset % _SECTOR)
        except OSError:
            raise errors.failed()
        at.write(chunk)
        offset += len(chunk)
        length -= len(chunk)


# -- AT+FS, AT+FSMOUNT ------------------------------------------------------


def _mount(at):
    # The filesystem itself is MicroPython's, mounted at boot; mounting the
    # AT+FS root means making sure its folder is there.
    global _mounted
    if _mounted:
        return
    try:
        os.stat(at.board.FS_ROOT)
    except OSError:
        try:
            os.mkdir(at.board.FS_ROOT)
        except OSError:
            raise errors.failed()
    _mounted = True


def _path(at, args):
    # Only the root directory exists for AT+FS: no separators, no "." or "..".
    name = params.str_at(args, 2, _NAME_MAX, shortest=1)
    if "/" in name or ".." in name or name == ".":
        raise errors.invalid(2)
    for c in name:
        if c < " ":
            raise errors.invalid(2)
    return at.board.FS_ROOT + "/" + name


def _space(at):
    # (free, total) in bytes: statvfs gives block size, fragment size,
    # block count and free blocks.
    try:
        s = os.statvfs(at.board.FS_ROOT)
    except OSError:
        raise errors.failed()
    return s[1] * s[3], s[1] * s[2]


def _open(path, mode):
    try:
        return open(path, mode)
    except OSError:
        raise errors.failed()


def fs_set(at, args):
    params.count(args, 2, 5)
    params.int_at(args, 0, 0, 1)  # FATFS or LittleFS: both mean the one mounted filesystem
    op = params.int_at(args, 1, 0, 6)
    if op == 6:
        params.count(args, 2, 2)  # takes no file name
        _mount(at)
        at.reply(b"+FS:%d,%d" % _space(at))
        return
    params.count(args, 5 if op in (1, 2) else 3, 5 if op in (1, 2) else 3)
    if op == 4:
        if params.str_at(args, 2, _NAME_MAX) != ".":
            raise errors.invalid(2)  # only the root directory
        _mount(at)
        _list(at)
        return
    path = _path(at, args)
    if op in (1, 2):
        offset = params.int_at(args, 3, 0, _INT32_MAX)
        length = params.int_at(args, 4, 1, _INT32_MAX)
    _mount(at)
    if op == 0:
        try:
            os.remove(path)
        except OSError:
            raise errors.failed()
    elif op == 1:
        return _file_write(at, path, offset, length)
    elif op == 2:
        _file_read(at, path, offset, length)
    elif op == 3:
        at.reply(b"+FS:%d" % _size(path))
    else:
        _md5(at, path)


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        raise errors.failed()


def _list(at):
    at.reply(b"+FS:.")
    at.reply(b"+FS:..")
    try:
        for entry in os.ilistdir(at.board.FS_ROOT):
            at.reply("+FS:" + entry[0])
    except OSError:
        raise errors.failed()


def _file_write(at, path, offset, length):
    if length > _space(at)[0]:
        raise errors.failed()  # would not fit: refuse before the prompt
    try:
        f = open(path, "r+b")  # keeps what is outside the written range
    except OSError:
        f = _open(path, "w+b")
    failed = [False]

    def sink(data):
        # Called from the UART loop: an exception here would end the loop.
        if not failed[0]:
            try:
                failed[0] = f.write(data) != len(data)
            except OSError:
                failed[0] = True

    try:
        try:
            f.seek(offset)  # past the end, the gap reads back as zeros
        except OSError:
            raise errors.failed()
        yield from at.receive(length, sink)
    finally:
        f.close()
    if failed[0]:
        raise errors.failed()


def _file_read(at, path, offset, length):
    size = _size(path)
    left = max(0, min(length, size - offset))  # only what exists
    f = _open(path, "rb")
    try:
        f.seek(offset)
        at.write(b"+FS:%d," % left)
        while left:
            n = f.readinto(_view[: min(left, _CHUNK)])
            if not n:
                raise errors.failed()  # the file shrank under us
            at.write(_view[:n])
            left -= n
    except OSError:
        raise errors.failed()
    finally:
        f.close()


def _md5(at, path):
    md5 = getattr(hashlib, "md5", None)
    if md5 is None:
        raise errors.no_api(1)  # a build without hashlib.md5
    digest = md5()
    f = _open(path, "rb")
    try:
        while True:
            n = f.readinto(_view)
            if not n:
                break
            digest.update(_view[:n])
    except OSError:
        raise errors.failed()
    finally:
        f.close()
    at.reply(b"+FS:" + binascii.hexlify(digest.digest()))


def fsmount_set(at, args):
    global _mounted
    params.count(args, 1, 1)
    if params.int_at(args, 0, 0, 1):
        _mount(at)
    else:
        _mounted = False  # the next AT+FS mounts again, as upstream does


COMMANDS = (
    ("+SYSFLASH", None, sysflash_query, sysflash_set, None),
    ("+FS", None, None, fs_set, None),
    ("+FSMOUNT", None, None, fsmount_set, None),
)


def register(at):
    global _view
    _view = memoryview(bytearray(_CHUNK))
    at.register(COMMANDS)


def unload(at):
    # Nothing of this group outlives a command (_mounted only saves a look
    # at the folder), and its 4 KB buffer goes with it (firmware/at.py, make_room).
    return True
