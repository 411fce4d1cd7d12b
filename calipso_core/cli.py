"""The `calipso` command: the local lab, discovery, monitoring, and reading the stored inventory."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from calipso_core import inventory_view
from calipso_core.ansible_run import run_module
from calipso_core.discovery.runner import DiscoveryFailed, discover
from calipso_core.lab.manager import Lab, LabError
from calipso_core.lab.spec import LabSize, LabSpec, LabSpecError
from calipso_core.lab.summary import lab_summary
from calipso_core.lab.system import CommandError
from calipso_core.monitoring.runner import MonitoringDeployFailed, deploy_monitoring
from calipso_core.store import StoreError, open_store

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


def cmd_demo(args: argparse.Namespace) -> int:
    """The first command a new user runs: the default lab up, reached over SSH, discovered into
    the embedded store, summarised with one VM's clique."""
    lab = _lab(args)
    lab.up()
    print(_reach(lab))
    report = discover(Path(lab.status()["inventory"]), args.environment, args.store)
    store = open_store(args.store)
    print(f"\nDiscovered environment {args.environment} (scan {report['generation']}, "
          f"{report['documents_written']} documents written"
          f"{', cloud: ' + report['cloud_error'] if report['cloud_error'] else ''}):\n")
    print(inventory_view.counts(store, args.environment))
    server = lab.description()["servers"][0]
    for clique in store.find("cliques", args.environment,
                             {"focal_id": server["id"], "clique_type": "instance"}):
        print("\n" + inventory_view.clique_tree(store, args.environment, clique))
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    report = discover(args.inventory, args.environment, args.store, args.limit)
    print(json.dumps(report, indent=1))
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    run = deploy_monitoring(args.inventory, args.environment, args.store, args.limit,
                            check=args.check)
    print(json.dumps({"check_mode": args.check, "changed_tasks": run.changed}, indent=1))
    return 0


def cmd_environments(args: argparse.Namespace) -> int:
    names = open_store(args.store).environments()
    print(json.dumps(names) if args.json else "\n".join(names))
    return 0


def cmd_objects(args: argparse.Namespace) -> int:
    objects = inventory_view.find_objects(open_store(args.store), args.environment, args.type,
                                          args.host, args.name)
    print(json.dumps(objects, indent=1) if args.json else inventory_view.objects_table(objects))
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    query = {k: v for k, v in (("link_type", args.type), ("host", args.host)) if v}
    links = open_store(args.store).find("links", args.environment, query,
                                        sort=[("link_type", 1), ("id", 1)])
    print(json.dumps(links, indent=1) if args.json else inventory_view.links_table(links))
    return 0


def cmd_cliques(args: argparse.Namespace) -> int:
    query = {"clique_type": args.type} if args.type else {}
    cliques = open_store(args.store).find("cliques", args.environment, query,
                                          sort=[("id", 1)])
    print(json.dumps(cliques, indent=1) if args.json else inventory_view.cliques_table(cliques))
    return 0


def cmd_clique(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    focal = inventory_view.resolve_focal(store, args.environment, args.focal)
    if focal is None:
        raise LabError(f"no object {args.focal!r} in environment {args.environment}")
    cliques = store.find("cliques", args.environment, {"focal_id": focal["id"]})
    if not cliques:
        raise LabError(f"{focal['type']} {focal['name']} is the focus of no clique")
    print(json.dumps(cliques, indent=1) if args.json else
          "\n\n".join(inventory_view.clique_tree(store, args.environment, c) for c in cliques))
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


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--environment", default="lab", help="environment (default: lab)")
    parser.add_argument("--store", default=None,
                        help="mongodb://... or the embedded store's path "
                             "(default: $CALIPSO_STORE, else /var/lib/calipso/inventory.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calipso", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="bring the local lab up, discover it, summarise it")
    _lab_options(demo)
    _store_options(demo)
    demo.set_defaults(func=cmd_demo)
    discover = sub.add_parser("discover", help="run playbooks/discover.yml on an inventory")
    discover.add_argument("--inventory", type=Path, required=True)
    discover.add_argument("--limit", help="only these hosts' part (Ansible host pattern)")
    _store_options(discover)
    discover.set_defaults(func=cmd_discover)
    monitor = sub.add_parser("monitor", help="run playbooks/monitoring.yml: Sensu checks for "
                                             "every stored object, on every host")
    monitor.add_argument("--inventory", type=Path, required=True)
    monitor.add_argument("--limit", help="only these hosts' agents (Ansible host pattern)")
    monitor.add_argument("--check", action="store_true",
                         help="show what would change, change nothing")
    _store_options(monitor)
    monitor.set_defaults(func=cmd_monitor)
    for name, func, help_text in (
            ("environments", cmd_environments, "environments in the store"),
            ("objects", cmd_objects, "objects (filters: --type, --host, --name)"),
            ("links", cmd_links, "links (filters: --type, --host)"),
            ("cliques", cmd_cliques, "cliques (filter: --type)"),
            ("clique", cmd_clique, "the cliques around one object, as a tree")):
        command = sub.add_parser(name, help=help_text)
        _store_options(command)
        command.add_argument("--json", action="store_true")
        if name == "clique":
            command.add_argument("focal", help="the focal object's id or name")
        elif name != "environments":
            command.add_argument("--type")
        if name in ("objects", "links"):
            command.add_argument("--host")
        if name == "objects":
            command.add_argument("--name")
        command.set_defaults(func=func)
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
    except (LabError, LabSpecError, CommandError, StoreError, DiscoveryFailed,
            MonitoringDeployFailed) as exc:
        print(f"calipso: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
