"""Each host's own switches, seen over SSH with plain ovs-vsctl, bridge and ip, hold exactly the
bridges, ports, tags, external_ids and tunnels of the lab description."""

from __future__ import annotations

import json

import pytest

from calipso_core.lab.ovs import tunnel_port_name
from calipso_core.lab.spec import hosts_serving
from tests.conftest import ssh


def ovs_table(lab, host: str, table: str) -> list[dict]:
    """Rows of an OVSDB table over SSH, with OVSDB's JSON value encoding decoded."""
    out = json.loads(ssh(lab, host, ["ovs-vsctl", "--format=json", "list", table]))
    return [{col: decode(value) for col, value in zip(out["headings"], row, strict=True)}
            for row in out["data"]]


def decode(value):
    if isinstance(value, list) and value and value[0] == "map":
        return {k: decode(v) for k, v in value[1]}
    if isinstance(value, list) and value and value[0] == "set":
        return [decode(v) for v in value[1]]
    if isinstance(value, list) and value and value[0] == "uuid":
        return value[1]
    return value


def ovs_hosts(description):
    return [h for h in description["hosts"] if h["ovs_bridges"]]


@pytest.mark.parametrize("host_name", ["controller", "compute1", "compute2"])
def test_ovs_host_has_its_own_bridges_and_identity(lab, description, host_name):
    host = next(h for h in description["hosts"] if h["name"] == host_name)
    bridges = {b["name"]: b for b in ovs_table(lab, host_name, "Bridge")}
    assert set(bridges) == set(host["ovs_bridges"])
    assert {b["datapath_type"] for b in bridges.values()} == {"netdev"}
    assert bridges["br-int"]["fail_mode"] == "secure"
    switch = ovs_table(lab, host_name, "Open_vSwitch")[0]
    assert switch["external_ids"]["system-id"] == host["system_id"]
    assert switch["external_ids"]["hostname"] == host_name


@pytest.mark.parametrize("host_name", ["controller", "compute1", "compute2"])
def test_tunnels_reach_every_other_host_from_the_tunnel_ip(lab, description, host_name):
    host = next(h for h in description["hosts"] if h["name"] == host_name)
    interfaces = {i["name"]: i for i in ovs_table(lab, host_name, "Interface")}
    vxlan = {n: i for n, i in interfaces.items() if i["type"] == "vxlan"}
    others = [h for h in description["hosts"] if h["name"] != host_name]
    assert set(vxlan) == {tunnel_port_name(h["tunnel_ip"]) for h in others}
    for other in others:
        options = vxlan[tunnel_port_name(other["tunnel_ip"])]["options"]
        assert options["remote_ip"] == other["tunnel_ip"]
        assert options["local_ip"] == host["tunnel_ip"]
        assert options["key"] == "flow"
    assert interfaces["patch-tun"]["options"]["peer"] == "patch-int"
    # The tunnel IP is on br-phy, where OVS userspace tunnelling routes from.
    addrs = json.loads(ssh(lab, host_name, ["ip", "-j", "addr", "show", "dev", "br-phy"]))
    assert host["tunnel_ip"] in [a["local"] for a in addrs[0]["addr_info"]]


@pytest.mark.parametrize("host_name", ["controller", "compute1", "compute2"])
def test_neutron_ports_carry_local_vlan_and_external_ids(lab, description, host_name):
    host = next(h for h in description["hosts"] if h["name"] == host_name)
    ports = {p["name"]: p for p in ovs_table(lab, host_name, "Port")}
    interfaces = {i["name"]: i for i in ovs_table(lab, host_name, "Interface")}
    expected = [p for p in description["ports"]
                if p["binding:host_id"] == host_name and p["devices"].get("bridge") == "br-int"]
    assert expected
    for port in expected:
        devices = port["devices"]
        name = devices.get("qvo") or devices.get("qr") or devices["tap"]
        assert ports[name]["tag"] == host["local_vlans"][port["network_id"]]
        ids = interfaces[name]["external_ids"]
        assert ids["iface-id"] == port["id"]
        assert ids["attached-mac"] == port["mac_address"]
        assert ids["iface-status"] == "active"
        if port["device_owner"] == "compute:nova":
            assert ids["vm-uuid"] == port["device_id"]
    tagged = {n for n, p in ports.items() if p["tag"]}
    assert len(tagged) == len(expected)


def test_hybrid_host_plugs_vm_taps_into_qbr_bridges(lab, description):
    links = {link["ifname"]: link for link in
             json.loads(ssh(lab, "compute1", ["ip", "-j", "-d", "link", "show"]))}
    vm_ports = [p for p in description["ports"]
                if p["binding:host_id"] == "compute1" and p["device_owner"] == "compute:nova"]
    assert vm_ports
    for port in vm_ports:
        d = port["devices"]
        assert links[d["tap"]]["master"] == d["qbr"]
        assert links[d["qvb"]]["master"] == d["qbr"]
        assert links[d["qbr"]]["linkinfo"]["info_kind"] == "bridge"


def test_linuxbridge_host_has_brq_bridges_and_vxlan_floods(lab, description):
    host = next(h for h in description["hosts"] if h["layout"] == "linuxbridge")
    name = host["name"]
    tunnel_ip = {h["name"]: h["tunnel_ip"] for h in description["hosts"]}
    vxlans = {link["ifname"]: link for link in json.loads(
        ssh(lab, name, ["ip", "-j", "-d", "link", "show", "type", "vxlan"]))}
    served = [n for n in description["networks"] if name in hosts_serving(description, n["id"])]
    assert served
    assert set(vxlans) == {f"vxlan-{n['provider:segmentation_id']}" for n in served}
    fdb = json.loads(ssh(lab, name, ["bridge", "-j", "fdb", "show"]))
    for net in served:
        device = f"vxlan-{net['provider:segmentation_id']}"
        data = vxlans[device]["linkinfo"]["info_data"]
        assert data["id"] == net["provider:segmentation_id"]
        assert data["local"] == host["tunnel_ip"]
        assert data["port"] == 4789
        floods = {e["dst"] for e in fdb if e.get("ifname") == device
                  and e["mac"] == "00:00:00:00:00:00"}
        assert floods == {tunnel_ip[h] for h in hosts_serving(description, net["id"]) if h != name}
    links = {link["ifname"]: link for link in
             json.loads(ssh(lab, name, ["ip", "-j", "link", "show"]))}
    for port in description["ports"]:
        if port["binding:host_id"] == name:
            assert links[port["devices"]["tap"]]["master"] == port["devices"]["bridge"]
    # No OVS runs on a Linux-bridge agent host.
    assert ssh(lab, name, ["ovs-vsctl", "--timeout=2", "show"], check=False) == ""


def test_only_the_network_node_has_service_namespaces(lab, description):
    for host in description["hosts"]:
        listed = {line.split()[0] for line in
                  ssh(lab, host["name"], ["ip", "netns", "list"]).splitlines() if line}
        expected = {p["devices"]["namespace"] for p in description["ports"]
                    if p["binding:host_id"] == host["name"] and "namespace" in p["devices"]}
        assert listed == expected
    controller_ns = ssh(lab, "controller", ["ip", "netns", "list"])
    assert any(line.startswith("qdhcp-") for line in controller_ns.splitlines())
    assert any(line.startswith("qrouter-") for line in controller_ns.splitlines())
