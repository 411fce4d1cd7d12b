"""The collection calipso.topology builds from the checkout with its plugins, roles and
playbooks, and its metadata comes from the root galaxy.yml."""

from __future__ import annotations

import json
import tarfile

import yaml

from tools import ansible_test
from tools.collection import ROOT, build


def test_collection_tarball_holds_plugins_roles_and_playbooks(tmp_path):
    tarball = build(tmp_path)
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert tarball.name == f"calipso-topology-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))
    assert manifest["collection_info"]["namespace"] == "calipso"
    assert manifest["collection_info"]["name"] == "topology"
    assert manifest["collection_info"]["license"] == ["Apache-2.0"]
    assert "meta/runtime.yml" in names
    assert "plugins/README.md" in names
    assert "playbooks/lab.yml" in names
    assert "roles/lab/tasks/main.yml" in names
    assert "LICENSE" in names
    assert not any("__pycache__" in name for name in names)
    assert "roles/sensu_agent/tasks/main.yml" in names
    assert "playbooks/monitoring.yml" in names
    assert not any("/molecule/" in name for name in names)


def test_ansible_test_sanity_passes_offline():
    result = ansible_test.run("sanity", [])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "FATAL" not in result.stderr


def test_ansible_test_units_pass():
    result = ansible_test.run("units", [])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
