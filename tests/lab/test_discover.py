"""playbooks/discover.yml on the lab: every host's facts gathered over SSH, the inventory built
on the controller with the lab's OpenStack API, committed to the embedded store."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from calipso_core.ansible_run import ansible_env
from calipso_core.discovery.runner import DISCOVER_PLAYBOOK, DiscoveryFailed, discover
from calipso_core.lab import hosts
from calipso_core.lab.spec import LabSpec, vm_port
from calipso_core.store import EmbeddedStore
from tests.conftest import lab_of_its_own


@pytest.fixture(scope="module")
def discovered(lab, tmp_path_factory):
    store_path = tmp_path_factory.mktemp("store") / "inventory.db"
    inventory = Path(lab.status()["inventory"])

    def discover_lab():
        return discover(inventory, "lab", str(store_path))

    return discover_lab(), discover_lab, EmbeddedStore(store_path)


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
    by_host = {h["name"]: h for h in description["hosts"]}
    for port in description["ports"]:
        assert objects[port["id"]]["type"] == "port"
        host = port["binding:host_id"]
        devices = port["devices"]
        if "namespace" in devices:  # DHCP and router namespaces and their devices
            service = objects[f"{host}-{devices['namespace']}"]
            assert service["type"] == "vservice" and service["host"] == host
            device = devices.get("tap") or devices.get("qr") or devices["qg"]
            vnic = objects[f"{host}-{devices['namespace']}-{device}"]
        else:
            vnic = objects[f"{host}-{devices['tap']}"]
            bridge = devices.get("qbr") or (devices["bridge"] if devices["bridge"] != "br-int"
                                            else None)
            if bridge:
                assert objects[f"{host}-{bridge}"]["type"] == "vconnector"
        assert (vnic["host"], vnic["attributes"]["network_id"]) == (host, port["network_id"])
        assert vnic["project"] == (port["project_id"] or None)
    for name, host in by_host.items():
        if host["system_id"]:
            assert objects[host["system_id"]]["type"] == "vedge"
        for nic in host["nics"]:
            assert objects[f"{name}-{nic['name']}"]["type"] == "host_pnic"
    # each object once: ids are unique in the store
    assert len(store.find("objects", "lab")) == len(objects)


def test_a_second_discovery_with_nothing_changed_writes_nothing(discovered):
    _, discover, _ = discovered
    assert discover()["documents_written"] == 0


@pytest.fixture(scope="module")
def own_lab(tmp_path_factory):
    """A lab of this module's own, since removing a VM changes it for good."""
    with lab_of_its_own(LabSpec(name="pdisc", address_base="10.244"),
                        tmp_path_factory.mktemp("own-lab")) as lab:
        yield lab


def discover_into(lab, store_path, limit=None, **extravars):
    return discover(Path(lab.status()["inventory"]), "lab", str(store_path), limit, extravars)


def test_a_removed_vm_leaves_the_inventory_and_nothing_else_moves(own_lab, tmp_path):
    store_path = tmp_path / "inventory.db"
    discover_into(own_lab, store_path)
    store = EmbeddedStore(store_path)
    before = {o["id"]: o for o in store.find("objects", "lab")}
    links_before = {x["id"] for x in store.find("links", "lab")}
    description = own_lab.description()
    server = next(s for s in description["servers"] if s["name"] == "web-2")
    port = vm_port(description, server)

    own_lab.remove_vm("web-2")
    discover_into(own_lab, store_path)
    after = {o["id"]: o for o in store.find("objects", "lab")}
    assert set(before) - set(after) == {server["id"], port["id"],
                                        f"{server['host']}-{port['devices']['tap']}"}
    assert set(after) <= set(before)
    assert store.get("cliques", "lab", f"instance:{server['id']}") is None
    gone = links_before - {x["id"] for x in store.find("links", "lab")}
    assert gone and all(server["id"] in x or port["devices"]["tap"] in x
                        or x.startswith("host_pnic-network:") for x in gone)
    # what moved: the host's switch (a port fewer) and the vnics of the web network, whose
    # tunnels no longer include that host
    host = next(h for h in description["hosts"] if h["name"] == server["host"])
    moved = {i for i in after if after[i]["generation"] != before[i]["generation"]}
    web_vnics = {i for i, o in after.items() if o["type"] == "vnic"
                 and o["attributes"].get("network_id") == port["network_id"]}
    assert moved == {host["system_id"]} | web_vnics


def test_discovery_with_the_cloud_api_down_keeps_the_switch_level_inventory(own_lab, tmp_path):
    dead = tmp_path / "clouds.yaml"
    dead.write_text(f"clouds:\n  {own_lab.status()['cloud']}:\n    auth:\n"
                    "      auth_url: http://127.0.0.1:9/identity/v3\n"
                    "      username: admin\n      password: unused\n"
                    "      project_name: admin\n      user_domain_name: Default\n"
                    "      project_domain_name: Default\n")
    report = discover_into(own_lab, tmp_path / "inventory.db", calipso_clouds_yaml=str(dead))
    assert report["cloud_error"]
    store = EmbeddedStore(tmp_path / "inventory.db")
    types = {o["type"] for o in store.find("objects", "lab")}
    assert {"host", "host_pnic", "vedge", "vconnector", "vnic", "vservice", "otep"} <= types
    assert "network" not in types


def test_a_limited_discovery_replaces_only_those_hosts_part(own_lab, tmp_path):
    store_path = tmp_path / "inventory.db"
    discover_into(own_lab, store_path)
    store = EmbeddedStore(store_path)
    before = {o["id"]: o for o in store.find("objects", "lab")}
    assert discover_into(own_lab, store_path, limit="compute1")["documents_written"] == 0
    assert {o["id"]: o for o in store.find("objects", "lab")} == before
    description = own_lab.description()
    server = next(s for s in description["servers"] if s["name"] == "app-1")
    port = vm_port(description, server)
    own_lab.remove_vm("app-1")
    discover_into(own_lab, store_path, limit="compute1")
    after = {o["id"]: o for o in store.find("objects", "lab")}
    devices = port["devices"]
    assert set(before) - set(after) == {server["id"], port["id"]} | {
        f"compute1-{devices[d]}" for d in ("tap", "qbr")}
    for obj_id, obj in after.items():
        if "compute1" not in obj["hosts"]:
            assert obj["generation"] == before[obj_id]["generation"], obj_id


def test_each_vms_clique_spans_its_path_and_the_tunnels_of_its_network(discovered,
                                                                      description):
    _, _, store = discovered
    hosts = {h["name"]: h for h in description["hosts"]}
    for server in description["servers"]:
        port = vm_port(description, server)
        host = hosts[server["host"]]
        clique = store.get("cliques", "lab", f"instance:{server['id']}")
        nodes = set(clique["nodes"])
        devices = port["devices"]
        expected = {server["id"], f"{host['name']}-{devices['tap']}", f"{host['name']}-eth1",
                    port["network_id"]}
        if "qbr" in devices:
            expected.add(f"{host['name']}-{devices['qbr']}")
        if host["layout"] == "linuxbridge":
            expected.add(f"{host['name']}-{devices['bridge']}")
        else:
            expected.add(host["system_id"])
        serving = {p["binding:host_id"] for p in description["ports"]
                   if p["network_id"] == port["network_id"]}
        expected |= {f"{h}-otep-{hosts[h]['tunnel_ip']}" for h in serving}
        assert expected <= nodes, server["name"]
        assert {n for n in nodes if "-otep-" in n} == \
            {f"{h}-otep-{hosts[h]['tunnel_ip']}" for h in serving}
        assert set(clique["hosts"]) == serving


def test_an_unreachable_host_stops_the_scan_and_the_inventory_stays(own_lab, tmp_path):
    """Runs after the other tests of own_lab: it leaves that lab's compute2 without sshd."""
    store_path = tmp_path / "inventory.db"
    discover_into(own_lab, store_path)
    store = EmbeddedStore(store_path)
    before = store.find("objects", "lab")
    hosts.kill_processes([own_lab._record()["sshd"]["compute2"]])
    with pytest.raises(DiscoveryFailed, match="compute2"):
        discover_into(own_lab, store_path)
    assert store.find("objects", "lab") == before
    assert [s["generation"] for s in store.scans("lab") if s["state"] == "committed"] == [1]


def test_a_scan_killed_midway_leaves_the_previous_inventory(lab, tmp_path):
    """Discovery of the lab killed (SIGKILL, whole process group) after its scan began and
    before it committed: the embedded store's writer lock is taken by the test as soon as the
    scan is seen running, so the scanner blocks inside the scan and dies there."""
    store_path = tmp_path / "inventory.db"
    inventory = Path(lab.status()["inventory"])
    discover(inventory, "lab", str(store_path))
    store = EmbeddedStore(store_path)
    before = store.find("objects", "lab")
    env = {**os.environ, **ansible_env(), "CALIPSO_STORE": str(store_path)}
    for _attempt in range(5):
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
             str(DISCOVER_PLAYBOOK), "-e", "calipso_environment=lab"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        lock = os.open(str(store_path) + ".lock", os.O_RDWR | os.O_CREAT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                scans = EmbeddedStore(store_path).scans("lab", limit=1)
                if scans and scans[0]["state"] == "running":
                    fcntl.flock(lock, fcntl.LOCK_EX)  # the scanner's next write waits here
                    break
                time.sleep(0.002)
            caught = EmbeddedStore(store_path).scans("lab", limit=1)[0]["state"] == "running"
            # The scan may have finished before it was caught: its group is gone then.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            os.close(lock)  # releases the lock
        if caught:
            break
    assert caught, "the scan was never caught running"
    after = EmbeddedStore(store_path)
    assert after.find("objects", "lab") == before
    assert [s["state"] for s in after.scans("lab")][:2] == ["running", "committed"]
    report = discover(inventory, "lab", str(store_path))  # the next scan cleans up and commits
    assert report["documents_written"] == 0
    assert EmbeddedStore(store_path).find("objects", "lab") == before
