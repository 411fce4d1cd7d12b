"""check_otep: can this host's overlay tunnel endpoint (otep) reach every remote endpoint?

Pings each --remote from the local tunnel IP over the underlay, all remotes at once:
`ping -n -q -c COUNT -i 0.2 -W 1 -I LOCAL_IP REMOTE`, and reads loss and the average round trip.

States: CRITICAL when any remote does not answer at all (100% loss, or ping cannot send from the
local IP) or its average rtt is above --critical-ms; WARNING when a remote loses some packets or
its rtt is above --warning-ms; OK otherwise; UNKNOWN when ping is missing or its output has no
summary.
Perfdata per remote: rtt_<ip>=Xms;warn;crit;0 (U when unreachable) and loss_<ip>=Y%;;;0;100.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calipso_check_common as common

NAME = "OTEP"


def parser() -> common.Parser:
    p = common.Parser(NAME, prog="check_otep.py", description=__doc__)
    p.add_argument("--local-ip", required=True, type=common.ip_address, metavar="IP",
                   help="this host's tunnel endpoint IP (the source of the pings)")
    p.add_argument("--remote", required=True, action="append", type=common.ip_address,
                   metavar="IP", help="a remote tunnel endpoint IP (repeat)")
    p.add_argument("--warning-ms", type=common.non_negative_float, default=50.0, metavar="MS",
                   help="average rtt above which a remote is WARNING (default 50)")
    p.add_argument("--critical-ms", type=common.non_negative_float, default=200.0,
                   metavar="MS", help="average rtt above which a remote is CRITICAL "
                   "(default 200)")
    p.add_argument("--count", type=common.positive_int, default=2, metavar="N",
                   help="echo requests per remote (default 2)")
    return p


def check(args: argparse.Namespace, system: common.System) -> common.Result:
    warn = common.format_number(args.warning_ms)
    crit = common.format_number(args.critical_ms)
    if args.warning_ms > args.critical_ms:
        common.unknown(f"usage: --warning-ms {warn} is above --critical-ms {crit}")
    remotes = list(dict.fromkeys(args.remote))  # each once, in the order given
    results = system.run_all([common.ping_argv(args.count, r, quiet=True, source=args.local_ip)
                              for r in remotes], common.ping_timeout(args.count))
    states, problems, perf, rtts = [], [], [], []
    for index, remote in enumerate(remotes):
        stats, failed = common.ping_stats(results[index], args.count, f" for {remote}")
        if failed:
            state, problem = common.CRITICAL, f"{remote} unreachable ({failed})"
        else:
            state, problem = judge(remote, stats, args.warning_ms, args.critical_ms)
        states.append(state)
        if problem:
            problems.append(problem)
        if stats.received and stats.rtt_avg is not None:
            rtts.append(stats.rtt_avg)
        perf.append(common.Perf(f"rtt_{remote}", stats.rtt_avg if stats.received else None,
                                "ms", warn, crit, 0))
        perf.append(common.Perf(f"loss_{remote}", stats.loss, "%", minimum=0, maximum=100))
    state = common.worst(states)
    if state == common.OK:
        worst_rtt = common.format_number(max(rtts)) if rtts else "?"
        message = (f"{common.plural(len(remotes), 'remote')} reachable from {args.local_ip}, "
                   f"rtt avg max {worst_rtt} ms")
    else:
        fine = len(remotes) - len(problems)
        message = (f"{'; '.join(problems)}; {fine} of {len(remotes)} remotes fine "
                   f"(from {args.local_ip})")
    return common.Result(state, message, tuple(perf))


def judge(remote: str, stats: common.PingStats, warning_ms: float,
          critical_ms: float) -> tuple[int, str]:
    if stats.received == 0 or stats.loss >= 100:
        return common.CRITICAL, f"{remote} unreachable (100% loss)"
    rtt = stats.rtt_avg
    rtt_text = f"rtt {common.format_number(rtt)} ms" if rtt is not None else "rtt unknown"
    if rtt is not None and rtt > critical_ms:
        return common.CRITICAL, f"{remote} {rtt_text} > {common.format_number(critical_ms)} ms"
    if rtt is not None and rtt > warning_ms:
        return common.WARNING, f"{remote} {rtt_text} > {common.format_number(warning_ms)} ms"
    if stats.loss > 0:
        return common.WARNING, f"{remote} loses {common.format_number(stats.loss)}% ({rtt_text})"
    return common.OK, ""


def main(argv: list[str] | None = None, system: common.System | None = None) -> int:
    return common.main(NAME, parser(), check, argv, system)


if __name__ == "__main__":
    sys.exit(main())
