"""One environment's inventory from every host's facts and, when reachable, the cloud's view:
objects merged by id, links deduplicated, the environment's mechanism and type drivers detected.

Host facts are the ground truth of what exists; the cloud supplies names, projects and intent.
An object both sides know (an instance named by OVS's vm-uuid and by Nova) becomes one object
whose attributes hold both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from calipso_core.discovery.cloud_inventory import CloudView, cloud_objects, correlate
from calipso_core.discovery.host_inventory import build_host, tunnel_links

Doc = dict[str, Any]


@dataclass
class Inventory:
    """Objects and links of one environment, and what was learnt about it."""

    environment: str
    objects: list[Doc] = field(default_factory=list)
    links: list[Doc] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)


def _merge(existing: Doc, other: Doc) -> None:
    """Fold another view of the same object in: names and projects from whichever has them,
    attributes from both (the host's own reading wins where both say something)."""
    for key in ("name", "project", "host", "parent_type", "parent_id"):
        if other.get(key) and (not existing.get(key) or existing[key] == existing["id"]):
            existing[key] = other[key]
    existing["attributes"] = {**other.get("attributes", {}), **existing.get("attributes", {})}
    existing["source"] = sorted({*existing["source"], *other["source"]})


def detect_drivers(objects: Iterable[Doc]) -> dict[str, Any]:
    """The environment's distribution, mechanism drivers and type drivers, read from its
    objects (so a scan limited to some hosts still sees the others' switches in the store):
    OVS and VPP vedges, Linux-bridge agent bridges (brq), tunnel types and network types."""
    mechanisms, types, cloud = set(), set(), False
    for obj in objects:
        attributes = obj.get("attributes", {})
        if obj["type"] == "vedge":
            mechanisms.add({"ovs": "openvswitch"}.get(attributes.get("switch"),
                                                       attributes.get("switch")))
        elif obj["type"] == "vconnector" and obj["name"].startswith("brq"):
            mechanisms.add("linuxbridge")
        elif obj["type"] == "otep":
            types.update(attributes.get("tunnel_types", []))
        elif obj["type"] == "network":
            cloud = True
            if attributes.get("network_type"):
                types.add(attributes["network_type"])
    return {"distribution": "openstack" if cloud else "unknown",
            "mechanism_drivers": sorted(m for m in mechanisms if m),
            "type_drivers": sorted(types)}


def touched_hosts(objects: Mapping[str, Doc], links: Iterable[Doc]) -> None:
    """Give every object and link the list of hosts it is on (none for cloud-level objects,
    both ends' hosts for a tunnel): what a scan limited to some hosts replaces."""
    for obj in objects.values():
        obj["hosts"] = [obj["host"]] if obj.get("host") else []
    for link in links:
        ends = {objects[i].get("host") for i in (link["source_id"], link["target_id"])
                if i in objects}
        link["hosts"] = sorted(h for h in ends | {link.get("host")} if h)


def network_links(objects: list[Doc], links: list[Doc], cloud: CloudView) -> list[Doc]:
    """host_pnic-network: each host's NICs that carry the networks it serves (it has a vnic on
    them): the underlay NICs of its oteps for overlay networks, the NICs of the bridge its
    agent maps the network's physnet to for flat and VLAN networks."""
    by_id = {o["id"]: o for o in objects}
    networks = {n["id"]: n for n in cloud.networks}
    served: dict[str, set[str]] = {}
    for obj in objects:
        if obj["type"] == "vnic" and obj["attributes"].get("network_id") in networks:
            served.setdefault(obj["host"], set()).add(obj["attributes"]["network_id"])
    underlay: dict[str, set[str]] = {}
    uplinks: dict[tuple[str, str], set[str]] = {}
    for link in links:
        if link["link_type"] == "otep-host_pnic":
            underlay.setdefault(link["host"], set()).add(link["target_id"])
        elif link["link_type"] == "vedge-host_pnic":
            uplinks.setdefault((link["host"], link["attributes"].get("bridge")), set()).add(
                link["target_id"])
    mappings: dict[str, dict[str, str]] = {}
    for agent in cloud.agents:
        bridge_mappings = (agent.get("configuration") or {}).get("bridge_mappings") or {}
        mappings.setdefault(agent.get("host"), {}).update(bridge_mappings)
    result = []
    for host, network_ids in sorted(served.items()):
        for network_id in sorted(network_ids):
            network = networks[network_id]
            physnet = network.get("provider_physical_network")
            if physnet:
                nics = uplinks.get((host, mappings.get(host, {}).get(physnet)), set())
            else:
                nics = underlay.get(host, set())
            for nic_id in sorted(nics):
                nic = by_id[nic_id]
                up = nic["attributes"].get("state") == "up" and \
                    str(network.get("status", "ACTIVE")).upper() == "ACTIVE"
                result.append({
                    "id": f"host_pnic-network:{nic_id}:{network_id}",
                    "link_type": "host_pnic-network", "source_id": nic_id,
                    "source_type": "host_pnic", "target_id": network_id,
                    "target_type": "network", "host": host, "state": "up" if up else "down",
                    "attributes": {"physical_network": physnet,
                                   "network_type": network.get("provider_network_type")}})
    return result


def mark_network_oteps(objects: list[Doc]) -> None:
    """Give each vnic the oteps of every host serving its network: the tunnels its traffic may
    take, which its instance's clique follows (and no other tunnel of the host)."""
    oteps_of: dict[str | None, list[str]] = {}
    for obj in objects:
        if obj["type"] == "otep":
            oteps_of.setdefault(obj["host"], []).append(obj["id"])
    hosts_of: dict[str, set[str | None]] = {}
    for obj in objects:
        if obj["type"] == "vnic" and obj["attributes"].get("network_id"):
            hosts_of.setdefault(obj["attributes"]["network_id"], set()).add(obj["host"])
    for obj in objects:
        network_id = obj["attributes"].get("network_id") if obj["type"] == "vnic" else None
        if network_id:
            obj["attributes"]["network_otep_ids"] = sorted(
                otep for host in hosts_of[network_id] for otep in oteps_of.get(host, []))


def assemble(environment: str, host_facts: Mapping[str, Doc],
             cloud: CloudView | None = None) -> Inventory:
    """The inventory of an environment; deterministic for the same inputs."""
    objects: dict[str, Doc] = {}
    links: dict[str, Doc] = {}
    for host in sorted(host_facts):
        built = build_host(host, host_facts[host])
        for obj in built.objects:
            if obj["id"] in objects:
                _merge(objects[obj["id"]], obj)
            else:
                objects[obj["id"]] = obj
        links.update((link["id"], link) for link in built.links)
    oteps = [o for o in objects.values() if o["type"] == "otep"]
    links.update((link["id"], link) for link in tunnel_links(oteps))
    if cloud is not None:
        host_level = list(objects.values())
        for link in correlate(host_level, cloud):
            links.setdefault(link["id"], link)
        for obj in cloud_objects(cloud):
            if obj["id"] in objects:
                _merge(objects[obj["id"]], obj)
            else:
                objects[obj["id"]] = obj
        links.update((link["id"], link) for link in network_links(
            list(objects.values()), list(links.values()), cloud))
        mark_network_oteps(list(objects.values()))
    touched_hosts(objects, links.values())
    for doc in (*objects.values(), *links.values()):
        doc["environment"] = environment
    return Inventory(environment,
                     sorted(objects.values(), key=lambda o: (o["type"], o["id"])),
                     sorted(links.values(), key=lambda link: link["id"]),
                     detect_drivers(objects.values()))
