"""Certificates made by `openssl` at test time, and TLS peers on loopback
(Python's ssl module in threads) for the SSL tests: a server that records
its handshakes (SNI, failures) and the data of each connection, and a
client for the module's SSL server."""

import os
import socket
import ssl
import subprocess
import threading
from pathlib import Path

from host_tests.netpeers import Conn

_EXTENSIONS = (
    "basicConstraints=critical,CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment,keyAgreement\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
)


def openssl(*args, cwd):
    result = subprocess.run(("openssl",) + args, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, "openssl %s: %s" % (" ".join(args), result.stderr)
    return result.stdout


def _newkey(kind):
    if kind == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    return ["-newkey", "rsa:2048"]


class Pki:
    """A folder of certificates and keys (PEM), made on demand."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._serial = 1

    def path(self, name):
        return self.folder / name

    def ca(self, name, kind="rsa"):
        """A self-signed CA: (name.pem, name.key)."""
        openssl(
            "req", "-x509", *_newkey(kind), "-nodes", "-keyout", name + ".key", "-out", name + ".pem",
            "-days", "30", "-subj", "/CN=%s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.folder,
        )
        return self.path(name + ".pem"), self.path(name + ".key")

    def leaf(self, name, ca, cn, sans=("DNS:localhost", "IP:127.0.0.1"), kind="rsa", days=30):
        """A certificate signed by the CA `ca` (a name given to ca()), for
        server and client use: (name.pem, name.key). days=-1: expired."""
        ext = self.path(name + ".ext")
        text = _EXTENSIONS + ("subjectAltName=%s\n" % ",".join(sans) if sans else "")
        ext.write_text(text)
        openssl("req", *_newkey(kind), "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=%s" % cn, cwd=self.folder)
        self._serial += 1
        openssl(
            "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-set_serial", str(self._serial), "-days", str(days), "-extfile", name + ".ext", "-out", name + ".pem",
            cwd=self.folder,
        )
        return self.path(name + ".pem"), self.path(name + ".key")

    def der(self, name, key=False):
        """The DER form of name.pem (or of name.key with key=True): its path."""
        if key:
            openssl("pkey", "-in", name + ".key", "-outform", "DER", "-out", name + ".key.der", cwd=self.folder)
            return self.path(name + ".key.der")
        openssl("x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der", cwd=self.folder)
        return self.path(name + ".der")

    def traditional_key(self, name):
        """name.key rewritten in the key type's own PEM form ("RSA PRIVATE
        KEY" / "EC PRIVATE KEY") rather than PKCS#8: its path."""
        out = name + ".trad.key"
        openssl("pkey", "-in", name + ".key", "-traditional", "-out", out, cwd=self.folder)
        return self.path(out)


def install(state, files):
    """Put files into a virtual module's AT+FS folder: {name on the module:
    local path or bytes}."""
    fs = Path(state) / "fs"
    fs.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        (fs / name).write_bytes(data)


class TlsPeer:
    """A TLS server on 127.0.0.1: each completed handshake is a Conn (see
    netpeers); the SNI names it was sent and the handshakes that failed are
    recorded."""

    def __init__(self, cert, key, client_ca=None, ciphers=None):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_REQUIRED
            self.context.load_verify_locations(str(client_ca))
        if ciphers:
            self.context.set_ciphers(ciphers)
        self.names = []
        self.failures = []
        self.raw_bytes = 0  # bytes received by connections whose handshake failed
        self.context.sni_callback = lambda sock, name, context: self.names.append(name)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.conns = []
        self._ready = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, peer = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(sock, peer), daemon=True).start()

    def _handshake(self, sock, peer):
        sock.settimeout(15)
        try:
            secure = self.context.wrap_socket(sock, server_side=True)
        except (OSError, ssl.SSLError) as e:
            with self._ready:
                self.failures.append(e)
                self._ready.notify_all()
            sock.close()
            return
        secure.settimeout(None)
        conn = Conn(secure, peer)
        with self._ready:
            self.conns.append(conn)
            self._ready.notify_all()

    def conn(self, index=0, timeout=15):
        with self._ready:
            if not self._ready.wait_for(lambda: len(self.conns) > index, timeout):
                raise AssertionError("no TLS connection %d (failures: %r)" % (index, self.failures))
            return self.conns[index]

    def failure(self, timeout=15):
        """The first failed handshake's error, waiting for it."""
        with self._ready:
            if not self._ready.wait_for(lambda: self.failures, timeout):
                raise AssertionError("no failed handshake")
            return self.failures[0]

    def close(self):
        self.server.close()
        for conn in self.conns:
            conn.close()


def tls_client(port, ca=None, cert=None, key=None, host="127.0.0.1", timeout=15):
    """A Python TLS client of the module's SSL server (hostname not checked:
    the module's address is whatever its station got)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    if ca is None:
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    sock = socket.create_connection((host, port), timeout=timeout)
    return context.wrap_socket(sock)


def available():
    return os.system("openssl version >/dev/null 2>&1") == 0
