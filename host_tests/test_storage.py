"""AT+SYSFLASH, AT+FS and AT+FSMOUNT over the pty, checked against the
flash image and the files of the virtual module's state folder."""

import hashlib
import os
import random
import re

import pytest

from tools import simflash
from tools.vmodule import FINAL, VirtualModule

NO_FORM = 0x010C0000
FAILED = 0x010A0000
PROMPT = b"\r\nOK\r\n\r\n>"
MFG = simflash.partitions()["mfg_nvs"]  # (offset, size) in flash.bin
SECTOR = 4096


def invalid(index):
    return 0x01070000 | index


def count_error(need, given):
    return 0x01060000 | need << 8 | given


def restart(module):
    """Power-cycle on the same state folder; echo off and error codes on."""
    module.stop()
    module = VirtualModule(module.state).start()
    module.ok("ATE0")
    module.buffer = b""
    module.ok("AT+SYSLOG=1")
    return module


def send_block(module, command, data):
    """A command that prompts with '>', then its data; must end in OK."""
    module.write(command.encode() + b"\r\n")
    assert module.read_until(b">") == PROMPT, command
    module.write(data)
    assert module.read_until(FINAL) == b"\r\nOK\r\n", command


def read_block(module, command, tag):
    """+<tag>:<length>,<raw bytes> then OK: returns the raw bytes."""
    module.write(command.encode() + b"\r\n")
    head = module.read_until(re.compile(rb"\+%s:(\d+)," % tag.encode()))
    length = int(re.search(rb":(\d+),$", head).group(1))
    data = module.read_exactly(length)
    assert module.read_exactly(6) == b"\r\nOK\r\n", command
    return data


def binary(size, seed):
    """Random bytes that also hold the sequences a line parser trips on."""
    rng = random.Random(seed)
    data = bytearray(rng.getrandbits(8) for _ in range(size))
    for at in range(0, size - 8, 997):
        data[at : at + 8] = b"\r\nOK\r\n\x00>"
    return bytes(data)


def flash_bytes(state, offset, length):
    with open(state / "flash.bin", "rb") as f:
        f.seek(offset)
        return f.read(length)


# -- AT+SYSFLASH ------------------------------------------------------------


def test_sysflash_query_lists_only_user_partitions(quiet):
    reply = quiet.ok("AT+SYSFLASH?")
    assert reply == b'+SYSFLASH:"mfg_nvs",1,2,0x%x,0x1c000\r\n\r\nOK\r\n' % MFG[0]
    for system in (b"nvs\"", b"otadata", b"phy_init", b"vfs", b"ota_"):
        assert b'"' + system not in reply


def test_sysflash_has_no_test_or_execute_form(quiet):
    assert quiet.error_code("AT+SYSFLASH=?") == NO_FORM
    assert quiet.error_code("AT+SYSFLASH") == NO_FORM


def test_sysflash_erase_write_read_round_trip_with_binary_data(quiet):
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs"')  # the whole partition
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",0,64', "SYSFLASH") == b"\xff" * 64
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",0x1BFF0,16', "SYSFLASH") == b"\xff" * 16
    data = binary(9000, 1)  # more than one 4 KB chunk each way
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",100,%d' % len(data), data)
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",100,%d' % len(data), "SYSFLASH") == data
    # Around the written range the flash is still erased.
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",96,4', "SYSFLASH") == b"\xff" * 4
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",9100,4', "SYSFLASH") == b"\xff" * 4
    # The bytes are in the module's flash, at the partition's address.
    assert flash_bytes(quiet.state, MFG[0] + 100, len(data)) == data


def test_sysflash_write_without_erase_can_only_clear_bits(quiet):
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs",0,4096')
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",10,4', b"\x0f\xf0\x00\xff")
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",10,4', b"\xf3\x3f\xff\x00")
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",10,4', "SYSFLASH") == b"\x03\x30\x00\x00"
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs",0,4096')  # erasing brings the bits back
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",10,4', b"\xf3\x3f\xff\x00")
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",10,4', "SYSFLASH") == b"\xf3\x3f\xff\x00"


def test_sysflash_erases_only_the_sectors_asked(quiet):
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs",0,12288')
    data = binary(3 * SECTOR, 2)
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",0,%d' % len(data), data)
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs",4096,4096')
    assert flash_bytes(quiet.state, MFG[0], 3 * SECTOR) == data[:SECTOR] + b"\xff" * SECTOR + data[2 * SECTOR :]
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",4090,12', "SYSFLASH") == data[4090:4096] + b"\xff" * 6


def test_sysflash_erase_needs_4kb_alignment(quiet):
    assert quiet.error_code('AT+SYSFLASH=0,"mfg_nvs",100,4096') == invalid(2)
    assert quiet.error_code('AT+SYSFLASH=0,"mfg_nvs",0,100') == invalid(3)
    assert quiet.error_code('AT+SYSFLASH=0,"mfg_nvs",4096') == invalid(3)  # offset without length
    assert quiet.error_code('AT+SYSFLASH=0,"mfg_nvs",,4096') == invalid(2)  # length without offset


def test_sysflash_range_checks(quiet):
    size = MFG[1]
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",%d,1' % size) == invalid(2)
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",%d,2' % (size - 1)) == invalid(3)
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",0,%d' % (size + 1)) == invalid(3)
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",-1,1') == invalid(2)
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",0,0') == invalid(3)
    assert quiet.error_code('AT+SYSFLASH=0,"mfg_nvs",%d,8192' % (size - SECTOR)) == invalid(3)
    # A write that does not fit is refused before any prompt.
    assert quiet.at('AT+SYSFLASH=1,"mfg_nvs",%d,2' % (size - 1)) == b"ERR CODE:0x%08x\r\n\r\nERROR\r\n" % invalid(3)
    assert quiet.error_code('AT+SYSFLASH=1,"mfg_nvs",0') == invalid(3)
    # The last byte is in range.
    assert read_block(quiet, 'AT+SYSFLASH=2,"mfg_nvs",%d,1' % (size - 1), "SYSFLASH") == flash_bytes(
        quiet.state, MFG[0] + size - 1, 1
    )


@pytest.mark.parametrize("label", ["nvs", "otadata", "phy_init", "vfs", "ota_0", "ota_1", "nope", ""])
def test_sysflash_refuses_system_and_unknown_partitions(quiet, label):
    code = 0x01040001 if label == "" else invalid(1)
    assert quiet.error_code('AT+SYSFLASH=2,"%s",0,16' % label) == code
    assert quiet.error_code('AT+SYSFLASH=0,"%s"' % label) == code


def test_sysflash_parameter_errors(quiet):
    assert quiet.error_code('AT+SYSFLASH=3,"mfg_nvs",0,16') == invalid(0)
    assert quiet.error_code("AT+SYSFLASH=2") == count_error(2, 1)
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs",0,16,1') == count_error(4, 5)
    assert quiet.error_code("AT+SYSFLASH=2,5,0,16") == 0x01050001  # the name must be a string
    assert quiet.error_code('AT+SYSFLASH=2,"mfg_nvs","0",16') == 0x01050002
    assert quiet.ok("AT") == b"\r\nOK\r\n"


def test_sysflash_data_survives_a_restart(quiet):
    quiet.ok('AT+SYSFLASH=0,"mfg_nvs",0,8192')
    data = binary(5000, 3)
    send_block(quiet, 'AT+SYSFLASH=1,"mfg_nvs",0,%d' % len(data), data)
    module = restart(quiet)
    try:
        assert read_block(module, 'AT+SYSFLASH=2,"mfg_nvs",0,%d' % len(data), "SYSFLASH") == data
    finally:
        module.stop()


# -- AT+FS ------------------------------------------------------------------


def fs_dir(module):
    return module.state / "fs"


def test_fs_and_fsmount_have_only_the_set_form(quiet):
    for command in ("AT+FS?", "AT+FS=?", "AT+FS", "AT+FSMOUNT?", "AT+FSMOUNT=?", "AT+FSMOUNT"):
        assert quiet.error_code(command) == NO_FORM, command


def test_fs_write_read_round_trip_with_binary_data(quiet):
    data = binary(6000, 4)
    send_block(quiet, 'AT+FS=1,1,"blob.bin",0,%d' % len(data), data)
    assert (fs_dir(quiet) / "blob.bin").read_bytes() == data
    # FATFS (0) and LittleFS (1) both name the one filesystem.
    assert read_block(quiet, 'AT+FS=0,2,"blob.bin",0,%d' % len(data), "FS") == data
    assert read_block(quiet, 'AT+FS=1,2,"blob.bin",1000,10', "FS") == data[1000:1010]
    assert quiet.ok('AT+FS=0,3,"blob.bin"') == b"+FS:6000\r\n\r\nOK\r\n"


def test_fs_write_at_an_offset_keeps_the_rest_and_fills_gaps_with_zeros(quiet):
    send_block(quiet, 'AT+FS=0,1,"f.txt",0,10', b"0123456789")
    send_block(quiet, 'AT+FS=0,1,"f.txt",3,2', b"ab")
    assert read_block(quiet, 'AT+FS=0,2,"f.txt",0,10', "FS") == b"012ab56789"
    send_block(quiet, 'AT+FS=0,1,"f.txt",14,2', b"\r\n")
    assert (fs_dir(quiet) / "f.txt").read_bytes() == b"012ab56789\0\0\0\0\r\n"
    assert quiet.ok('AT+FS=0,3,"f.txt"') == b"+FS:16\r\n\r\nOK\r\n"
    send_block(quiet, 'AT+FS=0,1,"new.txt",5,1', b"x")  # a new file, written at 5
    assert (fs_dir(quiet) / "new.txt").read_bytes() == b"\0\0\0\0\0x"


def test_fs_read_past_the_end_returns_only_what_exists(quiet):
    send_block(quiet, 'AT+FS=0,1,"short",0,10', b"abcdefghij")
    assert read_block(quiet, 'AT+FS=0,2,"short",3,100', "FS") == b"defghij"
    assert read_block(quiet, 'AT+FS=0,2,"short",10,5', "FS") == b""
    assert read_block(quiet, 'AT+FS=0,2,"short",500,5', "FS") == b""


def test_fs_missing_files(quiet):
    for op in (0, 3, 5):
        assert quiet.error_code('AT+FS=0,%d,"missing"' % op) == FAILED
    assert quiet.error_code('AT+FS=0,2,"missing",0,10') == FAILED
    assert not (fs_dir(quiet) / "missing").exists()


def test_fs_delete(quiet):
    send_block(quiet, 'AT+FS=0,1,"gone",0,3', b"abc")
    assert (fs_dir(quiet) / "gone").exists()
    quiet.ok('AT+FS=0,0,"gone"')
    assert not (fs_dir(quiet) / "gone").exists()
    assert quiet.error_code('AT+FS=0,3,"gone"') == FAILED
    assert quiet.error_code('AT+FS=0,0,"gone"') == FAILED


def test_fs_list_root(quiet):
    assert quiet.ok('AT+FS=0,4,"."') == b"+FS:.\r\n+FS:..\r\n\r\nOK\r\n"
    for name in ("one", "two.txt", "3"):
        send_block(quiet, 'AT+FS=1,1,"%s",0,1' % name, b"x")
    lines = quiet.ok('AT+FS=1,4,"."').split(b"\r\n")
    assert lines[:2] == [b"+FS:.", b"+FS:.."]
    assert lines[-3:] == [b"", b"OK", b""]
    assert sorted(lines[2:-3]) == [b"+FS:3", b"+FS:one", b"+FS:two.txt"]
    assert quiet.error_code('AT+FS=0,4,"sub"') == invalid(2)  # only the root directory
    assert quiet.error_code('AT+FS=0,4,"/"') == invalid(2)


def test_fs_md5_matches_hashlib(quiet):
    data = binary(3000, 5)
    send_block(quiet, 'AT+FS=0,1,"m",0,%d' % len(data), data)
    assert quiet.ok('AT+FS=0,5,"m"') == b"+FS:%s\r\n\r\nOK\r\n" % hashlib.md5(data).hexdigest().encode()
    # A file larger than the module's buffer (put there from the host side).
    big = os.urandom(50_000)
    (fs_dir(quiet) / "big").write_bytes(big)
    assert quiet.ok('AT+FS=1,5,"big"') == b"+FS:%s\r\n\r\nOK\r\n" % hashlib.md5(big).hexdigest().encode()
    assert quiet.ok('AT+FS=1,3,"big"') == b"+FS:50000\r\n\r\nOK\r\n"
    (fs_dir(quiet) / "empty").write_bytes(b"")
    assert quiet.ok('AT+FS=1,5,"empty"') == b"+FS:d41d8cd98f00b204e9800998ecf8427e\r\n\r\nOK\r\n"


def test_fs_free_and_total_space(quiet):
    m = re.fullmatch(rb"\+FS:(\d+),(\d+)\r\n\r\nOK\r\n", quiet.ok("AT+FS=1,6"))
    assert m, m
    free, total = int(m.group(1)), int(m.group(2))
    host = os.statvfs(fs_dir(quiet))
    assert total == host.f_frsize * host.f_blocks
    assert 0 < free <= total
    assert abs(free - host.f_frsize * host.f_bfree) < 256 * 1024 * 1024
    assert quiet.error_code('AT+FS=1,6,"x"') == count_error(2, 3)  # no file name


@pytest.mark.parametrize("name", ["a/b", "/abs", "../up", "..", ".", "x..y", "sub/", "a\tb"])
def test_fs_refuses_names_outside_the_root(quiet, name):
    assert quiet.error_code('AT+FS=0,3,"%s"' % name) == invalid(2)
    assert quiet.error_code('AT+FS=0,0,"%s"' % name) == invalid(2)
    assert quiet.error_code('AT+FS=0,2,"%s",0,1' % name) == invalid(2)
    # No prompt: the write is refused before any data is taken.
    assert quiet.at('AT+FS=0,1,"%s",0,1' % name) == b"ERR CODE:0x%08x\r\n\r\nERROR\r\n" % invalid(2)
    assert quiet.ok("AT") == b"\r\nOK\r\n"
    assert not (quiet.state / "up").exists()


def test_fs_parameter_errors(quiet):
    assert quiet.error_code('AT+FS=0,3,""') == 0x01040002  # an empty name
    assert quiet.error_code('AT+FS=2,3,"a"') == invalid(0)
    assert quiet.error_code('AT+FS=0,7,"a"') == invalid(1)
    assert quiet.error_code("AT+FS=0") == count_error(2, 1)
    assert quiet.error_code('AT+FS=0,2,"a"') == count_error(5, 3)
    assert quiet.error_code('AT+FS=0,3,"a",0,1') == count_error(3, 5)
    assert quiet.error_code('AT+FS=0,2,"a",0,0') == invalid(4)
    assert quiet.error_code('AT+FS=0,1,"a",-1,4') == invalid(3)
    assert quiet.error_code("AT+FS=0,3,5") == 0x01050002


def test_fsmount(quiet):
    quiet.ok("AT+FSMOUNT=1")
    assert fs_dir(quiet).is_dir()
    quiet.ok("AT+FSMOUNT=0")
    # AT+FS mounts the filesystem by itself (upstream's FS_AT_Commands notes).
    send_block(quiet, 'AT+FS=0,1,"after",0,2', b"ok")
    assert quiet.ok('AT+FS=0,3,"after"') == b"+FS:2\r\n\r\nOK\r\n"
    quiet.ok("AT+FSMOUNT=0")
    quiet.ok("AT+FSMOUNT=1")
    assert quiet.ok('AT+FS=0,3,"after"') == b"+FS:2\r\n\r\nOK\r\n"
    assert quiet.error_code("AT+FSMOUNT=2") == invalid(0)
    assert quiet.error_code("AT+FSMOUNT=1,1") == count_error(1, 2)


def test_fs_files_survive_a_restart(quiet):
    data = binary(2000, 6)
    send_block(quiet, 'AT+FS=1,1,"keep",0,%d' % len(data), data)
    module = restart(quiet)
    try:
        assert read_block(module, 'AT+FS=1,2,"keep",0,%d' % len(data), "FS") == data
        assert b"+FS:keep\r\n" in module.ok('AT+FS=1,4,"."')
    finally:
        module.stop()
