"""playbooks/discover.yml on the lab: every host's facts gathered over SSH, the inventory built
on the controller with the lab's OpenStack API, committed to the embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest

from calipso_core.ansible_run import run_playbook
from calipso_core.store import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]
DISCOVER = ROOT / "playbooks" / "discover.yml"


@pytest.fixture(scope="module")
def discovered(lab, tmp_path_factory):
    store_path = tmp_path_factory.mktemp("store") / "inventory.db"
    inventory = Path(lab.status()["inventory"])

    def discover():
        status, outcomes = run_playbook(inventory, DISCOVER, {"calipso_environment": "lab"},
                                        {"CALIPSO_STORE": str(store_path)})
        assert status == "successful", {h: o.result for h, o in outcomes.items()}
        return outcomes["localhost"].result["msg"]  # the play's report of the scan

    return discover(), discover, EmbeddedStore(store_path)


def test_every_lab_object_appears_once_with_its_host_and_project(discovered, description):
    first, _, store = discovered
    assert first["cloud_error"] is None
    objects = {o["id"]: o for o in store.find("objects", "lab")}
    assert len(objects) == first["counts"]["objects"]
    for server in description["servers"]:
        instance = objects[server["id"]]
        assert (instance["name"], instance["host"], instance["project"]) == \
            (server["name"], server["host"], server["project_id"])
        clique = store.get("cliques", "lab", f"instance:{server['id']}")
        assert server["host"] in clique["hosts"]
    for net in description["networks"]:
        assert objects[net["id"]]["type"] == "network"
    for host in description["hosts"]:
        assert objects[host["name"]]["type"] == "host"
        otep = objects[f"{host['name']}-otep-{host['tunnel_ip']}"]
        assert otep["attributes"]["local_ip"] == host["tunnel_ip"]
    tunnels = store.find("links", "lab", {"link_type": "otep-otep"})
    hosts = len(description["hosts"])
    assert len(tunnels) == hosts * (hosts - 1) // 2
    assert {t["state"] for t in tunnels} == {"up"}


def test_a_second_discovery_with_nothing_changed_writes_nothing(discovered):
    _, discover, _ = discovered
    assert discover()["documents_written"] == 0
