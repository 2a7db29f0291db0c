# AT+SYSROLLBACK: boot the app in the other OTA slot. The version shown for
# a slot is read from the app descriptor (esp_app_desc_t) inside its image.
import esp32
import machine
from micropython import const

from firmware import errors
from firmware.at import DONE

# ESP32 app image: a 24-byte image header (byte 0 the magic, byte 1 the
# segment count), an 8-byte segment header, then the first segment, which
# starts with esp_app_desc_t: magic word, secure_version, reserved[2], then
# the NUL-padded version[32].
_IMAGE_MAGIC = const(0xE9)
_DESC_AT = const(32)
_DESC_MAGIC = b"\x32\x54\xcd\xab"  # 0xABCD5432, little endian
_VERSION_AT = const(48)
_VERSION_END = const(80)

_head = bytearray(_VERSION_END)


def app_version(part):
    """The version string of the app image in part (bytes), or None when
    the partition holds no app image."""
    try:
        part.readblocks(0, _head, 0)
    except OSError:
        return None
    if _head[0] != _IMAGE_MAGIC or _head[1] == 0 or _head[_DESC_AT : _DESC_AT + 4] != _DESC_MAGIC:
        return None
    end = _head.find(b"\0", _VERSION_AT)
    return bytes(_head[_VERSION_AT : end if end >= 0 else _VERSION_END])


def _slots():
    # (running, the slot a rollback boots); no OTA table means no rollback.
    running = esp32.Partition(esp32.Partition.RUNNING)
    try:
        other = running.get_next_update()
    except OSError:
        raise errors.failed()
    return running, other


def sysrollback_query(at):
    running, other = _slots()
    at.reply(
        b'+SYSROLLBACK:0x%x,"%s",0x%x,"%s"'
        % (running.info()[2], app_version(running) or b"", other.info()[2], app_version(other) or b"")
    )


def sysrollback_execute(at):
    running, other = _slots()
    if other.info()[2] == running.info()[2] or app_version(other) is None:
        raise errors.failed()  # nothing to roll back to
    try:
        other.set_boot()  # the IDF verifies the whole image first
    except OSError:
        raise errors.failed()
    at.ok()
    at.flush()
    machine.reset()
    return DONE


COMMANDS = (("+SYSROLLBACK", None, sysrollback_query, None, sysrollback_execute),)


def register(at):
    # (firmware.main confirms the running app to the bootloader at boot.)
    at.register(COMMANDS)


def unload(at):
    # Nothing of this group outlives a command: it can go (firmware/at.py, make_room).
    return True
