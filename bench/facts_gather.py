"""Per-host cost of Calipso's facts modules against ansible.builtin.setup, on a lab host, in the
same run; and the parse time of a 1,000-port OVS bridge.

    sudo .venv/bin/python bench/facts_gather.py [--runs 5] [--host compute1]

Brings up its own lab (name `bench`), prints the figures, takes the lab down. Each timing is the
median wall time of whole `ansible` runs (connection, module transfer, execution, parsing), so
module and setup are measured the same way; `ping` shows the fixed cost of one such run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.calipso.topology.plugins.module_utils.ovs import (  # noqa: E402
    TABLES,
    collect_ovs,
    table_argv,
)
from ansible_collections.calipso.topology.plugins.module_utils.sources import (  # noqa: E402
    RecordedSource,
)

from calipso_core.ansible_run import ansible_env  # noqa: E402
from calipso_core.lab.manager import Lab  # noqa: E402
from calipso_core.lab.spec import LabSpec  # noqa: E402

MODULES = ["calipso.topology.ovs_facts", "calipso.topology.linuxbridge_facts",
           "calipso.topology.vpp_facts", "calipso.topology.host_facts"]
COMBINED = "calipso.topology.network_facts"  # the four collectors in one task
BIN = Path(sys.executable).parent


def timed(argv: list[str], runs: int) -> float:
    env = {**os.environ, **ansible_env()}
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        samples.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-2000:]}{proc.stderr}")
    return statistics.median(samples)


def gather_times(inventory: Path, host: str, runs: int) -> dict[str, float]:
    adhoc = [str(BIN / "ansible"), "-i", str(inventory), host, "-m"]
    times = {"ansible.builtin.ping": timed([*adhoc, "ansible.builtin.ping"], runs),
             "ansible.builtin.setup": timed([*adhoc, "ansible.builtin.setup"], runs)}
    for module in [*MODULES, COMBINED]:
        times[module] = timed([*adhoc, module], runs)
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        tasks = "".join(f"    - {m}:\n" for m in MODULES)
        playbook.write(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n{tasks}")
        all_four = playbook.name
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        playbook.write(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n"
                       "    - ansible.builtin.setup:\n")
        setup_only = playbook.name
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as playbook:
        playbook.write(f"- hosts: {host}\n  gather_facts: false\n  tasks:\n"
                       f"    - {COMBINED}:\n")
        combined = playbook.name
    play = [str(BIN / "ansible-playbook"), "-i", str(inventory)]
    times["playbook: the four modules, four tasks"] = timed([*play, all_four], runs)
    times["playbook: network_facts, one task"] = timed([*play, combined], runs)
    times["playbook: ansible.builtin.setup"] = timed([*play, setup_only], runs)
    return times


def synthetic_bridge(ports: int) -> dict[str, str]:
    """Recorded outputs of an OVS with one bridge of `ports` Neutron-tagged ports."""
    def table(headings: list[str], rows: list[list]) -> str:
        return json.dumps({"headings": headings, "data": rows})

    iface_rows, port_rows = [], []
    for i in range(ports):
        ids = ["map", [["iface-id", f"{i:08x}-0000-4000-8000-000000000000"],
                       ["attached-mac", f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"],
                       ["iface-status", "active"]]]
        iface_rows.append([["uuid", f"i{i}"], f"qvo{i:011d}", "", i + 1, "up", "up", 1450,
                           ["set", []], ["map", []], ids, ["map", []],
                           f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"])
        port_rows.append([["uuid", f"p{i}"], f"qvo{i:011d}", ["uuid", f"i{i}"], i % 4000 + 1,
                          ["set", []], ["set", []], ids])
    outputs = {
        " ".join(table_argv("Open_vSwitch")): table(
            ["_uuid", "ovs_version", "external_ids", "datapath_types"],
            [[["uuid", "s"], "3.1.0", ["map", [["system-id", "x"], ["hostname", "h"]]],
              ["set", ["netdev", "system"]]]]),
        " ".join(table_argv("Bridge")): table(
            ["_uuid", "name", "datapath_type", "fail_mode", "ports", "controller"],
            [[["uuid", "b"], "br-int", "netdev", "secure",
              ["set", [["uuid", f"p{i}"] for i in range(ports)]], ["set", []]]]),
        " ".join(table_argv("Port")): table(
            ["_uuid", "name", "interfaces", "tag", "trunks", "vlan_mode", "external_ids"],
            port_rows),
        " ".join(table_argv("Interface")): table(
            ["_uuid", "name", "type", "ofport", "admin_state", "link_state", "mtu", "error",
             "options", "external_ids", "status", "mac_in_use"], iface_rows),
        " ".join(table_argv("Controller")): table(["_uuid"], []),
    }
    assert set(outputs) == {" ".join(table_argv(t)) for t in TABLES}
    return outputs


def parse_time(ports: int, runs: int = 20) -> float:
    outputs = synthetic_bridge(ports)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        facts = collect_ovs(RecordedSource(outputs), {})
        samples.append(time.perf_counter() - start)
    assert len(facts["bridges"][0]["ports"]) == ports
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--host", default="compute1")
    args = parser.parse_args()

    print(f"parse a 1,000-port OVS bridge: {parse_time(1000) * 1000:.1f} ms (goal < 50 ms)")
    with tempfile.TemporaryDirectory(prefix="calipso-bench-") as tmp:
        lab = Lab(LabSpec(name="bench", address_base="10.247"), Path(tmp) / "state",
                  Path(tmp) / "hosts.yml")
        lab.up()
        try:
            times = gather_times(lab.paths.inventory, args.host, args.runs)
        finally:
            lab.down()
    print(f"\nper-host gather time on lab host {args.host}, median of {args.runs} runs:")
    for name, seconds in times.items():
        print(f"  {name:45s} {seconds * 1000:8.0f} ms")
    setup = times["playbook: ansible.builtin.setup"]
    print(f"\nall of Calipso's facts in one task (network_facts) / setup: "
          f"{times['playbook: network_facts, one task'] / setup:.2f} (goal <= 1.0)")
    print(f"the four modules as four tasks / setup: "
          f"{times['playbook: the four modules, four tasks'] / setup:.2f} "
          "(each task pays its own connection and module transfer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
