"""One environment's inventory from every host's facts and, when reachable, the cloud's view:
objects merged by id, links deduplicated, the environment's mechanism and type drivers detected.

Host facts are the ground truth of what exists; the cloud supplies names, projects and intent.
An object both sides know (an instance named by OVS's vm-uuid and by Nova) becomes one object
whose attributes hold both.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def detect_drivers(host_facts: Mapping[str, Doc], cloud: CloudView | None) -> dict[str, Any]:
    """Mechanism drivers from what runs on the hosts (OVS, Linux bridges with vxlan/brq, VPP),
    type drivers from the tunnels and, when known, the networks' types."""
    mechanisms, types = set(), set()
    for facts in host_facts.values():
        ovs = facts.get("calipso_ovs", {})
        if ovs.get("running"):
            mechanisms.add("openvswitch")
            types.update(t["type"] for t in ovs.get("tunnels", []))
        lb = facts.get("calipso_linuxbridge", {})
        if any(b["name"].startswith("brq") for b in lb.get("bridges", [])):
            mechanisms.add("linuxbridge")
        if lb.get("vxlans"):
            types.add("vxlan")
        if facts.get("calipso_vpp", {}).get("running"):
            mechanisms.add("vpp")
    if cloud is not None:
        types.update(n["provider_network_type"] for n in cloud.networks
                     if n.get("provider_network_type"))
    return {"distribution": "openstack" if cloud is not None else "unknown",
            "mechanism_drivers": sorted(mechanisms), "type_drivers": sorted(types)}


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
    for doc in (*objects.values(), *links.values()):
        doc["environment"] = environment
    return Inventory(environment,
                     sorted(objects.values(), key=lambda o: (o["type"], o["id"])),
                     sorted(links.values(), key=lambda link: link["id"]),
                     detect_drivers(host_facts, cloud))
