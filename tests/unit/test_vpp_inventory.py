"""A VPP host's inventory from vpp_facts parsed out of recorded outputs in the formats of real
VPP releases (the collection's fixtures/vpp)."""

from __future__ import annotations

import pytest
from ansible_collections.calipso.topology.plugins.module_utils.sources import RecordedSource
from ansible_collections.calipso.topology.plugins.module_utils.vpp import collect_vpp
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import recorded_folder

from calipso_core.discovery.cloud_inventory import CloudView, correlate
from calipso_core.discovery.host_inventory import build_host


def vpp_host(release: str):
    facts = collect_vpp(RecordedSource(recorded_folder("vpp", release)), {})
    return facts, build_host("vpp1", {"calipso_vpp": facts, "calipso_host": {}})


@pytest.mark.parametrize("release", ["16.09", "19.08", "24.02"])
def test_vpp_switch_bridge_domains_vnics_and_tunnels(release):
    facts, inv = vpp_host(release)
    objects = {o["id"]: o for o in inv.objects}
    links = inv.links
    assert objects["vpp1-vpp"]["attributes"]["switch"] == "vpp"
    for bd in facts["bridge_domains"]:
        bridge = objects[f"vpp1-bd-{bd['bd_id']}"]
        assert bridge["attributes"]["members"] == [m["interface"] for m in bd["members"]]
    for vhost in facts["vhost_user"]:
        vnic = objects[f"vpp1-{vhost['interface']}"]
        member_of = [b for b in facts["bridge_domains"]
                     if vhost["interface"] in [m["interface"] for m in b["members"]]]
        on_bridges = [x for x in links if x["link_type"] == "vnic-vconnector"
                      and x["source_id"] == vnic["id"]]
        assert len(on_bridges) == len(member_of)
        expected = "up" if vhost["connected"] else "down"
        assert all(x["state"] in (expected, "down") for x in on_bridges)
    sources = {t["src"] for t in facts["vxlan_tunnels"]}
    oteps = [o for o in inv.objects if o["type"] == "otep"]
    assert {o["attributes"]["local_ip"] for o in oteps} == sources
    for otep in oteps:
        remotes = {t["dst"] for t in facts["vxlan_tunnels"]
                   if t["src"] == otep["attributes"]["local_ip"] and not t["multicast"]}
        assert set(otep["attributes"]["remote_ips"]) == remotes
    dpdk_nics = [h for h in facts["hardware_interfaces"] if h.get("pci_address")]
    assert len([o for o in inv.objects if o["type"] == "host_pnic"]) == len(dpdk_nics)


def test_vhost_user_vnic_joins_its_neutron_port_by_socket_name():
    facts, inv = vpp_host("24.02")
    vhost = facts["vhost_user"][0]
    # vhu<the port id's first 11 characters>.sock, as OVS-DPDK and VPP plug Neutron ports
    prefix = vhost["socket"].rsplit("/", 1)[1].removeprefix("vhu").lstrip("-")[:11]
    port_id = prefix + "bc-4d5e-8f90-0123456789ab"
    port = {"id": port_id, "network_id": "net-1", "binding_host_id": "vpp1",
            "mac_address": "fa:16:3e:00:00:01", "fixed_ips": [], "device_owner": "compute:nova",
            "device_id": "vm-1", "project_id": "p"}
    links = correlate(inv.objects, CloudView(ports=[port], servers=[{"id": "vm-1"}]))
    vnic = next(o for o in inv.objects if o["name"] == vhost["interface"])
    assert vnic["attributes"]["port_id"] == port_id
    assert [x["source_id"] for x in links] == ["vm-1"]
