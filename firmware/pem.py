# Certificate and key files as the TLS groups read them (firmware.ssl_link,
# firmware.ota_update): PEM or DER, turned into the DER items that the tls
# module takes.
import binascii


def der_items(data, want_key):
    """The DER items of a PEM or DER file: certificates, or the private key
    (want_key). A DER file is one item."""
    if data.find(b"-----BEGIN ") < 0:
        return [data] if data else []
    items = []
    i = 0
    while True:
        begin = data.find(b"-----BEGIN ", i)
        if begin < 0:
            return items
        label_end = data.find(b"-----", begin + 11)
        if label_end < 0:
            return items
        label = data[begin + 11 : label_end]
        end = data.find(b"-----END ", label_end)
        if end < 0:
            return items
        i = end + 9
        if want_key != label.endswith(b"PRIVATE KEY"):
            continue  # EC PARAMETERS, another kind of item
        if want_key and label.startswith(b"ENCRYPTED"):
            continue  # a key behind a password: no API takes one
        try:
            items.append(binascii.a2b_base64(data[label_end + 5 : end]))
        except ValueError:
            pass
