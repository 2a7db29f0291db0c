"""The RAM budget (README, "RAM budget"): the firmware runs from .mpy files,
command groups are imported on first use, and the index that stands for them
until then agrees with the groups."""

import os
import re
import shutil
import socket
import time
from pathlib import Path

from host_tests.codes import FAILED, UNSUPPORTED, code
from host_tests.netpeers import TcpPeer
from host_tests.radio import join, start, station_ip
from tools import cmdindex, deploy, ram, sim
from tools.vmodule import VirtualModule


def test_the_index_matches_the_groups_tables():
    """firmware/cmdindex.py is what tools/cmdindex makes of the lazy groups'
    tables: every command they register is in it, and nothing else."""
    assert cmdindex.INDEX.read_text() == cmdindex.index_text(), (
        "firmware/cmdindex.py is out of date: run python -m tools.cmdindex"
    )


def test_lazy_groups_are_named_in_groups_and_registered_on_first_use(state):
    groups, lazy = cmdindex.main_lists()
    assert set(lazy) <= set(groups)
    module = VirtualModule(state, pace=False)
    try:
        module.start()
        module.ok("ATE0")
        listed = module.ok("AT+CMD?")
        _, before = ram.in_use(module)
        ram.load_lazy_groups(module)
        _, after = ram.in_use(module)
        # The groups' own rows took the placeholders' places, unchanged.
        assert module.ok("AT+CMD?") == listed
        assert after > before  # they were not loaded at boot
        names = set(re.findall(rb'\+CMD:\d+,"AT([^"]*)"', listed))
        for group in lazy:
            rows, aliases = cmdindex.group_table(group)
            assert {row[0].encode() for row in rows} <= names, group
    finally:
        module.stop()


def test_firmware_runs_from_mpy_files_by_default(state, monkeypatch):
    for name in ("ATSIM_SOURCE", "ATSIM_HEAPSIZE"):
        monkeypatch.delenv(name, raising=False)  # the defaults themselves
    module = VirtualModule(state, pace=False)
    try:
        module.start()
        cmdline = open("/proc/%d/cmdline" % module.firmware_pid(), "rb").read().split(b"\0")
        heap = cmdline.index(b"heapsize=" + sim.DEFAULT_HEAP.encode())
        assert cmdline[heap - 1] == b"-X", cmdline
        # The tree's entry, run from its root (relative paths keep the
        # modules' file names as short as on the chip).
        assert cmdline[heap + 1 : heap + 3] == [b"-m", b"boards.unix.main"], cmdline
        assert os.readlink("/proc/%d/cwd" % module.firmware_pid()) == str(deploy.MPY_TREE)
    finally:
        module.stop()
    assert (deploy.MPY_TREE / "firmware" / "at.mpy").exists()
    assert not list(deploy.MPY_TREE.rglob("firmware/*.py"))


def test_the_default_heap_leaves_the_firmware_the_chips_budget():
    """The default heap is what the stand-ins hold before the firmware
    starts plus the chip's budget (README, "RAM budget"), to within 1%:
    stand-ins that grow take heap from the firmware, and the default must
    follow them."""
    assert sim.DEFAULT_HEAP.endswith("K")
    heap = int(sim.DEFAULT_HEAP[:-1]) * 1024  # as -X heapsize takes it
    figures = ram.boot(heapsize=sim.DEFAULT_HEAP)
    share = heap - figures["base_bytes"]
    assert sim.FIRMWARE_BUDGET <= share <= sim.FIRMWARE_BUDGET * 1.01, figures


def test_the_heap_left_to_the_firmware_does_not_depend_on_where_the_tree_lies(tmp_path):
    """The same build in a folder with a path 100 characters longer leaves
    the firmware the same free heap after boot: nothing the size of the
    clone's path is held for each module."""
    free = []
    for depth in ("a", "a" * 100):
        tree = tmp_path / depth / "tree"
        deploy.build_mpy(tree)
        module = VirtualModule(tmp_path / ("state" + str(len(free))), pace=False, extra_args=["--build", str(tree)])
        try:
            module.start()
            module.ok("ATE0")
            free.append(module.ok("AT+SYSRAM?"))
        finally:
            module.stop()
    assert free[0].startswith(b"+SYSRAM:") and free[0] == free[1], free


def test_a_build_without_a_lazy_group(tmp_path):
    """A group left out of the build is not listed and its commands are
    unknown; so are those of one that goes missing after boot."""
    tree = tmp_path / "tree"
    deploy.build_mpy(tree)
    (tree / "firmware" / "wifi_noapi.mpy").unlink()
    module = VirtualModule(tmp_path / "state", pace=False, extra_args=["--build", str(tree)])
    try:
        module.start()
        module.ok("ATE0")
        module.ok("AT+SYSLOG=1")
        listed = module.ok("AT+CMD?")
        assert b'"AT+WPS"' not in listed and b'"AT+CWLAP"' in listed and b'"AT+FS"' in listed
        assert module.error_code("AT+WPS=1") == code(UNSUPPORTED)
        (tree / "firmware" / "storage.mpy").unlink()
        assert module.error_code('AT+FS=0,4,"."') == code(UNSUPPORTED)
        assert module.error_code("AT+SYSFLASH?") == code(UNSUPPORTED)
        after = module.ok("AT+CMD?")
        assert b'"AT+FS"' not in after and b'"AT+SYSFLASH"' not in after
        # The rest is as listed, less those rows, renumbered.
        rows = lambda text: re.findall(rb'\+CMD:\d+,("AT[^"]*",\d,\d,\d,\d)', text)  # noqa: E731
        assert rows(after) == [r for r in rows(listed) if not r.startswith((b'"AT+FS', b'"AT+SYSFLASH'))]
        assert module.ok("AT+CWLAP").count(b"+CWLAP:") >= 3  # another lazy group still loads
    finally:
        module.stop()


def test_the_index_tool_refuses_a_lazy_group_without_literal_tables(tmp_path, monkeypatch):
    """It reads the tables without running the group: it must see them."""
    fake = tmp_path / "firmware"
    shutil.copytree(cmdindex.FIRMWARE, fake)
    (fake / "rf.py").write_text(
        "COMMANDS = tuple(make())\n\ndef register(at):\n    at.register(COMMANDS)\n"
    )
    monkeypatch.setattr(cmdindex, "FIRMWARE", fake)
    try:
        cmdindex.index_text()
    except cmdindex.CmdIndexError as e:
        assert "firmware/rf.py" in str(e)
    else:
        raise AssertionError("accepted a table it cannot read")


# One command of each of these groups; together they do not fit in the heap
# after boot, one at a time they do.
GROUP_COMMANDS = (
    ("ota_update", "AT+CIUPDATE?"),
    ("storage", 'AT+FS=0,4,"."'),
    ("ssl", "AT+CIPSSLCCONF?"),
    ("sntp", "AT+CIPSNTPCFG?"),
    ("tcpip_sendl", "AT+CIPSENDLCFG?"),
    ("wifi_scan", "AT+CWLAP"),
    ("tcpip_server", "AT+CIPSTO?"),
    ("passthrough", "AT+TRANSINTVL?"),
    ("sleep", "AT+SLEEP?"),
    ("tcpip_recv", "AT+CIPRECVTYPE?"),
)


def chip_heap_module(state):
    """A started module, echo off, in the chip-sized heap whatever
    ATSIM_HEAPSIZE says."""
    module = VirtualModule(state, pace=False, extra_args=["--heapsize", sim.DEFAULT_HEAP]).start()
    module.ok("ATE0")
    return module


def load_in_turn(module, leaving=()):
    """One command of each group but those left out, one group after the
    other, twice: each needs room the others hold."""
    for _ in range(2):
        for group, command in GROUP_COMMANDS:
            if group not in leaving:
                module.ok(command)


def module_log(state):
    return Path(str(state) + ".log").read_text()


def unloaded(log):
    """The groups a module's log says were let go, in order."""
    return re.findall(r"\[at\] unloaded (\w+)", log)


def test_idle_groups_go_when_the_heap_is_short_and_come_back(tmp_path):
    """In the chip-sized heap, groups imported on first use that sit idle
    are let go when another needs the room; their commands import them
    again, and answer as before."""
    state = tmp_path / "m"
    module = chip_heap_module(state)
    try:
        listed = module.ok("AT+CMD?")
        first = {command: module.ok(command) for _, command in GROUP_COMMANDS}
        for _ in range(2):
            for _, command in GROUP_COMMANDS:
                assert module.ok(command) == first[command], command
        assert module.ok("AT+CMD?") == listed  # placeholders back in the same places
    finally:
        module.stop()
    log = module_log(state)
    assert len(set(unloaded(log))) >= 3, log


def test_a_group_another_one_is_built_on_goes_after_it(tmp_path):
    """AT+CIPSENDL's group is built on AT+CIPSEND's: a session that only
    used the first keeps neither once the heap needs the room (the second
    must not stay behind, imported and never let go)."""
    state = tmp_path / "m"
    module = chip_heap_module(state)
    try:
        module.ok("AT+CIPSENDLCFG?")
        load_in_turn(module, leaving=("tcpip_sendl", "tcpip_send"))
        assert module.ok("AT+CIPSENDLCFG?").startswith(b"+CIPSENDLCFG:1024,2920\r\n")
    finally:
        module.stop()
    log = module_log(state)
    gone = unloaded(log)
    assert "tcpip_sendl" in gone and "tcpip_send" in gone, log


def test_cipsend_in_normal_mode_takes_no_passthrough_code(state):
    """AT+CIPSEND's execute form outside AT+CIPMODE=1 is an error whose
    answer needs none of passthrough's code: that group (6 KB of this heap)
    is not imported for it, to stay behind never registered nor let go."""
    module = VirtualModule(state, pace=False)
    try:
        module.start()
        module.ok("ATE0")
        module.ok("AT+SYSLOG=1")
        module.at("AT+CIPSEND=?")  # the sending group itself, imported
        before = ram.in_use(module)[1]
        assert module.error_code("AT+CIPSEND") == FAILED
        assert ram.in_use(module)[1] - before < 1024
    finally:
        module.stop()


def test_a_link_to_an_address_takes_no_dns_client(tmp_path):
    """The DNS client (a group that stays once in) is imported for the
    first name to look up, not for a link to an address or to localhost
    (lwIP reads those itself): such links leave nothing behind."""
    peer = TcpPeer()
    module = start(tmp_path / "m")
    try:
        join(module, "OpenNet")
        for host in ("127.0.0.1", "localhost"):
            before = ram.in_use(module)[1]
            assert module.ok('AT+CIPSTART="TCP","%s",%d' % (host, peer.port)).startswith(b"CONNECT\r\n")
            assert module.ok("AT+CIPCLOSE").startswith(b"CLOSED\r\n")
            assert ram.in_use(module)[1] - before < 1024, host
    finally:
        module.stop()
        peer.close()


def test_a_group_whose_settings_differ_from_a_fresh_import_stays(tmp_path):
    """Settings held in RAM are never lost to the heap's needs: a group
    whose settings were changed (and not saved) is not let go."""
    state = tmp_path / "m"
    module = chip_heap_module(state)
    try:
        module.ok("AT+SYSSTORE=0")
        module.ok("AT+CIPSTO=77")
        module.ok("AT+TRANSINTVL=55")
        module.ok('AT+CIPSSLCCN=0,"peer.example"')
        module.ok("AT+CIPSENDLCFG=2048,1460")
        # The others, loaded in turn in what is left (not AT+FS: its 4 KB
        # buffer does not fit beside the four groups kept).
        load_in_turn(module, leaving=("storage",))
        assert module.ok("AT+CIPSTO?").startswith(b"+CIPSTO:77\r\n")
        assert module.ok("AT+TRANSINTVL?").startswith(b"+TRANSINTVL:55\r\n")
        assert b'+CIPSSLCCN:0,"peer.example"\r\n' in module.ok("AT+CIPSSLCCN?")
        assert module.ok("AT+CIPSENDLCFG?").startswith(b"+CIPSENDLCFG:2048,1460\r\n")
    finally:
        module.stop()
    log = module_log(state)
    gone = set(unloaded(log))
    assert gone and not gone & {"tcpip_server", "passthrough", "ssl", "tcpip_sendl"}, log


def test_a_data_len_report_mode_keeps_the_passive_group(tmp_path):
    """AT+CIPRECVTYPE's <data_len_report_mode> is held by the passive
    group: set on an active link, it keeps the group in, and still holds
    when the link goes passive."""
    state = tmp_path / "m"
    module = chip_heap_module(state)
    try:
        module.ok("AT+CIPRECVTYPE=0,1")  # active, report mode 1
        load_in_turn(module, leaving=("storage", "tcpip_recv"))
        module.ok("AT+CIPRECVMODE=1")  # the old form leaves report modes alone
        join(module, "OpenNet")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            module.ok('AT+CIPSTART="UDP","127.0.0.1",%d,4409,0' % udp.getsockname()[1])
            ip = station_ip(module)
            udp.sendto(b"first", (ip, 4409))
            udp.sendto(b"second!", (ip, 4409))
            assert module.read_until(b"+IPD,5\r\n", 5).endswith(b"\r\n+IPD,5\r\n")
            time.sleep(0.3)  # the second has come too: the next one's length is told
            assert module.ok("AT+CIPRECVLEN?").startswith(b"+CIPRECVLEN:5,")
    finally:
        module.stop()
    log = module_log(state)
    assert unloaded(log) and "tcpip_recv" not in unloaded(log), log
