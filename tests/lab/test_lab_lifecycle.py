"""`up` is idempotent, a failed `up` leaves nothing, and `down` removes every namespace,
interface, process and file the lab made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from calipso_core.lab import hosts, plumbing
from calipso_core.lab.manager import Lab, LabError
from calipso_core.lab.spec import LabSize, LabSpec

SMALL = LabSpec(name="pdown", size=LabSize(computes=3, networks=2, vms_per_node=1),
                address_base="10.253")


def lab_traces(lab: Lab) -> dict[str, list]:
    """Everything on this machine that belongs to the lab."""
    namespaces = hosts.namespaces_with_prefix(hosts.lab_netns_prefix(lab.spec.name))
    return {
        "namespaces": namespaces,
        "links": hosts.links_with_prefix(hosts.root_link_prefix(lab.spec.name)),
        "processes": [p for p in hosts.processes_in(namespaces) if hosts.process_alive(p)],
        "files": [p for p in (lab.paths.state_dir, lab.paths.inventory) if p.exists()],
    }


def live(pids):
    return [p for p in pids if hosts.process_alive(p)]


@pytest.fixture
def small_lab(tmp_path):
    lab = Lab(SMALL, tmp_path / "state", tmp_path / "inventory" / "hosts.yml")
    yield lab
    lab.down()


def test_up_is_idempotent_and_down_leaves_nothing(small_lab):
    small_lab.up()
    traces = lab_traces(small_lab)
    description = small_lab.description()
    assert len(traces["namespaces"]) == len(description["hosts"]) + len(description["servers"])
    # OVS (2 daemons) on 3 hosts, sshd on 4, dnsmasq per network, anchors: all found by
    # namespace, which is how down finds them.
    names = {Path(f"/proc/{p}/comm").read_text().strip() for p in traces["processes"]}
    assert {"ovsdb-server", "ovs-vswitchd", "sshd", "dnsmasq", "sleep"} <= names
    api_pid = small_lab._record()["api"]["pid"]
    assert hosts.process_alive(api_pid)

    anchors = dict(small_lab._record()["anchors"])
    small_lab.up()  # already up as specified: nothing is rebuilt
    assert small_lab._record()["anchors"] == anchors
    assert lab_traces(small_lab)["namespaces"] == traces["namespaces"]

    small_lab.down()
    assert lab_traces(small_lab) == {"namespaces": [], "links": [], "processes": [], "files": []}
    assert live(traces["processes"]) == []
    assert not hosts.process_alive(api_pid)
    assert not any(name.startswith("cl" + SMALL.name) for name in os.listdir("/sys/class/net"))


def test_up_rebuilds_a_lab_whose_processes_died(small_lab):
    small_lab.up()
    sshd = small_lab._record()["sshd"]["compute1"]
    hosts.kill_processes([sshd])
    assert not small_lab.is_up()
    small_lab.up()
    assert small_lab.is_up()
    assert small_lab._record()["sshd"]["compute1"] != sshd


def test_a_failed_up_leaves_nothing_behind(small_lab, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure while plumbing routers")

    monkeypatch.setattr(plumbing, "plumb_routers", broken)
    with pytest.raises(RuntimeError, match="injected failure"):
        small_lab.up()
    assert lab_traces(small_lab) == {"namespaces": [], "links": [], "processes": [], "files": []}


def test_up_refuses_addresses_already_in_use(small_lab, tmp_path):
    small_lab.up()
    clash = Lab(LabSpec(name="pclash", size=SMALL.size, address_base=SMALL.address_base),
                tmp_path / "clash", tmp_path / "clash-inventory.yml")
    with pytest.raises(LabError, match="in use"):
        clash.up()
    assert lab_traces(clash)["namespaces"] == []
