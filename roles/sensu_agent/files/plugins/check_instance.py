"""check_instance: does an instance answer, with its own MAC, on its network?

From the instance's network's DHCP namespace (qdhcp-<network id>, on the network node), pings the
instance's IP: `ip netns exec NS ping -n -c 2 -i 0.2 -W 1 IP` (-n: no reverse DNS lookups of the
replies, which a slow resolver would turn into a timeout), then reads the neighbour entry
`ip netns exec NS ip -j neigh show IP`, whose lladdr must be the instance's MAC (any case).

States: OK; CRITICAL when the IP does not answer, or another MAC answers for it; WARNING when it
answers with its MAC but loses a packet; UNKNOWN when the namespace does not exist on this host
(the vservice check covers it), a tool is missing or the IP answered with no neighbour entry to
compare.
Perfdata: rtt=Xms;;;0 (U when unreachable) and loss=Y%;;;0;100.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "INSTANCE"
COUNT = 2
_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def mac_address(text: str) -> str:
    mac = text.strip().lower().replace("-", ":")
    if not _MAC_RE.match(mac):
        raise argparse.ArgumentTypeError(f"not a MAC address: {text!r}")
    return mac


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_instance.py", description=__doc__)
    p.add_argument("--namespace", required=True, type=common.device_name, metavar="NS",
                   help="the DHCP namespace of the instance's network (qdhcp-<network id>)")
    p.add_argument("--ip", required=True, type=common.ip_address,
                   help="the instance's fixed IP on that network")
    p.add_argument("--mac", required=True, type=mac_address,
                   help="the MAC of the instance's port on that network")
    return p


def in_namespace(ns: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    ns, ip, mac = args.namespace, args.ip, args.mac
    ping = system.run(in_namespace(ns, common.ping_argv(COUNT, ip)), common.ping_timeout(COUNT))
    if "Cannot open network namespace" in ping.stderr:
        common.unknown(f"namespace {ns} does not exist on this host")
    if "exec of" in ping.stderr and "failed" in ping.stderr:
        common.unknown(f"ping not found in namespace {ns}: {ping.error()}")
    stats, failed = common.ping_stats(ping, COUNT)
    detail = failed or f"{common.format_number(stats.loss)}% loss"
    perf = (common.Perf("rtt", stats.rtt_avg if stats.received else None, "ms", minimum=0),
            common.Perf("loss", stats.loss, "%", minimum=0, maximum=100))

    neigh = common.require(system.run(in_namespace(ns, ["ip", "-j", "neigh", "show", ip])))
    entries = common.parse_json(neigh)
    if not isinstance(entries, list):
        common.unknown(f"unexpected output of `ip -j neigh show {ip}` in {ns}")
    answered = {str(e["lladdr"]).lower() for e in entries
                if isinstance(e, dict) and e.get("lladdr") and "FAILED" not in e.get("state", [])}
    if stats.received == 0:
        common.critical(f"{ip} (MAC {mac}) does not answer from {ns} ({detail})", perf)
    if answered and mac not in answered:
        common.critical(f"{ip} answers from MAC {', '.join(sorted(answered))}, expected {mac} "
                        "(another port has the IP?)", perf)
    if mac not in answered:
        common.unknown(f"{ip} answers but {ns} has no neighbour entry for it to compare with "
                       f"{mac}")
    rtt = common.format_number(stats.rtt_avg or 0)
    if stats.loss:
        return common.Result(common.WARNING, f"{ip} answers from MAC {mac} in {ns} but loses "
                             f"{detail}, rtt {rtt} ms", perf)
    return common.Result(common.OK, f"{ip} answers from MAC {mac} in {ns}, rtt {rtt} ms", perf)


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
