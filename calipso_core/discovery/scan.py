"""One discovery scan of an environment: hosts' facts and the cloud's view in, the stored
inventory (objects, links with their rule-derived state, cliques) out.

The store decides what a scan changes: it commits the new inventory as one generation, writes
nothing for what did not change, and leaves the previous inventory untouched if anything here
fails. A cloud that cannot be read is recorded, not fatal: the host-level inventory stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from calipso_core.discovery.assemble import (
    Inventory,
    assemble,
    detect_drivers,
    mark_network_oteps,
    touched_hosts,
)
from calipso_core.discovery.cloud_inventory import CloudUnavailable, CloudView, fetch_cloud
from calipso_core.discovery.host_inventory import tunnel_links
from calipso_core.model.cliques import compute_cliques
from calipso_core.model.edits import environment_registry
from calipso_core.model.state import evaluate_state
from calipso_core.model.types import TypeRegistry
from calipso_core.store import MongoStore, ScanSummary

Doc = dict[str, Any]


@dataclass
class ScanReport:
    """What a scan did: the store's summary, the environment's properties, the cloud's fate."""

    summary: ScanSummary
    properties: dict[str, Any]
    counts: dict[str, int]
    cloud_error: str | None


def apply_state_rules(inventory: Inventory, registry: TypeRegistry) -> None:
    """Each link's state from its type's rule (types are data, so operators can change what
    up means); a link type the registry does not know keeps the state its builder read."""
    objects = {o["id"]: o for o in inventory.objects}
    for link in inventory.links:
        if link["link_type"] in registry.link_types:
            rule = registry.link_type(link["link_type"]).state
            link["state"] = evaluate_state(rule, link, objects.get(link["source_id"]),
                                           objects.get(link["target_id"]))


def read_cloud(cloud: str | None) -> tuple[CloudView | None, str | None]:
    if not cloud:
        return None, None
    try:
        return fetch_cloud(cloud), None
    except CloudUnavailable as exc:
        return None, str(exc)


def _touches(doc: Doc, hosts: set[str]) -> bool:
    return not hosts.isdisjoint(doc.get("hosts", []))


def limit_to_hosts(environment: str, inventory: Inventory, store: MongoStore,
                   hosts: set[str]) -> Inventory:
    """The whole environment as a scan of some hosts sees it: their new objects and links in
    place of the stored ones that touch them, the rest as stored, the tunnels between them and
    the other hosts recomputed against those hosts' stored endpoints."""
    stored_objects = store.find("objects", environment)
    kept = [o for o in stored_objects if not _touches(o, hosts)]
    new_objects = [o for o in inventory.objects if _touches(o, hosts)]
    objects = {o["id"]: o for o in (*kept, *new_objects)}
    mark_network_oteps(list(objects.values()))  # the other hosts serve networks too
    new_links = [x for x in inventory.links
                 if _touches(x, hosts) and x["link_type"] != "otep-otep"]
    oteps = [o for o in objects.values() if o["type"] == "otep"]
    tunnels = [x for x in tunnel_links(oteps)
               if hosts & {objects[x["source_id"]]["host"], objects[x["target_id"]]["host"]}]
    touched_hosts(objects, tunnels)
    for tunnel in tunnels:
        tunnel["environment"] = environment
    links = [x for x in store.find("links", environment) if not _touches(x, hosts)]
    links += new_links + tunnels
    return Inventory(environment, list(objects.values()), links,
                     detect_drivers(objects.values()))


def run_scan(environment: str, host_facts: Mapping[str, Doc], store: MongoStore,
             cloud: str | None = None, registry: TypeRegistry | None = None,
             limit: Iterable[str] | None = None) -> ScanReport:
    """Discover an environment and commit it as the store's next generation. With `limit`,
    only those hosts' part of the inventory is replaced (and the cliques that touch them); the
    rest stays as the last scan stored it. The types are the model's with the environment's
    edits (`calipso_core.model.edits`) unless `registry` is given."""
    registry = registry or environment_registry(store, environment)
    view, cloud_error = read_cloud(cloud)
    inventory = assemble(environment, host_facts, view)
    hosts = set(limit or ())
    if hosts:
        inventory = limit_to_hosts(environment, inventory, store, hosts)
    return commit_inventory(inventory, store, registry, hosts, cloud_error)


def commit_inventory(inventory: Inventory, store: MongoStore, registry: TypeRegistry,
                     hosts: set[str] | None = None, cloud_error: str | None = None) -> ScanReport:
    """The assembled inventory's link states and cliques, committed as the store's next
    generation: of `hosts`' part only when given (see run_scan), else of everything."""
    environment = inventory.environment
    apply_state_rules(inventory, registry)
    cliques = compute_cliques(environment, inventory.objects, inventory.links,
                              registry.clique_types_for(inventory.properties))
    scope = {"hosts": sorted(hosts)} if hosts else None
    in_scope = _touches if hosts else lambda _doc, _hosts: True
    with store.begin_scan(environment, scope) as scan:
        scan.write("objects", [o for o in inventory.objects if in_scope(o, hosts)])
        scan.write("links", [x for x in inventory.links if in_scope(x, hosts)])
        # Cliques are recomputed over the whole environment: one that left these hosts (its VM's
        # network no longer served here) changes too; unchanged ones are not rewritten.
        scan.write("cliques", cliques, whole_kind=True)
    assert scan.summary is not None  # set by a committed scan
    counts = {"objects": len(inventory.objects), "links": len(inventory.links),
              "cliques": len(cliques)}
    return ScanReport(scan.summary, inventory.properties, counts, cloud_error)
