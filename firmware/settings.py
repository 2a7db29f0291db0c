# Settings in NVS under ESP-AT's rules: a setter writes flash only when
# AT+SYSSTORE=1 (or when the command is "always saved"), and only when the
# value changes. esp32.NVS cannot list its keys, so an index of every key
# ever written is kept beside them: AT+RESTORE erases exactly those.
import esp32
from micropython import const

_NAMESPACE = "at"
_INDEX = "_keys"
_BLOB_MAX = const(256)
_ENOENT = const(2)


class Settings:
    def __init__(self):
        self._nvs = esp32.NVS(_NAMESPACE)
        self._scratch = bytearray(_BLOB_MAX)
        self._keys = self._read_index()
        self.store = self.get_int("sysstore", 1) == 1  # AT+SYSSTORE

    def _read_index(self):
        raw = self.get_bytes(_INDEX)
        return raw.decode().split(",") if raw else []

    def get_int(self, key, default):
        try:
            return self._nvs.get_i32(key)
        except OSError:
            return default

    def get_bytes(self, key, default=None):
        try:
            n = self._nvs.get_blob(key, self._scratch)
        except OSError:
            return default
        return bytes(self._scratch[:n])

    def get_str(self, key, default):
        raw = self.get_bytes(key)
        return default if raw is None else raw.decode()

    def put_int(self, key, value, always=False):
        """Persist an int setting if SYSSTORE allows (or always)."""
        if not (always or self.store) or self.get_int(key, None) == value:
            return
        self._remember(key)
        self._nvs.set_i32(key, value)
        self._nvs.commit()

    def put_bytes(self, key, value, always=False):
        if not (always or self.store) or self.get_bytes(key) == value:
            return
        self._remember(key)
        self._nvs.set_blob(key, value)
        self._nvs.commit()

    def put_str(self, key, value, always=False):
        self.put_bytes(key, value.encode(), always)

    def forget(self, key):
        try:
            self._nvs.erase_key(key)
            self._nvs.commit()
        except OSError:
            pass

    def _remember(self, key):
        if key not in self._keys:
            self._keys.append(key)
            self._nvs.set_blob(_INDEX, ",".join(self._keys).encode())

    def restore(self):
        """AT+RESTORE: erase every setting this firmware has written."""
        for key in self._keys:
            try:
                self._nvs.erase_key(key)
            except OSError as e:
                if e.errno != _ENOENT:
                    raise
        try:
            self._nvs.erase_key(_INDEX)
        except OSError:
            pass
        self._nvs.commit()
        self._keys = []
