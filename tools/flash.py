"""Flash the stock MicroPython firmware onto an ESP32 with esptool.

    python -m tools.flash --port /dev/ttyUSB0 [--board NAME] IMAGE.bin

IMAGE is the firmware .bin downloaded from micropython.org for the chip
(ESP32_GENERIC, ESP32_GENERIC_C3, ESP32_GENERIC_S3, ...): one file holding
the bootloader, the partition table and MicroPython, written at the chip's
bootloader offset (0x1000 on the ESP32, 0x0 on the C3 and S3).

Steps, each announced on stdout (esptool draws the progress bars):

1. check the image offline: the ESP image magic, a bootloader image esptool
   can parse with a valid checksum and SHA-256, the partition table at flash
   0x8000 and a valid application image at 0x10000; the chip the image was
   built for comes from its header;
2. connect to the ROM bootloader and detect the chip; refuse if it is not
   the image's chip (or not the chip of --board);
3. erase the whole flash (--no-erase skips it);
4. write the image (compressed; esptool checks the MD5 of what it wrote);
5. verify: the flash's MD5 over the image against the file's, and with
   --read-back the image read back byte for byte;
6. hard-reset the chip into MicroPython.

Nothing is erased until steps 1 and 2 have passed. Errors (no such port, no
bootloader answering, wrong chip, bad image, a failed verify) end with one
line "flash: error: ..." and exit status 2.
"""

import argparse
import hashlib
import os
import struct
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE_MAGIC = 0xE9
PARTITION_TABLE = 0x8000  # flash address of the partition table
APP = 0x10000  # flash address of the (factory) application
PARTITION_MAGIC = b"\xaa\x50"
DEFAULT_BAUD = 460800


class FlashError(Exception):
    """A failure the user can act on; printed as one line."""


def esptool_targets():
    """esptool's chip name -> ROM class (CHIP_NAME, IMAGE_CHIP_ID, ...)."""
    from esptool.targets import CHIP_DEFS

    return dict(CHIP_DEFS)


def chip_for_image_id(chip_id):
    for name, rom in esptool_targets().items():
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id:
            return name
    return None


def board_chip(board_name):
    """The chip of a board file in boards/ (its CHIP, else the ESP32)."""
    from tools.deploy import targets

    table = {name: t for name, t in targets().items() if name != "unix"}
    if board_name not in table:
        raise FlashError("no board %r in boards/ (there are: %s)" % (board_name, ", ".join(table)))
    return table[board_name].chip


def _load(chip, data, what):
    """Parse one ESP image with esptool; check its checksum and digest."""
    from esptool.bin_image import LoadFirmwareImage
    from esptool.util import FatalError

    try:
        image = LoadFirmwareImage(chip, data)
    except (FatalError, struct.error, ValueError, KeyError, RuntimeError) as e:
        raise FlashError("bad image: the %s does not parse (%s)" % (what, e)) from None
    if image.checksum != image.calculate_checksum():
        raise FlashError("bad image: the %s's checksum is wrong (damaged download?)" % what)
    if getattr(image, "append_digest", False) and image.stored_digest != image.calc_digest:
        raise FlashError("bad image: the %s's SHA-256 is wrong (damaged download?)" % what)
    return image


def check_image(data):
    """Check a full firmware image offline; return (chip name, flash offset)."""
    if len(data) < 24 or data[0] != IMAGE_MAGIC:
        raise FlashError(
            "bad image: not an ESP firmware image (it does not start with 0x%02X); "
            "use the .bin file from micropython.org (not a .uf2, .elf or web page)" % IMAGE_MAGIC
        )
    chip_id = struct.unpack_from("<H", data, 12)[0]
    chip = chip_for_image_id(chip_id)
    if chip is None:
        raise FlashError("bad image: unknown chip id %d in its header" % chip_id)
    offset = esptool_targets()[chip].BOOTLOADER_FLASH_OFFSET
    _load(chip, data, "bootloader")
    table = PARTITION_TABLE - offset
    if data[table : table + 2] != PARTITION_MAGIC:
        raise FlashError(
            "bad image: no partition table at 0x%x: this is not a full firmware image "
            "(an application-only .app-bin? use the .bin)" % PARTITION_TABLE
        )
    app = APP - offset
    if len(data) <= app or data[app] != IMAGE_MAGIC:
        raise FlashError("bad image: no application at 0x%x (truncated download?)" % APP)
    image = _load(chip, data[app:], "application")
    if image.chip_id != chip_id:
        raise FlashError("bad image: its bootloader and application are for different chips")
    return chip, offset


def check_port(port):
    if "://" in port:  # pyserial URL (socket://, rfc2217://): checked on connect
        return
    if not os.path.exists(port):
        raise FlashError(
            "no serial port %s: is the board plugged in? (ls /dev/ttyUSB* /dev/ttyACM*)" % port
        )


def step(number, text):
    print("[%d/6] %s" % (number, text), flush=True)


def flash(port, image_path, board=None, baud=DEFAULT_BAUD, erase=True, read_back=False):
    import serial
    from esptool import cmds
    from esptool.util import FatalError

    try:
        data = Path(image_path).read_bytes()
    except OSError as e:
        raise FlashError("cannot read the image %s: %s" % (image_path, e.strerror)) from None
    chip, offset = check_image(data)
    names = esptool_targets()
    step(1, "image %s: %d bytes for %s, goes to 0x%x" % (image_path, len(data), names[chip].CHIP_NAME, offset))
    wanted = board_chip(board) if board else None
    if wanted and wanted != chip:
        raise FlashError(
            "the image is for %s but board %s is %s" % (names[chip].CHIP_NAME, board, names[wanted].CHIP_NAME)
        )

    check_port(port)
    step(2, "connecting to the ROM bootloader on %s" % port)
    try:
        esp = cmds.detect_chip(port, connect_attempts=3)
    except serial.SerialException as e:
        raise FlashError("cannot open %s: %s" % (port, e)) from None
    except (FatalError, OSError) as e:
        raise FlashError(
            "no ESP bootloader answers on %s (%s); hold BOOT while pressing EN/RESET, then try again"
            % (port, str(e).splitlines()[0])
        ) from None
    try:
        found = esp.CHIP_NAME
        if found != names[chip].CHIP_NAME:
            raise FlashError("wrong chip: the board has an %s, the image is for %s" % (found, names[chip].CHIP_NAME))
        print("chip: %s" % found, flush=True)
        try:
            esp = esp.run_stub()
            if baud != esp.ESP_ROM_BAUD:
                esp.change_baud(baud)
            cmds.attach_flash(esp)
            size = cmds.detect_flash_size(esp)
            if size and size.endswith("MB") and offset + len(data) > int(size[:-2]) * 1024 * 1024:
                raise FlashError("the image (%d bytes at 0x%x) does not fit in %s of flash" % (len(data), offset, size))
            if erase:
                step(3, "erasing the flash")
                cmds.erase_flash(esp)
            else:
                step(3, "not erasing (--no-erase)")
            step(4, "writing %d bytes at 0x%x" % (len(data), offset))
            cmds.write_flash(esp, [(offset, data)])
            step(5, "verifying")
            cmds.verify_flash(esp, [(offset, data)])
            if read_back:
                back = cmds.read_flash(esp, offset, len(data))
                if back != data:
                    bad = next(i for i in range(len(data)) if back[i : i + 1] != data[i : i + 1])
                    raise FlashError("read-back differs from the image at flash 0x%x" % (offset + bad))
                print("read back %d bytes: identical (sha256 %s)" % (len(back), hashlib.sha256(back).hexdigest()[:16]))
            step(6, "resetting into MicroPython")
            cmds.reset_chip(esp, "hard-reset")
        except FatalError as e:
            raise FlashError(str(e)) from None
    finally:
        esp._port.close()
    print("done: MicroPython is on the %s; next: python -m tools.deploy --port %s" % (found, port))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.flash", description=__doc__.split("\n\n")[0])
    parser.add_argument("image", help="the MicroPython firmware .bin for the chip")
    parser.add_argument("--port", required=True, help="serial port of the board's USB/UART0 (or a pyserial URL)")
    parser.add_argument("--board", help="board file in boards/ (e.g. esp32_c3_mini_1): also check its chip")
    parser.add_argument("--baud", type=int, default=DEFAULT_BAUD, help="baud rate for writing (default %d)" % DEFAULT_BAUD)
    parser.add_argument("--no-erase", action="store_true", help="do not erase the whole flash first")
    parser.add_argument("--read-back", action="store_true", help="also read the image back and compare every byte")
    args = parser.parse_args(argv)
    try:
        flash(args.port, args.image, args.board, args.baud, not args.no_erase, args.read_back)
    except FlashError as e:
        print("flash: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
