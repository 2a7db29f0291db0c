"""The launcher itself: stdio mode and its command line."""

import subprocess
import sys
import time

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
