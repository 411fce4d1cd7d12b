"""check_vnic: is a virtual NIC (a VM's tap, a qvo/qvb veth end ...) present, up and plugged in?

The device must exist and be up (`ip -j link show dev NAME`). With --bridge, its master must be
that Linux bridge. With --ovs-bridge, it must be a port of that OVS bridge
(`ovs-vsctl --timeout=2 port-to-br NAME`) and, with --tag, carry that VLAN tag
(`ovs-vsctl --timeout=2 get Port NAME tag`). The OVS port checked is the device itself, or with
--ovs-port another device that carries its traffic into OVS: Nova's hybrid plug puts the tap on a
qbr Linux bridge, whose qvb veth's peer qvo is the tagged port of br-int; that qvo must be present
and up too.

States: OK; CRITICAL when the device is missing or down, on another (or no) bridge, not an OVS
port of the bridge, or has another tag; UNKNOWN on a missing tool, malformed output or an OVS
database that does not answer.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "VNIC"


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_vnic.py", description=__doc__)
    p.add_argument("--device", required=True, type=common.device_name,
                   help="the vnic's device name on this host")
    p.add_argument("--bridge", type=common.device_name, metavar="LINUXBRIDGE",
                   help="the Linux bridge the device must be enslaved to")
    p.add_argument("--ovs-bridge", type=common.device_name, metavar="BR",
                   help="the OVS bridge the device must be a port of")
    p.add_argument("--tag", type=int, metavar="N",
                   help="the VLAN tag of the OVS port (needs --ovs-bridge)")
    p.add_argument("--ovs-port", type=common.device_name, metavar="DEV",
                   help="the OVS port carrying the device's traffic, when not the device itself "
                        "(the qvo of a hybrid plug; needs --ovs-bridge)")
    return p


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    device = args.device
    for option, value in (("--tag", args.tag), ("--ovs-port", args.ovs_port)):
        if value is not None and not args.ovs_bridge:
            common.unknown(f"usage: {option} needs --ovs-bridge")
    if args.tag is not None and not 0 <= args.tag <= 4095:
        common.unknown(f"usage: --tag must be a VLAN id 0..4095, not {args.tag}")

    link = up_link(system, device)
    found = [f"{device} is up"]
    if args.bridge:
        master = link.get("master")
        if master != args.bridge:
            where = f"on bridge {master}" if master else "on no bridge"
            common.critical(f"device {device} is {where}, expected on bridge {args.bridge}")
        found.append(f"on bridge {master}")
    if args.ovs_bridge:
        port = args.ovs_port or device
        if port != device:
            up_link(system, port)
            found.append(f"through {port}, up,")
        found.append(check_ovs_port(system, port, args.ovs_bridge, args.tag))
    return common.Result(common.OK, " ".join(found))


def up_link(system: common.System, device: str) -> dict:
    """The device's `ip -j link` entry; CRITICAL when it is missing, down or without carrier."""
    link = common.show_link(system, device, "device")
    if "UP" not in link.get("flags", []):
        common.critical(f"device {device} is administratively down")
    if not common.has_carrier(link):
        common.critical(f"device {device} has no carrier (operstate "
                        f"{link.get('operstate', 'UNKNOWN')})")
    return link


def check_ovs_port(system: common.System, device: str, bridge: str, tag: int | None) -> str:
    port = system.run(["ovs-vsctl", "--timeout=2", "port-to-br", device], common.OVS_TIMEOUT)
    if not port.ok and "no port named" in port.error():
        common.critical(f"device {device} is not a port of any OVS bridge, expected on {bridge}")
    on = common.require(port, "OVS database").stdout.strip()
    if on != bridge:
        common.critical(f"device {device} is a port of OVS bridge {on}, expected {bridge}")
    if tag is None:
        return f"on OVS bridge {bridge}"
    got = common.require(system.run(["ovs-vsctl", "--timeout=2", "get", "Port", device, "tag"],
                                    common.OVS_TIMEOUT), "OVS database").stdout.strip()
    if got == "[]":
        common.critical(f"OVS port {device} on {bridge} has no VLAN tag, expected {tag}")
    if not got.isdigit():
        common.unknown(f"unexpected tag {got!r} of OVS port {device}")
    if int(got) != tag:
        common.critical(f"OVS port {device} on {bridge} has VLAN tag {got}, expected {tag}")
    return f"on OVS bridge {bridge} with tag {tag}"


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
