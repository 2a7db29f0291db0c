"""The engine's mechanisms and the parameter parser, run directly under the
MicroPython unix port (no pty): see engine_unit.py."""

import subprocess
from pathlib import Path

from tools.sim import default_micropython

HERE = Path(__file__).resolve().parent


def test_engine_mechanisms_under_micropython():
    result = subprocess.run(
        [default_micropython(), str(HERE / "engine_unit.py"), str(HERE.parent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "engine unit checks passed" in result.stdout
