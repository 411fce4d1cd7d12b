"""Whole scans of the recorded lab into the embedded store: what lands, what a rescan rewrites,
what disappears with a VM, and what stands without the cloud."""

from __future__ import annotations

import copy
import json

import pytest

from calipso_core.discovery.scan import run_scan
from calipso_core.lab.spec import vm_port
from calipso_core.model.edits import RECORDS, record_id
from calipso_core.model.types import TypeDataError
from calipso_core.store import EmbeddedStore
from tests.cloud_server import configured_cloud
from tests.recorded_lab import recorded_description, recorded_facts, without_vm

DESCRIPTION = recorded_description()
FACTS = recorded_facts()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with configured_cloud(DESCRIPTION, tmp_path_factory.mktemp("cloud")) as name:
        yield name


def test_scan_stores_the_lab_and_a_rescan_rewrites_nothing(tmp_path, cloud):
    store = EmbeddedStore(tmp_path / "inventory.db")
    first = run_scan("lab", FACTS, store, cloud)
    assert first.cloud_error is None
    assert store.count("objects", "lab") == first.counts["objects"]
    assert store.count("cliques", "lab", {"clique_type": "instance"}) == \
        len(DESCRIPTION["servers"])
    again = run_scan("lab", FACTS, store, cloud)
    assert again.summary.documents_written == 0
    # a new process sees the same inventory
    reopened = EmbeddedStore(tmp_path / "inventory.db")
    assert reopened.count("links", "lab") == first.counts["links"]


def test_a_removed_vm_disappears_and_nothing_else_moves(tmp_path, cloud):
    store = EmbeddedStore(tmp_path / "inventory.db")
    run_scan("lab", FACTS, store, None)
    before = {o["id"]: o for o in store.find("objects", "lab")}
    server = next(s for s in DESCRIPTION["servers"] if s["layout"] == "ovs-native")
    run_scan("lab", without_vm(FACTS, server), store, None)
    after = {o["id"]: o for o in store.find("objects", "lab")}
    port = vm_port(DESCRIPTION, server)
    gone = {server["id"], f"{server['host']}-{port['devices']['tap']}"}
    assert set(before) - set(after) == gone
    assert store.get("cliques", "lab", f"instance:{server['id']}") is None
    # only the host's switch changed (it lost a port); every other object kept its version
    vedge = next(h["system_id"] for h in DESCRIPTION["hosts"] if h["name"] == server["host"])
    changed = {i for i in after if after[i]["generation"] != before[i]["generation"]}
    assert changed == {vedge}


def test_without_the_cloud_the_switch_level_inventory_is_stored(tmp_path):
    store = EmbeddedStore(tmp_path / "inventory.db")
    report = run_scan("lab", FACTS, store, "no-such-cloud")
    assert report.cloud_error and "no-such-cloud" in report.cloud_error
    types = {o["type"] for o in store.find("objects", "lab")}
    assert {"host", "vedge", "vconnector", "vnic", "otep", "vservice", "host_pnic"} <= types


def test_a_scan_limited_to_one_host_replaces_only_that_hosts_part(tmp_path, cloud):
    store = EmbeddedStore(tmp_path / "inventory.db")
    run_scan("lab", FACTS, store, cloud)
    objects_before = {o["id"]: o for o in store.find("objects", "lab")}
    cliques_before = {c["id"]: c for c in store.find("cliques", "lab")}
    # nothing changed on compute3: a limited rescan writes nothing
    limited = {"compute3": FACTS["compute3"]}
    assert run_scan("lab", limited, store, cloud, limit=["compute3"]) \
        .summary.documents_written == 0
    # a VM's tap goes away on compute3 (a Linux-bridge host) only
    server = next(s for s in DESCRIPTION["servers"] if s["host"] == "compute3")
    port = vm_port(DESCRIPTION, server)
    facts = copy.deepcopy(limited)
    host = facts["compute3"]
    host["calipso_host"]["interfaces"] = [i for i in host["calipso_host"]["interfaces"]
                                          if i["name"] != port["devices"]["tap"]]
    for bridge in host["calipso_linuxbridge"]["bridges"]:
        bridge["members"] = [m for m in bridge["members"] if m["name"] != port["devices"]["tap"]]
    run_scan("lab", facts, store, cloud, limit=["compute3"])
    after = {o["id"]: o for o in store.find("objects", "lab")}
    assert set(objects_before) - set(after) == {f"compute3-{port['devices']['tap']}"}
    for obj_id, obj in after.items():
        if "compute3" not in obj["hosts"]:
            assert obj["generation"] == objects_before[obj_id]["generation"], obj_id
    tunnels = store.find("links", "lab", {"link_type": "otep-otep"})
    assert len(tunnels) == 6 and {t["state"] for t in tunnels} == {"up"}
    cliques_after = {c["id"]: c for c in store.find("cliques", "lab")}
    assert set(cliques_after) == set(cliques_before)
    for clique_id, clique in cliques_after.items():
        if "compute3" not in clique["hosts"] + cliques_before[clique_id]["hosts"]:
            assert clique["generation"] == cliques_before[clique_id]["generation"]
    vm_clique = cliques_after[f"instance:{server['id']}"]
    assert f"compute3-{port['devices']['tap']}" not in vm_clique["nodes"]
    # compute3 no longer serves that VM's network: its peers' cliques drop the tunnel to it
    for peer in DESCRIPTION["servers"]:
        peer_port = vm_port(DESCRIPTION, peer)
        if peer_port["network_id"] == port["network_id"] and peer["host"] != "compute3":
            assert "compute3" not in cliques_after[f"instance:{peer['id']}"]["hosts"]
            assert "compute3" in cliques_before[f"instance:{peer['id']}"]["hosts"]


def test_an_edit_that_no_longer_loads_stops_the_scan_and_keeps_the_inventory(tmp_path):
    """An edit accepted by the API, then broken by a change of the model (here: stored as the
    API would, naming a link type the model does not have)."""
    store = EmbeddedStore(tmp_path / "inventory.db")
    run_scan("lab", FACTS, store, None)
    before = store.scans("lab")[0]["generation"]
    broken = {"description": "x", "focal_type": "otep", "link_types": ["otep-gone"]}
    with store.transaction(write=True):
        store.records(RECORDS).insert_one({
            "_id": record_id("lab", "clique_types", "otep"), "environment": "lab",
            "kind": "clique_types", "name": "otep", "definition": json.dumps(broken),
            "updated_by": "admin", "updated_at": "2026-11-21T00:00:00Z"})
    with pytest.raises(TypeDataError, match="edited through the API for environment 'lab'"):
        run_scan("lab", FACTS, store, None)
    assert store.scans("lab")[0]["generation"] == before
    assert store.count("cliques", "lab", {"clique_type": "otep"}) > 0
    # Another environment's scans do not read lab's edits.
    assert run_scan("edge", FACTS, store, None).summary.generation == 1
