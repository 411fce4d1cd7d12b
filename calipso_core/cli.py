"""The `calipso` command: the local lab today; discovery, inventory and monitoring commands join
it as they land."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calipso_core.ansible_run import run_module
from calipso_core.lab.manager import Lab, LabError
from calipso_core.lab.spec import LabSize, LabSpec, LabSpecError
from calipso_core.lab.summary import lab_summary
from calipso_core.lab.system import CommandError

DEFAULT_SIZE = LabSize()


def _lab(args: argparse.Namespace) -> Lab:
    size = LabSize(computes=args.computes, networks=args.networks,
                   vms_per_node=args.vms_per_node)
    spec = LabSpec(name=args.name, size=size, address_base=args.address_base)
    return Lab(spec, args.state_dir, args.inventory)


def _reach(lab: Lab) -> str:
    """Reach every lab host with Ansible over SSH and summarise the lab."""
    status = lab.status()
    reached = run_module(Path(status["inventory"]), "ansible.builtin.setup",
                         "gather_subset=!all filter=ansible_hostname")
    return lab_summary(lab.description(), status, reached)


def cmd_lab_up(args: argparse.Namespace) -> int:
    lab = _lab(args)
    changed = lab.up()
    print(json.dumps({"changed": changed, **lab.status()}, indent=1) if args.json
          else _reach(lab))
    return 0


def cmd_lab_down(args: argparse.Namespace) -> int:
    lab = _lab(args)
    changed = lab.down()
    print(json.dumps({"changed": changed, **lab.status()}, indent=1) if args.json
          else f"lab {args.name} is down")
    return 0


def cmd_lab_status(args: argparse.Namespace) -> int:
    status = _lab(args).status()
    print(json.dumps(status, indent=1))
    return 0 if status["up"] else 3


def _lab_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="demo", help="lab name (default: demo)")
    parser.add_argument("--computes", type=int, default=DEFAULT_SIZE.computes,
                        help="compute nodes; layouts cycle ovs-hybrid, ovs-native, linuxbridge")
    parser.add_argument("--networks", type=int, default=DEFAULT_SIZE.networks,
                        help="tenant networks of the main project")
    parser.add_argument("--vms-per-node", type=int, default=DEFAULT_SIZE.vms_per_node)
    parser.add_argument("--address-base", default=LabSpec.address_base,
                        help="first two octets of the lab's private underlay /24s")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the lab keeps keys, OVS databases and its description")
    parser.add_argument("--inventory", type=Path, default=None,
                        help="where to write the Ansible inventory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calipso", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="bring the local lab up, reach it, summarise it")
    _lab_options(demo)
    # The first command a new user runs: the default lab up, reached and summarised.
    demo.set_defaults(func=cmd_lab_up, json=False)
    lab = sub.add_parser("lab", help="the local lab: a simulated cloud on this machine")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True)
    for name, func, help_text in (("up", cmd_lab_up, "bring the lab up (idempotent)"),
                                  ("down", cmd_lab_down, "remove everything the lab made"),
                                  ("status", cmd_lab_status, "is the lab up, and where")):
        command = lab_sub.add_parser(name, help=help_text)
        _lab_options(command)
        if name != "status":
            command.add_argument("--json", action="store_true",
                                 help="print whether anything changed and the status as JSON")
        command.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (LabError, LabSpecError, CommandError) as exc:
        print(f"calipso: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
