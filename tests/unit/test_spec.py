"""The lab description: deterministic, unique, Neutron-shaped, and valid Linux names."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from calipso_core.lab.spec import (
    COMPUTE_LAYOUTS,
    LabSize,
    LabSpec,
    LabSpecError,
    describe,
    hosts_serving,
)


def test_same_spec_same_description_and_other_lab_other_ids():
    assert describe(LabSpec()) == describe(LabSpec())
    demo, other = describe(LabSpec()), describe(LabSpec(name="other"))
    assert {p["id"] for p in demo["ports"]}.isdisjoint(p["id"] for p in other["ports"])


def test_default_lab_is_the_hosted_tenant_scenario():
    d = describe(LabSpec())
    assert [h["layout"] for h in d["hosts"]] == ["network", *COMPUTE_LAYOUTS]
    assert {p["name"] for p in d["projects"]} == {"admin", "webshop", "analytics"}
    webshop = next(p["id"] for p in d["projects"] if p["name"] == "webshop")
    tiers = {n["name"] for n in d["networks"] if n["project_id"] == webshop}
    assert tiers == {"web", "app", "db"}
    vms = {s["name"]: s["host"] for s in d["servers"]}
    assert {name.split("-")[0] for name in vms} == {"web", "app", "db", "etl"}
    # the web, app and db servers are spread over every compute node
    assert set(vms.values()) == {"compute1", "compute2", "compute3"}


@pytest.mark.parametrize("size", [LabSize(), LabSize(computes=7, networks=5, vms_per_node=4)])
def test_ids_macs_and_addresses_are_unique(size):
    d = describe(LabSpec(size=size))
    for key in ("id", "mac_address"):
        counts = Counter(p[key] for p in d["ports"])
        assert max(counts.values()) == 1, key
    ips = Counter(p["fixed_ips"][0]["ip_address"] for p in d["ports"])
    assert max(ips.values()) == 1
    for port in d["ports"]:
        network = next(n for n in d["networks"] if n["id"] == port["network_id"])
        assert ipaddress.ip_address(port["fixed_ips"][0]["ip_address"]) in \
            ipaddress.ip_network(network["subnets"][0]["cidr"])
    vnis = [n["provider:segmentation_id"] for n in d["networks"]
            if n["provider:network_type"] == "vxlan"]
    assert len(set(vnis)) == len(vnis)


def test_device_names_fit_linux_and_follow_neutron():
    d = describe(LabSpec(name="abcdef"))
    prefixes = {"tap": "tap", "qbr": "qbr", "qvb": "qvb", "qvo": "qvo", "qr": "qr-", "qg": "qg-"}
    for port in d["ports"]:
        for role, prefix in prefixes.items():
            if role in port["devices"]:
                assert port["devices"][role] == (prefix + port["id"])[:14]
    hybrid = next(p for p in d["ports"] if "qvo" in p["devices"])
    assert hybrid["devices"]["qvo"] == "qvo" + hybrid["id"][:11]
    assert hybrid["binding:vif_details"]["ovs_hybrid_plug"] is True
    lb = next(p for p in d["ports"] if p["binding:vif_type"] == "bridge")
    assert lb["devices"]["bridge"] == "brq" + lb["network_id"][:11]


def test_local_vlans_are_per_host_and_cover_served_networks():
    d = describe(LabSpec())
    for host in d["hosts"]:
        if not host["ovs_bridges"]:
            assert host["local_vlans"] == {}
            continue
        served = {p["network_id"] for p in d["ports"] if p["binding:host_id"] == host["name"]
                  and p["devices"].get("bridge") == "br-int"}
        assert set(host["local_vlans"]) == served
        assert sorted(host["local_vlans"].values()) == list(range(1, len(served) + 1))


def test_hosts_serving_a_network_include_dhcp_and_vm_hosts():
    d = describe(LabSpec())
    web = next(n for n in d["networks"] if n["name"] == "web")
    assert hosts_serving(d, web["id"]) == ["compute1", "compute2", "controller"]


@pytest.mark.parametrize("spec, message", [
    (LabSpec(name="Demo"), "lowercase"),
    (LabSpec(name="toolongname"), "characters"),
    (LabSpec(address_base="8.8"), "private"),
    (LabSpec(address_base="10"), "two octets"),
    (LabSpec(size=LabSize(computes=0)), "computes"),
    (LabSpec(size=LabSize(networks=0)), "networks"),
])
def test_bad_parameters_are_refused_with_a_clear_error(spec, message):
    with pytest.raises(LabSpecError, match=message):
        describe(spec)
