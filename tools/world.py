"""Change a virtual module's simulated radio world while it runs.

    python -m tools.world FILE init                  copy the default world to FILE
    python -m tools.world FILE show
    python -m tools.world FILE add SSID [--password P] [--security S] [--channel N]
                                        [--rssi DBM] [--bssid MAC] [--hidden] [--subnet NET]
    python -m tools.world FILE remove SSID|BSSID     the AP is switched off
    python -m tools.world FILE set SSID|BSSID KEY=VALUE ...
                                        password, security, channel, rssi, hidden, bssid, subnet
    python -m tools.world FILE ethernet up|down      plug or unplug the Ethernet cable
    python -m tools.world FILE timing KEY=MS ...     simulated delays (see README)

FILE is the world file a virtual module was started with (``python -m
tools.sim --world FILE``). Every change is written atomically (a new file
renamed over the old one), and running modules pick it up within 0.1 s: an
AP that is removed or moves out of range (rssi below -95) is lost after the
beacon timeout, one whose password or security changes deauthenticates its
stations at once.
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "boards" / "unix" / "world.json"
SECURITY = (
    "open",
    "wep",
    "wpa_psk",
    "wpa2_psk",
    "wpa_wpa2_psk",
    "wpa2_enterprise",
    "wpa3_psk",
    "wpa2_wpa3_psk",
    "wapi_psk",
    "owe",
)
TIMING = ("probe_ms", "assoc_ms", "handshake_timeout_ms", "dhcp_ms", "scan_ms", "beacon_timeout_ms", "link_ms")


def load(path):
    return json.loads(Path(path).read_text())


def save(path, world):
    """Write atomically: a module never reads half a file."""
    path = Path(path)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    tmp.write_text(json.dumps(world, indent=2) + "\n")
    os.replace(tmp, path)


def find(world, name):
    """The AP whose SSID or BSSID is `name`."""
    for ap in world.get("access_points", []):
        if ap["ssid"] == name or ap.get("bssid", "").lower() == name.lower():
            return ap
    raise KeyError("no access point %r" % name)


def _free_subnet(world):
    used = {ap.get("subnet") for ap in world.get("access_points", [])}
    used.add((world.get("ethernet") or {}).get("subnet"))
    for n in range(1, 255):
        subnet = "127.0.%d.0/24" % n
        if subnet not in used:
            return subnet
    raise ValueError("no free 127.0.n.0/24 subnet")


def _free_bssid(world):
    used = {ap.get("bssid", "").lower() for ap in world.get("access_points", [])}
    for n in range(1, 1 << 16):
        bssid = "02:00:00:10:%02x:%02x" % (n >> 8, n & 255)
        if bssid not in used:
            return bssid
    raise ValueError("no free BSSID")


def _value(key, text):
    if key in ("channel", "rssi"):
        return int(text)
    if key == "hidden":
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError("hidden is true or false")
        return text.lower() in ("true", "1")
    if key == "security" and text not in SECURITY:
        raise ValueError("security is one of " + ", ".join(SECURITY))
    if key not in ("password", "security", "bssid", "subnet", "ssid"):
        raise ValueError("unknown key %r" % key)
    return text


def add(world, ssid, password="", security=None, channel=1, rssi=-50, bssid=None, hidden=False, subnet=None):
    if any(ap["ssid"] == ssid and (bssid is None or ap["bssid"] == bssid) for ap in world.get("access_points", [])):
        raise ValueError("%r is already there" % ssid)
    ap = {
        "ssid": ssid,
        "security": security or ("wpa2_psk" if password else "open"),
        "password": password,
        "channel": channel,
        "rssi": rssi,
        "bssid": bssid or _free_bssid(world),
        "hidden": hidden,
        "subnet": subnet or _free_subnet(world),
    }
    world.setdefault("access_points", []).append(ap)
    return ap


def remove(world, name):
    world["access_points"].remove(find(world, name))


def update(world, name, assignments):
    ap = find(world, name)
    for item in assignments:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError("expected KEY=VALUE, got %r" % item)
        ap[key] = _value(key, text)
    return ap


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.world", description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init")
    sub.add_parser("show")
    p = sub.add_parser("add")
    p.add_argument("ssid")
    p.add_argument("--password", default="")
    p.add_argument("--security", choices=SECURITY)
    p.add_argument("--channel", type=int, default=1)
    p.add_argument("--rssi", type=int, default=-50)
    p.add_argument("--bssid")
    p.add_argument("--hidden", action="store_true")
    p.add_argument("--subnet")
    p = sub.add_parser("remove")
    p.add_argument("name")
    p = sub.add_parser("set")
    p.add_argument("name")
    p.add_argument("assignments", nargs="+")
    p = sub.add_parser("ethernet")
    p.add_argument("state", choices=("up", "down"))
    p.add_argument("--subnet")
    p = sub.add_parser("timing")
    p.add_argument("assignments", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "init":
        shutil.copyfile(DEFAULT, args.file)
        return 0
    world = load(args.file)
    try:
        if args.command == "show":
            print(json.dumps(world, indent=2))
            return 0
        if args.command == "add":
            add(world, args.ssid, args.password, args.security, args.channel, args.rssi, args.bssid, args.hidden,
                args.subnet)
        elif args.command == "remove":
            remove(world, args.name)
        elif args.command == "set":
            update(world, args.name, args.assignments)
        elif args.command == "ethernet":
            eth = world.setdefault("ethernet", {"subnet": "127.0.9.0/24"})
            eth["link"] = args.state == "up"
            if args.subnet:
                eth["subnet"] = args.subnet
        elif args.command == "timing":
            timing = world.setdefault("timing", {})
            for item in args.assignments:
                key, sep, text = item.partition("=")
                if not sep or key not in TIMING:
                    raise ValueError("timing keys: " + ", ".join(TIMING))
                timing[key] = int(text)
    except (KeyError, ValueError) as e:
        print("tools.world: %s" % (e.args[0] if e.args else e), file=sys.stderr)
        return 2
    save(args.file, world)
    return 0


if __name__ == "__main__":
    sys.exit(main())
