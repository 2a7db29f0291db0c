# Runs under the MicroPython unix port (see test_netstack_unit.py) with the
# unix board's stand-ins in front, as the virtual module does: a socket the
# firmware opens is bound to the simulated interface's address, so it comes
# from the station's 127.x.y.z once the station has one, and has no route
# before. Addresses are ("a.b.c.d", port) tuples, as on the ESP32.
# argv: repository, TCP port, UDP port of the test's servers.
import errno
import sys
import time

repo, tcp_port, udp_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, repo + "/boards/unix")

import network  # noqa: E402
import socket  # noqa: E402


def address(port):
    return socket.getaddrinfo("127.0.0.1", port)[0][-1]


assert address(80) == ("127.0.0.1", 80), address(80)

sta = network.WLAN(network.WLAN.IF_STA)
sta.active(True)

s = socket.socket()
try:
    s.connect(address(tcp_port))
    raise AssertionError("connected with no interface up")
except OSError as e:
    assert e.errno == errno.EHOSTUNREACH, e
s.close()

sta.connect("OpenNet", "")
deadline = time.ticks_add(time.ticks_ms(), 5000)
while sta.status() != network.STAT_GOT_IP:
    assert time.ticks_diff(deadline, time.ticks_ms()) > 0, sta.status()
    time.sleep_ms(10)
ip = sta.ifconfig()[0]
assert ip.startswith("127.0.1."), ip

# TCP: the server sees the station's address as the peer.
s = socket.socket()
s.connect(address(tcp_port))
s.write(ip.encode() + b"\n")
s.close()

# UDP: likewise for a datagram.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(ip.encode(), address(udp_port))
u.close()

# An explicit bind is left alone.
s = socket.socket()
s.bind(address(0))
s.connect(address(tcp_port))
s.write(b"127.0.0.1\n")
s.close()

print("netstack unit checks passed")
