"""AT+SYSROLLBACK over the pty: the OTA slots of the virtual module's flash,
with app images in the real ESP32 format (tools/esp_image.py)."""

import os

import pytest

from tools import esp_image, simflash
from tools.vmodule import VirtualModule

NO_FORM = 0x010C0000
FAILED = 0x010A0000
TABLE = simflash.partitions()
OTA_0 = TABLE["ota_0"][0]
OTA_1 = TABLE["ota_1"][0]
FACTORY_VERSION = simflash.bin_version()
OTHER_VERSION = "9.8.7-rollback"


def query(running, running_version, other, other_version):
    return b'+SYSROLLBACK:0x%x,"%s",0x%x,"%s"\r\n\r\nOK\r\n' % (
        running,
        running_version.encode(),
        other,
        other_version.encode(),
    )


def start_quiet(state):
    module = VirtualModule(state).start()
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SYSLOG=1")
    return module


def put_image(module, image):
    """Write an image into ota_1 while the module is off; boot it again."""
    module.stop()
    simflash.write_partition(module.state, "ota_1", image)
    return start_quiet(module.state)


def test_image_builder_makes_images_its_verifier_accepts():
    image = esp_image.build("1.2.3", "esp-at-micropython", b"\r\n\0payload")
    assert len(image) % 16 == 0
    assert esp_image.verify(image + b"\xff" * 100) == "1.2.3"
    for at in (1, 40, len(image) - 33, len(image) - 1):  # count, version, checksum, hash
        bad = bytearray(image)
        bad[at] ^= 0x01
        with pytest.raises(ValueError):
            esp_image.verify(bytes(bad))


def test_sysrollback_forms(quiet):
    assert quiet.error_code("AT+SYSROLLBACK=?") == NO_FORM
    assert quiet.error_code("AT+SYSROLLBACK=1") == NO_FORM


def test_query_shows_the_factory_app_and_an_empty_slot(quiet):
    assert quiet.ok("AT+SYSROLLBACK?") == query(OTA_0, FACTORY_VERSION, OTA_1, "")


def test_rollback_to_an_empty_slot_fails_and_the_module_keeps_running(quiet):
    assert quiet.error_code("AT+SYSROLLBACK") == FAILED
    assert quiet.read_for(1.0) == b""  # no reboot
    assert quiet.ok("AT") == b"\r\nOK\r\n"
    assert quiet.ok("AT+SYSROLLBACK?") == query(OTA_0, FACTORY_VERSION, OTA_1, "")
    assert (quiet.state / "otaboot").read_text() == "ota_0"


def test_rollback_boots_the_other_slot_and_back(quiet):
    image = esp_image.build(OTHER_VERSION, "esp-at-micropython", os.urandom(20_000))
    module = put_image(quiet, image)
    try:
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_0, FACTORY_VERSION, OTA_1, OTHER_VERSION)
        module.write(b"AT+SYSROLLBACK\r\n")
        assert module.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
        module.wait_ready()  # it rebooted
        assert module.at("AT") == b"AT\r\n\r\nOK\r\n"  # echo is on again after the reboot
        module.ok("ATE0")
        module.buffer = b""
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_1, OTHER_VERSION, OTA_0, FACTORY_VERSION)
        # The boot selection is kept in flash: a power cycle boots ota_1 again.
        module.stop()
        module = start_quiet(module.state)
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_1, OTHER_VERSION, OTA_0, FACTORY_VERSION)
        module.write(b"AT+SYSROLLBACK\r\n")
        assert module.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
        module.wait_ready()
        module.ok("ATE0")
        module.buffer = b""
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_0, FACTORY_VERSION, OTA_1, OTHER_VERSION)
    finally:
        module.stop()


def test_rollback_accepts_an_image_without_appended_hash(quiet):
    module = put_image(quiet, esp_image.build("2.0.0", "other", b"abc", hash_appended=False))
    try:
        module.write(b"AT+SYSROLLBACK\r\n")
        assert module.read_until(b"\r\nOK\r\n") == b"\r\nOK\r\n"
        module.wait_ready()
        module.ok("ATE0")
        module.buffer = b""
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_1, "2.0.0", OTA_0, FACTORY_VERSION)
    finally:
        module.stop()


def _corrupt(where):
    hashed = where != "payload_no_hash"
    image = bytearray(esp_image.build(OTHER_VERSION, "esp-at-micropython", b"\x00\r\n" * 3000, hashed))
    at = {
        "payload": 24 + 8 + 256 + 100,  # a byte of segment data: checksum and hash fail
        "payload_no_hash": 24 + 8 + 256 + 100,  # only the checksum can tell
        "checksum": len(image) - 33,
        "hash": len(image) - 1,
        "segment_length": 24 + 7,  # its top byte: the segment runs past the partition
    }[where]
    image[at] ^= 0x40 if where != "segment_length" else 0xFF
    return bytes(image)


@pytest.mark.parametrize("where", ["payload", "payload_no_hash", "checksum", "hash", "segment_length"])
def test_rollback_refuses_a_corrupted_image(quiet, where):
    module = put_image(quiet, _corrupt(where))
    try:
        assert module.error_code("AT+SYSROLLBACK") == FAILED
        assert module.read_for(1.0) == b""  # no reboot
        assert module.ok("AT+SYSROLLBACK?").startswith(b'+SYSROLLBACK:0x%x,"%s",' % (OTA_0, FACTORY_VERSION.encode()))
        assert (module.state / "otaboot").read_text() == "ota_0"
    finally:
        module.stop()


def test_rollback_refuses_a_slot_without_image_magic(quiet):
    image = bytearray(esp_image.build(OTHER_VERSION, "esp-at-micropython"))
    image[0] = 0xE8
    module = put_image(quiet, bytes(image))
    try:
        assert module.ok("AT+SYSROLLBACK?") == query(OTA_0, FACTORY_VERSION, OTA_1, "")
        assert module.error_code("AT+SYSROLLBACK") == FAILED
        assert module.ok("AT") == b"\r\nOK\r\n"
    finally:
        module.stop()
