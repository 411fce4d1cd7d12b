"""A minimal DHCP client for the lab tests: run inside a VM's namespace, it broadcasts a
DHCPDISCOVER for the VM's MAC and prints the DHCPOFFER it gets (offered address, server, router,
MTU) as JSON. Exits 1 when no offer arrives in time."""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

DHCP_MAGIC = b"\x63\x82\x53\x63"
OPTION_NAMES = {1: "netmask", 3: "router", 26: "mtu", 53: "message_type", 54: "server"}


def discover(mac: str, xid: int) -> bytes:
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
    header = struct.pack("!BBBBIHH4s4s4s4s16s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4,
                         b"\0" * 4, b"\0" * 4, b"\0" * 4, chaddr)
    options = DHCP_MAGIC + bytes([53, 1, 1, 55, 3, 1, 3, 26, 255])
    return header + b"\0" * 192 + options


def parse_offer(packet: bytes, xid: int) -> dict | None:
    if len(packet) < 240 or struct.unpack("!I", packet[4:8])[0] != xid:
        return None
    offer = {"yiaddr": socket.inet_ntoa(packet[16:20])}
    options = packet[240:]
    i = 0
    while i < len(options) and options[i] != 255:
        if options[i] == 0:
            i += 1
            continue
        code, length = options[i], options[i + 1]
        value = options[i + 2:i + 2 + length]
        name = OPTION_NAMES.get(code)
        if name in ("netmask", "router", "server"):
            offer[name] = socket.inet_ntoa(value[:4])
        elif name == "mtu":
            offer[name] = struct.unpack("!H", value)[0]
        elif name == "message_type":
            offer[name] = value[0]
        i += 2 + length
    return offer


def main() -> int:
    interface, mac = sys.argv[1], sys.argv[2]
    xid = struct.unpack("!I", os.urandom(4))[0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
    sock.bind(("0.0.0.0", 68))
    sock.settimeout(2.0)
    for _ in range(3):
        sock.sendto(discover(mac, xid), ("255.255.255.255", 67))
        try:
            while True:
                offer = parse_offer(sock.recv(2048), xid)
                if offer and offer.get("message_type") == 2:
                    print(json.dumps(offer))
                    return 0
        except TimeoutError:
            continue
    return 1


if __name__ == "__main__":
    sys.exit(main())
