"""check_vconnector: is a Linux bridge (vconnector: qbr, brq ...) there, up, with its members?

The bridge must exist and be a Linux bridge (`ip -j -d link show dev NAME`), be up
(administratively and with carrier), and every expected --member must be enslaved to it
(`ip -j link show master NAME`).

States: OK; CRITICAL when the bridge is missing, not a bridge, down, or an expected member is not
enslaved to it; WARNING when an expected member is enslaved but down; UNKNOWN on a missing tool or
malformed output.
Perfdata: members=N (every device enslaved to the bridge).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "VCONNECTOR"


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_vconnector.py", description=__doc__)
    p.add_argument("--bridge", required=True, type=common.device_name,
                   help="the Linux bridge's name")
    p.add_argument("--member", action="append", default=[], type=common.device_name,
                   metavar="DEV", help="a device that must be enslaved to the bridge (repeat)")
    return p


def link_state(link: dict) -> str | None:
    """Why a link is not up, or None if it is."""
    if "UP" not in link.get("flags", []):
        return "administratively down"
    if not common.has_carrier(link):
        return f"without carrier (operstate {link.get('operstate', 'UNKNOWN')})"
    return None


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    bridge = args.bridge
    link = common.show_link(system, bridge, "bridge", details=True)
    kind = (link.get("linkinfo") or {}).get("info_kind")
    if kind != "bridge":
        what = f"a {kind} device" if kind else "a device of no particular kind"
        common.critical(f"{bridge} is {what}, not a Linux bridge")

    listed = common.require(system.run(["ip", "-j", "link", "show", "master", bridge]))
    members = common.parse_json(listed)
    if not isinstance(members, list):
        common.unknown(f"unexpected output of `ip -j link show master {bridge}`")
    by_name = {m.get("ifname"): m for m in members if isinstance(m, dict)}
    perf = (common.Perf("members", len(by_name), minimum=0),)

    problem = link_state(link)
    if problem:
        common.critical(f"bridge {bridge} is {problem}", perf)
    missing = [m for m in args.member if m not in by_name]
    if missing:
        has = ", ".join(sorted(by_name)) or "none"
        common.critical(f"bridge {bridge} lacks {'members' if len(missing) > 1 else 'member'} "
                        f"{', '.join(missing)} (has {has})", perf)
    down = [f"{m} is {link_state(by_name[m])}" for m in args.member if link_state(by_name[m])]
    if down:
        return common.Result(common.WARNING, f"bridge {bridge} is up but {'; '.join(down)}",
                             perf)
    expected = f" (all {len(args.member)} expected present)" if args.member else ""
    return common.Result(common.OK, f"bridge {bridge} is up with "
                         f"{common.plural(len(by_name), 'member')}{expected}", perf)


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
