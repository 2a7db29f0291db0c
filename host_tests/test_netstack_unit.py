"""The unix board's socket stand-in, run directly under the MicroPython unix
port (see netstack_unit.py): connections from the firmware really come from
the station's simulated loopback address, reaching servers on 127.0.0.1."""

import os
import socket
import subprocess
from pathlib import Path

from tools.sim import DEFAULT_WORLD, default_micropython

HERE = Path(__file__).resolve().parent


def test_sockets_come_from_the_station_address(tmp_path):
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(4)
    tcp.settimeout(20)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(20)
    env = dict(os.environ, ATSIM_STATE=str(tmp_path), ATSIM_WORLD=str(DEFAULT_WORLD), ATSIM_AIR=str(tmp_path / "air"))
    proc = subprocess.Popen(
        [default_micropython(), str(HERE / "netstack_unit.py"), str(HERE.parent), str(tcp.getsockname()[1]), str(udp.getsockname()[1])],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        peers = []
        for _ in range(2):
            conn, peer = tcp.accept()
            with conn:
                conn.settimeout(10)
                said = conn.makefile().readline().strip()
            peers.append((peer[0], said))
        data, peer = udp.recvfrom(100)
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        tcp.close()
        udp.close()
    assert proc.returncode == 0, out
    assert "netstack unit checks passed" in out, out
    station = peers[0][1]
    assert station.startswith("127.0.1.")
    assert peers[0] == (station, station)  # the connection came from the station's address
    assert peer[0] == data.decode() == station  # and so did the datagram
    assert peers[1] == ("127.0.0.1", "127.0.0.1")  # bound explicitly: left alone
