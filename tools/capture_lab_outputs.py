"""Record what the facts modules' commands print on the hosts of a running lab, as the
`recorded_outputs` JSON the modules and their unit tests replay.

    python tools/capture_lab_outputs.py LAB_STATE_DIR OUTPUT_DIR

writes OUTPUT_DIR/ovs/lab-<host>.json and OUTPUT_DIR/linuxbridge/lab-<host>.json.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from ansible_collections.calipso.topology.plugins.module_utils import linuxbridge, ovs


def ssh_output(ssh_config: Path, host: str, argv: list[str]) -> str | None:
    proc = subprocess.run(["ssh", "-F", str(ssh_config), host, "--", shlex.join(argv)],
                          capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout if proc.returncode == 0 else None


def commands(host_runs_ovs: bool, bridges: list[str]) -> dict[str, list[str]]:
    argvs = [ovs.table_argv(t) for t in ovs.TABLES] + [ovs.flows_argv(b) for b in bridges]
    argvs += [linuxbridge.LINKS, linuxbridge.FDB, linuxbridge.VLANS, linuxbridge.BRCTL]
    return {" ".join(a): a for a in argvs if host_runs_ovs or a[0] not in ("ovs-vsctl",
                                                                           "ovs-ofctl")}


def main(argv: list[str]) -> int:
    state_dir, output = Path(argv[0]), Path(argv[1])
    description = json.loads((state_dir / "lab.json").read_text())
    ssh_config = state_dir / "ssh" / "config"
    for host in description["hosts"]:
        recorded = {line: ssh_output(ssh_config, host["name"], a)
                    for line, a in commands(bool(host["ovs_bridges"]),
                                            host["ovs_bridges"]).items()}
        for kind, prefixes in (("ovs", ("ovs-",)), ("linuxbridge", ("ip ", "bridge ", "brctl"))):
            subset = {k: v for k, v in recorded.items() if k.startswith(prefixes)}
            if kind == "ovs" and not host["ovs_bridges"]:
                subset = {" ".join(ovs.table_argv("Open_vSwitch")): None}
            path = output / kind / f"lab-{host['name']}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
