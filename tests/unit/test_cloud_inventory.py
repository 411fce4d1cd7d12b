"""The cloud's view read with openstacksdk from the lab's API (serving the description of the
lab the facts were recorded on), turned into objects and joined with the host inventory."""

from __future__ import annotations

import pytest
import yaml

from calipso_core.discovery.assemble import assemble
from calipso_core.discovery.cloud_inventory import (
    CloudUnavailable,
    cloud_objects,
    correlate,
    fetch_cloud,
)
from calipso_core.discovery.host_inventory import build_host
from calipso_core.lab.spec import vm_port
from calipso_core.model.cliques import compute_cliques
from calipso_core.model.state import evaluate_state
from calipso_core.model.types import load_registry
from tests.cloud_server import configured_cloud, free_loopback_port
from tests.recorded_lab import recorded_description, recorded_facts

DESCRIPTION = recorded_description()


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    with configured_cloud(DESCRIPTION, tmp_path_factory.mktemp("cloud")) as name:
        yield fetch_cloud(name)


def host_objects():
    objects = []
    for name, facts in recorded_facts().items():
        objects += build_host(name, facts).objects
    return objects


def test_cloud_objects_carry_the_clouds_names_and_segments(view):
    objects = {o["id"]: o for o in cloud_objects(view)}
    for net in DESCRIPTION["networks"]:
        network = objects[net["id"]]
        assert network["name"] == net["name"] and network["project"] == net["project_id"]
        assert network["attributes"]["segmentation_id"] == net["provider:segmentation_id"]
        assert [s["cidr"] for s in network["attributes"]["subnets"]] == \
            [s["cidr"] for s in net["subnets"]]
    for server in DESCRIPTION["servers"]:
        instance = objects[server["id"]]
        assert (instance["name"], instance["host"]) == (server["name"], server["host"])
    for port in DESCRIPTION["ports"]:
        assert objects[port["id"]]["attributes"]["mac"] == port["mac_address"]
    agents = [o for o in objects.values() if o["type"] == "network_agent"]
    assert len(agents) == sum(len(h["agents"]) for h in DESCRIPTION["hosts"])


def test_every_vnic_is_joined_with_its_port_on_every_layout(view):
    objects = host_objects()
    links = correlate(objects, view)
    vnics = {o["attributes"].get("port_id"): o for o in objects if o["type"] == "vnic"}
    link_ids = {link["id"] for link in links}
    for port in DESCRIPTION["ports"]:
        if port["device_owner"] == "network:router_gateway" and "qg" not in port["devices"]:
            continue
        vnic = vnics[port["id"]]
        assert vnic["host"] == port["binding:host_id"]
        assert vnic["attributes"]["network_id"] == port["network_id"]
        assert vnic["attributes"]["fixed_ips"] == [port["fixed_ips"][0]["ip_address"]]
        if port["device_owner"] == "compute:nova":
            assert vnic["attributes"]["instance_id"] == port["device_id"]
            assert f"instance-vnic:{port['device_id']}:{vnic['id']}" in link_ids


def test_an_unreachable_cloud_is_a_clear_error(tmp_path, monkeypatch):
    clouds = {"clouds": {"down": {"auth": {
        "auth_url": f"http://127.0.0.1:{free_loopback_port()}/identity/v3",
        "username": "admin", "password": "s3cret-never-shown", "project_name": "admin",
        "user_domain_name": "Default", "project_domain_name": "Default"},
        "identity_api_version": 3}}}
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    with pytest.raises(CloudUnavailable) as error:
        fetch_cloud("down")
    assert "down" in str(error.value) and "s3cret" not in str(error.value)


def test_assembled_inventory_merges_both_views(view):
    facts = recorded_facts()
    inventory = assemble("lab", facts, view)
    objects = {o["id"]: o for o in inventory.objects}
    assert len(objects) == len(inventory.objects)
    for server in DESCRIPTION["servers"]:
        instance = objects[server["id"]]
        assert (instance["name"], instance["host"]) == (server["name"], server["host"])
        assert instance["project"] == server["project_id"]
        port_id = server["port_ids"][0]
        assert any(link["link_type"] == "instance-vnic" and link["source_id"] == server["id"]
                   and objects[link["target_id"]]["attributes"]["port_id"] == port_id
                   for link in inventory.links)
    assert {o["environment"] for o in inventory.objects} == {"lab"}
    assert inventory.properties == {"distribution": "openstack",
                                    "mechanism_drivers": ["linuxbridge", "openvswitch"],
                                    "type_drivers": ["flat", "vxlan"]}


def test_without_the_cloud_the_switch_level_inventory_stands():
    facts = recorded_facts()
    inventory = assemble("lab", facts)
    types = {o["type"] for o in inventory.objects}
    assert {"host", "host_pnic", "vedge", "vconnector", "vnic", "vservice", "otep"} <= types
    assert "network" not in types and "project" not in types
    assert inventory.properties["mechanism_drivers"] == ["linuxbridge", "openvswitch"]
    assert inventory.properties["distribution"] == "unknown"
    # the same inputs give the same inventory
    again = assemble("lab", dict(reversed(list(facts.items()))))
    assert again.objects == inventory.objects and again.links == inventory.links


def test_link_state_rules_agree_with_the_builders_on_the_lab(view):
    """The declarative state rule of every link type, evaluated on the assembled lab inventory,
    decides (no unknown) and says what the builder read from the hosts."""
    facts = recorded_facts()
    inventory = assemble("lab", facts, view)
    registry = load_registry()
    objects = {o["id"]: o for o in inventory.objects}
    for link in inventory.links:
        rule = registry.link_type(link["link_type"]).state
        state = evaluate_state(rule, link, objects.get(link["source_id"]),
                               objects.get(link["target_id"]))
        assert state == link["state"] == "up", link["id"]


def test_each_host_nic_carries_the_networks_its_host_serves(view):
    facts = recorded_facts()
    inventory = assemble("lab", facts, view)
    carried = {(link["source_id"], link["target_id"]) for link in inventory.links
               if link["link_type"] == "host_pnic-network"}
    expected = set()
    for port in DESCRIPTION["ports"]:
        network = next(n for n in DESCRIPTION["networks"] if n["id"] == port["network_id"])
        host = port["binding:host_id"]
        nic = "eth2" if network["provider:network_type"] == "flat" else "eth1"
        expected.add((f"{host}-{nic}", network["id"]))
    assert carried == expected


def test_each_vms_clique_on_the_lab_holds_its_path_to_the_network(view):
    facts = recorded_facts()
    inventory = assemble("lab", facts, view)
    registry = load_registry()
    cliques = {c["id"]: c for c in compute_cliques(
        "lab", inventory.objects, inventory.links,
        registry.clique_types_for(inventory.properties))}
    hosts = {h["name"]: h for h in DESCRIPTION["hosts"]}
    for server in DESCRIPTION["servers"]:
        port = vm_port(DESCRIPTION, server)
        host = hosts[server["host"]]
        nodes = set(cliques[f"instance:{server['id']}"]["nodes"])
        expected = {server["id"], f"{host['name']}-{port['devices']['tap']}",
                    f"{host['name']}-otep-{host['tunnel_ip']}", f"{host['name']}-eth1",
                    port["network_id"]}
        if "qbr" in port["devices"]:
            expected.add(f"{host['name']}-{port['devices']['qbr']}")
        if host["layout"] == "linuxbridge":
            expected.add(f"{host['name']}-{port['devices']['bridge']}")
        else:
            expected.add(host["system_id"])
        assert expected <= nodes, server["name"]
        other_vms = {s["id"] for s in DESCRIPTION["servers"]} - {server["id"]}
        assert not nodes & other_vms
        # the tunnels to the hosts serving its network, and no other tunnel
        serving = {p["binding:host_id"] for p in DESCRIPTION["ports"]
                   if p["network_id"] == port["network_id"]}
        oteps = {f"{h}-otep-{hosts[h]['tunnel_ip']}" for h in serving}
        assert {n for n in nodes if "-otep-" in n} == oteps
        clique_links = set(cliques[f"instance:{server['id']}"]["links"])
        tunnels = {x["id"] for x in inventory.links if x["link_type"] == "otep-otep"
                   and {x["source_id"], x["target_id"]} <= oteps
                   and f"{host['name']}-otep-{host['tunnel_ip']}" in
                   (x["source_id"], x["target_id"])}
        assert len(tunnels) == len(serving) - 1
        assert {x for x in clique_links if x.startswith("otep-otep:")} == tunnels


def test_service_namespaces_and_hosts_take_the_clouds_names(view):
    facts = recorded_facts()
    objects = {o["id"]: o for o in assemble("lab", facts, view).objects}
    router = DESCRIPTION["routers"][0]
    qrouter = objects[f"{router['host']}-qrouter-{router['id']}"]
    assert (qrouter["name"], qrouter["project"]) == (f"qrouter-{router['name']}",
                                                     router["project_id"])
    assert qrouter["attributes"]["namespace"] == f"qrouter-{router['id']}"
    assert sorted(qrouter["source"]) == ["host_facts"]
    for net in DESCRIPTION["networks"]:
        dhcp = objects.get(f"controller-qdhcp-{net['id']}")
        if dhcp is not None:
            assert dhcp["name"] == f"qdhcp-{net['name']}"
    for host in DESCRIPTION["hosts"]:
        expected = "QEMU" if host["role"] == "compute" else None
        assert objects[host["name"]]["attributes"].get("hypervisor_type") == expected
    instance = objects[DESCRIPTION["servers"][0]["id"]]
    assert instance["source"] == ["cloud_api", "host_facts"]
