"""Every lab host answers Ansible over SSH as itself, with host keys checked."""

from __future__ import annotations

from pathlib import Path

import yaml

from calipso_core.ansible_run import run_module
from tests.conftest import ssh


def test_every_host_answers_ansible_over_ssh_with_its_own_hostname(lab, description):
    inventory = Path(lab.status()["inventory"])
    outcomes = run_module(inventory, "ansible.builtin.setup",
                          "gather_subset=!all,network filter=ansible_hostname")
    assert set(outcomes) == {h["name"] for h in description["hosts"]}
    for host in description["hosts"]:
        outcome = outcomes[host["name"]]
        assert outcome.status == "ok", outcome.result
        assert outcome.result["ansible_facts"]["ansible_hostname"] == host["name"]


def test_inventory_groups_hosts_and_keeps_host_key_checking(lab, description):
    inventory = yaml.safe_load(Path(lab.status()["inventory"]).read_text())["all"]
    assert "StrictHostKeyChecking=yes" in inventory["vars"]["ansible_ssh_common_args"]
    controllers = inventory["children"]["controllers"]["hosts"]
    computes = inventory["children"]["computes"]["hosts"]
    assert list(controllers) == ["controller"]
    assert set(computes) == {h["name"] for h in description["hosts"]} - {"controller"}
    assert computes["compute3"]["calipso_layout"] == "linuxbridge"


def test_a_wrong_host_key_is_refused(lab, description, tmp_path):
    """With a known_hosts that holds another key for the host, SSH must not connect."""
    inventory = yaml.safe_load(Path(lab.status()["inventory"]).read_text())
    ssh_dir = lab.paths.ssh_dir
    lines = (ssh_dir / "known_hosts").read_text().splitlines()
    other_key = lines[1].split(None, 1)[1]  # compute1's key, given to the controller below
    forged = tmp_path / "known_hosts"
    forged.write_text("\n".join([lines[0].split()[0] + " " + other_key, *lines[1:]]) + "\n")
    common = inventory["all"]["vars"]["ansible_ssh_common_args"]
    inventory["all"]["vars"]["ansible_ssh_common_args"] = common.replace(
        str(ssh_dir / "known_hosts"), str(forged))
    forged_inventory = tmp_path / "hosts.yml"
    forged_inventory.write_text(yaml.safe_dump(inventory))
    outcomes = run_module(forged_inventory, "ansible.builtin.ping", pattern="controller")
    assert outcomes["controller"].status == "unreachable"
    assert "host key" in outcomes["controller"].message.lower()


def test_each_host_has_its_own_sensu_and_plugin_directories(lab, description):
    """What a role installs into /etc/sensu, /var/lib/sensu or /usr/local/lib/calipso on one
    host is that host's alone, as on separate machines."""
    names = [h["name"] for h in description["hosts"]]
    for name in names:
        for directory in ("/etc/sensu", "/var/lib/sensu", "/usr/local/lib/calipso"):
            ssh(lab, name, ["sh", "-c", f"echo {name} > {directory}/whose"])
    for name in names:
        for directory in ("/etc/sensu", "/var/lib/sensu", "/usr/local/lib/calipso"):
            assert ssh(lab, name, ["cat", f"{directory}/whose"]).strip() == name
            ssh(lab, name, ["rm", f"{directory}/whose"])
    for directory in ("/etc/sensu", "/var/lib/sensu", "/usr/local/lib/calipso"):
        assert not Path(directory, "whose").exists()
