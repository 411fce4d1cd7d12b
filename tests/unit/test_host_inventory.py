"""Objects and links built from the facts recorded on every lab host (tests/data/lab_facts),
checked against the description of the lab they were recorded on."""

from __future__ import annotations

import copy
import random

import pytest

from calipso_core.discovery.host_inventory import build_host, tunnel_links
from tests.recorded_lab import recorded_description, recorded_facts

DESCRIPTION = recorded_description()
HOSTS = {h["name"]: h for h in DESCRIPTION["hosts"]}
FACTS = recorded_facts()


def build_all(facts=FACTS):
    objects, links = [], []
    for name, host_facts in facts.items():
        inventory = build_host(name, host_facts)
        objects += inventory.objects
        links += inventory.links
    links += tunnel_links([o for o in objects if o["type"] == "otep"])
    return {o["id"]: o for o in objects}, {link["id"]: link for link in links}


OBJECTS, LINKS = build_all()


def linked(link_type, source_id=None, target_id=None):
    return [link for link in LINKS.values() if link["link_type"] == link_type
            and source_id in (None, link["source_id"]) and target_id in (None, link["target_id"])]


def vm_ports():
    return [p for p in DESCRIPTION["ports"] if p["device_owner"] == "compute:nova"]


def test_hosts_nics_and_switches():
    for name, host in HOSTS.items():
        assert OBJECTS[name]["type"] == "host"
        for nic in host["nics"]:
            pnic = OBJECTS[f"{name}-{nic['name']}"]
            assert pnic["type"] == "host_pnic" and pnic["attributes"]["mac"] == nic["mac"]
        if host["ovs_bridges"]:
            vedge = OBJECTS[host["system_id"]]
            assert vedge["type"] == "vedge" and vedge["host"] == name
            assert sorted(vedge["attributes"]["bridges"]) == sorted(host["ovs_bridges"])
    assert sum(o["type"] == "host_pnic" for o in OBJECTS.values()) == \
        sum(len(h["nics"]) for h in HOSTS.values())


def test_every_vm_port_is_a_vnic_on_its_layouts_path():
    for port in vm_ports():
        host = HOSTS[port["binding:host_id"]]
        devices = port["devices"]
        vnic = OBJECTS[f"{host['name']}-{devices['tap']}"]
        assert vnic["attributes"]["side"] == "instance"
        if host["layout"] == "ovs-hybrid":
            qbr = f"{host['name']}-{devices['qbr']}"
            assert linked("vnic-vconnector", vnic["id"], qbr)[0]["state"] == "up"
            [to_ovs] = linked("vconnector-vedge", qbr, host["system_id"])
            assert to_ovs["attributes"]["tag"] == host["local_vlans"][port["network_id"]]
        elif host["layout"] == "ovs-native":
            [to_ovs] = linked("vnic-vedge", vnic["id"], host["system_id"])
            assert to_ovs["state"] == "up"
            assert to_ovs["attributes"]["tag"] == host["local_vlans"][port["network_id"]]
        else:
            brq = f"{host['name']}-{devices['bridge']}"
            assert linked("vnic-vconnector", vnic["id"], brq)[0]["state"] == "up"
        if host["ovs_bridges"]:
            # OVS external_ids name Neutron's port and Nova's instance
            assert vnic["attributes"]["port_id"] == port["id"]
            assert vnic["attributes"]["guest_mac"] == port["mac_address"]
            assert OBJECTS[port["device_id"]]["type"] == "instance"
            assert linked("instance-vnic", port["device_id"], vnic["id"])
        else:
            # nothing on a Linux-bridge host names them without the cloud's API
            assert vnic["attributes"]["port_id"] is None


def test_service_namespaces_and_their_ports():
    for port in DESCRIPTION["ports"]:
        namespace = port["devices"].get("namespace")
        if namespace is None:
            continue
        host = port["binding:host_id"]
        service = OBJECTS[f"{host}-{namespace}"]
        expected_type = "dhcp" if namespace.startswith("qdhcp-") else "router"
        assert service["attributes"]["service_type"] == expected_type
        device = port["devices"].get("tap") or port["devices"].get("qr") or port["devices"]["qg"]
        vnic = OBJECTS[f"{host}-{namespace}-{device}"]
        assert vnic["attributes"]["mac"] == port["mac_address"]
        assert vnic["attributes"]["port_id"] == port["id"]
        assert f"{port['fixed_ips'][0]['ip_address']}/" in " ".join(vnic["attributes"]["addresses"])
        assert linked("vservice-vnic", service["id"], vnic["id"])[0]["state"] == "up"
        assert linked("vnic-vedge", vnic["id"], HOSTS[host]["system_id"])[0]["state"] == "up"


def test_one_otep_per_host_and_tunnels_between_every_pair():
    oteps = {o["host"]: o for o in OBJECTS.values() if o["type"] == "otep"}
    assert set(oteps) == set(HOSTS)
    for name, otep in oteps.items():
        assert otep["attributes"]["local_ip"] == HOSTS[name]["tunnel_ip"]
        assert linked("otep-host_pnic", otep["id"], f"{name}-eth1")
    tunnels = linked("otep-otep")
    assert len(tunnels) == len(HOSTS) * (len(HOSTS) - 1) // 2
    assert {t["state"] for t in tunnels} == {"up"}
    lb_host = next(n for n, h in HOSTS.items() if h["layout"] == "linuxbridge")
    assert len(linked("otep-vconnector", oteps[lb_host]["id"])) == \
        sum(1 for o in OBJECTS.values() if o["type"] == "vconnector" and o["host"] == lb_host)


def test_a_tunnel_configured_at_one_end_only_is_down():
    facts = copy.deepcopy(FACTS)
    compute1 = facts["compute1"]["calipso_ovs"]
    controller_ip = HOSTS["controller"]["tunnel_ip"]
    compute1["tunnels"] = [t for t in compute1["tunnels"] if t["remote_ip"] != controller_ip]
    _, links = build_all(facts)
    states = {tuple(sorted(link["attributes"]["hosts"])): link["state"]
              for link in links.values() if link["link_type"] == "otep-otep"}
    assert states[("compute1", "controller")] == "down"
    assert list(states.values()).count("up") == len(states) - 1


def test_a_vm_tap_down_takes_its_link_down():
    facts = copy.deepcopy(FACTS)
    port = next(p for p in vm_ports() if p["binding:host_id"] == "compute3")
    tap = next(i for i in facts["compute3"]["calipso_host"]["interfaces"]
               if i["name"] == port["devices"]["tap"])
    tap["operstate"] = "down"
    _, links = build_all(facts)
    vnic_id = f"compute3-{port['devices']['tap']}"
    [link] = [x for x in links.values() if x["source_id"] == vnic_id]
    assert link["state"] == "down"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ids_do_not_depend_on_the_order_facts_come_in(seed):
    facts = copy.deepcopy(FACTS)
    for host_facts in facts.values():
        random.Random(seed).shuffle(host_facts["calipso_host"]["interfaces"])
    objects, links = build_all(dict(reversed(list(facts.items()))))
    assert set(objects) == set(OBJECTS) and set(links) == set(LINKS)
    assert {i: link["state"] for i, link in links.items()} == \
        {i: link["state"] for i, link in LINKS.items()}
