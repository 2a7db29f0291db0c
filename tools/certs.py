"""Install TLS certificates and keys on a module, as the files the SSL
commands read (README, "Certificates").

    python -m tools.certs (--state DIR | --port PORT [--board NAME | --root PATH])
                          [--pki N] [--client-cert F] [--client-key F]
                          [--ca N] [--client-ca F]
                          [--server-cert F] [--server-key F] [--server-ca F]
                          [--der] [--list] [--remove NAME ...]

--state is a virtual module's state folder (python -m tools.sim --state
DIR): the files go into its filesystem, the folder fs/ there, which is
the module's AT+FS folder; a running module reads them at its next
AT+CIPSTART or client accepted, no restart needed. --port is a board's
REPL (MicroPython's USB/UART0 port, as for tools.deploy): the files go into
the board file's FS_ROOT (/at_fs), or the folder --root names, through
mpremote's raw REPL, as tools.deploy enters it.

The files are taken as PEM or DER and checked first: a certificate file
must hold at least one certificate, a key file an unencrypted private key.
--der stores them as DER (smaller; the firmware converts PEM itself).
Names on the module: client_cert.<pki>, client_key.<pki>, client_ca.<ca>
(AT+CIPSSLCCONF's <pki_number> and <ca_number>, 0 unless given), and
server_cert, server_key, server_ca for AT+CIPSERVER's SSL server.
"""

import argparse
import base64
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BOARDS = REPO / "boards"
PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.S)
NAME = re.compile(r"^(client_(cert|key|ca)\.\d{1,3}|server_(cert|key|ca))$")


class CertError(Exception):
    """A failure the user can act on; printed as one line."""


def items(data):
    """The PEM items of a file as (label, DER bytes); a DER file is one
    item labelled "DER"."""
    found = [(m.group(1).decode(), base64.b64decode(b"".join(m.group(2).split()))) for m in PEM.finditer(data)]
    if found:
        return found
    if data[:1] == b"\x30":  # an ASN.1 SEQUENCE: DER
        return [("DER", data)]
    return []


def check(name, data):
    """Refuse what the firmware would not load; returns the DER form."""
    key = name.split(".")[0].endswith("_key")
    found = items(data)
    if key:
        keys = [der for label, der in found if label.endswith("PRIVATE KEY") or label == "DER"]
        if any(label.startswith("ENCRYPTED") for label, _ in found):
            raise CertError("%s: an encrypted private key: the firmware takes unencrypted keys only" % name)
        if not keys:
            raise CertError("%s: no private key in the file (PEM or DER expected)" % name)
        return keys[0]
    certs = [der for label, der in found if label in ("CERTIFICATE", "DER")]
    if not certs:
        raise CertError("%s: no certificate in the file (PEM or DER expected)" % name)
    return certs[0] if len(certs) == 1 else None


def plan(args):
    """{name on the module: local file} from the command line."""
    files = {}
    pki, ca = args.pki, args.ca
    for option, name in (
        ("client_cert", "client_cert.%d" % pki),
        ("client_key", "client_key.%d" % pki),
        ("client_ca", "client_ca.%d" % ca),
        ("server_cert", "server_cert"),
        ("server_key", "server_key"),
        ("server_ca", "server_ca"),
    ):
        path = getattr(args, option)
        if path is not None:
            files[name] = Path(path)
    return files


def contents(files, der):
    out = {}
    for name, path in files.items():
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CertError("%s: %s" % (path, e.strerror)) from None
        single = check(name, data)
        if der:
            if single is None:  # several certificates: DER holds one per file
                raise CertError("%s: %s holds several certificates: keep it PEM (no --der)" % (name, path))
            data = single
        out[name] = data
    return out


def fs_root(board):
    path = BOARDS / ("%s.py" % board)
    if not path.exists():
        raise CertError("no board file %s" % path)
    m = re.search(r'^FS_ROOT\s*=\s*"([^"]+)"', path.read_text(), re.M)
    if not m:
        raise CertError("%s sets no FS_ROOT" % path)
    return m.group(1)


class StateFolder:
    """A virtual module's filesystem: DIR/fs."""

    def __init__(self, state):
        self.root = Path(state) / "fs"

    def put(self, name, data):
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(self.root / name)  # a reader sees the old file or the new one

    def names(self):
        return sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else []

    def remove(self, name):
        try:
            (self.root / name).unlink()
        except FileNotFoundError:
            raise CertError("no file %s on the module" % name) from None

    def close(self):
        pass


class BoardFolder:
    """FS_ROOT on a board, through mpremote (tools.deploy's connection)."""

    def __init__(self, port, board, root=None):
        from tools import deploy

        self.root = root or fs_root(board)
        try:
            self.board = deploy.Board(port)
        except deploy.DeployError as e:
            raise CertError(str(e)) from None
        self.board.mkdirs([self.root])

    def put(self, name, data):
        self.board.write("%s/%s" % (self.root, name), data)

    def names(self):
        out = self.board.run("import os\ntry:\n print(sorted(os.listdir(%r)))\nexcept OSError:\n print([])" % self.root)
        import ast

        return ast.literal_eval(out.decode().strip())

    def remove(self, name):
        self.board.remove("%s/%s" % (self.root, name))

    def close(self):
        self.board.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.certs", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--state", help="a virtual module's state folder")
    where.add_argument("--port", help="serial port of a board's REPL")
    parser.add_argument("--board", default="esp32_wroom_32", help="with --port: the board file giving FS_ROOT")
    parser.add_argument("--root", help="with --port: the board's AT+FS folder, if not the board file's FS_ROOT")
    parser.add_argument("--pki", type=int, default=0, help="<pki_number> of the client certificate and key (default 0)")
    parser.add_argument("--ca", type=int, default=0, help="<ca_number> of the client's CA file (default 0)")
    for option in ("client-cert", "client-key", "client-ca", "server-cert", "server-key", "server-ca"):
        parser.add_argument("--" + option, metavar="FILE")
    parser.add_argument("--der", action="store_true", help="store DER rather than the files as given")
    parser.add_argument("--list", action="store_true", help="list the module's certificate and key files")
    parser.add_argument("--remove", nargs="+", metavar="NAME", help="remove these files from the module")
    args = parser.parse_args(argv)
    if not 0 <= args.pki <= 255 or not 0 <= args.ca <= 255:
        parser.error("--pki and --ca are 0-255")
    try:
        data = contents(plan(args), args.der)
        for name in args.remove or ():
            if not NAME.match(name):
                raise CertError("%s is not a certificate or key file name" % name)
        if not data and not args.list and not args.remove:
            parser.error("nothing to do: give files, --list or --remove")
        target = StateFolder(args.state) if args.state else BoardFolder(args.port, args.board, args.root)
        try:
            for name in args.remove or ():
                target.remove(name)
                print("removed %s" % name)
            for name, blob in data.items():
                target.put(name, blob)
                print("%s: %d bytes" % (name, len(blob)))
            if args.list:
                for name in target.names():
                    if NAME.match(name):
                        print(name)
        finally:
            target.close()
    except CertError as e:
        print("certs: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
