#!/usr/bin/env bash
# Install what the project needs into .venv. Safe to run again.
#   ./setup.sh && .venv/bin/python -m tools.sim
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv

if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    # Missing, or half made by an earlier failed attempt: (re)create it.
    if ! "$PYTHON" -m venv --clear "$VENV"; then
        # Debian keeps venv's pip bootstrap (ensurepip) in python3-venv.
        if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
            echo "setup.sh: '$PYTHON -m venv' failed: install Debian's python3-venv (as root) and run again" >&2
            exit 1
        fi
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
        "$PYTHON" -m venv --clear "$VENV"
    fi
fi
# socat: host_tests/test_deploy.py reaches MicroPython's REPL through a pty
# that socat serves, as mpremote reaches a board's.
if ! command -v socat >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends socat
    else
        echo "setup.sh: install socat (Debian: apt-get install socat) for host_tests/test_deploy.py" >&2
    fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
