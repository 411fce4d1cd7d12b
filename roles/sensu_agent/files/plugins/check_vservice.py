"""check_vservice: is a network service namespace (qdhcp-..., qrouter-...) there, with its daemon?

The named network namespace must exist (`ip netns list`) and, with --process, a process of that
name must run in it (`ip netns pids NS`, each pid's /proc/PID/comm).

States: OK; CRITICAL when the namespace is missing or no such process runs in it; UNKNOWN on a
missing tool or when the namespace's processes cannot be listed.
Perfdata (with --process): processes=N (how many processes of that name run in the namespace).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "VSERVICE"
COMM_LEN = 15  # the kernel keeps the first 15 characters of a process name in comm


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_vservice.py", description=__doc__)
    p.add_argument("--namespace", required=True, type=common.device_name, metavar="NS",
                   help="the network namespace's name")
    p.add_argument("--process", type=common.device_name, metavar="NAME",
                   help="a process that must run in the namespace (dnsmasq, haproxy ...)")
    return p


def namespaces(output: str) -> list[str]:
    """Names from `ip netns list` lines: `name` or `name (id: N)`."""
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    ns = args.namespace
    listed = common.require(system.run(["ip", "netns", "list"]))
    if ns not in namespaces(listed.stdout):
        common.critical(f"namespace {ns} does not exist")
    if not args.process:
        return common.Result(common.OK, f"namespace {ns} exists")
    pids_out = system.run(["ip", "netns", "pids", ns])
    if not pids_out.ok and "No such file" in pids_out.error():
        common.critical(f"namespace {ns} does not exist")
    pids = common.require(pids_out).stdout.split()
    if not all(pid.isdigit() for pid in pids):
        common.unknown(f"unexpected output of `ip netns pids {ns}`")
    wanted = args.process[:COMM_LEN]
    running = []
    for pid in pids:
        try:
            comm = system.read(f"/proc/{pid}/comm").strip()
        except OSError:
            continue  # the process ended since it was listed
        if comm == wanted:
            running.append(pid)
    perf = (common.Perf("processes", len(running), minimum=0),)
    if not running:
        others = common.plural(len(pids), "other process", "es")
        common.critical(f"no {args.process} process runs in namespace {ns} ({others})", perf)
    return common.Result(common.OK, f"namespace {ns} exists, {args.process} runs in it "
                         f"(pid {', '.join(running)})", perf)


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
