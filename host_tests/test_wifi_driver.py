"""An AT host as drivers of the ESP-AT family talk (pyserial on the pty,
echo on at first, 115200 baud): the initialisation commands they send must
not fail, and the default world's APs are joined the way they expect."""

import re
import time

import serial

from tools.vmodule import VirtualModule


def command(port, line, final=(b"OK\r\n", b"ERROR\r\n"), timeout=20):
    """Send a line, read until a final result line; return the whole reply."""
    port.write(line.encode() + b"\r\n")
    reply = b""
    deadline = time.monotonic() + timeout
    while not any(reply.endswith(f) for f in final):
        assert time.monotonic() < deadline, (line, reply)
        reply += port.read(port.in_waiting or 1)
    return reply


def test_driver_initialisation_and_join(tmp_path):
    module = VirtualModule(tmp_path / "m").start()
    port = serial.Serial(module.device, 115200, timeout=0.2)
    try:
        assert command(port, "AT").endswith(b"OK\r\n")
        assert command(port, "ATE0") == b"ATE0\r\n\r\nOK\r\n"
        version = command(port, "AT+GMR")
        assert re.match(rb"AT version:(\d+)\.(\d+)\.(\d+)\.(\d+)\(", version)
        for line in (
            "AT+CWMODE?",
            "AT+CWMODE=1",
            "AT+CWSTATE?",
            "AT+CWCOUNTRY?",
            'AT+CWCOUNTRY=0,"US",1,11',
            "AT+CWRECONNCFG?",
            "AT+CWRECONNCFG=1,0",
            "AT+SYSSTORE=0",
            "AT+CIPSTATUS",
            "AT+CWLAPOPT=1,31",
        ):
            assert command(port, line).endswith(b"\r\nOK\r\n"), line
        listing = command(port, "AT+CWLAP")
        networks = re.findall(rb'\+CWLAP:\((\d+),"([^"]*)",(-?\d+),"([0-9a-f:]{17})",(\d+)\)\r\n', listing)
        assert (b"3", b"HomeWPA2", b"-60", b"02:00:00:00:02:02", b"6") in networks
        # A driver stops reading at WIFI GOT IP; OK follows at once.
        port.write(b'AT+CWJAP="HomeWPA2","correct horse"\r\n')
        reply = b""
        deadline = time.monotonic() + 10
        while b"WIFI GOT IP\r\n" not in reply:
            assert time.monotonic() < deadline, reply
            reply += port.read(port.in_waiting or 1)
        # OK may already have come with the read that completed WIFI GOT IP.
        end = reply.index(b"WIFI GOT IP\r\n") + len(b"WIFI GOT IP\r\n")
        reply, rest = reply[:end], reply[end:]
        assert reply == b"WIFI CONNECTED\r\nWIFI GOT IP\r\n"
        assert rest + port.read(6 - len(rest)) == b"\r\nOK\r\n"
        assert re.search(rb'\+CIFSR:STAIP,"127\.0\.2\.\d+"\r\n', command(port, "AT+CIFSR"))
        assert command(port, "AT+CWJAP?").startswith(b'+CWJAP:"HomeWPA2",')
        assert command(port, "AT+CWSTATE?") == b'+CWSTATE:2,"HomeWPA2"\r\n\r\nOK\r\n'
        # OK, then the message: the station left on the command.
        assert command(port, "AT+CWQAP", final=(b"WIFI DISCONNECT\r\n",)) == b"\r\nOK\r\nWIFI DISCONNECT\r\n"
        assert command(port, "AT+CWJAP?") == b"No AP\r\n\r\nOK\r\n"
        assert command(port, 'AT+CWJAP="HomeWPA2","wrong one"', final=(b"ERROR\r\n",)) == b"+CWJAP:2\r\n\r\nERROR\r\n"
    finally:
        port.close()
        module.stop()
