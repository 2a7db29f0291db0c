"""tools/flash against esp32-mock-bootloader: a ROM bootloader (SLIP) behind a
pty with an in-memory 4 MB flash, that esptool really connects to, uploads
its stub to, erases, writes (compressed), MD5-checks and reads back.

What this proves: the tool drives esptool through detection, erase, write and
verify to a real conversation, puts the image at the chip's offset, erases
what was there before, and refuses (before erasing anything) a wrong chip, a
missing port and bad images. What it cannot prove: timing and flash
behaviour of real silicon, or the USB-serial auto-reset circuit."""

import hashlib
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from esptool.bin_image import ELFSection, ESP32C3FirmwareImage, ESP32FirmwareImage, ESP32S3FirmwareImage
from esptool.targets import CHIP_DEFS

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
IMAGE_CLASSES = {"esp32": ESP32FirmwareImage, "esp32c3": ESP32C3FirmwareImage, "esp32s3": ESP32S3FirmwareImage}
JUNK_AT = 0x300000  # somewhere the image does not reach


# -- images in the real format, made with esptool's own image writer ----------


def esp_image(chip, payload):
    """A one-segment ESP image (header, checksum, SHA-256) for chip."""
    rom = CHIP_DEFS[chip]
    iram = next(start for start, _, kind in rom.MEMORY_MAP if kind == "IRAM")
    image = IMAGE_CLASSES[chip]()
    image.segments = [ELFSection(b".iram0.text", iram, payload, 0)]
    image.entrypoint = iram
    image.max_rev_full = 65535  # any chip revision
    return image.save(None)


def partition_table():
    rows = [(b"nvs", 1, 2, 0x9000, 0x6000), (b"phy_init", 1, 1, 0xF000, 0x1000), (b"factory", 0, 0, 0x10000, 0x1F0000)]
    table = b"".join(struct.pack("<2sBBII16sI", b"\xaa\x50", t, s, o, n, label, 0) for label, t, s, o, n in rows)
    return table + b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(table).digest()


def firmware(chip):
    """What micropython.org ships: bootloader, partition table at 0x8000 and
    the application at 0x10000, as one file for the bootloader's offset."""
    offset = CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET
    data = esp_image(chip, bytes(range(256)) * 8).ljust(0x8000 - offset, b"\xff")
    data = (data + partition_table()).ljust(0x10000 - offset, b"\xff")
    return data + esp_image(chip, os.urandom(24 * 1024))


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


# -- the mock bootloader -------------------------------------------------------


@pytest.fixture
def mock(tmp_path):
    """Start a mock ROM bootloader for a chip; returns its pty's path."""
    procs = []

    def start(chip):
        port_file = tmp_path / ("mock-%s.port" % chip)
        env = dict(os.environ, ESP32_MOCK_BOOTLOADER_STATE_DIR=str(tmp_path / "mock-state"))
        log = open(tmp_path / ("mock-%s.log" % chip), "wb")
        proc = subprocess.Popen(
            [str(BIN / "esp32-mock-bootloader"), "run", "--pty", "--port-file", str(port_file), "--chip", chip],
            stdout=log, stderr=log, env=env,
        )
        procs.append((proc, log))
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            assert proc.poll() is None, "the mock bootloader did not start"
            assert time.monotonic() < deadline, "the mock bootloader did not start"
            time.sleep(0.05)
        return port_file.read_text().strip()

    yield start
    for proc, log in procs:
        proc.terminate()
        proc.wait(10)
        log.close()


def esptool(port, *args):
    """Plain esptool, independent of tools/flash."""
    result = subprocess.run([str(BIN / "esptool"), "--port", port] + list(args), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def read_flash(port, tmp_path, address, size):
    out = tmp_path / "read.bin"
    esptool(port, "read-flash", hex(address), str(size), str(out))
    return out.read_bytes()


def flash_tool(*args):
    return subprocess.run(
        [sys.executable, "-m", "tools.flash"] + list(args), cwd=REPO, capture_output=True, text=True, timeout=120
    )


# -- tests ---------------------------------------------------------------------


def test_flashes_erases_writes_and_verifies_an_esp32(mock, tmp_path):
    port = mock("esp32")
    image = firmware("esp32")
    esptool(port, "write-flash", hex(JUNK_AT), write(tmp_path, "junk.bin", b"\x5a" * 8192))
    assert read_flash(port, tmp_path, JUNK_AT, 16) == b"\x5a" * 16  # the mock keeps what is written

    result = flash_tool("--port", port, "--board", "esp32_wroom_32", write(tmp_path, "fw.bin", image))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for line in ("[1/6]", "for ESP32, goes to 0x1000", "[2/6]", "chip: ESP32", "[3/6] erasing", "[4/6] writing",
                 "[5/6] verifying", "Verification successful", "[6/6] resetting"):
        assert line in out, out
    assert "Writing at 0x" in out and "100.0%" in out  # esptool's progress display

    # Read back with plain esptool, over a new connection.
    assert read_flash(port, tmp_path, 0x1000, len(image)) == image
    assert read_flash(port, tmp_path, 0, 0x1000) == b"\xff" * 0x1000  # nothing below the offset
    assert read_flash(port, tmp_path, JUNK_AT, 8192) == b"\xff" * 8192  # the old contents were erased


@pytest.mark.parametrize("chip,board", [("esp32c3", "esp32_c3_mini_1"), ("esp32s3", "esp32_s3_wroom_1")])
def test_c3_and_s3_images_go_to_0_and_read_back(mock, tmp_path, chip, board):
    port = mock(chip)
    image = firmware(chip)
    result = flash_tool("--port", port, "--board", board, "--read-back", write(tmp_path, "fw.bin", image))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "goes to 0x0" in result.stdout
    assert "read back %d bytes: identical" % len(image) in result.stdout
    assert read_flash(port, tmp_path, 0, len(image)) == image


def test_no_erase_keeps_the_rest_of_the_flash(mock, tmp_path):
    port = mock("esp32")
    esptool(port, "write-flash", hex(JUNK_AT), write(tmp_path, "junk.bin", b"\x5a" * 4096))
    result = flash_tool("--port", port, "--no-erase", write(tmp_path, "fw.bin", firmware("esp32")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[3/6] not erasing" in result.stdout
    assert read_flash(port, tmp_path, JUNK_AT, 4096) == b"\x5a" * 4096


def test_wrong_chip_is_refused_before_anything_is_erased(mock, tmp_path):
    port = mock("esp32")
    esptool(port, "write-flash", hex(JUNK_AT), write(tmp_path, "junk.bin", b"\x5a" * 4096))
    result = flash_tool("--port", port, write(tmp_path, "c3.bin", firmware("esp32c3")))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "flash: error: wrong chip: the board has an ESP32, the image is for ESP32-C3"
    )
    assert "[3/6]" not in result.stdout
    assert read_flash(port, tmp_path, JUNK_AT, 4096) == b"\x5a" * 4096


def test_image_for_another_board_is_refused_without_connecting(tmp_path):
    result = flash_tool("--port", str(tmp_path / "nothing"), "--board", "esp32_c3_mini_1",
                        write(tmp_path, "fw.bin", firmware("esp32")))
    assert result.returncode == 2
    assert "flash: error: the image is for ESP32 but board esp32_c3_mini_1 is ESP32-C3" in result.stderr
    assert "[2/6]" not in result.stdout


def test_missing_port(tmp_path):
    result = flash_tool("--port", "/dev/ttyUSB-not-there", write(tmp_path, "fw.bin", firmware("esp32")))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "flash: error: no serial port /dev/ttyUSB-not-there: is the board plugged in? (ls /dev/ttyUSB* /dev/ttyACM*)"
    )


def test_nothing_answering_on_the_port(tmp_path):
    master, slave = os.openpty()  # a port with nobody behind it
    device = os.ttyname(slave)
    try:
        result = flash_tool("--port", device, write(tmp_path, "fw.bin", firmware("esp32")))
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 2
    assert "flash: error: no ESP bootloader answers on %s" % device in result.stderr, result.stderr
    assert "hold BOOT while pressing EN/RESET" in result.stderr


def _corrupt(data, offset):
    data = bytearray(data)
    data[offset] ^= 0xFF
    return bytes(data)


GOOD = firmware("esp32")
BAD_IMAGES = {
    "not an image": (b"<!DOCTYPE html><html>404</html>", "not an ESP firmware image"),
    "app only": (GOOD[0x10000 - 0x1000 :], "no partition table at 0x8000"),
    "truncated": (GOOD[: 0x10000 - 0x1000 + 5000], "bad image: the application does not parse"),
    "cut before the app": (GOOD[: 0x9000], "no application at 0x10000"),
    "bootloader damaged": (_corrupt(GOOD, 100), "bad image: the bootloader's checksum is wrong"),
    "app damaged": (_corrupt(GOOD, len(GOOD) - 100), "bad image: the application's checksum is wrong"),
}


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
def test_bad_images_are_refused_before_the_port_is_touched(tmp_path, name):
    data, message = BAD_IMAGES[name]
    result = flash_tool("--port", "/dev/ttyUSB-not-there", write(tmp_path, "bad.bin", data))
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "no serial port" not in result.stderr  # the image is judged first
