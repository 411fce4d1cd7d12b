"""The facts modules on the lab over SSH, through Ansible like any playbook would run them, each
host's facts checked against the lab description."""

from __future__ import annotations

from pathlib import Path

import pytest

from calipso_core.ansible_run import run_module
from calipso_core.lab.ovs import tunnel_port_name
from calipso_core.lab.spec import hosts_serving, tap_mac


@pytest.fixture(scope="module")
def gathered(lab):
    """module name -> host -> outcome, each module run once on every host."""
    inventory = Path(lab.status()["inventory"])
    return {name: run_module(inventory, f"calipso.topology.{name}", args)
            for name, args in (("ovs_facts", "flows=true"), ("linuxbridge_facts", ""),
                               ("vpp_facts", ""), ("host_facts", ""),
                               ("network_facts", "flows=true"))}


def facts(gathered, module, host, key):
    outcome = gathered[module][host]
    assert outcome.status == "ok", outcome.result
    return outcome.result["ansible_facts"][key]


def test_ovs_facts_on_every_host(gathered, description):
    for host in description["hosts"]:
        ovs = facts(gathered, "ovs_facts", host["name"], "calipso_ovs")
        if not host["ovs_bridges"]:
            # The lab's hosts share this machine's binaries: OVS is installed everywhere but
            # runs nowhere on the Linux-bridge host, which is a fact, not a failure.
            assert ovs["running"] is False and ovs["bridges"] == []
            assert "ovs-vsctl" in ovs["error"]
            continue
        assert ovs["running"] and ovs["hostname"] == host["name"]
        assert ovs["system_id"] == host["system_id"]
        assert sorted(b["name"] for b in ovs["bridges"]) == sorted(host["ovs_bridges"])
        others = [h for h in description["hosts"] if h["name"] != host["name"]]
        assert {(t["port"], t["remote_ip"], t["local_ip"]) for t in ovs["tunnels"]} == \
            {(tunnel_port_name(o["tunnel_ip"]), o["tunnel_ip"], host["tunnel_ip"]) for o in others}
        tags = {i["external_ids"]["iface-id"]: (p["tag"], i["external_ids"]["attached-mac"])
                for b in ovs["bridges"] if b["name"] == "br-int" for p in b["ports"]
                for i in p["interfaces"] if "iface-id" in i["external_ids"]}
        expected = {p["id"]: (host["local_vlans"][p["network_id"]], p["mac_address"])
                    for p in description["ports"]
                    if p["binding:host_id"] == host["name"]
                    and p["devices"].get("bridge") == "br-int"}
        assert tags == expected
        br_tun = next(b for b in ovs["bridges"] if b["name"] == "br-tun")
        assert br_tun["flows"]["total"] > 0


def test_linuxbridge_facts_on_every_host(gathered, description):
    tunnel_ip = {h["name"]: h["tunnel_ip"] for h in description["hosts"]}
    for host in description["hosts"]:
        lb = facts(gathered, "linuxbridge_facts", host["name"], "calipso_linuxbridge")
        bridges = {b["name"]: b for b in lb["bridges"]}
        ports = [p for p in description["ports"] if p["binding:host_id"] == host["name"]
                 and p["device_owner"] == "compute:nova"]
        if host["layout"] == "linuxbridge":
            for port in ports:
                members = {m["name"] for m in bridges[port["devices"]["bridge"]]["members"]}
                assert port["devices"]["tap"] in members
            vxlans = {v["vni"]: v for v in lb["vxlans"]}
            for net in description["networks"]:
                if host["name"] in hosts_serving(description, net["id"]):
                    vxlan = vxlans[net["provider:segmentation_id"]]
                    assert vxlan["local"] == host["tunnel_ip"]
                    assert vxlan["flood_destinations"] == sorted(
                        tunnel_ip[h] for h in hosts_serving(description, net["id"])
                        if h != host["name"])
        elif host["layout"] == "ovs-hybrid":
            for port in ports:
                members = {m["name"] for m in bridges[port["devices"]["qbr"]]["members"]}
                assert members == {port["devices"]["tap"], port["devices"]["qvb"]}
        else:
            assert lb["vxlans"] == [] and not any(b.startswith(("qbr", "brq")) for b in bridges)


def test_vpp_facts_report_no_vpp_on_the_lab(gathered, description):
    """VPP cannot be installed here: on every lab host its absence is a fact, not a failure
    (VPP itself is covered by the unit tests' recorded outputs)."""
    for host in description["hosts"]:
        vpp = facts(gathered, "vpp_facts", host["name"], "calipso_vpp")
        assert vpp["present"] is False


def test_host_facts_on_every_host(gathered, description):
    for host in description["hosts"]:
        facts_ = facts(gathered, "host_facts", host["name"], "calipso_host")
        assert facts_["hostname"] == host["name"]
        interfaces = {i["name"]: i for i in facts_["interfaces"]}
        for nic in host["nics"]:
            # The lab's NICs are veths: no /sys device behind them, so not physical.
            assert interfaces[nic["name"]]["mac"] == nic["mac"]
            assert interfaces[nic["name"]]["physical"] is False
        addresses = {a["cidr"] for a in interfaces["eth0"]["addresses"]}
        assert f"{host['management_ip']}/24" in addresses
        for port in description["ports"]:
            if port["binding:host_id"] == host["name"] and port["device_owner"] == "compute:nova":
                tap = interfaces[port["devices"]["tap"]]
                assert tap["mac"] == tap_mac(port["mac_address"])
                assert tap["kind"] == "veth"
        namespaces = {n["name"]: n for n in facts_["namespaces"]}
        expected = {p["devices"]["namespace"] for p in description["ports"]
                    if p["binding:host_id"] == host["name"] and "namespace" in p["devices"]}
        assert set(namespaces) == expected
        for port in description["ports"]:
            namespace = port["devices"].get("namespace")
            if port["binding:host_id"] != host["name"] or namespace is None:
                continue
            assert namespaces[namespace]["kind"] == namespace.split("-")[0]
            device = port["devices"].get("tap") or port["devices"].get("qr") or \
                port["devices"]["qg"]
            inside = {i["name"]: i for i in namespaces[namespace]["interfaces"]}
            assert inside[device]["mac"] == port["mac_address"]
            ips = {a["address"] for a in inside[device]["addresses"]}
            assert port["fixed_ips"][0]["ip_address"] in ips
        assert facts_["libvirt"]["present"] is False and facts_["lldp"]["present"] is False


def test_network_facts_gathers_the_four_in_one_task(gathered, description):
    singles = {"ovs_facts": "calipso_ovs", "linuxbridge_facts": "calipso_linuxbridge",
               "vpp_facts": "calipso_vpp"}
    for host in description["hosts"]:
        combined = gathered["network_facts"][host["name"]]
        assert combined.status == "ok", combined.result
        combined_facts = combined.result["ansible_facts"]
        assert set(combined_facts) >= {*singles.values(), "calipso_host"}
        for module, key in singles.items():
            single = facts(gathered, module, host["name"], key)
            if key == "calipso_ovs" and single.get("bridges"):
                # flow counters move between the two runs; the structure must not
                assert [b["name"] for b in combined_facts[key]["bridges"]] == \
                    [b["name"] for b in single["bridges"]]
                assert combined_facts[key]["tunnels"] == single["tunnels"]
            else:
                assert combined_facts[key] == single
