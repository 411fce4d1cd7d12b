"""check_host_pnic: does a host's physical NIC have its link, and at what speed?

Reads the kernel's view under /sys/class/net/NAME: carrier must be 1, operstate up (or unknown,
which drivers without operstate report), and speed (Mb/s) at least --min-speed when given; an
unknown speed (-1, as virtual NICs report) is fine unless --min-speed asks for one.

States: OK; CRITICAL when the NIC is missing, administratively down, without carrier, its operstate
is down or its speed is below --min-speed; WARNING when operstate is dormant/testing or, with
--min-speed, the speed is unknown.
Perfdata: speed=Mb/s (U when unknown), with --min-speed as the critical range `MIN:`.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "HOST_PNIC"
SYS_CLASS_NET = "/sys/class/net"
UNKNOWN_SPEEDS = (-1, 0, 4294967295, 65535)  # SPEED_UNKNOWN as drivers and kernels report it


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_host_pnic.py", description=__doc__)
    p.add_argument("--device", required=True, type=common.device_name,
                   help="the NIC's name (eth0, ens3f0, bond0 ...)")
    p.add_argument("--min-speed", type=common.positive_int, metavar="MBPS",
                   help="the lowest acceptable link speed in Mb/s")
    return p


def read_attribute(system: common.System, device: str, attribute: str) -> str | None:
    """One /sys/class/net attribute; None when the kernel cannot tell (EINVAL: link down)."""
    try:
        return system.read(f"{SYS_CLASS_NET}/{device}/{attribute}").strip()
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENODATA, errno.EOPNOTSUPP):
            return None
        if exc.errno == errno.ENOENT:
            raise
        common.unknown(f"cannot read {attribute} of {device}: {exc.strerror or exc}")


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    device = args.device
    try:
        operstate = (read_attribute(system, device, "operstate") or "unknown").lower()
        carrier = read_attribute(system, device, "carrier")
        speed = parse_speed(read_attribute(system, device, "speed"))
        duplex = read_attribute(system, device, "duplex")
    except FileNotFoundError:
        common.critical(f"NIC {device} does not exist")
    crit_range = f"{args.min_speed}:" if args.min_speed else ""
    perf = (common.Perf("speed", speed, crit=crit_range, minimum=0),)

    if carrier is None:
        # The kernel refuses to read carrier of a NIC that is administratively down.
        common.critical(f"NIC {device} is down (no carrier, operstate {operstate})", perf)
    if carrier != "1":
        common.critical(f"NIC {device} has no carrier (operstate {operstate})", perf)
    if operstate.upper() in common.DOWN_OPERSTATES:
        common.critical(f"NIC {device} has carrier but operstate {operstate}", perf)
    rate = f"{speed} Mb/s" if speed is not None else "unknown speed"
    if duplex in ("full", "half"):
        rate += f" {duplex} duplex"
    if args.min_speed:
        if speed is None:
            return common.Result(common.WARNING, f"NIC {device} is up, speed unknown "
                                 f"(expected at least {args.min_speed} Mb/s)", perf)
        if speed < args.min_speed:
            common.critical(f"NIC {device} is up at {speed} Mb/s, below {args.min_speed} Mb/s",
                            perf)
    if operstate not in ("up", "unknown"):
        return common.Result(common.WARNING, f"NIC {device} has carrier but operstate "
                             f"{operstate}, {rate}", perf)
    return common.Result(common.OK, f"NIC {device} is up (carrier, operstate {operstate}), "
                         f"{rate}", perf)


def parse_speed(text: str | None) -> int | None:
    try:
        speed = int(text) if text is not None else None
    except ValueError:
        return None
    return None if speed is None or speed in UNKNOWN_SPEEDS or speed < 0 else speed


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
