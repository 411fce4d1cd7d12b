"""check_vedge: does the host's virtual switch (vedge) answer?

Open vSwitch (--switch ovs): both halves must answer, the database (`ovs-vsctl --timeout=2 show`,
ovsdb-server) and the switch daemon (`ovs-appctl --timeout=2 -t ovs-vswitchd version`); OVS
clients find the host's OVS through OVS_RUNDIR as usual. VPP (--switch vpp): `vppctl show version`
must answer with VPP's version.

States: OK both answer; CRITICAL naming the part that is down; UNKNOWN when a tool is missing or
the CLI cannot be reached for lack of permission.
Perfdata (ovs): bridges=N.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "VEDGE"
OVS_DB = ("ovs-vsctl", "--timeout=2", "show")
OVS_SWITCH = ("ovs-appctl", "--timeout=2", "-t", "ovs-vswitchd", "version")
VPP_VERSION = ("vppctl", "show", "version")
_VPP_VERSION_RE = re.compile(r"\bvpp (v\S+)")


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_vedge.py", description=__doc__)
    p.add_argument("--switch", required=True, choices=("ovs", "vpp"),
                   help="the kind of virtual switch on this host")
    return p


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    if args.switch == "ovs":
        return check_ovs(system)
    return check_vpp(system)


def check_ovs(system: common.System) -> common.Result:
    db, switch = system.run_all([OVS_DB, OVS_SWITCH], common.OVS_TIMEOUT)
    down = []
    if not db.ok:
        down.append("database (ovsdb-server) does not answer: " + db.error())
    if not switch.ok:
        down.append("switch daemon (ovs-vswitchd) does not answer: " + switch.error())
    if down:
        common.critical("OVS " + "; ".join(down))
    bridges = len(re.findall(r"^\s+Bridge ", db.stdout, re.MULTILINE))
    version = (switch.stdout.strip().splitlines() or ["ovs-vswitchd"])[0].strip()
    return common.Result(
        common.OK, f"{version}: database and switch daemon answer, "
        f"{common.plural(bridges, 'bridge')}", (common.Perf("bridges", bridges, minimum=0),))


def check_vpp(system: common.System) -> common.Result:
    result = system.run(VPP_VERSION, common.OVS_TIMEOUT)
    output = result.stdout + result.stderr
    if "permission denied" in output.lower():
        common.unknown("vppctl cannot reach VPP's CLI socket: permission denied")
    match = _VPP_VERSION_RE.search(result.stdout)
    # Some vppctl releases exit 0 even when they could not connect: the version line decides.
    if not result.ok or match is None:
        common.critical("VPP does not answer: " + (result.error() if not result.ok else
                                                   "no version in `vppctl show version`"))
    return common.Result(common.OK, f"VPP {match.group(1)} answers")


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
