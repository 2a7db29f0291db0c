# TLS: the SSL client settings (AT+CIPSSLCCONF, AT+CIPSSLCSNI, AT+CIPSSLCCN,
# AT+CIPSSLCALPN, AT+CIPSSLCPSK, AT+CIPSSLCPSKHEX) and the hooks through
# which SSL links are opened (firmware/tcpip.py's ssl_connect) and the SSL
# server's clients accepted (firmware/tcpip_server.py's ssl_accept). The
# TLS work itself is firmware/ssl_link.py, imported at the first SSL link.
#
# Certificates and keys are files in the AT+FS folder (board.FS_ROOT), PEM
# or DER: client_cert.<pki>, client_key.<pki>, client_ca.<ca> for the
# client, server_cert, server_key, server_ca for the server (README,
# "Certificates").
import binascii
import sys

import tls
from micropython import const

from firmware import errors, links, params, tcpip
from firmware.at import forget
from firmware.links import MAX_LINKS

_NAME_MAX = const(64)
_PSK_MAX = const(32)
_ALPN_MAX = const(5)
_INDEX_MAX = const(255)  # pki_number, ca_number

# Per link id, in RAM as ESP-AT keeps them (AT+CIPSSLCCONF also in NVS).
_auth = bytearray(MAX_LINKS)  # auth_mode: bit 0 client certificate, bit 1 verify the server
_pki = bytearray(MAX_LINKS)
_ca = bytearray(MAX_LINKS)
_sni = [""] * MAX_LINKS
_cn = [""] * MAX_LINKS
_psk = [b""] * MAX_LINKS
_hint = [""] * MAX_LINKS
_names = [""] * MAX_LINKS  # the host of each link's AT+CIPSTART (passthrough redials)

tls_links = 2  # TLS links at once (board.TLS_LINKS): mbedTLS buffers are large
_psk_api = None  # whether tls.SSLContext has psk_identity/psk_key (found out once)


# -- the hooks ------------------------------------------------------------------------------


def ssl_connect(at, link_id, sock, host, ctx=None):
    """Generator: firmware/ssl_link.py's connect."""
    # Every idle group goes: the TLS code, its context and the
    # certificates need room, and in one piece.
    at.make_room("ssl", True)
    from firmware import ssl_link

    return (yield from ssl_link.connect(at, link_id, sock, host, ctx))


def ssl_accept(at, sock, ca_enable, peer=None):
    at.make_room("ssl", True)
    from firmware import ssl_link

    return ssl_link.accept(at, sock, ca_enable, peer)


# -- commands: link ids -------------------------------------------------------------------


def _ids(args, least, most, with_id=False):
    """[<link ID>,]...: the link ids a set command applies to (5: all) and
    the index of its next argument. Single connection mode means link 0,
    unless the link id is there anyway (with_id: hosts send
    AT+CIPSSLCSNI=0,"" whatever the mode)."""
    if links.mux or with_id:
        params.count(args, least + 1, most + 1)
        link_id = params.int_at(args, 0, 0, MAX_LINKS)
        return (range(MAX_LINKS) if link_id == MAX_LINKS else (link_id,)), 1
    params.count(args, least, most)
    return (0,), 0


def _leading_int(args):
    return len(args) > 1 and type(args[0]) is int


# -- AT+CIPSSLCCONF ----------------------------------------------------------------------


def cipsslcconf_query(at):
    for i in range(MAX_LINKS):
        at.reply(b"+CIPSSLCCONF:%d,%d,%d,%d" % (i, _auth[i], _pki[i], _ca[i]))


def cipsslcconf_set(at, args):
    ids, i = _ids(args, 1, 3, len(args) == 4)
    auth = params.int_at(args, i, 0, 3)
    pki = params.int_at(args, i + 1, 0, _INDEX_MAX, 0)
    ca = params.int_at(args, i + 2, 0, _INDEX_MAX, 0)
    for k in ids:
        _auth[k] = auth
        _pki[k] = pki
        _ca[k] = ca
    at.settings.put_bytes("sslcconf", bytes(_auth) + bytes(_pki) + bytes(_ca))


def _load_cconf(settings):
    saved = settings.get_bytes("sslcconf")
    if saved and len(saved) == 3 * MAX_LINKS:
        _auth[:] = saved[:MAX_LINKS]
        _pki[:] = saved[MAX_LINKS : 2 * MAX_LINKS]
        _ca[:] = saved[2 * MAX_LINKS :]


# -- AT+CIPSSLCSNI, AT+CIPSSLCCN ----------------------------------------------------------


def cipsslcsni_query(at):
    for i in range(MAX_LINKS):
        at.reply(b'+CIPSSLCSNI:%d,"%s"' % (i, _sni[i]))


def cipsslcsni_set(at, args):
    ids, i = _ids(args, 1, 1, _leading_int(args))
    name = params.str_at(args, i, _NAME_MAX)  # "" clears it
    for k in ids:
        _sni[k] = name


def cipsslccn_query(at):
    for i in range(MAX_LINKS):
        at.reply(b'+CIPSSLCCN:%d,"%s"' % (i, _cn[i]))


def cipsslccn_set(at, args):
    ids, i = _ids(args, 1, 1, _leading_int(args))
    name = params.str_at(args, i, _NAME_MAX)
    for k in ids:
        _cn[k] = name


# -- AT+CIPSSLCALPN -------------------------------------------------------------------------


def cipsslcalpn_query(at):
    for i in range(MAX_LINKS):
        at.reply(b"+CIPSSLCALPN:%d" % i)  # none can be set


def cipsslcalpn_set(at, args):
    ids, i = _ids(args, 1, 1 + _ALPN_MAX, len(args) > 1 and type(args[1]) is int)
    counts = params.int_at(args, i, 0, _ALPN_MAX)
    if len(args) != i + 1 + counts:
        raise errors.ATError(errors.SUB_PARA_COUNT, ((i + 1 + counts) << 8) | len(args))
    for j in range(i + 1, i + 1 + counts):
        params.str_at(args, j, 255, params.REQUIRED, 1)
    if counts:
        raise errors.no_api(i)  # the tls module has no ALPN
    return None  # 0 clears: there is nothing to clear


# -- AT+CIPSSLCPSK, AT+CIPSSLCPSKHEX -----------------------------------------------------------


def has_psk():
    global _psk_api
    if _psk_api is None:
        _psk_api = hasattr(tls.SSLContext(tls.PROTOCOL_TLS_CLIENT), "psk_key")
    return _psk_api


def _psk_query(at, hexed):
    if not has_psk():
        raise errors.no_api()
    for i in range(MAX_LINKS):
        key = binascii.hexlify(_psk[i]) if hexed else _psk[i]
        at.reply(b'+CIPSSLCPSK%s:%d,"%s","%s"' % (b"HEX" if hexed else b"", i, key, _hint[i]))


def _psk_set(at, args, hexed):
    ids, i = _ids(args, 2, 2, _leading_int(args))
    text = params.str_at(args, i, 2 * _PSK_MAX if hexed else _PSK_MAX)
    if hexed:
        if len(text) % 2:
            raise errors.invalid(i)
        try:
            key = binascii.unhexlify(text)
        except ValueError:
            raise errors.invalid(i)
    else:
        key = text.encode()
    hint = params.str_at(args, i + 1, _PSK_MAX)
    if not has_psk():
        raise errors.no_api()
    for k in ids:
        _psk[k] = key
        _hint[k] = hint


def cipsslcpsk_query(at):
    _psk_query(at, False)


def cipsslcpsk_set(at, args):
    _psk_set(at, args, False)


def cipsslcpskhex_query(at):
    _psk_query(at, True)


def cipsslcpskhex_set(at, args):
    _psk_set(at, args, True)


_TABLE = (
    ("+CIPSSLCCONF", None, cipsslcconf_query, cipsslcconf_set, None),
    ("+CIPSSLCCN", None, cipsslccn_query, cipsslccn_set, None),
    ("+CIPSSLCSNI", None, cipsslcsni_query, cipsslcsni_set, None),
    ("+CIPSSLCALPN", None, cipsslcalpn_query, cipsslcalpn_set, None),
    ("+CIPSSLCPSK", None, cipsslcpsk_query, cipsslcpsk_set, None),
    ("+CIPSSLCPSKHEX", None, cipsslcpskhex_query, cipsslcpskhex_set, None),
)
_ALIASES = (("+CIPSSLCONF", "+CIPSSLCCONF"),)


def register(at):
    global tls_links
    tls_links = getattr(at.board, "TLS_LINKS", 2)
    _load_cconf(at.settings)
    tcpip.ssl_connect = ssl_connect
    server = sys.modules.get("firmware.tcpip_server")  # otherwise it looks when imported
    if server is not None:
        server.ssl_accept = ssl_accept
    at.register(_TABLE, _ALIASES)


def unload(at):
    """Whether this group can go, with firmware/ssl_link.py (firmware/at.py,
    make_room): no SSL link, no SSL server, no handshake under way, and the
    settings as a new import would have them (AT+CIPSSLCCONF as saved)."""
    saved = at.settings.get_bytes("sslcconf")
    if not (saved and len(saved) == 3 * MAX_LINKS):
        saved = bytes(3 * MAX_LINKS)
    if bytes(_auth) + bytes(_pki) + bytes(_ca) != saved:
        return False
    for i in range(MAX_LINKS):
        if _sni[i] or _cn[i] or _psk[i] or _hint[i]:
            return False
    for link in links.table:
        if link is not None and link.kind == links.SSL:
            return False
    server = sys.modules.get("firmware.tcpip_server")
    if server is not None and server.serving(links.SSL):
        return False
    work = sys.modules.get("firmware.ssl_link")
    if work is not None:
        if not work.unload(at):
            return False
        forget("firmware.ssl_link")
    tcpip.ssl_connect = None
    if server is not None:
        server.ssl_accept = None
    return True
