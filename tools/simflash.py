"""The virtual module's flash: created on first start of a state folder.

flash.bin is the module's 4 MB SPI flash (erased = 0xFF) laid out by
boards/unix/partitions.csv; "otaboot" names the app partition the
bootloader starts (boards/unix/esp32.py reads and writes both). A new state
folder gets, as from the factory, an image of the current firmware in ota_0,
selected to boot.
"""

import os
import re
from pathlib import Path

from tools import esp_image

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "boards" / "unix" / "partitions.csv"
FLASH_SIZE = 4 * 1024 * 1024
PROJECT = "esp-at-micropython"
FACTORY_SLOT = "ota_0"


def _number(text):
    scale = {"k": 1024, "m": 1024 * 1024}.get(text[-1].lower(), 1)
    return int(text[:-1] if scale > 1 else text, 0) * scale


def partitions():
    """label -> (offset, size), from the board's partition table."""
    table = {}
    for line in TABLE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            label, _, _, offset, size = [p.strip() for p in line.split(",")[:5]]
            table[label] = (_number(offset), _number(size))
    return table


def bin_version():
    text = (REPO / "firmware" / "version.py").read_text()
    return re.search(r'^BIN_VERSION = "([^"]*)"', text, re.M).group(1)


def write_atomically(path, data):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_partition(state, label, data):
    """Write data at the start of a partition of flash.bin, as a flasher
    does (the sectors it covers are erased first)."""
    offset, size = partitions()[label]
    if len(data) > size:
        raise ValueError("%d bytes do not fit in %s" % (len(data), label))
    data = bytes(data) + b"\xff" * (-len(data) % 4096)
    with open(Path(state) / "flash.bin", "r+b") as f:
        f.seek(offset)
        f.write(data)


def prepare(state):
    """Create the simulated flash in the state folder if it is missing."""
    state = Path(state)
    flash = state / "flash.bin"
    if flash.exists():
        return
    content = bytearray(b"\xff" * FLASH_SIZE)
    offset, _ = partitions()[FACTORY_SLOT]
    image = esp_image.build(bin_version(), PROJECT)
    content[offset : offset + len(image)] = image
    write_atomically(flash, content)  # a half-made flash is never left behind
    write_atomically(state / "otaboot", FACTORY_SLOT.encode())
