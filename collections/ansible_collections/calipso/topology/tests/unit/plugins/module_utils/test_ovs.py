# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""OVS facts parsed from outputs recorded on the local lab (Debian openvswitch-switch 3.1,
fixtures/ovs/lab-<host>.json, captured by tools/capture_lab_outputs.py), checked against the lab
description they were captured from (fixtures/lab-description.json)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.calipso.topology.plugins.module_utils.ovs import (
    collect_ovs,
    parse_flows,
    table_argv,
)
from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    RecordedSource,
)
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_json


load = fixture_json


DESCRIPTION = load("lab-description.json")
OVS_HOSTS = [h for h in DESCRIPTION["hosts"] if h["ovs_bridges"]]


def facts_of(host, flows=False):
    return collect_ovs(RecordedSource(load("ovs/lab-%s.json" % host)), {"flows": flows})


def interfaces(facts):
    return dict((i["name"], i) for b in facts["bridges"] for p in b["ports"]
                for i in p["interfaces"])


@pytest.mark.parametrize("host", OVS_HOSTS, ids=lambda h: h["name"])
def test_switch_identity_and_bridges(host):
    facts = facts_of(host["name"])
    assert facts["present"] and facts["running"]
    assert facts["version"] == "3.1.0"
    assert facts["system_id"] == host["system_id"]
    assert facts["hostname"] == host["name"]
    assert [b["name"] for b in facts["bridges"]] == sorted(host["ovs_bridges"])
    assert set(b["datapath_type"] for b in facts["bridges"]) == {"netdev"}
    assert "netdev" in facts["datapath_types"]
    fail_modes = dict((b["name"], b["fail_mode"]) for b in facts["bridges"])
    assert fail_modes["br-int"] == "secure" and fail_modes["br-phy"] is None


@pytest.mark.parametrize("host", OVS_HOSTS, ids=lambda h: h["name"])
def test_tunnels_resolved_to_every_other_host(host):
    facts = facts_of(host["name"])
    others = sorted(h["tunnel_ip"] for h in DESCRIPTION["hosts"] if h["name"] != host["name"])
    assert sorted(t["remote_ip"] for t in facts["tunnels"]) == others
    for tunnel in facts["tunnels"]:
        assert tunnel["type"] == "vxlan" and tunnel["bridge"] == "br-tun"
        assert tunnel["local_ip"] == host["tunnel_ip"]
        assert tunnel["key"] == "flow" and tunnel["dst_port"] == "4789"
        assert isinstance(tunnel["ofport"], int)


@pytest.mark.parametrize("host", OVS_HOSTS, ids=lambda h: h["name"])
def test_patch_pairs_resolved_once(host):
    pairs = facts_of(host["name"])["patch_pairs"]
    ends = set((p["bridge"], p["peer_bridge"]) for p in pairs)
    assert ("br-tun", "br-int") in ends
    if "br-ex" in host["ovs_bridges"]:
        assert ("br-int", "br-ex") in ends
    assert len(pairs) == len(ends)


@pytest.mark.parametrize("host", OVS_HOSTS, ids=lambda h: h["name"])
def test_neutron_ports_with_local_vlans_and_external_ids(host):
    facts = facts_of(host["name"])
    ports = dict((p["name"], p) for b in facts["bridges"] for p in b["ports"])
    by_iface_id = dict((i["external_ids"]["iface-id"], i) for i in interfaces(facts).values()
                       if "iface-id" in i["external_ids"])
    expected = [p for p in DESCRIPTION["ports"] if p["binding:host_id"] == host["name"]
                and p["devices"].get("bridge") in ("br-int", "br-ex")]
    assert set(by_iface_id) == set(p["id"] for p in expected)
    for port in expected:
        interface = by_iface_id[port["id"]]
        assert interface["external_ids"]["attached-mac"] == port["mac_address"]
        assert interface["bridge"] == port["devices"]["bridge"]
        if interface["bridge"] == "br-int":
            assert ports[interface["port"]]["tag"] == host["local_vlans"][port["network_id"]]
        if port["device_owner"] == "compute:nova":
            assert interface["external_ids"]["vm-uuid"] == port["device_id"]


def test_interface_details_of_an_internal_port_moved_to_a_namespace():
    facts = facts_of("controller")
    dhcp = [i for i in interfaces(facts).values() if i["type"] == "internal"
            and i["name"].startswith("tap")]
    assert dhcp
    for interface in dhcp:
        assert interface["admin_state"] in ("up", "down")
        assert interface["ofport"] > 0


def test_flow_summary_per_table():
    br_tun = [b for b in facts_of("compute1", flows=True)["bridges"] if b["name"] == "br-tun"][0]
    tables = br_tun["flows"]["tables"]
    assert set(["0", "2", "4", "10", "20", "22"]) <= set(tables)
    assert br_tun["flows"]["total"] == sum(t["flows"] for t in tables.values())
    without = [b for b in facts_of("compute1")["bridges"] if b["name"] == "br-tun"][0]
    assert "flows" not in without


def test_ovs_not_installed_is_a_fact():
    facts = collect_ovs(RecordedSource({}), {})
    assert facts["present"] is False and facts["bridges"] == []


class FailingSource:
    def run(self, argv, check=True):
        raise CommandError(" ".join(argv), "exited 1: database connection failed")


def test_database_not_answering_is_a_fact():
    facts = collect_ovs(FailingSource(), {})
    assert facts["present"] is True and facts["running"] is False
    assert "database connection failed" in facts["error"]


@pytest.mark.parametrize("table, text, message", [
    ("Bridge", '{"headings": ["name"], "data": [', "malformed OVSDB JSON"),
    ("Bridge", "", "malformed OVSDB JSON"),
    ("Port", '{"headings": ["name", "tag"], "data": [["p1"]]}', "1 columns, expected 2"),
    ("Interface", '{"data": []}', "malformed OVSDB JSON"),
])
def test_malformed_output_names_the_command(table, text, message):
    outputs = load("ovs/lab-compute1.json")
    outputs[" ".join(table_argv(table))] = text
    with pytest.raises(CommandError) as error:
        collect_ovs(RecordedSource(outputs), {})
    assert error.value.command == " ".join(table_argv(table))
    assert message in str(error.value)


def test_unreadable_flow_line_names_the_command():
    with pytest.raises(CommandError, match="ovs-ofctl dump-flows br-int: unreadable"):
        parse_flows("ovs-ofctl dump-flows br-int", " cookie=0x0, garbage\n")


def test_bond_trunks_controller_and_ovn_encap_ids():
    """fixtures/ovs/bonded-switch.json: recorded from a private OVS 3.1 (userspace datapath) set
    up with a balance-slb LACP bond of two veths trunking VLANs 100 and 200, an OpenFlow
    controller target, OpenFlow 1.0/1.3 and OVN encap external_ids."""
    facts = collect_ovs(RecordedSource(load("ovs/bonded-switch.json")), {})
    assert facts["external_ids"]["ovn-encap-ip"] == "192.0.2.10"
    assert facts["external_ids"]["ovn-encap-type"] == "geneve"
    bridge = facts["bridges"][0]
    assert bridge["protocols"] == ["OpenFlow10", "OpenFlow13"]
    assert bridge["controllers"] == [{"target": "tcp:127.0.0.1:6653", "role": None,
                                      "is_connected": False}]
    bond = [p for p in bridge["ports"] if p["name"] == "bond0"][0]
    assert bond["bond_mode"] == "balance-slb" and bond["lacp"] == "active"
    assert bond["bond_members"] == ["p1", "p2"]
    assert [i["name"] for i in bond["interfaces"]] == ["p1", "p2"]
    assert bond["trunks"] == [100, 200] and bond["vlan_mode"] == "trunk"
    assert bond["tag"] is None
