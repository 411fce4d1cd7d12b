"""One discovery scan of an environment: hosts' facts and the cloud's view in, the stored
inventory (objects, links with their rule-derived state, cliques) out.

The store decides what a scan changes: it commits the new inventory as one generation, writes
nothing for what did not change, and leaves the previous inventory untouched if anything here
fails. A cloud that cannot be read is recorded, not fatal: the host-level inventory stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calipso_core.discovery.assemble import Inventory, assemble
from calipso_core.discovery.cloud_inventory import CloudUnavailable, CloudView, fetch_cloud
from calipso_core.model.cliques import compute_cliques
from calipso_core.model.state import evaluate_state
from calipso_core.model.types import TypeRegistry, load_registry
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


def run_scan(environment: str, host_facts: Mapping[str, Doc], store: MongoStore,
             cloud: str | None = None, registry: TypeRegistry | None = None) -> ScanReport:
    """Discover a whole environment and commit it as the store's next generation."""
    registry = registry or load_registry()
    view, cloud_error = read_cloud(cloud)
    inventory = assemble(environment, host_facts, view)
    apply_state_rules(inventory, registry)
    cliques = compute_cliques(environment, inventory.objects, inventory.links,
                              registry.clique_types_for(inventory.properties))
    with store.begin_scan(environment) as scan:
        scan.write("objects", inventory.objects)
        scan.write("links", inventory.links)
        scan.write("cliques", cliques)
    assert scan.summary is not None  # set by a committed scan
    counts = {"objects": len(inventory.objects), "links": len(inventory.links),
              "cliques": len(cliques)}
    return ScanReport(scan.summary, inventory.properties, counts, cloud_error)
