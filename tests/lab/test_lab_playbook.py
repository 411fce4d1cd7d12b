"""The lab through Ansible: playbooks/lab.yml (role lab) brings it up and down idempotently,
reporting changed only when it changed something."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from calipso_core.lab import hosts

ROOT = Path(__file__).resolve().parents[2]
LAB_VARS = {"calipso_lab_name": "pplay", "calipso_lab_address_base": "10.254",
            "calipso_lab_computes": 3, "calipso_lab_networks": 1, "calipso_lab_vms_per_node": 1,
            "calipso_command": str(Path(sys.executable).parent / "calipso")}


def playbook(state: str, lab_dir: Path) -> dict:
    env = {**os.environ, "CALIPSO_LAB_DIR": str(lab_dir), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    extra = json.dumps({**LAB_VARS, "calipso_lab_state": state})
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"),
                           "-i", "localhost,", str(ROOT / "playbooks" / "lab.yml"), "-e", extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    recap = re.search(r"^localhost\s+:\s+(.*)$", proc.stdout, re.MULTILINE)
    assert recap, proc.stdout
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", recap.group(1))}


def test_lab_playbook_is_idempotent_up_and_down(tmp_path):
    try:
        assert playbook("present", tmp_path)["changed"] == 1
        assert hosts.namespaces_with_prefix(hosts.lab_netns_prefix("pplay"))
        assert (tmp_path / "pplay" / "inventory" / "hosts.yml").is_file()
        assert playbook("present", tmp_path)["changed"] == 0
        assert playbook("absent", tmp_path)["changed"] == 1
        assert hosts.namespaces_with_prefix(hosts.lab_netns_prefix("pplay")) == []
        assert playbook("absent", tmp_path)["changed"] == 0
    finally:
        playbook("absent", tmp_path)
