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
# Debian packages the tests use: socat (host_tests/test_deploy.py reaches
# MicroPython's REPL through a pty that socat serves, as mpremote reaches a
# board's); dnsmasq-base and chrony (host_tests/peers.py runs the simulated
# network's DNS and NTP servers on loopback with them); openssl
# (host_tests/certs.py makes the SSL tests' certificates with it).
APT_PACKAGES=(socat dnsmasq-base chrony openssl)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "setup.sh: install ${missing[*]} (Debian: apt-get install ${missing[*]}) for the tests" >&2
    fi
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r requirements.txt
# An existing AT host library for host_tests/test_host_library.py, without its
# CircuitPython hardware dependencies (the test shims busio and digitalio).
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
    adafruit-circuitpython-esp-atcontrol==0.11.7
