# -*- coding: utf-8 -*-
# Copyright: Calipso developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Linux-bridge facts parsed from outputs recorded on the local lab (Debian 12: iproute2 6.1,
bridge-utils 1.7.1; fixtures/linuxbridge/lab-<host>.json), checked against the lab description
they were captured from."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.calipso.topology.plugins.module_utils.linuxbridge import (
    BRCTL,
    FDB,
    LINKS,
    collect_linuxbridge,
    parse_brctl,
)
from ansible_collections.calipso.topology.plugins.module_utils.sources import (
    CommandError,
    RecordedSource,
)
from ansible_collections.calipso.topology.tests.unit.plugins.recorded import fixture_json


load = fixture_json


DESCRIPTION = load("lab-description.json")
LB_HOST = [h for h in DESCRIPTION["hosts"] if h["layout"] == "linuxbridge"][0]
HYBRID_HOST = [h for h in DESCRIPTION["hosts"] if h["layout"] == "ovs-hybrid"][0]
TUNNEL_IP = dict((h["name"], h["tunnel_ip"]) for h in DESCRIPTION["hosts"])


def serving(network_id):
    return sorted(set(p["binding:host_id"] for p in DESCRIPTION["ports"]
                      if p["network_id"] == network_id))


def test_linuxbridge_agent_host_bridges_members_and_vxlans():
    facts = collect_linuxbridge(RecordedSource(load("linuxbridge/lab-compute3.json")), {})
    assert facts["present"] and facts["source"] == "iproute2"
    bridges = dict((b["name"], b) for b in facts["bridges"])
    vxlans = dict((v["name"], v) for v in facts["vxlans"])
    networks = dict((n["id"], n) for n in DESCRIPTION["networks"])
    vm_ports = [p for p in DESCRIPTION["ports"] if p["binding:host_id"] == LB_HOST["name"]]
    assert set(bridges) == set(p["devices"]["bridge"] for p in vm_ports)
    for port in vm_ports:
        network = networks[port["network_id"]]
        vni = network["provider:segmentation_id"]
        bridge = bridges[port["devices"]["bridge"]]
        members = dict((m["name"], m) for m in bridge["members"])
        assert set(members) == {port["devices"]["tap"], "vxlan-%d" % vni}
        assert members[port["devices"]["tap"]]["port_state"] == "forwarding"
        assert members[port["devices"]["tap"]]["kind"] == "veth"
        assert bridge["stp"] is False and bridge["vlan_filtering"] is False
        vxlan = vxlans["vxlan-%d" % vni]
        assert vxlan["vni"] == vni and vxlan["local"] == LB_HOST["tunnel_ip"]
        assert vxlan["port"] == 4789 and vxlan["device"] == "eth1"
        assert vxlan["learning"] is False and vxlan["bridge"] == bridge["name"]
        assert vxlan["flood_destinations"] == sorted(
            TUNNEL_IP[h] for h in serving(network["id"]) if h != LB_HOST["name"])


def test_hybrid_host_qbr_bridges_hold_tap_and_qvb():
    facts = collect_linuxbridge(RecordedSource(load("linuxbridge/lab-compute1.json")), {})
    bridges = dict((b["name"], b) for b in facts["bridges"])
    for port in DESCRIPTION["ports"]:
        if port["binding:host_id"] == HYBRID_HOST["name"] and "qbr" in port["devices"]:
            members = [m["name"] for m in bridges[port["devices"]["qbr"]]["members"]]
            assert members == sorted([port["devices"]["tap"], port["devices"]["qvb"]])
    assert facts["vxlans"] == []


def test_fdb_entries_belong_to_bridges():
    facts = collect_linuxbridge(RecordedSource(load("linuxbridge/lab-compute3.json")), {})
    bridge_names = set(b["name"] for b in facts["bridges"])
    assert facts["fdb"]
    for entry in facts["fdb"]:
        assert entry["bridge"] in bridge_names or entry["dst"]


def test_brctl_fallback_when_iproute2_prints_no_json():
    outputs = load("linuxbridge/lab-compute3.json")
    outputs[" ".join(LINKS)] = None
    facts = collect_linuxbridge(RecordedSource(outputs), {})
    assert facts["source"] == "brctl"
    expected = collect_linuxbridge(RecordedSource(load("linuxbridge/lab-compute3.json")), {})
    assert [(b["name"], sorted(b["members"])) for b in facts["bridges"]] == \
        [(b["name"], [m["name"] for m in b["members"]]) for b in expected["bridges"]]


def test_brctl_output_of_bridges_with_no_and_several_members():
    text = ("bridge name\tbridge id\t\tSTP enabled\tinterfaces\n"
            "br0\t\t8000.000000000000\tno\t\t\n"
            "qbr1\t\t8000.fe163e000001\tyes\t\tqvb1\n"
            "\t\t\t\t\t\t\ttap1\n")
    bridges = parse_brctl(text)
    assert bridges == [
        {"name": "br0", "bridge_id": "8000.000000000000", "stp": False, "members": []},
        {"name": "qbr1", "bridge_id": "8000.fe163e000001", "stp": True,
         "members": ["qvb1", "tap1"]},
    ]


def test_nothing_to_read_bridges_with_is_a_fact():
    facts = collect_linuxbridge(RecordedSource({}), {})
    assert facts["present"] is False and facts["bridges"] == []


@pytest.mark.parametrize("argv, text, message", [
    (LINKS, '[{"ifname": "br0", "linkinfo": {"info_kind": "bri', "malformed JSON"),
    (FDB, "[{", "malformed JSON"),
    (FDB, '{"mac": "x"}', "expected a JSON list"),
])
def test_malformed_output_names_the_command(argv, text, message):
    outputs = load("linuxbridge/lab-compute3.json")
    outputs[" ".join(argv)] = text
    with pytest.raises(CommandError) as error:
        collect_linuxbridge(RecordedSource(outputs), {})
    assert error.value.command == " ".join(argv)
    assert message in str(error.value)


@pytest.mark.parametrize("text", ["garbage\n", "bridge name\tbridge id\n\tmember-first\n"])
def test_malformed_brctl_is_an_error(text):
    with pytest.raises(CommandError) as error:
        parse_brctl(text)
    assert error.value.command == " ".join(BRCTL)
