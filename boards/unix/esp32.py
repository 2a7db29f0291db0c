# Stand-in for the ESP32 port's `esp32` module on the unix port.
# NVS namespaces live in the state folder, one file each; commit() writes a
# new file and renames it over the old one, so a process killed at any
# instant leaves either the old or the new contents, never a damaged store.
import errno
import gc
import os
import struct

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
