"""Build and verify ESP32 app images in the real format (what esptool
elf2image writes and the bootloader checks), for the virtual module's flash.

Layout: a 24-byte image header, segments (8-byte header: load address and
length, then the data), zero padding up to the byte before a 16-byte
boundary, the checksum byte (0xEF XOR every segment data byte) and, when
header byte 23 is 1, the SHA-256 of everything before it. The first segment
starts with the 256-byte esp_app_desc_t that carries the version string.
"""

import hashlib
import struct

IMAGE_MAGIC = 0xE9
DESC_MAGIC = 0xABCD5432
CHECKSUM_SEED = 0xEF
HEADER_SIZE = 24
SEGMENT_HEADER_SIZE = 8
DESC_SIZE = 256
MAX_SEGMENTS = 16
DROM_ADDR = 0x3F400020  # where esptool puts the .flash.appdesc segment
ENTRY_ADDR = 0x40080404
CHIP_ID_ESP32 = 0


def _field(text, size):
    raw = text.encode()
    if len(raw) >= size:
        raise ValueError("%r does not fit in %d bytes" % (text, size))
    return raw.ljust(size, b"\0")


def app_desc(version, project, time="", date="", idf_ver=""):
    """esp_app_desc_t: magic, secure_version, reserved[2], version[32],
    project_name[32], time[16], date[16], idf_ver[32], app_elf_sha256[32],
    then chip revision limits, MMU page size and reserved words (zero)."""
    desc = struct.pack("<II8x", DESC_MAGIC, 0)
    desc += _field(version, 32) + _field(project, 32) + _field(time, 16) + _field(date, 16)
    desc += _field(idf_ver, 32) + bytes(32)
    return desc.ljust(DESC_SIZE, b"\0")


def build(version, project, payload=b"", hash_appended=True):
    """One-segment app image: the app descriptor followed by payload."""
    data = app_desc(version, project) + bytes(payload)
    data += bytes(-len(data) % 4)  # segment lengths are word multiples
    header = struct.pack(
        "<BBBBI" "B3sHBHH4sB",
        IMAGE_MAGIC,
        1,  # segment count
        2,  # SPI mode DIO
        0x20,  # 4 MB flash, 40 MHz
        ENTRY_ADDR,
        0xEE,  # WP pin: not used
        bytes(3),
        CHIP_ID_ESP32,
        0,  # minimum chip revision
        0,
        399,  # maximum chip revision v3.99, IDF's CONFIG_ESP_REV_MAX_FULL
        bytes(4),
        1 if hash_appended else 0,
    )
    image = header + struct.pack("<II", DROM_ADDR, len(data)) + data
    image += bytes(15 - len(image) % 16)
    image += bytes((checksum(data),))
    if hash_appended:
        image += hashlib.sha256(image).digest()
    return image


def checksum(*segments):
    value = CHECKSUM_SEED
    for data in segments:
        for byte in data:
            value ^= byte
    return value


def verify(image):
    """Check an image as the bootloader does; return its version string.
    Raises ValueError naming the first fault. Trailing bytes (the rest of
    the partition) are ignored."""
    if len(image) < HEADER_SIZE or image[0] != IMAGE_MAGIC:
        raise ValueError("no image magic")
    count = image[1]
    if not 0 < count <= MAX_SEGMENTS:
        raise ValueError("bad segment count %d" % count)
    if struct.unpack_from("<H", image, 12)[0] != CHIP_ID_ESP32:
        raise ValueError("not an ESP32 image")
    pos = HEADER_SIZE
    segments = []
    for _ in range(count):
        if pos + SEGMENT_HEADER_SIZE > len(image):
            raise ValueError("segment header past the end")
        _, length = struct.unpack_from("<II", image, pos)
        pos += SEGMENT_HEADER_SIZE
        if pos + length > len(image):
            raise ValueError("segment data past the end")
        segments.append(image[pos : pos + length])
        pos += length
    pos += 15 - pos % 16
    if pos >= len(image) or image[pos] != checksum(*segments):
        raise ValueError("bad checksum")
    pos += 1
    if image[23] == 1:
        if image[pos : pos + 32] != hashlib.sha256(image[:pos]).digest():
            raise ValueError("bad SHA-256")
    desc = segments[0]
    if len(desc) < DESC_SIZE or struct.unpack_from("<I", desc, 0)[0] != DESC_MAGIC:
        raise ValueError("no app descriptor")
    return desc[16:48].split(b"\0", 1)[0].decode()
