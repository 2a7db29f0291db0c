"""The launcher itself: stdio mode and its command line."""

import shutil
import subprocess
import sys
import time

from tools import deploy
from tools.vmodule import REPO


def read_until(stream, marker, timeout=20):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        assert time.monotonic() < deadline, data
        chunk = stream.read1(4096)
        assert chunk, data
        data += chunk
    return data


def test_stdio_mode_talks_at_over_stdin_and_stdout(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.sim", "--stdio", "--state", str(tmp_path / "state")],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert read_until(proc.stdout, b"\r\nready\r\n") == b"\r\nready\r\n"  # nothing else on stdout
        proc.stdin.write(b"AT+GMR\r\n")
        proc.stdin.flush()
        assert read_until(proc.stdout, b"\r\nOK\r\n").startswith(b"AT+GMR\r\nAT version:")
        proc.stdin.close()  # end of input ends the virtual module
        assert proc.wait(20) == 0
        assert b"CONTROL " in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_help_lists_the_options():
    out = subprocess.run([sys.executable, "-m", "tools.sim", "--help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    for option in ("--state", "--world", "--stdio", "--no-pace", "--heapsize"):
        assert option in out.stdout


CRASHING_MAIN = '''
from firmware import uartcfg
from firmware.settings import Settings


def start(board):
    uartcfg.open_uart(board, Settings())  # the UART is open: then boot fails
    raise RuntimeError("boot fails after opening the UART")
'''


def test_a_firmware_that_crashes_before_ready_is_given_up(tmp_path):
    """A firmware that dies at every boot, even after it opened its UART,
    is not restarted forever: the launcher gives up with exit status 1."""
    deploy.build_mpy(deploy.MPY_TREE)
    tree = tmp_path / "tree"
    shutil.copytree(deploy.MPY_TREE, tree)
    (tree / "firmware" / "main.mpy").unlink()
    (tree / "firmware" / "main.py").write_text(CRASHING_MAIN)
    result = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--state", str(tmp_path / "state"), "--build", str(tree), "--no-pace"],
        cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "keeps crashing at boot" in result.stderr
    assert result.stderr.count("boot fails after opening the UART") == 5  # CRASH_LOOP_LIMIT starts
